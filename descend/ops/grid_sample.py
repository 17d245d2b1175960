"""F.affine_grid and F.grid_sample (spatial transformer networks, warping), 2-D, with PyTorch's coordinate
conventions, padding modes and gradients.

Both are composed from differentiable ops: the sampling positions are computed from the grid with tensor
ops, the corner pixels are gathered with integer indices, and the bilinear weights are functions of the
positions, so gradients reach the input and the grid (and can be differentiated again). Padding: "zeros"
masks corners outside the image, "border" clamps the positions, "reflection" mirrors them (PyTorch's
reflect_coordinates, a piecewise slope of ±1) then clamps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend.ops.errors import OpError
from descend._tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]


def _base(n: int, align_corners: bool) -> np.ndarray:
    """The normalised pixel-centre coordinates in [-1, 1] along a dim of n pixels."""
    if align_corners:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return (np.arange(n) * 2 + 1) / n - 1


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The (N, H, W, 2) sampling grid of the affine maps theta (N, 2, 3) over an (N, C, H, W) output, (x, y)
    last, for grid_sample.

    >>> import descend
    >>> g = affine_grid(descend.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (1, 1, 2, 2), align_corners=True)
    >>> g[0, 0].tolist()
    [[-1.0, -1.0], [1.0, -1.0]]
    """
    size = tuple(int(s) for s in size)
    if len(size) != 4:
        raise NotImplementedError(f"affine_grid only supports 4D sizes (2-D images), got size {list(size)}")
    n, _, h, w = size
    if theta._data.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3) or theta.shape[0] != n:
        raise OpError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {list(size)}. Got "
                      f"{list(theta.shape)}.")
    ac = bool(align_corners)
    xs, ys = np.meshgrid(_base(w, ac), _base(h, ac))
    base = np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(theta._data.dtype).reshape(1, h * w, 3)
    grid = Tensor(backend.xp.asarray(base)) @ theta.transpose(1, 2)
    return grid.reshape(n, h, w, 2)


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    return (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """PyTorch's reflect_coordinates: a piecewise-linear fold with slope ±1 (constants from the values)."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    v = backend.to_numpy(coord._data).astype(np.float64)
    d = np.abs(v - low)
    with np.errstate(invalid="ignore"):  # (an inf or NaN position folds to NaN, then clips to the edge)
        extra, flips = np.fmod(d, span), np.floor(d / span)
        folded = np.where(flips % 2 == 0, extra + low, span - extra + low)
        slope = np.where(v >= low, 1.0, -1.0) * np.where(flips % 2 == 0, 1.0, -1.0)
    dt = coord._data.dtype
    xp = backend.xp
    return coord * Tensor(xp.asarray(slope.astype(dt))) + Tensor(xp.asarray((folded - slope * v).astype(dt)))


def _clip(c: Tensor, size: int) -> Tensor:
    """PyTorch's clip_coordinates: into [0, size - 1], the gradient 0 at and beyond the bounds."""
    v = c._data
    inside = (v > 0) & (v < size - 1)
    with np.errstate(invalid="ignore"):
        clipped = backend.xp.clip(v, 0, size - 1)
    clipped = backend.xp.where(backend.xp.isnan(clipped), 0, clipped)  # as PyTorch's CPU kernel clips a NaN
    return c.where(Tensor(inside), Tensor(clipped.astype(v.dtype)))


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
    if padding_mode in ("border", "reflection"):
        c = _clip(c, size)
    return c


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample input (N, C, H, W) at the grid's (N, Ho, Wo, 2) normalised (x, y) positions: (N, C, Ho, Wo).

    >>> import descend
    >>> img = descend.arange(4.0).reshape(1, 1, 2, 2)
    >>> grid_sample(img, descend.tensor([[[[0.0, 0.0]]]]), align_corners=True).item()
    1.5
    """
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not supported (use 'bilinear' or 'nearest')")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise OpError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                      f"'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise OpError(f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2) with the same N, got "
                      f"{list(input.shape)} and {list(grid.shape)}")
    if grid._data.dtype != input._data.dtype:
        raise OpError(f"grid_sample(): expected input and grid to have the same dtype, but input has "
                      f"{input.dtype} and grid has {grid.dtype}")
    n, _, h, w = input.shape
    ac = bool(align_corners)
    x = _source(grid[..., 0], w, padding_mode, ac)
    y = _source(grid[..., 1], h, padding_mode, ac)
    xp = backend.xp
    batch = xp.broadcast_to(xp.arange(n).reshape(n, 1, 1), tuple(x.shape))
    dt = input._data.dtype

    def corner(iy: Any, ix: Any) -> tuple:
        """input at integer positions (N, Ho, Wo) as (N, Ho, Wo, C), and where they lie inside the image."""
        iy, ix = xp.nan_to_num(iy, nan=-1.0), xp.nan_to_num(ix, nan=-1.0)  # NaN positions: outside, as PyTorch
        inside = (ix >= 0) & (ix <= w - 1) & (iy >= 0) & (iy <= h - 1)
        cy, cx = xp.clip(iy, 0, h - 1).astype(np.int64), xp.clip(ix, 0, w - 1).astype(np.int64)
        return input[Tensor(batch), :, Tensor(cy), Tensor(cx)], Tensor(inside.astype(dt)).unsqueeze(-1)

    if mode == "nearest":
        vals, inside = corner(xp.rint(y._data), xp.rint(x._data))  # round half to even, as nearbyint
        # The grid gets a zero gradient (not none), as PyTorch's: a term that is 0 with slope 0 (even at NaN).
        never = Tensor(xp.zeros(tuple(x.shape), dtype=bool))
        out = vals * inside + (x + y).where(never, 0.0).unsqueeze(-1)
    else:
        x0, y0 = xp.floor(x._data), xp.floor(y._data)
        x1, y1 = x0 + 1, y0 + 1
        wx1, wy1 = x - Tensor(x0), y - Tensor(y0)  # weights as functions of the positions: grid gradients
        wx0, wy0 = Tensor(x1) - x, Tensor(y1) - y
        out = None
        for iy, ix, weight in ((y0, x0, wy0 * wx0), (y0, x1, wy0 * wx1), (y1, x0, wy1 * wx0), (y1, x1, wy1 * wx1)):
            vals, inside = corner(iy, ix)
            term = vals * (weight.unsqueeze(-1) * inside)
            out = term if out is None else out + term
    return out.permute(0, 3, 1, 2)
