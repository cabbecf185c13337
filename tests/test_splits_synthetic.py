"""Splits are seeded and leak-free; the synthetic generator keeps its promises."""

import hashlib
import time

import numpy as np
import pytest

from als_lib import kfold, per_user_holdout, synthetic_ratings, train_test_split


def pairs(r):
    return set(zip(r.users.tolist(), r.items.tolist()))


@pytest.fixture(scope="module")
def syn():
    return synthetic_ratings(300, 200, 6000, rank=4, seed=3)


def test_train_test_split_is_disjoint_complete_and_seeded(syn):
    train, test = train_test_split(syn, 0.25, seed=7)
    assert train.nnz + test.nnz == syn.nnz and test.nnz == 1500
    assert not pairs(train) & pairs(test)
    assert pairs(train) | pairs(test) == pairs(syn)
    assert train.shape == test.shape == syn.shape
    again = train_test_split(syn, 0.25, seed=7)[1]
    other = train_test_split(syn, 0.25, seed=8)[1]
    assert pairs(again) == pairs(test) and pairs(other) != pairs(test)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        train_test_split(syn, 1.0)


def test_kfold_puts_each_rating_in_one_test_fold(syn):
    folds = list(kfold(syn, k=4, seed=1))
    assert len(folds) == 4
    tests = [pairs(te) for _, te in folds]
    assert sum(len(t) for t in tests) == syn.nnz and set().union(*tests) == pairs(syn)
    for tr, te in folds:
        assert not pairs(tr) & pairs(te) and tr.nnz + te.nnz == syn.nnz


def test_per_user_holdout_random_and_time():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(4), [10, 6, 3, 8])
    items = np.concatenate([rng.permutation(20)[:n] for n in (10, 6, 3, 8)])
    from als_lib import Ratings

    r = Ratings(users, items, np.ones(len(users)), timestamps=np.arange(len(users)) * 10)
    train, test = per_user_holdout(r, n_test=3, min_train=1, by="time")
    held = test.user_counts()
    assert list(held) == [3, 3, 0, 3]  # user 2 has 3 ratings < n_test + min_train: kept in train
    assert not pairs(train) & pairs(test)
    for u in (0, 1, 3):  # the held-out ones are each user's latest
        assert test.timestamps[test.users == u].min() > train.timestamps[train.users == u].max()
    _, te2 = per_user_holdout(r, n_test=2, seed=5)
    assert list(te2.user_counts()) == [2, 2, 2, 2]
    assert pairs(per_user_holdout(r, n_test=2, seed=5)[1]) == pairs(te2)
    with pytest.raises(ValueError, match="timestamps"):
        per_user_holdout(Ratings(users, items, np.ones(len(users))), by="time")


def test_synthetic_shape_values_and_reproducibility():
    a = synthetic_ratings(200, 100, 3000, rank=5, seed=1)
    assert a.shape == (200, 100) and a.nnz == 3000
    assert (a.user_counts() > 0).all() and (a.item_counts() > 0).all()
    assert set(np.unique(a.values)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    b = synthetic_ratings(200, 100, 3000, rank=5, seed=1)
    assert np.array_equal(a.users, b.users) and np.array_equal(a.values, b.values)
    c = synthetic_ratings(200, 100, 3000, rank=5, seed=2)
    assert not np.array_equal(a.users, c.users)
    imp = synthetic_ratings(200, 100, 3000, kind="implicit", seed=1)
    assert imp.values.min() >= 1 and np.all(imp.values == np.round(imp.values))


def test_synthetic_is_long_tailed_and_low_rank():
    r = synthetic_ratings(2000, 1000, 60000, rank=4, noise=0.0, seed=0)
    counts = np.sort(r.item_counts())[::-1]
    assert counts[:100].sum() / r.nnz > 0.3  # top 10% of items hold over 30% of ratings
    assert counts[0] > 20 * np.median(counts)


def test_synthetic_argument_errors():
    with pytest.raises(ValueError, match="nnz must be between"):
        synthetic_ratings(10, 10, 200)
    with pytest.raises(ValueError, match="rank must be at least 1"):
        synthetic_ratings(10, 10, 20, rank=0)
    with pytest.raises(ValueError, match="kind"):
        synthetic_ratings(10, 10, 20, kind="binary")


@pytest.mark.parametrize("nnz", [10_000, 9_000])
def test_synthetic_dense_is_fast_and_exact(nnz):
    start = time.perf_counter()
    r = synthetic_ratings(100, 100, nnz, seed=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # was ~100 s at 100% density before the one-pass method
    assert r.shape == (100, 100) and r.nnz == nnz and len(pairs(r)) == nnz
    assert (r.user_counts() > 0).all() and (r.item_counts() > 0).all()
    assert set(np.unique(r.values)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    again = synthetic_ratings(100, 100, nnz, seed=0)
    assert np.array_equal(again.users, r.users) and np.array_equal(again.values, r.values)


def test_synthetic_methods_agree_across_the_density_switch():
    # 20000 of 40000 cells: successive sampling; 20001: the one-pass method. Same law.
    def profile(nnz):
        rows = []
        for seed in range(3):
            r = synthetic_ratings(200, 200, nnz, seed=seed)
            items, users = np.sort(r.item_counts()), np.sort(r.user_counts())
            rows.append([
                items[-20:].mean(), items[:20].mean(), users[-20:].mean(), users[:20].mean(),
            ])
        return np.mean(rows, axis=0)

    below, above = profile(20_000), profile(20_001)
    assert np.allclose(below, above, rtol=0.1)
    assert above[0] > 150 and above[1] < 80  # still long-tailed


# users and items of sparse draws, computed with the original generator: the draws that the
# tests, the benchmarks and the book depend on must not change (density <= 1/2)
PINNED_DRAWS = {
    (10, 10, 50, 8, 0): "14423df8919ff3fd",
    (20, 10, 100, 8, 0): "b2c31903722272c4",
    (200, 100, 3000, 5, 1): "da44d0ecf3f798cf",
    (300, 200, 6000, 4, 3): "2c4d7080ae560d20",
    (2000, 1000, 60000, 8, 0): "05c6891ead4ced1b",
}


@pytest.mark.parametrize("args", list(PINNED_DRAWS))
def test_synthetic_sparse_draws_are_unchanged(args):
    n_users, n_items, nnz, rank, seed = args
    r = synthetic_ratings(n_users, n_items, nnz, rank=rank, seed=seed)
    h = hashlib.sha256()
    for a in (r.users, r.items):
        h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    assert h.hexdigest()[:16] == PINNED_DRAWS[args]
