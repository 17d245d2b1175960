"""The report's HTML kit: escaping and number formatting, sections, notes, tables, tiles, chart grids, the
style sheet (style.css, package data) and the page skeleton around the sections. No run reading here."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOR = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}


def escape(s: object) -> str:
    """Text or an attribute value, HTML-escaped."""
    return html.escape(str(s), quote=True)


def num(v: Any, digits: int = 4) -> str:
    """A value for a table: numbers to `digits` significant digits, NaN/inf by name, others as text."""
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v).lower()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    return str(v)


def pct(v: Any) -> str:
    """A fraction as a percentage with two decimals (other values as `num` writes them)."""
    return f"{100 * v:.2f}%" if isinstance(v, (int, float)) and math.isfinite(v) else num(v)


def note(text: str) -> str:
    """A muted paragraph saying what is missing and why."""
    return f'<p class="note">{escape(text)}</p>'


def section(sid: str, title: str, body: str, lead: str = "") -> str:
    """A <section> with a stable id (the navigation's anchor), a heading and an optional lead paragraph."""
    lead_html = f'<p class="lead">{escape(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{lead_html}{body}</section>'


def charts(*svgs: str) -> str:
    """A grid of chart cards; empty strings are skipped, and no charts at all give ""."""
    cells = "".join(f'<figure class="card chart-card">{c}</figure>' for c in svgs if c)
    return f'<div class="charts">{cells}</div>' if cells else ""


def table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table; cells are escaped here."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def kv_table(pairs: list[tuple[str, str]]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def tile(label: str, value: str, sub: str = "") -> str:
    """A summary tile: a label, a large value and an optional line under it."""
    sub_html = f'<div class="tile-sub">{escape(sub)}</div>' if sub else ""
    return f'<div class="tile"><div class="tile-label">{escape(label)}</div>' \
           f'<div class="tile-value">{escape(value)}</div>{sub_html}</div>'


def flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict (a config) as ("table.key", value) pairs."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += flatten(v, key + ".")
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, str)) else num(v, 6)))
    return out


def css() -> str:
    """The page's style sheet (report/style.css, package data), read when a page is rendered."""
    return Path(__file__).with_name("style.css").read_text(encoding="utf-8")


def status(diagnoses: list[dict], has_doctor: bool) -> str:
    """The header's badge: not checked, no problems, or the count of diagnoses by severity."""
    if not has_doctor:
        return ('<span class="status" style="background:#334155;color:#e2e8f0">'
                "Not checked by the doctor</span>")
    if not diagnoses:
        return '<span class="status" style="background:#dcfce7;color:#166534">No problems detected</span>'
    counts: dict[str, int] = {}
    for d in diagnoses:
        counts[str(d.get("severity") or "info")] = counts.get(str(d.get("severity") or "info"), 0) + 1
    worst = min(counts, key=lambda s: SEVERITY_ORDER.get(s, 3))
    words = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in
                      sorted(counts.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 3)))
    bg = {"error": "#fee2e2", "warning": "#fef3c7"}.get(worst, "#dbeafe")
    fg = {"error": "#991b1b", "warning": "#92400e"}.get(worst, "#1e40af")
    return f'<span class="status" style="background:{bg};color:{fg}">{escape(words)}</span>'


def document(name: str, subtitle: list[str], badge: str, nav: list[tuple[str, str]], sections: list[str],
             footer: str) -> str:
    """The whole page: head with the inline style sheet, a header, the navigation, the sections, a footer.

    nav: (section id, link text) pairs; footer: plain text (escaped here).
    """
    links = "".join(f'<a href="#{sid}">{label}</a>' for sid, label in nav)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(name)} · descend report</title><style>{css()}</style></head><body>"
        f'<header class="top"><div class="wrap"><p class="eyebrow">descend training report</p>'
        f'<h1>{escape(name)}</h1><p class="sub">{escape(" · ".join(subtitle))}</p>'
        f"{badge}</div></header>"
        f'<nav><div class="wrap">{links}</div></nav>'
        f'<main class="wrap">{"".join(sections)}</main>'
        f'<footer class="wrap">{escape(footer)}</footer></body></html>\n'
    )
