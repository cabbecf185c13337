"""OpenMP parallel regions per ALS iteration: how many barriers a fit crosses.

Every torch operation on a CPU tensor large enough to split runs as one OpenMP parallel region
(``GOMP_parallel``) that ends in a barrier. On an idle machine a region costs microseconds; when
another process holds a core, the thread that waits at a barrier spins while the thread holding
the work waits for a core, and one region can cost milliseconds (Chapter 9). This script counts
the regions with an ``LD_PRELOAD`` shim (``regions/count_gomp.c``, compiled here with ``cc``)
around libgomp's ``GOMP_parallel``, for a fit of 1 and of ``--iterations`` iterations, and prints
the difference per iteration (set-up cancels out) and the set-up's own count.

    ALS_LIB_DATA_DIR=... python benchmarks/regions.py [--threads 2] [--iterations 15]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _shim() -> str:
    out = Path(tempfile.gettempdir()) / "als_lib_count_gomp.so"
    src = HERE / "regions" / "count_gomp.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(out), str(src), "-ldl"],
                       check=True)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=15)
    args = ap.parse_args()
    shim = _shim()
    if shim not in os.environ.get("LD_PRELOAD", ""):
        env = dict(os.environ, LD_PRELOAD=shim)
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))

    import torch

    import als_lib
    from als_lib import BayesianALS, ExplicitALS, ImplicitALS

    lib = ctypes.CDLL(shim)
    torch.set_num_threads(args.threads)
    data = als_lib.load_movielens("ml-100k", progress=False)
    train, _ = als_lib.train_test_split(data, 0.2, seed=0)
    n = args.iterations

    def regions(make) -> int:
        lib.gomp_regions_reset()
        make().fit(train, progress=False)
        return lib.gomp_regions_count()

    print(f"torch {torch.__version__}, {args.threads} threads (threads=... passed to each model), "
          f"ml-100k train ({train.nnz:,} ratings), k = 64")
    print(f"{'model':<34}{'regions per iteration':>22}{'set-up (1-iteration fit)':>26}")
    models = {
        "ExplicitALS (cg)": lambda it: ExplicitALS(64, iterations=it, threads=args.threads),
        "ExplicitALS (cholesky)": lambda it: ExplicitALS(64, iterations=it, solver="cholesky",
                                                         threads=args.threads),
        "ImplicitALS (cg)": lambda it: ImplicitALS(64, iterations=it, threads=args.threads),
        "BayesianALS (k = 10)": lambda it: BayesianALS(10, samples=it, burn_in=0,
                                                       threads=args.threads),
    }
    for name, make in models.items():
        regions(lambda: make(1))                      # warm-up: first-call set-up
        one = regions(lambda: make(1))
        many = regions(lambda: make(n))
        print(f"{name:<34}{(many - one) / (n - 1):>22.1f}{one:>26d}")


if __name__ == "__main__":
    main()
