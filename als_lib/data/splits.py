"""Splits of a `Ratings` into train and test: seeded, and leak-free.

Every rating lands in exactly one side, and both sides keep the index space and id maps of
the data they came from, so index ``u`` means the same user in train and test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

from .ratings import Ratings

__all__ = ["kfold", "per_user_holdout", "train_test_split"]


def train_test_split(
    ratings: Ratings, test_fraction: float = 0.2, *, seed: int = 0
) -> tuple[Ratings, Ratings]:
    """Random holdout: a seeded ``test_fraction`` of the ratings goes to test.

    Parameters
    ----------
    ratings : Ratings
        The data to split.
    test_fraction : float
        Fraction of the ratings held out, strictly between 0 and 1.
    seed : int
        Seed of the random permutation.

    Returns
    -------
    train, test : Ratings
        Both keep the full index space, so a user index means the same user
        in each. A user or item may have all its ratings in test (a cold
        start); models must handle that.

    Raises
    ------
    ValueError
        ``test_fraction`` is not in (0, 1) or leaves one side empty.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            "test_fraction must be strictly between 0 and 1; "
            f"got {test_fraction}."
        )
    n_test = int(round(test_fraction * ratings.nnz))
    if not 0 < n_test < ratings.nnz:
        raise ValueError(
            f"test_fraction={test_fraction} of {ratings.nnz} ratings "
            "leaves one side empty."
        )
    perm = np.random.default_rng(seed).permutation(ratings.nnz)
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return ratings.subset(train_idx), ratings.subset(test_idx)


def kfold(ratings: Ratings, k: int = 5, *, seed: int = 0) -> Iterator[tuple[Ratings, Ratings]]:
    """``k`` (train, test) pairs in which each rating is in exactly one test fold.

    Parameters
    ----------
    ratings : Ratings
        The data to split.
    k : int
        Number of folds, between 2 and ``ratings.nnz``.
    seed : int
        Seed of the random permutation.

    Yields
    ------
    train, test : Ratings
        Fold ``f``'s test part and the other ``k - 1`` folds as train.

    Raises
    ------
    ValueError
        ``k`` is out of range.
    """
    if not 2 <= k <= ratings.nnz:
        raise ValueError(f"k must be between 2 and the number of ratings; got {k}.")
    perm = np.random.default_rng(seed).permutation(ratings.nnz)
    folds = np.array_split(perm, k)
    for f in range(k):
        test = np.sort(folds[f])
        train = np.sort(np.concatenate([folds[g] for g in range(k) if g != f]))
        yield ratings.subset(train), ratings.subset(test)


def per_user_holdout(
    ratings: Ratings,
    n_test: int = 5,
    *,
    fraction: float | None = None,
    by: Literal["random", "time"] = "random",
    min_train: int = 1,
    seed: int = 0,
) -> tuple[Ratings, Ratings]:
    """Hold out ``n_test`` ratings (or a ``fraction``) of every user (for ranking metrics).

    Parameters
    ----------
    ratings : Ratings
        The data to split.
    n_test : int
        Ratings held out per user (at least 1).
    fraction : float, optional
        If given (0 < fraction < 1), hold out ``round(fraction * n_u)`` of each user's ``n_u``
        ratings instead of ``n_test``, at least 1 and leaving at least ``min_train``; users
        with fewer than ``1 + min_train`` ratings keep them all in train.
    by : {"random", "time"}
        ``"random"`` picks them at random; ``"time"`` picks each user's latest ratings (ties
        broken at random).
    min_train : int
        Users with fewer than ``n_test + min_train`` ratings keep them all in train, so every
        test user has at least ``min_train`` training ratings.
    seed : int
        Seed of the random choices.

    Returns
    -------
    train, test : Ratings

    Raises
    ------
    ValueError
        Bad arguments, ``by="time"`` without timestamps, or no user with enough ratings.
    """
    if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise ValueError(f"fraction must be a number between 0 and 1; got {fraction!r}.")
    if n_test < 1 or min_train < 0:
        raise ValueError(f"need n_test >= 1 and min_train >= 0; got {n_test} and {min_train}.")
    if by not in ("random", "time"):
        raise ValueError(f"by must be 'random' or 'time'; got {by!r}.")
    rng = np.random.default_rng(seed)
    tie = rng.random(ratings.nnz)
    if by == "time":
        if ratings.timestamps is None:
            raise ValueError("by='time' needs timestamps, and these ratings have none.")
        order = np.lexsort((tie, -ratings.timestamps, ratings.users))
    else:
        order = np.lexsort((tie, ratings.users))
    counts = ratings.user_counts()
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(ratings.nnz, dtype=np.int64)
    rank[order] = np.arange(ratings.nnz) - start[ratings.users[order]]
    if fraction is None:
        per_user = np.full(len(counts), n_test)
    else:
        per_user = np.minimum(np.maximum(np.rint(fraction * counts), 1), counts - min_train)
        n_test = 1
    quota = per_user[ratings.users]
    eligible = counts[ratings.users] >= quota + min_train
    is_test = (rank < quota) & eligible
    if not is_test.any():
        raise ValueError(
            f"no user has {n_test + min_train} ratings, so nothing can be held out; lower n_test."
        )
    return ratings.subset(np.flatnonzero(~is_test)), ratings.subset(np.flatnonzero(is_test))
