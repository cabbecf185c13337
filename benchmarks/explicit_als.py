"""Speed and accuracy of ExplicitALS, printed as a table, timed as a user waits.

    python benchmarks/explicit_als.py [--repeats 5] [--modes idle,busy,threads8] [--skip-cv]
                                      [--only-defaults]

1. ml-100k (100,000 ratings) and synthetic 1M ratings (6000 users x 4000 items, power-law
   popularity), k=64, 15 iterations, solvers "cg" and "cholesky", the defaults otherwise
   (``threads=None``): the whole ``fit`` by the wall clock (set-up included) / 15, median and
   range of ``--repeats`` fits after one warm-up, under each mode: ``idle`` (torch at 2 threads),
   ``busy`` (the same, with one busy process pinned to the last CPU, started and killed by this
   script, by its process id) and ``threadsN`` (torch at N threads on this machine's CPUs, e.g.
   ``threads4``, ``threads8``).
2. The default fit against Surprise SVD's default fit (its defaults: 100 factors, 20 epochs),
   whole fits by the wall clock, alternating, on the book's 80/20 split of ml-100k and of
   ml-latest-small; the first ExplicitALS fit in a fresh process; and the test RMSE of both
   default fits (a faster default is only worth having if it is as good; Surprise clips its
   predictions to the rating scale, ExplicitALS does not). ``--only-defaults`` runs this part
   alone.
3. ml-100k, the book's fixed 80/20 split (seed 0), biases, k=64: lambda chosen by 5-fold
   cross-validation on the training part only, then test RMSE of the CG and exact solvers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

from als_lib import kfold, load_movielens, synthetic_ratings, train_test_split
from als_lib.als import ExplicitALS

K, ITERATIONS = 64, 15


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from implicit_als import busy_process  # noqa: E402


def wall_fits(make, ratings, repeats):
    """Whole fits by the wall clock, in ms per iteration, after one warm-up fit."""
    make().fit(ratings, progress=False)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        make().fit(ratings, progress=False)
        out.append((time.perf_counter() - start) / ITERATIONS * 1e3)
    return np.array(out)


def spread(t):
    return f"{np.median(t):.1f} [{t.min():.1f}-{t.max():.1f}]"


def surprise_vs_default(repeats):
    """Default ExplicitALS fit against Surprise SVD's default fit, whole fits, alternating."""
    import pandas as pd
    import surprise

    print(f"\ndefault fit, whole fit by the wall clock (s), median [min-max] of {repeats}, "
          "alternating; torch at 2 threads")
    print(f"{'data':<17}{'ExplicitALS()':>22}{'Surprise SVD()':>22}{'ratio':>7}"
          f"{'first fit (fresh process)':>27}{'test RMSE ours':>16}{'test RMSE SVD':>15}")
    for name in ("ml-100k", "ml-latest-small"):
        train, test = train_test_split(load_movielens(name, progress=False), 0.2, seed=0)
        frame = pd.DataFrame({"u": train.users, "i": train.items, "r": train.values})
        scale = (float(train.values.min()), float(train.values.max()))
        trainset = surprise.Dataset.load_from_df(
            frame, surprise.Reader(rating_scale=scale)).build_full_trainset()
        ours, svd = [], []
        ExplicitALS().fit(train, progress=False)
        for _ in range(repeats):
            start = time.perf_counter()
            model = ExplicitALS().fit(train, progress=False)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            algo = surprise.SVD(random_state=0).fit(trainset)
            svd.append(time.perf_counter() - start)
        rmse_ours = model.rmse(test)
        # Surprise predicts from raw ids (here the same integers); unknown ones get its default
        pred = np.array([algo.predict(int(u), int(i)).est
                         for u, i in zip(test.users, test.items)])
        rmse_svd = float(np.sqrt(np.mean((pred - test.values) ** 2)))
        code = ("import time, torch; torch.set_num_threads(2)\n"
                "from als_lib import ExplicitALS, load_movielens, train_test_split\n"
                f"tr, _ = train_test_split(load_movielens({name!r}, progress=False), 0.2, seed=0)\n"
                "s = time.perf_counter(); ExplicitALS().fit(tr, progress=False)\n"
                "print(time.perf_counter() - s)")
        first = float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, check=True).stdout.split()[-1])
        ours, svd = np.array(ours), np.array(svd)
        print(f"{name:<17}{np.median(ours):>9.3f} [{ours.min():.3f}-{ours.max():.3f}]"
              f"{np.median(svd):>9.3f} [{svd.min():.3f}-{svd.max():.3f}]"
              f"{np.median(ours) / np.median(svd):>7.2f}{first:>27.3f}"
              f"{rmse_ours:>16.4f}{rmse_svd:>15.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--modes", default="idle,busy,threads8")
    ap.add_argument("--skip-cv", action="store_true", help="use lambda=0.13 instead of running the cross-validation")
    ap.add_argument("--only-defaults", action="store_true",
                    help="only the default fit against Surprise SVD's (part 2)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {len(os.sched_getaffinity(0))} usable CPUs, "
          f"{platform.processor() or platform.machine()}, k={K}, {ITERATIONS} iterations\n")
    if args.only_defaults:
        torch.set_num_threads(2)
        surprise_vs_default(args.repeats)
        return
    ml = load_movielens("ml-100k", progress=False)
    syn = synthetic_ratings(6000, 4000, 1_000_000, rank=16, seed=0)
    print(f"ms per iteration = whole fit wall time / {ITERATIONS}, median [min-max] of "
          f"{args.repeats} fits (1 for cholesky on 1M), threads=None")
    print(f"{'data':<14}{'solver':<10}" + "".join(f" {m:>22}" for m in args.modes.split(","))
          + "  threads used (last fit)")
    for name, data in (("ml-100k", ml), ("synthetic 1M", syn)):
        for solver in ("cg", "cholesky"):
            reps = args.repeats if (solver == "cg" or name == "ml-100k") else 1
            cells, used = [], []
            for mode in args.modes.split(","):
                torch.set_num_threads(int(mode[7:]) if mode.startswith("threads") else 2)
                last = {}

                def make():
                    last["m"] = ExplicitALS(K, iterations=ITERATIONS, solver=solver)
                    return last["m"]
                if mode == "busy":
                    with busy_process():
                        t = wall_fits(make, data, reps)
                else:
                    t = wall_fits(make, data, reps)
                cells.append(spread(t))
                used.append("".join(map(str, last["m"].history_.get("threads", [None, "-"])[1:])))
            print(f"{name:<14}{solver:<10}" + "".join(f" {c:>22}" for c in cells)
                  + "  " + " / ".join(used), flush=True)
    torch.set_num_threads(2)
    try:
        surprise_vs_default(args.repeats)
    except ImportError:
        print("\n(scikit-surprise not installed: pip install -r benchmarks/requirements.txt)")

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


if __name__ == "__main__":
    main()
