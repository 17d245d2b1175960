"""report.html: one self-contained page per run (inline CSS and SVG, PNGs as data URIs, no scripts, no links
out), built from the files of a run directory. Every section says what is missing instead of failing.

Sections (stable ids): summary, diagnoses, curves, lr, gradients, activations, samples (GAN runs only).
"""

from __future__ import annotations

import html
import json
import math
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from descend import io
from descend.report import metrics as M
from descend.report.svg import PALETTE, Marker, Series, heatmap, line_chart

REPORT_FILE = "report.html"
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOR = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}
TRAIN, VAL = PALETTE[0], PALETTE[1]
MAX_SAMPLE_IMAGES = 8
MAX_IMAGE_BYTES = 4 << 20  # a sample image larger than this is named, not embedded
MAX_LINE_LAYERS = 10       # more layers than this: a heat-map instead of one line per layer


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _num(v: Any, digits: int = 4) -> str:
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


def _pct(v: Any) -> str:
    return f"{100 * v:.2f}%" if isinstance(v, (int, float)) and math.isfinite(v) else _num(v)


# --- loading a run ----------------------------------------------------------------------------------------


class _Run:
    """What the report reads from a run directory; a file that cannot be read leaves a note, not an error."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.problems: dict[str, str] = {}
        self.config = self._read("config.toml", lambda p: tomllib.loads(p.read_text(encoding="utf-8")))
        self.meta = self._read("meta.json", _read_json)
        self.diagnosis = self._read("diagnosis.json", _read_json)
        self.lr_find = self._read("lr_find.json", _read_json)
        records = self._read(M.METRICS_FILE, lambda p: M.read_metrics(run_dir))
        self.records: list[dict] = records or []
        self.samples = sorted((run_dir / "samples").glob("*.png")) if (run_dir / "samples").is_dir() else []

    def _read(self, name: str, load: Any) -> Any:
        path = self.dir / name
        if not path.exists():
            return None
        try:
            return load(path)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
            self.problems[name] = f"{name} could not be read: {e}"
            return None

    def missing(self, name: str, why: str) -> str:
        """A note saying that `name` is missing or unreadable, and `why` it matters."""
        if name in self.problems:
            return _note(self.problems[name])
        return _note(why)

    def kind(self, kind: str) -> list[dict]:
        return M.select(self.records, kind)


def _read_json(path: Path) -> Any:
    return M.from_json(json.loads(path.read_text(encoding="utf-8")))


def _diagnoses(run: _Run) -> tuple[list[dict], dict]:
    """The diagnoses (sorted: severity, then step) and the file's other fields ({} for a bare list)."""
    body = run.diagnosis
    if isinstance(body, dict) and isinstance(body.get("diagnoses"), list):
        items, extra = body["diagnoses"], body
    elif isinstance(body, list):
        items, extra = body, {}
    else:
        if body is not None:
            run.problems["diagnosis.json"] = ("diagnosis.json could not be read: expected a list of "
                                              'diagnoses or {"diagnoses": [...]}')
            run.diagnosis = None
        return [], {}
    items = [d for d in items if isinstance(d, dict)]
    items.sort(key=lambda d: (SEVERITY_ORDER.get(str(d.get("severity")), 3),
                              d.get("step") if isinstance(d.get("step"), (int, float)) else math.inf))
    return items, extra


# --- small pieces of HTML ---------------------------------------------------------------------------------


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _section(sid: str, title: str, body: str, lead: str = "") -> str:
    lead_html = f'<p class="lead">{_e(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{lead_html}{body}</section>'


def _charts(*charts: str) -> str:
    cells = "".join(f'<figure class="card chart-card">{c}</figure>' for c in charts if c)
    return f'<div class="charts">{cells}</div>' if cells else ""


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table; cells are escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def _kv_table(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def _tile(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="tile-sub">{_e(sub)}</div>' if sub else ""
    return f'<div class="tile"><div class="tile-label">{_e(label)}</div>' \
           f'<div class="tile-value">{_e(value)}</div>{sub_html}</div>'


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, key + ".")
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, str)) else _num(v, 6)))
    return out


def _auto_log(*ys: np.ndarray, ratio: float = 30.0) -> bool:
    """A log axis when every finite value is positive and they span more than `ratio`."""
    v = np.concatenate([np.asarray(y, dtype=np.float64).reshape(-1) for y in ys]) if ys else np.zeros(0)
    v = v[np.isfinite(v)]
    return len(v) > 1 and bool((v > 0).all()) and v.max() / v.min() > ratio


def _ema(y: np.ndarray, window: float) -> np.ndarray:
    """Exponential moving average with bias correction over the finite values (held across NaN/inf)."""
    beta = 1.0 - 1.0 / max(window, 1.0)
    out = np.full(len(y), np.nan)
    avg, n = 0.0, 0
    for i, v in enumerate(y):
        if math.isfinite(v):
            avg = beta * avg + (1 - beta) * v
            n += 1
        if n:
            out[i] = avg / (1 - beta ** n)
    return out


def _epoch_axis(records: list[dict]) -> np.ndarray:
    """1-based epoch numbers of epoch records (their 0-based "epoch" + 1, or their order)."""
    return np.asarray([float(r["epoch"]) + 1 if isinstance(r.get("epoch"), (int, float)) else i + 1
                       for i, r in enumerate(records)])


def _values(records: list[dict], key: str) -> np.ndarray:
    return np.asarray([M.as_float(r.get(key)) for r in records], dtype=np.float64)


def _best(values: np.ndarray, mode: str) -> int | None:
    finite = np.isfinite(values)
    if not finite.any():
        return None
    masked = np.where(finite, values, np.inf if mode == "min" else -np.inf)
    return int(np.argmin(masked) if mode == "min" else np.argmax(masked))


# --- sections ---------------------------------------------------------------------------------------------


def _diagnoses_section(run: _Run, diagnoses: list[dict], extra: dict) -> str:
    if run.diagnosis is None:
        body = run.missing("diagnosis.json", "No diagnosis.json: the training doctor did not run for this "
                                             "run, so no problems were looked for.")
        return _section("diagnoses", "Diagnoses", body)
    if not diagnoses:
        unfinished = extra.get("finished") is False
        when = f" (up to step {extra.get('step')}; training had not finished)" if unfinished else ""
        body = (f'<div class="card ok"><span class="ok-mark" aria-hidden="true">&#10003;</span>'
                f'<div><strong>No problems detected</strong><p>The training doctor checked this run and '
                f'found nothing to report{_e(when)}.</p></div></div>')
        return _section("diagnoses", "Diagnoses", body)
    cards = []
    for d in diagnoses:
        severity = str(d.get("severity") or "info").lower()
        color = SEVERITY_COLOR.get(severity, "#475569")
        title = d.get("message") or d.get("title") or d.get("rule") or d.get("code") or "Diagnosis"
        where = []
        rule = d.get("rule") or d.get("code")
        if rule:
            where.append(f"rule {rule}")
        if d.get("step") is not None:
            where.append(f"since step {d['step']}")
        if isinstance(d.get("epoch"), (int, float)):
            where.append(f"epoch {int(d['epoch']) + 1}")
        body = [f'<div class="diag-head"><span class="pill" style="background:{color}">{_e(severity)}</span>'
                f'<span class="diag-title">{_e(title)}</span></div>']
        if where:
            body.append(f'<div class="diag-where">{_e(" · ".join(where))}</div>')
        if d.get("evidence"):
            body.append(f'<p class="diag-evidence"><span class="label">Evidence</span>'
                        f'<span>{_e(d["evidence"])}</span></p>')
        if d.get("suggestion"):
            body.append(f'<p class="diag-suggestion"><span class="label">Suggestion</span>'
                        f'<span>{_e(d["suggestion"])}</span></p>')
        cards.append(f'<div class="card diag diag-{_e(severity)}" style="border-left-color:{color}">'
                     f'{"".join(body)}</div>')
    return _section("diagnoses", "Diagnoses", "".join(cards))


def _diagnosis_markers(diagnoses: list[dict]) -> list[Marker]:
    markers = []
    for d in diagnoses:
        if isinstance(d.get("step"), (int, float)):
            label = str(d.get("rule") or d.get("code") or d.get("severity") or "")
            color = SEVERITY_COLOR.get(str(d.get("severity")), "#475569")
            markers.append(Marker(float(d["step"]), label, color))
    return markers


def _curves(run: _Run, diagnoses: list[dict]) -> str:
    epochs = run.kind("epoch")
    steps = run.kind("step")
    charts, notes = [], []
    if epochs:
        e = _epoch_axis(epochs)
        best = _best(_values(epochs, "val_loss"), "min")
        marks = [Marker(float(e[best]), f"best val loss (epoch {e[best]:.0f})", "#16a34a")] \
            if best is not None and len(epochs) > 1 else []
        for what, title in (("loss", "Loss per epoch"), ("acc", "Accuracy per epoch")):
            series = [Series(name, e, _values(epochs, f"{prefix}_{what}"), color, points=len(e) == 1)
                      for prefix, name, color in (("train", "train", TRAIN), ("val", "validation", VAL))
                      if any(f"{prefix}_{what}" in r for r in epochs)]
            if series:
                logy = what == "loss" and _auto_log(*[s.y for s in series])
                charts.append(line_chart(series, title=title, xlabel="epoch",
                                         ylabel="accuracy" if what == "acc" else what, logy=logy,
                                         markers=marks))
        if not any(k.startswith("val_") for r in epochs for k in r):
            notes.append("No validation metrics in the epoch records: train with a validation split to "
                         "compare training and validation curves.")
    else:
        notes.append('No epoch records (kind "epoch") in metrics.jsonl: per-epoch training and validation '
                     "curves are not available.")
    x, loss = M.series(run.records, "step", "loss")
    if len(x):
        series = [Series("loss", x, loss, TRAIN, width=1.2, opacity=0.35 if len(x) >= 20 else 1.0)]
        if len(x) >= 20:
            series.append(Series("smoothed", x, _ema(loss, max(2.0, len(x) / 50)), TRAIN, width=2.2))
        charts.append(line_chart(series, title="Training loss per step", xlabel="step", ylabel="loss",
                                 logy=_auto_log(loss), markers=_diagnosis_markers(diagnoses)))
        xa, acc = M.series(run.records, "step", "acc")
        if len(xa) and np.isfinite(acc).any():
            series = [Series("accuracy", xa, acc, TRAIN, width=1.2, opacity=0.35 if len(xa) >= 20 else 1.0)]
            if len(xa) >= 20:
                series.append(Series("smoothed", xa, _ema(acc, max(2.0, len(xa) / 50)), TRAIN, width=2.2))
            charts.append(line_chart(series, title="Training accuracy per step", xlabel="step",
                                     ylabel="accuracy"))
    else:
        notes.append('No step records (kind "step") in metrics.jsonl: the per-step loss is not available.')
    if not epochs and not len(x):
        return _section("curves", "Training curves",
                        run.missing(M.METRICS_FILE, "No training curves: metrics.jsonl has no step or epoch "
                                                    "records."))
    return _section("curves", "Training curves", "".join(_note(n) for n in notes) + _charts(*charts))


def lr_find_chart(result: dict, standalone: bool = False) -> str:
    """The LR range test as an SVG chart: loss (and smoothed loss) against LR on a log axis, with markers."""
    lrs = np.asarray([M.as_float(v) for v in result.get("lrs") or []])
    losses = np.asarray([M.as_float(v) for v in M.from_json(result.get("losses") or [])])
    smoothed = result.get("smoothed", result.get("smooth_losses", result.get("smooth_loss")))
    n = min(len(lrs), len(losses))
    lrs, losses = lrs[:n], losses[:n]
    raw_width, raw_opacity = (1.2, 0.4) if smoothed else (2.0, 1.0)  # raw loss behind a smoothed one
    series = [Series("loss", lrs, losses, TRAIN, width=raw_width, opacity=raw_opacity)]
    ys = [losses]
    if smoothed:
        sm = np.asarray([M.as_float(v) for v in M.from_json(smoothed)])[:n]
        series.append(Series("smoothed loss", lrs[:len(sm)], sm, TRAIN, width=2.2))
        ys.append(sm)
    # Losses blow up at the end of a sweep; show up to a little above where they started.
    ylim = None
    allv = np.concatenate(ys)
    finite = allv[np.isfinite(allv)]
    if len(finite) > 2:
        ref = ys[-1][np.isfinite(ys[-1])]
        start = float(np.max(ref[:max(3, len(ref) // 10)]))
        lo, hi = float(finite.min()), min(float(finite.max()), start + 0.5 * (start - float(finite.min())))
        if hi > lo:
            margin = 0.05 * (hi - lo)
            ylim = (lo - margin, hi + margin)
    markers = []
    # Both spellings: the agreed layout's (suggested_lr, divergence_lr) and the doctor's result dict's.
    for key, label, color in (("suggested_lr", "suggested", "#16a34a"),
                              ("suggestion", "suggested", "#16a34a"),
                              ("divergence_lr", "diverged", "#dc2626"),
                              ("diverged_lr", "diverged", "#dc2626"),
                              ("configured_lr", "configured", "#475569")):
        v = result.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
            markers.append(Marker(float(v), f"{label} {v:.2g}", color))
    return line_chart(series, title="LR range test", xlabel="learning rate (log scale)", ylabel="loss",
                      logx=True, markers=markers, ylim=ylim, standalone=standalone)


def plot_lr_find(result: dict, path: str | os.PathLike) -> Path:
    """Write the LR range test chart of an lr_find result dict as a standalone SVG file."""
    path = Path(path)
    io.atomic_write_text(path, lr_find_chart(result, standalone=True) + "\n")
    return path


def _lr_find_result(run: _Run) -> dict | None:
    if isinstance(run.lr_find, dict) and run.lr_find.get("lrs"):
        return run.lr_find
    records = run.kind("lr_find")
    if not records:
        return None
    return {"lrs": [r.get("lr") for r in records], "losses": [r.get("loss") for r in records],
            "smoothed": [r.get("smooth_loss") for r in records] if any("smooth_loss" in r for r in records)
            else None}


def _lr(run: _Run) -> str:
    parts = []
    x, lr = M.series(run.records, "step", "lr")
    xlabel = "step"
    if not len(x):
        epochs = run.kind("epoch")
        x, lr = _epoch_axis(epochs), _values(epochs, "lr")
        xlabel = "epoch"
    charts = []
    if len(x) and np.isfinite(lr).any():
        charts.append(line_chart([Series("learning rate", x, lr, PALETTE[3])], title="Learning-rate schedule",
                                 xlabel=xlabel, ylabel="learning rate", logy=_auto_log(lr, ratio=100.0)))
    else:
        parts.append(_note('No learning rates in metrics.jsonl ("lr" in step or epoch records): the schedule '
                           "cannot be drawn."))
    result = _lr_find_result(run)
    if result is not None:
        charts.append(lr_find_chart(result))
    parts.append(_charts(*charts))
    if result is not None:
        facts = []
        suggested = result.get("suggested_lr", result.get("suggestion"))
        if isinstance(suggested, (int, float)):
            extra = []
            if isinstance(result.get("lr_steep"), (int, float)):
                extra.append(f"steepest descent {result['lr_steep']:.2g}")
            if isinstance(result.get("lr_min"), (int, float)):
                extra.append(f"minimum / 10 {result['lr_min']:.2g}")
            detail = f" ({', '.join(extra)})" if extra else ""
            facts.append(f"Suggested learning rate: {suggested:.2g}{detail}")
        else:
            facts.append("No learning rate suggested: the loss did not fall during the sweep.")
        diverged = result.get("divergence_lr", result.get("diverged_lr"))
        if isinstance(diverged, (int, float)):
            facts.append(f"The loss diverged at learning rate {diverged:.2g}.")
        else:
            facts.append("The loss did not diverge within the sweep.")
        facts += [f"Warning: {w}" for w in result.get("warnings") or []]
        parts.append('<ul class="facts">' + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>")
    else:
        parts.append(run.missing("lr_find.json", "No LR range test for this run (no lr_find.json): run "
                                                 "`descend lr-find` to find a good learning rate."))
    return _section("lr", "Learning rate", "".join(parts))


# --- the page ---------------------------------------------------------------------------------------------

def _css() -> str:
    """The page's style sheet (report/style.css, package data), read when a page is rendered."""
    return Path(__file__).with_name("style.css").read_text(encoding="utf-8")


def _status(diagnoses: list[dict], has_doctor: bool) -> str:
    if not has_doctor:
        return ('<span class="status" style="background:#334155;color:#e2e8f0">'
                "Not checked by the doctor</span>")
    if not diagnoses:
        return '<span class="status" style="background:#dcfce7;color:#166534">No problems detected</span>'
    counts = {}
    for d in diagnoses:
        counts[str(d.get("severity") or "info")] = counts.get(str(d.get("severity") or "info"), 0) + 1
    worst = min(counts, key=lambda s: SEVERITY_ORDER.get(s, 3))
    words = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in
                      sorted(counts.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 3)))
    bg = {"error": "#fee2e2", "warning": "#fef3c7"}.get(worst, "#dbeafe")
    fg = {"error": "#991b1b", "warning": "#92400e"}.get(worst, "#1e40af")
    return f'<span class="status" style="background:{bg};color:{fg}">{_e(words)}</span>'


def render(run_dir: str | os.PathLike) -> str:
    """The report of a run directory as one HTML string."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"report: run directory {directory} does not exist")
    run = _Run(directory)
    diagnoses, extra = _diagnoses(run)
    from descend.report.evaluation import evaluation_section, model_section
    from descend.report.sections import _activations, _gradients, _samples, _summary
    from descend.report.sharpness import sharpness_section

    sections = [_summary(run, diagnoses), _diagnoses_section(run, diagnoses, extra), _curves(run, diagnoses),
                evaluation_section(directory), _lr(run), sharpness_section(run.records, _section, _charts, _note),
                _gradients(run, diagnoses), _activations(run),
                _samples(run), model_section(directory)]
    names = {"summary": "Summary", "diagnoses": "Diagnoses", "curves": "Curves", "evaluation": "Test set",
             "lr": "Learning rate", "sharpness": "Sharpness",
             "gradients": "Gradients", "activations": "Activations", "samples": "Samples", "model": "Model"}
    nav = "".join(f'<a href="#{sid}">{name}</a>' for sid, name in names.items()
                  if f'<section id="{sid}">' in "".join(sections))
    name = directory.resolve().name
    meta = run.meta if isinstance(run.meta, dict) else {}
    sub = [f"created {meta['created']}"] if meta.get("created") else []
    last_step = max((r["step"] for r in run.records if isinstance(r.get("step"), (int, float))), default=None)
    if last_step is not None:
        sub.append(f"{int(last_step)} steps")
    version = (meta.get("versions") or {}).get("descend", "")
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(name)} · descend report</title><style>{_css()}</style></head><body>"
        f'<header class="top"><div class="wrap"><p class="eyebrow">descend training report</p>'
        f'<h1>{_e(name)}</h1><p class="sub">{_e(" · ".join(sub))}</p>'
        f"{_status(diagnoses, run.diagnosis is not None)}</div></header>"
        f'<nav><div class="wrap">{nav}</div></nav>'
        f'<main class="wrap">{"".join(sections)}</main>'
        f'<footer class="wrap">Generated {_e(generated)} by descend{_e(" " + version if version else "")} '
        f"from {_e(directory)}.</footer></body></html>\n"
    )


def build_report(run_dir: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write <run_dir>/report.html (or `path`) and return its path."""
    text = render(run_dir)
    out = Path(path) if path is not None else Path(run_dir) / REPORT_FILE
    io.atomic_write_text(out, text)
    return out
