"""Report sections drawn from a run's records: the summary tiles, per-layer gradients, activations and sample
grids. The page kit (sections, tables, charts) and the other sections are in html.py."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from descend.report import metrics as M
from descend.report.html import (MAX_IMAGE_BYTES, MAX_LINE_LAYERS, MAX_SAMPLE_IMAGES, _auto_log, _best, _charts,
                                 _diagnosis_markers, _e, _epoch_axis, _flatten, _kv_table, _note, _num, _pct,
                                 _Run, _section, _table, _tile, _values)
from descend.report.svg import PALETTE, Marker, Series, heatmap, line_chart


def _summary(run: _Run, diagnoses: list[dict]) -> str:
    epochs = run.kind("epoch")
    steps = run.kind("step")
    test = M.last(run.records, "test")
    gan = M.last(run.records, "gan")
    tiles = []
    last_step = max((r["step"] for r in run.records if isinstance(r.get("step"), (int, float))), default=None)
    if epochs:
        last = epochs[-1]
        for key, label in (("train_loss", "Final train loss"), ("val_loss", "Final val loss")):
            if key in last:
                tiles.append(_tile(label, _num(last[key]), f"epoch {_epoch_axis(epochs)[-1]:.0f}"))
        e = _epoch_axis(epochs)
        for key, label, mode, fmt in (("val_loss", "Best val loss", "min", _num),
                                      ("val_acc", "Best val accuracy", "max", _pct)):
            i = _best(_values(epochs, key), mode)
            if i is not None:
                tiles.append(_tile(label, fmt(epochs[i][key]), f"epoch {e[i]:.0f}"))
        if "train_acc" in last and "val_acc" not in last:
            tiles.append(_tile("Final train accuracy", _pct(last["train_acc"]), f"epoch {e[-1]:.0f}"))
    elif steps:
        tiles.append(_tile("Final loss", _num(steps[-1].get("loss")), f"step {steps[-1]['step']}"))
    if test is not None:
        if "test_acc" in test:
            sub = f"loss {_num(test.get('test_loss'))}"
            tiles.append(_tile("Test accuracy", _pct(test["test_acc"]), sub))
        elif "test_loss" in test:
            tiles.append(_tile("Test loss", _num(test["test_loss"])))
    if gan is not None:
        for key, label in (("d_loss", "Final D loss"), ("g_loss", "Final G loss"), ("modes", "Modes covered"),
                           ("high_quality", "High-quality samples")):
            if key in gan:
                value = _pct(gan[key]) if key == "high_quality" else _num(gan[key])
                tiles.append(_tile(label, value, f"step {gan['step']}"))
    if last_step is not None:
        sub = f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''}" if epochs else ""
        tiles.append(_tile("Steps", str(int(last_step)), sub))
    lr = steps[-1].get("lr") if steps else (epochs[-1].get("lr") if epochs else None)
    if lr is not None:
        tiles.append(_tile("Final learning rate", _num(lr)))
    seed = (run.meta or {}).get("seed") if isinstance(run.meta, dict) else None
    if seed is None and isinstance(run.config, dict):
        seed = run.config.get("seed")
    tiles.append(_tile("Seed", _num(seed)))

    parts = []
    if not run.records:
        parts.append(run.missing(M.METRICS_FILE, "No metrics.jsonl in this run directory: no training "
                                                 "metrics were recorded, so there is nothing to summarise."))
    parts.append(f'<div class="tiles">{"".join(tiles)}</div>')
    config = _kv_table(_flatten(run.config)) if isinstance(run.config, dict) and run.config else \
        run.missing("config.toml", "No config.toml: the resolved configuration was not saved.")
    meta = run.meta if isinstance(run.meta, dict) else None
    if meta:
        pairs = [("seed", _num(meta.get("seed")))]
        for name, version in (meta.get("versions") or {}).items():
            pairs.append((name, str(version)))
        for key in ("platform", "machine", "created"):
            if key in meta:
                pairs.append((key, str(meta[key])))
        if meta.get("argv"):
            argv = meta["argv"]
            pairs.append(("command line", " ".join(argv) if isinstance(argv, list) else str(argv)))
        for r in meta.get("resumed") or []:
            if isinstance(r, dict):
                pairs.append(("resumed", f"at step {r.get('step')} ({r.get('time', '')})"))
        env = _kv_table(pairs)
    else:
        env = run.missing("meta.json", "No meta.json: seed, library versions and command line are unknown.")
    parts.append(f'<div class="two-col"><div class="card"><h3>Configuration</h3>{config}</div>'
                 f'<div class="card"><h3>Environment</h3>{env}</div></div>')
    return _section("summary", "Summary", "".join(parts))


def _layer_lines(steps: np.ndarray, names: list[str], values: np.ma.MaskedArray, title: str, ylabel: str,
                 logy: bool, markers: list[Marker] = ()) -> str:
    data = np.ma.filled(values.astype(np.float64), np.nan)
    series = []
    for i, name in enumerate(names):
        keep = ~np.ma.getmaskarray(values)[i]
        series.append(Series(name, steps[keep], data[i][keep], PALETTE[i % len(PALETTE)], width=1.8))
    return line_chart(series, title=title, xlabel="step", ylabel=ylabel, logy=logy, markers=markers)


def _last_by_layer(records: list[dict], keys: tuple[str, ...]) -> tuple[int | None, dict[str, dict]]:
    """The step and {layer: {key: value}} of the last record, in either layout."""
    if not records:
        return None, {}
    r = records[-1]
    out: dict[str, dict] = {}
    for key in keys:
        for layer, v in (M.per_layer(r, key) or {}).items():
            out.setdefault(layer, {})[key] = v
    return r.get("step"), out


def _gradients(run: _Run, diagnoses: list[dict]) -> str:
    parts, charts = [], []
    x, g = M.series(run.records, "step", "grad_norm")
    if len(x):
        charts.append(line_chart([Series("global gradient norm", x, g, PALETTE[4], width=1.5)],
                                 title="Global gradient norm per step (before clipping)", xlabel="step",
                                 ylabel="L2 norm", logy=_auto_log(g, ratio=10.0),
                                 markers=_diagnosis_markers(diagnoses)))
    layers = run.kind("layers")
    steps, names, grads = M.layer_series(layers, "layers", "grad_norm")
    if names:
        charts.append(heatmap(grads, names, steps, title="Gradient norm per layer", cbar_label="L2 norm"))
    us, unames, ratios = M.layer_series(layers, "layers", "update_ratio")
    if unames:
        guide = [Marker(1e-3, "1e-3 (typical)", "#64748b", axis="y")]
        if len(unames) <= MAX_LINE_LAYERS:
            charts.append(_layer_lines(us, unames, ratios, "Update-to-weight ratio per layer", "|Δw| / |w|",
                                       logy=True, markers=guide))
        else:
            charts.append(heatmap(ratios, unames, us, title="Update-to-weight ratio per layer",
                                  cbar_label="|Δw| / |w|"))
    parts.append(_charts(*charts))
    if not names:
        parts.append(_note('No per-layer statistics (kind "layers") in metrics.jsonl: per-layer gradient '
                           "norms and update ratios are recorded when the training doctor runs."))
    else:
        step, last = _last_by_layer(layers, ("grad_norm", "weight_norm", "update_ratio"))
        rows = [[name, _num(s.get("grad_norm")), _num(s.get("weight_norm")), _num(s.get("update_ratio"))]
                for name, s in last.items()]
        parts.append(f'<div class="card"><h3>Per layer at step {_e(step)}</h3>'
                     + _table(["layer", "gradient norm", "weight norm", "update / weight"], rows, "num")
                     + "</div>")
    if not len(x) and not names:
        parts = [_note("No gradient statistics in metrics.jsonl (\"grad_norm\" in step records, or kind "
                       "\"layers\").")]
    return _section("gradients", "Gradients", "".join(parts))


def _activations(run: _Run) -> str:
    records = run.kind("activations")
    keys = ("mean", "std", "dead", "saturated")
    found = {k: M.layer_series(records, "activations", k) for k in keys}
    if not any(found[k][1] for k in keys):
        return _section("activations", "Activations",
                        _note('No activation statistics (kind "activations") in metrics.jsonl: they are '
                              "recorded when the training doctor runs on a model with activations (layers, or "
                              "functions applied to a layer's output)."))
    charts = []
    titles = {"mean": ("Mean activation", "mean"), "std": ("Activation standard deviation", "std"),
              "dead": ("Dead units (never active over the window)", "fraction"),
              "saturated": ("Saturated outputs (tanh/sigmoid near ±1/0/1)", "fraction")}
    step, last = _last_by_layer(records, ("type",) + keys)
    for k in keys:
        steps, names, values = found[k]
        if names:
            title, ylabel = titles[k]
            names = [f"{n} ({last[n]['type']})" if last.get(n, {}).get("type") else n for n in names]
            if len(names) > MAX_LINE_LAYERS:
                charts.append(heatmap(values, names, steps, title=title, cbar_label=ylabel, log=False))
            else:
                ylim = (0.0, 1.0) if k in ("dead", "saturated") else None
                chart_logy = k == "std" and _auto_log(np.ma.filled(values, np.nan), ratio=100.0)
                if ylim is None:
                    charts.append(_layer_lines(steps, names, values, title, ylabel, chart_logy))
                else:
                    data = np.ma.filled(values.astype(np.float64), np.nan)
                    mask = np.ma.getmaskarray(values)
                    charts.append(line_chart([Series(n, steps[~mask[i]], data[i][~mask[i]],
                                                     PALETTE[i % len(PALETTE)], width=1.8)
                                              for i, n in enumerate(names)], title=title, xlabel="step",
                                             ylabel=ylabel, ylim=ylim))
    rows = [[name, str(s.get("type", "")), _num(s.get("mean")), _num(s.get("std")),
             _pct(s["dead"]) if "dead" in s else "-", _pct(s["saturated"]) if "saturated" in s else "-"]
            for name, s in last.items()]
    waiting = any("dead" not in s and s.get("type") in ("ReLU", "LeakyReLU", "GELU") for s in last.values())
    note = ('<p class="muted">dead "-": the window of sampled batches a unit must stay silent over is not '
            "full yet (the doctor's window: 4 samples, 25 steps apart, by default).</p>" if waiting else "")
    table = (f'<div class="card"><h3>Per activation layer at step {_e(step)}</h3>'
             + _table(["layer", "type", "mean", "std", "dead", "saturated"], rows, "num") + note + "</div>")
    return _section("activations", "Activations", _charts(*charts) + table)


def _sample_step(path: Path) -> str:
    m = re.search(r"(\d+)", path.stem)
    return f"step {int(m.group(1))}" if m else path.stem


def _samples(run: _Run) -> str:
    gan = run.kind("gan")
    if not gan and not run.samples:
        return ""
    parts = []
    if run.samples:
        chosen = run.samples
        if len(chosen) > MAX_SAMPLE_IMAGES:
            idx = np.unique(np.linspace(0, len(chosen) - 1, MAX_SAMPLE_IMAGES).round().astype(int))
            chosen = [run.samples[i] for i in idx]
        figures = []
        for path in chosen:
            data = path.read_bytes()
            if len(data) > MAX_IMAGE_BYTES:
                too_large = _note(f"{path.name} is too large to embed")
                figures.append(f'<figure class="sample">{too_large}</figure>')
                continue
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            # Small grids are scaled up with sharp pixels; larger images are shown at their own size.
            width = int.from_bytes(data[16:20], "big") if data[:8] == b"\x89PNG\r\n\x1a\n" else 0
            cls = ' class="small"' if 0 < width < 200 else ""
            figures.append(f'<figure class="sample"><img src="{uri}" alt="{_e(path.name)}"{cls}>'
                           f"<figcaption>{_e(_sample_step(path))}</figcaption></figure>")
        shown = f" ({len(chosen)} of {len(run.samples)} shown)" if len(chosen) < len(run.samples) else ""
        parts.append(f'<div class="card"><h3>Generated samples{_e(shown)}</h3>'
                     f'<div class="samples">{"".join(figures)}</div></div>')
    else:
        parts.append(_note("No sample images in samples/."))
    if gan:
        charts = []
        groups = (("Losses", ("d_loss", "g_loss"), "loss", None),
                  ("Discriminator outputs", ("d_real", "d_fake"), "D(x)", (0.0, 1.0)),
                  ("Modes covered", ("modes",), "modes", None),
                  ("High-quality samples", ("high_quality",), "fraction", (0.0, 1.0)),
                  ("Reverse KL to the mode distribution", ("reverse_kl",), "nats", None))
        for title, keys, ylabel, ylim in groups:
            series = []
            for i, key in enumerate(keys):
                x, y = M.series(gan, "gan", key)
                if len(x):
                    series.append(Series(key, x, y, PALETTE[i]))
            if series:
                charts.append(line_chart(series, title=title, xlabel="step", ylabel=ylabel, ylim=ylim))
        parts.append(_charts(*charts))
    return _section("samples", "Samples", "".join(parts))
