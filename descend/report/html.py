"""report.html: one self-contained page per run (inline CSS and SVG, PNGs as data URIs, no scripts, no links
out), built from the files of a run directory.

This module reads the run and assembles the sections in order; the sections are in report/sections/ (stable
ids: summary, diagnoses, curves, evaluation, lr, sharpness, gradients, activations, samples, model), the HTML
kit in report/page.py, the charts in report/svg/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from descend import io
from descend.report import page
from descend.report.page import SEVERITY_COLOR
from descend.report.run import Run
from descend.report.sections import SECTIONS
from descend.report.sections.common import TRAIN, VAL

REPORT_FILE = "report.html"

__all__ = ["REPORT_FILE", "SEVERITY_COLOR", "TRAIN", "VAL", "build_report", "render"]


def render(run_dir: str | os.PathLike) -> str:
    """The report of a run directory as one HTML string."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"report: run directory {directory} does not exist")
    run = Run(directory)
    shown = [(s, body) for s in SECTIONS if (body := s.render(run))]  # "": not for this run
    meta = run.meta if isinstance(run.meta, dict) else {}
    subtitle = [f"created {meta['created']}"] if meta.get("created") else []
    if run.last_step is not None:
        subtitle.append(f"{int(run.last_step)} steps")
    version = (meta.get("versions") or {}).get("descend", "")
    footer = (f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by descend{' ' + version if version else ''} "
              f"from {directory}.")
    badge = page.status(run.diagnoses, run.diagnosis is not None)
    return page.document(directory.resolve().name, subtitle, badge, [(s.ID, s.NAV) for s, _ in shown],
                         [body for _, body in shown], footer)


def build_report(run_dir: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write <run_dir>/report.html (or `path`) and return its path."""
    text = render(run_dir)
    out = Path(path) if path is not None else Path(run_dir) / REPORT_FILE
    io.atomic_write_text(out, text)
    return out
