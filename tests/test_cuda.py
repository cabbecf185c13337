"""The library on a CUDA GPU: the same numbers as on the CPU, and the whole estimator API.

Runs when torch sees a CUDA device; skipped with a message otherwise. For timings and the
larger comparison run benchmarks/gpu_check.py on a GPU machine.
"""

import numpy as np
import pytest
import torch

from als_lib import (
    BayesianALS,
    ExplicitALS,
    GradientDescentMF,
    ImplicitALS,
    evaluate_ranking,
    synthetic_ratings,
    train_test_split,
)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA device: the GPU tests run only where torch sees a GPU "
           "(see benchmarks/gpu_check.py)",
)

DATA = synthetic_ratings(400, 300, 8000, rank=4, seed=3)
TRAIN, TEST = train_test_split(DATA, 0.2, seed=0)


def max_diff(a, b) -> float:
    return max(float((x.cpu() - y.cpu()).abs().max())
               for x, y in zip(a.params_.tensors(), b.params_.tensors()))


@pytest.mark.parametrize("solver", ["cg", "cholesky", "lu"])
def test_als_on_cuda_matches_the_cpu(solver):
    kw = dict(factors=8, reg=0.1, iterations=4, solver=solver, dtype=torch.float64, seed=0)
    cpu = ExplicitALS(**kw).fit(TRAIN, progress=False, track_objective=True)
    gpu = ExplicitALS(**kw, device="cuda").fit(TRAIN, TEST, progress=False,
                                               track_objective=True)
    assert gpu.params_.U.device.type == "cuda"
    assert max_diff(cpu, gpu) < 1e-8
    assert gpu.history_["objective"] == pytest.approx(cpu.history_["objective"], rel=1e-9)


@pytest.mark.parametrize("method", ["gd", "sgd", "adam"])
def test_gradient_descent_on_cuda_matches_the_cpu(method):
    kw = dict(factors=8, lr=0.005, epochs=3, method=method, dtype=torch.float64, seed=0)
    cpu = GradientDescentMF(**kw).fit(TRAIN, progress=False)
    gpu = GradientDescentMF(**kw, device="cuda").fit(TRAIN, progress=False)
    assert max_diff(cpu, gpu) < 1e-8


def test_the_api_on_a_cuda_model(tmp_path):
    gpu = ExplicitALS(8, reg=0.1, iterations=3, device="cuda").fit(TRAIN, progress=False)
    cpu = ExplicitALS(8, reg=0.1, iterations=3).fit(TRAIN, progress=False)
    assert abs(gpu.rmse(TEST) - cpu.rmse(TEST)) < 1e-4
    ids, scores = gpu.recommend([0, 1, 2], n=5)
    assert ids.shape == (3, 5) and isinstance(scores, np.ndarray)
    assert gpu.similar_items(3, n=4)[0].shape == (4,)
    assert gpu.recommend_new([1, 2], [5.0, 1.0], n=3)[0].shape == (3,)
    assert isinstance(gpu.user_factors, np.ndarray)
    gpu.save(tmp_path / "m.npz")
    back = ExplicitALS.load(tmp_path / "m.npz")                  # onto the CPU
    assert back.params_.U.device.type == "cpu"
    assert np.array_equal(back.predict(TEST.users, TEST.items),
                          gpu.predict(TEST.users, TEST.items))
    again = ExplicitALS.load(tmp_path / "m.npz", device="cuda")  # back onto the GPU
    assert again.params_.U.device.type == "cuda"


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_implicit_als_on_cuda_matches_the_cpu(solver):
    clicks = synthetic_ratings(300, 200, 5000, rank=4, kind="implicit", seed=1)
    kw = dict(factors=8, reg=0.1, alpha=2.0, iterations=4, solver=solver, dtype=torch.float64,
              reg_exponent=0.5, reg_offset=0.1)
    cpu = ImplicitALS(**kw).fit(clicks, progress=False, track_objective=True)
    gpu = ImplicitALS(**kw, device="cuda").fit(clicks, progress=False, track_objective=True)
    assert gpu.params_.U.device.type == "cuda" and max_diff(cpu, gpu) < 1e-8
    assert gpu.history_["objective"] == pytest.approx(cpu.history_["objective"], rel=1e-9)
    assert np.array_equal(gpu.recommend([1, 2], n=5)[0], cpu.recommend([1, 2], n=5)[0])
    kw = dict(ks=(5,), exclude_seen=False)
    assert evaluate_ranking(gpu, clicks, **kw) == pytest.approx(evaluate_ranking(cpu, clicks, **kw))
    e1, e2 = cpu.explain(3, 4), gpu.explain(3, 4)
    assert np.allclose(e1.total, e2.total)


@pytest.mark.parametrize("who", ["none", "both"])
def test_bayesian_als_on_cuda_samples_the_same_posterior(who):
    # the two devices draw different random numbers, so the chains differ; the posterior mean
    # predictions they average to must agree within the Monte Carlo spread
    data = synthetic_ratings(300, 200, 8000, rank=4, seed=2)
    train, test = train_test_split(data, 0.2, seed=0)
    kw = dict(samples=60, burn_in=15, who_rated=who, dtype=torch.float64)
    cpu = BayesianALS(4, **kw).fit(train, progress=False)
    gpu = BayesianALS(4, device="cuda", **kw).fit(train, progress=False)
    assert gpu.params_.U.is_cuda
    assert abs(gpu.rmse(test) - cpu.rmse(test)) < 0.03   # two CPU seeds: 0.019 apart
    assert np.corrcoef(gpu.predict(test.users, test.items),
                       cpu.predict(test.users, test.items))[0, 1] > 0.97
