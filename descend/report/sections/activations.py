"""Activations: mean, standard deviation, dead and saturated fractions per activation layer over the steps,
and a table of each layer's last values."""

from __future__ import annotations

import numpy as np

from descend.report import metrics as M
from descend.report.page import charts, escape, note, num, pct, section, table
from descend.report.run import Run
from descend.report.sections.common import MAX_LINE_LAYERS, auto_log, last_by_layer, layer_lines
from descend.report.svg import heatmap

ID, NAV = "activations", "Activations"
KEYS = ("mean", "std", "dead", "saturated")
TITLES = {"mean": ("Mean activation", "mean"), "std": ("Activation standard deviation", "std"),
          "dead": ("Dead units (never active over the window)", "fraction"),
          "saturated": ("Saturated outputs (tanh/sigmoid near ±1/0/1)", "fraction")}


def _chart(key: str, steps: np.ndarray, names: list[str], vals: np.ma.MaskedArray) -> str:
    """One statistic: a line per layer, or a heat-map when there are many layers; fractions on [0, 1]."""
    title, ylabel = TITLES[key]
    if len(names) > MAX_LINE_LAYERS:
        return heatmap(vals, names, steps, title=title, cbar_label=ylabel, log=False)
    if key in ("dead", "saturated"):
        return layer_lines(steps, names, vals, title, ylabel, ylim=(0.0, 1.0))
    logy = key == "std" and auto_log(np.ma.filled(vals, np.nan), ratio=100.0)
    return layer_lines(steps, names, vals, title, ylabel, logy)


def _last_table(step: int | None, last: dict[str, dict]) -> str:
    """Each activation layer's type and last statistics; "-" for a dead fraction not measured yet."""
    rows = [[name, str(s.get("type", "")), num(s.get("mean")), num(s.get("std")),
             pct(s["dead"]) if "dead" in s else "-", pct(s["saturated"]) if "saturated" in s else "-"]
            for name, s in last.items()]
    waiting = any("dead" not in s and s.get("type") in ("ReLU", "LeakyReLU", "GELU") for s in last.values())
    why = ('<p class="muted">dead "-": the window of sampled batches a unit must stay silent over is not '
           "full yet (the doctor's window: 4 samples, 25 steps apart, by default).</p>" if waiting else "")
    return (f'<div class="card"><h3>Per activation layer at step {escape(step)}</h3>'
            + table(["layer", "type", "mean", "std", "dead", "saturated"], rows, "num") + why + "</div>")


def render(run: Run) -> str:
    """The activations section; left out of a GAN or diffusion run that logged no activation statistics."""
    records = run.kind("activations")
    found = {k: M.layer_series(records, "activations", k) for k in KEYS}
    if not any(found[k][1] for k in KEYS):
        if run.generative:
            return ""
        return section(ID, "Activations",
                       note('No activation statistics (kind "activations") in metrics.jsonl: they are '
                            "recorded when the training doctor runs on a model with activations (layers, or "
                            "functions applied to a layer's output)."))
    step, last = last_by_layer(records, ("type",) + KEYS)
    drawn = []
    for k in KEYS:
        steps, names, vals = found[k]
        if names:
            names = [f"{n} ({last[n]['type']})" if last.get(n, {}).get("type") else n for n in names]
            drawn.append(_chart(k, steps, names, vals))
    return section(ID, "Activations", charts(*drawn) + _last_table(step, last))
