"""ExplicitALS: half-steps against a per-user loop, monotone descent, solvers, fold-in, I/O, errors."""

import numpy as np
import pytest
import torch

from als_lib import Ratings, synthetic_ratings, train_test_split
from als_lib.als import ExplicitALS, Side, half_step
from als_lib.linalg import NotPositiveDefiniteError
from als_lib.model import DivergenceError
from als_lib.objective import FactorParams, RatingTensors, objective


def random_state(r: Ratings, k: int, biases: bool, seed: int = 0) -> FactorParams:
    g = torch.Generator().manual_seed(seed)
    f = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    return FactorParams(f(r.n_users, k), f(r.n_items, k), float(r.values.mean()),
                        f(r.n_users) if biases else None, f(r.n_items) if biases else None)


def loop_user_step(p: FactorParams, r: Ratings, reg: float, weighted: bool):
    """The user half-step written plainly: one numpy solve per user."""
    U = p.U.numpy().copy()
    bu = None if p.user_bias is None else p.user_bias.numpy().copy()
    V = p.V.numpy()
    for u in range(r.n_users):
        mask = r.users == u
        if not mask.any():
            continue
        items, vals = r.items[mask], r.values[mask]
        target = vals - p.mu
        Y = V[items]
        if bu is not None:
            target = target - p.item_bias.numpy()[items]
            Y = np.hstack([Y, np.ones((len(items), 1))])
        w = mask.sum() if weighted else 1
        x = np.linalg.solve(Y.T @ Y + reg * w * np.eye(Y.shape[1]), Y.T @ target)
        if bu is None:
            U[u] = x
        else:
            U[u], bu[u] = x[:-1], x[-1]
    return U, bu


@pytest.mark.parametrize("solver,steps", [("cholesky", 1), ("lu", 1), ("cg", 30)])
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_vectorised_user_step_equals_loop_reference(solver, steps, biases, weighted):
    r = synthetic_ratings(60, 40, 700, rank=3, seed=2)
    p = random_state(r, 5, biases)
    U_ref, bu_ref = loop_user_step(p, r, 0.3, weighted)
    side = Side.build(r.users, r.items, r.values, r.shape, weighted, torch.float64, "cpu")
    half_step(side, p.U, p.user_bias, p.V, p.item_bias, p.mu, 0.3, solver, steps)
    assert np.allclose(p.U.numpy(), U_ref, atol=1e-5)
    if biases:
        assert np.allclose(p.user_bias.numpy(), bu_ref, atol=1e-5)


def test_item_step_is_the_user_step_of_the_transpose():
    r = synthetic_ratings(50, 30, 500, seed=3)
    rt = Ratings(r.items, r.users, r.values, r.n_items, r.n_users)
    p = random_state(r, 4, True)
    pt = FactorParams(p.V.clone(), p.U.clone(), p.mu, p.item_bias.clone(), p.user_bias.clone())
    V_ref, bi_ref = loop_user_step(pt, rt, 0.2, True)
    side = Side.build(r.items, r.users, r.values, r.shape[::-1], True, torch.float64, "cpu")
    half_step(side, p.V, p.item_bias, p.U, p.user_bias, p.mu, 0.2, "cholesky", 1)
    assert np.allclose(p.V.numpy(), V_ref, atol=1e-8) and np.allclose(p.item_bias.numpy(), bi_ref, atol=1e-8)


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_half_steps_never_increase_the_objective(solver):
    r = synthetic_ratings(300, 200, 6000, rank=4, seed=0)
    h = ExplicitALS(8, reg=0.05, iterations=8, solver=solver, dtype=torch.float64).fit(r, progress=False, track_objective=True).history_
    sequence = [h["objective"][0]]
    for half, full in zip(h["objective_half"][1:], h["objective"][1:]):
        sequence += [half, full]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(sequence, sequence[1:]))
    assert sequence[-1] < 0.5 * sequence[0]


def test_cg_and_exact_fits_agree():
    r = synthetic_ratings(400, 250, 10000, rank=5, noise=0.3, seed=1)
    train, test = train_test_split(r, 0.2, seed=0)
    exact = ExplicitALS(10, reg=0.1, iterations=10, solver="cholesky").fit(train, progress=False).rmse(test)
    cg = ExplicitALS(10, reg=0.1, iterations=10, solver="cg", cg_steps=3).fit(train, progress=False).rmse(test)
    lu = ExplicitALS(10, reg=0.1, iterations=10, solver="lu").fit(train, progress=False).rmse(test)
    assert abs(exact - cg) < 0.002 and abs(exact - lu) < 1e-5
    mean_rmse = float(np.sqrt(np.mean((test.values - train.values.mean()) ** 2)))
    assert exact < 0.9 * mean_rmse


def test_fold_in_of_an_existing_user_reproduces_their_row():
    r = synthetic_ratings(200, 120, 4000, seed=4)
    m = ExplicitALS(6, reg=0.1, iterations=5, solver="cholesky", dtype=torch.float64).fit(r, progress=False)
    for u in (0, 17, 99):
        mask = r.users == u
        f = m.fold_in(r.items[mask], r.values[mask])
        assert np.allclose(f.factors, m.params_.U[u].numpy(), atol=1e-8)
        assert f.bias == pytest.approx(float(m.params_.user_bias[u]), abs=1e-8)
    items, scores = m.recommend(f, n=5)
    assert not set(items.tolist()) & set(r.items[r.users == 99].tolist())
    assert np.allclose(scores, m.predict(np.full(5, 99), items))


def test_save_load_round_trip_is_bit_exact(tmp_path):
    r = synthetic_ratings(100, 60, 1500, seed=5)
    m = ExplicitALS(5, reg=0.07, iterations=3, weighted_reg=False).fit(r, progress=False)
    path = tmp_path / "model.npz"
    m.save(path)
    back = ExplicitALS.load(path)
    for a, b in zip(m.params_.tensors(), back.params_.tensors()):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert back.params_.mu == m.params_.mu and repr(back) == repr(m) and back.history_ == m.history_
    assert np.array_equal(back.recommend(3)[0], m.recommend(3)[0])
    with np.load(path, allow_pickle=False) as f:  # loads without pickle
        assert "U" in f
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="not a model file"):
        ExplicitALS.load(tmp_path / "other.npz")


def test_users_and_items_without_ratings():
    r = Ratings(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([5.0, 3.0, 4.0, 2.0]), n_users=3, n_items=3)
    for solver in ("cg", "cholesky"):
        m = ExplicitALS(2, reg=0.1, iterations=3, solver=solver).fit(r, progress=False)
        assert torch.all(m.params_.U[2] == 0) and torch.all(m.params_.V[2] == 0)
        assert m.params_.user_bias[2] == 0 and m.params_.item_bias[2] == 0
        assert m.predict([2], [2])[0] == pytest.approx(3.5)  # the mean
        assert m.predict([2], [0])[0] == pytest.approx(3.5 + float(m.params_.item_bias[0]))
    with pytest.raises(ValueError, match="no training ratings"):
        m.similar_items(2)


def test_similar_items_by_cosine():
    r = synthetic_ratings(200, 80, 3000, seed=6)
    m = ExplicitALS(6, reg=0.1, iterations=3).fit(r, progress=False)
    items, sims = m.similar_items(5, n=4)
    V = m.params_.V.double().numpy()
    cos = V @ V[5] / (np.linalg.norm(V, axis=1) * np.linalg.norm(V[5]))
    cos[5] = -np.inf
    assert list(items) == list(np.argsort(-cos)[:4]) and np.allclose(sims, cos[items])


def test_zero_reg_with_too_few_ratings_is_a_clear_error():
    r = synthetic_ratings(50, 40, 300, seed=0)  # many users with fewer than 10 ratings
    with pytest.raises(NotPositiveDefiniteError, match="larger reg"):
        ExplicitALS(10, reg=0.0, solver="cholesky").fit(r, progress=False)


def test_non_finite_factors_stop_the_fit_with_guidance():
    r = Ratings(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([3e38, -3e38, 3e38, 1.0]))
    with pytest.raises(DivergenceError, match="non-finite at iteration 1.*dtype=torch.float64"):
        ExplicitALS(2, reg=0.1, iterations=2).fit(r, progress=False)


def test_bad_input_errors():
    r = synthetic_ratings(30, 20, 200, seed=0)
    m = ExplicitALS(3, iterations=2).fit(r, progress=False)
    with pytest.raises(IndexError, match="user index 30"):
        m.predict([30], [0])
    with pytest.raises(IndexError, match="item index 25"):
        m.predict([0], [25])
    with pytest.raises(IndexError, match="outside"):
        m.recommend(-1)
    with pytest.raises(TypeError, match="integer"):
        m.predict(["alice"], [0])
    with pytest.raises(ValueError, match="no ratings"):
        ExplicitALS().fit((np.array([], int), np.array([], int), np.array([])))
    with pytest.raises(ValueError, match="finite"):
        ExplicitALS().fit((np.array([0, 1]), np.array([0, 1]), np.array([1.0, np.nan])))
    with pytest.raises(ValueError, match="same length"):
        m.fold_in([0, 1], [4.0])
    with pytest.raises(ValueError, match="eval_set has shape"):
        ExplicitALS(2).fit(r, eval_set=synthetic_ratings(10, 10, 50, seed=0), progress=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        ExplicitALS().recommend(0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(factors=0), "factors"), (dict(reg=-0.1), "reg"), (dict(reg=float("nan")), "reg"),
    (dict(iterations=0), "iterations"), (dict(solver="qr"), "solver"), (dict(cg_steps=0), "cg_steps"),
    (dict(dtype=torch.float16), "dtype"),
])
def test_hyperparameters_are_checked_in_fit(kwargs, match):
    m = ExplicitALS(**kwargs)               # stored as given (scikit-learn's convention)
    assert all(getattr(m, k) is v for k, v in kwargs.items())
    with pytest.raises(ValueError, match=match):
        m.fit(synthetic_ratings(20, 10, 100, seed=0), progress=False)


def test_fit_accepts_sparse_tuple_and_reports_the_shared_objective():
    r = synthetic_ratings(40, 30, 400, seed=0)
    a = ExplicitALS(3, iterations=2, seed=1).fit(r, progress=False, track_objective=True)
    b = ExplicitALS(3, iterations=2, seed=1).fit(r.to_csr(), progress=False)
    c = ExplicitALS(3, iterations=2, seed=1).fit((r.users, r.items, r.values), progress=False)
    assert torch.equal(a.params_.U, b.params_.U) and torch.equal(a.params_.U, c.params_.U)
    data = RatingTensors.from_ratings(r, torch.float32)
    assert a.history_["objective"][-1] == pytest.approx(float(objective(a.params_, data, a.reg, True)), rel=1e-6)
    fast = ExplicitALS(3, iterations=2, seed=1).fit(r, progress=False)   # the default: no J
    assert torch.equal(fast.params_.U, a.params_.U) and fast.history_["objective"] == [None] * 3
    assert fast.history_["iteration"] == [0, 1, 2] and len(fast.history_["seconds"]) == 3


def test_candidate_items_restrict_recommendations_and_neighbours():
    r = synthetic_ratings(100, 60, 1500, seed=7)
    m = ExplicitALS(4, reg=0.1, iterations=3).fit(r, progress=False)
    candidates = np.arange(0, 60, 3)
    items, _ = m.recommend(2, n=5, items=candidates)
    assert set(items.tolist()) <= set(candidates.tolist())
    near, _ = m.similar_items(0, n=5, items=candidates)
    assert set(near.tolist()) <= set(candidates.tolist()) and 0 not in near
    f = m.fold_in([1, 2], [5.0, 1.0])
    items, _ = m.recommend(f, n=3, items=[1, 2, 4, 5])
    assert set(items.tolist()) == {4, 5}  # the folded-in user's own items are excluded
    with pytest.raises(IndexError, match="outside"):
        m.recommend(0, items=[60])


def test_top_n_breaks_ties_by_lower_item_index_also_at_the_cut_off():
    r = synthetic_ratings(30, 40, 400, seed=3)
    m = ExplicitALS(3, reg=0.1, iterations=2, seed=0).fit(r, progress=False)
    # scores on three levels only, so that most items tie exactly with many others
    levels = torch.as_tensor(np.random.default_rng(0).integers(0, 3, 40), dtype=m.params_.V.dtype)
    m.params_.V.zero_()
    m.params_.item_bias.copy_(levels)
    expected = sorted(range(40), key=lambda i: (-float(levels[i]), i))   # score, then lower index
    for n in (1, 5, 13, 20, 40):
        items, scores = m.recommend(0, n=n, exclude_seen=False)
        assert items.tolist() == expected[:n]
        assert np.all(np.diff(scores) <= 0)
    # the order of the candidate list does not matter
    shuffled = np.random.default_rng(1).permutation(40)
    assert m.recommend(0, n=9, exclude_seen=False, items=shuffled)[0].tolist() == expected[:9]
    seen = set(r.items[r.users == 0].tolist())
    assert m.recommend(0, n=9)[0].tolist() == [i for i in expected if i not in seen][:9]
    # similar_items: items 2, 7, 4 are multiples of item 9, so they tie exactly
    m.params_.V.copy_(torch.randn(40, 3, generator=torch.Generator().manual_seed(0), dtype=m.params_.V.dtype))
    for i in (2, 7, 4):
        m.params_.V[i] = 2 * m.params_.V[9]      # exact scaling: cosine exactly the same
    near, sims = m.similar_items(9, n=3)
    assert near.tolist() == [2, 4, 7] and sims[0] == sims[1] == sims[2]


# ------------------------------------------------------------------ Chapter 9
@pytest.mark.parametrize("biases", [True, False])
def test_cache_blocked_cg_equals_one_block(biases, monkeypatch):
    """Splitting the sparse products into column blocks changes only the order of the sums."""
    import als_lib.als as als

    r = synthetic_ratings(300, 200, 6000, rank=3, seed=4)
    kw = dict(factors=6, reg=0.1, iterations=4, biases=biases, dtype=torch.float64)
    one = ExplicitALS(**kw).fit(r, progress=False)
    # 7 columns of 7 float64 numbers a block: 29 and 43 blocks, the last narrower
    monkeypatch.setattr(als, "CACHE_BYTES", 7 * (6 + biases) * 8)
    blocked = ExplicitALS(**kw).fit(r, progress=False)
    side = Side.build(r.users, r.items, r.values, r.shape, True, torch.float64, "cpu")
    blocks = side.column_blocks((6 + biases) * 8)
    assert len(blocks) == 29 and blocks[-1].hi - blocks[-1].lo == 200 - 28 * 7
    assert sum(len(b.values) for b in blocks) == len(r)
    np.testing.assert_allclose(blocked.user_factors, one.user_factors, atol=1e-10)
    np.testing.assert_allclose(blocked.item_factors, one.item_factors, atol=1e-10)


def test_center_false_fits_without_the_mean():
    r = synthetic_ratings(80, 50, 1500, rank=3, seed=5)
    m = ExplicitALS(4, reg=0.1, iterations=6, biases=False, center=False,
                    solver="cholesky", dtype=torch.float64).fit(r, progress=False)
    assert m.mu_ == 0.0
    # the prediction is u.v alone, and the fit still explains the ratings (mean about 3)
    pred = m.predict(r.users, r.items)
    np.testing.assert_allclose(pred, np.einsum("ij,ij->i", m.user_factors[r.users],
                                               m.item_factors[r.items]), atol=1e-12)
    assert abs(pred.mean() - r.values.mean()) < 0.2
    # a new user folded in from a training user's ratings gets that user's factors
    u = int(np.argmax(r.user_counts()))
    mask = r.users == u
    f = m.fold_in(r.items[mask], r.values[mask])
    np.testing.assert_allclose(f.factors, m.user_factors[u], atol=1e-8)


def test_center_must_be_a_bool():
    r = synthetic_ratings(20, 10, 100, seed=0)
    with pytest.raises(ValueError, match="center must be True or False"):
        ExplicitALS(2, center="no").fit(r, progress=False)


def test_from_factors_needs_a_model_without_mean_or_biases():
    r = synthetic_ratings(30, 20, 300, rank=2, seed=1)
    g = np.random.default_rng(0)
    U, V = g.normal(size=(30, 3)), g.normal(size=(20, 3))
    m = ExplicitALS.from_factors(U, V, r, factors=3, biases=False, center=False,
                                 dtype=torch.float64)
    assert m.mu_ == 0.0 and m.user_bias is None
    np.testing.assert_allclose(m.predict([0, 5], [1, 2]), [U[0] @ V[1], U[5] @ V[2]])
    with pytest.raises(ValueError, match="biases=False, center=False"):
        ExplicitALS.from_factors(U, V, r, factors=3, biases=False)
    with pytest.raises(ValueError, match="do not fit train"):
        ExplicitALS.from_factors(U[:5], V, r, factors=3, biases=False, center=False)


def test_the_default_fit_is_close_to_a_converged_one(ml100k, ml_small):
    """``ExplicitALS()`` stops after its default iterations (chosen by validation in
    benchmarks/defaults.py); on the book's 80/20 split of each set its test RMSE is within
    0.002 of the same model run to 30 iterations, and within 0.005 of the best of a grid of
    ``reg`` at 30 iterations."""
    for data in (ml100k, ml_small):
        train, test = train_test_split(data, 0.2, seed=0)
        default = ExplicitALS().fit(train, progress=False).rmse(test)
        long = ExplicitALS(iterations=30).fit(train, progress=False).rmse(test)
        grid = min(ExplicitALS(reg=reg, iterations=30).fit(train, progress=False).rmse(test)
                   for reg in (0.08, 0.1, 0.16, 0.2))
        assert abs(default - long) <= 0.002, (default, long)
        assert default <= min(long, grid) + 0.005, (default, long, grid)
