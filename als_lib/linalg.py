r"""Solving the normal equations of ALS: batched SPD solves and conjugate gradient (Chapter 5).

Every half-step of ALS solves, for each user :math:`u` at once, a small symmetric positive
definite (SPD) system :math:`A_u \mathbf{x}_u = \mathbf{b}_u` with
:math:`A_u = V_{I_u}^\top V_{I_u} + \lambda w_u I`. Two ways are used by the library:

- `spd_solve`: exact, by batched Cholesky factorisation (``torch.linalg.cholesky_ex`` and
  ``torch.cholesky_solve``);
- `conjugate_gradient`: iterative and matrix-free, batched over independent systems,
  warm-startable (Takacs, Pilaszy & Tikk 2011), needing only products :math:`A\mathbf{p}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["spd_solve", "conjugate_gradient", "CGResult", "NotPositiveDefiniteError"]


class NotPositiveDefiniteError(ValueError):
    """A matrix given to a Cholesky-based solver is not symmetric positive definite."""


def _check_system(A: torch.Tensor, b: torch.Tensor) -> None:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be a (batch of) square matrices (..., n, n); got shape {tuple(A.shape)}.")
    if b.shape != A.shape[:-1]:
        raise ValueError(
            f"b must have shape {tuple(A.shape[:-1])} to match A of shape {tuple(A.shape)}; "
            f"got {tuple(b.shape)}."
        )
    if not (torch.isfinite(A).all() and torch.isfinite(b).all()):
        raise ValueError("A and b must be finite; found NaN or inf.")


def spd_solve(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Solve :math:`A\mathbf{x} = \mathbf{b}` for a batch of SPD matrices by Cholesky,
    :math:`A = L L^\top`, then two triangular solves.

    Shapes: ``A`` (..., n, n), ``b`` (..., n); returns ``x`` (..., n). Raises
    `NotPositiveDefiniteError`, naming the first failing batch index, if a matrix is not
    positive definite (for ALS: give reg > 0).
    """
    _check_system(A, b)
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info > 0).any()):
        bad = torch.nonzero(info > 0)[0].tolist()
        raise NotPositiveDefiniteError(
            f"{int((info > 0).sum())} of the matrices are not positive definite (first at batch "
            f"index {bad}; the leading minor of order {int(info.flatten()[info.flatten() > 0][0])} "
            "is not positive). For ALS normal equations V^T V + lambda n I this means lambda is "
            "0 (or tiny) and a user or item has too few ratings: use a larger reg."
        )
    return torch.cholesky_solve(b.unsqueeze(-1), L).squeeze(-1)


@dataclass
class CGResult:
    """Solution ``x`` and the residual norms :math:`\\lVert \\mathbf{b} - A\\mathbf{x}_j \\rVert`
    after each step ``j = 0..steps`` (``residual_norms[j]`` has one entry per system)."""

    x: torch.Tensor
    residual_norms: torch.Tensor


def conjugate_gradient(
    A: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor | None,
    x0: torch.Tensor | None = None,
    steps: int | None = None,
    tol: float | None = None,
    *,
    r0: torch.Tensor | None = None,
) -> CGResult:
    r"""Batched conjugate gradient for SPD systems :math:`A\mathbf{x} = \mathbf{b}`.

    Parameters
    ----------
    A : (..., n, n) SPD matrices, or a function computing the products :math:`A\mathbf{p}` for
        a (..., n) batch of vectors (matrix-free: ALS never forms :math:`A`).
    b : right-hand sides (..., n). May be None when ``r0`` is given.
    x0 : starting point (warm start); default zero.
    steps : number of CG steps; default n (exact in exact arithmetic).
    tol : stop early once every system has :math:`\lVert\mathbf{r}\rVert \le` tol
        :math:`\lVert\mathbf{r}_0\rVert` (checking costs a synchronisation per step).
    r0 : the initial residual :math:`\mathbf{b} - A\mathbf{x}_0`, if the caller has it already.

    Each system gets its own step sizes :math:`\alpha_j, \beta_j`:

    .. math::
        \alpha_j = \frac{\mathbf{r}_j^\top\mathbf{r}_j}{\mathbf{p}_j^\top A\mathbf{p}_j},\quad
        \mathbf{x}_{j+1} = \mathbf{x}_j + \alpha_j\mathbf{p}_j,\quad
        \mathbf{r}_{j+1} = \mathbf{r}_j - \alpha_j A\mathbf{p}_j,\quad
        \mathbf{p}_{j+1} = \mathbf{r}_{j+1} + \frac{\mathbf{r}_{j+1}^\top\mathbf{r}_{j+1}}{\mathbf{r}_j^\top\mathbf{r}_j}\mathbf{p}_j .

    In exact arithmetic the error :math:`\lVert\mathbf{x}_j - \mathbf{x}^*\rVert_A` never increases
    (CG minimises it over a growing Krylov subspace); the residual 2-norm may go up and down.
    A system whose residual is exactly zero stays where it is.
    """
    if callable(A):
        matvec = A
    else:
        if b is None:
            raise ValueError("b is required unless r0 is given with a matrix-free A.")
        _check_system(A, b)
        matvec = lambda v: (A @ v.unsqueeze(-1)).squeeze(-1)  # noqa: E731
    if r0 is None and b is None:
        raise ValueError("give b (the right-hand sides) or r0 (the initial residual).")
    ref = b if b is not None else r0
    x = torch.zeros_like(ref) if x0 is None else x0.clone()
    if r0 is not None:
        r = r0.clone()
    else:
        r = b - matvec(x) if x0 is not None else b.clone()
    n = ref.shape[-1]
    steps = n if steps is None else int(steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}.")
    p = r.clone()
    rs = (r * r).sum(-1)
    history = [rs]
    stop = None if tol is None else (tol * tol) * rs
    tiny = torch.finfo(rs.dtype).tiny
    for _ in range(steps):
        Ap = matvec(p)
        # alpha = r.r / p.Ap per system; a system with r = 0 (converged, or no equations) has
        # p = 0 and gets alpha = 0 (for SPD A, p.Ap = 0 only when p = 0)
        alpha = (rs / torch.linalg.vecdot(p, Ap).clamp_min(tiny)).unsqueeze(-1)
        x.addcmul_(alpha, p)
        r.addcmul_(alpha, Ap, value=-1.0)
        rs_new = torch.linalg.vecdot(r, r)
        history.append(rs_new)
        if stop is not None and bool((rs_new <= stop).all()):
            break
        p = torch.addcmul(r, (rs_new / rs.clamp_min(tiny)).unsqueeze(-1), p)
        rs = rs_new
    return CGResult(x, torch.stack(history).sqrt())
