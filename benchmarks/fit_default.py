"""What the default ``fit`` costs, and what tracking the objective adds.

    python benchmarks/fit_default.py [--threads N] [--repeats R]

ml-100k, the book's 80/20 split (seed 0), ExplicitALS with k = 64, 15 iterations, solver
"cg" (the defaults otherwise). Wall time of a whole ``fit`` (set-up included), median over
``--repeats`` fits after one warm-up fit:

- ``fit(train)``: the default, the fast path (no objective in the loop);
- ``fit(train, track_objective=True)``: J after every half-step and the training RMSE;
- ``fit(train, eval_set=test)``: the RMSE on the test part after every iteration.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from als_lib import ExplicitALS, load_movielens, train_test_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, test = train_test_split(load_movielens("ml-100k", progress=False), 0.2, seed=0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}")
    print("ml-100k train (80,000 ratings), ExplicitALS k=64, 15 iterations, solver cg")
    runs = {
        "fit(train)  [default]": {},
        "fit(train, track_objective=True)": {"track_objective": True},
        "fit(train, eval_set=test)": {"eval_set": test},
    }
    base = None
    for label, kw in runs.items():
        ExplicitALS(factors=64, iterations=15).fit(train, progress=False, **kw)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ExplicitALS(factors=64, iterations=15).fit(train, progress=False, **kw)
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        base = base or t
        print(f"{label:36s} {t * 1000:7.0f} ms   x{t / base:.2f}")


if __name__ == "__main__":
    main()
