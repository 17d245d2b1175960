"""The model: the layer table (name, type, output shape, parameters) of model_summary.json, which
`descend train` writes when it builds the model."""

from __future__ import annotations

import json

from descend.report.page import escape
from descend.report.run import Run

ID, NAV = "model", "Model"
SUMMARY_FILE = "model_summary.json"


def _shape(v: object) -> str:
    """A shape with "N" for the batch dimension; "-" when unknown."""
    return "-" if v is None else "(" + ", ".join("N" if d is None else str(d) for d in v) + ")"


def render(run: Run) -> str:
    """The "Model" section ("" when the run has no model_summary.json)."""
    try:
        s = json.loads((run.dir / SUMMARY_FILE).read_text(encoding="utf-8"))
        layers = s["layers"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("layer", "type", "output shape", "parameters"))
    rows = "".join(f"<tr><td>{escape(r['name'])}</td><td>{escape(r['type'])}</td>"
                   f"<td>{escape(_shape(r['output_shape']))}</td><td>{r['params']:,}</td></tr>"
                   for r in layers)
    lead = (f"input {_shape(s['input_shape'])} → output {_shape(s['output_shape'])}; "
            f"{s['params']:,} parameters ({s['trainable']:,} trainable).")
    return (f'<section id="{ID}"><h2>Model</h2><p class="lead">{escape(lead)}</p>'
            f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
            "</table></div></section>")
