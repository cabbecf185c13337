r"""Bayesian ALS: Bayesian probabilistic matrix factorisation by Gibbs sampling (Chapter 8).

The model of Salakhutdinov and Mnih (2008), with the biases as an extra coordinate (as
`ExplicitALS` folds them in): user rows :math:`\tilde{\mathbf{x}}_u = [\mathbf{u}_u; b_u]`,
item rows :math:`\tilde{\mathbf{y}}_i = [\mathbf{v}_i; b_i]`, and

.. math::
    r_{ui} \sim \mathcal{N}\big(\mu + b_u + b_i + \mathbf{u}_u^\top\mathbf{v}_i,\
    \alpha^{-1}\big), \qquad
    \tilde{\mathbf{x}}_u \sim \mathcal{N}(\boldsymbol{\mu}_U, \Lambda_U^{-1}), \qquad
    (\boldsymbol{\mu}_U, \Lambda_U) \sim \text{Normal-Wishart},

the same for the items, and :math:`\alpha \sim \text{Gamma}`. A Gibbs sweep draws each
block from its distribution given all the others. With the item side fixed, a user's row
has the Gaussian conditional whose precision matrix is the one ALS builds,

.. math::
    P_u = \Lambda_U + \alpha\, \tilde Y_{I_u}^\top \tilde Y_{I_u}, \qquad
    \tilde{\mathbf{x}}_u \sim \mathcal{N}\big(P_u^{-1}(\Lambda_U\boldsymbol{\mu}_U
    + \alpha \tilde Y_{I_u}^\top \tilde{\mathbf{r}}_u),\ P_u^{-1}\big),

(item rows :math:`[\mathbf{v}_i; 1]`, target :math:`\tilde r_{ui} = r_{ui} - \mu - b_i`): a
Cholesky factorisation :math:`P_u = L_u L_u^\top`, one solve for the mean and one triangular
solve :math:`L_u^\top \mathbf{e} = \mathbf{z}` to add noise of covariance :math:`P_u^{-1}`.
Predictions are averaged over the samples kept after burn-in (and clipped to the rating
range after averaging).

``who_rated`` adds what the training data says about *who rated what* (as SVD++ does),
with the prior means of Macau (Simm et al. 2015): a user's prior mean becomes
:math:`\boldsymbol{\mu}_U + B^\top \mathbf{f}_u`, with
:math:`\mathbf{f}_u = |I_u|^{-1/2}\mathbb{1}_{I_u}` the user's rated items, and the link
matrix :math:`B` (items x (k+1)) is sampled too, from its matrix-normal conditional.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch

from .als import Side, gram_matrices
from .linalg import torch_csr
from .model import (
    Recommender,
    _is_int,
    _sync,
    check_choice,
    check_device,
    check_flags_seed_device,
    check_number,
    check_positive_int,
    check_threads,
)
from .objective import FactorParams, augment, predict
from .threads import ThreadPlan

__all__ = ["BayesianALS", "sample_wishart", "sample_normal_wishart", "sample_rows",
           "sample_link"]

WHO_RATED = ("none", "users", "items", "both")

# Hyperpriors (Salakhutdinov and Mnih 2008): mu_0 = 0, beta_0 = 2, W_0 = I, nu_0 = d;
# alpha ~ Gamma(1, 1) and lambda_beta ~ Gamma(1, 1) (shape, rate): weak next to the data.
BETA0 = 2.0
GAMMA_PRIOR = (1.0, 1.0)


# ------------------------------------------------------------------ the conditionals
def sample_wishart(scale_inv: torch.Tensor, df: float,
                   rng: np.random.Generator) -> torch.Tensor:
    r"""One draw :math:`\Lambda \sim \mathcal{W}(W, \nu)` (mean :math:`\nu W`), given
    :math:`W^{-1}` (float64, d x d), by Bartlett's decomposition: with
    :math:`W^{-1} = R R^\top` and :math:`A` lower triangular,
    :math:`A_{jj}^2 \sim \chi^2_{\nu - j}`, :math:`A_{jl} \sim \mathcal{N}(0, 1)` below the
    diagonal, :math:`\Lambda = R^{-\top} A A^\top R^{-1}`.

    Parameters
    ----------
    scale_inv : torch.Tensor
        :math:`W^{-1}`, symmetric positive definite (d x d, float64).
    df : float
        The degrees of freedom :math:`\nu` (more than d - 1).
    rng : numpy.random.Generator
        Draws the normal and chi-squared variates.

    Returns
    -------
    torch.Tensor
        :math:`\Lambda` (d x d, float64, on the device of ``scale_inv``).
    """
    d = scale_inv.shape[0]
    A = np.tril(rng.standard_normal((d, d)), -1)
    A[np.diag_indices(d)] = np.sqrt(rng.chisquare(df - np.arange(d)))
    R = torch.linalg.cholesky(scale_inv)
    T = torch.linalg.solve_triangular(R.mT, torch.from_numpy(A).to(R), upper=True)
    return T @ T.mT


def sample_normal_wishart(E: torch.Tensor, rng: np.random.Generator, *,
                          extra_scale: torch.Tensor | None = None,
                          extra_df: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw :math:`(\boldsymbol{\mu}, \Lambda)` given rows
    :math:`\mathbf{e}_1..\mathbf{e}_N \sim \mathcal{N}(\boldsymbol{\mu}, \Lambda^{-1})`
    (``E``, float64, N x d) under the Normal-Wishart prior
    :math:`\boldsymbol{\mu}_0 = 0, \beta_0, W_0 = I, \nu_0 = d`:

    .. math::
        \Lambda \sim \mathcal{W}\Big(\big(I + N S + \tfrac{\beta_0 N}{\beta_0 + N}
        \bar{\mathbf{e}}\bar{\mathbf{e}}^\top + \Sigma_+\big)^{-1},\ d + N + \nu_+\Big),
        \qquad \boldsymbol{\mu} \sim \mathcal{N}\Big(\tfrac{N\bar{\mathbf{e}}}{\beta_0 + N},
        \big((\beta_0 + N)\Lambda\big)^{-1}\Big),

    :math:`S` the rows' covariance; ``extra_scale`` :math:`\Sigma_+` and ``extra_df``
    :math:`\nu_+` come from a link matrix whose prior also scales with :math:`\Lambda`.

    Parameters
    ----------
    E : torch.Tensor
        The rows :math:`\mathbf{e}_1..\mathbf{e}_N` (N x d, float64).
    rng : numpy.random.Generator
        Draws the normal and chi-squared variates.
    extra_scale : torch.Tensor, optional
        :math:`\Sigma_+` (d x d), added to the Wishart's inverse scale; default none.
    extra_df : int
        :math:`\nu_+`, added to its degrees of freedom.

    Returns
    -------
    mu : torch.Tensor
        The mean :math:`\boldsymbol{\mu}` (d,).
    Lam : torch.Tensor
        The precision :math:`\Lambda` (d x d).
    """
    N, d = E.shape
    mean = E.mean(0)
    C = E - mean
    scale_inv = (torch.eye(d, dtype=E.dtype, device=E.device) + C.mT @ C
                 + (BETA0 * N / (BETA0 + N)) * torch.outer(mean, mean))
    if extra_scale is not None:
        scale_inv = scale_inv + extra_scale
    Lam = sample_wishart(scale_inv, d + N + extra_df, rng)
    beta = BETA0 + N
    L = torch.linalg.cholesky(Lam)
    z = torch.from_numpy(rng.standard_normal(d)).to(E)
    mu = N * mean / beta + torch.linalg.solve_triangular(
        L.mT, z.unsqueeze(1), upper=True).squeeze(1) / math.sqrt(beta)
    return mu, Lam


def sample_rows(side: Side, Yt: torch.Tensor, target: torch.Tensor,
                prior_mean: torch.Tensor, Lam: torch.Tensor, alpha: float,
                generator: torch.Generator) -> torch.Tensor:
    r"""One draw of every row of one side from its Gaussian conditional,
    the other side fixed:
    :math:`P_u = \Lambda + \alpha \tilde Y_{I_u}^\top \tilde Y_{I_u}`,
    :math:`\mathbf{h}_u = \Lambda \mathbf{m}_u + \alpha \tilde Y_{I_u}^\top
    \tilde{\mathbf{r}}_u`, :math:`\tilde{\mathbf{x}}_u = P_u^{-1}\mathbf{h}_u
    + L_u^{-\top}\mathbf{z}_u` with :math:`P_u = L_u L_u^\top`.

    Parameters
    ----------
    side : Side
        The ratings seen from this side (CSR).
    Yt : torch.Tensor
        The other side's rows :math:`\tilde{\mathbf{y}}_i` (n x d).
    target : torch.Tensor
        :math:`\tilde r_{ui}` in the CSR order of ``side``.
    prior_mean : torch.Tensor
        :math:`\mathbf{m}_u`: (d,) for all rows, or (rows, d). float64.
    Lam : torch.Tensor
        The prior precision (d x d, float64).
    alpha : float
        The noise precision.
    generator : torch.Generator
        Draws the noise (on the device of ``Yt``).

    Returns
    -------
    torch.Tensor
        The rows (rows x d, float64). Rows without ratings are drawn
        from the prior.
    """
    G = gram_matrices(side, Yt)                  # every Y_I^T Y_I, batched
    T = torch_csr(side.crow, side.col, target, side.shape)
    b = T @ Yt                                   # every Y_I^T r~
    P = alpha * G.double() + Lam
    h = alpha * b.double() + prior_mean @ Lam    # Lam is symmetric
    L = torch.linalg.cholesky(P)
    mean = torch.cholesky_solve(h.unsqueeze(-1), L)
    z = torch.randn(mean.shape, generator=generator, dtype=torch.float64,
                    device=mean.device)
    noise = torch.linalg.solve_triangular(L.mT, z, upper=True)
    return (mean + noise).squeeze(-1)


class _Features:
    r"""The rated-items features of one side, :math:`F` (rows x n_other) with
    :math:`F_{uj} = |I_u|^{-1/2}` for the items :math:`j \in I_u` the row rated, and its
    thin SVD :math:`F = W \operatorname{diag}(s) Q^\top` (computed once per fit)."""

    def __init__(self, side: Side):
        counts = side.crow[1:] - side.crow[:-1]
        scale = counts.double().clamp_min(1).rsqrt()
        values = torch.repeat_interleave(scale, counts)
        self.F = torch_csr(side.crow, side.col, values, side.shape)
        W, s, Qt = torch.linalg.svd(self.F.to_dense(), full_matrices=False)
        self.W, self.s, self.Q = W, s, Qt.mT


def sample_link(feat: _Features, E: torch.Tensor, Lam: torch.Tensor, lam_beta: float,
                generator: torch.Generator) -> torch.Tensor:
    r"""One draw of the link matrix :math:`B` (n_other x d) given the rows' offsets from
    their mean, :math:`E = F B + \text{noise}` (noise rows
    :math:`\mathcal{N}(0, \Lambda^{-1})`), and the prior rows
    :math:`\mathbf{b}_j \sim \mathcal{N}(0, (\lambda_\beta\Lambda)^{-1})`: the
    matrix normal

    .. math::
        B \sim \mathcal{MN}\big((F^\top F + \lambda_\beta I)^{-1} F^\top E,\
        (F^\top F + \lambda_\beta I)^{-1},\ \Lambda^{-1}\big),

    drawn with the SVD of :math:`F` (no n_other x n_other solve):
    :math:`(F^\top F + \lambda I)^{-1} = Q (S^2 + \lambda)^{-1} Q^\top
    + (I - Q Q^\top)/\lambda`.

    Parameters
    ----------
    feat : _Features
        The rated-items features :math:`F` of the side (rows x n_other), with its SVD.
    E : torch.Tensor
        The rows' offsets from their mean (rows x d).
    Lam : torch.Tensor
        The rows' precision :math:`\Lambda` (d x d).
    lam_beta : float
        :math:`\lambda_\beta`, the precision scale of the link's prior rows.
    generator : torch.Generator
        Draws the noise (on the device of ``E``).

    Returns
    -------
    torch.Tensor
        :math:`B` (n_other x d).
    """
    W, s, Q = feat.W, feat.s, feat.Q
    d = E.shape[1]
    M = Q @ ((s / (s * s + lam_beta)).unsqueeze(1) * (W.mT @ E))
    z1 = torch.randn(len(s), d, generator=generator, dtype=E.dtype, device=E.device)
    z2 = torch.randn(Q.shape[0], d, generator=generator, dtype=E.dtype, device=E.device)
    noise = Q @ ((s * s + lam_beta).rsqrt().unsqueeze(1) * z1)
    noise = noise + (z2 - Q @ (Q.mT @ z2)) / math.sqrt(lam_beta)
    # columns coloured by Lam^{-1} = L^{-T} L^{-1}: noise @ L^{-1}
    L = torch.linalg.cholesky(Lam)
    noise = torch.linalg.solve_triangular(L.mT, noise.mT, upper=True).mT
    return M + noise


class _Block:
    """One side of the sampler: its ratings, its rows and their hyperparameters."""

    def __init__(self, side: Side, X: torch.Tensor, features: _Features | None):
        self.side, self.X, self.features = side, X, features
        d = X.shape[1]
        self.mu = torch.zeros(d, dtype=torch.float64, device=X.device)
        self.Lam = torch.eye(d, dtype=torch.float64, device=X.device)
        self.B = None if features is None else torch.zeros(
            side.shape[1], d, dtype=torch.float64, device=X.device)
        self.lam_beta = 1.0

    def offsets(self) -> torch.Tensor:
        """:math:`F B` (rows x d), the part of each row's prior mean from what it rated."""
        return self.features.F @ self.B

    def sample_hyper(self, rng: np.random.Generator, gen: torch.Generator) -> None:
        X = self.X.double()
        if self.features is None:
            self.mu, self.Lam = sample_normal_wishart(X, rng)
            return
        BtB = self.B.mT @ self.B
        self.mu, self.Lam = sample_normal_wishart(
            X - self.offsets(), rng, extra_scale=self.lam_beta * BtB,
            extra_df=self.B.shape[0])
        self.B = sample_link(self.features, X - self.mu, self.Lam, self.lam_beta, gen)
        a, b = GAMMA_PRIOR
        shape = a + self.B.numel() / 2
        rate = b + 0.5 * float(((self.B @ self.Lam) * self.B).sum())
        self.lam_beta = float(rng.gamma(shape, 1.0 / rate))

    def prior_mean(self) -> torch.Tensor:
        if self.features is None:
            return self.mu
        return self.mu + self.offsets()


# ------------------------------------------------------------------ the estimator
class BayesianALS(Recommender):
    r"""Bayesian matrix factorisation (BPMF) by Gibbs sampling: ALS's normal equations,
    sampled instead of solved.

    Parameters
    ----------
    factors : int
        k, the number of latent factors.
    samples : int
        Gibbs samples averaged for the predictions (kept after burn-in).
    burn_in : int
        Sweeps discarded first.
    biases : bool
        Sample :math:`b_u, b_i` as an extra coordinate of the rows;
        :math:`\mu` is the training mean.
    alpha : float or None
        The noise precision :math:`\alpha = 1/\sigma^2`: sampled from its
        Gamma posterior (None, the default) or fixed.
    who_rated : {"none", "users", "items", "both"}
        Let the prior mean of each user (``"users"``), item (``"items"``)
        or both depend on which items the user rated (which users rated the
        item) in the training data, through a sampled link matrix. The default,
        ``"items"``, is the variant that validation RMSE picks over two data sets (the
        smallest worst gap to the best variant): on random 80/20 splits of ml-100k and
        ml-latest-small (``benchmarks/defaults.py``, ``benchmarks/results/defaults_cpu.txt``),
        ``"both"`` is best on ml-100k (0.0026 ahead of ``"items"``) but worse than plain BPMF
        on ml-latest-small, where ``"items"`` is best.
    clip : bool
        Clip the averaged predictions to the training ratings' range.
    init_std : float
        Standard deviation of the random initial factors.
    seed : int
        Seeds every draw.
    device : str or torch.device
        Where torch computes (``"cpu"``, ``"cuda"``).
    dtype : torch.dtype
        Of the stored samples and the sums over ratings (the k x k
        Cholesky factorisations are always float64).
    threads : int, optional
        CPU threads for the fit (set-up and sweeps); None (the default) decides per fit
        (`als_lib.threads`), as `ExplicitALS` does.

    Attributes
    ----------
    params_ : FactorParams
        The posterior mean predictor as a factor model: the kept samples'
        factors side by side, scaled by :math:`1/\sqrt{S}` (so
        :math:`\mathbf{u}^\top\mathbf{v}` is the average of the S samples'
        products; ``user_factors`` has ``factors * samples`` columns), and the
        biases averaged over the samples.
    history_ : dict
        Per sweep: ``iteration``, ``alpha``, ``train_rmse`` (the sample's),
        ``seconds`` (cumulative), ``threads``, and with an ``eval_set`` ``sample_rmse``
        (that sample alone) and ``eval_rmse`` (the average of the samples
        kept so far; None during burn-in).
    """

    def __init__(self, factors: int = 10, *, samples: int = 100, burn_in: int = 20,
                 biases: bool = True, alpha: float | None = None,
                 who_rated: str = "items", clip: bool = True, init_std: float = 0.1,
                 seed: int = 0, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, threads: int | None = None):
        self.factors, self.samples, self.burn_in = factors, samples, burn_in
        self.biases, self.alpha, self.who_rated = biases, alpha, who_rated
        self.clip, self.init_std, self.seed = clip, init_std, seed
        self.device, self.dtype = device, dtype
        self.threads = threads

    def _validate_params(self) -> None:
        check_positive_int(self.factors, "factors")
        check_threads(self.threads)
        check_positive_int(self.samples, "samples")
        if not _is_int(self.burn_in) or self.burn_in < 0:
            raise ValueError(
                f"burn_in must be an integer >= 0; got {self.burn_in!r}.")
        if self.alpha is not None:
            check_number(self.alpha, "alpha", strict=True)
        check_choice(self.who_rated, "who_rated", WHO_RATED)
        check_number(self.init_std, "init_std")
        check_flags_seed_device(self, ("biases", "clip"))

    # ------------------------------------------------------------------ fitting
    def fit(self, ratings, eval_set=None, *, callback: Callable | None = None,
            progress: bool = True) -> "BayesianALS":
        """Run the sampler on ``ratings`` and keep the posterior mean predictor.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            The training ratings.
        eval_set : same types, optional
            Held-out ratings (same index space), scored after every sweep:
            the sample alone and the running average.
        callback : callable, optional
            ``callback(iteration, model)`` after each sweep; returning True
            stops early (the samples kept so far are used).
        progress : bool
            Show a progress bar.

        Returns
        -------
        BayesianALS
            The model itself.

        Raises
        ------
        FloatingPointError
            If a sweep produces non-finite values (extreme ratings, or float32 overflow).
        """
        r, ev = self._check_inputs(ratings, eval_set)
        work = len(r.values) * (int(self.factors) + bool(self.biases))
        # the whole fit, set-up included, on the plan's threads
        plan = ThreadPlan(self.threads, work, check_device(self.device))
        with plan, torch.no_grad():
            return self._sample(r, ev, plan, callback, progress)

    def _sample(self, r, ev, plan, callback, progress) -> "BayesianALS":
        """The body of `fit`: set-up, the sweeps, the posterior mean."""
        from tqdm import tqdm

        dev, dt = check_device(self.device), self.dtype
        k, bias = int(self.factors), bool(self.biases)
        d = k + bias
        mu_g = float(r.values.mean())
        self._range = (float(r.values.min()), float(r.values.max()))
        rng = np.random.default_rng(self.seed)
        gen = torch.Generator(device=dev)
        gen.manual_seed(int(rng.integers(2**62)))

        def block(rows, cols, shape, feats):
            side = Side.build(rows, cols, r.values, shape, False, dt, dev)
            X = torch.randn(shape[0], d, generator=gen, device=dev,
                            dtype=torch.float64) * float(self.init_std)
            if bias:
                X[:, k] = 0.0
            return _Block(side, X.to(dt), _Features(side) if feats else None)

        who = self.who_rated
        users = block(r.users, r.items, r.shape, who in ("users", "both"))
        items = block(r.items, r.users, r.shape[::-1], who in ("items", "both"))
        alpha = 2.0 if self.alpha is None else float(self.alpha)
        tu = torch.tensor(r.users, device=dev)     # copies: the arrays may be
        ti = torch.tensor(r.items, device=dev)     # read-only
        tv = torch.tensor(r.values, device=dev, dtype=torch.float64)
        if ev is not None:
            eu = torch.tensor(ev.users, device=dev)
            ei = torch.tensor(ev.items, device=dev)
            evals = torch.tensor(ev.values, dtype=torch.float64, device=dev)
            eval_sum = torch.zeros(len(ev.values), dtype=torch.float64, device=dev)
        keys = ("iteration", "alpha", "train_rmse", "sample_rmse", "eval_rmse",
                "seconds", "threads")
        self.history_ = {key: [] for key in keys}
        kept_u, kept_i = [], []
        elapsed = 0.0
        total = int(self.burn_in) + int(self.samples)
        for it in tqdm(range(1, total + 1), desc="Gibbs sweeps",
                       disable=not progress):
            plan.iteration()
            start = time.perf_counter()
            for this, other in ((users, items), (items, users)):
                this.sample_hyper(rng, gen)
                # the other side's rows [v_i, 1] (biases folded in)
                Yt = augment(other.X[:, :k], other.X[:, k] if bias else None,
                             ones_last=True)
                target = this.side.values - mu_g
                if bias:
                    target = target - other.X[this.side.col, k]
                this.X = sample_rows(this.side, Yt, target, this.prior_mean(),
                                     this.Lam, alpha, gen).to(dt)
            sample = _as_params(users.X, items.X, k, bias, mu_g)
            pred = predict(sample, tu, ti)
            sse = float(((pred - tv) ** 2).sum())
            if self.alpha is None:
                a, b = GAMMA_PRIOR
                alpha = float(rng.gamma(a + len(tv) / 2, 1.0 / (b + sse / 2)))
            _sync(dev)
            seconds = time.perf_counter() - start
            plan.record(seconds)
            elapsed += seconds
            if not (math.isfinite(sse) and math.isfinite(alpha)):
                raise FloatingPointError(
                    f"the sampler produced non-finite values at sweep {it}; "
                    "check the ratings for extreme values or fit in "
                    "dtype=torch.float64.")
            keep = it > self.burn_in
            if keep:
                kept_u.append(users.X.clone())
                kept_i.append(items.X.clone())
            h = self.history_
            h["iteration"].append(it)
            h["alpha"].append(alpha)
            h["train_rmse"].append(math.sqrt(sse / len(tv)))
            h["seconds"].append(elapsed)
            h["threads"].append(plan.counts[-1])
            sample_rmse = eval_rmse = None
            if ev is not None:
                p = predict(sample, eu, ei)
                sample_rmse = _rmse(self._clipped(p), evals)
                if keep:
                    eval_sum += p
                    eval_rmse = _rmse(self._clipped(eval_sum / len(kept_u)), evals)
            h["sample_rmse"].append(sample_rmse)
            h["eval_rmse"].append(eval_rmse)
            if callback is not None and callback(it, self):
                break
        if not kept_u:      # stopped during burn-in: keep the last sample
            kept_u.append(users.X.clone())
            kept_i.append(items.X.clone())
        params, self.user_samples_, self.item_samples_ = _average(
            kept_u, kept_i, k, bias, mu_g)
        self._set_fitted(r, params)
        return self

    # ------------------------------------------------------------------ predictions
    def _clipped(self, pred):
        if not self.clip:
            return pred
        lo, hi = self._rating_range()
        return pred.clamp(lo, hi) if isinstance(pred, torch.Tensor) else np.clip(pred, lo, hi)

    def _rating_range(self) -> tuple[float, float]:
        if getattr(self, "_range", None) is None:     # loaded from a file
            self._range = (float(self._seen.data.min()), float(self._seen.data.max()))
        return self._range

    def predict(self, users, items) -> np.ndarray:
        """The posterior mean prediction (the average of the kept samples'
        predictions), clipped to the training ratings' range if ``clip``.

        Parameters
        ----------
        users, items : array_like of int
            Equal-length user and item indices of the fitted shape.

        Returns
        -------
        numpy.ndarray
            One float64 prediction per pair.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        IndexError
            For an index outside the fitted shape.
        ValueError
            If ``users`` and ``items`` differ in shape.
        """
        return self._clipped(super().predict(users, items))

    def predict_std(self, users, items) -> np.ndarray:
        r"""The spread of the kept samples' predictions
        :math:`\mu + b_u + b_i + \mathbf{u}_u^\top\mathbf{v}_i` (before clipping)
        for pairs of indices: the posterior uncertainty of each prediction
        (noise :math:`\alpha^{-1}` not included).

        Parameters
        ----------
        users, items : array_like of int
            Equal-length user and item indices of the fitted shape.

        Returns
        -------
        numpy.ndarray
            One float64 standard deviation per pair.
        """
        u, i = self._pair_indices(users, items)
        samples = self.n_samples_
        p = self.params_
        dev = p.U.device
        tu, ti = torch.tensor(u, device=dev), torch.tensor(i, device=dev)
        with torch.no_grad():
            # the stored factors are the samples side by side, times 1/sqrt(S)
            Us = p.U[tu].double().view(len(u), samples, -1)
            Vs = p.V[ti].double().view(len(i), samples, -1)
            pred = (Us * Vs).sum(-1) * samples
            if p.user_bias is not None:
                pred = pred + self.user_samples_[:, tu].mT + self.item_samples_[:, ti].mT
        return pred.std(dim=1, correction=1 if samples > 1 else 0).cpu().numpy()

    @property
    def n_samples_(self) -> int:
        """int: The number of samples averaged."""
        self._check_fitted()
        return self.params_.U.shape[1] // int(self.factors)

    def _extra_arrays(self) -> dict:
        if self.user_samples_ is None:
            return {}
        return {"user_bias_samples": self.user_samples_.cpu().numpy(),
                "item_bias_samples": self.item_samples_.cpu().numpy()}

    def _load_extra(self, f, device) -> None:
        self._range = None
        self.user_samples_ = self.item_samples_ = None
        if "user_bias_samples" in f:
            self.user_samples_ = torch.from_numpy(f["user_bias_samples"]).to(device)
            self.item_samples_ = torch.from_numpy(f["item_bias_samples"]).to(device)


def _as_params(XU, XV, k, bias, mu_g) -> FactorParams:
    """One sample (rows ``[u, b]``) as float64 `FactorParams`, to predict with."""
    XU, XV = XU.double(), XV.double()
    return FactorParams(XU[:, :k], XV[:, :k], mu_g, XU[:, k] if bias else None,
                        XV[:, k] if bias else None)


def _rmse(pred: torch.Tensor, values: torch.Tensor) -> float:
    return math.sqrt(float(((pred - values) ** 2).mean()))


def _average(kept_u, kept_i, k, bias, mu_g):
    """The kept samples as one factor model: factors side by side times
    :math:`1/\\sqrt{S}` and the biases averaged; also the bias samples
    (S x rows), for `BayesianALS.predict_std`."""
    S = len(kept_u)
    scale = 1.0 / math.sqrt(S)
    U = torch.cat([x[:, :k] for x in kept_u], dim=1) * scale
    V = torch.cat([x[:, :k] for x in kept_i], dim=1) * scale
    if not bias:
        return FactorParams(U, V, mu_g), None, None
    bu = torch.stack([x[:, k] for x in kept_u]).double()
    bi = torch.stack([x[:, k] for x in kept_i]).double()
    params = FactorParams(U, V, mu_g, bu.mean(0).to(U.dtype), bi.mean(0).to(U.dtype))
    return params, bu, bi
