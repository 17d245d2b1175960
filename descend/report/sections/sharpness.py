"""Sharpness: λmax of the loss and lr·λmax against the optimizer's stability limit, from
the `sharpness` / `lr_sharpness` values the doctor's opt-in monitor logs (`--sharpness-every N`)."""

from __future__ import annotations

import numpy as np

from descend.report import metrics as M
from descend.report.page import charts, note, section
from descend.report.run import Run
from descend.report.svg import PALETTE, Marker, Series, line_chart

ID, NAV = "sharpness", "Sharpness"


def render(run: Run) -> str:
    """The section's HTML, or "" when the run has no sharpness measurements (the section is left out)."""
    x, lam = M.series(run.records, "step", "sharpness")
    _, ratio = M.series(run.records, "step", "lr_sharpness")
    if not len(x):
        return ""
    finite = np.isfinite(ratio)
    chart = line_chart([Series("lr · λmax / stability limit", x, ratio, PALETTE[1]),
                        Series("λmax (largest Hessian eigenvalue)", x, lam, PALETTE[0], dashed=True)],
                       title="Sharpness against the stability limit", xlabel="step", ylabel="value",
                       logy=bool(finite.any() and np.nanmax(np.abs(ratio[finite])) > 30),
                       markers=[Marker(1.0, "unstable above", axis="y")])
    over = int((ratio[finite] > 1.0).sum())
    lead = (f"{len(x)} measurements; lr·λmax was above the optimizer's stability limit in {over} of them. "
            "Above 1 plain gradient steps overshoot along the sharpest direction (Cohen et al. 2021: full-batch "
            "training tends to hover at 1, the edge of stability). For Adam-like optimizers the ratio uses "
            "the raw learning rate, so read it as a trend only.")
    return section(ID, "Sharpness", charts(chart) + note(lead))
