"""Ranking evaluation of any model of the library (Chapter 7).

`top_k` scores users in batches and keeps each user's best ``k`` items with
the training items left out; `evaluate_ranking` hands the lists to
`als_lib.metrics.ranking_metrics`. Scoring has no Python loop over users.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import as_ratings, index_array
from .metrics import ranking_metrics
from .model import Recommender, check_positive_int
from .objective import predict_rows

__all__ = ["top_k", "evaluate_ranking", "RankingScore"]


def top_k(model: Recommender, users, k: int = 10, *,
          exclude_seen: bool = True, batch_size: int = 1024) -> np.ndarray:
    """The ``k`` best items of many users at once.

    Parameters
    ----------
    model : Recommender
        A fitted model of the library.
    users : array_like of int
        The users.
    k : int
        List length.
    exclude_seen : bool
        Leave out each user's training items.
    batch_size : int
        Users scored per batch (one ``batch x n_items`` float64 matrix).

    Returns
    -------
    numpy.ndarray
        ``(len(users), k)`` item indices, best first; ties broken by the
        lower item index (a stable sort), as `Recommender.recommend` does.
        A row with fewer than ``k`` candidates is padded with -1. The
        selection uses ``torch.topk``, with a full sort only for rows whose
        ties straddle the cut-off.
    """
    model._check_fitted()
    k = check_positive_int(k, "k")
    batch_size = check_positive_int(batch_size, "batch_size")
    u = index_array(users, model.n_users_, "users", "user")
    p = model.params_
    dev = p.U.device
    seen = model._seen
    k_eff = min(k, model.n_items_)
    out = np.full((len(u), k), -1, dtype=np.int64)
    for lo in range(0, len(u), batch_size):
        ub = u[lo:lo + batch_size]
        idx = torch.tensor(ub, device=dev)
        bias = None if p.user_bias is None else p.user_bias[idx]
        with torch.no_grad():
            scores = predict_rows(p, p.U[idx], bias)
            if exclude_seen:
                sub = seen[ub].tocoo()
                scores[torch.tensor(sub.row, device=dev),
                       torch.tensor(sub.col, device=dev)] = -torch.inf
            best, items = _top_k_rows(scores, k_eff)
        ids = items.cpu().numpy()
        ids[~np.isfinite(best.cpu().numpy())] = -1
        out[lo:lo + len(ub), :k_eff] = ids
    return out


def _top_k_rows(scores: torch.Tensor, k: int):
    """The ``k`` largest entries of each row, best first, ties broken by the
    lower column index, also at the cut-off. ``torch.topk`` selects; rows
    where items tied with the k-th value were left out (its choice among
    ties is unspecified) fall back to a stable sort of the whole row."""
    vals, idx = torch.topk(scores, k, dim=1)
    o = torch.argsort(idx, dim=1)                  # by index, then ...
    idx, vals = idx.gather(1, o), vals.gather(1, o)
    o = torch.sort(vals, dim=1, descending=True, stable=True).indices
    idx, vals = idx.gather(1, o), vals.gather(1, o)  # ... by value
    last = vals[:, -1:]
    straddle = (scores == last).sum(1) != (vals == last).sum(1)
    if bool(straddle.any()):
        rows = torch.nonzero(straddle).squeeze(1)
        full = torch.sort(scores[rows], dim=1, descending=True, stable=True)
        vals[rows], idx[rows] = full.values[:, :k], full.indices[:, :k]
    return vals, idx


def evaluate_ranking(model: Recommender, test, ks=(10,), *,
                     exclude_seen: bool = True,
                     batch_size: int = 1024, per_user: bool = False) -> dict:
    """Every ranking metric of ``model`` on a held-out set, for every k.

    Parameters
    ----------
    model : Recommender
        A fitted model (its training items are left out of the lists).
    test : Ratings, scipy.sparse matrix or (users, items, values)
        The held-out interactions, in the model's index space (e.g. from
        `~als_lib.data.per_user_holdout`).
    ks : sequence of int
        The cut-offs; one list of length ``max(ks)`` serves them all.
    exclude_seen : bool
        Leave each user's training items out of their list (as `top_k`).
    batch_size : int
        Users scored at once (as `top_k`).
    per_user : bool
        Passed to `~als_lib.metrics.ranking_metrics`.

    Returns
    -------
    dict
        As `~als_lib.metrics.ranking_metrics`: ``"precision@k"``,
        ``"recall@k"``, ``"ndcg@k"``, ``"map@k"``, ``"hit_rate@k"``,
        ``"coverage@k"`` for each k, and the counts ``"users"`` and
        ``"skipped_users"`` (users without held-out items).

    Raises
    ------
    ValueError
        If ``test`` has another shape than the fitted model.
    """
    model._check_fitted()
    t = as_ratings(test, "test")
    if t.shape != (model.n_users_, model.n_items_):
        raise ValueError(
            f"test has shape {t.shape} but the model was fitted on "
            f"{(model.n_users_, model.n_items_)}; use a split of the same "
            "data.")
    ks = [check_positive_int(k, "k") for k in np.atleast_1d(ks)]
    users = np.unique(t.users)
    lists = np.full((t.n_users, max(ks)), -1, dtype=np.int64)
    lists[users] = top_k(model, users, max(ks), exclude_seen=exclude_seen,
                         batch_size=batch_size)
    return ranking_metrics(lists, t, ks, per_user=per_user)


class RankingScore:
    """For models whose predictions are scores, not ratings (`ImplicitALS`,
    `Popularity`): `rmse` is refused (the message says why, from
    ``_not_ratings``) and `score` is nDCG@k on held-out interactions."""

    _not_ratings = "predicts scores, not ratings"

    def rmse(self, ratings) -> float:
        """Refused: the model's predictions are scores, not ratings.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            Not used.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        TypeError
            Always, once fitted: an RMSE of scores means nothing (use `score`).
        """
        self._check_fitted()
        raise TypeError(
            f"{type(self).__name__} {self._not_ratings}, so an RMSE means "
            "nothing; use score(test) (nDCG@10) or "
            "als_lib.evaluate_ranking(model, test, ks).")

    def score(self, ratings, k: int = 10) -> float:
        """nDCG@k of the recommendations (training items left out) on
        held-out interactions: higher is better.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The held-out interactions, in the model's index space.
        k : int
            The cut-off.

        Returns
        -------
        float
            nDCG@k, averaged over the users with held-out interactions.

        Raises
        ------
        ValueError
            If ``ratings`` has another shape than the fitted model.
        """
        return evaluate_ranking(self, ratings, (k,))[f"ndcg@{k}"]
