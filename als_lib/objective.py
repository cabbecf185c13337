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

from dataclasses import dataclass

import numpy as np
import torch

from .data import Ratings
from .metrics import rmse

__all__ = [
    "FactorParams",
    "RatingTensors",
    "predict",
    "regularizer",
    "objective",
    "objective_terms",
    "evaluate_rmse",
    "predict_rows",
    "augment",
    "init_params",
]


@dataclass
class FactorParams:
    """The parameters of the model :math:`\\hat r_{ui} = \\mu + b_u + b_i +
    \\mathbf{u}_u^\\top\\mathbf{v}_i`.

    Attributes
    ----------
    U : torch.Tensor
        The user factors (m x k).
    V : torch.Tensor
        The item factors (n x k).
    mu : float
        The global mean :math:`\\mu`.
    user_bias, item_bias : torch.Tensor or None
        The biases :math:`b_u` (m,) and :math:`b_i` (n,); None for a model without them.
    """

    U: torch.Tensor
    V: torch.Tensor
    mu: float
    user_bias: torch.Tensor | None = None
    item_bias: torch.Tensor | None = None

    @property
    def k(self) -> int:
        """int: The number of factors."""
        return self.U.shape[1]

    def tensors(self) -> list[torch.Tensor]:
        """The tensors to optimise.

        Returns
        -------
        list of torch.Tensor
            ``U``, ``V`` and the biases that are not None, in that order.
        """
        return [t for t in (self.U, self.V, self.user_bias, self.item_bias) if t is not None]


@dataclass(frozen=True)
class RatingTensors:
    """A `Ratings` as torch tensors on one device and dtype, with ``n_u`` and ``n_i``.

    Attributes
    ----------
    users, items : torch.Tensor
        The index pair of each rating (int64).
    values : torch.Tensor
        The ratings.
    user_counts, item_counts : torch.Tensor
        :math:`n_u` (m,) and :math:`n_i` (n,), in the dtype of ``values``.
    n_users, n_items : int
        The matrix shape.
    """

    users: torch.Tensor
    items: torch.Tensor
    values: torch.Tensor
    user_counts: torch.Tensor
    item_counts: torch.Tensor
    n_users: int
    n_items: int

    @classmethod
    def from_ratings(cls, ratings: Ratings, dtype=torch.float32, device="cpu") -> "RatingTensors":
        """Copy ``ratings`` to torch.

        Parameters
        ----------
        ratings : Ratings
            The ratings.
        dtype : torch.dtype
            The dtype of the values and counts.
        device : str or torch.device
            Where the tensors live.

        Returns
        -------
        RatingTensors
        """
        return cls(
            # torch.tensor copies: the arrays of a Ratings are read-only
            torch.tensor(ratings.users, device=device),
            torch.tensor(ratings.items, device=device),
            torch.tensor(ratings.values, dtype=dtype, device=device),
            torch.as_tensor(ratings.user_counts(), dtype=dtype, device=device),
            torch.as_tensor(ratings.item_counts(), dtype=dtype, device=device),
            ratings.n_users,
            ratings.n_items,
        )

    def __len__(self) -> int:
        return len(self.values)


def init_params(n_users: int, n_items: int, k: int, mu: float, biases: bool, init_std: float,
                seed: int, dtype=torch.float32, device="cpu",
                user_counts: np.ndarray | None = None, item_counts: np.ndarray | None = None) -> FactorParams:
    """Random factors ``N(0, init_std^2)`` from a seeded generator (no global random state),
    zero biases. Rows of users/items without training ratings start (and stay) at zero.

    Parameters
    ----------
    n_users, n_items : int
        The matrix shape.
    k : int
        The number of factors.
    mu : float
        The global mean :math:`\\mu` (kept fixed).
    biases : bool
        Include zero biases (else they are None).
    init_std : float
        Standard deviation of the factors.
    seed : int
        Seeds the generator.
    dtype : torch.dtype
        The dtype of the tensors.
    device : str or torch.device
        Where the tensors live.
    user_counts, item_counts : numpy.ndarray, optional
        :math:`n_u`, :math:`n_i`: rows with a count of 0 start at zero.

    Returns
    -------
    FactorParams
        The initial parameters.
    """
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
    vectorised (no Python loop).

    Parameters
    ----------
    params : FactorParams
        The factors, biases (or None) and global mean.
    users, items : torch.Tensor
        Index vectors of the same length (int64).

    Returns
    -------
    torch.Tensor
        One prediction per pair.
    """
    pred = (params.U[users] * params.V[items]).sum(-1) + params.mu
    if params.user_bias is not None:
        pred = pred + params.user_bias[users]
    if params.item_bias is not None:
        pred = pred + params.item_bias[items]
    return pred


def predict_rows(params: FactorParams, X: torch.Tensor,
                 x_bias: torch.Tensor | None) -> torch.Tensor:
    r"""Predicted ratings of every item for users with factor rows ``X``
    (b x k) and biases ``x_bias`` (b,): the b x n matrix
    :math:`\mu + b_u + b_i + X V^\top`, in float64. Known users (rows of
    ``U``) and folded-in users are scored the same way.

    Parameters
    ----------
    params : FactorParams
        The fitted parameters (``V``, ``mu`` and the item biases are used).
    X : torch.Tensor
        The users' factor rows (b x k).
    x_bias : torch.Tensor or None
        Their biases (b,), or None.

    Returns
    -------
    torch.Tensor
        The predictions (b x n, float64).
    """
    V = params.V.to(X.device, torch.float64)
    out = X.double() @ V.T + params.mu
    if x_bias is not None:
        out = out + x_bias.double()[:, None]
    if params.item_bias is not None:
        out = out + params.item_bias.to(X.device, torch.float64)[None, :]
    return out


def augment(F: torch.Tensor, bias: torch.Tensor | None, ones_last: bool) -> torch.Tensor:
    """``[F, b]`` (the side being solved: factors and its bias) or
    ``[F, 1]`` (the fixed side): biases folded into the factor rows, as ALS
    and fold-in solve for them. ``F`` unchanged when ``bias`` is None.

    Parameters
    ----------
    F : torch.Tensor
        Factor rows (rows x k).
    bias : torch.Tensor or None
        Their biases (rows,).
    ones_last : bool
        Append a column of ones (the fixed side) rather than ``bias`` (the side solved for).

    Returns
    -------
    torch.Tensor
        (rows x (k + 1)), or ``F`` itself.
    """
    if bias is None:
        return F
    extra = torch.ones_like(bias) if ones_last else bias
    return torch.cat([F, extra.unsqueeze(1)], dim=1)


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

    Parameters
    ----------
    params : FactorParams
        The factors and biases (a bias of None adds nothing).
    reg : float
        :math:`\lambda`.
    weighted : bool
        Count-weighted (ALS-WR, :math:`w = n`) or plain (:math:`w = 1`).
    user_counts, item_counts : torch.Tensor
        :math:`n_u` and :math:`n_i`, the training ratings per user and item.

    Returns
    -------
    torch.Tensor
        The penalty, a scalar.
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
    runs over the observed ratings only.

    Parameters
    ----------
    params : FactorParams
        The factors, biases and global mean.
    data : RatingTensors
        The observed ratings and the counts :math:`n_u`, :math:`n_i`.
    reg : float
        :math:`\lambda`.
    weighted : bool, optional
        Count-weighted regularisation (default) or plain.

    Returns
    -------
    tuple of torch.Tensor
        ``(squared error, regulariser)``, two scalars.
    """
    err = data.values - predict(params, data.users, data.items)
    penalty = regularizer(
        params, reg, weighted, data.user_counts, data.item_counts
    )
    return (err**2).sum(), penalty


def objective(params: FactorParams, data: RatingTensors, reg: float, weighted: bool = True) -> torch.Tensor:
    r"""The objective :math:`J`: squared error over the observed ratings plus the regulariser.

    Parameters
    ----------
    params : FactorParams
        The model's parameters.
    data : RatingTensors
        The observed ratings.
    reg : float
        :math:`\lambda`.
    weighted : bool
        Weight each row's penalty by its number of ratings (:math:`w = n`) or not (:math:`w = 1`).

    Returns
    -------
    torch.Tensor
        :math:`J`, a scalar (differentiable).
    """
    sse, penalty = objective_terms(params, data, reg, weighted)
    return sse + penalty


def evaluate_rmse(params: FactorParams, data: RatingTensors) -> float:
    """Root mean squared error of the model's predictions on ``data``
    (`als_lib.metrics.rmse`, in float64).

    Parameters
    ----------
    params : FactorParams
        The model's parameters.
    data : RatingTensors
        The ratings to score.

    Returns
    -------
    float
    """
    return rmse(data.values, predict(params, data.users, data.items))
