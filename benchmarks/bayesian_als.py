"""Every explicit model of Chapter 8 on ml-100k's official folds u1..u5, with fit times.

Per fold, one process, one thread (Surprise is single-threaded):

- ExplicitALS tuned without the test fold: a validation split (10 %, seed 0) of the fold's
  u<n>.base chooses (k, reg) at 12 iterations, then the fewest iterations whose validation RMSE
  is within 0.001 of that; refitted on the whole u<n>.base.
- Surprise SVD and SVD++ with their defaults (random_state=0).
- BayesianALS (k = 10, 100 samples after 20 burn-in sweeps; set before any test score was
  seen) without and with ``who_rated``, seeds 0, 1, 2; the variant is also scored on the
  validation split, so the choice between variants needs no test fold either.

Fit times: the fastest of ``--repeats`` fits for ExplicitALS and SVD (fits alternate), one fit
for the others. Prints the per-fold table, the mean and sd over folds, and the ALS / SVD fit-time
ratio (the issue asks for at most 1/3).

    ALS_LIB_DATA_DIR=... python benchmarks/bayesian_als.py [--repeats 5] [--folds 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np
import torch

import als_lib
from als_lib import BayesianALS, ExplicitALS, load_movielens_fold, search, train_test_split

torch.set_num_threads(1)
SEEDS = (0, 1, 2)
VARIANTS = ("none", "users", "items", "both")


def surprise_models():
    from surprise import SVD, SVDpp
    return {"SVD": lambda: SVD(random_state=0), "SVD++": lambda: SVDpp(random_state=0)}


def surprise_fit(make, train):
    import pandas as pd
    from surprise import Dataset, Reader

    df = pd.DataFrame({"u": train.users, "i": train.items, "r": train.values})
    trainset = Dataset.load_from_df(df, Reader(rating_scale=(1, 5))).build_full_trainset()
    model = make()
    start = time.perf_counter()
    model.fit(trainset)
    return model, time.perf_counter() - start


def surprise_rmse(model, test):
    est = np.array([model.predict(int(u), int(i)).est for u, i in zip(test.users, test.items)])
    return float(np.sqrt(np.mean((est - test.values) ** 2)))


def tune_als(base):
    fit, valid = train_test_split(base, 0.1, seed=0)
    grid = als_lib.grid(factors=[32, 64, 128], reg=[0.07, 0.1, 0.15])
    best = search(ExplicitALS(iterations=12), grid, fit, valid, progress=False)
    iters = als_lib.grid(iterations=[4, 6, 8, 12])
    by_iter = search(ExplicitALS(**best.best_params), iters, fit, valid, progress=False)
    ok = [r for r in by_iter.results if r["score"] >= by_iter.results[-1]["score"] - 0.001]
    return {**best.best_params, "iterations": ok[0]["iterations"]}


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folds", default="1,2,3,4,5")
    args = ap.parse_args()
    import surprise

    print(f"als_lib {als_lib.__version__}, torch {torch.__version__}, scikit-surprise "
          f"{surprise.__version__}, {platform.machine()}, 1 thread")
    rows = []
    for fold in [int(f) for f in args.folds.split(",")]:
        base, test = load_movielens_fold(fold, progress=False)
        row = {"fold": f"u{fold}"}
        params = tune_als(base)
        row["als_params"] = params
        als_t, svd_t = [], []
        makers = surprise_models()
        for _ in range(args.repeats):
            als, t = timed(lambda: ExplicitALS(**params).fit(base, progress=False))
            als_t.append(t)
            svd, t = surprise_fit(makers["SVD"], base)
            svd_t.append(t)
        row["ExplicitALS"] = (als.rmse(test), min(als_t))
        row["SVD"] = (surprise_rmse(svd, test), min(svd_t))
        svdpp, t = surprise_fit(makers["SVD++"], base)
        row["SVD++"] = (surprise_rmse(svdpp, test), t)
        fit, valid = train_test_split(base, 0.1, seed=0)
        for who in VARIANTS:
            seeds = SEEDS if who in ("none", "both") else SEEDS[:1]
            res = []
            for seed in seeds:
                m, t = timed(lambda: BayesianALS(who_rated=who, seed=seed).fit(
                    base, progress=False))
                res.append((m.rmse(test), t))
            val = BayesianALS(who_rated=who).fit(fit, progress=False).rmse(valid)
            row[f"BPMF-{who}"] = (np.mean([r for r, _ in res]), np.mean([t for _, t in res]),
                                  np.std([r for r, _ in res], ddof=1) if len(res) > 1 else
                                  float("nan"), val)
        rows.append(row)
        print(f"{row['fold']}: ALS {params} " + "  ".join(
            f"{k} {v[0]:.4f}" for k, v in row.items() if isinstance(v, tuple)), flush=True)

    names = ["ExplicitALS", "SVD", "SVD++"] + [f"BPMF-{w}" for w in VARIANTS]
    print("\ntest RMSE per fold (BPMF: mean over seeds 0, 1, 2 for none/both; seed 0 for "
          "users/items), fit seconds")
    print(f"{'model':<14}" + "".join(f"{r['fold']:>9}" for r in rows)
          + f"{'mean':>9}{'sd':>8}{'fit s':>8}")
    for name in names:
        vals = [r[name][0] for r in rows]
        secs = np.mean([r[name][1] for r in rows])
        print(f"{name:<14}" + "".join(f"{v:9.4f}" for v in vals)
              + f"{np.mean(vals):9.4f}{np.std(vals, ddof=1) if len(vals) > 1 else 0:8.4f}"
              + f"{secs:8.2f}")
    print("\nBPMF seed spread (sd over seeds 0, 1, 2, per fold):")
    for name in ("BPMF-none", "BPMF-both"):
        print(f"  {name:<10}" + "".join(f"{r[name][2]:9.4f}" for r in rows))
    print("BPMF validation RMSE (10 % of u<n>.base, seed 0), per fold:")
    for name in [f"BPMF-{w}" for w in VARIANTS]:
        print(f"  {name:<10}" + "".join(f"{r[name][3]:9.4f}" for r in rows))
    ratios = [r["ExplicitALS"][1] / r["SVD"][1] for r in rows]
    print("\nExplicitALS (tuned) / Surprise SVD fit time, per fold: "
          + ", ".join(f"{x:.2f}" for x in ratios) + f"  (max {max(ratios):.2f})")
    for r in rows:
        print(f"  {r['fold']}: ALS {r['als_params']}, {r['ExplicitALS'][1]:.3f} s; "
              f"SVD {r['SVD'][1]:.3f} s")


if __name__ == "__main__":
    main()
