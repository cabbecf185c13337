r"""Gradient descent on the factorisation objective (Chapter 3): full-batch GD, SGD, Adam.

All three minimise the objective :math:`J` of `als_lib.objective`. A step on a batch
:math:`B \subseteq \Omega` of ratings uses the gradient of that batch's share of :math:`J`,

.. math::
    J_B = \sum_{(u,i)\in B} \Big[ e_{ui}^2
          + \lambda\big(s_u(\lVert\mathbf{u}_u\rVert^2 + b_u^2) + s_i(\lVert\mathbf{v}_i\rVert^2 + b_i^2)\big) \Big],
    \qquad e_{ui} = r_{ui} - \hat r_{ui},

with :math:`s_u = s_i = 1` for count-weighted regularisation and :math:`s_u = 1/n_u`,
:math:`s_i = 1/n_i` for plain regularisation, so that :math:`J_\Omega = J` exactly. For
``method="gd"`` the batch is all of :math:`\Omega`; for ``"sgd"`` and ``"adam"`` it is a
shuffled mini-batch. With a batch of one rating and weighted regularisation, the SGD step is
Simon Funk's update :math:`\mathbf{u}_u \leftarrow \mathbf{u}_u + 2\eta(e_{ui}\mathbf{v}_i - \lambda\mathbf{u}_u)`.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

from .model import (
    DivergenceError,
    FactorModel,
    check_choice,
    check_number,
    check_positive_int,
)
from .objective import (
    FactorParams,
    RatingTensors,
    evaluate_rmse,
    objective_terms,
)

__all__ = ["GradientDescentMF", "batch_gradients"]


def batch_gradients(params: FactorParams, users: torch.Tensor,
                    items: torch.Tensor, values: torch.Tensor, reg: float,
                    s_user: torch.Tensor, s_item: torch.Tensor):
    r"""Per-rating gradient rows of :math:`J_B` (derived in Chapter 3):

    .. math::
        \frac{\partial J_B}{\partial \mathbf{u}_u} = \sum_{i:(u,i)\in B}
        \big(-2 e_{ui}\mathbf{v}_i + 2\lambda s_u \mathbf{u}_u\big),
        \qquad
        \frac{\partial J_B}{\partial b_u} = \sum_{i:(u,i)\in B}
        \big(-2 e_{ui} + 2\lambda s_u b_u\big),

    and the same with the roles of users and items swapped.

    Parameters
    ----------
    params : FactorParams
        The current factors and biases.
    users, items : torch.Tensor
        The batch's rating indices (int64).
    values : torch.Tensor
        The batch's ratings.
    reg : float
        :math:`\lambda`.
    s_user, s_item : torch.Tensor
        Each rating's share :math:`s_u`, :math:`s_i` of its user's and
        item's penalty weight (Chapter 3 splits the penalty over ratings).

    Returns
    -------
    tuple of torch.Tensor
        ``(gU, gV, gbu, gbi)``: one gradient row per rating, to be summed
        into its user and item with ``index_add_``; ``gbu`` and ``gbi``
        are None without biases.
    """
    Uu, Vi = params.U[users], params.V[items]
    pred = (Uu * Vi).sum(1) + params.mu
    if params.user_bias is not None:
        bu, bi = params.user_bias[users], params.item_bias[items]
        pred = pred + bu + bi
    e2 = 2.0 * (values - pred)
    su, si = (2.0 * reg) * s_user[users], (2.0 * reg) * s_item[items]
    gU = su[:, None] * Uu - e2[:, None] * Vi
    gV = si[:, None] * Vi - e2[:, None] * Uu
    if params.user_bias is None:
        return gU, gV, None, None
    return gU, gV, su * bu - e2, si * bi - e2


class GradientDescentMF(FactorModel):
    r"""Matrix factorisation fitted by gradient descent on the objective
    of `als_lib.objective`.

    Parameters
    ----------
    factors : int
        k, the number of latent factors.
    reg : float
        :math:`\lambda`, the regularisation strength.
    weighted_reg : bool
        Count-weighted regularisation (:math:`\lambda n_u`, as in ALS-WR)
        if True, plain :math:`\lambda` if False.
    biases : bool
        Learn user and item biases :math:`b_u, b_i` (the mean :math:`\mu`
        is fixed).
    lr : float
        The learning rate :math:`\eta`; every step is
        :math:`\theta \leftarrow \theta - \eta \nabla J_B` (for Adam, the
        Adam step with step size :math:`\eta`).
    epochs : int
        Passes over the training ratings.
    method : {"gd", "sgd", "adam"}
        Full batch, shuffled mini-batches, or mini-batches with Adam
        moments (``betas``).
    batch_size : int
        Ratings per mini-batch (ignored by ``"gd"``).
    init_std : float
        Standard deviation of the random initial factors.
    betas : tuple of float
        Adam's decay rates of the first and second moments.
    seed : int
        Seeds the initial factors and the shuffling.
    device : str or torch.device
        Where torch computes (``"cpu"``, ``"cuda"``).
    dtype : torch.dtype
        torch.float32 or torch.float64.

    Attributes
    ----------
    params_ : FactorParams
        The fitted parameters (torch tensors); also as numpy arrays:
        ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias``.
    n_users_, n_items_ : int
        The fitted shape.
    history_ : dict
        Per-epoch lists ``epoch``, ``seconds`` (cumulative training time
        without evaluation), ``eval_rmse`` (with an ``eval_set``), and
        ``objective`` and ``train_rmse`` (with ``track_objective=True``);
        epoch 0 is the initial state, untracked entries are None.

    Notes
    -----
    If the objective, the factors or the predictions become NaN or
    infinite, `fit` stops and raises `DivergenceError` naming the epoch;
    ``history_`` then holds the epochs before it.
    """

    METHODS = ("gd", "sgd", "adam")

    def __init__(self, factors: int = 64, reg: float = 0.05, *,
                 weighted_reg: bool = True, biases: bool = True,
                 lr: float = 0.01, epochs: int = 20, method: str = "sgd",
                 batch_size: int = 1024, init_std: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.999), seed: int = 0,
                 device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.factors, self.reg = factors, reg
        self.weighted_reg, self.biases = weighted_reg, biases
        self.lr, self.epochs, self.method = lr, epochs, method
        self.batch_size, self.init_std, self.betas = batch_size, init_std, betas
        self.seed, self.device, self.dtype = seed, device, dtype

    def _validate_params(self) -> None:
        super()._validate_params()
        check_number(self.lr, "lr", strict=True)
        check_positive_int(self.epochs, "epochs")
        check_choice(self.method, "method", self.METHODS)
        check_positive_int(self.batch_size, "batch_size")
        if not (len(self.betas) == 2
                and all(0 <= b < 1 for b in self.betas)):
            raise ValueError("betas must be two numbers in [0, 1); "
                             f"got {self.betas!r}.")

    def fit(self, ratings, eval_set=None, *,
            track_objective: bool = False,
            callback: Callable | None = None,
            progress: bool = True) -> "GradientDescentMF":
        """Fit on ``ratings``.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The training ratings.
        eval_set : same types, optional
            Held-out ratings (same index space), scored after every epoch.
        track_objective : bool
            Record J and the training RMSE after every epoch (costs an
            extra pass over the ratings).
        callback : callable, optional
            ``callback(epoch, model)`` after each epoch; returning True
            stops early.
        progress : bool
            Show a progress bar.

        Returns
        -------
        GradientDescentMF
            The model itself.

        Raises
        ------
        DivergenceError
            When the steps are too large and the fit blows up.
        """
        from tqdm import tqdm

        _, data, eval_data = self._start_fit(ratings, eval_set)
        p, dev, dt = self.params_, self.params_.U.device, self.dtype
        n_users, n_items = self.n_users_, self.n_items_
        if self.weighted_reg:       # each rating carries lambda ||u_u||^2
            s_user = torch.ones(n_users, dtype=dt, device=dev)
            s_item = torch.ones(n_items, dtype=dt, device=dev)
        else:                       # each carries lambda ||u_u||^2 / n_u
            s_user = 1.0 / data.user_counts.clamp(min=1)
            s_item = 1.0 / data.item_counts.clamp(min=1)
        adam = None
        if self.method == "adam":
            adam = [(torch.zeros_like(t), torch.zeros_like(t))
                    for t in p.tensors()]
        gen = torch.Generator().manual_seed(self.seed + 1)
        nnz = len(data)
        batch = nnz if self.method == "gd" else self.batch_size
        keys = ("epoch", "objective", "train_rmse", "eval_rmse", "seconds")
        self.history_ = {k: [] for k in keys}
        track = (data if track_objective else None), eval_data
        self._record(0, *track, 0.0)
        elapsed, step = 0.0, 0
        for epoch in tqdm(range(1, self.epochs + 1),
                          desc=f"{self.method} epochs", disable=not progress):
            start = time.perf_counter()
            order = None
            if self.method != "gd":       # a new shuffle every epoch
                order = torch.randperm(nnz, generator=gen).to(dev)
            for lo in range(0, nnz, batch):
                if order is None:
                    u, i, v = data.users, data.items, data.values
                else:
                    idx = order[lo:lo + batch]
                    u, i = data.users[idx], data.items[idx]
                    v = data.values[idx]
                grads = batch_gradients(p, u, i, v, self.reg,
                                        s_user, s_item)
                step += 1
                if adam is None:
                    self._sgd_step(p, u, i, grads)
                else:
                    self._adam_step(p, u, i, grads, adam, step)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            elapsed += time.perf_counter() - start
            self._record(epoch, *track, elapsed)
            if callback is not None and callback(epoch, self):
                break
        return self

    def _sgd_step(self, p: FactorParams, u, i, grads) -> None:
        gU, gV, gbu, gbi = grads
        p.U.index_add_(0, u, gU, alpha=-self.lr)
        p.V.index_add_(0, i, gV, alpha=-self.lr)
        if gbu is not None:
            p.user_bias.index_add_(0, u, gbu, alpha=-self.lr)
            p.item_bias.index_add_(0, i, gbi, alpha=-self.lr)

    def _adam_step(self, p: FactorParams, u, i, grads, state,
                   step: int) -> None:
        r"""Adam (Kingma & Ba): :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
        :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
        :math:`\theta \leftarrow \theta - \eta\,
        \hat m / (\sqrt{\hat v} + \epsilon)`."""
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** step, 1 - b2 ** step
        rows = (u, i, u, i)
        for t, g_rows, idx, (m, v) in zip(p.tensors(), grads, rows, state):
            g = torch.zeros_like(t).index_add_(0, idx, g_rows)
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            t.addcdiv_(m, (v / c2).sqrt_().add_(1e-8), value=-self.lr / c1)

    def _record(self, epoch: int, data: RatingTensors | None, eval_data,
                seconds: float) -> None:
        """Check that the fit has not blown up, then append to
        ``history_``: J and the training RMSE if ``data`` is given, the
        RMSE on ``eval_data`` if given."""
        p, h = self.params_, self.history_
        obj = train = held_out = None
        problem = None                  # what became NaN or infinite
        with torch.no_grad():
            for t in p.tensors():
                if not bool(torch.isfinite(t).all()):
                    bad = "nan" if bool(torch.isnan(t).any()) else "inf"
                    problem = f"factors became {bad}"
                    break
            if problem is None and data is not None:
                sse, penalty = objective_terms(p, data, self.reg,
                                               self.weighted_reg)
                obj = float(sse) + float(penalty)
                train = math.sqrt(float(sse) / len(data))
                if not math.isfinite(obj):
                    problem = f"objective became {obj}"
            if problem is None and eval_data is not None:
                try:
                    held_out = evaluate_rmse(p, eval_data)
                except ValueError:          # the predictions overflowed
                    problem = "predictions became infinite"
        if problem is not None:
            raise DivergenceError(
                f"the {problem} at epoch {epoch} ({self.method}, "
                f"lr={self.lr:g}): the steps are too large and the factors "
                f"blew up. Use a smaller learning rate, e.g. "
                f"lr={self.lr / 10:g}."
            )
        h["epoch"].append(epoch)
        h["objective"].append(obj)
        h["train_rmse"].append(train)
        h["eval_rmse"].append(held_out)
        h["seconds"].append(seconds)
