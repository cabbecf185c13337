"""Implicit-feedback ALS (Chapter 7): the loss, the half-steps, fold-in, explain, and the same
numbers as benfred/implicit on the same problem."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from als_lib import ImplicitALS, per_user_holdout, synthetic_ratings
from als_lib.implicit import confidence, implicit_half_step, implicit_loss
from als_lib.objective import init_params

DATA = synthetic_ratings(60, 40, 700, rank=3, kind="implicit", seed=3)


def dense_loss(X, Y, C, reg_u, reg_i):
    """L over every cell, written out densely: c = 1 (p = 0) where nothing was observed."""
    X, Y = X.double(), Y.double()
    c = np.where(C > 0, C, 1.0)
    p = (C > 0).astype(float)
    s = (X @ Y.T).numpy()
    return (c * (p - s) ** 2).sum() + (reg_u * (X * X).sum(1).numpy()).sum() + (
        reg_i * (Y * Y).sum(1).numpy()).sum()


def model_and_sides(**kw):
    m = ImplicitALS(5, reg=0.3, alpha=2.0, dtype=torch.float64, **kw)
    users, items = m.sides(DATA.to_csr(), exact=True)
    p = init_params(*DATA.shape, 5, 0.0, False, 0.1, 0, torch.float64, "cpu",
                    DATA.user_counts(), DATA.item_counts())
    return m, users, items, p.U, p.V


def reg_rows(side):
    return side.ridge_rows().numpy()


@pytest.mark.parametrize("kw", [{}, {"reg_exponent": 0.7, "reg_offset": 0.1}])
def test_loss_touches_only_the_observed_cells_yet_equals_the_dense_loss(kw):
    m, users, items, X, Y = model_and_sides(**kw)
    C = np.zeros(DATA.shape)
    C[DATA.users, DATA.items] = 1 + 2.0 * DATA.values
    want = dense_loss(X, Y, C, reg_rows(users), reg_rows(items))
    assert implicit_loss(X, Y, users, items) == pytest.approx(want, rel=1e-12)
    if kw:   # frequency-scaled: lambda (n_u + alpha0 n)^nu
        n_u = DATA.user_counts()
        assert np.allclose(reg_rows(users), 0.3 * (n_u + 0.1 * DATA.n_items) ** 0.7)


@pytest.mark.parametrize("kw", [{}, {"reg_exponent": 1.0, "reg_offset": 0.5}])
def test_exact_half_step_solves_the_dense_normal_equations(kw):
    m, users, items, X, Y = model_and_sides(**kw)
    implicit_half_step(users, X, Y, "cholesky")
    C = np.zeros(DATA.shape)
    C[DATA.users, DATA.items] = 1 + 2.0 * DATA.values
    Yn = Y.numpy()
    for u in (0, 7, 31):
        c = np.where(C[u] > 0, C[u], 1.0)
        A = Yn.T @ (c[:, None] * Yn) + reg_rows(users)[u] * np.eye(5)
        b = Yn.T @ (c * (C[u] > 0))
        assert np.allclose(X[u].numpy(), np.linalg.solve(A, b), atol=1e-10)


def test_cg_with_enough_steps_reaches_the_exact_solution():
    _, users, _, X, Y = model_and_sides()
    exact = X.clone()
    implicit_half_step(users, exact, Y, "cholesky")
    implicit_half_step(users, X, Y, "cg", cg_steps=12)
    assert torch.allclose(X, exact, atol=1e-9)


@pytest.mark.parametrize("solver,steps", [("cholesky", 1), ("cg", 1), ("cg", 3)])
def test_no_half_step_increases_the_loss(solver, steps):
    _, users, items, X, Y = model_and_sides(reg_exponent=0.5, reg_offset=0.2)
    before = implicit_loss(X, Y, users, items)
    for _ in range(4):
        implicit_half_step(users, X, Y, solver, steps)
        after_u = implicit_loss(X, Y, users, items)
        implicit_half_step(items, Y, X, solver, steps)
        after_i = implicit_loss(X, Y, users, items)
        assert after_u <= before * (1 + 1e-12) and after_i <= after_u * (1 + 1e-12)
        before = after_i


def test_confidence_forms():
    r = np.array([1.0, 3.0, 10.0])
    assert np.allclose(confidence(r, 2.0), 1 + 2 * r)
    assert np.allclose(confidence(r, 2.0, "log", 0.5), 1 + 2 * np.log(1 + r / 0.5))


def test_half_step_equals_implicit_least_squares_cg():
    """The CG half-step is implicit's, number for number (float32)."""
    from implicit.cpu._als import least_squares_cg

    _, users, _, X, Y = model_and_sides()
    X32, Y32 = X.float(), Y.float()
    m = ImplicitALS(5, reg=0.3, alpha=2.0)
    users32, _ = m.sides(DATA.to_csr(), exact=False)
    C = DATA.to_csr().astype(np.float32)
    C.data = 1 + 2.0 * C.data
    theirs = X32.numpy().copy()
    least_squares_cg(C, theirs, Y32.numpy(), 0.3, num_threads=1, cg_steps=3)
    implicit_half_step(users32, X32, Y32, "cg", 3)
    assert np.allclose(X32.numpy(), theirs, atol=2e-5)


def test_fit_equals_implicit_from_the_same_start():
    from implicit.cpu.als import AlternatingLeastSquares

    train = DATA
    ours = ImplicitALS(8, reg=0.1, alpha=1.0, iterations=5).fit(train, progress=False)
    p = init_params(*train.shape, 8, 0.0, False, 0.01, 0, torch.float32, "cpu",
                    train.user_counts(), train.item_counts())
    C = train.to_csr().astype(np.float32)
    C.data = 1 + C.data
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):      # as implicit asks (it warns otherwise)
        theirs = AlternatingLeastSquares(8, regularization=0.1, alpha=1.0, iterations=5,
                                         num_threads=1, random_state=0)
        theirs.user_factors, theirs.item_factors = p.U.numpy().copy(), p.V.numpy().copy()
        theirs.fit(C, show_progress=False)
    assert np.allclose(ours.user_factors, theirs.user_factors, atol=1e-4)
    assert np.allclose(ours.item_factors, theirs.item_factors, atol=1e-4)


def test_fit_records_a_falling_loss_and_eval_ndcg():
    train, test = per_user_holdout(DATA, fraction=0.2, seed=0)
    m = ImplicitALS(6, reg=0.1, iterations=6, dtype=torch.float64).fit(
        train, test, track_objective=True, progress=False)
    obj = m.history_["objective"]
    assert len(obj) == 7 and all(b <= a * (1 + 1e-12) for a, b in zip(obj, obj[1:]))
    assert obj[-1] == pytest.approx(m.loss())
    assert m.history_["eval_ndcg"][-1] == pytest.approx(m.score(test))
    fast = ImplicitALS(6, reg=0.1, iterations=6, dtype=torch.float64).fit(train, progress=False)
    assert fast.history_["objective"] == [None] * 7
    assert np.array_equal(fast.user_factors, m.user_factors)


def test_fold_in_of_a_training_user_is_their_exact_solve():
    m = ImplicitALS(5, reg=0.2, alpha=3.0, iterations=4, solver="cholesky",
                    dtype=torch.float64).fit(DATA, progress=False)
    u = 4
    items = DATA.items[DATA.users == u]
    vals = DATA.values[DATA.users == u]
    folded = m.fold_in(items, vals)
    # the model ends with the item half-step, so solve user u once more exactly
    users, _ = m.sides(DATA.to_csr(), exact=True)
    X = m.params_.U.clone()
    implicit_half_step(users, X, m.params_.V, "cholesky")
    assert np.allclose(folded.factors, X[u].numpy(), atol=1e-10)
    ids, _ = m.recommend(folded, n=5)
    assert not set(ids.tolist()) & set(items.tolist())


def test_explain_contributions_add_up_to_the_exact_score():
    m = ImplicitALS(5, reg=0.2, alpha=3.0, iterations=4, solver="cholesky",
                    dtype=torch.float64).fit(DATA, progress=False)
    u = 9
    item = int(m.recommend(u, n=1)[0][0])
    e = m.explain(u, item, n=3)
    past = np.sort(DATA.items[DATA.users == u])
    assert np.array_equal(e.all_items, past)
    assert e.total.sum() == pytest.approx(e.score)
    x = m.fold_in(past, DATA.values[DATA.users == u][np.argsort(DATA.items[DATA.users == u])])
    assert e.score == pytest.approx(float(x.factors @ m.item_factors[item]), rel=1e-10)
    assert len(e.items) == 3 and np.all(np.diff(e.contributions) <= 0)
    assert e.contributions[0] == e.total.max()
    with pytest.raises(ValueError, match="one user and one item"):
        m.explain([u, 1], item)


def test_bad_counts_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="drop the zeros"):
        ImplicitALS(3).fit((np.array([0, 1]), np.array([0, 1]), np.array([1.0, 0.0])),
                           progress=False)
    with pytest.raises(ValueError, match="drop the zeros"):
        ImplicitALS(3).fit((np.array([0, 1]), np.array([0, 1]), np.array([1.0, -2.0])),
                           progress=False)
    with pytest.raises(ValueError, match="confidence must be one of"):
        ImplicitALS(3, confidence="square").fit(DATA, progress=False)
    with pytest.raises(ValueError, match="epsilon"):
        ImplicitALS(3, confidence="log", epsilon=0).fit(DATA, progress=False)


def test_users_and_items_without_interactions_keep_zero_factors():
    m = ImplicitALS(4, iterations=3).fit(
        sp.csr_matrix((np.ones(3), ([0, 1, 3], [0, 2, 2])), shape=(5, 4)), progress=False)
    assert np.all(m.user_factors[[2, 4]] == 0) and np.all(m.item_factors[[1, 3]] == 0)


def test_from_factors_scores_outside_factors_with_the_same_code():
    m = ImplicitALS(5, reg=0.2, iterations=3).fit(DATA, progress=False)
    twin = ImplicitALS.from_factors(m.user_factors, m.item_factors, DATA, reg=0.2)
    assert np.array_equal(twin.recommend([1, 2], n=4)[0], m.recommend([1, 2], n=4)[0])
    assert twin.loss() == pytest.approx(m.loss(), rel=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        ImplicitALS.from_factors(m.user_factors[:3], m.item_factors, DATA)


def test_save_load_keeps_what_explain_and_loss_need(tmp_path):
    m = ImplicitALS(5, reg=0.2, alpha=3.0, iterations=3).fit(DATA, progress=False)
    m.save(tmp_path / "m.npz")
    back = ImplicitALS.load(tmp_path / "m.npz")
    e1, e2 = m.explain(3, 7), back.explain(3, 7)
    assert np.array_equal(e1.total, e2.total) and back.loss() == m.loss()
