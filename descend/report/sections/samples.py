"""Samples (GAN and diffusion runs): the generated images in samples/ (at most eight, spread over the run,
embedded as data URIs) and the generative metrics per step (losses, D outputs, modes, quality, reverse KL)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from descend.report import metrics as M
from descend.report.page import charts, escape, note, section
from descend.report.run import Run
from descend.report.sections.common import MAX_IMAGE_BYTES, MAX_SAMPLE_IMAGES
from descend.report.svg import PALETTE, Series, line_chart

ID, NAV = "samples", "Samples"
GROUPS = (("Losses", ("d_loss", "g_loss", "loss"), "loss", None),  # "loss": a diffusion run's denoising loss
          ("Discriminator outputs", ("d_real", "d_fake"), "D(x)", (0.0, 1.0)),
          ("Modes covered", ("modes",), "modes", None),
          ("High-quality samples", ("high_quality",), "fraction", (0.0, 1.0)),
          ("Reverse KL to the mode distribution", ("reverse_kl",), "nats", None))


def _sample_step(path: Path) -> str:
    m = re.search(r"(\d+)", path.stem)
    return f"step {int(m.group(1))}" if m else path.stem


def _figure(path: Path) -> str:
    """One image as a captioned figure; an image too large to embed is named instead."""
    data = path.read_bytes()
    if len(data) > MAX_IMAGE_BYTES:
        return f'<figure class="sample">{note(f"{path.name} is too large to embed")}</figure>'
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    # Small grids are scaled up with sharp pixels; larger images are shown at their own size.
    width = int.from_bytes(data[16:20], "big") if data[:8] == b"\x89PNG\r\n\x1a\n" else 0
    cls = ' class="small"' if 0 < width < 200 else ""
    return (f'<figure class="sample"><img src="{uri}" alt="{escape(path.name)}"{cls}>'
            f"<figcaption>{escape(_sample_step(path))}</figcaption></figure>")


def _images(samples: list[Path]) -> str:
    """The sample images, evenly chosen over the run when there are more than MAX_SAMPLE_IMAGES."""
    chosen = samples
    if len(chosen) > MAX_SAMPLE_IMAGES:
        idx = np.unique(np.linspace(0, len(chosen) - 1, MAX_SAMPLE_IMAGES).round().astype(int))
        chosen = [samples[i] for i in idx]
    shown = f" ({len(chosen)} of {len(samples)} shown)" if len(chosen) < len(samples) else ""
    return (f'<div class="card"><h3>Generated samples{escape(shown)}</h3>'
            f'<div class="samples">{"".join(_figure(p) for p in chosen)}</div></div>')


def _gan_charts(gan: list[dict]) -> tuple[list[str], list[str]]:
    """A chart per group of logged metrics, and notes for groups whose every value is NaN or infinite."""
    drawn, notes = [], []
    for title, keys, ylabel, ylim in GROUPS:
        series = []
        for i, key in enumerate(keys):
            x, y = M.series(gan, "gan", key)
            if len(x):
                series.append(Series(key, x, y, PALETTE[i]))
        if series and not any(np.isfinite(s.y).any() for s in series):
            # A chart would only say "No data" although values were logged; say what they were.
            notes.append(f"{title}: not finite at any of the {len(series[0].x)} logged steps "
                         f"({', '.join(keys)}).")
        elif series:
            drawn.append(line_chart(series, title=title, xlabel="step", ylabel=ylabel, ylim=ylim))
    return drawn, notes


def render(run: Run) -> str:
    """The samples section; left out of a run without gan records and without images."""
    gan = run.kind("gan")
    if not gan and not run.samples:
        return ""
    parts = [_images(run.samples) if run.samples else note("No sample images in samples/.")]
    if gan:
        drawn, notes = _gan_charts(gan)
        parts.append(charts(*drawn) + "".join(note(n) for n in notes))
    return section(ID, "Samples", "".join(parts))
