"""ImplicitALS against implicit 0.7.3, side by side in one process.

Same problem for both: k = 64, 15 iterations, 3 CG steps, float32, 2 threads, the same
regularisation, and the same confidences. implicit weights an observed pair by the value it is
given (times its alpha) and an unobserved one by 1, so it gets the matrix of c = 1 + alpha * r
with alpha=1; ImplicitALS gets the counts r and alpha. implicit runs with its BLAS pool at one
thread (as it asks); both use 2 threads for their own loops.

Time per iteration: each library's own per-iteration clock (implicit's fit callback,
ImplicitALS.history_["seconds"]), the median over the iterations of a fit; ``--repeats`` fits of
each, alternating. The table shows the median of each library's fits, and the ratio is the median
over the pairs of fits (one of each, back to back) of their ratio. Both start from ImplicitALS's seeded initial factors and update the
users first, so they run the same algorithm and should reach the same loss. Quality: implicit's own calculate_loss on both sets of factors, and
precision@10 / nDCG@10 (this library's metrics, train items left out) on a seeded per-user 20%
holdout.

Then the tuned comparison: each library as it ships (implicit with its own random start), reg and
alpha chosen by nDCG@10 on a validation split of the training data (a further per-user 20%),
refitted on the whole training set with the chosen values, and scored on the test holdout.

    ALS_LIB_DATA_DIR=... python benchmarks/implicit_als.py [--repeats 3] [--sets ml-100k,...]
        [--no-tune]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

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
                                        num_threads=THREADS)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sets", default="ml-100k,ml-latest-small,synthetic-1M")
    ap.add_argument("--reg", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--no-tune", dest="tune", action="store_false")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    import implicit
    from implicit.cpu._als import calculate_loss

    print(f"implicit {implicit.__version__}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {THREADS} threads; "
          f"k={K}, {ITERS} iterations, {CG_STEPS} CG steps, float32, "
          f"reg={args.reg}, alpha={args.alpha} (c = 1 + alpha r)")
    head = (f"{'data':<16}{'nnz':>9}  {'implicit ms/it':>14}  "
            f"{'ours ms/it':>10}  {'ratio':>5}  {'loss impl':>10}  "
            f"{'loss ours':>10}  {'P@10 impl':>9}  {'P@10 ours':>9}  "
            f"{'nDCG impl':>9}  {'nDCG ours':>9}")
    rows, tuned = [], []
    for name in args.sets.split(","):
        data = dataset(name)
        train, test = als_lib.per_user_holdout(data, fraction=0.2, seed=0)
        C = implicit_matrix(train, args.alpha)
        t_impl, t_ours = [], []
        for _ in range(args.repeats):
            impl, t = fit_implicit(C, args.reg, initial_factors(train))
            t_impl.append(np.median(t))
            ours, t = fit_ours(train, args.reg, args.alpha)
            t_ours.append(np.median(t))
        a, b = 1e3 * np.median(t_impl), 1e3 * np.median(t_ours)
        # each pair of fits ran back to back, under the same load: the median of the paired
        # ratios is steadier than the ratio of the medians on a shared machine
        ratio = float(np.median(np.array(t_ours) / np.array(t_impl)))
        loss_i = calculate_loss(C, impl.user_factors, impl.item_factors,
                                args.reg, num_threads=THREADS)
        loss_o = calculate_loss(C, ours.user_factors, ours.item_factors,
                                args.reg, num_threads=THREADS)
        shell = ImplicitALS.from_factors(impl.user_factors, impl.item_factors,
                                         train)
        mi = evaluate_ranking(shell, test, (10,))
        mo = evaluate_ranking(ours, test, (10,))
        if args.tune:
            tuned.append(tune(name, train, test))
        rows.append(f"{name:<16}{train.nnz:>9,}  {a:>14.1f}  {b:>10.1f}  "
                    f"{ratio:>5.2f}  {loss_i:>10.7f}  {loss_o:>10.7f}  "
                    f"{mi['precision@10']:>9.4f}  {mo['precision@10']:>9.4f}  "
                    f"{mi['ndcg@10']:>9.4f}  {mo['ndcg@10']:>9.4f}")
        print(rows[-1] if len(rows) > 1 else head + "\n" + rows[-1], flush=True)
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
