"""Accuracy metrics for predicted ratings: RMSE and MAE (Chapter 1)."""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae"]


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted must have the same shape; got {a.shape} and {p.shape}.")
    if a.size == 0:
        raise ValueError("no ratings to score: actual and predicted are empty.")
    if not (np.isfinite(a).all() and np.isfinite(p).all()):
        raise ValueError("actual and predicted must be finite; found NaN or inf.")
    return a, p


def rmse(actual, predicted) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac{1}{|T|}\sum_{(u,i)\in T}(r_{ui}-\hat r_{ui})^2}`."""
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mae(actual, predicted) -> float:
    r"""Mean absolute error :math:`\frac{1}{|T|}\sum_{(u,i)\in T}|r_{ui}-\hat r_{ui}|`."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))
