"""Learning rate: the schedule as logged, and the LR range test (`descend lr-find`) as a chart with its
suggested and divergence learning rates. `lr_find_chart` also draws the standalone lr_find.svg."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from descend import io
from descend.report import metrics as M
from descend.report.page import charts, escape, note, section
from descend.report.run import Run
from descend.report.sections.common import TRAIN, auto_log, epoch_axis, values
from descend.report.svg import PALETTE, Marker, Series, line_chart

ID, NAV = "lr", "Learning rate"

# Both spellings: the agreed layout's (suggested_lr, divergence_lr) and the doctor's result dict's.
_MARKER_KEYS = (("suggested_lr", "suggested", "#16a34a"), ("suggestion", "suggested", "#16a34a"),
                ("divergence_lr", "diverged", "#dc2626"), ("diverged_lr", "diverged", "#dc2626"),
                ("configured_lr", "configured", "#475569"))


def _ylim(ys: list[np.ndarray]) -> tuple[float, float] | None:
    """Losses blow up at the end of a sweep: show up to a little above where they started."""
    allv = np.concatenate(ys)
    finite = allv[np.isfinite(allv)]
    if len(finite) <= 2:
        return None
    ref = ys[-1][np.isfinite(ys[-1])]
    start = float(np.max(ref[:max(3, len(ref) // 10)]))
    lo, hi = float(finite.min()), min(float(finite.max()), start + 0.5 * (start - float(finite.min())))
    if not hi > lo:
        return None
    margin = 0.05 * (hi - lo)
    return lo - margin, hi + margin


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
    markers = []
    for key, label, color in _MARKER_KEYS:
        v = result.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
            markers.append(Marker(float(v), f"{label} {v:.2g}", color))
    return line_chart(series, title="LR range test", xlabel="learning rate (log scale)", ylabel="loss",
                      logx=True, markers=markers, ylim=_ylim(ys), standalone=standalone)


def plot_lr_find(result: dict, path: str | os.PathLike) -> Path:
    """Write the LR range test chart of an lr_find result dict as a standalone SVG file."""
    path = Path(path)
    io.atomic_write_text(path, lr_find_chart(result, standalone=True) + "\n")
    return path


def _lr_find_result(run: Run) -> dict | None:
    """lr_find.json, or the same fields gathered from "lr_find" records; None when the run has neither."""
    if isinstance(run.lr_find, dict) and run.lr_find.get("lrs"):
        return run.lr_find
    records = run.kind("lr_find")
    if not records:
        return None
    return {"lrs": [r.get("lr") for r in records], "losses": [r.get("loss") for r in records],
            "smoothed": [r.get("smooth_loss") for r in records] if any("smooth_loss" in r for r in records)
            else None}


def _schedule(run: Run) -> str:
    """The learning rate per step (or per epoch when steps carry none); "" when none was logged."""
    x, lr = M.series(run.records, "step", "lr")
    xlabel = "step"
    if not len(x):
        epochs = run.kind("epoch")
        x, lr = epoch_axis(epochs), values(epochs, "lr")
        xlabel = "epoch"
    if not (len(x) and np.isfinite(lr).any()):
        return ""
    return line_chart([Series("learning rate", x, lr, PALETTE[3])], title="Learning-rate schedule",
                      xlabel=xlabel, ylabel="learning rate", logy=auto_log(lr, ratio=100.0))


def _facts(result: dict) -> str:
    """The range test in words: the suggestion (and how it was found), divergence, warnings."""
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
    return '<ul class="facts">' + "".join(f"<li>{escape(f)}</li>" for f in facts) + "</ul>"


def render(run: Run) -> str:
    """The learning-rate section; left out of a GAN or diffusion run that logged no rate and no range test."""
    schedule, result = _schedule(run), _lr_find_result(run)
    if run.generative and not schedule and result is None:
        return ""
    parts = []
    if not schedule:
        parts.append(note('No learning rates in metrics.jsonl ("lr" in step or epoch records): the schedule '
                          "cannot be drawn."))
    parts.append(charts(schedule, lr_find_chart(result) if result is not None else ""))
    if result is not None:
        parts.append(_facts(result))
    else:
        parts.append(run.missing("lr_find.json", "No LR range test for this run (no lr_find.json): run "
                                                 "`descend lr-find` to find a good learning rate."))
    return section(ID, "Learning rate", "".join(parts))
