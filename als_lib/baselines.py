"""Baselines that every factorisation model must beat (Chapter 1).

Each is a `~als_lib.model.Recommender` with no factors (k = 0): ``fit(ratings)`` returns
the model, ``predict(users, items)`` one prediction per (user, item) pair, `rmse` the RMSE
on held-out ratings, and `recommend`, `save` and `load` work as for every model. A user or
item with no training ratings gets no bias (it falls back to the global mean), so
predictions exist for every index of the fitted shape.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import Ratings, as_ratings
from .evaluation import RankingScore
from .model import Recommender, check_number, check_positive_int
from .objective import FactorParams

__all__ = ["GlobalMean", "UserMean", "ItemMean", "BiasBaseline", "Popularity"]


class _Baseline(Recommender):
    r"""A baseline is a model with k = 0 factors: ``fit`` computes
    :math:`\mu` and the biases in closed form (float64), and everything
    else (predict, recommend, save, ...) comes from `Recommender`."""

    def __init__(self):
        pass

    def fit(self, ratings) -> "_Baseline":
        r"""Fit on ``ratings``: :math:`\mu` and the biases, in closed form.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The training ratings.

        Returns
        -------
        Recommender
            The model itself.

        Raises
        ------
        ValueError
            If a constructor parameter is invalid.
        """
        self._validate_params()
        r = as_ratings(ratings)
        mu = float(r.values.mean())
        b_user, b_item = self._biases(r, mu)
        self._set_fitted(r, FactorParams(
            torch.zeros(r.n_users, 0, dtype=torch.float64),
            torch.zeros(r.n_items, 0, dtype=torch.float64), mu,
            torch.from_numpy(b_user), torch.from_numpy(b_item)))
        self.history_ = {}
        return self

    def _biases(self, ratings: Ratings, mu: float):
        return np.zeros(ratings.n_users), np.zeros(ratings.n_items)


def _mean_offsets(
    index: np.ndarray, residual: np.ndarray, n: int, damping: float
) -> np.ndarray:
    """``sum(residual over group) / (damping + count)`` for each of the ``n``
    groups (0 for an empty group when ``damping`` is 0)."""
    sums = np.bincount(index, weights=residual, minlength=n)
    counts = np.bincount(index, minlength=n)
    if damping > 0:
        return sums / (damping + counts)
    return np.divide(sums, counts, out=np.zeros(n), where=counts > 0)


class GlobalMean(_Baseline):
    r"""Predict the global mean :math:`\hat r_{ui} = \mu` for every pair."""


class UserMean(_Baseline):
    r"""Predict each user's mean rating :math:`\hat r_{ui} = \mu + b_u`, ``b_u`` the mean of
    ``r_ui - mu`` over the user's ratings (``mu`` for users with none)."""

    def _biases(self, ratings, mu):
        b_u = _mean_offsets(ratings.users, ratings.values - mu,
                            ratings.n_users, 0.0)
        return b_u, np.zeros(ratings.n_items)


class ItemMean(_Baseline):
    r"""Predict each item's mean rating :math:`\hat r_{ui} = \mu + b_i`."""

    def _biases(self, ratings, mu):
        b_i = _mean_offsets(ratings.items, ratings.values - mu,
                            ratings.n_items, 0.0)
        return np.zeros(ratings.n_users), b_i


class BiasBaseline(_Baseline):
    r"""Damped user and item biases :math:`\hat r_{ui} = \mu + b_u + b_i`.

    After Koren (2008), section 2.1, "Factorization Meets the Neighborhood":

    .. math::
        b_i = \frac{\sum_{u \in U_i} (r_{ui} - \mu)}{\lambda_i + n_i}, \qquad
        b_u = \frac{\sum_{i \in I_u} (r_{ui} - \mu - b_i)}{\lambda_u + n_u}

    The damping terms shrink the biases of items and users with few ratings
    toward 0. With ``iterations > 1`` the two updates alternate (each is the
    exact minimiser of a ridge problem with the other fixed: a first taste of
    alternating least squares).

    Parameters
    ----------
    user_damping : float, optional
        :math:`\lambda_u` (default 10).
    item_damping : float, optional
        :math:`\lambda_i` (default 25).
    iterations : int, optional
        Rounds of the two updates (default 1).
    """

    def __init__(
        self,
        user_damping: float = 10.0,
        item_damping: float = 25.0,
        iterations: int = 1,
    ):
        self.user_damping = user_damping
        self.item_damping = item_damping
        self.iterations = iterations

    def _validate_params(self):
        check_number(self.user_damping, "user_damping")
        check_number(self.item_damping, "item_damping")
        check_positive_int(self.iterations, "iterations")

    def _biases(self, ratings, mu):
        r = ratings.values - mu
        users, items = ratings.users, ratings.items
        b_u = np.zeros(ratings.n_users)
        for _ in range(self.iterations):
            b_i = _mean_offsets(
                items, r - b_u[users], ratings.n_items, self.item_damping
            )
            b_u = _mean_offsets(
                users, r - b_i[items], ratings.n_users, self.user_damping
            )
        return b_u, b_i


class Popularity(RankingScore, _Baseline):
    r"""Recommend what most users interacted with: the score of item
    :math:`i` is its number of training interactions :math:`n_i`, the same
    for every user (:math:`\mu = 0`, :math:`b_i = n_i`). The baseline every
    top-N recommender must beat (Chapter 7).

    `predict` gives :math:`n_i`, a score, not a rating: `rmse` is refused
    and `score` is nDCG@10 on held-out interactions.
    """

    _not_ratings = ("scores items by their number of interactions, not "
                    "ratings")

    def fit(self, ratings) -> "Popularity":
        """Count each item's training interactions.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The training interactions (any stored value counts as one).

        Returns
        -------
        Popularity
            The model itself.
        """
        r = as_ratings(ratings)
        counts = r.item_counts().astype(np.float64)
        self._set_fitted(r, FactorParams(
            torch.zeros(r.n_users, 0, dtype=torch.float64),
            torch.zeros(r.n_items, 0, dtype=torch.float64), 0.0,
            torch.zeros(r.n_users, dtype=torch.float64),
            torch.from_numpy(counts)))
        self.history_ = {}
        return self
