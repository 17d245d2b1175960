"""Training curves: loss and accuracy per epoch (train against validation, best epoch marked) and the loss
and accuracy per step (raw and smoothed, with the diagnoses' steps marked)."""

from __future__ import annotations

import numpy as np

from descend.report import metrics as M
from descend.report.page import charts, note, section
from descend.report.run import Run
from descend.report.sections.common import (TRAIN, VAL, auto_log, best, diagnosis_markers, ema, epoch_axis,
                                            values)
from descend.report.svg import Marker, Series, line_chart

ID, NAV = "curves", "Curves"


def _epoch_charts(epochs: list[dict]) -> list[str]:
    """Loss and accuracy per epoch, each with a train and (when logged) a validation line."""
    e = epoch_axis(epochs)
    i = best(values(epochs, "val_loss"), "min")
    marks = [Marker(float(e[i]), f"best val loss (epoch {e[i]:.0f})", "#16a34a")] \
        if i is not None and len(epochs) > 1 else []
    out = []
    for what, title in (("loss", "Loss per epoch"), ("acc", "Accuracy per epoch")):
        series = [Series(name, e, values(epochs, f"{prefix}_{what}"), color, points=len(e) == 1)
                  for prefix, name, color in (("train", "train", TRAIN), ("val", "validation", VAL))
                  if any(f"{prefix}_{what}" in r for r in epochs)]
        if series:
            logy = what == "loss" and auto_log(*[s.y for s in series])
            out.append(line_chart(series, title=title, xlabel="epoch",
                                  ylabel="accuracy" if what == "acc" else what, logy=logy, markers=marks))
    return out


def _noisy(name: str, x: np.ndarray, y: np.ndarray) -> list[Series]:
    """A per-step series: faint when long, with an exponential moving average drawn over it."""
    series = [Series(name, x, y, TRAIN, width=1.2, opacity=0.35 if len(x) >= 20 else 1.0)]
    if len(x) >= 20:
        series.append(Series("smoothed", x, ema(y, max(2.0, len(x) / 50)), TRAIN, width=2.2))
    return series


def _step_charts(run: Run) -> list[str]:
    """Loss per step (diagnoses marked) and, when logged, accuracy per step."""
    x, loss = M.series(run.records, "step", "loss")
    if not len(x):
        return []
    out = [line_chart(_noisy("loss", x, loss), title="Training loss per step", xlabel="step", ylabel="loss",
                      logy=auto_log(loss), markers=diagnosis_markers(run.diagnoses))]
    xa, acc = M.series(run.records, "step", "acc")
    if len(xa) and np.isfinite(acc).any():
        out.append(line_chart(_noisy("accuracy", xa, acc), title="Training accuracy per step", xlabel="step",
                              ylabel="accuracy"))
    return out


def render(run: Run) -> str:
    """The curves section; left out of a GAN or diffusion run, which logs neither steps nor epochs."""
    epochs = run.kind("epoch")
    has_loss = len(M.series(run.records, "step", "loss")[0]) > 0
    if not epochs and not has_loss:
        if run.generative:
            return ""
        return section(ID, "Training curves",
                       run.missing(M.METRICS_FILE, "No training curves: metrics.jsonl has no step or epoch "
                                                   "records."))
    notes = []
    if not epochs:
        notes.append('No epoch records (kind "epoch") in metrics.jsonl: per-epoch training and validation '
                     "curves are not available.")
    elif not any(k.startswith("val_") for r in epochs for k in r):
        notes.append("No validation metrics in the epoch records: train with a validation split to "
                     "compare training and validation curves.")
    if not has_loss:
        notes.append('No step records (kind "step") in metrics.jsonl: the per-step loss is not available.')
    found = (_epoch_charts(epochs) if epochs else []) + _step_charts(run)
    return section(ID, "Training curves", "".join(note(n) for n in notes) + charts(*found))
