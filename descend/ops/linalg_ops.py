"""Dense linear algebra with gradients: determinant, inverse and linear solves (batched over leading dims)."""

from __future__ import annotations

import numpy as np

from descend.backend import get_array_module
from descend.ops.errors import OpError
from descend.ops.indexing import IndexSelect, dim_index
from descend.ops.joining import concat
from descend.ops.movement import Pad, Stack
from descend.ops.stats import VectorNorm
from descend._tensor import Function, Tensor


def _square(op: str, a) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise OpError(f"{op}: expected square matrices (..., n, n), got shape {a.shape}")
    if a.dtype.kind not in "fc":
        raise OpError(f"{op}: expected a floating tensor, got dtype {a.dtype}")


def _solve_error(op: str) -> OpError:
    return OpError(f"{op}: the matrix is singular (not invertible)")


class Det(Function):
    def forward(self, a):
        _square("linalg.det", a)
        self.a = a
        self.out = get_array_module(a).linalg.det(a)
        return get_array_module(a).asarray(self.out)

    def backward(self, g):
        xp = get_array_module(g)
        # d det(A) / dA = det(A) * inv(A)^T (Jacobi's formula).
        try:
            inv_t = xp.swapaxes(xp.linalg.inv(self.a), -1, -2)
        except np.linalg.LinAlgError:
            raise _solve_error("linalg.det backward") from None
        return (g * self.out)[..., None, None] * inv_t


class Inv(Function):
    def forward(self, a):
        _square("linalg.inv", a)
        try:
            self.out = get_array_module(a).linalg.inv(a)
        except np.linalg.LinAlgError:
            raise _solve_error("linalg.inv") from None
        return self.out

    def backward(self, g):
        out_t = get_array_module(g).swapaxes(self.out, -1, -2)
        return -(out_t @ g @ out_t)


class Solve(Function):
    """X with A X = B; B may be a vector (..., n) or matrices (..., n, k)."""

    def forward(self, a, b):
        _square("linalg.solve", a)
        xp = get_array_module(a, b)
        self.vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
        b2 = b[..., None] if self.vector else b
        try:
            x = xp.linalg.solve(a, b2)
        except np.linalg.LinAlgError:
            raise _solve_error("linalg.solve") from None
        except ValueError:
            raise OpError(f"linalg.solve: shapes {a.shape} and {b.shape} do not fit A X = B") from None
        self.a, self.x = a, x
        return x[..., 0] if self.vector else x

    def backward(self, g):
        xp = get_array_module(g)
        g2 = g[..., None] if self.vector else g
        gb = xp.linalg.solve(xp.swapaxes(self.a, -1, -2), g2)
        ga = -gb @ xp.swapaxes(self.x, -1, -2)
        da, db = self.needs_input_grad
        return (ga if da else None), ((gb[..., 0] if self.vector else gb) if db else None)


class SvdVals(Function):
    """Singular values (descending) of matrices (..., m, n); gradient U diag(g) V^T (distinct values)."""

    def forward(self, a):
        if a.ndim < 2:
            raise OpError(f"linalg.svdvals: expected matrices (..., m, n), got shape {a.shape}")
        xp = get_array_module(a)
        self.u, s, self.vt = xp.linalg.svd(a, full_matrices=False)
        return s

    def backward(self, g):
        return (self.u * g[..., None, :]) @ self.vt


class EigvalsH(Function):
    """Eigenvalues (ascending) of symmetric matrices, read from the lower triangle; gradient V diag(g) V^T."""

    def forward(self, a, upper=False):
        _square("linalg.eigvalsh", a)
        xp = get_array_module(a)
        w, self.v = xp.linalg.eigh(a, UPLO="U" if upper else "L")
        return w

    def backward(self, g):
        return (self.v * g[..., None, :]) @ get_array_module(g).swapaxes(self.v, -1, -2)


class Cholesky(Function):
    """L with A = L L^T for symmetric positive-definite A (read from the lower triangle).

    Backward is PyTorch's: gA = L^-T Phi L^-1 with Phi the lower part of L^T gL, symmetrised (half diagonal).
    """

    def forward(self, a):
        _square("linalg.cholesky", a)
        try:
            self.l = get_array_module(a).linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise OpError("linalg.cholesky: the input is not positive-definite") from None
        return self.l

    def backward(self, g):
        xp = get_array_module(g)
        lt = xp.swapaxes(self.l, -1, -2)
        phi = xp.tril(lt @ g)
        phi = 0.5 * (phi + xp.swapaxes(xp.tril(phi, -1), -1, -2))
        left = xp.linalg.solve(lt, phi)  # L^-T Phi
        return xp.swapaxes(xp.linalg.solve(lt, xp.swapaxes(left, -1, -2)), -1, -2)  # (L^-T (L^-T Phi)^T)^T


class EigH(Function):
    """Eigenvalues and eigenvectors of symmetric matrices as one array: w stacked above V, (..., n + 1, n).

    Backward (distinct eigenvalues): gA = V (diag(gw) + skew(V^T gV) / (w_j - w_i)) V^T, PyTorch's rule.
    """

    def forward(self, a, upper=False):
        _square("linalg.eigh", a)
        xp = get_array_module(a)
        self.w, self.v = xp.linalg.eigh(a, UPLO="U" if upper else "L")
        return xp.concatenate([self.w[..., None, :], self.v], axis=-2)

    def backward(self, g):
        xp = get_array_module(g)
        gw, gv = g[..., 0, :], g[..., 1:, :]
        v, w = self.v, self.w
        vt = xp.swapaxes(v, -1, -2)
        inner = vt @ gv
        inner = 0.5 * (inner - xp.swapaxes(inner, -1, -2))
        gap = w[..., None, :] - w[..., :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = xp.where(gap == 0, 0.0, inner / gap)
        n = w.shape[-1]
        mid[..., range(n), range(n)] = gw
        return v @ mid @ vt


# ---- compositions ----------------------------------------------------------------------------------------

def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise OpError(f"trace: expected a matrix, got shape {input.shape}")
    return input.diagonal().sum()


def kron(input, other):
    """The Kronecker product: every element of input times all of other, laid out in blocks."""
    n = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (n - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.ndim) + tuple(other.shape))
    a_shape, b_shape = [], []
    for i in range(n):
        a_shape += [a.shape[i], 1]
        b_shape += [1, b.shape[i]]
    out = a.reshape(a_shape) * b.reshape(b_shape)
    return out.reshape(tuple(a.shape[i] * b.shape[i] for i in range(n)))


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise OpError(f"cdist: expected (..., P, M) and (..., R, M), got {x1.shape} and {x2.shape}")
    if not p >= 0:
        raise OpError("cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return VectorNorm.apply(diff, ord=float(p), dim=-1)


def block_diag(*tensors):
    """The tensors (0-D, 1-D or 2-D) placed along the diagonal of one matrix."""
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    cols = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        rows.append(Pad.apply(m, pad=(left, cols - left - m.shape[1])))
        left += m.shape[1]
    return concat(rows, 0)


def vander(x, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of a 1-D x: columns x^(N-1) ... x^0 (or increasing powers)."""
    n = x.shape[0] if N is None else N
    powers = range(n) if increasing else range(n - 1, -1, -1)
    return Stack.apply(*[x ** p if p else x * 0 + 1 for p in powers], dim=1)


def slogdet(A):
    """(sign, log |det A|) of square matrices; the log carries the gradient."""
    d = Det.apply(A)
    return d.sign(), d.abs().log()


def logdet(A):
    """log det A (NaN where the determinant is negative)."""
    return Det.apply(A).log()


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along dim (broadcasting the other dims); descend.linalg.cross."""
    if input.ndim != other.ndim:
        raise OpError(f"linalg.cross: inputs must have the same number of dims, got {input.shape} and {other.shape}")
    d = dim_index(dim, input.ndim, "linalg.cross")
    if input.shape[d - input.ndim] != 3 or other.shape[d - other.ndim] != 3:
        raise OpError(f"linalg.cross: dim {dim} must have size 3, got shapes {input.shape} and {other.shape}")
    first, second = Tensor(np.array([1, 2, 0])), Tensor(np.array([2, 0, 1]))
    a1, a2 = IndexSelect.apply(input, first, dim=d - input.ndim), IndexSelect.apply(input, second, dim=d - input.ndim)
    b1, b2 = IndexSelect.apply(other, first, dim=d - other.ndim), IndexSelect.apply(other, second, dim=d - other.ndim)
    return a1 * b2 - a2 * b1
