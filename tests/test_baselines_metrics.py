"""Baselines and rating metrics against hand-computed values."""

import numpy as np
import pytest

from als_lib import BiasBaseline, GlobalMean, ItemMean, Ratings, UserMean, mae, rmse, toy_ratings


def test_rmse_and_mae_hand_values():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        mae([], [])
    with pytest.raises(ValueError, match="finite"):
        rmse([1.0], [np.nan])


def test_means_on_the_toy_matrix():
    toy = toy_ratings()  # 13 ratings summing to 36
    g = GlobalMean().fit(toy)
    assert g.predict([0], [2])[0] == pytest.approx(36 / 13)
    u = UserMean().fit(toy)
    assert u.predict([0, 1], [0, 0]) == pytest.approx([3.0, 2.5])  # user 0: (5+3+1)/3
    i = ItemMean().fit(toy)
    assert i.predict([0], [2])[0] == pytest.approx(5.0)  # item 2 has the single rating 5


def test_damped_biases_hand_case():
    # two users, two items; mu = 3
    r = Ratings(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5.0, 1.0, 3.0]))
    m = BiasBaseline(user_damping=1, item_damping=1).fit(r)
    assert m.mu_ == pytest.approx(3.0)
    # b_0 = (2 + 0) / (1 + 2) = 2/3, b_1 = -2 / (1 + 1) = -1
    assert m.item_bias == pytest.approx([2 / 3, -1.0])
    # user 0: (5-3-2/3) + (1-3+1) = 1/3 over 1 + 2; user 1: (3-3-2/3) / (1 + 1)
    assert m.user_bias == pytest.approx([1 / 9, -1 / 3])
    assert m.predict([1], [1])[0] == pytest.approx(3 - 1 / 3 - 1)


def test_undamped_biases_reduce_to_item_means():
    toy = toy_ratings()
    m = BiasBaseline(user_damping=0, item_damping=0).fit(toy)
    i = ItemMean().fit(toy)
    assert np.allclose(m.item_bias, i.item_bias)


def test_alternating_bias_updates_do_not_increase_the_loss():
    from als_lib import synthetic_ratings

    r = synthetic_ratings(300, 200, 5000, seed=0)

    def loss(m, lam_u, lam_i):
        e = r.values - m.predict(r.users, r.items)
        return (e ** 2).sum() + lam_u * (m.user_bias ** 2).sum() + lam_i * (m.item_bias ** 2).sum()

    values = [loss(BiasBaseline(5, 5, iterations=t).fit(r), 5, 5) for t in (1, 2, 4, 8)]
    assert all(b <= a + 1e-9 for a, b in zip(values, values[1:]))


def test_predict_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        BiasBaseline().predict([0], [0])
    m = BiasBaseline().fit(toy_ratings())
    with pytest.raises(IndexError, match="outside 0..4"):
        m.predict([5], [0])
    with pytest.raises(ValueError, match="same shape"):
        m.predict([0, 1], [0])
    with pytest.raises(ValueError, match="user_damping must be a finite number >= 0"):
        BiasBaseline(user_damping=-1).fit(toy_ratings())
    with pytest.raises(TypeError, match="must be a Ratings, a scipy.sparse matrix"):
        BiasBaseline().fit(np.ones((2, 2)))
