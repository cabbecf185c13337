"""How the time of one ExplicitALS iteration grows with the data, on the CPU.

    python benchmarks/scaling.py [--threads N] [--max-ratings 10000000]

Synthetic explicit ratings (`synthetic_ratings`, rank 16, seed 0) from 0.1M to 10M ratings, with
users growing like the ratings (n/167) and items like n^0.7 (4000 items at 1M, 20,047 at 10M):
the popular items' rows grow longer as the data grows, as in real catalogues. ExplicitALS,
k = 64, solver "cg" (3 steps), evaluation off: the median solve time of 7 iterations after a
warm-up fit (the better of two such fits, against interference from other processes), with the sparse products split into cache-sized column blocks (the library's
default, `als_lib.als.CACHE_BYTES`) and without (one block, as before Chapter 9).

The target (issue 14): 10M ratings take at most 12x the time of 1M ratings. Generating the 10M
set takes about 40 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

import als_lib.als as als
from als_lib import ExplicitALS, synthetic_ratings

SIZES = (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)


def shape_for(n: int) -> tuple[int, int]:
    """(users, items) for n ratings: 6000 x 4000 at 1M, users ~ n, items ~ n^0.7."""
    return round(6000 * n / 1e6), round(4000 * (n / 1e6) ** 0.7)


def ms_per_iteration(ratings, blocked: bool, iterations: int = 7) -> float:
    keep = als.CACHE_BYTES
    als.CACHE_BYTES = keep if blocked else 1 << 62
    try:
        ExplicitALS(64, iterations=1).fit(ratings, progress=False)  # warm-up
        best = min(float(np.median(np.diff(ExplicitALS(64, iterations=iterations).fit(
            ratings, progress=False).history_["seconds"]))) for _ in range(2))
    finally:
        als.CACHE_BYTES = keep
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-ratings", type=int, default=SIZES[-1])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"{platform.machine()}, ExplicitALS k=64 cg, cache blocks of "
          f"{als.CACHE_BYTES // 1024} KB\n")
    print(f"{'ratings':>10} {'users':>7} {'items':>7} {'one block ms':>13} {'blocked ms':>11}")
    times = {}
    for n in (s for s in SIZES if s <= args.max_ratings):
        users, items = shape_for(n)
        r = synthetic_ratings(users, items, n, rank=16, seed=0)
        one, blocked = ms_per_iteration(r, False), ms_per_iteration(r, True)
        times[n] = (one, blocked)
        print(f"{n:>10,} {users:>7} {items:>7} {one:>13.0f} {blocked:>11.0f}", flush=True)
    if 1_000_000 in times and 10_000_000 in times:
        for j, name in enumerate(("one block", "blocked")):
            ratio = times[10_000_000][j] / times[1_000_000][j]
            verdict = "OK" if ratio <= 12 else "MISSED"
            print(f"10M / 1M time, {name}: {ratio:.1f}x (target <= 12x: {verdict})")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\n({time.perf_counter() - start:.0f} s)")
