"""The diagnoses: one card per problem the training doctor found (severity, where, evidence, suggestion),
"No problems detected" when it found none, and a note when it did not run."""

from __future__ import annotations

from descend.report.page import SEVERITY_COLOR, escape, section
from descend.report.run import Run

ID, NAV = "diagnoses", "Diagnoses"


def _card(d: dict) -> str:
    """One diagnosis as a card bordered in its severity's colour."""
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
    body = [f'<div class="diag-head"><span class="pill" style="background:{color}">{escape(severity)}</span>'
            f'<span class="diag-title">{escape(title)}</span></div>']
    if where:
        body.append(f'<div class="diag-where">{escape(" · ".join(where))}</div>')
    if d.get("evidence"):
        body.append(f'<p class="diag-evidence"><span class="label">Evidence</span>'
                    f'<span>{escape(d["evidence"])}</span></p>')
    if d.get("suggestion"):
        body.append(f'<p class="diag-suggestion"><span class="label">Suggestion</span>'
                    f'<span>{escape(d["suggestion"])}</span></p>')
    return (f'<div class="card diag diag-{escape(severity)}" style="border-left-color:{color}">'
            f'{"".join(body)}</div>')


def render(run: Run) -> str:
    """The diagnoses section (always shown: whether the doctor ran is itself worth saying)."""
    if run.diagnosis is None:
        body = run.missing("diagnosis.json", "No diagnosis.json: the training doctor did not run for this "
                                             "run, so no problems were looked for.")
        return section(ID, "Diagnoses", body)
    if not run.diagnoses:
        extra = run.diagnosis_extra
        when = f" (up to step {extra.get('step')}; training had not finished)" \
            if extra.get("finished") is False else ""
        body = (f'<div class="card ok"><span class="ok-mark" aria-hidden="true">&#10003;</span>'
                f'<div><strong>No problems detected</strong><p>The training doctor checked this run and '
                f'found nothing to report{escape(when)}.</p></div></div>')
        return section(ID, "Diagnoses", body)
    return section(ID, "Diagnoses", "".join(_card(d) for d in run.diagnoses))
