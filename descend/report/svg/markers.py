"""A line chart's reference markers: dashed vertical (x) or horizontal (y) lines with labels."""

from __future__ import annotations

from typing import Sequence

from descend.report.svg.axis import Axis, Box
from descend.report.svg.base import Marker, coord, svg_text, text_width


def _vertical(m: Marker, p: float, box: Box, placed: list[tuple[float, float, int]]) -> list[str]:
    """A marker at x pixel `p`; its label moves down a row while it would overlap one already `placed`."""
    parts = [f'<line x1="{coord(p)}" y1="{coord(box.top)}" x2="{coord(p)}" y2="{coord(box.bottom)}" '
             f'stroke="{m.color}" stroke-width="1.5" stroke-dasharray="4 3"/>']
    if m.label:
        w = text_width(m.label, 10)
        anchor = "end" if p > (box.left + box.right) / 2 else "start"
        x0 = p - 4 - w if anchor == "end" else p + 4
        row = 0
        while any(r == row and x0 < b + 6 and a < x0 + w + 6 for a, b, r in placed):
            row += 1
        placed.append((x0, x0 + w, row))
        parts.append(svg_text(p - 4 if anchor == "end" else p + 4, box.top + 11 + 13 * row, m.label, 10,
                              m.color, anchor, weight="600"))
    return parts


def _horizontal(m: Marker, p: float, box: Box) -> list[str]:
    """A marker at y pixel `p`, labelled at the right end."""
    parts = [f'<line x1="{coord(box.left)}" y1="{coord(p)}" x2="{coord(box.right)}" y2="{coord(p)}" '
             f'stroke="{m.color}" stroke-width="1.5" stroke-dasharray="4 3"/>']
    if m.label:
        parts.append(svg_text(box.right - 4, p - 4, m.label, 10, m.color, "end", weight="600"))
    return parts


def draw_markers(markers: Sequence[Marker], xa: Axis, ya: Axis, box: Box) -> list[str]:
    """The markers that fall inside their axis's range (others are left out)."""
    parts: list[str] = []
    placed: list[tuple[float, float, int]] = []
    for m in markers:
        axis = xa if m.axis == "x" else ya
        if not axis.contains(m.at):
            continue
        p = float(axis(m.at))
        parts += _vertical(m, p, box, placed) if m.axis == "x" else _horizontal(m, p, box)
    return parts
