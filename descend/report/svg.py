"""Hand-written SVG charts: line charts (linear or log axes, legend, markers) and log-scale heat-maps.

Each function returns one <svg> element as a string, sized by its viewBox so it scales to its container.
Inline in HTML it needs no namespace; `standalone=True` adds the xmlns for a file of its own.
Non-finite values (and values <= 0 on a log axis) are gaps in a line, never an error; an empty chart says
"No data".
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#475569",
           "#65a30d", "#dc2626")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
TEXT = "#334155"       # labels
MUTED = "#64748b"      # ticks, notes
GRID = "#e2e8f0"       # grid lines
AXIS = "#94a3b8"       # axis lines
NONFINITE = "#dc2626"  # heat-map cells holding NaN or inf
MISSING = "#f8fafc"    # heat-map cells without a value
ZERO = "#1e293b"       # heat-map cells <= 0 on a log scale (e.g. a layer with no gradient at all)

# Viridis at eleven evenly spaced points (perceptually uniform, readable in grey and by colour-blind readers).
_VIRIDIS = ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
            "#7ad151", "#bddf26", "#fde725")
MAX_POINTS = 2000  # per line; longer series keep each bucket's min and max, so spikes stay visible
MAX_COLUMNS = 120  # heat-map columns; more samples are merged (geometric mean) into this many


@dataclass
class Series:
    """One named line (or, with points=True, a set of dots) of a line chart."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    color: str | None = None
    width: float = 2.0
    dashed: bool = False
    opacity: float = 1.0
    points: bool = False
    legend: bool = True


@dataclass
class Marker:
    """A labelled reference line: vertical at x=`at` (axis "x") or horizontal at y=`at` (axis "y")."""

    at: float
    label: str = ""
    color: str = MUTED
    axis: str = "x"


# --- numbers and ticks ------------------------------------------------------------------------------------


def fmt(v: float) -> str:
    """A short label for a number: 0.001, 0.25, 12, 1.5k, 2e-05 -> 2e-5."""
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e4 and float(v).is_integer():
        for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if a >= div:
                return f"{v / div:.3g}{suffix}"
    if a < 1e-3 or a >= 1e4:
        mantissa, exp = f"{v:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exp)}"
    return f"{v:.4g}" if a >= 1 else f"{v:.3g}"


def linear_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round values (steps of 1, 2, 2.5 or 5 times a power of ten) spanning [lo, hi]."""
    if not hi > lo:
        return [lo]
    base = 10 ** math.floor(math.log10((hi - lo) / max(n, 1)))

    def count(step: float) -> int:
        return math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1

    # The round step whose tick count is nearest n (the larger step on a tie).
    step = min((m * base for m in (10, 5, 2.5, 2, 1)), key=lambda st: abs(count(st) - n))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten in [lo, hi] (every k-th when there are many; with 2 and 5 when there are few)."""
    a, b = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    decades = list(range(a, b + 1))
    if math.log10(hi / lo) <= 2.5:
        cands = [m * 10.0 ** d for d in decades for m in (1, 2, 5)]
    else:
        every = math.ceil(len(decades) / 7)
        cands = [10.0 ** d for d in decades if d % every == 0]
    return [t for t in cands if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


class _Axis:
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


# --- SVG text ---------------------------------------------------------------------------------------------


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _n(v: float) -> str:
    """A coordinate with at most two decimals."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, size: float = 11, color: str = TEXT, anchor: str = "start",
          weight: str = "normal", extra: str = "") -> str:
    bold = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" fill="{color}" text-anchor="{anchor}"'
            f'{bold}{extra}>{_e(s)}</text>')


def _width(s: str, size: float = 11) -> float:
    """A text's rendered width, estimated (proportional fonts average ~0.58 em per character)."""
    return 0.58 * size * len(s)


def _open(width: float, height: float, standalone: bool, label: str) -> str:
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    return (f'<svg{ns} viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
            f'role="img" aria-label="{_e(label)}" font-family="{_e(FONT)}" class="chart">'
            f'<title>{_e(label)}</title>')


def _empty(width: float, height: float, title: str, message: str, standalone: bool) -> str:
    parts = [_open(width, height, standalone, title or message)]
    if title:
        parts.append(_text(12, 20, title, 13, TEXT, weight="600"))
    parts.append(f'<rect x="12" y="32" width="{_n(width - 24)}" height="{_n(height - 44)}" rx="6" '
                 f'fill="#f8fafc" stroke="{GRID}"/>')
    parts.append(_text(width / 2, height / 2 + 10, message, 12, MUTED, "middle"))
    parts.append("</svg>")
    return "".join(parts)


# --- line chart -------------------------------------------------------------------------------------------


def _decimate(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
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


def _segments(px: np.ndarray, py: np.ndarray, ok: np.ndarray) -> list[str]:
    """Polyline point lists for the runs of consecutive usable points."""
    out, run = [], []
    for a, b, good in zip(px, py, ok):
        if good:
            run.append(f"{_n(a)},{_n(b)}")
        elif run:
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return out


def _legend(items: list[tuple[str, str, bool, float]], x0: float, y0: float,
            width: float) -> tuple[list[str], float]:
    """Legend entries flowing left to right, wrapping; returns the SVG parts and the height used."""
    parts, x, y = [], x0, y0
    for name, color, dashed, opacity in items:
        w = 24 + _width(name) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}" y2="{_n(y - 4)}" '
                     f'stroke="{color}" stroke-width="2.5" opacity="{max(opacity, 0.45)}"{dash}/>')
        parts.append(_text(x + 24, y, name, 11, TEXT))
        x += w
    return parts, (y - y0 + 18) if items else 0.0


def line_chart(series: Sequence[Series], *, title: str = "", xlabel: str = "", ylabel: str = "",
               logx: bool = False, logy: bool = False, markers: Sequence[Marker] = (),
               ylim: tuple[float, float] | None = None, width: float = 640, height: float = 300,
               standalone: bool = False) -> str:
    """A line chart of several named series with legend, ticks, axis labels and reference markers."""
    data = []
    for i, s in enumerate(series):
        x = np.asarray(s.x, dtype=np.float64).reshape(-1)
        y = np.asarray(s.y, dtype=np.float64).reshape(-1)
        if len(x) != len(y):
            raise ValueError(f"line_chart: series '{s.name}' has {len(x)} x values and {len(y)} y values")
        data.append((s, x, y, s.color or PALETTE[i % len(PALETTE)]))
    usable = [((np.isfinite(x) & (x > 0 if logx else True)) & (np.isfinite(y) & (y > 0 if logy else True)))
              for _, x, y, _ in data]
    if not any(u.any() for u in usable):
        return _empty(width, height, title, "No data", standalone)

    legend_items = []
    for (s, x, y, color), u in zip(data, usable):
        bad = int((~u).sum())
        name = s.name
        if bad and len(x):
            what = "non-finite" if not logy else "non-finite or <= 0"
            name = f"{s.name} ({bad} {what} not drawn)"
        if s.legend and s.name:
            legend_items.append((name, color, s.dashed, s.opacity))
    left, right = 62.0, 18.0
    top = 14.0 + (22.0 if title else 0.0)
    legend_parts, legend_h = _legend(legend_items, left, top + 8, width - left - right)
    top += legend_h + (6 if legend_items else 4)
    bottom = 24.0 + (18.0 if xlabel else 0.0)
    # The x axis spans every x, also where y is missing: a run that ends in NaN shows a gap at its end.
    all_x = np.concatenate([x for _, x, _, _ in data])
    all_y = np.concatenate([y[u] for (_, _, y, _), u in zip(data, usable)])
    xa = _Axis(all_x, logx, left, width - right, pad=False)
    ya = _Axis(all_y, logy, height - bottom, top, pad=True, limits=ylim)

    label = title or ylabel or "chart"
    parts = [_open(width, height, standalone, label)]
    if title:
        parts.append(_text(left - 50, 22, title, 13, TEXT, weight="600"))
    parts += legend_parts
    # grid and tick labels
    for t in ya.ticks():
        py = float(ya(t))
        parts.append(f'<line x1="{_n(left)}" y1="{_n(py)}" x2="{_n(width - right)}" y2="{_n(py)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(left - 6, py + 3.5, fmt(t), 10, MUTED, "end"))
    for t in xa.ticks():
        px = float(xa(t))
        parts.append(f'<line x1="{_n(px)}" y1="{_n(height - bottom)}" x2="{_n(px)}" '
                     f'y2="{_n(height - bottom + 4)}" stroke="{AXIS}"/>')
        parts.append(_text(px, height - bottom + 15, fmt(t), 10, MUTED, "middle"))
    parts.append(f'<line x1="{_n(left)}" y1="{_n(height - bottom)}" x2="{_n(width - right)}" '
                 f'y2="{_n(height - bottom)}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(height - bottom)}" '
                 f'stroke="{AXIS}"/>')
    if xlabel:
        parts.append(_text((left + width - right) / 2, height - 6, xlabel, 11, MUTED, "middle"))
    if ylabel:
        cy = (top + height - bottom) / 2
        rotate = f' transform="rotate(-90 14 {_n(cy)})"'
        parts.append(_text(14, cy, ylabel, 11, MUTED, "middle", extra=rotate))
    # markers under the data; a label that would overlap an earlier one moves down a row
    placed: list[tuple[float, float, int]] = []
    for m in markers:
        axis = xa if m.axis == "x" else ya
        if not axis.contains(m.at):
            continue
        p = float(axis(m.at))
        if m.axis == "x":
            parts.append(f'<line x1="{_n(p)}" y1="{_n(top)}" x2="{_n(p)}" y2="{_n(height - bottom)}" '
                         f'stroke="{m.color}" stroke-width="1.5" stroke-dasharray="4 3"/>')
            if m.label:
                w = _width(m.label, 10)
                anchor = "end" if p > (left + width - right) / 2 else "start"
                x0 = p - 4 - w if anchor == "end" else p + 4
                row = 0
                while any(r == row and x0 < b + 6 and a < x0 + w + 6 for a, b, r in placed):
                    row += 1
                placed.append((x0, x0 + w, row))
                parts.append(_text(p - 4 if anchor == "end" else p + 4, top + 11 + 13 * row, m.label, 10,
                                   m.color, anchor, weight="600"))
        else:
            parts.append(f'<line x1="{_n(left)}" y1="{_n(p)}" x2="{_n(width - right)}" y2="{_n(p)}" '
                         f'stroke="{m.color}" stroke-width="1.5" stroke-dasharray="4 3"/>')
            if m.label:
                parts.append(_text(width - right - 4, p - 4, m.label, 10, m.color, "end", weight="600"))
    # data: lines outside a given ylim are pinned to the plot edge, points outside it are left out
    for (s, x, y, color), u in zip(data, usable):
        if s.points:
            inside = u & np.array([ya.contains(v) for v in y], dtype=bool) if ylim else u
            for px, py in zip(xa(x[inside]), ya(y[inside])):
                parts.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="4" fill="{color}" stroke="white" '
                             f'stroke-width="1.5" opacity="{s.opacity}"/>')
            continue
        xd, yd = _decimate(x, y, MAX_POINTS)
        ud = np.isfinite(xd) & np.isfinite(yd) & (xd > 0 if logx else True) & (yd > 0 if logy else True)
        py = np.clip(ya(np.where(ud, yd, 1.0)), top - 2, height - bottom + 2)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        for pts in _segments(xa(np.where(ud, xd, 1.0)), py, ud):
            if " " not in pts:  # a lone point between gaps: a dot, or it would not show
                cx, cy = pts.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="{_n(s.width)}" fill="{color}" '
                             f'opacity="{s.opacity}"/>')
                continue
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{s.width}" '
                         f'stroke-linejoin="round" stroke-linecap="round" opacity="{s.opacity}"{dash}/>')
    parts.append("</svg>")
    return "".join(parts)


# --- heat-map ---------------------------------------------------------------------------------------------


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
        return _empty(width, 160, title, "No data", standalone)
    raw = np.ma.getdata(v).astype(np.float64)
    scaled, kind = _cells(v, log)
    scaled, kind, cols = _merge_columns(scaled, kind, np.asarray(col_values, dtype=np.float64), MAX_COLUMNS)
    merged = scaled.shape[1] != raw.shape[1]
    rows, ncols = scaled.shape
    labels = [str(s) if len(str(s)) <= 26 else "…" + str(s)[-25:] for s in row_labels]
    left = max(60.0, max(_width(s, 10) for s in labels) + 16)
    right = 92.0
    top = 30.0 + (22.0 if title else 0.0)
    cell_h = min(28.0, max(8.0, 300.0 / rows))
    plot_h = cell_h * rows
    height = top + max(plot_h, 80.0) + 48
    plot_w = width - left - right
    cell_w = plot_w / ncols

    ok = kind == _OK
    lo, hi = (float(scaled[ok].min()), float(scaled[ok].max())) if ok.any() else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5

    parts = [_open(width, height, standalone, title or "heat-map")]
    if title:
        parts.append(_text(12, 22, title, 13, TEXT, weight="600"))
    parts.append('<g shape-rendering="crispEdges">')  # no hairline seams between neighbouring cells
    for i in range(rows):
        y = top + i * cell_h
        tip = f"<title>{_e(row_labels[i])}</title>" if labels[i] != str(row_labels[i]) else ""
        parts.append(_text(left - 8, y + cell_h / 2 + 3.5, labels[i], 10 if cell_h >= 12 else 8, TEXT,
                           "end").replace("</text>", tip + "</text>"))
        for j in range(ncols):
            if kind[i, j] == _OK:
                color = viridis((scaled[i, j] - lo) / (hi - lo))
                shown = fmt(10.0 ** scaled[i, j] if log else scaled[i, j])
            else:
                color = _CELL_COLORS[kind[i, j]]
                shown = dict(_CELL_KEYS)[kind[i, j]]
            if merged and kind[i, j] == _OK:
                shown = f"~{shown}"
            parts.append(f'<rect x="{_n(left + j * cell_w)}" y="{_n(y)}" width="{_n(cell_w + 0.3)}" '
                         f'height="{_n(cell_h)}" fill="{color}"><title>{_e(row_labels[i])}, {_e(xlabel)} '
                         f'{_e(fmt(cols[j]))}: {_e(shown)}</title></rect>')
    parts.append("</g>")
    # column (step) ticks
    for j in np.unique(np.linspace(0, ncols - 1, min(6, ncols)).round().astype(int)):
        x = left + (j + 0.5) * cell_w
        parts.append(f'<line x1="{_n(x)}" y1="{_n(top + plot_h)}" x2="{_n(x)}" y2="{_n(top + plot_h + 4)}" '
                     f'stroke="{AXIS}"/>')
        parts.append(_text(x, top + plot_h + 15, fmt(cols[j]), 10, MUTED, "middle"))
    if xlabel:
        parts.append(_text(left + plot_w / 2, top + plot_h + 32, xlabel, 11, MUTED, "middle"))
    # colour bar
    bx, bw, bh = width - right + 14, 12.0, max(plot_h, 80.0)
    strips = 32
    for k in range(strips):
        parts.append(f'<rect x="{_n(bx)}" y="{_n(top + k * bh / strips)}" width="{_n(bw)}" '
                     f'height="{_n(bh / strips + 0.3)}" fill="{viridis(1 - (k + 0.5) / strips)}"/>')
    parts.append(f'<rect x="{_n(bx)}" y="{_n(top)}" width="{_n(bw)}" height="{_n(bh)}" fill="none" '
                 f'stroke="{AXIS}" stroke-width="0.5"/>')
    if log:
        ticks = [math.log10(t) for t in log_ticks(10.0 ** lo, 10.0 ** hi)]
        if len(ticks) < 2:
            ticks = [lo, hi]
    else:
        ticks = linear_ticks(lo, hi, 4)
    for t in ticks:
        y = top + (hi - t) / (hi - lo) * bh
        parts.append(f'<line x1="{_n(bx + bw)}" y1="{_n(y)}" x2="{_n(bx + bw + 3)}" y2="{_n(y)}" '
                     f'stroke="{AXIS}"/>')
        parts.append(_text(bx + bw + 5, y + 3.5, fmt(float(f"{10.0 ** t if log else t:.3g}")), 9, MUTED))
    if cbar_label:
        parts.append(_text(bx, top - 6, cbar_label, 10, MUTED))
    # key for the cells off the colour scale
    kx, ky = left, top + plot_h + 44
    for k, name in _CELL_KEYS:
        if (kind == k).any():
            parts.append(f'<rect x="{_n(kx)}" y="{_n(ky - 8)}" width="9" height="9" fill="{_CELL_COLORS[k]}" '
                         f'stroke="{AXIS}" stroke-width="0.5"/>')
            parts.append(_text(kx + 13, ky, name, 10, MUTED))
            kx += 13 + _width(name, 10) + 16
    parts.append("</svg>")
    return "".join(parts)
