"""GPU check: the library on CUDA computes what it computes on the CPU, and how fast.

    ALS_LIB_DATA_DIR=... python benchmarks/gpu_check.py

1. Equivalence (float64): ExplicitALS (CG and Cholesky) and GradientDescentMF (SGD, Adam)
   fitted on CUDA and on the CPU from the same seed give the same factors.
2. ml-100k: test RMSE on the book's split on CUDA and CPU.
3. Speed: ms per ALS iteration (CG, k=64, 15 iterations) on CUDA for ml-100k and synthetic
   1M/10M ratings, and one SGD epoch on ml-100k. Timings synchronise the device.

Exits with status 1 if any CPU/CUDA comparison is a MISMATCH (factors differing by more
than 1e-8, or test RMSEs by more than 1e-4), and 2 when there is no CUDA device.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from als_lib import ExplicitALS, GradientDescentMF, ImplicitALS, evaluate_ranking, per_user_holdout, load_movielens, synthetic_ratings, train_test_split


def max_diff(a, b) -> float:
    return max(float((x.cpu() - y.cpu()).abs().max()) for x, y in zip(a.params_.tensors(), b.params_.tensors()))


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check", file=sys.stderr)
        return 2
    mismatches = 0
    print(f"{time.strftime('%Y-%m-%d')}: torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    small = synthetic_ratings(2000, 1000, 60000, rank=8, seed=0)
    for solver in ("cg", "cholesky"):
        kw = dict(factors=16, reg=0.1, iterations=5, solver=solver, dtype=torch.float64, seed=0)
        cpu = ExplicitALS(**kw).fit(small, progress=False)
        gpu = ExplicitALS(**kw, device="cuda").fit(small, progress=False)
        d = max_diff(cpu, gpu)
        mismatches += not d < 1e-8
        print(f"ALS {solver:8s}: max |factor difference| CPU vs CUDA = {d:.2e} {'OK' if d < 1e-8 else 'MISMATCH'}")
    for method in ("sgd", "adam"):
        kw = dict(factors=16, reg=0.05, lr=0.005, epochs=3, method=method, dtype=torch.float64, seed=0)
        cpu = GradientDescentMF(**kw).fit(small, progress=False)
        gpu = GradientDescentMF(**kw, device="cuda").fit(small, progress=False)
        d = max_diff(cpu, gpu)
        mismatches += not d < 1e-8
        print(f"GD  {method:8s}: max |factor difference| CPU vs CUDA = {d:.2e} {'OK' if d < 1e-8 else 'MISMATCH'}")

    clicks = synthetic_ratings(2000, 1000, 60000, rank=8, kind="implicit", seed=0)
    for solver in ("cg", "cholesky"):
        kw = dict(factors=16, reg=0.1, alpha=2.0, iterations=5, solver=solver, dtype=torch.float64,
                  reg_exponent=0.5, reg_offset=0.1)
        cpu = ImplicitALS(**kw).fit(clicks, progress=False)
        gpu = ImplicitALS(**kw, device="cuda").fit(clicks, progress=False)
        d = max_diff(cpu, gpu)
        mismatches += not d < 1e-8
        print(f"iALS {solver:7s}: max |factor difference| CPU vs CUDA = {d:.2e} {'OK' if d < 1e-8 else 'MISMATCH'}")

    ml = load_movielens("ml-100k", progress=False)
    tr, te = per_user_holdout(ml, fraction=0.2, seed=0)
    ndcg = {d: evaluate_ranking(ImplicitALS(64, reg=0.05, device=d).fit(tr, progress=False), te, (10,))["ndcg@10"]
            for d in ("cpu", "cuda")}
    same = abs(ndcg["cpu"] - ndcg["cuda"]) < 2e-3
    mismatches += not same
    print(f"ml-100k implicit ALS nDCG@10 (k=64, float32): CPU {ndcg['cpu']:.4f}, CUDA {ndcg['cuda']:.4f} "
          f"{'OK' if same else 'MISMATCH'}")
    for name, data in (("ml-100k", ml),
                       ("synthetic-1M", synthetic_ratings(25_000, 10_000, 1_000_000, rank=16, kind="implicit", seed=0))):
        ImplicitALS(64, iterations=2, device="cuda").fit(data, progress=False)
        per = [np.median(np.diff(ImplicitALS(64, iterations=15, device="cuda").fit(data, progress=False).history_["seconds"]))
               for _ in range(3)]
        print(f"implicit ALS on CUDA, {name}, k=64, 3 CG steps: {float(np.median(per)) * 1000:.2f} ms/iteration")

    train, test = train_test_split(ml, 0.2, seed=0)
    scores = {d: ExplicitALS(64, reg=0.13, iterations=15, device=d).fit(train, progress=False).rmse(test) for d in ("cpu", "cuda")}
    same = abs(scores["cpu"] - scores["cuda"]) < 1e-4
    mismatches += not same
    print(f"ml-100k test RMSE (k=64, lambda=0.13): CPU {scores['cpu']:.4f}, CUDA {scores['cuda']:.4f} "
          f"{'OK' if same else 'MISMATCH'}")

    datasets = [("ml-100k", ml), ("synthetic 1M", synthetic_ratings(6000, 4000, 1_000_000, rank=16, seed=0)),
                ("synthetic 10M", synthetic_ratings(60000, 20000, 10_000_000, rank=16, seed=0))]
    print(f"{'data':<15}{'ratings':>10}{'CUDA ms/iteration (CG, k=64)':>32}{'exact Cholesky':>18}")
    for name, data in datasets:
        row = []
        for solver in ("cg", "cholesky"):
            ExplicitALS(64, reg=0.1, iterations=2, solver=solver, device="cuda").fit(data, progress=False)
            per = [ExplicitALS(64, reg=0.1, iterations=15, solver=solver, device="cuda").fit(data, progress=False).history_["seconds"][-1] / 15 for _ in range(3)]
            row.append(float(np.median(per)) * 1000)
        print(f"{name:<15}{data.nnz:>10}{row[0]:>32.2f}{row[1]:>18.2f}")
    GradientDescentMF(64, epochs=1, device="cuda").fit(ml, progress=False)
    m = GradientDescentMF(64, reg=0.1, lr=0.005, epochs=5, method="sgd", batch_size=1024, device="cuda").fit(ml, progress=False)
    print(f"SGD epoch on ml-100k, k=64, batch 1024, CUDA: {np.median(np.diff(m.history_['seconds'])) * 1000:.1f} ms")
    if mismatches:
        print(f"{mismatches} CPU/CUDA comparison(s) MISMATCH", file=sys.stderr)
        return 1
    print("all CPU/CUDA comparisons OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
