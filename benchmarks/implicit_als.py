"""ImplicitALS against implicit 0.7.3, side by side in one process, timed as a user waits.

Same problem for both: k = 64, 15 iterations, 3 CG steps, float32, the same regularisation, and the
same confidences. implicit weights an observed pair by the value it is given (times its alpha)
and an unobserved one by 1, so it gets the matrix of c = 1 + alpha * r with alpha=1; ImplicitALS
gets the counts r and alpha. implicit runs with its BLAS pool at one thread (as it asks) and
``num_threads`` set to torch's thread count; ImplicitALS runs as a user gets it (``threads=None``:
it decides per fit, `als_lib.threads`).

Time: the whole ``fit`` call by the wall clock (set-up included), divided by the 15 iterations;
``--repeats`` fits of each library, alternating, after one warm-up fit of each; the table shows
the median of each library's fits with their range, and the ratio of the medians. The first fit
in a fresh process (imports done, data loaded, nothing warmed up) is timed separately, in a child
process per library. Conditions (``--modes``):

- ``idle``: torch at 2 threads, nothing else running;
- ``busy``: the same, with one busy process (a Python loop) pinned to the last CPU, started before
  the fits and killed after them by this script, by its process id;
- ``threads4``, ``threads8`` (``threadsN``): torch (and implicit) at N threads on this machine's CPUs, as a container that
  sees the host's cores starts them.

Both start from ImplicitALS's seeded initial factors and update the users first, so they run the
same algorithm and should reach the same loss. Quality: implicit's own calculate_loss on both sets
of factors, and precision@10 / nDCG@10 (this library's metrics, train items left out) on a seeded
per-user 20% holdout.

Then the tuned comparison: each library as it ships (implicit with its own random start), reg and
alpha chosen by nDCG@10 on a validation split of the training data (a further per-user 20%),
refitted on the whole training set with the chosen values, and scored on the test holdout.

    ALS_LIB_DATA_DIR=... python benchmarks/implicit_als.py [--repeats 5] [--sets ml-100k,...]
        [--modes idle,busy,threads8] [--no-tune]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import als_lib
from als_lib import ImplicitALS, evaluate_ranking

K, ITERS, CG_STEPS, THREADS = 64, 15, 3, 2


def dataset(name: str):
    if name == "synthetic-1M":
        return als_lib.synthetic_ratings(25_000, 10_000, 1_000_000, rank=16,
                                         kind="implicit", seed=0)
    return als_lib.load_movielens(name)


def initial_factors(train):
    """ImplicitALS's seeded starting point, handed to implicit as well, so that both run the
    same algorithm from the same start (implicit only draws factors that are not set)."""
    from als_lib.objective import init_params

    p = init_params(train.n_users, train.n_items, K, 0.0, False, 0.01, 0,
                    torch.float32, "cpu", train.user_counts(), train.item_counts())
    return p.U.numpy(), p.V.numpy()


GRID = [(reg, alpha) for reg in (1.0, 3.0, 10.0, 30.0, 100.0) for alpha in (0.3, 1.0, 3.0, 10.0)]
SEEDS = (0, 1, 2)


def implicit_matrix(train, alpha):
    """implicit's input for c = 1 + alpha r: the confidences themselves."""
    C = train.to_csr().astype(np.float32)
    C.data = 1 + alpha * C.data
    return C


def fit_implicit(C, reg, start=None, seed=0):
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=K, regularization=reg, alpha=1.0,
                                        iterations=ITERS, random_state=seed,
                                        num_threads=torch.get_num_threads())
    if start is not None:
        model.user_factors, model.item_factors = (a.copy() for a in start)
    times = []
    with threadpool_limits(1, "blas"):
        model.fit(C, show_progress=False,
                  callback=lambda it, secs, loss: times.append(secs))
    return model, times


def fit_ours(train, reg, alpha, seed=0):
    model = ImplicitALS(K, reg=reg, alpha=alpha, iterations=ITERS,
                        cg_steps=CG_STEPS, seed=seed).fit(train, progress=False)
    return model, list(np.diff(model.history_["seconds"]))


@contextmanager
def busy_process():
    """One busy process (a Python loop) pinned to the last CPU this process may use, for the
    length of the block; killed by its process id afterwards."""
    cpus = sorted(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(proc.pid, {cpus[-1]})
        time.sleep(0.3)
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


FIRST_FIT = """
import os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, {here!r})
import torch
torch.set_num_threads({threads})
import implicit_als as b
data = b.dataset({name!r})
train, _ = b.als_lib.per_user_holdout(data, fraction=0.2, seed=0)
C = b.implicit_matrix(train, {alpha})
start = time.perf_counter()
if {lib!r} == "implicit":
    b.fit_implicit(C, {reg}, b.initial_factors(train))
else:
    b.fit_ours(train, {reg}, {alpha})
print(time.perf_counter() - start)
"""


def first_fit(name, lib, reg, alpha, threads):
    """Seconds of the first fit in a fresh process (imports and data loading not counted)."""
    code = FIRST_FIT.format(here=os.path.dirname(os.path.abspath(__file__)), name=name,
                            lib=lib, reg=reg, alpha=alpha, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def wall_fits(train, C, reg, alpha, repeats):
    """Whole fits by the wall clock, ms per iteration, the two libraries alternating."""
    fit_implicit(C, reg, initial_factors(train))                # warm-up
    fit_ours(train, reg, alpha)
    t_impl, t_ours = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        impl, _ = fit_implicit(C, reg, initial_factors(train))
        t_impl.append((time.perf_counter() - start) / ITERS * 1e3)
        start = time.perf_counter()
        ours, _ = fit_ours(train, reg, alpha)
        t_ours.append((time.perf_counter() - start) / ITERS * 1e3)
    return np.array(t_impl), np.array(t_ours), impl, ours


def spread(t):
    return f"{np.median(t):.1f} [{t.min():.1f}-{t.max():.1f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sets", default="ml-100k,ml-latest-small,synthetic-1M")
    ap.add_argument("--modes", default="idle,busy,threads8")
    ap.add_argument("--reg", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--no-tune", dest="tune", action="store_false")
    args = ap.parse_args()
    import implicit
    from implicit.cpu._als import calculate_loss

    print(f"implicit {implicit.__version__}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} usable CPUs; k={K}, {ITERS} iterations, "
          f"{CG_STEPS} CG steps, float32, reg={args.reg}, alpha={args.alpha} (c = 1 + alpha r)")
    print(f"ms per iteration = whole fit wall time / {ITERS}, median [min-max] of "
          f"{args.repeats} fits each, alternating")
    head = (f"{'data':<16}{'mode':<9}{'implicit ms/it':>20}  {'ours ms/it':>20}  "
            f"{'ratio':>5}  {'threads ours':>12}")
    print(head)
    rows, tuned, quality, firsts = [], [], [], []
    for name in args.sets.split(","):
        data = dataset(name)
        train, test = als_lib.per_user_holdout(data, fraction=0.2, seed=0)
        C = implicit_matrix(train, args.alpha)
        for mode in args.modes.split(","):
            threads = int(mode[7:]) if mode.startswith("threads") else THREADS
            torch.set_num_threads(threads)
            if mode == "busy":
                with busy_process():
                    t_impl, t_ours, impl, ours = wall_fits(train, C, args.reg, args.alpha,
                                                           args.repeats)
            else:
                t_impl, t_ours, impl, ours = wall_fits(train, C, args.reg, args.alpha,
                                                       args.repeats)
            used = sorted(set(ours.history_.get("threads", [None, "-"])[1:]))
            ratio = np.median(t_ours) / np.median(t_impl)
            print(f"{name:<16}{mode:<9}{spread(t_impl):>20}  {spread(t_ours):>20}  "
                  f"{ratio:>5.2f}  {','.join(map(str, used)):>12}", flush=True)
        torch.set_num_threads(THREADS)
        firsts.append((name, first_fit(name, "implicit", args.reg, args.alpha, THREADS),
                       first_fit(name, "ours", args.reg, args.alpha, THREADS)))
        loss_i = calculate_loss(C, impl.user_factors, impl.item_factors,
                                args.reg, num_threads=THREADS)
        loss_o = calculate_loss(C, ours.user_factors, ours.item_factors,
                                args.reg, num_threads=THREADS)
        shell = ImplicitALS.from_factors(impl.user_factors, impl.item_factors,
                                         train)
        mi = evaluate_ranking(shell, test, (10,))
        mo = evaluate_ranking(ours, test, (10,))
        quality.append(f"{name:<16}{train.nnz:>9,}  {loss_i:>10.7f}  {loss_o:>10.7f}  "
                       f"{mi['precision@10']:>9.4f}  {mo['precision@10']:>9.4f}  "
                       f"{mi['ndcg@10']:>9.4f}  {mo['ndcg@10']:>9.4f}")
        if args.tune:
            tuned.append(tune(name, train, test))
    print(f"\nfirst fit in a fresh process, {THREADS} threads, seconds (whole fit)")
    print(f"{'data':<16}{'implicit':>9}{'ours':>9}{'ratio':>7}")
    for name, a, b in firsts:
        print(f"{name:<16}{a:>9.3f}{b:>9.3f}{b / a:>7.2f}")
    print(f"\nquality of the last fits above (the same start, the same algorithm)")
    print(f"{'data':<16}{'nnz':>9}  {'loss impl':>10}  {'loss ours':>10}  {'P@10 impl':>9}  "
          f"{'P@10 ours':>9}  {'nDCG impl':>9}  {'nDCG ours':>9}")
    for row in quality:
        print(row)
    if tuned:
        print(f"\ntuned on validation (grid reg x alpha = {{1, 3, 10, 30, 100}} x "
              f"{{0.3, 1, 3, 10}}), test metrics @10, mean ± sd over seeds {SEEDS}")
        print(f"{'data':<16}{'implicit reg, alpha':>20}  {'P@10':>13}  {'nDCG':>13}  "
              f"{'ours reg, alpha':>16}  {'P@10':>13}  {'nDCG':>13}")
        for row in tuned:
            print(row)


def tune(name, train, test):
    """Each library tuned by nDCG@10 on validation (seed 0), then the mean test metrics over
    SEEDS at the chosen values."""
    fit_part, valid = als_lib.per_user_holdout(train, fraction=0.2, seed=1)
    out = []
    for lib in ("implicit", "ours"):
        def score(reg, alpha, tr, te, seed=0):
            if lib == "implicit":
                m, _ = fit_implicit(implicit_matrix(tr, alpha), reg, seed=seed)
                m = ImplicitALS.from_factors(m.user_factors, m.item_factors, tr)
            else:
                m, _ = fit_ours(tr, reg, alpha, seed=seed)
            return evaluate_ranking(m, te, (10,))
        best = max(GRID, key=lambda g: score(*g, fit_part, valid)["ndcg@10"])
        finals = [score(*best, train, test, seed=s) for s in SEEDS]
        out.append(f"{best[0]:g}, {best[1]:g}")
        for m in ("precision@10", "ndcg@10"):
            v = [f[m] for f in finals]
            out.append(f"{np.mean(v):.4f}±{np.std(v):.4f}")
    return (f"{name:<16}{out[0]:>20}  {out[1]:>13}  {out[2]:>13}  {out[3]:>16}  {out[4]:>13}  "
            f"{out[5]:>13}")

if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)")
