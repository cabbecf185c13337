"""Baselines that every factorisation model must beat (Chapter 1).

All share the estimator shape of the library: ``fit(ratings)`` returns the model,
``predict(users, items)`` returns one prediction per (user, item) pair, and `score` gives
the RMSE on a `Ratings`. A user or item with no training ratings gets no bias (it falls back
to the global mean), so predictions exist for every index of the fitted shape.
"""

from __future__ import annotations

import numpy as np

from .data import Ratings, index_array
from .metrics import rmse

__all__ = ["GlobalMean", "UserMean", "ItemMean", "BiasBaseline"]


class _Baseline:
    mu: float
    b_user: np.ndarray
    b_item: np.ndarray

    def fit(self, ratings: Ratings) -> "_Baseline":
        if not isinstance(ratings, Ratings):
            raise TypeError(f"ratings must be a Ratings; got {type(ratings).__name__}.")
        self.n_users, self.n_items = ratings.shape
        self.mu = float(ratings.values.mean())
        self.b_user, self.b_item = self._biases(ratings)
        return self

    def _biases(self, ratings: Ratings) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(ratings.n_users), np.zeros(ratings.n_items)

    def predict(self, users, items) -> np.ndarray:
        r"""``mu + b_user[u] + b_item[i]`` for each pair."""
        if not hasattr(self, "mu"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(ratings) first.")
        u = index_array(users, self.n_users, "users", "user")
        i = index_array(items, self.n_items, "items", "item")
        if u.shape != i.shape:
            raise ValueError(f"users and items must have the same shape; got {u.shape} and {i.shape}.")
        return self.mu + self.b_user[u] + self.b_item[i]

    def score(self, ratings: Ratings) -> float:
        """RMSE of the predictions on ``ratings``."""
        return rmse(ratings.values, self.predict(ratings.users, ratings.items))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


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

    def _biases(self, ratings):
        return _mean_offsets(ratings.users, ratings.values - self.mu, ratings.n_users, 0.0), np.zeros(ratings.n_items)


class ItemMean(_Baseline):
    r"""Predict each item's mean rating :math:`\hat r_{ui} = \mu + b_i`."""

    def _biases(self, ratings):
        return np.zeros(ratings.n_users), _mean_offsets(ratings.items, ratings.values - self.mu, ratings.n_items, 0.0)


class BiasBaseline(_Baseline):
    r"""Damped user and item biases :math:`\hat r_{ui} = \mu + b_u + b_i`.

    After Koren, Bell & Volinsky:

    .. math::
        b_i = \frac{\sum_{u \in U_i} (r_{ui} - \mu)}{\lambda_i + n_i}, \qquad
        b_u = \frac{\sum_{i \in I_u} (r_{ui} - \mu - b_i)}{\lambda_u + n_u}

    The damping terms shrink the biases of items and users with few ratings
    toward 0. With ``iterations > 1`` the two updates alternate (each is the
    exact minimiser of a ridge problem with the other fixed: a first taste of
    alternating least squares).
    """

    def __init__(
        self,
        user_damping: float = 10.0,
        item_damping: float = 25.0,
        iterations: int = 1,
    ):
        if user_damping < 0 or item_damping < 0:
            raise ValueError(
                f"damping must be >= 0; got user_damping={user_damping}, "
                f"item_damping={item_damping}."
            )
        if iterations < 1:
            raise ValueError(
                f"iterations must be at least 1; got {iterations}."
            )
        self.user_damping = user_damping
        self.item_damping = item_damping
        self.iterations = iterations

    def _biases(self, ratings):
        r = ratings.values - self.mu
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

    def __repr__(self) -> str:
        return (
            f"BiasBaseline(user_damping={self.user_damping}, "
            f"item_damping={self.item_damping}, "
            f"iterations={self.iterations})"
        )
