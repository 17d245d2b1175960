"""Gradients: the global gradient norm per step, the gradient norm per layer (a heat-map), the
update-to-weight ratio per layer, and a table of each layer's last values."""

from __future__ import annotations

from descend.report import metrics as M
from descend.report.page import charts, escape, note, num, section, table
from descend.report.run import Run
from descend.report.sections.common import (MAX_LINE_LAYERS, auto_log, diagnosis_markers, last_by_layer,
                                            layer_lines)
from descend.report.svg import PALETTE, Marker, Series, heatmap, line_chart

ID, NAV = "gradients", "Gradients"


def _layer_charts(layers: list[dict]) -> list[str]:
    """Gradient norm per layer, and update ratio per layer (lines for few layers, a heat-map for many)."""
    out = []
    steps, names, grads = M.layer_series(layers, "layers", "grad_norm")
    if names:
        out.append(heatmap(grads, names, steps, title="Gradient norm per layer", cbar_label="L2 norm"))
    us, unames, ratios = M.layer_series(layers, "layers", "update_ratio")
    if unames:
        guide = [Marker(1e-3, "1e-3 (typical)", "#64748b", axis="y")]
        if len(unames) <= MAX_LINE_LAYERS:
            out.append(layer_lines(us, unames, ratios, "Update-to-weight ratio per layer", "|Δw| / |w|",
                                   logy=True, markers=guide))
        else:
            out.append(heatmap(ratios, unames, us, title="Update-to-weight ratio per layer",
                               cbar_label="|Δw| / |w|"))
    return out


def _last_table(layers: list[dict]) -> str:
    """Each layer's gradient norm, weight norm and update ratio at the last "layers" record."""
    step, last = last_by_layer(layers, ("grad_norm", "weight_norm", "update_ratio"))
    rows = [[name, num(s.get("grad_norm")), num(s.get("weight_norm")), num(s.get("update_ratio"))]
            for name, s in last.items()]
    return (f'<div class="card"><h3>Per layer at step {escape(step)}</h3>'
            + table(["layer", "gradient norm", "weight norm", "update / weight"], rows, "num") + "</div>")


def render(run: Run) -> str:
    """The gradients section; left out of a GAN or diffusion run that logged no gradient statistics."""
    x, g = M.series(run.records, "step", "grad_norm")
    layers = run.kind("layers")
    has_layers = bool(M.layer_series(layers, "layers", "grad_norm")[1])
    if not len(x) and not has_layers:
        if run.generative:
            return ""
        return section(ID, "Gradients", note("No gradient statistics in metrics.jsonl (\"grad_norm\" in step "
                                             "records, or kind \"layers\")."))
    found = []
    if len(x):
        found.append(line_chart([Series("global gradient norm", x, g, PALETTE[4], width=1.5)],
                                title="Global gradient norm per step (before clipping)", xlabel="step",
                                ylabel="L2 norm", logy=auto_log(g, ratio=10.0),
                                markers=diagnosis_markers(run.diagnoses)))
    parts = [charts(*found, *_layer_charts(layers))]
    if not has_layers:
        parts.append(note('No per-layer statistics (kind "layers") in metrics.jsonl: per-layer gradient '
                          "norms and update ratios are recorded when the training doctor runs."))
    else:
        parts.append(_last_table(layers))
    return section(ID, "Gradients", "".join(parts))
