"""Ranking metrics (Chapter 7): hand-computed cases, the same numbers as implicit's
ranking_metrics_at_k where the definitions coincide, and batched evaluation."""

import numpy as np
import pytest
import scipy.sparse as sp

from als_lib import (
    ImplicitALS,
    evaluate_ranking,
    per_user_holdout,
    ranking_metrics,
    synthetic_ratings,
    top_k,
)


def test_hand_computed_case():
    # user 0: relevant {1, 5}; list [1, 2, 5, 3]: hits at positions 0 and 2
    # user 1: relevant {7}; list [0, 2, 3, 4]: no hit
    # user 2: no relevant item: skipped
    rec = np.array([[1, 2, 5, 3], [0, 2, 3, 4], [1, 2, 3, 4]])
    rel = sp.csr_matrix((np.ones(3), ([0, 0, 1], [1, 5, 7])), shape=(3, 10))
    out = ranking_metrics(rec, rel, ks=(1, 3), n_items=10)
    assert out["users"] == 2 and out["skipped_users"] == 1
    assert out["precision@1"] == pytest.approx((1 + 0) / 2)
    assert out["precision@3"] == pytest.approx((2 / 3 + 0) / 2)
    assert out["recall@3"] == pytest.approx((2 / 2 + 0) / 2)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3)
    assert out["ndcg@3"] == pytest.approx((dcg / idcg + 0) / 2)
    assert out["map@3"] == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    assert out["hit_rate@3"] == pytest.approx(0.5)
    assert out["coverage@3"] == pytest.approx(len({1, 2, 5, 0, 3}) / 10)
    assert out["coverage@1"] == pytest.approx(2 / 10)


def test_padding_and_bad_arguments():
    rec = np.array([[3, -1, -1]])
    rel = sp.csr_matrix((np.ones(1), ([0], [3])), shape=(1, 5))
    out = ranking_metrics(rec, rel, ks=(3,))
    assert out["precision@3"] == pytest.approx(1 / 3) and out["coverage@3"] == 0.2
    with pytest.raises(ValueError, match="between 1 and the list length"):
        ranking_metrics(rec, rel, ks=(4,))
    with pytest.raises(ValueError, match="rows"):
        ranking_metrics(np.zeros((2, 3), int), rel, ks=(3,))
    with pytest.raises(ValueError, match="no user has a relevant"):
        ranking_metrics(rec, sp.csr_matrix((1, 5)), ks=(3,))


@pytest.fixture(scope="module")
def fitted():
    data = synthetic_ratings(120, 300, 4000, rank=4, kind="implicit", seed=5)
    train, test = per_user_holdout(data, fraction=0.2, seed=1)
    # dyadic factors: every score is exact in float32 and float64 alike, so implicit's
    # float32 ranking and ours agree; they are drawn until no user has tied scores
    rng = np.random.default_rng(0)
    for _ in range(100):
        X = rng.integers(-1024, 1024, (train.n_users, 6)) / 1024
        Y = rng.integers(-1024, 1024, (train.n_items, 6)) / 1024
        S = X @ Y.T
        if all(len(np.unique(row)) == len(row) for row in S):
            break
    else:
        raise AssertionError("no tie-free draw in 100 tries")
    model = ImplicitALS.from_factors(X, Y, train, factors=6)
    return model, train, test, X, Y


def test_equal_to_implicit_ranking_metrics_at_k(fitted):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k

    from threadpoolctl import threadpool_limits

    model, train, test, X, Y = fitted
    with threadpool_limits(1, "blas"):
        theirs = AlternatingLeastSquares(6)
    theirs.user_factors, theirs.item_factors = X.astype(np.float32), Y.astype(np.float32)
    for k in (5, 10, 20):
        ref = ranking_metrics_at_k(theirs, train.to_csr(), test.to_csr(), K=k,
                                   show_progress=False, num_threads=1)
        ours = evaluate_ranking(model, test, (k,), per_user=True)
        assert ours[f"ndcg@{k}"] == pytest.approx(ref["ndcg"], abs=1e-9)
        assert ours[f"map@{k}"] == pytest.approx(ref["map"], abs=1e-9)
        # implicit's precision is micro-averaged over min(k, |T_u|); ours divides by k
        micro = ours[f"hits@{k}"].sum() / np.minimum(k, ours["n_relevant"]).sum()
        assert micro == pytest.approx(ref["precision"], abs=1e-9)
        assert ours[f"precision@{k}"] == pytest.approx(np.mean(ours[f"hits@{k}"] / k))


def test_batched_lists_equal_recommend_one_user_at_a_time(fitted):
    model, train, test, _, _ = fitted
    users = np.arange(train.n_users)
    lists = top_k(model, users, 10, batch_size=17)
    for u in (0, 5, 63, 119):
        assert np.array_equal(lists[u], model.recommend(u, n=10)[0])
    assert not np.array_equal(lists, top_k(model, users, 10, exclude_seen=False))


def test_ties_are_broken_by_the_lower_item_index():
    data = synthetic_ratings(10, 12, 40, rank=2, kind="implicit", seed=2)
    X, Y = np.ones((10, 2)), np.ones((12, 2))          # every score ties
    model = ImplicitALS.from_factors(X, Y, data, factors=2)
    lists = top_k(model, np.arange(10), 5)
    for u in range(10):
        unseen = np.setdiff1d(np.arange(12), data.items[data.users == u])
        assert lists[u].tolist() == (unseen[:5].tolist() + [-1] * 5)[:5]


def test_evaluate_ranking_counts_users_without_test_items(fitted):
    model, train, test, _, _ = fitted
    keep = test.users >= 10
    fewer = test.subset(np.flatnonzero(keep))
    out = evaluate_ranking(model, fewer, (10,))
    assert out["users"] == len(np.unique(fewer.users))
    assert out["skipped_users"] == train.n_users - out["users"]
    with pytest.raises(ValueError, match="shape"):
        evaluate_ranking(model, synthetic_ratings(5, 5, 10, kind="implicit"), (10,))


def test_per_user_holdout_fraction():
    data = synthetic_ratings(50, 80, 1500, rank=3, kind="implicit", seed=4)
    train, test = per_user_holdout(data, fraction=0.2, seed=0)
    n = data.user_counts()
    held = np.bincount(test.users, minlength=50)
    assert np.array_equal(held, np.minimum(np.maximum(np.rint(0.2 * n), 1), n - 1))
    assert train.nnz + test.nnz == data.nnz
    with pytest.raises(ValueError, match="fraction"):
        per_user_holdout(data, fraction=1.5)



@pytest.mark.parametrize("seed", range(5))
def test_topk_selection_equals_a_full_stable_sort_with_many_ties(seed):
    import torch

    from als_lib.evaluation import _top_k_rows

    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 6, (40, 30), generator=g).double()   # ties everywhere
    scores[0] = 1.0                                                 # one row all tied
    scores[1, 5:] = -torch.inf                                      # fewer than k candidates
    vals, idx = _top_k_rows(scores, 8)
    ref = torch.sort(scores, dim=1, descending=True, stable=True)
    assert torch.equal(idx, ref.indices[:, :8]) and torch.equal(vals, ref.values[:, :8])
