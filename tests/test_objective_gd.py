"""The shared objective and gradient descent: loop references, autograd, descent, errors."""

import math

import numpy as np
import pytest
import torch

from als_lib import Ratings, synthetic_ratings, toy_ratings, train_test_split
from als_lib.data import as_ratings
from als_lib.gd import GradientDescentMF, batch_gradients
from als_lib.model import DivergenceError
from als_lib.objective import FactorParams, RatingTensors, init_params, objective, predict


def random_params(r: Ratings, k=3, biases=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    return FactorParams(f(r.n_users, k), f(r.n_items, k), float(r.values.mean()),
                        f(r.n_users) if biases else None, f(r.n_items) if biases else None)


def loop_objective(p: FactorParams, r: Ratings, reg: float, weighted: bool) -> float:
    """The objective written as plain Python loops over ratings, users and items."""
    U, V = p.U.numpy(), p.V.numpy()
    bu = p.user_bias.numpy() if p.user_bias is not None else np.zeros(r.n_users)
    bi = p.item_bias.numpy() if p.item_bias is not None else np.zeros(r.n_items)
    total = 0.0
    for u, i, v in zip(r.users, r.items, r.values):
        pred = p.mu + bu[u] + bi[i] + sum(U[u, f] * V[i, f] for f in range(U.shape[1]))
        total += (v - pred) ** 2
    n_u, n_i = r.user_counts(), r.item_counts()
    for u in range(r.n_users):
        total += reg * (n_u[u] if weighted else 1) * (sum(x * x for x in U[u]) + bu[u] ** 2)
    for i in range(r.n_items):
        total += reg * (n_i[i] if weighted else 1) * (sum(x * x for x in V[i]) + bi[i] ** 2)
    return total


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("biases", [True, False])
def test_objective_equals_loop_reference(weighted, biases):
    r = synthetic_ratings(30, 20, 200, rank=3, seed=4)
    p = random_params(r, k=4, biases=biases)
    data = RatingTensors.from_ratings(r, torch.float64)
    assert float(objective(p, data, 0.3, weighted)) == pytest.approx(loop_objective(p, r, 0.3, weighted), rel=1e-12)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("biases", [True, False])
def test_hand_gradients_equal_autograd(weighted, biases):
    r = synthetic_ratings(40, 25, 300, rank=3, seed=1)
    p = random_params(r, k=5, biases=biases, seed=2)
    data = RatingTensors.from_ratings(r, torch.float64)
    s_u = torch.ones(r.n_users, dtype=torch.float64) if weighted else 1 / data.user_counts
    s_i = torch.ones(r.n_items, dtype=torch.float64) if weighted else 1 / data.item_counts
    gU, gV, gbu, gbi = batch_gradients(p, data.users, data.items, data.values, 0.2, s_u, s_i)
    hand = [torch.zeros_like(p.U).index_add_(0, data.users, gU), torch.zeros_like(p.V).index_add_(0, data.items, gV)]
    if biases:
        hand += [torch.zeros_like(p.user_bias).index_add_(0, data.users, gbu),
                 torch.zeros_like(p.item_bias).index_add_(0, data.items, gbi)]
    for t in p.tensors():
        t.requires_grad_(True)
    auto = torch.autograd.grad(objective(p, data, 0.2, weighted), p.tensors())
    for h, a in zip(hand, auto):
        assert torch.allclose(h, a, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method,lr,epochs", [("gd", 0.004, 40), ("sgd", 0.005, 30), ("adam", 0.01, 15)])
def test_objective_decreases_for_a_small_learning_rate(method, lr, epochs):
    r = synthetic_ratings(200, 100, 4000, rank=4, noise=0.2, seed=0)
    m = GradientDescentMF(8, reg=0.05, lr=lr, epochs=epochs, method=method, batch_size=256, dtype=torch.float64)
    obj = m.fit(r, progress=False, track_objective=True).history_["objective"]
    assert obj[-1] < 0.5 * obj[0]
    if method == "gd":  # full-batch GD with a small step never goes up
        assert all(b <= a for a, b in zip(obj, obj[1:]))


def test_gd_fits_the_toy_matrix_observed_entries():
    toy = toy_ratings()
    m = GradientDescentMF(2, reg=0.001, lr=0.02, epochs=400, method="gd", biases=False, dtype=torch.float64)
    m.fit(toy, progress=False)
    assert m.rmse(toy) < 0.2  # observed entries reproduced; the missing ones are not targets


def test_learning_beats_the_mean_on_held_out_synthetic_data():
    r = synthetic_ratings(500, 300, 20000, rank=4, noise=0.3, seed=0)
    train, test = train_test_split(r, 0.2, seed=0)
    m = GradientDescentMF(8, reg=0.05, lr=0.01, epochs=20, method="adam").fit(train, test, progress=False, track_objective=True)
    mean_rmse = float(np.sqrt(np.mean((test.values - train.values.mean()) ** 2)))
    assert m.history_["eval_rmse"][-1] < 0.85 * mean_rmse
    assert len(m.history_["objective"]) == 21 and m.history_["epoch"][0] == 0


def test_divergence_is_detected_and_named():
    r = synthetic_ratings(200, 100, 4000, seed=0)
    m = GradientDescentMF(8, lr=5.0, epochs=20, method="gd")
    with pytest.raises(DivergenceError, match=r"at epoch \d+ \(gd, lr=5\).*smaller learning rate, e.g. lr=0.5"):
        m.fit(r, progress=False, track_objective=True)
    assert all(math.isfinite(x) for x in m.history_["objective"])  # the epochs before it are kept


def test_seeded_fits_are_reproducible():
    r = synthetic_ratings(100, 80, 2000, seed=0)
    a = GradientDescentMF(4, epochs=3, seed=5).fit(r, progress=False)
    b = GradientDescentMF(4, epochs=3, seed=5).fit(r, progress=False)
    c = GradientDescentMF(4, epochs=3, seed=6).fit(r, progress=False)
    assert torch.equal(a.params_.U, b.params_.U)
    assert not torch.equal(a.params_.U, c.params_.U)


def test_users_without_training_ratings_fall_back_to_biases():
    r = Ratings(np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([5.0, 3.0, 4.0]), n_users=3, n_items=3)
    m = GradientDescentMF(2, epochs=5, method="gd", lr=0.01).fit(r, progress=False)
    assert torch.all(m.params_.U[2] == 0) and torch.all(m.params_.V[2] == 0)
    assert m.predict([2], [2])[0] == pytest.approx(4.0)  # the mean: no bias, no factors


def test_predict_recommend_and_errors():
    r = synthetic_ratings(50, 40, 600, seed=0)
    m = GradientDescentMF(4, epochs=2).fit(r, progress=False)
    items, scores = m.recommend(3, n=5)
    seen = set(r.items[r.users == 3].tolist())
    assert len(items) == 5 and not seen & set(items.tolist())
    assert np.all(np.diff(scores) <= 0)
    full = m.predict(np.full(40, 3), np.arange(40))
    assert np.allclose(np.sort(full[[i for i in range(40) if i not in seen]])[::-1][:5], scores)
    all_items, _ = m.recommend(3, n=100, exclude_seen=False)
    assert len(all_items) == 40
    with pytest.raises(IndexError, match="user index 50"):
        m.predict([50], [0])
    with pytest.raises(IndexError, match="item index -1"):
        m.predict([0], [-1])
    with pytest.raises(IndexError, match="outside"):
        m.recommend(99)
    with pytest.raises(RuntimeError, match="not fitted"):
        GradientDescentMF().predict([0], [0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(factors=0), "factors"), (dict(reg=-1.0), "reg"), (dict(lr=0.0), "lr"),
    (dict(epochs=0), "epochs"), (dict(method="newton"), "method"), (dict(batch_size=0), "batch_size"),
    (dict(dtype=torch.int64), "dtype"),
])
def test_hyperparameters_are_checked_in_fit(kwargs, match):
    m = GradientDescentMF(**kwargs)           # stored as given (scikit-learn's convention)
    assert all(getattr(m, k) is v for k, v in kwargs.items())
    with pytest.raises(ValueError, match=match):
        m.fit(toy_ratings(), progress=False)


def test_fit_accepts_sparse_and_tuples():
    r = synthetic_ratings(30, 20, 200, seed=0)
    kw = dict(epochs=3, method="gd", lr=0.01, dtype=torch.float64)
    ref = GradientDescentMF(3, **kw).fit(r, progress=False)
    a = GradientDescentMF(3, **kw).fit(r.to_csr(), progress=False)
    b = GradientDescentMF(3, **kw).fit((r.users, r.items, r.values), progress=False)
    # the same ratings in another container give the same fit (full-batch GD does not
    # depend on the order of the ratings, up to rounding)
    for m in (a, b):
        assert (m.n_users_, m.n_items_) == (30, 20)
        for x, y in zip(ref.params_.tensors(), m.params_.tensors()):
            assert torch.allclose(x, y, rtol=0, atol=1e-12)
    with pytest.raises(TypeError, match="Ratings, a scipy.sparse matrix"):
        as_ratings([1, 2, 3])


def test_init_params_is_seeded_and_zeroes_cold_rows():
    p = init_params(4, 3, 2, 3.5, True, 0.1, seed=1, user_counts=np.array([1, 0, 2, 1]), item_counts=np.array([1, 1, 0]))
    q = init_params(4, 3, 2, 3.5, True, 0.1, seed=1)
    assert torch.all(p.U[1] == 0) and torch.all(p.V[2] == 0)
    assert torch.equal(p.U[0], q.U[0])
    assert float(predict(p, torch.tensor([1]), torch.tensor([2]))[0]) == 3.5
