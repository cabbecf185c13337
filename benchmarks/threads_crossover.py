"""Where two threads start to pay: ExplicitALS and ImplicitALS fits on 1 and 2 threads, idle.

Synthetic data (low rank plus noise, power-law popularity) from 2,500 to 320,000 ratings, k = 64,
15 iterations, solver "cg", each model's ``threads`` fixed at 1 and at 2. A fit is timed whole by
the wall clock; the table shows the median of ``--repeats`` fits (alternating 1 and 2 threads)
and their range. `als_lib.threads.MIN_SHARED_WORK` (ratings x factors) is read from it: the
smallest size at which two threads are faster for both models. Run it on an idle machine.

    python benchmarks/threads_crossover.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

import als_lib
from als_lib import ExplicitALS, ImplicitALS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"usable CPUs {als_lib.threads.usable_cpus()}; k = 64, 15 iterations, cg; "
          f"median [min-max] of {args.repeats} fits, ms per iteration (fit wall / 15)")
    print(f"{'ratings':>9} {'|Omega| k':>11}  {'model':<12}{'1 thread':>20}{'2 threads':>20}"
          f"{'2 / 1':>7}")
    for nnz in (2_500, 10_000, 40_000, 80_000, 320_000):
        users, items = max(50, nnz // 40), max(40, nnz // 60)
        for name, model, kind in (("ExplicitALS", ExplicitALS, "explicit"),
                                  ("ImplicitALS", ImplicitALS, "implicit")):
            data = als_lib.synthetic_ratings(users, items, nnz, rank=16, kind=kind, seed=0)
            times = {1: [], 2: []}
            for t in (1, 2):
                model(64, threads=t).fit(data, progress=False)        # warm-up
            for _ in range(args.repeats):
                for t in (1, 2):
                    start = time.perf_counter()
                    model(64, iterations=15, threads=t).fit(data, progress=False)
                    times[t].append((time.perf_counter() - start) / 15 * 1e3)
            cell = {t: f"{np.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]" for t, v in times.items()}
            print(f"{data.nnz:>9,} {data.nnz * 64:>11,}  {name:<12}{cell[1]:>20}{cell[2]:>20}"
                  f"{np.median(times[2]) / np.median(times[1]):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
