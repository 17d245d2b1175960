"""The test set: the confusion matrix as a heat-map and the per-class table, from the
evaluation.json that `descend train` writes after its one test evaluation."""

from __future__ import annotations

import json

from descend.report.page import escape
from descend.report.run import Run

ID, NAV = "evaluation", "Test set"
EVALUATION_FILE = "evaluation.json"


def confusion_svg(cm: list[list[int]], classes: list[str], cell: int = 34) -> str:
    """Rows: true class, columns: predicted; each cell shaded by its share of the row (recall)."""
    k = len(cm)
    cell = max(12, min(cell, 600 // max(k, 1)))
    label_w = 8 + 7 * max(len(c) for c in classes)
    top = 56
    width, height = label_w + k * cell + 10, top + k * cell + 10
    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
             f'<title>Confusion matrix</title>',
             f'<text x="{label_w + k * cell / 2}" y="14" text-anchor="middle" font-weight="600">predicted</text>']
    for j, name in enumerate(classes):
        x = label_w + j * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 6}" text-anchor="start" transform="rotate(-45 {x} {top - 6})">'
                     f'{escape(name)}</text>')
    for i, row in enumerate(cm):
        total = sum(row) or 1
        y = top + i * cell
        parts.append(f'<text x="{label_w - 6}" y="{y + cell / 2 + 4}" text-anchor="end">{escape(classes[i])}</text>')
        for j, v in enumerate(row):
            share = v / total
            shade = int(255 - 200 * share)
            fill = f"rgb({shade},{shade + (255 - shade) // 3},255)" if v else "#f8fafc"
            ink = "#fff" if share > 0.55 else "#0f172a"
            x = label_w + j * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                         f'<title>true {escape(classes[i])}, predicted {escape(classes[j])}: {v}</title></rect>')
            if cell >= 22:
                parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                             f'fill="{ink}">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(m: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("class", "precision", "recall", "F1", "support"))
    rows = "".join(f"<tr><td>{escape(c['class'])}</td><td>{c['precision']:.3f}</td><td>{c['recall']:.3f}</td>"
                   f"<td>{c['f1']:.3f}</td><td>{c['support']}</td></tr>" for c in m["per_class"])
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def render(run: Run) -> str:
    """The "Test set" section ("" when the run has no evaluation.json)."""
    try:
        m = json.loads((run.dir / EVALUATION_FILE).read_text(encoding="utf-8"))
        classes = [c["class"] for c in m["per_class"]]
        cm = m["confusion_matrix"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    lead = (f"{m.get('samples', sum(map(sum, cm)))} test samples, read once after training, scored with the "
            f"{m.get('model', 'final model')}: accuracy {100 * m['acc']:.2f} %, macro-F1 {m['macro_f1']:.4f}"
            + (f", top-5 accuracy {100 * m['top5_acc']:.2f} %" if "top5_acc" in m else "") + ".")
    figure = (f'<div class="charts"><figure class="card chart-card">{confusion_svg(cm, classes)}'
              f"<figcaption>Confusion matrix: rows are the true classes, columns the predictions; shading is the "
              f"share of the row.</figcaption></figure></div>")
    return (f'<section id="{ID}"><h2>Test set</h2><p class="lead">{escape(lead)}</p>{figure}{_table(m)}'
            f"</section>")
