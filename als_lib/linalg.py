r"""Solving the normal equations of ALS (Chapter 5): LU, Cholesky and CG.

From scratch, for teaching and small n (plain torch loops over columns,
batched over any leading dimensions): `lu_factor` / `lu_solve` (Gaussian
elimination with partial pivoting, recorded as :math:`PA = LU`),
`forward_substitution`, `back_substitution`, `cholesky`.

Fast paths, which ALS uses: every half-step of ALS solves, for each user
:math:`u` at once, a small symmetric positive definite (SPD) system
:math:`A_u \mathbf{x}_u = \mathbf{b}_u` with
:math:`A_u = V_{I_u}^\top V_{I_u} + \lambda w_u I`. Two ways are used by the
library:

- `spd_solve`: exact, by batched Cholesky factorisation
  (``torch.linalg.cholesky_ex`` and ``torch.cholesky_solve``);
- `conjugate_gradient`: iterative and matrix-free, batched over independent
  systems, warm-startable (Takacs, Pilaszy & Tikk 2011), needing only
  products :math:`A\mathbf{p}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = [
    "LUFactors", "lu_factor", "lu_solve", "forward_substitution",
    "back_substitution", "cholesky", "spd_solve", "conjugate_gradient",
    "CGResult", "SingularMatrixError", "NotPositiveDefiniteError",
    "torch_csr", "ratings_csr", "all_finite",
]


class SingularMatrixError(ValueError):
    """Gaussian elimination met a zero pivot: the matrix is singular (to
    working precision)."""


class NotPositiveDefiniteError(ValueError):
    """A matrix given to a Cholesky-based solver is not symmetric positive
    definite."""


def _batch_where(mask: torch.Tensor) -> list[int]:
    """The leading (batch) index of the first True entry of ``mask`` (empty
    for one matrix)."""
    return [int(i) for i in torch.nonzero(mask)[0]] if mask.ndim else []


def _check_square(A: torch.Tensor, name: str = "A") -> None:
    if not isinstance(A, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor; got {type(A).__name__}."
        )
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            f"{name} must be a (batch of) square matrices (..., n, n); "
            f"got shape {tuple(A.shape)}."
        )
    if not A.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point numbers; got {A.dtype}."
        )
    if not bool(torch.isfinite(A).all()):
        raise ValueError(f"{name} must be finite; found NaN or inf.")


@dataclass
class LUFactors:
    r"""The result of `lu_factor`: :math:`PA = LU` stored compactly.

    Attributes
    ----------
    LU : torch.Tensor
        (..., n, n): :math:`U` on and above the diagonal and the multipliers of
        :math:`L` (whose diagonal is all ones) below it.
    perm : torch.Tensor
        (..., n): the row order, :math:`PA = A[\text{perm}]`.
    """

    LU: torch.Tensor
    perm: torch.Tensor

    @property
    def L(self) -> torch.Tensor:
        """torch.Tensor: :math:`L`, unit lower triangular (..., n, n)."""
        n = self.LU.shape[-1]
        eye = torch.eye(n, dtype=self.LU.dtype, device=self.LU.device)
        return self.LU.tril(-1) + eye

    @property
    def U(self) -> torch.Tensor:
        """torch.Tensor: :math:`U`, upper triangular (..., n, n)."""
        return self.LU.triu()

    @property
    def P(self) -> torch.Tensor:
        """torch.Tensor: The permutation matrix, ``P @ A == A[perm]``."""
        n = self.LU.shape[-1]
        return torch.nn.functional.one_hot(self.perm, n).to(self.LU.dtype)


def lu_factor(
    A: torch.Tensor, *, pivoting: bool = True, rtol: float | None = None
) -> LUFactors:
    r"""Gaussian elimination with partial pivoting, as :math:`PA = LU`.

    Batched. For each column :math:`j`: choose as pivot the row (at or below
    :math:`j`) with the largest :math:`|a_{ij}|` and swap it into row
    :math:`j` (``pivoting=False`` skips this, for demonstration); store the
    multipliers :math:`\ell_{ij} = a_{ij} / a_{jj}` below the diagonal;
    subtract :math:`\ell_{ij}` times row :math:`j` from each row
    :math:`i > j`. About :math:`\tfrac{2}{3}n^3` flops.

    Parameters
    ----------
    A : torch.Tensor
        (..., n, n) square matrices.
    pivoting : bool, optional
        Partial pivoting (default); False only to show why it is needed.
    rtol : float, optional
        Relative size below which a pivot counts as zero; default
        :math:`n\varepsilon` (``rtol=0``: stop only at exact zeros).

    Returns
    -------
    LUFactors
        :math:`L` and :math:`U` packed in one tensor, and the pivots.

    Raises
    ------
    SingularMatrixError
        If a pivot is zero to working precision,
        :math:`|u_{jj}| \le` ``rtol`` :math:`\max|a_{ij}|`; the message
        names the column (and batch index).
    """
    _check_square(A)
    LU = A.clone()
    n = A.shape[-1]
    rtol = n * torch.finfo(A.dtype).eps if rtol is None else rtol
    tol = rtol * A.abs().amax(dim=(-2, -1))
    batch = A.shape[:-2]
    perm = torch.arange(n, device=A.device).expand(*batch, n).clone()
    for j in range(n):
        if pivoting:
            # the pivot row, per matrix: the largest |a_ij| at or below j
            p = LU[..., j:, j].abs().argmax(-1) + j
            rows = torch.arange(n, device=A.device).expand(*batch, n).clone()
            rows[..., j] = p
            rows.scatter_(-1, p.unsqueeze(-1), j)       # swap rows j and p
            LU = LU.gather(-2, rows.unsqueeze(-1).expand(*batch, n, n))
            perm = perm.gather(-1, rows)
        pivot = LU[..., j, j]
        zero = pivot.abs() <= tol
        if bool(zero.any()):
            where = _batch_where(zero)
            at = f" (batch index {where})" if where else ""
            if pivoting:
                why = ("the matrix is singular, so A x = b has no unique "
                       "solution.")
            else:
                why = ("elimination without row exchanges cannot continue."
                       " Partial pivoting (pivoting=True) may avoid it.")
            raise SingularMatrixError(f"zero pivot in column {j}{at}: {why}")
        LU[..., j + 1:, j] /= pivot.unsqueeze(-1)
        LU[..., j + 1:, j + 1:] -= (
            LU[..., j + 1:, j].unsqueeze(-1) * LU[..., j, j + 1:].unsqueeze(-2)
        )
    return LUFactors(LU, perm)


def forward_substitution(
    L: torch.Tensor, b: torch.Tensor, *, unit_diagonal: bool = False
) -> torch.Tensor:
    r"""Solve :math:`L\mathbf{y} = \mathbf{b}` for lower-triangular :math:`L`,
    top row first: :math:`y_i = (b_i - \sum_{j<i} \ell_{ij} y_j) /
    \ell_{ii}`. Batched; about :math:`n^2` flops.

    Parameters
    ----------
    L : torch.Tensor
        (..., n, n), lower triangular (the entries above the diagonal are
        not read).
    b : torch.Tensor
        (..., n).
    unit_diagonal : bool
        Take the diagonal of ``L`` as all ones (the :math:`L` of
        `lu_factor`) without reading it.

    Returns
    -------
    torch.Tensor
        :math:`\mathbf{y}` (..., n).

    Raises
    ------
    TypeError
        If ``L`` is not a floating-point tensor.
    ValueError
        If ``L`` is not square or not finite, or ``b`` does not match its
        shape.
    """
    _check_square(L, "L")
    if b.shape != L.shape[:-1]:
        raise ValueError(
            f"b must have shape {tuple(L.shape[:-1])} to match L of shape "
            f"{tuple(L.shape)}; got {tuple(b.shape)}."
        )
    y = torch.zeros_like(b)
    for i in range(L.shape[-1]):
        s = b[..., i] - (L[..., i, :i] * y[..., :i]).sum(-1)
        y[..., i] = s if unit_diagonal else s / L[..., i, i]
    return y


def back_substitution(U: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Solve :math:`U\mathbf{x} = \mathbf{y}` for upper-triangular
    :math:`U`, bottom row first. Batched.

    Parameters
    ----------
    U : torch.Tensor
        (..., n, n), upper triangular (the entries below the diagonal are not read).
    y : torch.Tensor
        (..., n).

    Returns
    -------
    torch.Tensor
        :math:`\mathbf{x}` (..., n).

    Raises
    ------
    TypeError
        If ``U`` is not a floating-point tensor.
    ValueError
        If ``U`` is not square or not finite, or ``y`` does not match its shape.
    """
    _check_square(U, "U")
    if y.shape != U.shape[:-1]:
        raise ValueError(
            f"y must have shape {tuple(U.shape[:-1])} to match U of shape "
            f"{tuple(U.shape)}; got {tuple(y.shape)}."
        )
    x = torch.zeros_like(y)
    n = U.shape[-1]
    for i in range(n - 1, -1, -1):
        s = y[..., i] - (U[..., i, i + 1:] * x[..., i + 1:]).sum(-1)
        x[..., i] = s / U[..., i, i]
    return x


def lu_solve(factors: LUFactors, b: torch.Tensor) -> torch.Tensor:
    r"""Solve :math:`A\mathbf{x} = \mathbf{b}` from :math:`PA = LU`: permute
    :math:`\mathbf{b}`, then :math:`L\mathbf{y} = P\mathbf{b}` (forward) and
    :math:`U\mathbf{x} = \mathbf{y}` (backward).

    Parameters
    ----------
    factors : LUFactors
        :math:`PA = LU`, from `lu_factor`.
    b : torch.Tensor
        (..., n).

    Returns
    -------
    torch.Tensor
        :math:`\mathbf{x}` (..., n).

    Raises
    ------
    TypeError
        If ``factors`` does not come from `lu_factor`.
    ValueError
        If ``b`` does not match the shape of :math:`A` or is not finite.
    """
    if not isinstance(factors, LUFactors):
        raise TypeError(
            "factors must come from lu_factor; "
            f"got {type(factors).__name__}."
        )
    if b.shape != factors.LU.shape[:-1]:
        raise ValueError(
            f"b must have shape {tuple(factors.LU.shape[:-1])} to match A of "
            f"shape {tuple(factors.LU.shape)}; got {tuple(b.shape)}."
        )
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b must be finite; found NaN or inf.")
    pb = b.gather(-1, factors.perm)
    y = forward_substitution(factors.LU, pb, unit_diagonal=True)
    return back_substitution(factors.LU, y)


def cholesky(A: torch.Tensor) -> torch.Tensor:
    r"""Cholesky factor :math:`L` (lower triangular, positive diagonal) with
    :math:`A = LL^\top`, from scratch, column by column:

    .. math::
        \ell_{jj} = \sqrt{a_{jj} - \textstyle\sum_{k<j} \ell_{jk}^2}, \qquad
        \ell_{ij} = \big(a_{ij} - \textstyle\sum_{k<j} \ell_{ik}\ell_{jk}\big)
        / \ell_{jj} \quad (i > j).

    About :math:`\tfrac{1}{3}n^3` flops, half of LU, and no pivoting.

    Parameters
    ----------
    A : torch.Tensor
        (..., n, n) symmetric positive definite matrices.

    Returns
    -------
    torch.Tensor
        (..., n, n) the lower triangular factors :math:`L`.

    Raises
    ------
    NotPositiveDefiniteError
        If :math:`A` is not symmetric, or a pivot
        :math:`d_j = a_{jj} - \sum_{k<j} \ell_{jk}^2` is not positive to
        working precision, :math:`d_j \le n\varepsilon \max_j a_{jj}`
        (not positive definite, or singular to within rounding). The
        message prints :math:`d_j` only when it is clearly negative; one
        within :math:`\sqrt{\varepsilon}\max_j a_{jj}` of zero is "<= 0
        within rounding", since roundoff alone decides its sign.
    """
    _check_square(A)
    n, eps = A.shape[-1], torch.finfo(A.dtype).eps
    tiny = torch.finfo(A.dtype).tiny
    scale = A.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(tiny)
    asym = (A - A.mT).abs()
    if not bool((asym <= 1e-12 * scale + 8 * eps * scale).all()):
        raise NotPositiveDefiniteError(
            "A is not symmetric, so it has no Cholesky factorisation; "
            "use LU (lu_factor)."
        )
    max_diag = A.diagonal(dim1=-2, dim2=-1).amax(-1).clamp_min(0)
    L = torch.zeros_like(A)
    for j in range(n):
        d = A[..., j, j] - (L[..., j, :j] ** 2).sum(-1)    # the pivot
        bad = d <= n * eps * max_diag
        if bool(bad.any()):
            where = _batch_where(bad)
            at = f" (batch index {where})" if where else ""
            first = float(d[bad].flatten()[0])
            first_scale = float(max_diag.expand_as(d)[bad].flatten()[0])
            if first < -(eps**0.5) * first_scale:
                what = f"is {first:.3g} < 0"
            else:
                what = "is <= 0 within rounding"
            raise NotPositiveDefiniteError(
                f"A is not positive definite: the pivot of column {j}{at} "
                f"{what}. For ALS normal equations V^T V + lambda n I, use "
                "a larger lambda (reg)."
            )
        L[..., j, j] = d.sqrt()
        below = A[..., j + 1:, j] - (
            L[..., j + 1:, :j] * L[..., j, :j].unsqueeze(-2)
        ).sum(-1)
        L[..., j + 1:, j] = below / L[..., j, j].unsqueeze(-1)
    return L


def _check_system(A: torch.Tensor, b: torch.Tensor) -> None:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            "A must be a (batch of) square matrices (..., n, n); "
            f"got shape {tuple(A.shape)}."
        )
    if b.shape != A.shape[:-1]:
        raise ValueError(
            f"b must have shape {tuple(A.shape[:-1])} to match A of shape "
            f"{tuple(A.shape)}; got {tuple(b.shape)}."
        )
    if not (torch.isfinite(A).all() and torch.isfinite(b).all()):
        raise ValueError("A and b must be finite; found NaN or inf.")


def spd_solve(
    A: torch.Tensor, b: torch.Tensor, *, check_finite: bool = True
) -> torch.Tensor:
    r"""Solve :math:`A\mathbf{x} = \mathbf{b}` for a batch of SPD matrices
    by Cholesky, :math:`A = L L^\top`, then two triangular solves.

    Parameters
    ----------
    A : torch.Tensor
        (..., n, n), symmetric positive definite.
    b : torch.Tensor
        (..., n).
    check_finite : bool
        Check the shapes and scan ``A`` and ``b`` for NaN and inf; False skips this (for
        callers that have checked already).

    Returns
    -------
    torch.Tensor
        ``x`` (..., n).

    Raises
    ------
    NotPositiveDefiniteError
        If a matrix is not positive definite (for ALS: give reg > 0); the message names the
        first failing batch index.
    ValueError
        With ``check_finite``: mismatched shapes, or NaN or inf in ``A`` or ``b``.
    """
    if check_finite:
        _check_system(A, b)
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info > 0).any()):
        bad = torch.nonzero(info > 0)[0].tolist()
        order = int(info.flatten()[info.flatten() > 0][0])
        raise NotPositiveDefiniteError(
            f"{int((info > 0).sum())} of the matrices are not positive "
            f"definite (first at batch index {bad}; the leading minor of "
            f"order {order} is not positive). For ALS normal equations "
            "V^T V + lambda n I this means lambda is 0 (or tiny) and a user "
            "or item has too few ratings: use a larger reg."
        )
    return torch.cholesky_solve(b.unsqueeze(-1), L).squeeze(-1)


@dataclass
class CGResult:
    """The result of `conjugate_gradient`.

    Attributes
    ----------
    x : torch.Tensor
        The solution (..., n).
    residual_norms : torch.Tensor
        The residual norms :math:`\\lVert \\mathbf{b} - A\\mathbf{x}_j \\rVert` after each
        step ``j = 0..steps`` (``residual_norms[j]`` has one entry per system).
    """

    x: torch.Tensor
    residual_norms: torch.Tensor


def all_finite(*tensors: torch.Tensor) -> bool:
    """Whether every entry of every tensor is finite, with one reduction each: the float64 sum
    of a float32 tensor is finite exactly when every entry is (NaN and infinities carry through
    the sum, and float32 values cannot overflow it), and a float64 tensor whose sum overflows
    is reported as not finite. ``torch.isfinite(t).all()`` takes five parallel regions on the
    CPU; the sum takes one.

    Parameters
    ----------
    *tensors : torch.Tensor
        The tensors to check (None entries are skipped).

    Returns
    -------
    bool
        True if all are finite.
    """
    return all(bool(torch.isfinite(t.sum(dtype=torch.float64)))
               for t in tensors if t is not None)


def _dots(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The dot product of each pair of rows, :math:`\\mathbf{a}_j^\\top\\mathbf{b}_j`, as one
    batched matrix product ((..., 1, n) @ (..., n, 1)): one parallel region on the CPU, where
    ``torch.linalg.vecdot`` takes two (a product, then a sum)."""
    return (a.unsqueeze(-2) @ b.unsqueeze(-1)).squeeze(-1).squeeze(-1)


def conjugate_gradient(
    A: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor | None,
    x0: torch.Tensor | None = None,
    steps: int | None = None,
    tol: float | None = None,
    *,
    r0: torch.Tensor | None = None,
    inplace: bool = False,
) -> CGResult:
    r"""Batched conjugate gradient for SPD systems :math:`A\mathbf{x} =
    \mathbf{b}`.

    Each system gets its own step sizes :math:`\alpha_j, \beta_j`:

    .. math::
        \alpha_j = \frac{\mathbf{r}_j^\top\mathbf{r}_j}
                        {\mathbf{p}_j^\top A\mathbf{p}_j},\quad
        \mathbf{x}_{j+1} = \mathbf{x}_j + \alpha_j\mathbf{p}_j,\quad
        \mathbf{r}_{j+1} = \mathbf{r}_j - \alpha_j A\mathbf{p}_j,\quad
        \mathbf{p}_{j+1} = \mathbf{r}_{j+1}
            + \frac{\mathbf{r}_{j+1}^\top\mathbf{r}_{j+1}}
                   {\mathbf{r}_j^\top\mathbf{r}_j}\mathbf{p}_j .

    In exact arithmetic the error :math:`\lVert\mathbf{x}_j -
    \mathbf{x}^*\rVert_A` never increases (CG minimises it over a growing
    Krylov subspace); the residual 2-norm may go up and down. A system
    whose residual is exactly zero stays where it is.

    Parameters
    ----------
    A : torch.Tensor or callable
        (..., n, n) SPD matrices, or a function computing the products
        :math:`A\mathbf{p}` for a (..., n) batch of vectors (matrix-free:
        ALS never forms :math:`A`).
    b : torch.Tensor or None
        (..., n) right-hand sides; may be None when ``r0`` is given.
    x0 : torch.Tensor, optional
        The starting point (warm start); default zero.
    steps : int, optional
        Number of CG steps; default n (exact in exact arithmetic).
    tol : float, optional
        Stop once every system has :math:`\lVert\mathbf{r}\rVert \le`
        ``tol`` :math:`\lVert\mathbf{r}_0\rVert` (a sync per step).
    r0 : torch.Tensor, optional
        The initial residual :math:`\mathbf{b} - A\mathbf{x}_0`, if the
        caller has it already.
    inplace : bool, optional
        Update ``x0`` (and ``r0``) in place instead of copying them.

    Returns
    -------
    CGResult
        The solutions and the residual norms after each step.

    Raises
    ------
    ValueError
        If neither ``b`` nor ``r0`` is given (``b`` is required unless
        ``r0`` is given with a matrix-free ``A``), or ``steps`` is negative.
    """
    if callable(A):
        matvec = A
    else:
        if b is None:
            raise ValueError(
                "b is required unless r0 is given with a matrix-free A."
            )
        _check_system(A, b)

        def matvec(v: torch.Tensor) -> torch.Tensor:
            return (A @ v.unsqueeze(-1)).squeeze(-1)

    if r0 is None and b is None:
        raise ValueError(
            "give b (the right-hand sides) or r0 (the initial residual)."
        )
    ref = b if b is not None else r0
    keep = (lambda t: t) if inplace else torch.clone
    x = torch.zeros_like(ref) if x0 is None else keep(x0)
    if r0 is not None:
        r = keep(r0)
    else:
        r = b - matvec(x) if x0 is not None else b.clone()
    n = ref.shape[-1]
    steps = n if steps is None else int(steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}.")
    p = r.clone()
    rs = _dots(r, r)
    history = [rs]
    stop = None if tol is None else (tol * tol) * rs
    tiny = torch.finfo(rs.dtype).tiny
    for _ in range(steps):
        Ap = matvec(p)
        # alpha = r.r / p.Ap per system; a system with r = 0 (converged, or
        # no equations) has p = 0 and gets alpha = 0 (for SPD A, p.Ap = 0
        # only when p = 0)
        pAp = _dots(p, Ap).clamp_min(tiny)
        alpha = (rs / pAp).unsqueeze(-1)
        x.addcmul_(alpha, p)
        r.addcmul_(alpha, Ap, value=-1.0)
        rs_new = _dots(r, r)
        history.append(rs_new)
        if stop is not None and bool((rs_new <= stop).all()):
            break
        beta = (rs_new / rs.clamp_min(tiny)).unsqueeze(-1)
        p = torch.addcmul(r, beta, p)
        rs = rs_new
    return CGResult(x, torch.stack(history).sqrt())


def torch_csr(crow, col, values, shape, check_invariants: bool = False):
    """A ``torch.sparse_csr_tensor`` from row pointers, column indices and
    values, without the warnings torch prints on every construction (CSR
    support "in beta", invariant checks).

    Parameters
    ----------
    crow : torch.Tensor
        (rows + 1,) row pointers.
    col : torch.Tensor
        (nnz,) column index of each value.
    values : torch.Tensor
        (nnz,) the stored values.
    shape : tuple of int
        (rows, columns).
    check_invariants : bool
        Let torch check the CSR structure (a pass over the indices).

    Returns
    -------
    torch.Tensor
        A sparse CSR tensor.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings(
            "ignore", message="Sparse invariant checks are implicitly")
        return torch.sparse_csr_tensor(crow, col, values, size=shape,
                                       check_invariants=check_invariants)


def ratings_csr(ratings, dtype: torch.dtype | None = None, device="cpu"):
    """A `~als_lib.data.Ratings` as a ``torch.sparse_csr_tensor``
    (users x items; missing entries are not stored).

    Parameters
    ----------
    ratings : Ratings
        The observed ratings.
    dtype : torch.dtype, optional
        Dtype of the values; default ``torch.get_default_dtype()``.
    device : str or torch.device
        Where the tensor lives.

    Returns
    -------
    torch.Tensor
        A sparse CSR tensor of shape ``ratings.shape``.
    """
    import numpy as np

    csr = ratings.to_csr()
    csr.sort_indices()
    dtype = dtype or torch.get_default_dtype()
    return torch_csr(
        torch.from_numpy(csr.indptr.astype(np.int64)).to(device),
        torch.from_numpy(csr.indices.astype(np.int64)).to(device),
        torch.from_numpy(csr.data).to(device=device, dtype=dtype),
        ratings.shape, check_invariants=True,
    )
