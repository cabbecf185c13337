r"""Alternating Least Squares for explicit ratings (Chapter 4).

With the item side fixed, the objective :math:`J` of `als_lib.objective` splits into one
ridge regression per user. Folding the biases into the vectors (the user solves for
:math:`\tilde{\mathbf{x}}_u = [\mathbf{u}_u; b_u]` against item rows
:math:`\tilde{\mathbf{y}}_i = [\mathbf{v}_i; 1]`, with target
:math:`\tilde r_{ui} = r_{ui} - \mu - b_i`), setting the gradient to zero gives the normal
equations

.. math::
    \big(\tilde Y_{I_u}^\top \tilde Y_{I_u} + \lambda w_u I\big)\, \tilde{\mathbf{x}}_u
    = \tilde Y_{I_u}^\top \tilde{\mathbf{r}}_u ,
    \qquad w_u = n_u \text{ (ALS-WR) or } 1,

solved for every user at once; then the same for every item with the user side fixed. Each
half-step minimises :math:`J` exactly over one side (solver ``"cholesky"`` or ``"lu"``) or
improves it with a few warm-started conjugate-gradient steps (``"cg"``), so :math:`J` never
increases.

Fast path (measured in Chapter 4): the per-rating products :math:`\tilde{\mathbf{x}}_u^\top
\tilde{\mathbf{y}}_i` come from ``torch.sparse.sampled_addmm`` and the sums over each user's
ratings from a sparse CSR @ dense product; CG never forms the k x k matrices. The exact
solvers form all of them with batched dense products (``bmm``) of each row's rated items,
padded to a power of two (`gram_matrices`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from .linalg import all_finite, conjugate_gradient, spd_solve, torch_csr
from .model import (
    DivergenceError,
    FactorModel,
    _sync,
    check_choice,
    check_positive_int,
    check_threads,
)
from .objective import RatingTensors, evaluate_rmse, objective_terms
from .objective import augment as _augment
from .threads import ThreadPlan

__all__ = ["ExplicitALS", "SOLVERS", "Side", "ColumnBlock", "half_step", "sampled_product",
           "gram_matrices", "CACHE_BYTES"]

#: tuple of str: The ``solver`` choices of `ExplicitALS`.
SOLVERS = ("cg", "cholesky", "lu")


@dataclass
class Side:
    """The ratings seen from one side (rows = the entities being solved for), in CSR order,
    with 32-bit indices (the sparse kernels take them as they are; 64-bit indices would be
    converted on every call).

    Attributes
    ----------
    crow : torch.Tensor
        (rows + 1,) int32 row pointers.
    col : torch.Tensor
        (nnz,) int32 index of the other side for each rating.
    values : torch.Tensor
        (nnz,) the ratings, in this CSR order.
    weight : torch.Tensor
        (rows,) the ridge weight of each row: :math:`w = n` (weighted) or 1.
    cold : torch.Tensor
        (rows,) bool, True where the row has no ratings.
    shape : tuple of int
        (rows, columns): this side's count, then the other side's.
    """

    crow: torch.Tensor        # (rows + 1,) row pointers
    col: torch.Tensor         # (nnz,) index of the other side for each rating
    values: torch.Tensor      # (nnz,) the ratings, in this CSR order
    weight: torch.Tensor      # (rows,) w = n (weighted) or 1, for the ridge term
    cold: torch.Tensor        # (rows,) True where the row has no ratings
    shape: tuple[int, int]

    def column_blocks(self, row_bytes: int) -> list["ColumnBlock"]:
        """The ratings split by column (the other side) into blocks whose rows of the other
        side take at most `CACHE_BYTES` (``row_bytes`` each), on the CPU; one block elsewhere
        or when they fit. Cached per ``row_bytes``.

        Parameters
        ----------
        row_bytes : int
            The size of one row of the other side's factors, in bytes.

        Returns
        -------
        list of ColumnBlock
            The blocks, in column order.
        """
        cache = self.__dict__.setdefault("_blocks", {})
        if row_bytes not in cache:
            n_cols = self.shape[1]
            width = n_cols
            if self.crow.device.type == "cpu":
                width = max(1, min(n_cols, CACHE_BYTES // row_bytes))
            cache[row_bytes] = _split_columns(self, width)
        return cache[row_bytes]

    def gram_buckets(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Rows grouped by their number of ratings (next power of two), each group as a padded
        (rows, cap) table of the other side's indices; padding points at index ``shape[1]``
        (a zero row appended by the caller). Built once and cached.

        Returns
        -------
        list of tuple of torch.Tensor
            One ``(rows, table)`` pair per group: the rows' indices and their (rows, cap)
            table.
        """
        if getattr(self, "_buckets", None) is None:
            counts = (self.crow[1:] - self.crow[:-1]).cpu().numpy()
            crow = self.crow.cpu().numpy().astype(np.int64)
            col = np.append(self.col.cpu().numpy().astype(np.int64), self.shape[1])
            nnz = len(col) - 1                   # position nnz -> the zero row
            caps = np.where(counts > 0, 2 ** np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64), 0)
            buckets = []
            for cap in np.unique(caps[caps > 0]):
                rows = np.flatnonzero(caps == cap)
                offsets = np.arange(cap)
                pos = crow[rows, None] + offsets[None, :]
                pos = np.where(offsets[None, :] < counts[rows, None], pos, nnz)
                buckets.append((torch.as_tensor(rows, device=self.crow.device),
                                torch.as_tensor(col[pos], device=self.crow.device)))
            self._buckets = buckets
        return self._buckets

    @classmethod
    def build(cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape, weighted: bool,
              dtype, device) -> "Side":
        """The side of the ratings ``(rows[j], cols[j], values[j])``, in CSR order.

        Parameters
        ----------
        rows, cols : numpy.ndarray
            Index of each rating on this side and on the other side.
        values : numpy.ndarray
            The ratings.
        shape : tuple of int
            (rows, columns).
        weighted : bool
            Weight each row's ridge term by its number of ratings (ALS-WR) if True, by 1 if
            False.
        dtype : torch.dtype
            The dtype of the values and weights.
        device : str or torch.device
            Where the tensors live.

        Returns
        -------
        Side
            The ratings from this side.
        """
        m = sp.csr_matrix((np.arange(1, len(rows) + 1), (rows, cols)), shape=shape)
        m.sort_indices()
        order = m.data - 1  # position of each CSR entry in the original arrays
        counts = np.diff(m.indptr)
        to = dict(device=device)
        crow = torch.as_tensor(m.indptr.astype(np.int32), **to)
        col = torch.as_tensor(m.indices.astype(np.int32), **to)
        vals = torch.as_tensor(values[order], dtype=dtype, **to)
        return cls(
            crow, col, vals,
            torch.as_tensor(counts if weighted else np.ones(shape[0]), dtype=dtype, **to),
            torch.as_tensor(counts == 0, **to),
            shape,
        )


@dataclass
class ColumnBlock:
    """The ratings of one side whose other-side index lies in ``lo:hi``.

    Attributes
    ----------
    lo, hi : int
        The block's columns (indices of the other side), ``lo:hi``.
    pattern : torch.Tensor
        A (rows x (hi - lo)) sparse CSR tensor with local column indices, whose values are
        scratch space that ``sampled_addmm`` overwrites (zero at first: it scales them by
        beta = 0, and 0 times uninitialised memory can be NaN).
    values : torch.Tensor
        The ratings, in the order of ``pattern``.
    col : torch.Tensor
        The global column index of each rating, in the order of ``pattern``.
    """

    lo: int
    hi: int
    pattern: torch.Tensor
    values: torch.Tensor
    col: torch.Tensor

    def centred(self, mu: float) -> torch.Tensor:
        """``values - mu``, computed once per ``mu`` and kept.

        Parameters
        ----------
        mu : float
            The global mean.

        Returns
        -------
        torch.Tensor
            The centred ratings, in the order of ``pattern``.
        """
        cached = self.__dict__.get("_centred")
        if cached is None or cached[0] != mu:
            cached = self._centred = (mu, self.values - mu)
        return cached[1]


#: int: Bytes of the other side's rows that one block of a sparse product may gather: 512 KB,
#: which stays in a core's L2 cache on the CPUs we measured (Chapter 9). Beyond it, gathers
#: miss to L3 or DRAM.
CACHE_BYTES = 1 << 19


def _split_columns(side: Side, width: int) -> list[ColumnBlock]:
    """`ColumnBlock` s of ``width`` columns each (the last one narrower)."""
    dev = side.crow.device
    n_rows, n_cols = side.shape
    if width >= n_cols:
        pattern = torch_csr(side.crow, side.col, torch.zeros_like(side.values), side.shape)
        return [ColumnBlock(0, n_cols, pattern, side.values, side.col)]
    counts = np.diff(side.crow.cpu().numpy().astype(np.int64))
    rows = np.repeat(np.arange(n_rows), counts)
    col = side.col.cpu().numpy()
    block = col // width
    # stable: inside a block, entries stay in CSR order (by row, then column)
    order = np.argsort(block.astype(np.uint16 if block.max() < 1 << 16 else np.int64),
                       kind="stable")
    ends = np.cumsum(np.bincount(block, minlength=-(-n_cols // width)))
    out, start = [], 0
    for b, end in enumerate(ends):
        take = order[start:end]
        start = end
        lo, hi = b * width, min((b + 1) * width, n_cols)
        crow = np.zeros(n_rows + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows[take], minlength=n_rows), out=crow[1:])
        local = torch.as_tensor((col[take] - lo).astype(np.int32), device=dev)
        take_t = torch.as_tensor(take, device=dev)
        values = side.values[take_t]
        pattern = torch_csr(torch.as_tensor(crow, device=dev), local, torch.zeros_like(values),
                            (n_rows, hi - lo))
        out.append(ColumnBlock(lo, hi, pattern, values, side.col[take_t]))
    return out


def sampled_product(blocks: list[ColumnBlock], P: torch.Tensor,
                    Yt: torch.Tensor, out: torch.Tensor,
                    targets: list[torch.Tensor] | None = None
                    ) -> torch.Tensor:
    r"""Add to ``out``, for every row :math:`u`,
    :math:`\sum_{i \in I_u} e_{ui}\,\tilde{\mathbf{y}}_i` with
    :math:`e_{ui} = \mathbf{p}_u^\top \tilde{\mathbf{y}}_i` (``targets``
    None) or :math:`t_{ui} - \mathbf{p}_u^\top \tilde{\mathbf{y}}_i`.

    One ``sampled_addmm`` (SDDMM) and one CSR @ dense product (SpMM) per
    column block, so that each gathers only rows of ``Yt`` that fit in
    cache.

    Parameters
    ----------
    blocks : list of ColumnBlock
        The ratings split into column blocks (`Side.column_blocks`).
    P : torch.Tensor
        (rows, k1) the row vectors :math:`\mathbf{p}_u`.
    Yt : torch.Tensor
        (columns, k1) the other side's vectors :math:`\tilde{\mathbf{y}}_i`.
    out : torch.Tensor
        (rows, k1) the sums are added to it, in place.
    targets : list of torch.Tensor, optional
        Per block, the :math:`t_{ui}` in CSR order; None for none.

    Returns
    -------
    torch.Tensor
        ``out``, updated in place.
    """
    for j, b in enumerate(blocks):
        Yb = Yt[b.lo:b.hi]                  # this block's rows of Yt
        # e_ui = p_u . y_i at the block's ratings, into its CSR's values
        E = torch.sparse.sampled_addmm(b.pattern, P, Yb.T, beta=0.0,
                                       out=b.pattern)
        if targets is not None:
            e = E.values()
            torch.sub(targets[j], e, out=e)     # t_ui - p_u . y_i
        out.addmm_(E, Yb)                   # out_u += sum_i e_ui y_i
    return out


def half_step(side: Side, X: torch.Tensor, x_bias: torch.Tensor | None,
              Y: torch.Tensor, y_bias: torch.Tensor | None, mu: float,
              reg: float, solver: str, cg_steps: int) -> None:
    r"""Update one side (``X``, ``x_bias``, in place), the other side fixed.

    Solves :math:`(\tilde Y_I^\top \tilde Y_I + \lambda w I)\tilde{\mathbf{x}}
    = \tilde Y_I^\top \tilde{\mathbf{r}}` for every row at once: exactly
    (``"cholesky"``, ``"lu"``) or by ``cg_steps`` CG steps warm-started at
    the current ``X``. Rows without ratings are left unchanged.

    Parameters
    ----------
    side : Side
        This side's ratings in CSR order, with their column blocks.
    X : torch.Tensor
        (rows, k) factors being solved for, updated in place.
    x_bias : torch.Tensor or None
        (rows,) biases being solved for (in place), or None.
    Y : torch.Tensor
        (columns, k) the other side's factors, fixed.
    y_bias : torch.Tensor or None
        (columns,) the other side's biases, or None.
    mu : float
        The global mean subtracted from every rating.
    reg : float
        :math:`\lambda`.
    solver : {"cg", "cholesky", "lu"}
        How each system is solved.
    cg_steps : int
        CG steps per half-step (``solver="cg"``).
    """
    Yt = _augment(Y, y_bias, ones_last=True)        # rows [y_i, 1]
    Xt = _augment(X, x_bias, ones_last=False)       # rows [x_u, b_u]: unknowns
    ridge = (reg * side.weight).unsqueeze(1)
    if solver == "cg":
        # the ratings in column blocks whose rows of Yt fit in cache
        blocks = side.column_blocks(Yt.shape[1] * Yt.element_size())
        # the targets r~_ui = r_ui - mu - b_i at the observed pairs
        targets = [b.centred(mu) if y_bias is None
                   else b.centred(mu) - y_bias[b.col] for b in blocks]

        def matvec(P: torch.Tensor) -> torch.Tensor:
            # (Y_I^T Y_I + lambda w I) p for all rows, never forming Y_I^T Y_I
            return sampled_product(blocks, P, Yt, ridge * P)

        # r0 = Y_I^T (r~ - Y_I x0) - lambda w x0
        r0 = sampled_product(blocks, Xt, Yt, -ridge * Xt, targets)
        new = conjugate_gradient(matvec, None, Xt, steps=cg_steps, r0=r0,
                                 inplace=True).x
    else:
        A = gram_matrices(side, Yt)                 # every Y_I^T Y_I
        diag = ridge.squeeze(1) + side.cold.to(A.dtype)   # cold row: I x = 0
        A.diagonal(dim1=-2, dim2=-1).add_(diag.unsqueeze(1))
        target = side.values - mu
        if y_bias is not None:
            target = target - y_bias[side.col]
        # Y_I^T r~ for every row, from the targets as a sparse CSR matrix
        b = torch_csr(side.crow, side.col, target, side.shape) @ Yt
        # the factors were checked finite after the last half-step, so A
        # and b are finite
        if solver == "cholesky":
            new = spd_solve(A, b, check_finite=False)
        else:
            new = torch.linalg.solve(A, b)
        new[side.cold] = Xt[side.cold]
    if x_bias is None:
        X.copy_(new)
    else:
        X.copy_(new[:, :-1])
        x_bias.copy_(new[:, -1])


def gram_matrices(side: Side, Yt: torch.Tensor, chunk: int = 1 << 22) -> torch.Tensor:
    r"""All the matrices :math:`\tilde Y_{I_u}^\top \tilde Y_{I_u}` of one side, as dense batched
    products: rows with similar numbers of ratings are padded to a common length (a power of
    two, so at most twice the work) and multiplied with ``bmm``, in chunks of about ``chunk``
    gathered numbers.

    Parameters
    ----------
    side : Side
        The ratings seen from the side being solved for.
    Yt : torch.Tensor
        The other side's rows :math:`\tilde{\mathbf{y}}_i` (n x (k + 1)).
    chunk : int
        About how many numbers one batched product gathers.

    Returns
    -------
    torch.Tensor
        (rows, k + 1, k + 1): row :math:`u`'s :math:`\tilde Y_{I_u}^\top \tilde Y_{I_u}`
        (zero for a row without ratings).
    """
    k1 = Yt.shape[1]
    padded = torch.cat([Yt, Yt.new_zeros(1, k1)])
    A = Yt.new_zeros(side.shape[0], k1, k1)
    for rows, idx in side.gram_buckets():
        step = max(1, chunk // (idx.shape[1] * k1))
        for lo in range(0, len(rows), step):
            Y = padded[idx[lo:lo + step]]                    # (batch, cap, k1)
            A[rows[lo:lo + step]] = Y.mT @ Y
    return A


class ExplicitALS(FactorModel):
    r"""Alternating Least Squares for explicit ratings (ALS-WR by default).

    Parameters
    ----------
    factors : int
        k, the number of latent factors.
    reg : float
        :math:`\lambda`. The default, 0.13, was chosen by validation RMSE (k = 64, the default
        iterations, count-weighted) on random 80/20 splits of ml-100k and ml-latest-small: it
        is the best of a grid from 0.03 to 0.25 on both (``benchmarks/defaults.py``; its
        results in ``benchmarks/results/defaults_cpu.txt``).
    weighted_reg : bool
        Count-weighted regularisation :math:`\lambda n_u` (ALS-WR, Zhou et
        al. 2008) if True, plain :math:`\lambda` if False.
    biases : bool
        Learn :math:`b_u, b_i` (folded into the factor vectors);
        :math:`\mu` is fixed.
    center : bool
        Subtract the mean training rating :math:`\mu` (True) or fit
        :math:`\hat r_{ui} = \mathbf{u}_u^\top\mathbf{v}_i` (plus biases
        if any) with :math:`\mu = 0`, as Spark MLlib's ALS does (Chapter 9).
    iterations : int
        Full iterations (an item half-step, then a user half-step). The default, 6, was
        chosen by validation: on three random splits each of ml-100k and ml-latest-small,
        it is the fewest iterations whose validation RMSE is within 0.001 of the best over 1
        to 30 iterations on every split (iterations cost time; ``benchmarks/defaults.py
        --models iterations``). On larger data more may help: fit with an ``eval_set`` and
        read ``history_["eval_rmse"]``.
    solver : {"cg", "cholesky", "lu"}
        ``"cg"``: matrix-free conjugate gradient, warm-started,
        ``cg_steps`` steps (the fast default); ``"cholesky"``: exact,
        batched Cholesky; ``"lu"``: exact, ``torch.linalg.solve``.
    cg_steps : int
        CG steps per half-step.
    init_std : float
        Standard deviation of the random initial factors.
    seed : int
        Seeds the initial factors.
    device : str or torch.device
        Where torch computes (``"cpu"``, ``"cuda"``).
    dtype : torch.dtype
        torch.float32 or torch.float64.
    threads : int, optional
        CPU threads for the fit. None (the default) decides per fit
        (`als_lib.threads`): at most the CPUs this process may use and
        torch's setting; one thread for small problems; otherwise as many
        as there are CPUs free when the fit starts, and one thread from the
        iteration on which several slow down to twice their best, so that a
        busy machine does not stall it. torch's setting is restored
        afterwards. Chosen so because one thread is never much slower on
        the 2-core machines measured and two threads can be more than twice
        as slow beside a busy process (Chapters 6 and 9).

    Attributes
    ----------
    params_ : FactorParams
        The fitted parameters (torch tensors); also as numpy arrays:
        ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias``.
    n_users_, n_items_ : int
        The fitted shape.
    history_ : dict
        Per-iteration lists (entry 0: the initial state): ``iteration``,
        ``seconds`` (cumulative solve time, evaluation not included),
        ``threads`` (the threads each iteration ran on),
        ``eval_rmse`` (with an ``eval_set``), and with
        ``track_objective=True`` ``objective``, ``objective_half`` (after
        the item half-step) and ``train_rmse``. Untracked entries are None.

    Notes
    -----
    Each iteration ends with the user half-step, so the user factors are
    the exact (or CG) solution for the final item factors, just as
    `fold_in` computes for a new user. Users or items with no training
    ratings keep zero factors and zero bias: their predictions fall back
    to :math:`\mu` plus the other side's bias.
    """

    def __init__(self, factors: int = 64, reg: float = 0.13, *,
                 weighted_reg: bool = True, biases: bool = True,
                 center: bool = True, iterations: int = 6,
                 solver: str = "cg", cg_steps: int = 3,
                 init_std: float = 0.1, seed: int = 0,
                 device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32,
                 threads: int | None = None):
        self.factors, self.reg = factors, reg
        self.weighted_reg, self.biases = weighted_reg, biases
        self.center = center
        self.iterations, self.solver, self.cg_steps = iterations, solver, cg_steps
        self.init_std, self.seed = init_std, seed
        self.device, self.dtype = device, dtype
        self.threads = threads

    _BOOL_PARAMS = ("weighted_reg", "biases", "center")

    def _global_mean(self, r) -> float:
        return float(r.values.mean()) if self.center else 0.0

    def _validate_params(self) -> None:
        super()._validate_params()
        check_positive_int(self.iterations, "iterations")
        check_choice(self.solver, "solver", SOLVERS)
        check_positive_int(self.cg_steps, "cg_steps")
        check_threads(self.threads)

    # ------------------------------------------------------------------ fitting
    def fit(self, ratings, eval_set=None, *, track_objective: bool = False,
            callback: Callable | None = None,
            progress: bool = True) -> "ExplicitALS":
        """Fit on ``ratings``.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The training ratings.
        eval_set : same types, optional
            Held-out ratings (same index space), scored after every
            iteration.
        track_objective : bool
            Record J after each half-step and the training RMSE (two
            extra passes over the ratings per iteration; off by default,
            so that the default fit is the fast one).
        callback : callable, optional
            ``callback(iteration, model)`` after each iteration; returning
            True stops early.
        progress : bool
            Show a progress bar.

        Returns
        -------
        ExplicitALS
            The model itself.

        Raises
        ------
        DivergenceError
            If the factors become NaN or infinite.
        """
        check_threads(self.threads)     # before the plan uses it
        # the whole fit, set-up included, on the plan's threads
        plan = ThreadPlan(self.threads, None, self.device)
        with plan, torch.no_grad():
            r, data, eval_data = self._start_fit(ratings, eval_set)
            plan.set_work(len(r.values) * self.params_.k)
            self._iterate(r, data, eval_data, plan, track_objective,
                          callback, progress)
        return self

    def _iterate(self, r, data, eval_data, plan, track_objective, callback,
                 progress) -> None:
        """The body of `fit`: both sides' ratings, then the iterations."""
        from tqdm import tqdm

        p, dt, dev = self.params_, self.dtype, self.params_.U.device
        w = self.weighted_reg
        users_side = Side.build(r.users, r.items, r.values, r.shape, w,
                                dt, dev)
        items_side = Side.build(r.items, r.users, r.values, r.shape[::-1], w,
                                dt, dev)
        if self.solver == "cg":   # split for cache-sized products, untimed
            row = (p.k + self.biases) * p.U.element_size()
            users_side.column_blocks(row)
            items_side.column_blocks(row)
        keys = ("iteration", "objective", "objective_half", "train_rmse",
                "eval_rmse", "seconds", "threads")
        self.history_ = {k: [] for k in keys}
        track = (data if track_objective else None), eval_data
        self._record(0, *track, 0.0, None)
        self.history_["threads"].append(None)
        elapsed = 0.0
        solve = (self.reg, self.solver, self.cg_steps)   # how to solve
        for it in tqdm(range(1, self.iterations + 1),
                       desc="ALS iterations", disable=not progress):
            plan.iteration()
            start = time.perf_counter()
            # item half-step: V and b_i with U and b_u fixed
            half_step(items_side, p.V, p.item_bias, p.U, p.user_bias,
                      p.mu, *solve)
            _sync(dev)
            half_time = time.perf_counter() - start
            self._check_finite(it, "item")
            half_obj = None
            if track_objective:
                J = objective_terms(p, data, self.reg, w)
                half_obj = float(sum(J))
            start = time.perf_counter()
            # user half-step: U and b_u with V and b_i fixed
            half_step(users_side, p.U, p.user_bias, p.V, p.item_bias,
                      p.mu, *solve)
            _sync(dev)
            seconds = half_time + time.perf_counter() - start
            plan.record(seconds)
            elapsed += seconds
            self._check_finite(it, "user")
            self._record(it, *track, elapsed, half_obj)
            self.history_["threads"].append(plan.counts[-1])
            if callback is not None and callback(it, self):
                break

    def _check_finite(self, it: int, side: str) -> None:
        p = self.params_
        if not (all_finite(p.V, p.item_bias) if side == "item"
                else all_finite(p.U, p.user_bias)):
            raise DivergenceError(
                f"the {side} factors became non-finite at iteration {it}. "
                "ALS has no step size to blow up, so this comes from the "
                "numbers themselves: check the ratings for extreme values, "
                "use a larger reg, or fit in dtype=torch.float64."
            )

    def _record(self, it: int, data: RatingTensors | None, eval_data,
                seconds: float, half_obj) -> None:
        """Append to ``history_``: J and the training RMSE if ``data`` is
        given, the RMSE on ``eval_data`` if given."""
        h = self.history_
        h["iteration"].append(it)
        h["seconds"].append(seconds)
        obj = train = None
        if data is not None:
            sse, penalty = objective_terms(self.params_, data, self.reg,
                                           self.weighted_reg)
            obj = float(sse) + float(penalty)
            train = math.sqrt(float(sse) / len(data))
        h["objective"].append(obj)
        h["objective_half"].append(half_obj)
        h["train_rmse"].append(train)
        h["eval_rmse"].append(None if eval_data is None
                              else evaluate_rmse(self.params_, eval_data))
