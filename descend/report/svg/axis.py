"""A chart's axes: the data-to-pixel mapping (linear or log10), the plot box, and the grid, ticks, axis
lines and axis labels drawn around the plot."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from descend.report.svg.base import AXIS, GRID, MUTED, coord, fmt, linear_ticks, log_ticks, svg_text


@dataclass
class Box:
    """The plot area in pixels (left < right, top < bottom) inside a chart of `width` x `height`."""

    left: float
    top: float
    right: float
    bottom: float
    width: float
    height: float


class Axis:
    """Maps data values to pixels along one axis, linear or log10."""

    def __init__(self, values: np.ndarray, log: bool, p0: float, p1: float, pad: bool,
                 limits: tuple[float, float] | None = None) -> None:
        self.log, self.p0, self.p1 = log, p0, p1
        v = values[np.isfinite(values)]
        if log:
            v = v[v > 0]
        if limits is not None:
            lo, hi = limits
            if not hi > lo or (log and lo <= 0):
                raise ValueError(f"chart: axis limits {limits} need lo < hi (and lo > 0 on a log axis)")
        elif len(v) == 0:
            lo, hi = (1.0, 10.0) if log else (0.0, 1.0)
        else:
            lo, hi = float(v.min()), float(v.max())
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi - lo < 1e-12 * max(1.0, abs(hi)):  # a single value: widen the axis around it
            # ±10 % of the value (a constant lr of 0.01 must not sit on an axis from -0.5 to 0.5), ±0.5 at 0
            half = 0.5 if log else (abs(lo) * 0.1 if lo != 0 else 0.5)
            lo, hi = lo - half, hi + half
        elif pad and limits is None:
            margin = (hi - lo) * 0.05
            lo, hi = lo - margin, hi + margin
            if not log and lo < 0 <= float(v.min() if len(v) else 0.0):
                lo = 0.0  # a non-negative quantity does not get a negative axis
        self.lo, self.hi = lo, hi

    def __call__(self, v: np.ndarray | float) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.log10(v) if self.log else v
        return self.p0 + (t - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)

    def ticks(self) -> list[float]:
        if self.log:
            ticks = log_ticks(10 ** self.lo, 10 ** self.hi)
            return ticks if len(ticks) >= 2 else [10 ** self.lo, 10 ** self.hi]
        return linear_ticks(self.lo, self.hi)

    def contains(self, v: float) -> bool:
        if self.log and not v > 0:
            return False
        t = math.log10(v) if self.log else v
        return math.isfinite(t) and self.lo - 1e-9 <= t <= self.hi + 1e-9


def draw_axes(xa: Axis, ya: Axis, box: Box, xlabel: str, ylabel: str) -> list[str]:
    """Grid lines with y tick labels, x ticks with labels, the two axis lines and the axis titles."""
    left, right, top, bottom = box.left, box.right, box.top, box.bottom
    parts = []
    for t in ya.ticks():
        py = float(ya(t))
        parts.append(f'<line x1="{coord(left)}" y1="{coord(py)}" x2="{coord(right)}" y2="{coord(py)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(svg_text(left - 6, py + 3.5, fmt(t), 10, MUTED, "end"))
    for t in xa.ticks():
        px = float(xa(t))
        parts.append(f'<line x1="{coord(px)}" y1="{coord(bottom)}" x2="{coord(px)}" '
                     f'y2="{coord(bottom + 4)}" stroke="{AXIS}"/>')
        parts.append(svg_text(px, bottom + 15, fmt(t), 10, MUTED, "middle"))
    parts.append(f'<line x1="{coord(left)}" y1="{coord(bottom)}" x2="{coord(right)}" '
                 f'y2="{coord(bottom)}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{coord(left)}" y1="{coord(top)}" x2="{coord(left)}" y2="{coord(bottom)}" '
                 f'stroke="{AXIS}"/>')
    if xlabel:
        parts.append(svg_text((left + right) / 2, box.height - 6, xlabel, 11, MUTED, "middle"))
    if ylabel:
        cy = (top + bottom) / 2
        rotate = f' transform="rotate(-90 14 {coord(cy)})"'
        parts.append(svg_text(14, cy, ylabel, 11, MUTED, "middle", extra=rotate))
    return parts
