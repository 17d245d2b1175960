"""A line chart's legend: one entry per named series, flowing left to right and wrapping."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from descend.report.svg.base import TEXT, Series, coord, svg_text, text_width


class Entry(NamedTuple):
    """One legend entry: its text and how its line is drawn."""

    name: str
    color: str
    dashed: bool
    opacity: float


def entries(data: list[tuple[Series, np.ndarray, np.ndarray, str]], usable: list[np.ndarray],
            logy: bool) -> list[Entry]:
    """The entries of the series that want one; a name says how many of its points are not drawn."""
    items = []
    for (s, x, y, color), u in zip(data, usable):
        bad = int((~u).sum())
        name = s.name
        if bad and len(x):
            what = "non-finite" if not logy else "non-finite or <= 0"
            name = f"{s.name} ({bad} {what} not drawn)"
        if s.legend and s.name:
            items.append(Entry(name, color, s.dashed, s.opacity))
    return items


def draw_legend(items: list[Entry], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """The legend's SVG parts from (x0, y0) within `width`, and the height it used."""
    parts, x, y = [], x0, y0
    for name, color, dashed, opacity in items:
        w = 24 + text_width(name) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(f'<line x1="{coord(x)}" y1="{coord(y - 4)}" x2="{coord(x + 18)}" y2="{coord(y - 4)}" '
                     f'stroke="{color}" stroke-width="2.5" opacity="{max(opacity, 0.45)}"{dash}/>')
        parts.append(svg_text(x + 24, y, name, 11, TEXT))
        x += w
    return parts, (y - y0 + 18) if items else 0.0
