"""Solvers: from-scratch LU and Cholesky against torch, the fast SPD path, conjugate gradient."""

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from als_lib.linalg import (
    LUFactors,
    NotPositiveDefiniteError,
    SingularMatrixError,
    back_substitution,
    cholesky,
    conjugate_gradient,
    forward_substitution,
    lu_factor,
    lu_solve,
    spd_solve,
)

shapes = st.tuples(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 9))


def well_conditioned(seed: int, batch, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(*batch, n, n, generator=g, dtype=torch.float64)
    return A + (n + 2) * torch.eye(n, dtype=torch.float64) * torch.sign(torch.randn(*batch, 1, 1, generator=g, dtype=torch.float64))


def spd(seed: int, batch, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    B = torch.randn(*batch, n, n + 2, generator=g, dtype=torch.float64)
    return B @ B.mT + 0.5 * torch.eye(n, dtype=torch.float64)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_lu_reconstructs_and_solves_like_torch(shape, seed):
    batch, n = shape
    A = well_conditioned(seed, batch, n)
    f = lu_factor(A)
    assert torch.allclose(f.P @ A, f.L @ f.U, atol=1e-10)
    assert torch.equal(f.P @ A, A.gather(-2, f.perm.unsqueeze(-1).expand(*A.shape)))
    b = torch.randn(*batch, n, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    assert torch.allclose(lu_solve(f, b), torch.linalg.solve(A, b), atol=1e-9)
    LU, piv = torch.linalg.lu_factor(A)
    assert torch.allclose(lu_solve(f, b), torch.linalg.lu_solve(LU, piv, b.unsqueeze(-1)).squeeze(-1), atol=1e-9)
    # same pivot choices as LAPACK (largest magnitude in the column) -> the same U
    P, L, U = torch.linalg.lu(A)
    assert torch.allclose(f.U, U, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_cholesky_matches_torch_and_spd_solve(shape, seed):
    batch, n = shape
    A = spd(seed, batch, n)
    L = cholesky(A)
    assert torch.allclose(L, torch.linalg.cholesky(A), atol=1e-9)
    assert torch.allclose(L @ L.mT, A, atol=1e-9)
    b = torch.randn(*batch, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = spd_solve(A, b)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-9)
    y = forward_substitution(L, b)
    assert torch.allclose(back_substitution(L.mT.contiguous(), y), x, atol=1e-9)


def test_partial_pivoting_matters():
    A = torch.tensor([[1e-20, 1.0], [1.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    exact = torch.linalg.solve(A, b)  # about (1, 1)
    without = lu_solve(lu_factor(A, pivoting=False, rtol=0.0), b)  # rtol=0: stop only at exact zeros
    with_pivoting = lu_solve(lu_factor(A), b)
    assert torch.allclose(with_pivoting, exact, atol=1e-12)
    assert (without - exact).abs().max() > 0.5  # every digit of x_0 lost
    with pytest.raises(SingularMatrixError, match="zero pivot in column 0.*pivoting=True"):
        lu_factor(torch.tensor([[0.0, 1.0], [1.0, 1.0]]), pivoting=False)
    assert torch.allclose(lu_solve(lu_factor(torch.tensor([[0.0, 1.0], [1.0, 1.0]])), torch.tensor([1.0, 2.0])), torch.tensor([1.0, 1.0]))


def test_singular_and_non_spd_errors_name_the_column():
    with pytest.raises(SingularMatrixError, match="zero pivot in column 2"):
        lu_factor(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [5.0, 7.0, 9.0]], dtype=torch.float64))
    batch = torch.stack([torch.eye(2), torch.tensor([[1.0, 1.0], [1.0, 1.0]])])
    with pytest.raises(SingularMatrixError, match=r"column 1 \(batch index \[1\]\)"):
        lu_factor(batch)
    with pytest.raises(NotPositiveDefiniteError, match="column 1.*larger lambda"):
        cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(NotPositiveDefiniteError, match="not symmetric"):
        cholesky(torch.tensor([[2.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(NotPositiveDefiniteError, match=r"batch index \[1\].*larger reg"):
        spd_solve(torch.stack([torch.eye(2), -torch.eye(2)]), torch.ones(2, 2))


def test_a_roundoff_level_pivot_is_reported_as_such_at_the_rank():
    """A singular Gram matrix X^T X of rank r (with a well-conditioned leading r x r block)
    fails at column r whatever roundoff does to the sign of that pivot, and the message
    prints no roundoff digits."""
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
        X = Q @ torch.cat([torch.eye(5, dtype=torch.float64), torch.randn(5, 7, generator=g, dtype=torch.float64)], 1)
        for G in (X.T @ X, (X.T @ X).float()):
            with pytest.raises(NotPositiveDefiniteError) as err:
                cholesky(G)
            assert "the pivot of column 5 is <= 0 within rounding." in str(err.value)
            assert not re.search(r"\de-\d", str(err.value))
    with pytest.raises(NotPositiveDefiniteError, match=r"column 1 is -3 < 0\."):
        cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64))
    with pytest.raises(NotPositiveDefiniteError, match=r"column 0 \(batch index \[1\]\) is <= 0 within rounding"):
        cholesky(torch.stack([torch.eye(2), torch.zeros(2, 2)]))


def test_shape_type_and_finiteness_errors():
    with pytest.raises(ValueError, match=r"square matrices.*\(2, 3\)"):
        lu_factor(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"shape \(3,\) to match A of shape \(3, 3\); got \(2,\)"):
        spd_solve(torch.eye(3), torch.ones(2))
    with pytest.raises(ValueError, match="finite"):
        lu_factor(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        lu_solve(lu_factor(torch.eye(2)), torch.tensor([1.0, float("inf")]))
    with pytest.raises(TypeError, match="floating-point"):
        lu_factor(torch.eye(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="lu_factor"):
        lu_solve((torch.eye(2), torch.arange(2)), torch.ones(2))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        conjugate_gradient(torch.eye(2), torch.ones(3))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), batch=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_cg_solves_spd_systems_and_its_error_never_grows(n, batch, seed):
    A = spd(seed, [batch], n)
    b = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact = torch.linalg.solve(A, b)
    result = conjugate_gradient(A, b, steps=3 * n)
    assert torch.allclose(result.x, exact, atol=1e-7 * (1 + exact.abs().max()))
    # CG minimises the A-norm of the error over growing Krylov subspaces: it never increases
    def a_norm_error(x):
        e = x - exact
        return ((e.unsqueeze(-2) @ A @ e.unsqueeze(-1)).squeeze((-1, -2))).clamp_min(0).sqrt()
    errors = torch.stack([a_norm_error(conjugate_gradient(A, b, steps=j).x) for j in range(n + 1)])
    scale = a_norm_error(torch.zeros_like(b)) + 1e-300
    assert bool((errors[1:] <= errors[:-1] + 1e-9 * scale).all())
    assert result.residual_norms.shape[1] == batch


def test_cg_matrix_free_warm_start_and_tolerance():
    A = spd(3, [5], 8)
    b = torch.randn(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = torch.linalg.solve(A, b)
    matvec = lambda p: (A @ p.unsqueeze(-1)).squeeze(-1)
    free = conjugate_gradient(matvec, b, steps=30)
    assert torch.allclose(free.x, exact, atol=1e-8)
    near = exact + 1e-3 * torch.randn(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    warm = conjugate_gradient(A, b, x0=near, steps=2)
    cold = conjugate_gradient(A, b, steps=2)
    assert (warm.x - exact).norm() < (cold.x - exact).norm()
    via_r0 = conjugate_gradient(matvec, None, x0=near, steps=2, r0=b - matvec(near))
    assert torch.allclose(via_r0.x, warm.x)
    early = conjugate_gradient(A, b, steps=100, tol=1e-6)
    assert early.residual_norms.shape[0] < 101
    assert bool((early.residual_norms[-1] <= 1e-6 * early.residual_norms[0]).all())


def test_cg_leaves_a_zero_system_alone():
    A = torch.stack([torch.eye(3), torch.zeros(3, 3)]).double()
    b = torch.stack([torch.ones(3), torch.zeros(3)]).double()
    x = conjugate_gradient(A, b, steps=3).x
    assert torch.allclose(x[0], torch.ones(3, dtype=torch.float64)) and torch.equal(x[1], torch.zeros(3, dtype=torch.float64))


def test_lu_factors_type():
    f = lu_factor(torch.eye(3))
    assert isinstance(f, LUFactors) and torch.equal(f.P, torch.eye(3))


def test_all_finite_sees_every_nan_and_infinity():
    from als_lib.linalg import all_finite

    for dtype in (torch.float32, torch.float64):
        big = torch.full((1000, 64), torch.finfo(torch.float32).max, dtype=dtype)
        assert all_finite(big, None)                      # float32's largest values: no overflow
        for bad in (float("nan"), float("inf"), -float("inf")):
            t = torch.zeros(300, 7, dtype=dtype)
            t[123, 4] = bad
            assert not all_finite(big, t)
        both = torch.zeros(4, dtype=dtype)
        both[0], both[1] = float("inf"), -float("inf")     # they cancel to NaN, still caught
        assert not all_finite(both)


def test_batched_dots_equal_vecdot():
    from als_lib.linalg import _dots

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 9, generator=g, dtype=torch.float64), torch.randn(50, 9, generator=g, dtype=torch.float64)
    assert torch.allclose(_dots(a, b), torch.linalg.vecdot(a, b))
    assert _dots(a[0], b[0]).shape == ()
