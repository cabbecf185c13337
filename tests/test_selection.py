"""Hyperparameter search (Chapter 8): candidates, and a search that never sees the test set."""

import numpy as np
import pytest

from als_lib import (ExplicitALS, grid, random_candidates, search, synthetic_ratings,
                     train_test_split)

DATA = synthetic_ratings(100, 60, 2000, rank=3, seed=1)
TRAIN, VALID = train_test_split(DATA, 0.2, seed=0)


def test_grid_is_every_combination_last_axis_fastest():
    assert grid(a=[1, 2], b=["x", "y"]) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    with pytest.raises(TypeError, match="list of values"):
        grid(a=3)


def test_random_candidates_are_seeded_and_stay_in_range():
    a = random_candidates(200, seed=3, k=[8, 16], reg=(0.01, 1.0))
    assert a == random_candidates(200, seed=3, k=[8, 16], reg=(0.01, 1.0))
    assert a != random_candidates(200, seed=4, k=[8, 16], reg=(0.01, 1.0))
    regs = np.array([c["reg"] for c in a])
    assert regs.min() >= 0.01 and regs.max() <= 1.0
    # log-uniform: about half the draws below the geometric midpoint 0.1
    assert 0.38 < np.mean(regs < 0.1) < 0.62
    assert {c["k"] for c in a} == {8, 16}
    with pytest.raises(ValueError, match="0 < low < high"):
        random_candidates(2, reg=(1.0, 0.1))


def test_search_scores_each_candidate_on_validation_and_keeps_the_best():
    base = ExplicitALS(4, iterations=3)
    cands = grid(reg=[0.001, 0.1, 30.0])
    res = search(base, cands, TRAIN, VALID, progress=False)
    assert [r["reg"] for r in res.results] == [0.001, 0.1, 30.0]
    scores = [r["score"] for r in res.results]
    want = [-ExplicitALS(4, iterations=3, reg=r).fit(TRAIN, progress=False).rmse(VALID)
            for r in (0.001, 0.1, 30.0)]
    assert np.allclose(scores, want)
    assert res.best_params == cands[int(np.argmax(scores))] and res.best_score == max(scores)
    assert res.seconds == pytest.approx(sum(r["seconds"] for r in res.results))
    assert base.get_params() == ExplicitALS(4, iterations=3).get_params()   # untouched
    assert getattr(base, "params_", None) is None
    with pytest.raises(ValueError, match="candidates is empty"):
        search(base, [], TRAIN, VALID)
    with pytest.raises(ValueError, match="'rank' is not a parameter of ExplicitALS"):
        search(base, [{"rank": 8}], TRAIN, VALID)
