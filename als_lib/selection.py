"""Choosing hyperparameters without touching the test set (Chapter 8).

`search` fits a fresh copy of a model for each candidate on a training set and scores it on a
validation set carved out of that training set (never the test set: Chapter 8 measures what
choosing on the test set costs). Candidates come from `grid` (every combination) or
`random_candidates` (seeded draws); the result records the compute each candidate took.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from .model import Estimator, check_positive_int

__all__ = ["grid", "random_candidates", "search", "SearchResult"]


def grid(**axes) -> list[dict]:
    """Every combination of the given values, e.g. ``grid(factors=[32, 64], reg=[0.1, 0.2])``
    (4 candidates), in the order of the arguments (the last varies fastest).

    Parameters
    ----------
    **axes : sequence
        ``name=[values]`` for each hyperparameter to vary.

    Returns
    -------
    list of dict
        One ``{name: value}`` per combination.

    Raises
    ------
    TypeError
        If an axis is a single value (or a string) instead of a list of values.
    """
    names = list(axes)
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{name} must be a list of values; got {values!r}.")
    return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def random_candidates(n: int, *, seed: int = 0, **axes) -> list[dict]:
    """``n`` seeded random candidates: an axis given as a list is drawn uniformly from the list,
    one given as a ``(low, high)`` tuple log-uniformly from that range (a float).

    Example: ``random_candidates(10, factors=[16, 32, 64], reg=(0.03, 0.3))``.

    Parameters
    ----------
    n : int
        How many candidates.
    seed : int
        Seeds the draws.
    **axes : list or tuple of float
        ``name=[values]`` (drawn uniformly) or ``name=(low, high)`` (drawn log-uniformly).

    Returns
    -------
    list of dict
        ``n`` dicts ``{name: value}``.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, or a range is not ``(low, high)`` with
        ``0 < low < high``.
    """
    check_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cand = {}
        for name, axis in axes.items():
            if isinstance(axis, tuple):
                if len(axis) != 2 or not 0 < axis[0] < axis[1]:
                    raise ValueError(f"{name}: a range must be (low, high) with "
                                     f"0 < low < high; got {axis!r}.")
                lo, hi = math.log(axis[0]), math.log(axis[1])
                cand[name] = float(math.exp(rng.uniform(lo, hi)))
            else:
                values = list(axis)
                cand[name] = values[int(rng.integers(len(values)))]
        out.append(cand)
    return out


@dataclass
class SearchResult:
    """What `search` tried.

    Attributes
    ----------
    results : list of dict
        One dict per candidate: its parameters, ``score`` on the validation set and
        ``seconds`` to fit.
    best_params : dict
        The parameters of the best candidate.
    best_score : float
        Its validation score.
    seconds : float
        The total fit time.
    """

    results: list[dict]
    best_params: dict
    best_score: float
    seconds: float


def search(estimator: Estimator, candidates: list[dict], train, valid,
           **fit_kw) -> SearchResult:
    """Fit a copy of ``estimator`` with each candidate's parameters on ``train`` and score it
    on ``valid`` (``model.score``: minus the RMSE for rating models, higher is better).

    Parameters
    ----------
    estimator : Estimator
        The model; it is not changed (each candidate fits a copy with
        ``set_params(**candidate)``).
    candidates : list of dict
        From `grid` or `random_candidates`.
    train, valid : Ratings
        A training set and a validation set split off it (same shape).
    **fit_kw : object
        Passed to each ``fit`` (e.g. ``progress=False``).

    Returns
    -------
    SearchResult
        The first of equally good candidates wins.

    Raises
    ------
    ValueError
        If ``candidates`` is empty, or a candidate names a parameter the model does not have.
    """
    if not candidates:
        raise ValueError("candidates is empty; give at least one (see grid).")
    base = estimator.get_params()
    results, total = [], 0.0
    for cand in candidates:
        # set_params names a parameter the model does not have
        model = type(estimator)(**base).set_params(**cand)
        start = time.perf_counter()
        model.fit(train, **fit_kw)
        seconds = time.perf_counter() - start
        total += seconds
        results.append({**cand, "score": float(model.score(valid)), "seconds": seconds})
    best = max(range(len(results)), key=lambda j: (results[j]["score"], -j))
    return SearchResult(results, dict(candidates[best]), results[best]["score"], total)
