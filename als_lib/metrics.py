"""Accuracy metrics for predicted ratings: RMSE and MAE (Chapter 1)."""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae"]


def _float64(x) -> np.ndarray:
    """An array (or a torch tensor, on any device) as a float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    a, p = _float64(actual), _float64(predicted)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted must have the same shape; got {a.shape} and {p.shape}.")
    if a.size == 0:
        raise ValueError("no ratings to score: actual and predicted are empty.")
    if not (np.isfinite(a).all() and np.isfinite(p).all()):
        raise ValueError("actual and predicted must be finite; found NaN or inf.")
    return a, p


def rmse(actual, predicted) -> float:
    r"""Root mean squared error
    :math:`\sqrt{\frac{1}{|T|}\sum_{(u,i)\in T}(r_{ui}-\hat r_{ui})^2}`.

    Parameters
    ----------
    actual, predicted : array_like or torch.Tensor
        Equal-shape ratings and predictions (computed in float64).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For unequal shapes, empty input, or NaN/inf.
    """
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mae(actual, predicted) -> float:
    r"""Mean absolute error
    :math:`\frac{1}{|T|}\sum_{(u,i)\in T}|r_{ui}-\hat r_{ui}|`; arguments
    and errors as for `rmse`."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))
