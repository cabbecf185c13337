"""Time one epoch of gradient descent on MovieLens 100K (all 100,000 ratings).

    python benchmarks/gd_epoch.py [--factors 64] [--batch-size 1024] [--epochs 10] [--threads N]

Prints a table: milliseconds per training epoch (median over epochs; the per-epoch objective
and RMSE evaluation are not counted) for SGD, Adam and full-batch GD. Target (issue 3): one
SGD epoch at k=64, batch 1024, under 200 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from als_lib import load_movielens
from als_lib.gd import GradientDescentMF


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ratings = load_movielens("ml-100k", progress=False)
    print(f"ml-100k: {ratings.nnz} ratings | k={args.factors} | batch {args.batch_size} | "
          f"torch {torch.__version__} | {torch.get_num_threads()} threads | {os.cpu_count()} cores | "
          f"{platform.processor() or platform.machine()}")
    print(f"{'method':<8} {'ms/epoch (median)':>18} {'min':>8} {'max':>8}  final train RMSE")
    for method, lr in (("sgd", 0.005), ("adam", 0.003), ("gd", 0.0005)):
        model = GradientDescentMF(args.factors, reg=0.1, lr=lr, epochs=args.epochs, method=method,
                                  batch_size=args.batch_size, seed=0)
        model.fit(ratings, progress=False, track_objective=True)
        per_epoch = np.diff(model.history_["seconds"]) * 1000
        print(f"{method:<8} {np.median(per_epoch):18.1f} {per_epoch.min():8.1f} {per_epoch.max():8.1f}"
              f"  {model.history_['train_rmse'][-1]:.4f}")


if __name__ == "__main__":
    main()
