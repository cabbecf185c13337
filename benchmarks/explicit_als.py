"""Speed and accuracy of ExplicitALS, printed as a table.

    python benchmarks/explicit_als.py [--threads N] [--skip-cv]

1. ml-100k (100,000 ratings), k=64, 15 iterations, solver "cg": ms per iteration.
2. Synthetic 1M ratings (6000 users x 4000 items, power-law popularity), k=64: ms per iteration.
3. ml-100k, the book's fixed 80/20 split (seed 0), biases, k=64: lambda chosen by 5-fold
   cross-validation on the training part only, then test RMSE of the CG and exact solvers.
4. With scikit-surprise installed (pip install -r benchmarks/requirements.txt): Surprise SVD
   (its defaults: 100 factors, 20 epochs) on the same split, time and RMSE, and the ratio.

Times are the solve time per iteration (median over repeated fits after one warm-up fit, no
evaluation in the loop); "fit wall" is a whole fit including set-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from als_lib import kfold, load_movielens, synthetic_ratings, train_test_split
from als_lib.als import ExplicitALS

K, ITERATIONS = 64, 15


def time_fit(ratings, repeats: int = 3, **kw) -> tuple[float, float]:
    """Median solve time per iteration and median wall time of ``repeats`` fits, after one
    untimed warm-up fit (first-call allocations and kernel set-up are not per-iteration costs)."""
    ExplicitALS(K, iterations=2, **kw).fit(ratings, progress=False)
    per_it, wall = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        m = ExplicitALS(K, iterations=ITERATIONS, **kw).fit(ratings, progress=False)
        wall.append(time.perf_counter() - start)
        per_it.append(m.history_["seconds"][-1] / ITERATIONS)
    return float(np.median(per_it)) * 1000, float(np.median(wall))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-cv", action="store_true", help="use lambda=0.13 instead of running the cross-validation")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"{platform.machine()}, k={K}, {ITERATIONS} iterations\n")

    ml = load_movielens("ml-100k", progress=False)
    syn = synthetic_ratings(6000, 4000, 1_000_000, rank=16, seed=0)
    rows = []
    for name, data, solver, target in (("ml-100k", ml, "cg", 10), ("ml-100k", ml, "cholesky", None),
                                       ("synthetic 1M", syn, "cg", 100), ("synthetic 1M", syn, "cholesky", None)):
        ms, wall = time_fit(data, repeats=5 if solver == "cg" else 1, reg=0.1, solver=solver)
        rows.append((name, solver, ms, wall, target))
    print(f"{'data':<14}{'solver':<10}{'ms/iteration':>14}{'fit wall (s)':>14}{'target (ms)':>13}")
    for name, solver, ms, wall, target in rows:
        verdict = "" if target is None else f"{'<= ' + str(target):>9} {'OK' if ms <= target else 'MISSED'}"
        print(f"{name:<14}{solver:<10}{ms:14.1f}{wall:14.2f}   {verdict}")

    train, test = train_test_split(ml, test_fraction=0.2, seed=0)
    grid = [0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]
    if args.skip_cv:
        lam = 0.13
        print("\nlambda = 0.13 (--skip-cv)")
    else:
        folds = list(kfold(train, k=5, seed=1))
        cv = {l: np.mean([ExplicitALS(K, reg=l, iterations=ITERATIONS).fit(a, progress=False).rmse(b)
                          for a, b in folds]) for l in grid}
        lam = min(cv, key=cv.get)
        print("\n5-fold CV on the training part (count-weighted lambda):")
        print("  " + "  ".join(f"{l:g}: {v:.4f}" for l, v in cv.items()))
        print(f"  chosen lambda = {lam:g}")
    results = {}
    for solver in ("cg", "cholesky"):
        start = time.perf_counter()
        m = ExplicitALS(K, reg=lam, iterations=ITERATIONS, solver=solver).fit(train, progress=False)
        results[solver] = (m.rmse(test), time.perf_counter() - start)
    print(f"\nml-100k fixed split, k={K}, biases, lambda={lam:g}:")
    print(f"  {'model':<32}{'test RMSE':>10}{'fit time (s)':>14}")
    for solver, (score, secs) in results.items():
        print(f"  {'ExplicitALS ' + solver:<32}{score:10.4f}{secs:14.2f}")
    gap = abs(results["cg"][0] - results["cholesky"][0])
    print(f"  CG vs exact: |difference| = {gap:.4f} (target <= 0.002: {'OK' if gap <= 0.002 else 'MISSED'})")
    print(f"  test RMSE target <= 0.910: {'OK' if results['cg'][0] <= 0.910 else 'MISSED'}")
    try:
        import surprise
    except ImportError:
        print("\n(scikit-surprise not installed: pip install -r benchmarks/requirements.txt to compare with Surprise SVD)")
        return
    reader = surprise.Reader(rating_scale=(1, 5))
    frame = [(int(u), int(i), float(v)) for u, i, v in zip(train.users, train.items, train.values)]
    import pandas as pd

    trainset = surprise.Dataset.load_from_df(pd.DataFrame(frame, columns=["u", "i", "r"]), reader).build_full_trainset()
    start = time.perf_counter()
    svd = surprise.SVD(random_state=0).fit(trainset)
    svd_secs = time.perf_counter() - start
    pred = np.array([svd.predict(int(u), int(i)).est for u, i in zip(test.users, test.items)])
    svd_rmse = float(np.sqrt(np.mean((pred - test.values) ** 2)))
    print(f"  {'Surprise SVD ' + surprise.__version__ + ' (defaults)':<32}{svd_rmse:10.4f}{svd_secs:14.2f}")
    print(f"  Surprise SVD fit time / ExplicitALS cg fit time = {svd_secs / results['cg'][1]:.1f}x")


if __name__ == "__main__":
    main()
