"""Small data that needs no network: the book's toy matrix and a low-rank synthetic generator."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .ratings import Ratings

__all__ = ["TOY_MATRIX", "synthetic_ratings", "toy_ratings"]

#: numpy.ndarray: The 5 x 4 toy matrix of the post this book starts from (5 users, 4 items,
#: 0 = not rated).
TOY_MATRIX = np.array(
    [
        [5, 3, 0, 1],
        [4, 0, 0, 1],
        [1, 1, 0, 5],
        [1, 0, 0, 4],
        [0, 1, 5, 4],
    ],
    dtype=np.float64,
)


def toy_ratings() -> Ratings:
    """The toy matrix as `Ratings`: its zeros are *missing* ratings, not ratings of zero.

    Returns
    -------
    Ratings
        5 users x 4 items, 13 ratings, named ``"toy"``.
    """
    return Ratings.from_dense(TOY_MATRIX, missing=0, name="toy")


def synthetic_ratings(
    n_users: int = 1000,
    n_items: int = 500,
    nnz: int = 20_000,
    rank: int = 8,
    *,
    kind: Literal["explicit", "implicit"] = "explicit",
    noise: float = 0.5,
    popularity_exponent: float = 1.0,
    seed: int = 0,
) -> Ratings:
    """Ratings drawn from a low-rank model, with long-tailed item popularity.

    Parameters
    ----------
    n_users, n_items : int
        The matrix shape (each at least 1).
    nnz : int
        Number of ratings, between ``max(n_users, n_items)`` and ``n_users * n_items``.
    rank : int
        Rank of the latent model.
    kind : {"explicit", "implicit"}
        Star ratings or counts (see Notes).
    noise : float
        Standard deviation of the noise added to explicit ratings (before rounding).
    popularity_exponent : float
        Exponent of the Zipf law of item popularity.
    seed : int
        Seed of every random draw: the same arguments give the same ratings.

    Returns
    -------
    Ratings
        Exactly ``n_users x n_items`` with ``nnz`` ratings, named ``"synthetic-<kind>"``.

    Raises
    ------
    ValueError
        A dimension or the rank below 1, ``nnz`` out of range, or an unknown ``kind``.

    Notes
    -----
    Each user ``u`` and item ``i`` get latent vectors ``p_u, q_i ~ N(0, I_rank / sqrt(rank))``.
    For ``kind="explicit"`` the value is ``clip(round(3 + 1.2 * p_u . q_i / std + noise *
    eps), 1, 5)``: integer stars 1..5. For ``kind="implicit"`` it is a count
    ``1 + Poisson(exp(p_u . q_i / std))``.

    Which pairs are observed: every user and every item first gets one rating at a uniformly
    drawn partner, so the shape is exactly ``n_users x n_items``. The remaining pairs are
    sampled without replacement with weight ``w_ui = a_u * b_i``, where the item popularity
    ``b_i`` is proportional to ``(rank of item popularity)^(-popularity_exponent)`` (a Zipf
    law) and the user activity ``a_u`` is log-normal. Two exact methods draw them:

    - at density up to 1/2 (``2 * nnz <= n_users * n_items``), successive sampling: batches of
      pairs are drawn with probability ``w_ui``, and new pairs are kept in order of first
      appearance until ``nnz`` are found;
    - above that, where successive sampling would redraw taken pairs for a long time, the
      equivalent one-pass method of Efraimidis and Spirakis (2006): every free cell gets the
      key ``log(U_ui) / w_ui`` with ``U_ui`` uniform on (0, 1) (drawn as ``-E_ui / w_ui`` with
      ``E_ui`` standard exponential), and the cells with the largest keys are taken. Both
      give the same distribution of the set of pairs; the draws, hence the output for a given
      seed, differ between the two methods.
    """
    for arg, val in (("n_users", n_users), ("n_items", n_items), ("rank", rank)):
        if int(val) < 1:
            raise ValueError(f"{arg} must be at least 1; got {val}.")
    if kind not in ("explicit", "implicit"):
        raise ValueError(f"kind must be 'explicit' or 'implicit'; got {kind!r}.")
    cells = n_users * n_items
    if not max(n_users, n_items) <= nnz <= cells:
        raise ValueError(
            f"nnz must be between max(n_users, n_items) = {max(n_users, n_items)} (every user "
            f"and item rated once) and n_users * n_items = {cells}; got {nnz}."
        )
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** popularity_exponent
    item_p = rng.permutation(item_p / item_p.sum())
    user_p = rng.lognormal(0.0, 1.0, n_users)
    user_p /= user_p.sum()
    # one guaranteed rating per user and per item, then popularity-weighted extra pairs
    key = np.concatenate([
        np.arange(n_users) * n_items + rng.integers(0, n_items, n_users),
        rng.integers(0, n_users, n_items) * n_items + np.arange(n_items),
    ])
    key = np.unique(key)
    if 2 * nnz > cells:
        key = _weighted_fill(key, nnz, user_p, item_p, rng)
    else:
        key = _successive_fill(key, nnz, user_p, item_p, rng)
    key = rng.permutation(key)
    u, i = key // n_items, key % n_items
    p = rng.normal(0, 1 / np.sqrt(rank), (n_users, rank))
    q = rng.normal(0, 1 / np.sqrt(rank), (n_items, rank))
    score = np.einsum("jk,jk->j", p[u], q[i])
    score /= score.std() + 1e-12
    if kind == "explicit":
        values = np.clip(np.round(3 + 1.2 * score + noise * rng.standard_normal(len(u))), 1, 5)
    else:
        values = 1.0 + rng.poisson(np.exp(score))
    # the pairs are distinct cells of the matrix by construction: no need to check them
    return Ratings._trusted(u, i, values, n_users, n_items, name=f"synthetic-{kind}")


def _successive_fill(key, nnz, user_p, item_p, rng) -> np.ndarray:
    """Add popularity-weighted pairs to the sorted cell numbers ``key`` until there are
    ``nnz``: draw batches, keep new pairs in order of first appearance (sparse data)."""
    n_users, n_items = len(user_p), len(item_p)
    user_cdf, item_cdf = np.cumsum(user_p), np.cumsum(item_p)
    while len(key) < nnz:
        need = nnz - len(key)
        batch = 3 * need + 64
        extra = (np.minimum(np.searchsorted(user_cdf, rng.random(batch)), n_users - 1) * n_items
                 + np.minimum(np.searchsorted(item_cdf, rng.random(batch)), n_items - 1))
        uniq, first = np.unique(extra, return_index=True)
        fresh = ~np.isin(uniq, key, assume_unique=True)
        uniq, first = uniq[fresh], first[fresh]
        key = np.union1d(key, uniq[np.argsort(first)][:need])
    return key


def _weighted_fill(key, nnz, user_p, item_p, rng) -> np.ndarray:
    """The same sampling in one pass over the free cells (Efraimidis-Spirakis keys), for
    dense data: the ``nnz - len(key)`` free cells with the smallest ``E / w`` are taken."""
    n_items = len(item_p)
    need = nnz - len(key)
    if need <= 0:
        return key
    free = np.ones(len(user_p) * n_items, dtype=bool)
    free[key] = False
    free = np.flatnonzero(free)
    weight = user_p[free // n_items] * item_p[free % n_items]
    with np.errstate(divide="ignore", invalid="ignore"):  # a weight may underflow to 0
        order_key = rng.standard_exponential(len(free)) / weight
    if need < len(free):
        free = free[np.argpartition(order_key, need - 1)[:need]]
    return np.union1d(key, free)
