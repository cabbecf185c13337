"""Bayesian ALS (Chapter 8): each conditional the Gibbs sampler draws from, against its closed
form (Monte Carlo mean and covariance), and the fitted posterior-mean model."""

import numpy as np
import pytest
import torch

from als_lib import BayesianALS, BiasBaseline, synthetic_ratings, train_test_split
from als_lib.als import Side
from als_lib.bayes import (
    BETA0,
    _Features,
    sample_link,
    sample_normal_wishart,
    sample_rows,
    sample_wishart,
)

DATA = synthetic_ratings(120, 80, 3000, rank=3, noise=0.5, seed=5)
TRAIN, TEST = train_test_split(DATA, 0.2, seed=0)


def spd(d, seed):
    g = np.random.default_rng(seed)
    A = g.standard_normal((d, d))
    return torch.from_numpy(A @ A.T + d * np.eye(d))


def assert_mean_cov(draws, mean, cov, sd_tol=4.5, cov_tol=0.06):
    """Monte Carlo mean within ``sd_tol`` standard errors; covariance within ``cov_tol`` of
    the scale of ``cov``."""
    draws, mean, cov = (np.asarray(a, dtype=np.float64) for a in (draws, mean, cov))
    n = len(draws)
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(draws.mean(0) - mean) < sd_tol * se)
    emp = np.cov(draws, rowvar=False)
    assert np.abs(emp - cov).max() < cov_tol * np.abs(np.diag(cov)).max()


def test_a_rows_draws_follow_its_gaussian_conditional_and_a_cold_row_the_prior():
    # 20,000 users who all rated the same 5 items alike: 20,000 draws of one conditional,
    # and one user with no ratings
    d, n_items, reps = 3, 5, 20_000
    g = np.random.default_rng(0)
    Y = torch.from_numpy(g.standard_normal((n_items, d)))
    r = g.standard_normal(n_items)
    rows = np.repeat(np.arange(reps), n_items)
    cols = np.tile(np.arange(n_items), reps)
    side = Side.build(rows, cols, np.tile(r, reps), (reps + 1, n_items), False,
                      torch.float64, "cpu")
    Lam, m, alpha = spd(d, 1), torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64), 1.7
    gen = torch.Generator().manual_seed(0)
    X = sample_rows(side, Y, side.values, m, Lam, alpha, gen).numpy()
    P = Lam + alpha * Y.T @ Y
    want_mean = torch.linalg.solve(P, Lam @ m + alpha * Y.T @ torch.from_numpy(r))
    assert_mean_cov(X[:reps], want_mean, torch.linalg.inv(P))
    # the cold row: a single draw from N(m, Lam^-1), within 6 standard deviations
    sd = np.sqrt(np.diag(torch.linalg.inv(Lam).numpy()))
    assert np.all(np.abs(X[reps] - m.numpy()) < 6 * sd)


def test_cold_rows_are_drawn_from_the_prior():
    d, reps = 2, 20_000
    side = Side.build(np.array([0]), np.array([0]), np.array([1.0]), (reps, 1), False,
                      torch.float64, "cpu")
    Lam, m = spd(d, 2), torch.tensor([1.0, -1.0], dtype=torch.float64)
    Y = torch.ones(1, d, dtype=torch.float64)
    X = sample_rows(side, Y, side.values, m, Lam, 2.0, torch.Generator().manual_seed(1))
    assert_mean_cov(X[1:].numpy(), m, torch.linalg.inv(Lam))


def test_wishart_draws_have_the_wishart_mean_and_variance():
    d, df, n = 3, 7.5, 6000
    W = torch.linalg.inv(spd(d, 3))
    rng = np.random.default_rng(0)
    draws = np.stack([sample_wishart(torch.linalg.inv(W), df, rng).numpy() for _ in range(n)])
    W = W.numpy()
    var = df * (W ** 2 + np.outer(np.diag(W), np.diag(W)))    # Var(Lambda_jl)
    assert np.all(np.abs(draws.mean(0) - df * W) < 4.5 * np.sqrt(var / n))
    assert np.allclose(draws.var(0), var, rtol=0.15)
    assert np.all(np.linalg.eigvalsh(draws) > 0)


def test_normal_wishart_draws_match_the_conjugate_posterior():
    g = np.random.default_rng(4)
    E = torch.from_numpy(g.standard_normal((40, 2)) * [1.0, 0.5] + [2.0, -1.0])
    N, d = E.shape
    rng = np.random.default_rng(1)
    draws = [sample_normal_wishart(E, rng) for _ in range(6000)]
    mus = np.stack([m.numpy() for m, _ in draws])
    lams = np.stack([L.numpy() for _, L in draws])
    ebar = E.mean(0).numpy()
    C = (E - E.mean(0)).numpy()
    W = np.linalg.inv(np.eye(d) + C.T @ C + BETA0 * N / (BETA0 + N) * np.outer(ebar, ebar))
    df = d + N
    assert np.allclose(lams.mean(0), df * W, rtol=0.03, atol=0.01)
    assert np.allclose(mus.mean(0), N * ebar / (BETA0 + N), atol=0.01)


@pytest.mark.parametrize("shape", [(6, 3), (3, 5)], ids=["tall", "wide"])
def test_link_matrix_draws_follow_the_matrix_normal_posterior(shape):
    rows, n_other = shape
    d, lam = 2, 0.7
    g = np.random.default_rng(5)
    dense = (g.random(shape) < 0.6).astype(float)
    dense[np.arange(rows), np.arange(rows) % n_other] = 1.0       # every row rated something
    r, c = np.nonzero(dense)
    side = Side.build(r, c, np.ones(len(r)), shape, False, torch.float64, "cpu")
    feat = _Features(side)
    F = feat.F.to_dense().numpy()
    assert np.allclose(F, dense / np.sqrt(dense.sum(1, keepdims=True)))
    E = torch.from_numpy(g.standard_normal((rows, d)))
    Lam = spd(d, 6)
    gen = torch.Generator().manual_seed(2)
    draws = np.stack([sample_link(feat, E, Lam, lam, gen).numpy().ravel()
                      for _ in range(20_000)])
    A = F.T @ F + lam * np.eye(n_other)
    mean = np.linalg.solve(A, F.T @ E.numpy()).ravel()
    # vec(B) (row-major) has precision A (x) Lam
    cov = np.linalg.inv(np.kron(A, Lam.numpy()))
    assert_mean_cov(draws, mean, cov)


def fit(**kw):
    # plain BPMF (the default adds who rated what; its own tests pass who_rated)
    kw = {"samples": 30, "burn_in": 10, "who_rated": "none", **kw}
    return BayesianALS(3, **kw).fit(TRAIN, TEST, progress=False)


@pytest.fixture(scope="module")
def model():
    return fit()


def test_the_averaged_samples_beat_one_sample_and_the_baseline(model):
    h = model.history_
    base = BiasBaseline().fit(TRAIN).rmse(TEST)
    assert model.rmse(TEST) < h["sample_rmse"][-1]
    assert model.rmse(TEST) < base - 0.05
    assert h["eval_rmse"][:10] == [None] * 10 and h["eval_rmse"][10] is not None
    assert model.n_samples_ == 30


def test_the_stored_factor_model_is_the_average_the_sampler_scored(model):
    # history's eval_rmse averages each sample's predictions as it goes; predict() uses the
    # concatenated factors and the averaged biases: the same number by two routes
    assert model.rmse(TEST) == pytest.approx(model.history_["eval_rmse"][-1], rel=1e-5)
    assert model.user_factors.shape == (DATA.n_users, 3 * 30)


def test_sampled_noise_precision_matches_the_noise_of_the_data(model):
    # synthetic ratings: noise sd 0.5 before rounding to stars; the sampled sigma is near
    sigma = 1 / np.sqrt(np.mean(model.history_["alpha"][10:]))
    resid = np.sqrt(np.mean(np.array(model.history_["train_rmse"][10:]) ** 2))
    assert 0.4 < sigma < 0.9
    assert sigma == pytest.approx(resid, rel=0.05)


def test_clipping_happens_after_averaging_and_keeps_the_rating_range(model):
    u, i = np.meshgrid(np.arange(DATA.n_users), np.arange(DATA.n_items))
    p = model.predict(u.ravel(), i.ravel())
    assert p.min() >= TRAIN.values.min() and p.max() <= TRAIN.values.max()
    raw = BayesianALS(**{**model.get_params(), "clip": False})
    raw.params_, raw._seen = model.params_, model._seen
    raw.n_users_, raw.n_items_ = model.n_users_, model.n_items_
    q = raw.predict(u.ravel(), i.ravel())
    assert np.array_equal(p, np.clip(q, TRAIN.values.min(), TRAIN.values.max()))
    assert (q > TRAIN.values.max()).any() or (q < TRAIN.values.min()).any()


def test_predict_std_is_the_spread_of_the_samples_and_shrinks_with_data(model):
    users = np.arange(DATA.n_users)
    items = np.zeros_like(users)
    sd = model.predict_std(users, items)
    assert sd.shape == users.shape and np.all(sd > 0)
    counts = TRAIN.user_counts()
    few, many = counts <= np.quantile(counts, 0.25), counts >= np.quantile(counts, 0.75)
    assert sd[few].mean() > sd[many].mean()


def test_same_seed_same_model_other_seed_other_draws():
    a, b, c = (BayesianALS(2, samples=3, burn_in=1, seed=s).fit(TRAIN, progress=False)
               for s in (0, 0, 1))
    assert np.array_equal(a.user_factors, b.user_factors)
    assert not np.allclose(a.user_factors, c.user_factors)


@pytest.mark.parametrize("who", ["users", "items", "both"])
def test_who_rated_prior_fits_and_uses_training_pattern_only(who):
    m = fit(who_rated=who, samples=10)
    assert np.isfinite(m.history_["eval_rmse"][-1])
    assert m.rmse(TEST) < BiasBaseline().fit(TRAIN).rmse(TEST)


def test_fixed_alpha_is_kept_and_no_biases_leaves_bias_none():
    m = BayesianALS(2, samples=3, burn_in=0, alpha=4.0, biases=False).fit(
        TRAIN, progress=False)
    assert m.history_["alpha"] == [4.0] * 3
    assert m.user_bias is None
    assert np.all(m.predict_std([0, 1], [0, 1]) >= 0)


def test_save_load_keeps_predictions_and_their_spread(model, tmp_path):
    model.save(tmp_path / "b.npz")
    back = BayesianALS.load(tmp_path / "b.npz")
    assert np.array_equal(back.predict(TEST.users, TEST.items),
                          model.predict(TEST.users, TEST.items))
    assert np.allclose(back.predict_std([0, 5], [1, 2]), model.predict_std([0, 5], [1, 2]))


@pytest.mark.parametrize("kw, name", [
    ({"samples": 0}, "samples"), ({"burn_in": -1}, "burn_in"), ({"alpha": 0.0}, "alpha"),
    ({"who_rated": "test"}, "who_rated"), ({"clip": "yes"}, "clip"), ({"factors": 0}, "factors"),
])
def test_bad_hyperparameters_are_named_at_fit(kw, name):
    m = BayesianALS(**kw)
    with pytest.raises(ValueError, match=name):
        m.fit(TRAIN, progress=False)
