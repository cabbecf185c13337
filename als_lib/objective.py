r"""The matrix-factorisation model and its regularised objective: one definition for all solvers.

Model (Chapter 2), for a user :math:`u` and an item :math:`i`:

.. math::
    \hat r_{ui} = \mu + b_u + b_i + \mathbf{u}_u^\top \mathbf{v}_i

with :math:`\mu` the mean training rating (fixed, not learned), optional biases
:math:`b_u, b_i`, and factor rows :math:`\mathbf{u}_u` of :math:`U` (m x k) and
:math:`\mathbf{v}_i` of :math:`V` (n x k).

Objective, over the **observed** ratings :math:`\Omega` only:

.. math::
    J = \sum_{(u,i)\in\Omega} (r_{ui} - \hat r_{ui})^2
        + \lambda \Big( \sum_u w_u (\lVert\mathbf{u}_u\rVert^2 + b_u^2)
                      + \sum_i w_i (\lVert\mathbf{v}_i\rVert^2 + b_i^2) \Big)

with :math:`w_u = w_i = 1` (plain regularisation) or :math:`w_u = n_u, w_i = n_i`, the number
of training ratings of the user or item (count-weighted, as in ALS-WR). Biases are
regularised like the factors (ALS treats them as one more column of the factor matrices).
Gradient descent (`als_lib.gd`) and ALS (`als_lib.als`) minimise this same ``J``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .data import Ratings, as_ratings, index_array

__all__ = [
    "FactorParams",
    "RatingTensors",
    "as_ratings",
    "predict",
    "regularizer",
    "objective",
    "objective_terms",
    "evaluate_rmse",
    "FactorModel",
    "DivergenceError",
    "init_params",
]


@dataclass
class FactorParams:
    """The parameters of the model: ``U`` (m x k), ``V`` (n x k), ``mu`` and optional biases."""

    U: torch.Tensor
    V: torch.Tensor
    mu: float
    user_bias: torch.Tensor | None = None
    item_bias: torch.Tensor | None = None

    @property
    def k(self) -> int:
        return self.U.shape[1]

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (self.U, self.V, self.user_bias, self.item_bias) if t is not None]


@dataclass(frozen=True)
class RatingTensors:
    """A `Ratings` as torch tensors on one device and dtype, with ``n_u`` and ``n_i``."""

    users: torch.Tensor
    items: torch.Tensor
    values: torch.Tensor
    user_counts: torch.Tensor
    item_counts: torch.Tensor
    n_users: int
    n_items: int

    @classmethod
    def from_ratings(cls, ratings: Ratings, dtype=torch.float32, device="cpu") -> "RatingTensors":
        return cls(
            torch.as_tensor(ratings.users, device=device),
            torch.as_tensor(ratings.items, device=device),
            torch.as_tensor(ratings.values, dtype=dtype, device=device),
            torch.as_tensor(ratings.user_counts(), dtype=dtype, device=device),
            torch.as_tensor(ratings.item_counts(), dtype=dtype, device=device),
            ratings.n_users,
            ratings.n_items,
        )

    def __len__(self) -> int:
        return len(self.values)


class DivergenceError(FloatingPointError):
    """The objective became NaN or infinite during a fit: the steps were too large."""


def init_params(n_users: int, n_items: int, k: int, mu: float, biases: bool, init_std: float,
                seed: int, dtype=torch.float32, device="cpu",
                user_counts: np.ndarray | None = None, item_counts: np.ndarray | None = None) -> FactorParams:
    """Random factors ``N(0, init_std^2)`` from a seeded generator (no global random state),
    zero biases. Rows of users/items without training ratings start (and stay) at zero."""
    g = torch.Generator().manual_seed(int(seed))
    U = torch.randn(n_users, k, generator=g, dtype=torch.float64) * init_std
    V = torch.randn(n_items, k, generator=g, dtype=torch.float64) * init_std
    if user_counts is not None:
        U[torch.as_tensor(user_counts) == 0] = 0
    if item_counts is not None:
        V[torch.as_tensor(item_counts) == 0] = 0
    conv = dict(dtype=dtype, device=device)
    return FactorParams(
        U.to(**conv), V.to(**conv), float(mu),
        torch.zeros(n_users, **conv) if biases else None,
        torch.zeros(n_items, **conv) if biases else None,
    )


def predict(
    params: FactorParams, users: torch.Tensor, items: torch.Tensor
) -> torch.Tensor:
    r"""Predicted ratings for each pair ``(users[j], items[j])``.

    :math:`\hat r_{ui} = \mu + b_u + b_i + \mathbf{u}_u^\top\mathbf{v}_i`,
    vectorised (no Python loop)."""
    pred = (params.U[users] * params.V[items]).sum(-1) + params.mu
    if params.user_bias is not None:
        pred = pred + params.user_bias[users]
    if params.item_bias is not None:
        pred = pred + params.item_bias[items]
    return pred


def regularizer(
    params: FactorParams,
    reg: float,
    weighted: bool,
    user_counts: torch.Tensor,
    item_counts: torch.Tensor,
) -> torch.Tensor:
    r"""The penalty of :math:`J`, with :math:`w = n` (``weighted=True``) or
    :math:`w = 1`:

    .. math::
        \lambda \Big( \sum_u w_u (\lVert\mathbf{u}_u\rVert^2 + b_u^2)
        + \sum_i w_i (\lVert\mathbf{v}_i\rVert^2 + b_i^2) \Big)
    """
    sq_u = (params.U**2).sum(1)
    sq_v = (params.V**2).sum(1)
    if params.user_bias is not None:
        sq_u = sq_u + params.user_bias**2
    if params.item_bias is not None:
        sq_v = sq_v + params.item_bias**2
    if weighted:
        return reg * (
            (user_counts * sq_u).sum() + (item_counts * sq_v).sum()
        )
    return reg * (sq_u.sum() + sq_v.sum())


def objective_terms(
    params: FactorParams,
    data: RatingTensors,
    reg: float,
    weighted: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two terms of :math:`J`, as ``(squared error, regulariser)``.

    The squared error :math:`\sum_{(u,i)\in\Omega}(r_{ui}-\hat r_{ui})^2`
    runs over the observed ratings only."""
    err = data.values - predict(params, data.users, data.items)
    penalty = regularizer(
        params, reg, weighted, data.user_counts, data.item_counts
    )
    return (err**2).sum(), penalty


def objective(params: FactorParams, data: RatingTensors, reg: float, weighted: bool = True) -> torch.Tensor:
    r"""The objective :math:`J`: squared error over the observed ratings plus the regulariser."""
    sse, penalty = objective_terms(params, data, reg, weighted)
    return sse + penalty


def evaluate_rmse(params: FactorParams, data: RatingTensors) -> float:
    """Root mean squared error of the model's predictions on ``data`` (computed in float64)."""
    err = data.values - predict(params, data.users, data.items)
    return math.sqrt(float((err.double() ** 2).mean()))


def check_positive_int(value, name: str) -> int:
    """``value`` as an int, or a ValueError naming ``name`` if it is not a positive integer."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_float_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}.")
    return dtype


class FactorModel:
    """What every factorisation model shares: the start of a fit, predictions, recommendations.

    Subclasses have ``factors``, ``biases``, ``init_std``, ``seed``, ``dtype`` and ``device``;
    `_start_fit` sets ``params_`` (a `FactorParams`), ``n_users``, ``n_items`` and ``_seen``
    (the training matrix, CSR).
    """

    params_: FactorParams

    def _start_fit(self, ratings, eval_set) -> tuple[Ratings, RatingTensors, RatingTensors | None]:
        """Check the inputs, remember the shape and the seen items, convert to tensors and draw
        the initial factors (`init_params`). Returns (ratings, train tensors, eval tensors)."""
        r = as_ratings(ratings)
        ev = None if eval_set is None else as_ratings(eval_set, "eval_set")
        if ev is not None and ev.shape != r.shape:
            raise ValueError(f"eval_set has shape {ev.shape} but ratings has {r.shape}; use a split of the same data.")
        self.n_users, self.n_items = r.shape
        self._seen = r.to_csr()
        data = RatingTensors.from_ratings(r, self.dtype, self.device)
        eval_data = None if ev is None else RatingTensors.from_ratings(ev, self.dtype, self.device)
        self.params_ = init_params(self.n_users, self.n_items, self.factors, float(r.values.mean()),
                                   self.biases, self.init_std, self.seed, self.dtype, self.device,
                                   r.user_counts(), r.item_counts())
        return r, data, eval_data

    def _check_fitted(self) -> None:
        if getattr(self, "params_", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(ratings) first.")

    def predict(self, users, items) -> np.ndarray:
        r"""Predicted ratings :math:`\hat r_{ui}` for index arrays ``users`` and ``items``.

        A user or item without training ratings has zero factors and zero bias, so its
        prediction falls back to the mean (plus the other side's bias).
        """
        self._check_fitted()
        u = index_array(users, self.n_users, "users", "user")
        i = index_array(items, self.n_items, "items", "item")
        if u.shape != i.shape:
            raise ValueError(f"users and items must have the same shape; got {u.shape} and {i.shape}.")
        dev = self.params_.U.device
        with torch.no_grad():
            out = predict(self.params_, torch.as_tensor(u, device=dev), torch.as_tensor(i, device=dev))
        return out.double().cpu().numpy()

    def score(self, ratings) -> float:
        """RMSE on ``ratings`` (a `Ratings`, sparse matrix or ``(users, items, values)``)."""
        r = as_ratings(ratings)
        p = self.predict(r.users, r.items)
        return float(np.sqrt(np.mean((r.values - p) ** 2)))

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True,
                  items=None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the highest predicted rating for ``user``: (items, scores).

        ``exclude_seen`` leaves out the items the user rated in the training data; ``items``
        restricts the candidates to these item indices (for example, items with enough ratings).
        """
        self._check_fitted()
        u = int(index_array([user], self.n_users, "user", "user")[0])
        p = self.params_
        with torch.no_grad():
            scores = p.V @ p.U[u] + p.mu
            if p.item_bias is not None:
                scores = scores + p.item_bias
            if p.user_bias is not None:
                scores = scores + p.user_bias[u]
            scores = scores.double().cpu().numpy()
        seen = self._seen.indices[self._seen.indptr[u]:self._seen.indptr[u + 1]] if exclude_seen else None
        return self._top(scores, n, seen, items)

    def _top(self, scores: np.ndarray, n: int, exclude=None, candidates=None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and values of the ``n`` largest finite ``scores``, best first, after removing
        ``exclude`` and keeping only ``candidates`` (item indices).

        Ties are broken deterministically: higher score first, then the lower item index, also
        at the cut-off (of several items tied for the last place, the lowest indices are kept).
        """
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer; got {n!r}.")
        scores = scores.copy()
        if candidates is not None:
            keep = np.zeros(len(scores), dtype=bool)
            keep[index_array(candidates, self.n_items, "items", "item")] = True
            scores[~keep] = -np.inf
        if exclude is not None:
            scores[exclude] = -np.inf
        n = min(int(n), int(np.isfinite(scores).sum()))
        if n == 0:
            return np.array([], dtype=np.int64), np.array([])
        # every item scoring at least the n-th best (ties at the cut-off included), in index order
        nth_best = -np.partition(-scores, n - 1)[n - 1]
        contenders = np.flatnonzero(scores >= nth_best)
        top = contenders[np.lexsort((contenders, -scores[contenders]))[:n]]
        return top, scores[top]
