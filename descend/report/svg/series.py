"""A line chart's data: series thinned to a drawable number of points, split at gaps into polylines, or
drawn as dots."""

from __future__ import annotations

import numpy as np

from descend.report.svg.axis import Axis, Box
from descend.report.svg.base import Series, coord

MAX_POINTS = 2000  # per line; longer series keep each bucket's min and max, so spikes stay visible


def decimate(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~limit points: each bucket keeps its min and max (in x order); a NaN bucket keeps a gap."""
    n = len(x)
    if n <= limit:
        return x, y
    buckets = np.array_split(np.arange(n), limit // 2)
    keep = []
    for idx in buckets:
        vals = y[idx]
        finite = np.isfinite(vals)
        if not finite.all():
            keep.append(idx[np.argmin(finite)])  # a non-finite point: the line breaks here
        if finite.any():
            f_idx = idx[finite]
            keep.extend(sorted({f_idx[np.argmin(y[f_idx])], f_idx[np.argmax(y[f_idx])]}))
    keep = np.asarray(sorted(set(keep)))
    return x[keep], y[keep]


def segments(px: np.ndarray, py: np.ndarray, ok: np.ndarray) -> list[str]:
    """Polyline point lists for the runs of consecutive usable points."""
    out, run = [], []
    for a, b, good in zip(px, py, ok):
        if good:
            run.append(f"{coord(a)},{coord(b)}")
        elif run:
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return out


def _points(s: Series, x: np.ndarray, y: np.ndarray, color: str, usable: np.ndarray, xa: Axis, ya: Axis,
            clip: bool) -> list[str]:
    """A series drawn as dots; with `clip`, points outside the y range are left out."""
    inside = usable & np.array([ya.contains(v) for v in y], dtype=bool) if clip else usable
    return [f'<circle cx="{coord(px)}" cy="{coord(py)}" r="4" fill="{color}" stroke="white" '
            f'stroke-width="1.5" opacity="{s.opacity}"/>' for px, py in zip(xa(x[inside]), ya(y[inside]))]


def _line(s: Series, x: np.ndarray, y: np.ndarray, color: str, xa: Axis, ya: Axis, box: Box) -> list[str]:
    """A series drawn as polylines broken at unusable points, pinned to the plot's top and bottom edges."""
    xd, yd = decimate(x, y, MAX_POINTS)
    ud = np.isfinite(xd) & np.isfinite(yd) & (xd > 0 if xa.log else True) & (yd > 0 if ya.log else True)
    py = np.clip(ya(np.where(ud, yd, 1.0)), box.top - 2, box.bottom + 2)
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    parts = []
    for pts in segments(xa(np.where(ud, xd, 1.0)), py, ud):
        if " " not in pts:  # a lone point between gaps: a dot, or it would not show
            cx, cy = pts.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{coord(s.width)}" fill="{color}" '
                         f'opacity="{s.opacity}"/>')
            continue
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{s.width}" '
                     f'stroke-linejoin="round" stroke-linecap="round" opacity="{s.opacity}"{dash}/>')
    return parts


def draw_series(data: list[tuple[Series, np.ndarray, np.ndarray, str]], usable: list[np.ndarray], xa: Axis,
                ya: Axis, box: Box, clip: bool) -> list[str]:
    """Every series; `clip` (a given y range): lines pinned to the plot edge, points outside it left out."""
    parts = []
    for (s, x, y, color), u in zip(data, usable):
        if s.points:
            parts += _points(s, x, y, color, u, xa, ya, clip)
        else:
            parts += _line(s, x, y, color, xa, ya, box)
    return parts
