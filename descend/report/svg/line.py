"""The line chart: named series on linear or log axes, with a legend and labelled reference markers."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from descend.report.svg.axis import Axis, Box, draw_axes
from descend.report.svg.base import PALETTE, TEXT, Marker, Series, empty_chart, open_svg, svg_text
from descend.report.svg.legend import draw_legend, entries
from descend.report.svg.markers import draw_markers
from descend.report.svg.series import draw_series


def _arrays(series: Sequence[Series]) -> list[tuple[Series, np.ndarray, np.ndarray, str]]:
    """(series, x, y, colour) per series, as float64 vectors; a series' colour defaults to the palette's."""
    data = []
    for i, s in enumerate(series):
        x = np.asarray(s.x, dtype=np.float64).reshape(-1)
        y = np.asarray(s.y, dtype=np.float64).reshape(-1)
        if len(x) != len(y):
            raise ValueError(f"line_chart: series '{s.name}' has {len(x)} x values and {len(y)} y values")
        data.append((s, x, y, s.color or PALETTE[i % len(PALETTE)]))
    return data


def line_chart(series: Sequence[Series], *, title: str = "", xlabel: str = "", ylabel: str = "",
               logx: bool = False, logy: bool = False, markers: Sequence[Marker] = (),
               ylim: tuple[float, float] | None = None, width: float = 640, height: float = 300,
               standalone: bool = False) -> str:
    """A line chart of several named series with legend, ticks, axis labels and reference markers."""
    data = _arrays(series)
    usable = [((np.isfinite(x) & (x > 0 if logx else True)) & (np.isfinite(y) & (y > 0 if logy else True)))
              for _, x, y, _ in data]
    if not any(u.any() for u in usable):
        return empty_chart(width, height, title, "No data", standalone)

    legend = entries(data, usable, logy)
    left, right = 62.0, 18.0
    top = 14.0 + (22.0 if title else 0.0)
    legend_parts, legend_h = draw_legend(legend, left, top + 8, width - left - right)
    top += legend_h + (6 if legend else 4)
    bottom = 24.0 + (18.0 if xlabel else 0.0)
    box = Box(left, top, width - right, height - bottom, width, height)
    # The x axis spans every x, also where y is missing: a run that ends in NaN shows a gap at its end.
    all_x = np.concatenate([x for _, x, _, _ in data])
    all_y = np.concatenate([y[u] for (_, _, y, _), u in zip(data, usable)])
    xa = Axis(all_x, logx, box.left, box.right, pad=False)
    ya = Axis(all_y, logy, box.bottom, box.top, pad=True, limits=ylim)

    parts = [open_svg(width, height, standalone, title or ylabel or "chart")]
    if title:
        parts.append(svg_text(left - 50, 22, title, 13, TEXT, weight="600"))
    parts += legend_parts
    parts += draw_axes(xa, ya, box, xlabel, ylabel)
    parts += draw_markers(markers, xa, ya, box)  # under the data
    parts += draw_series(data, usable, xa, ya, box, clip=ylim is not None)
    parts.append("</svg>")
    return "".join(parts)
