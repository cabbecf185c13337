"""Accuracy metrics for predicted ratings (RMSE, MAE: Chapter 1) and ranking
metrics for top-k lists (precision, recall, nDCG, MAP, hit rate, catalogue
coverage: Chapter 7)."""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae", "ranking_metrics", "RANKING_METRICS"]


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
    :math:`\frac{1}{|T|}\sum_{(u,i)\in T}|r_{ui}-\hat r_{ui}|`.

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
    return float(np.mean(np.abs(a - p)))


# ------------------------------------------------------------------ ranking
#: tuple of str: The metrics of `ranking_metrics`, each reported as ``"name@k"``.
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate",
                   "coverage")


def _relevant_csr(relevant, n_users: int):
    """The held-out items per user as a scipy CSR matrix (users x items)."""
    import scipy.sparse as sp

    from .data import Ratings

    if isinstance(relevant, Ratings):
        m = relevant.to_csr()
    elif sp.issparse(relevant):
        m = sp.csr_matrix(relevant)
    else:
        raise TypeError("relevant must be a Ratings or a scipy.sparse matrix "
                        f"(users x items); got {type(relevant).__name__}.")
    if m.shape[0] != n_users:
        raise ValueError(
            f"relevant has {m.shape[0]} users but recommended has "
            f"{n_users} rows; give one row of recommendations per user of "
            "the test set's index space.")
    m = m.copy()
    m.eliminate_zeros()
    m.sort_indices()
    return m


def ranking_metrics(recommended, relevant, ks=(10,), *,
                    n_items: int | None = None,
                    per_user: bool = False) -> dict:
    r"""Ranking metrics of top-k lists against held-out items.

    For user :math:`u` with held-out (relevant) items :math:`T_u` and list
    :math:`L_u` (best first), :math:`h_u(k) = |L_u[{:}k] \cap T_u|`:

    - **precision@k** :math:`= \frac{1}{|\mathcal U|}\sum_u h_u(k)/k`:
      denominator k, the share of the k slots that hold a relevant item,
      averaged over users (macro). `implicit`'s ``ranking_metrics_at_k``
      instead divides the total of the hits by
      :math:`\sum_u \min(k, |T_u|)` (micro), which rewards users with few
      held-out items less harshly; we keep k so that precision@k means the
      same for every user and falls as k grows past :math:`|T_u|`. Its
      value is ``hits.sum() / np.minimum(k, n_relevant).sum()`` from
      ``per_user=True``.
    - **recall@k** :math:`= \frac{1}{|\mathcal U|}\sum_u h_u(k)/|T_u|`.
    - **nDCG@k**: per user :math:`\mathrm{DCG}/\mathrm{IDCG}` with
      :math:`\mathrm{DCG} = \sum_{j<k,\ L_{u,j}\in T_u} 1/\log_2(j+2)`
      (positions j from 0) and IDCG the same sum over the first
      :math:`\min(k, |T_u|)` positions; averaged over users (as implicit).
    - **MAP@k**: per user :math:`\frac{1}{\min(k,|T_u|)}\sum_{j<k,\
      L_{u,j}\in T_u} h_u(j+1)/(j+1)`, averaged over users (as implicit).
    - **hit_rate@k**: the share of users with at least one hit.
    - **coverage@k**: the share of the ``n_items`` catalogue that appears
      in at least one evaluated user's top k.

    Users with no relevant item are skipped (their metrics are undefined)
    and counted in ``"skipped_users"``; ``"users"`` counts the evaluated
    ones. Ties in the lists must already be broken (the library breaks them
    by the lower item index).

    Parameters
    ----------
    recommended : array_like of int
        (n_users, K). Row u: user u's recommended items, best first, padded with -1 if
        shorter. ``K >= max(ks)``.
    relevant : Ratings or scipy.sparse matrix
        The held-out items, n_users x n_items (any stored value counts as relevant).
    ks : sequence of int
        The cut-offs.
    n_items : int, optional
        Catalogue size for coverage; default ``relevant.shape[1]``.
    per_user : bool
        Also return the per-user arrays ``"users_evaluated"`` (their
        indices), ``"n_relevant"`` and, per k, ``"hits@k"``, ``"ndcg_user@k"``,
        ``"ap@k"``.

    Returns
    -------
    dict
        ``"precision@k"``, ``"recall@k"``, ``"ndcg@k"``, ``"map@k"``,
        ``"hit_rate@k"``, ``"coverage@k"`` for every k (floats), and
        ``"users"``, ``"skipped_users"`` (ints).

    Raises
    ------
    ValueError
        For a k below 1 or above the list length, mismatched shapes, or no
        user with a relevant item.
    """
    rec = np.asarray(recommended)
    if rec.ndim != 2 or not np.issubdtype(rec.dtype, np.integer):
        raise ValueError("recommended must be a 2-D integer array (one row "
                         f"per user); got shape {rec.shape}, {rec.dtype}.")
    ks = [int(k) for k in np.atleast_1d(ks)]
    if not ks or min(ks) < 1 or max(ks) > rec.shape[1]:
        raise ValueError(f"every k must be between 1 and the list length "
                         f"{rec.shape[1]}; got {ks}.")
    rel = _relevant_csr(relevant, rec.shape[0])
    n_items = rel.shape[1] if n_items is None else int(n_items)
    n_rel_all = np.diff(rel.indptr)
    users = np.flatnonzero(n_rel_all > 0)
    if len(users) == 0:
        raise ValueError("no user has a relevant (held-out) item.")
    R = rec[users, :max(ks)]
    n_rel = n_rel_all[users]
    # hit[u, j]: is the j-th recommendation of user u relevant?
    rows = np.repeat(np.arange(len(users)), R.shape[1])
    valid = R.ravel() >= 0
    hit = np.zeros(R.size, dtype=bool)
    sub = rel[users]
    hit[valid] = np.asarray(
        sub[rows[valid], R.ravel()[valid]]).ravel() != 0
    hit = hit.reshape(R.shape)
    discount = 1.0 / np.log2(np.arange(R.shape[1]) + 2.0)
    ideal = np.cumsum(discount)
    cum_hits = np.cumsum(hit, axis=1)
    out: dict = {}
    for k in ks:
        h = cum_hits[:, k - 1].astype(np.float64)
        dcg = (hit[:, :k] * discount[:k]).sum(axis=1)
        ndcg = dcg / ideal[np.minimum(k, n_rel) - 1]
        prec_at = cum_hits[:, :k] / np.arange(1, k + 1)
        ap = (prec_at * hit[:, :k]).sum(axis=1) / np.minimum(k, n_rel)
        shown = R[:, :k]
        out[f"precision@{k}"] = float(np.mean(h / k))
        out[f"recall@{k}"] = float(np.mean(h / n_rel))
        out[f"ndcg@{k}"] = float(np.mean(ndcg))
        out[f"map@{k}"] = float(np.mean(ap))
        out[f"hit_rate@{k}"] = float(np.mean(h > 0))
        out[f"coverage@{k}"] = (
            len(np.unique(shown[shown >= 0])) / n_items)
        if per_user:
            out[f"hits@{k}"], out[f"ndcg_user@{k}"] = h, ndcg
            out[f"ap@{k}"] = ap
    out["users"] = int(len(users))
    out["skipped_users"] = int(rec.shape[0] - len(users))
    if per_user:
        out["users_evaluated"], out["n_relevant"] = users, n_rel
    return out
