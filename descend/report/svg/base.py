"""The charts' shared ground: colours, the Series and Marker records, number labels, tick values and the SVG
text primitives (escaped text, coordinates, the opening tag, the empty "No data" chart)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

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


# --- SVG text ---------------------------------------------------------------------------------------------


def escape(s: object) -> str:
    """Text or an attribute value, HTML-escaped."""
    return html.escape(str(s), quote=True)


def coord(v: float) -> str:
    """A coordinate with at most two decimals."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def svg_text(x: float, y: float, s: str, size: float = 11, color: str = TEXT, anchor: str = "start",
             weight: str = "normal", extra: str = "") -> str:
    """A <text> element; `s` is escaped here."""
    bold = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text x="{coord(x)}" y="{coord(y)}" font-size="{size}" fill="{color}" text-anchor="{anchor}"'
            f'{bold}{extra}>{escape(s)}</text>')


def text_width(s: str, size: float = 11) -> float:
    """A text's rendered width, estimated (proportional fonts average ~0.58 em per character)."""
    return 0.58 * size * len(s)


def open_svg(width: float, height: float, standalone: bool, label: str) -> str:
    """The opening <svg> tag (with the namespace when `standalone`) and its accessible title."""
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    w, h = coord(width), coord(height)
    return (f'<svg{ns} viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'role="img" aria-label="{escape(label)}" font-family="{escape(FONT)}" class="chart">'
            f'<title>{escape(label)}</title>')


def empty_chart(width: float, height: float, title: str, message: str, standalone: bool) -> str:
    """A chart frame that says `message` (e.g. "No data") instead of drawing."""
    parts = [open_svg(width, height, standalone, title or message)]
    if title:
        parts.append(svg_text(12, 20, title, 13, TEXT, weight="600"))
    parts.append(f'<rect x="12" y="32" width="{coord(width - 24)}" height="{coord(height - 44)}" rx="6" '
                 f'fill="#f8fafc" stroke="{GRID}"/>')
    parts.append(svg_text(width / 2, height / 2 + 10, message, 12, MUTED, "middle"))
    parts.append("</svg>")
    return "".join(parts)
