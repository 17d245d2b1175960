"""Images for runs: sample grids (torchvision's make_grid layout), PNG files, 2-D GAN scatter plots.

All images are uint8 (H, W, C) arrays, which both Pillow and TensorBoard take as they are.
"""

from __future__ import annotations

import io as _bytes_io
import math
import os

import numpy as np

from descend import io

REAL_COLOR = (148, 163, 184)   # slate: the data
FAKE_COLOR = (234, 88, 12)     # orange: the generator's samples
MODE_COLOR = (15, 23, 42)      # near black: the mixture's centres


def to_uint8(images: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Floats to uint8: [lo, hi] maps to [0, 255], clipped; NaN becomes lo.

    value_range None: [-1, 1] when any value is negative (a tanh generator), else [0, 1].
    uint8 input passes through unchanged.
    """
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    if value_range is None:
        value_range = (-1.0, 1.0) if np.nanmin(a, initial=0.0) < 0 else (0.0, 1.0)
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"to_uint8: value_range needs lo < hi, got {value_range}")
    a = np.nan_to_num((a - lo) / (hi - lo), nan=0.0, posinf=1.0, neginf=0.0)
    # x * 255 + 0.5, truncated: round half up, as torchvision's save_image does
    return np.floor(np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def make_grid(images: np.ndarray, nrow: int = 8, padding: int = 2, pad_value: float = 0.0,
              value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Tile N images into one uint8 (H, W, 3) picture, `nrow` images per row, torchvision's layout.

    images: (N, C, H, W) with C = 1 or 3, or (N, H, W); floats in [0, 1] or [-1, 1] (see `to_uint8`) or uint8.
    Each cell is (H + padding) x (W + padding) with `padding` more pixels at the right and bottom edges;
    pad_value is a float in [0, 1] (0 black, 1 white).
    """
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3) or a.shape[0] == 0:
        raise ValueError(f"make_grid: expected images of shape (N, C, H, W) with C in (1, 3) or (N, H, W), "
                         f"N > 0, got {np.asarray(images).shape}")
    if nrow < 1 or padding < 0:
        raise ValueError(f"make_grid: nrow must be >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    a = to_uint8(a, value_range)
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)  # grey to RGB, as torchvision does
    n, _, h, w = a.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    fill = int(np.floor(np.clip(pad_value, 0.0, 1.0) * 255 + 0.5))
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), fill, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = a[i].transpose(1, 2, 0)
    return grid


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image encoded as PNG."""
    from PIL import Image

    a = np.asarray(image)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ValueError(f"save_png: needs a uint8 (H, W) or (H, W, C) image with C in (1, 3, 4), "
                         f"got {a.dtype} {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    buf = _bytes_io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 image as a PNG file (atomically; parent folders are made)."""
    data = png_bytes(image)
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    io.atomic_write_bytes(path, data)


def _points(name: str, xy: np.ndarray | None) -> np.ndarray:
    if xy is None:
        return np.zeros((0, 2))
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"scatter: {name} must have shape (N, 2), got {a.shape}")
    return a[np.isfinite(a).all(axis=1)]


def _stamp(canvas: np.ndarray, x: np.ndarray, y: np.ndarray, color: tuple, radius: float,
           alpha: float) -> None:
    """Blend anti-aliased discs of `color` centred at pixel coordinates (x, y) onto canvas (float RGB)."""
    h, w, _ = canvas.shape
    r = int(math.ceil(radius)) + 1
    # Overlapping discs of one colour compose as 1 - prod(1 - coverage): summed in log space, in any order.
    log_clear = np.zeros((h, w))
    ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            px, py = ix + dx, iy + dy
            # Coverage falls from 1 to 0 over the last pixel of the radius: a soft, round edge.
            cover = np.clip(radius + 0.5 - np.hypot(px + 0.5 - x, py + 0.5 - y), 0.0, 1.0) * alpha
            ok = (cover > 0) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
            np.add.at(log_clear, (py[ok], px[ok]), np.log1p(-np.minimum(cover[ok], 0.999)))
    clear = np.exp(log_clear)[:, :, None]
    canvas *= clear
    canvas += (1 - clear) * np.asarray(color, dtype=np.float64)


def scatter_image(real_xy: np.ndarray | None, fake_xy: np.ndarray | None, modes: np.ndarray | None = None,
                  size: int = 400) -> np.ndarray:
    """A square uint8 (size, size, 3) scatter plot of 2-D samples: data grey, generator orange, modes as +.

    The view is fitted to the data and modes (the generator's points too, up to 3x that extent), with equal
    scales on both axes; points outside it are left out.
    """
    real, fake = _points("real_xy", real_xy), _points("fake_xy", fake_xy)
    centres = _points("modes", modes)
    ref = np.concatenate([real, centres]) if len(real) + len(centres) else fake
    if len(ref) == 0:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    else:
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        if len(fake) and ref is not fake:
            span = np.max(hi - lo) if np.max(hi - lo) > 0 else 1.0
            lo = np.maximum(np.minimum(lo, fake.min(axis=0)), lo - span)
            hi = np.minimum(np.maximum(hi, fake.max(axis=0)), hi + span)
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2, 1e-6) * 1.08
    margin = 12

    def to_px(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = (size - 2 * margin) / (2 * half)
        return (margin + (p[:, 0] - centre[0] + half) * scale,
                margin + (centre[1] + half - p[:, 1]) * scale)  # y grows upwards

    canvas = np.full((size, size, 3), 255.0)
    frame = slice(margin - 1, size - margin + 1)  # a light grey box around the plot area
    canvas[margin - 1, frame] = canvas[size - margin, frame] = 226
    canvas[frame, margin - 1] = canvas[frame, size - margin] = 226
    for pts, color, radius, alpha in ((real, REAL_COLOR, 1.6, 0.6), (fake, FAKE_COLOR, 1.8, 0.75)):
        x, y = to_px(pts)
        inside = (x >= margin) & (x < size - margin) & (y >= margin) & (y < size - margin)
        _stamp(canvas, x[inside], y[inside], color, radius, alpha)
    x, y = to_px(centres)
    for cx, cy in zip(np.rint(x).astype(int), np.rint(y).astype(int)):
        for d in range(-5, 6):
            for px, py in ((cx + d, cy), (cx, cy + d)):
                if 0 <= px < size and 0 <= py < size:
                    canvas[py, px] = MODE_COLOR
    return np.rint(canvas).astype(np.uint8)


def scatter_png(path: str | os.PathLike, real_xy: np.ndarray | None, fake_xy: np.ndarray | None,
                modes: np.ndarray | None = None, size: int = 400) -> np.ndarray:
    """Draw `scatter_image` and save it as a PNG; returns the image (for TensorBoard)."""
    image = scatter_image(real_xy, fake_xy, modes, size)
    save_png(path, image)
    return image
