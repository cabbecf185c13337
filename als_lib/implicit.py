r"""ALS for implicit feedback (Chapter 7): Hu, Koren and Volinsky (2008).

Counts :math:`r_{ui} \ge 0` (plays, clicks, purchases; a missing pair is a
zero) become a preference and a confidence,

.. math::
    p_{ui} = [r_{ui} > 0], \qquad c_{ui} = 1 + \alpha f(r_{ui}),
    \qquad f(r) = r \ \text{(linear)} \ \text{or}\ \log(1 + r/\epsilon),

and the loss runs over **all** :math:`m n` cells, zeros included:

.. math::
    L = \sum_{u,i} c_{ui}\,(p_{ui} - \mathbf{x}_u^\top\mathbf{y}_i)^2
        + \sum_u \lambda_u \lVert\mathbf{x}_u\rVert^2
        + \sum_i \lambda_i \lVert\mathbf{y}_i\rVert^2 ,
    \qquad \lambda_u = \lambda\,(n_u + \alpha_0 n)^{\nu}

(:math:`\nu = 0`, the default, is a plain :math:`\lambda`; the frequency
scaling is Rendle et al. 2022). With :math:`Y` fixed, user :math:`u` solves

.. math::
    \big(Y^\top Y + Y^\top (C_u - I) Y + \lambda_u I\big)\,\mathbf{x}_u
    = Y^\top C_u \mathbf{p}_u ,

where :math:`Y^\top Y` is computed once per half-step and
:math:`Y^\top (C_u - I) Y` and :math:`Y^\top C_u\mathbf{p}_u` touch only the
user's observed items: the zeros never appear. Solvers: ``"cholesky"``
(forms every :math:`k \times k` system, :math:`O(|\Omega|k^2 + mk^3)` per
half-step) and ``"cg"``, conjugate gradient warm-started at the current
factors (Takacs et al. 2011), :math:`O(|\Omega|k + mk^2)` per step, never
forming the systems. The products at the observed pairs come from
``torch.sparse.sampled_addmm`` (written into a preallocated CSR) and the
sums over them from one CSR @ dense product.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from .data import index_array
from .evaluation import RankingScore
from .linalg import all_finite, conjugate_gradient, spd_solve, torch_csr
from .model import (
    DivergenceError,
    FactorModel,
    FoldIn,
    _sync,
    check_choice,
    check_number,
    check_positive_int,
    check_threads,
)
from .objective import init_params
from .threads import ThreadPlan

__all__ = ["ImplicitALS", "Explanation", "confidence", "implicit_loss",
           "ImplicitSide", "implicit_half_step"]

CONFIDENCES = ("linear", "log")
SOLVERS = ("cg", "cholesky")


def confidence(values, alpha: float, kind: str = "linear",
               epsilon: float = 1.0) -> np.ndarray:
    r"""Confidence :math:`c = 1 + \alpha f(r)` of observed counts ``values``:
    :math:`f(r) = r` (``"linear"``) or :math:`\log(1 + r/\epsilon)`
    (``"log"``).

    Parameters
    ----------
    values : array_like of float
        The observed counts :math:`r`.
    alpha : float
        The scale :math:`\alpha`.
    kind : {"linear", "log"}
        The function :math:`f`.
    epsilon : float
        :math:`\epsilon` of the log confidence.

    Returns
    -------
    numpy.ndarray
        The confidences, float64, of the shape of ``values``.
    """
    r = np.asarray(values, dtype=np.float64)
    f = r if kind == "linear" else np.log1p(r / epsilon)
    return 1.0 + alpha * f


def _reg_per_row(reg: float, counts: np.ndarray, n_other: int,
                 exponent: float, offset: float) -> np.ndarray:
    r""":math:`\lambda (n_u + \alpha_0 n)^\nu` for every row (float64)."""
    base = counts.astype(np.float64) + offset * n_other
    if exponent == 0:
        return np.full(len(counts), float(reg))
    with np.errstate(divide="ignore"):
        return reg * np.power(base, exponent)


@dataclass
class ImplicitSide:
    """The interactions seen from one side (rows = the entities solved
    for), as torch tensors built once per fit.

    Attributes
    ----------
    pattern : torch.Tensor
        A sparse CSR tensor with 32-bit indices whose values are :math:`c - 1`.
    conf : torch.Tensor
        The confidences :math:`c`, in the order of ``pattern``.
    out : torch.Tensor
        A sparse CSR tensor with the pattern of ``pattern``, that ``sampled_addmm`` writes
        into.
    reg : float
        :math:`\\lambda` (of the first row).
    ridge : torch.Tensor or None
        :math:`\\lambda_u` per row (a column vector), or None when every row has the same
        :math:`\\lambda` (``reg``).
    cold : torch.Tensor
        (rows,) bool, True where the row has no interactions.
    shape : tuple of int
        (rows, columns): this side's count, then the other side's.
    blocks : list of tuple, optional
        Row slices ``(first row, CSR tensor of c - 1)`` for the exact solver.
    """

    pattern: torch.Tensor
    conf: torch.Tensor
    out: torch.Tensor
    reg: float
    ridge: torch.Tensor | None
    cold: torch.Tensor
    shape: tuple[int, int]
    blocks: list | None = None

    @property
    def any_cold(self) -> bool:
        """bool: Whether some row has no interactions (cached)."""
        if getattr(self, "_any_cold", None) is None:
            self._any_cold = bool(self.cold.any())
        return self._any_cold

    @classmethod
    def build(cls, m: sp.csr_matrix, reg_rows: np.ndarray, dtype, device,
              exact: bool = False, k: int = 0) -> "ImplicitSide":
        """From a CSR matrix of confidences (rows x other side).

        Parameters
        ----------
        m : scipy.sparse.csr_matrix
            The confidences :math:`c` (rows x other side).
        reg_rows : numpy.ndarray
            :math:`\\lambda_u` for every row.
        dtype : torch.dtype
            The dtype of the confidences.
        device : str or torch.device
            Where the tensors live.
        exact : bool
            Also build the row blocks of the exact solver.
        k : int
            The number of factors (sizes those blocks).

        Returns
        -------
        ImplicitSide
            The interactions from this side.
        """
        m = sp.csr_matrix(m)
        m.sort_indices()
        to = dict(device=device)
        crow = torch.as_tensor(m.indptr.astype(np.int32), **to)
        col = torch.as_tensor(m.indices.astype(np.int32), **to)
        conf = torch.as_tensor(m.data, dtype=dtype, **to)
        pattern = torch_csr(crow, col, conf - 1, m.shape)
        out = torch_csr(crow, col, torch.empty_like(conf), m.shape)
        same = bool(np.all(reg_rows == reg_rows[0]))
        ridge = (None if same else
                 torch.as_tensor(reg_rows, dtype=dtype, **to).unsqueeze(1))
        side = cls(pattern, conf, out, float(reg_rows[0]), ridge,
                   torch.as_tensor(np.diff(m.indptr) == 0, **to), m.shape)
        if exact:
            # rows in blocks whose k*k systems take about 64 MB
            step = max(1, (1 << 24) // max(1, k * k))
            side.blocks = []
            for lo in range(0, m.shape[0], step):
                b = m[lo:lo + step]
                side.blocks.append((lo, torch_csr(
                    torch.as_tensor(b.indptr.astype(np.int64), **to),
                    torch.as_tensor(b.indices.astype(np.int64), **to),
                    torch.as_tensor(b.data - 1, dtype=dtype, **to),
                    b.shape)))
        return side

    def ridge_rows(self) -> torch.Tensor:
        """:math:`\\lambda_u` for every row.

        Returns
        -------
        torch.Tensor
            (rows,), in the dtype of the confidences.
        """
        if self.ridge is not None:
            return self.ridge.squeeze(1)
        return torch.full((self.shape[0],), self.reg, dtype=self.conf.dtype,
                          device=self.conf.device)


def implicit_half_step(side: ImplicitSide, X: torch.Tensor, Y: torch.Tensor,
                       solver: str = "cg", cg_steps: int = 3) -> None:
    r"""Update ``X`` in place with ``Y`` fixed.

    ``"cg"``: ``cg_steps`` conjugate-gradient steps from the current ``X``
    on :math:`(Y^\top Y + Y^\top(C_u - I)Y + \lambda_u I)\mathbf{x}_u =
    Y^\top C_u\mathbf{p}_u`, for all rows at once. The residual needs one
    sampled product: at the observed pairs
    :math:`w_{ui} = c_{ui} - (c_{ui} - 1)\,\mathbf{x}_u^\top\mathbf{y}_i`,
    then :math:`\mathbf{r}_u = \sum_i w_{ui}\mathbf{y}_i -
    (Y^\top Y + \lambda_u I)\mathbf{x}_u`. ``"cholesky"``: the exact
    solution. Rows without interactions get zero factors.

    Parameters
    ----------
    side : ImplicitSide
        This side's interactions in CSR order, with their confidences.
    X : torch.Tensor
        (rows, k) factors being solved for, updated in place.
    Y : torch.Tensor
        (columns, k) the other side's factors, fixed.
    solver : {"cg", "cholesky"}, optional
        CG steps from the current ``X`` (default) or the exact solution.
    cg_steps : int, optional
        CG steps per half-step (default 3).
    """
    G = Y.T @ Y
    ridge = side.ridge
    if ridge is None:
        G.diagonal().add_(side.reg)
    if solver == "cholesky":
        _exact(side, X, Y, G)
        return
    YT = Y.T
    conf1 = side.pattern.values()
    # each torch call on the CPU is a parallel region that ends in a barrier:
    # the dense products come first and the sparse sums are added into them
    S = torch.sparse.sampled_addmm(side.pattern, X, YT, beta=0.0,
                                   out=side.out)
    w = S.values()
    torch.addcmul(side.conf, conf1, w, value=-1.0, out=w)   # c - (c - 1) x.y
    R = X @ -G                                  # - (Y^T Y + lambda I) x
    if ridge is not None:
        R.addcmul_(ridge, X, value=-1.0)
    R.addmm_(S, Y)                              # + sum_i w_ui y_i

    def matvec(P: torch.Tensor) -> torch.Tensor:
        # (Y^T Y + lambda_u I + Y^T (C_u - I) Y) p, without forming it
        S = torch.sparse.sampled_addmm(side.pattern, P, YT, beta=0.0,
                                       out=side.out)
        S.values().mul_(conf1)
        AP = P @ G
        if ridge is not None:
            AP.addcmul_(ridge, P)
        return AP.addmm_(S, Y)

    conjugate_gradient(matvec, None, X, steps=cg_steps, r0=R, inplace=True)
    if side.any_cold:
        X[side.cold] = 0


def _exact(side: ImplicitSide, X: torch.Tensor, Y: torch.Tensor,
           G: torch.Tensor) -> None:
    """Form and solve every system, a block of rows at a time: the sums
    :math:`\\sum_i (c_{ui} - 1)\\mathbf{y}_i\\mathbf{y}_i^\\top` are one CSR
    product with the row-wise outer products of ``Y``."""
    k = Y.shape[1]
    outer = (Y[:, :, None] * Y[:, None, :]).reshape(Y.shape[0], k * k)
    B = torch_csr(side.pattern.crow_indices(), side.pattern.col_indices(),
                  side.conf, side.shape) @ Y          # Y^T C_u p_u
    ridge = side.ridge
    for lo, block in side.blocks:
        hi = lo + block.shape[0]
        A = (block @ outer).reshape(-1, k, k) + G
        if ridge is not None:
            A.diagonal(dim1=-2, dim2=-1).add_(ridge[lo:hi])
        X[lo:hi] = spd_solve(A, B[lo:hi], check_finite=False)
    if side.any_cold:
        X[side.cold] = 0


def implicit_loss(X: torch.Tensor, Y: torch.Tensor, users: ImplicitSide,
                  items: ImplicitSide) -> float:
    r"""The loss :math:`L` over all :math:`mn` cells, in float64, touching
    only the observed ones:

    .. math::
        L = \sum_{(u,i)\in\Omega}\big[c_{ui}(1 - s_{ui})^2 - s_{ui}^2\big]
            + \langle X^\top X, Y^\top Y\rangle
            + \sum_u\lambda_u\lVert\mathbf{x}_u\rVert^2
            + \sum_i\lambda_i\lVert\mathbf{y}_i\rVert^2

    with :math:`s_{ui} = \mathbf{x}_u^\top\mathbf{y}_i`: the sum of
    :math:`s^2` over every cell is :math:`\langle X^\top X, Y^\top
    Y\rangle`, and the observed cells are corrected.

    Parameters
    ----------
    X, Y : torch.Tensor
        The user and item factors (m x k, n x k).
    users, items : ImplicitSide
        The interactions from each side (`ImplicitALS.sides`).

    Returns
    -------
    float
        :math:`L`.
    """
    Xd, Yd = X.double(), Y.double()
    pattern = users.pattern
    s = torch.sparse.sampled_addmm(pattern, X, Y.T, beta=0.0)
    s = s.values().double()
    c = users.conf.double()
    observed = (c * (1 - s) ** 2 - s * s).sum()
    everything = ((Xd.T @ Xd) * (Yd.T @ Yd)).sum()
    reg = ((users.ridge_rows().double() * (Xd * Xd).sum(1)).sum()
           + (items.ridge_rows().double() * (Yd * Yd).sum(1)).sum())
    return float(observed + everything + reg)


@dataclass
class Explanation:
    r"""Why a user is recommended an item (Hu et al. 2008, section 5).

    With :math:`W_u = (Y^\top C_u Y + \lambda_u I)^{-1}`, the exact score is
    :math:`\hat p_{ui} = \sum_{j \in I_u} s^u_{ij} c_{uj}` with
    :math:`s^u_{ij} = \mathbf{y}_i^\top W_u \mathbf{y}_j`: each past item
    :math:`j` contributes :math:`s^u_{ij} c_{uj}`.

    Attributes
    ----------
    score : float
        :math:`\hat p_{ui}` from the exact solve (a CG fit's score differs
        by the solver's remaining error).
    items : numpy.ndarray
        The user's past items with the largest contributions, largest
        first (ties: lower index).
    contributions : numpy.ndarray
        Their contributions.
    total : numpy.ndarray
        Every past item's contribution, in the order of ``all_items``.
    all_items : numpy.ndarray
        The user's past items, ascending.
    """

    score: float
    items: np.ndarray
    contributions: np.ndarray
    total: np.ndarray
    all_items: np.ndarray


class ImplicitALS(RankingScore, FactorModel):
    r"""ALS for implicit feedback (Hu, Koren and Volinsky 2008).

    Parameters
    ----------
    factors : int
        k, the number of latent factors.
    reg : float
        :math:`\lambda`. The default, 30, and ``alpha``'s, 1, were chosen together by
        validation nDCG@10 (k = 64, 15 iterations, linear confidence) on per-user 20% holdouts
        of ml-100k and ml-latest-small: the best of the grid {1, 3, 10, 30, 100} x
        {0.3, 1, 3, 10} on both (``benchmarks/defaults.py``; its results in
        ``benchmarks/results/defaults_cpu.txt``).
    alpha : float
        Confidence scale: :math:`c = 1 + \alpha f(r)`.
    confidence : {"linear", "log"}
        :math:`f(r) = r` or :math:`\log(1 + r/\epsilon)`.
    epsilon : float
        :math:`\epsilon` of the log confidence.
    reg_exponent : float
        :math:`\nu` of the frequency-scaled regularisation
        :math:`\lambda (n_u + \alpha_0 n)^\nu` (Rendle et al. 2022);
        0 (the default) gives a plain :math:`\lambda`.
    reg_offset : float
        :math:`\alpha_0`, the weight of the unobserved cells in that
        count.
    iterations : int
        Full iterations (a user half-step, then an item half-step, in
        the order of Hu et al. and implicit).
    solver : {"cg", "cholesky"}
        ``"cg"``: ``cg_steps`` warm-started conjugate-gradient steps per
        half-step (the fast default); ``"cholesky"``: exact.
    cg_steps : int
        CG steps per half-step.
    init_std : float
        Standard deviation of the random initial factors.
    seed : int
        Seeds the initial factors.
    device : str or torch.device
        Where torch computes.
    dtype : torch.dtype
        torch.float32 or torch.float64.
    threads : int, optional
        CPU threads for the half-steps; None (the default) decides per fit
        (`als_lib.threads`), as `ExplicitALS` does.

    Notes
    -----
    `implicit` (benfred) weights an observed pair by the value it is given
    (times its ``alpha``), and an unobserved one by 1: to fit the same
    model there, give it the matrix of :math:`1 + \alpha f(r)` with
    ``alpha=1``. Its ``regularization`` is this ``reg`` with
    ``reg_exponent=0``.

    `predict` returns preferences :math:`\hat p_{ui} =
    \mathbf{x}_u^\top\mathbf{y}_i` (near 0 or 1), not ratings: `rmse` is
    refused and `score` is nDCG@10 on held-out interactions.
    """

    def __init__(self, factors: int = 64, reg: float = 30.0, *,
                 alpha: float = 1.0, confidence: str = "linear",
                 epsilon: float = 1.0, reg_exponent: float = 0.0,
                 reg_offset: float = 0.0, iterations: int = 15,
                 solver: str = "cg", cg_steps: int = 3,
                 init_std: float = 0.01, seed: int = 0,
                 device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32,
                 threads: int | None = None):
        self.factors, self.reg, self.alpha = factors, reg, alpha
        self.confidence, self.epsilon = confidence, epsilon
        self.reg_exponent, self.reg_offset = reg_exponent, reg_offset
        self.iterations, self.solver, self.cg_steps = (iterations, solver,
                                                       cg_steps)
        self.init_std, self.seed = init_std, seed
        self.device, self.dtype = device, dtype
        self.threads = threads

    _BOOL_PARAMS = ()                  # no weighted_reg, no biases
    _not_ratings = "predicts preferences (near 0 or 1), not ratings"

    def _validate_params(self) -> None:
        super()._validate_params()
        check_number(self.alpha, "alpha")
        check_choice(self.confidence, "confidence", CONFIDENCES)
        check_number(self.epsilon, "epsilon", strict=True)
        check_number(self.reg_exponent, "reg_exponent")
        check_number(self.reg_offset, "reg_offset")
        check_positive_int(self.iterations, "iterations")
        check_choice(self.solver, "solver", SOLVERS)
        check_positive_int(self.cg_steps, "cg_steps")
        check_threads(self.threads)

    # ------------------------------------------------------------ helpers
    def _conf(self, values) -> np.ndarray:
        return confidence(values, float(self.alpha), self.confidence,
                          float(self.epsilon))

    @staticmethod
    def _check_counts(values, what: str = "ratings") -> None:
        v = np.asarray(values, dtype=np.float64)
        if not np.isfinite(v).all():
            raise ValueError(f"{what} holds NaN or infinite values; give "
                             "finite counts.")
        if (v <= 0).any():
            raise ValueError(
                f"{what} holds {int((v <= 0).sum())} values <= 0; implicit "
                "feedback is a positive count (a pair that did not happen "
                "is simply absent): drop the zeros, and do not pass "
                "negative values.")

    def sides(self, counts, exact: bool = False):
        """Both sides of the confidence matrix, as `implicit_half_step` and
        `implicit_loss` take them, with this model's hyperparameters.

        Parameters
        ----------
        counts : scipy.sparse matrix (users x items)
            The interactions.
        exact : bool
            Also prepare what the exact (``"cholesky"``) solver needs.

        Returns
        -------
        users, items : ImplicitSide
            The user side and the item side.
        """
        self._validate_params()
        C = sp.csr_matrix(counts, dtype=np.float64, copy=True)
        C.data = self._conf(C.data)
        n_users, n_items = C.shape
        user_counts = np.diff(C.indptr)
        item_counts = np.bincount(C.indices, minlength=n_items)
        reg = float(self.reg)
        nu, a0 = float(self.reg_exponent), float(self.reg_offset)
        dt, dev = self.dtype, torch.device(self.device)
        k = int(self.factors)
        users = ImplicitSide.build(
            C, _reg_per_row(reg, user_counts, n_items, nu, a0), dt, dev,
            exact, k)
        items = ImplicitSide.build(
            C.T.tocsr(), _reg_per_row(reg, item_counts, n_users, nu, a0),
            dt, dev, exact, k)
        return users, items

    def _check_factors_train(self, r) -> None:
        """`from_factors`: the interactions must be counts (the model
        has no mean or biases to refuse)."""
        self._check_counts(r.values)

    # ------------------------------------------------------------ fitting
    def fit(self, ratings, eval_set=None, *, track_objective: bool = False,
            callback: Callable | None = None,
            progress: bool = True) -> "ImplicitALS":
        """Fit on implicit feedback.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            Positive counts (each stored pair is an interaction).
        eval_set : same types, optional
            Held-out interactions; nDCG@10 (training items left out) is
            recorded after every iteration.
        track_objective : bool
            Record the loss :math:`L` after every iteration (one extra
            sampled product; off by default).
        callback : callable, optional
            ``callback(iteration, model)``; returning True stops.
        progress : bool
            Show a progress bar.

        Returns
        -------
        ImplicitALS
            The model itself.

        Raises
        ------
        ValueError
            For values that are not positive finite counts.
        DivergenceError
            If the factors become NaN or infinite.
        """
        from tqdm import tqdm

        check_threads(self.threads)     # before the plan uses it
        # the whole fit, set-up included, on the plan's threads
        plan = ThreadPlan(self.threads, None, self.device)
        with plan, torch.no_grad():
            r, ev = self._check_inputs(ratings, eval_set)
            self._check_counts(r.values)
            plan.set_work(r.nnz * int(self.factors))
            self._iterate(r, ev, plan, track_objective, callback, progress)
        return self

    def _iterate(self, r, ev, plan, track_objective, callback, progress) -> None:
        """The body of `fit`: both sides, the initial factors, then the iterations."""
        from tqdm import tqdm

        exact = self.solver == "cholesky"
        users, items = self.sides(r.to_csr(), exact)
        params = init_params(r.n_users, r.n_items, int(self.factors), 0.0,
                             False, float(self.init_std), int(self.seed),
                             self.dtype, torch.device(self.device),
                             r.user_counts(), r.item_counts())
        self._set_fitted(r, params)
        self._fit_sides = (users, items)
        self.history_ = {k: [] for k in ("iteration", "objective",
                                         "eval_ndcg", "seconds", "threads")}
        self._record(0, 0.0, track_objective, ev)
        self.history_["threads"].append(None)
        X, Y, elapsed = params.U, params.V, 0.0
        for it in tqdm(range(1, self.iterations + 1),
                       desc="implicit ALS iterations", disable=not progress):
            plan.iteration()
            start = time.perf_counter()
            # users first, then items (as Hu et al. and implicit)
            implicit_half_step(users, X, Y, self.solver, self.cg_steps)
            implicit_half_step(items, Y, X, self.solver, self.cg_steps)
            _sync(X.device)
            seconds = time.perf_counter() - start
            plan.record(seconds)
            elapsed += seconds
            if not all_finite(X, Y):
                raise DivergenceError(
                    f"the factors became non-finite at iteration {it}; "
                    "check the counts for extreme values, use a "
                    "smaller alpha or a larger reg, or fit in "
                    "dtype=torch.float64.")
            self._record(it, elapsed, track_objective, ev)
            self.history_["threads"].append(plan.counts[-1])
            if callback is not None and callback(it, self):
                break

    def _record(self, it, seconds, track, ev) -> None:
        h = self.history_
        h["iteration"].append(it)
        h["seconds"].append(seconds)
        h["objective"].append(self.loss() if track else None)
        h["eval_ndcg"].append(None if ev is None else self.score(ev))

    def _sides_of_fit(self) -> tuple[ImplicitSide, ImplicitSide]:
        """The training interactions as sides (rebuilt after `load`)."""
        if getattr(self, "_fit_sides", None) is None:
            self._fit_sides = self.sides(self._seen, exact=False)
        return self._fit_sides

    def loss(self) -> float:
        """The loss :math:`L` of the fitted factors on the training data
        (`implicit_loss`).

        Returns
        -------
        float
            :math:`L`, computed in float64.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted()
        return implicit_loss(self.params_.U, self.params_.V,
                             *self._sides_of_fit())

    # ------------------------------------------------------------ new users
    def _user_system(self, items: np.ndarray, values):
        """The exact system of one user: (A, b, c) in float64."""
        Y = self.params_.V.double().cpu()
        Yi = Y[torch.as_tensor(items)]
        c = torch.as_tensor(self._conf(values))
        n = self.n_items_
        reg = _reg_per_row(float(self.reg), np.array([len(items)]), n,
                           float(self.reg_exponent),
                           float(self.reg_offset))[0]
        A = Y.T @ Y + (Yi.T * (c - 1)) @ Yi
        A.diagonal().add_(reg)
        return A, Yi.T @ c, c

    def _user_items(self, items, values):
        v = np.ones(np.size(items)) if values is None else values
        i, v = self._fold_in_input(items, v, "values")
        self._check_counts(v, "values")
        return i, v

    def fold_in(self, items, values=None) -> FoldIn:
        r"""A new user from their interactions, without refitting: the
        exact solution of the user's system with the items fixed,
        :math:`(Y^\top C_u Y + \lambda_u I)\mathbf{x} = Y^\top
        C_u\mathbf{p}_u`, in float64.

        Parameters
        ----------
        items : array_like of int
            The items the user interacted with (each once).
        values : array_like of float, optional
            Their counts (default 1 each).

        Returns
        -------
        FoldIn
            Pass it to `recommend`.
        """
        self._check_fitted()
        i, v = self._user_items(items, values)
        A, b, _ = self._user_system(i, v)
        return FoldIn(spd_solve(A, b).numpy(), 0.0, i)

    def recommend_new(self, rated_items, values=None, n: int = 10, *,
                      exclude_seen: bool = True, filter_items=None,
                      items=None):
        """Recommendations for a new user from their interactions:
        `fold_in` then `recommend`.

        Parameters
        ----------
        rated_items : array_like of int
            The items the new user interacted with (each once).
        values : array_like of float, optional
            Their counts (default 1 each).
        n : int
            How many items to return.
        exclude_seen : bool
            Leave out ``rated_items``.
        filter_items : array_like of int, optional
            Items never to recommend.
        items : array_like of int, optional
            Recommend only among these items.

        Returns
        -------
        (items, scores) : tuple of numpy.ndarray
            1-D, best first.
        """
        return self.recommend(self.fold_in(rated_items, values), n,
                              exclude_seen=exclude_seen,
                              filter_items=filter_items, items=items)

    def explain(self, user, item: int, n: int = 10) -> Explanation:
        r"""Which of the user's past items make ``item`` score high.

        Parameters
        ----------
        user : int
            A training user (their training interactions are used).
        item : int
            The item to explain (usually one of their recommendations).
        n : int
            How many past items to report.

        Returns
        -------
        Explanation
            The exact score and the largest contributions
            :math:`s^u_{ij} c_{uj}`; all contributions add up to the
            score.

        Raises
        ------
        ValueError
            For a user without training interactions.
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        if np.ndim(user) or np.ndim(item):
            raise ValueError("explain takes one user and one item; call it "
                             "once per pair.")
        u = int(index_array(user, self.n_users_, "user", "user").item())
        j = int(index_array(item, self.n_items_, "item", "item").item())
        s = self._seen
        past = s.indices[s.indptr[u]:s.indptr[u + 1]]
        if len(past) == 0:
            raise ValueError(f"user {u} has no training interactions, so "
                             "there is nothing to explain.")
        values = s.data[s.indptr[u]:s.indptr[u + 1]]
        A, _, c = self._user_system(past, values)
        Y = self.params_.V.double().cpu()
        w = spd_solve(A, Y[j])                 # W_u y_i
        contrib = (Y[torch.as_tensor(past)] @ w) * c
        total = contrib.numpy()
        order = np.lexsort((past, -total))[:n]
        return Explanation(float(total.sum()), past[order], total[order],
                           total, past.copy())
