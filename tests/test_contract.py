"""The estimator contract: every model of the library, held to the same API.

Each test runs against every estimator (the baselines, gradient descent, ALS): fit returns
the model, scikit-learn's clone works, predict/recommend/similar_items shapes for one id and
for a batch, filter_items and items, save/load round trip, and the errors for unfitted
models, unknown ids and NaN input.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from als_lib import (
    BayesianALS,
    BiasBaseline,
    ExplicitALS,
    GlobalMean,
    GradientDescentMF,
    ImplicitALS,
    ItemMean,
    NotFittedError,
    Popularity,
    Recommender,
    UserMean,
    synthetic_ratings,
    train_test_split,
)

ESTIMATORS = {
    "GlobalMean": lambda: GlobalMean(),
    "UserMean": lambda: UserMean(),
    "ItemMean": lambda: ItemMean(),
    "BiasBaseline": lambda: BiasBaseline(5.0, 5.0, iterations=2),
    "GD-sgd": lambda: GradientDescentMF(4, epochs=3, lr=0.01, seed=1),
    "GD-adam": lambda: GradientDescentMF(4, epochs=3, method="adam", betas=(0.8, 0.99)),
    "ALS-cg": lambda: ExplicitALS(4, reg=0.1, iterations=3),
    "ALS-cholesky": lambda: ExplicitALS(4, reg=0.1, iterations=2, solver="cholesky",
                                        dtype=torch.float64),
    "Popularity": lambda: Popularity(),
    "iALS-cg": lambda: ImplicitALS(4, reg=0.1, iterations=3),
    "iALS-cholesky": lambda: ImplicitALS(4, reg=0.1, iterations=2, solver="cholesky",
                                         dtype=torch.float64),
    "BPMF": lambda: BayesianALS(3, samples=4, burn_in=2),
    "BPMF-who-rated": lambda: BayesianALS(3, samples=3, burn_in=1, who_rated="both",
                                          dtype=torch.float64),
}
# the models fitted by minimising the objective: they fold in a new user
FACTOR_MODELS = [k for k in ESTIMATORS if k.startswith(("GD", "ALS", "iALS"))]
# every model with factor vectors (Bayesian ALS: its samples side by side)
WITH_FACTORS = FACTOR_MODELS + [k for k in ESTIMATORS if k.startswith("BPMF")]
# models of implicit feedback: they score preferences, not ratings
IMPLICIT = [k for k in ESTIMATORS if k.startswith(("iALS", "Popularity"))]

DATA = synthetic_ratings(80, 50, 1200, rank=3, seed=11)
TRAIN, TEST = train_test_split(DATA, 0.2, seed=0)


def fit(model, data=TRAIN):
    if isinstance(model, (GradientDescentMF, ExplicitALS, ImplicitALS, BayesianALS)):
        return model.fit(data, progress=False)
    return model.fit(data)


@pytest.fixture(scope="module")
def fitted():
    return {name: fit(make()) for name, make in ESTIMATORS.items()}


@pytest.fixture(params=list(ESTIMATORS))
def name(request):
    return request.param


def test_fit_returns_self_and_sets_trailing_underscore_attributes(name):
    model = ESTIMATORS[name]()
    assert not hasattr(model, "n_users_") and getattr(model, "params_", None) is None
    assert fit(model) is model
    assert (model.n_users_, model.n_items_) == TRAIN.shape
    assert isinstance(model.history_, dict)
    assert model.user_factors.shape[0] == TRAIN.n_users
    assert model.item_factors.shape[0] == TRAIN.n_items
    assert model.mu_ == (0.0 if name in IMPLICIT else pytest.approx(TRAIN.values.mean()))
    if name == "Popularity":
        assert np.array_equal(model.item_bias, TRAIN.item_counts())


def test_clone_and_params(name, fitted):
    model = fitted[name]
    params = model.get_params()
    twin = clone(model)
    assert type(twin) is type(model) and twin.get_params() == params
    assert getattr(twin, "params_", None) is None       # clone is unfitted
    assert repr(twin) == repr(model)
    assert twin.set_params(**params) is twin
    with pytest.raises(ValueError, match="not a parameter"):
        twin.set_params(no_such_parameter=1)
    # a clone fits to the very same model (seeded)
    again = fit(clone(model))
    assert np.array_equal(again.predict(TEST.users, TEST.items),
                          model.predict(TEST.users, TEST.items))


@pytest.mark.parametrize("name", [k for k, make in ESTIMATORS.items() if make().get_params()])
def test_set_params_changes_the_fit(name):
    model = ESTIMATORS[name]()
    params = model.get_params()
    key = next(k for k in ("reg", "user_damping", "factors") if k in params)
    a = fit(clone(model)).predict(TEST.users, TEST.items)
    b = fit(clone(model).set_params(**{key: 10 * params[key] + 1})).predict(
        TEST.users, TEST.items)
    assert not np.allclose(a, b)


def test_predict_rmse_and_score(name, fitted):
    model = fitted[name]
    p = model.predict(TEST.users, TEST.items)
    assert p.shape == (TEST.nnz,) and p.dtype == np.float64 and np.isfinite(p).all()
    assert model.predict(3, 4).shape == (1,)
    if name in IMPLICIT:
        with pytest.raises(TypeError, match="not ratings|not by a rating"):
            model.rmse(TEST)
        # score is nDCG@10 on held-out interactions (higher is better)
        assert 0 < model.score(TEST) <= 1
        assert model.score(TEST) > 0.05
        return
    e = model.rmse(TEST)
    assert e == pytest.approx(np.sqrt(np.mean((TEST.values - p) ** 2)))
    assert model.score(TEST) == -e          # higher is better
    worse = GlobalMean().fit(TRAIN)
    if name != "GlobalMean":
        # on its own training data every model beats the global mean, and score says so
        assert model.score(TRAIN) > worse.score(TRAIN)


def test_recommend_single_and_batch(name, fitted):
    model = fitted[name]
    items, scores = model.recommend(5, n=7)
    assert items.shape == scores.shape == (7,)
    assert np.all(np.diff(scores) <= 0)
    assert not set(items.tolist()) & set(TRAIN.items[TRAIN.users == 5].tolist())
    predicted = model.predict(np.full(7, 5), items)
    if getattr(model, "clip", False):
        # ranked by the unclipped posterior mean; predict clips it to the rating range
        scores = np.clip(scores, TRAIN.values.min(), TRAIN.values.max())
    assert np.allclose(scores, predicted)
    users = np.array([5, 0, 17])
    ids, vals = model.recommend(users, n=7)
    assert ids.shape == vals.shape == (3, 7)
    for row, u in enumerate(users):
        one_ids, one_vals = model.recommend(int(u), n=7)
        assert np.array_equal(ids[row], one_ids) and np.allclose(vals[row], one_vals)
    everything, _ = model.recommend(5, n=1000, exclude_seen=False)
    assert sorted(everything.tolist()) == list(range(TRAIN.n_items))


def test_filter_items_and_items(name, fitted):
    model = fitted[name]
    best = model.recommend(2, n=5)[0]
    filtered, _ = model.recommend(2, n=5, filter_items=best[:3])
    assert not set(filtered.tolist()) & set(best[:3].tolist())
    assert filtered[:2].tolist() == best[3:].tolist()
    only = np.arange(0, TRAIN.n_items, 4)
    ids, _ = model.recommend([2, 3], n=4, items=only)
    assert set(ids.ravel().tolist()) <= set(only.tolist())
    # a batch row with fewer candidates than n is padded with -1 / -inf
    few = model.recommend([2, 3], n=200, items=only, exclude_seen=False)
    assert few[0].shape == (2, len(only)) and (few[0] >= 0).all()


def test_similar_items_and_users(name, fitted):
    model = fitted[name]
    if name not in WITH_FACTORS:
        with pytest.raises(ValueError, match="no factor vectors"):
            model.similar_items(0)
        return
    near, sims = model.similar_items(4, n=5)
    assert near.shape == (5,) and 4 not in near and np.all(np.diff(sims) <= 0)
    with_self, s = model.similar_items(4, n=5, include_self=True)
    assert with_self[0] == 4 and s[0] == 1.0 and with_self[1:].tolist() == near[:4].tolist()
    batch, _ = model.similar_items([4, 9], n=3)
    assert batch.shape == (2, 3) and batch[0].tolist() == near[:3].tolist()
    kept, _ = model.similar_items(4, n=5, filter_items=near[:2])
    assert kept[:3].tolist() == near[2:].tolist()
    users, _ = model.similar_users([1, 2], n=4, include_self=True)
    assert users.shape == (2, 4) and users[:, 0].tolist() == [1, 2]


def test_new_user_in_one_call(name, fitted):
    model = fitted[name]
    if name not in FACTOR_MODELS:
        assert not hasattr(model, "recommend_new")
        return
    items, scores = model.recommend_new([1, 2, 3], [5.0, 4.0, 1.0], n=6)
    assert items.shape == (6,) and not {1, 2, 3} & set(items.tolist())
    folded = model.fold_in([1, 2, 3], [5.0, 4.0, 1.0])
    again = model.recommend(folded, n=6)
    assert np.array_equal(items, again[0]) and np.allclose(scores, again[1])


def test_save_load_round_trip(name, fitted, tmp_path):
    model = fitted[name]
    path = tmp_path / f"{name}.npz"
    model.save(path)
    back = type(model).load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    assert back.history_ == model.history_
    for a, b in zip(model.params_.tensors(), back.params_.tensors()):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert np.array_equal(back.predict(TEST.users, TEST.items),
                          model.predict(TEST.users, TEST.items))
    assert np.array_equal(back.recommend([1, 2], n=5)[0], model.recommend([1, 2], n=5)[0])
    assert type(Recommender.load(path)) is type(model)      # the base finds the class
    other = ExplicitALS if not isinstance(model, ExplicitALS) else GlobalMean
    with pytest.raises(ValueError, match=f"holds a {type(model).__name__}"):
        other.load(path)


def test_unfitted_models_say_so(name):
    model = ESTIMATORS[name]()
    for call in (lambda: model.predict([0], [0]), lambda: model.recommend(0),
                 lambda: model.rmse(TEST), lambda: model.save("never.npz"),
                 lambda: model.user_factors):
        with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
            call()


def test_unknown_ids_are_errors(name, fitted):
    model = fitted[name]
    with pytest.raises(IndexError, match=f"user index {TRAIN.n_users}"):
        model.predict([TRAIN.n_users], [0])
    with pytest.raises(IndexError, match=f"item index {TRAIN.n_items}"):
        model.predict([0], [TRAIN.n_items])
    with pytest.raises(IndexError, match="outside"):
        model.recommend([0, TRAIN.n_users])
    with pytest.raises(IndexError, match="outside"):
        model.recommend(0, filter_items=[TRAIN.n_items])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        model.recommend(0, n=0)


def test_nan_input_is_refused(name):
    bad = (np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([4.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match="finite"):
        fit(ESTIMATORS[name](), bad)


def test_sparse_and_tuple_input_give_the_same_model(name):
    a = fit(ESTIMATORS[name](), (TRAIN.users, TRAIN.items, TRAIN.values))
    b = fit(ESTIMATORS[name]())
    assert np.array_equal(a.predict(TEST.users, TEST.items), b.predict(TEST.users, TEST.items))
    c = fit(ESTIMATORS[name](), TRAIN.to_csr())
    assert (c.n_users_, c.n_items_) == TRAIN.shape
    if name in IMPLICIT:
        assert c.score(TEST) == pytest.approx(b.score(TEST), abs=0.05)
    else:
        assert c.rmse(TEST) == pytest.approx(b.rmse(TEST), abs=0.05)


@pytest.mark.parametrize("name", FACTOR_MODELS)
def test_fold_in_refuses_bad_input_with_the_fix(name, fitted):
    model = fitted[name]
    with pytest.raises(ValueError, match="item twice"):
        model.fold_in([1, 1], [4.0, 5.0])
    with pytest.raises(ValueError, match="non-empty and the same length"):
        model.fold_in([1, 2], [4.0])
    with pytest.raises(ValueError, match="must be finite"):
        model.fold_in([1, 2], [4.0, np.nan])
    if name in IMPLICIT:
        with pytest.raises(ValueError, match="drop the zeros"):
            model.fold_in([1, 2], [4.0, 0.0])
