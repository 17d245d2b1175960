"""The heat-map: rows x columns of values as viridis cells (log10 scale by default), with row labels, column
ticks, a colour bar and a key for the cells off the scale (missing, NaN/inf, <= 0 on a log scale)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from descend.report.svg.base import (AXIS, MISSING, MUTED, NONFINITE, TEXT, ZERO, coord, empty_chart, escape,
                                     fmt, linear_ticks, log_ticks, open_svg, svg_text, text_width)

# Viridis at eleven evenly spaced points (perceptually uniform, readable in grey and by colour-blind readers).
_VIRIDIS = ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
            "#7ad151", "#bddf26", "#fde725")
MAX_COLUMNS = 120  # heat-map columns; more samples are merged (geometric mean) into this many


def viridis(t: float) -> str:
    """The viridis colour at t in [0, 1] as #rrggbb (linear between eleven reference points)."""
    t = min(max(float(t), 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    f = t - i
    a = [int(_VIRIDIS[i][k:k + 2], 16) for k in (1, 3, 5)]
    b = [int(_VIRIDIS[i + 1][k:k + 2], 16) for k in (1, 3, 5)]
    return "#" + "".join(f"{round(p + (q - p) * f):02x}" for p, q in zip(a, b))


# Heat-map cell kinds.
_OK, _MISSING, _NONFINITE, _ZERO = 0, 1, 2, 3
_CELL_COLORS = {_MISSING: MISSING, _NONFINITE: NONFINITE, _ZERO: ZERO}
_CELL_KEYS = ((_NONFINITE, "NaN / inf"), (_ZERO, "<= 0"), (_MISSING, "no value"))


def _cells(values: np.ndarray, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """(numbers on the colour scale, kind of each cell); a masked entry is a missing value."""
    mask = np.ma.getmaskarray(values)
    v = np.asarray(np.ma.getdata(values), dtype=np.float64)
    kind = np.full(v.shape, _OK)
    kind[~np.isfinite(v)] = _NONFINITE
    if log:
        kind[np.isfinite(v) & (v <= 0)] = _ZERO
    kind[mask] = _MISSING
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(kind == _OK, np.log10(np.where(kind == _OK, v, 1.0)) if log else v, np.nan)
    return scaled, kind


def _merge_columns(scaled: np.ndarray, kind: np.ndarray, cols: np.ndarray,
                   limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most `limit` columns: the mean of each group's scaled values; NaN/inf anywhere in a group wins."""
    n = scaled.shape[1]
    if n <= limit:
        return scaled, kind, cols
    groups = np.array_split(np.arange(n), limit)
    out = np.full((scaled.shape[0], len(groups)), np.nan)
    out_kind = np.full(out.shape, _MISSING)
    for j, idx in enumerate(groups):
        for i in range(scaled.shape[0]):
            k = kind[i, idx]
            if (k == _NONFINITE).any():
                out_kind[i, j] = _NONFINITE
            elif (k == _OK).any():
                out_kind[i, j] = _OK
                out[i, j] = scaled[i, idx][k == _OK].mean()  # in log space: a geometric mean
            elif (k == _ZERO).any():
                out_kind[i, j] = _ZERO
    return out, out_kind, cols[[g[0] for g in groups]]

@dataclass
class _Layout:
    """Where the cells go: the plot's left and top edge, cell sizes, and the colour scale's ends."""

    left: float
    top: float
    cell_w: float
    cell_h: float
    plot_w: float
    plot_h: float
    lo: float
    hi: float


def _layout(scaled: np.ndarray, kind: np.ndarray, labels: list[str], title: str, width: float,
            right: float) -> _Layout:
    """Room for the row labels on the left, at most 28 px per row, the colour scale over the finite cells."""
    rows, ncols = scaled.shape
    left = max(60.0, max(text_width(s, 10) for s in labels) + 16)
    top = 30.0 + (22.0 if title else 0.0)
    cell_h = min(28.0, max(8.0, 300.0 / rows))
    plot_w = width - left - right
    ok = kind == _OK
    lo, hi = (float(scaled[ok].min()), float(scaled[ok].max())) if ok.any() else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return _Layout(left, top, plot_w / ncols, cell_h, plot_w, cell_h * rows, lo, hi)


def _cell_grid(g: _Layout, scaled: np.ndarray, kind: np.ndarray, row_labels: Sequence[str], labels: list[str],
               cols: np.ndarray, xlabel: str, log: bool, merged: bool) -> list[str]:
    """Row labels (the full name as a tooltip when shortened) and a rect per cell (its value as a tooltip)."""
    parts = ['<g shape-rendering="crispEdges">']  # no hairline seams between neighbouring cells
    for i in range(scaled.shape[0]):
        y = g.top + i * g.cell_h
        tip = f"<title>{escape(row_labels[i])}</title>" if labels[i] != str(row_labels[i]) else ""
        size = 10 if g.cell_h >= 12 else 8
        parts.append(svg_text(g.left - 8, y + g.cell_h / 2 + 3.5, labels[i], size, TEXT, "end")
                     .replace("</text>", tip + "</text>"))
        for j in range(scaled.shape[1]):
            if kind[i, j] == _OK:
                color = viridis((scaled[i, j] - g.lo) / (g.hi - g.lo))
                shown = fmt(10.0 ** scaled[i, j] if log else scaled[i, j])
            else:
                color = _CELL_COLORS[kind[i, j]]
                shown = dict(_CELL_KEYS)[kind[i, j]]
            if merged and kind[i, j] == _OK:
                shown = f"~{shown}"
            x = g.left + j * g.cell_w
            parts.append(f'<rect x="{coord(x)}" y="{coord(y)}" width="{coord(g.cell_w + 0.3)}" '
                         f'height="{coord(g.cell_h)}" fill="{color}"><title>{escape(row_labels[i])}, '
                         f'{escape(xlabel)} {escape(fmt(cols[j]))}: {escape(shown)}</title></rect>')
    parts.append("</g>")
    return parts


def _column_ticks(g: _Layout, cols: np.ndarray, xlabel: str) -> list[str]:
    """Up to six column (step) ticks under the cells, and the axis label."""
    parts = []
    ncols, bottom = len(cols), g.top + g.plot_h
    for j in np.unique(np.linspace(0, ncols - 1, min(6, ncols)).round().astype(int)):
        x = g.left + (j + 0.5) * g.cell_w
        parts.append(f'<line x1="{coord(x)}" y1="{coord(bottom)}" x2="{coord(x)}" y2="{coord(bottom + 4)}" '
                     f'stroke="{AXIS}"/>')
        parts.append(svg_text(x, bottom + 15, fmt(cols[j]), 10, MUTED, "middle"))
    if xlabel:
        parts.append(svg_text(g.left + g.plot_w / 2, bottom + 32, xlabel, 11, MUTED, "middle"))
    return parts


def _colour_bar(g: _Layout, bx: float, log: bool, label: str) -> list[str]:
    """The colour scale as 32 strips at x `bx`, its ticks (powers of ten on a log scale) and its label."""
    bw, bh, top, lo, hi = 12.0, max(g.plot_h, 80.0), g.top, g.lo, g.hi
    strips = 32
    parts = [f'<rect x="{coord(bx)}" y="{coord(top + k * bh / strips)}" width="{coord(bw)}" '
             f'height="{coord(bh / strips + 0.3)}" fill="{viridis(1 - (k + 0.5) / strips)}"/>'
             for k in range(strips)]
    parts.append(f'<rect x="{coord(bx)}" y="{coord(top)}" width="{coord(bw)}" height="{coord(bh)}" '
                 f'fill="none" stroke="{AXIS}" stroke-width="0.5"/>')
    if log:
        ticks = [math.log10(t) for t in log_ticks(10.0 ** lo, 10.0 ** hi)]
        if len(ticks) < 2:
            ticks = [lo, hi]
    else:
        ticks = linear_ticks(lo, hi, 4)
    for t in ticks:
        y = top + (hi - t) / (hi - lo) * bh
        parts.append(f'<line x1="{coord(bx + bw)}" y1="{coord(y)}" x2="{coord(bx + bw + 3)}" y2="{coord(y)}" '
                     f'stroke="{AXIS}"/>')
        parts.append(svg_text(bx + bw + 5, y + 3.5, fmt(float(f"{10.0 ** t if log else t:.3g}")), 9, MUTED))
    if label:
        parts.append(svg_text(bx, top - 6, label, 10, MUTED))
    return parts


def _cell_key(g: _Layout, kind: np.ndarray) -> list[str]:
    """A swatch and a name for each kind of off-scale cell that occurs."""
    parts = []
    kx, ky = g.left, g.top + g.plot_h + 44
    for k, name in _CELL_KEYS:
        if (kind == k).any():
            parts.append(f'<rect x="{coord(kx)}" y="{coord(ky - 8)}" width="9" height="9" '
                         f'fill="{_CELL_COLORS[k]}" stroke="{AXIS}" stroke-width="0.5"/>')
            parts.append(svg_text(kx + 13, ky, name, 10, MUTED))
            kx += 13 + text_width(name, 10) + 16
    return parts


def heatmap(values: np.ndarray, row_labels: Sequence[str], col_values: Sequence[float], *, title: str = "",
            xlabel: str = "step", cbar_label: str = "", log: bool = True, width: float = 640,
            standalone: bool = False) -> str:
    """Rows x columns of values as coloured cells (viridis, log10 scale by default) with a colour bar.

    values: (rows, columns), e.g. layers x sampled steps, a plain or masked array (masked: no value);
    col_values label the columns (the steps). NaN/inf cells are red; on a log scale cells <= 0 are dark.
    """
    v = np.ma.asarray(values)
    if v.ndim != 2 or v.shape[0] != len(row_labels) or v.shape[1] != len(col_values):
        raise ValueError(f"heatmap: values of shape {v.shape} do not match {len(row_labels)} row labels and "
                         f"{len(col_values)} column values")
    if v.size == 0:
        return empty_chart(width, 160, title, "No data", standalone)
    scaled, kind = _cells(v, log)
    scaled, kind, cols = _merge_columns(scaled, kind, np.asarray(col_values, dtype=np.float64), MAX_COLUMNS)
    merged = scaled.shape[1] != v.shape[1]
    labels = [str(s) if len(str(s)) <= 26 else "…" + str(s)[-25:] for s in row_labels]
    right = 92.0
    g = _layout(scaled, kind, labels, title, width, right)
    height = g.top + max(g.plot_h, 80.0) + 48

    parts = [open_svg(width, height, standalone, title or "heat-map")]
    if title:
        parts.append(svg_text(12, 22, title, 13, TEXT, weight="600"))
    parts += _cell_grid(g, scaled, kind, row_labels, labels, cols, xlabel, log, merged)
    parts += _column_ticks(g, cols, xlabel)
    parts += _colour_bar(g, width - right + 14, log, cbar_label)
    parts += _cell_key(g, kind)
    parts.append("</svg>")
    return "".join(parts)
