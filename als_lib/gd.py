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

from .data import Ratings
from .objective import (
    DivergenceError,
    FactorModel,
    FactorParams,
    RatingTensors,
    check_float_dtype,
    check_positive_int,
    evaluate_rmse,
    init_params,
    objective_terms,
)

__all__ = ["GradientDescentMF", "DivergenceError", "batch_gradients", "init_params"]


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

    and the same with the roles of users and items swapped. Returns the
    rows (one per rating, to be summed into their user and item with
    ``index_add_``): ``(gU, gV, gbu, gbi)``; the bias rows are ``None``
    without biases.
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
    r"""Matrix factorisation fitted by gradient descent on the objective of `als_lib.objective`.

    Parameters
    ----------
    factors : k, the number of latent factors.
    reg : :math:`\lambda`, the regularisation strength.
    weighted_reg : count-weighted regularisation (:math:`\lambda n_u`, as in ALS-WR) if True,
        plain :math:`\lambda` if False.
    biases : learn user and item biases :math:`b_u, b_i` (the mean :math:`\mu` is fixed).
    lr : the learning rate :math:`\eta`; every step is :math:`\theta \leftarrow \theta - \eta \nabla J_B`
        (for Adam, the Adam step with step size :math:`\eta`).
    epochs : passes over the training ratings.
    method : ``"gd"`` (full batch), ``"sgd"`` (shuffled mini-batches) or ``"adam"``
        (mini-batches, Adam moments with ``betas``).
    batch_size : ratings per mini-batch (ignored by ``"gd"``).
    init_std : standard deviation of the random initial factors.
    seed : seeds the initial factors and the shuffling.
    device, dtype : where and in what precision torch computes.

    After `fit`: ``params_`` (a `FactorParams`) and ``history``, a dict of per-epoch lists
    (``epoch``, ``objective``, ``train_rmse``, ``eval_rmse``, ``seconds``; epoch 0 is the
    initial state, ``seconds`` is cumulative training time without evaluation).

    If the objective becomes NaN or infinite, `fit` stops and raises `DivergenceError`
    naming the epoch; ``history`` then holds the epochs before it.
    """

    METHODS = ("gd", "sgd", "adam")

    def __init__(self, factors: int = 64, reg: float = 0.05, *, weighted_reg: bool = True,
                 biases: bool = True, lr: float = 0.01, epochs: int = 20, method: str = "sgd",
                 batch_size: int = 1024, init_std: float = 0.1, betas: tuple[float, float] = (0.9, 0.999),
                 seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        factors, epochs, batch_size = (check_positive_int(v, n) for v, n in
                                       ((factors, "factors"), (epochs, "epochs"), (batch_size, "batch_size")))
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0; got {reg!r}.")
        if not lr > 0:
            raise ValueError(f"lr must be > 0; got {lr!r}.")
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}; got {method!r}.")
        check_float_dtype(dtype)
        self.factors, self.reg, self.weighted_reg, self.biases = int(factors), float(reg), weighted_reg, biases
        self.lr, self.epochs, self.method, self.batch_size = float(lr), int(epochs), method, int(batch_size)
        self.init_std, self.betas, self.seed = float(init_std), betas, int(seed)
        self.device, self.dtype = torch.device(device), dtype
        self.params_ = None
        self.history: dict[str, list] = {}

    def __repr__(self) -> str:
        return (f"GradientDescentMF(factors={self.factors}, reg={self.reg}, weighted_reg={self.weighted_reg}, "
                f"biases={self.biases}, lr={self.lr}, epochs={self.epochs}, method={self.method!r}, "
                f"batch_size={self.batch_size})")

    def fit(self, ratings: Ratings, eval_set=None,
            callback: Callable | None = None,
            progress: bool = True) -> "GradientDescentMF":
        """Fit on ``ratings``; ``eval_set`` (same index space) is scored
        after every epoch.

        ``callback(epoch, model)`` is called after each epoch; returning
        True stops early.
        """
        from tqdm import tqdm

        _, data, eval_data = self._start_fit(ratings, eval_set)
        p, dev, dt = self.params_, self.device, self.dtype
        if self.weighted_reg:       # each rating carries lambda ||u_u||^2
            s_user = torch.ones(self.n_users, dtype=dt, device=dev)
            s_item = torch.ones(self.n_items, dtype=dt, device=dev)
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
        self.history = {k: [] for k in keys}
        self._record(0, data, eval_data, 0.0)
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
                    u, i, v = data.users[idx], data.items[idx], data.values[idx]
                grads = batch_gradients(p, u, i, v, self.reg, s_user, s_item)
                step += 1
                if adam is None:
                    self._sgd_step(p, u, i, grads)
                else:
                    self._adam_step(p, u, i, grads, adam, step)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            elapsed += time.perf_counter() - start
            self._record(epoch, data, eval_data, elapsed)
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

    def _record(self, epoch: int, data: RatingTensors, eval_data, seconds: float) -> None:
        with torch.no_grad():
            sse, penalty = objective_terms(self.params_, data, self.reg, self.weighted_reg)
            obj = float(sse) + float(penalty)
        if not math.isfinite(obj):
            raise DivergenceError(
                f"the objective became {obj} at epoch {epoch} ({self.method}, lr={self.lr:g}): the "
                f"steps are too large and the factors blew up. Use a smaller learning rate, e.g. "
                f"lr={self.lr / 10:g}."
            )
        h = self.history
        h["epoch"].append(epoch)
        h["objective"].append(obj)
        h["train_rmse"].append(math.sqrt(float(sse) / len(data)))
        h["eval_rmse"].append(None if eval_data is None else evaluate_rmse(self.params_, eval_data))
        h["seconds"].append(seconds)
