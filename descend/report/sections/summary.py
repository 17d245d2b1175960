"""The summary: tiles with the final and best metrics, then the resolved configuration and the environment."""

from __future__ import annotations

from descend.report import metrics as M
from descend.report.page import flatten, kv_table, num, pct, section, tile
from descend.report.run import Run
from descend.report.sections.common import best, epoch_axis, values

ID, NAV = "summary", "Summary"


def _epoch_tiles(epochs: list[dict]) -> list[str]:
    """Final train/validation loss, best validation loss and accuracy, and the final train accuracy."""
    tiles = []
    last = epochs[-1]
    e = epoch_axis(epochs)
    for key, label in (("train_loss", "Final train loss"), ("val_loss", "Final val loss")):
        if key in last:
            tiles.append(tile(label, num(last[key]), f"epoch {e[-1]:.0f}"))
    for key, label, mode, fmt in (("val_loss", "Best val loss", "min", num),
                                  ("val_acc", "Best val accuracy", "max", pct)):
        i = best(values(epochs, key), mode)
        if i is not None:
            tiles.append(tile(label, fmt(epochs[i][key]), f"epoch {e[i]:.0f}"))
    if "train_acc" in last and "val_acc" not in last:
        tiles.append(tile("Final train accuracy", pct(last["train_acc"]), f"epoch {e[-1]:.0f}"))
    return tiles


def _result_tiles(test: dict | None, gan: dict | None) -> list[str]:
    """The test-set result, and a GAN's final losses, modes covered and share of high-quality samples."""
    tiles = []
    if test is not None:
        if "test_acc" in test:
            tiles.append(tile("Test accuracy", pct(test["test_acc"]), f"loss {num(test.get('test_loss'))}"))
        elif "test_loss" in test:
            tiles.append(tile("Test loss", num(test["test_loss"])))
    if gan is not None:
        for key, label in (("d_loss", "Final D loss"), ("g_loss", "Final G loss"), ("modes", "Modes covered"),
                           ("high_quality", "High-quality samples")):
            if key in gan:
                value = pct(gan[key]) if key == "high_quality" else num(gan[key])
                tiles.append(tile(label, value, f"step {gan['step']}"))
    return tiles


def _tiles(run: Run) -> list[str]:
    epochs, steps = run.kind("epoch"), run.kind("step")
    tiles = []
    if epochs:
        tiles += _epoch_tiles(epochs)
    elif steps:
        tiles.append(tile("Final loss", num(steps[-1].get("loss")), f"step {steps[-1]['step']}"))
    tiles += _result_tiles(M.last(run.records, "test"), M.last(run.records, "gan"))
    if run.last_step is not None:
        sub = f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''}" if epochs else ""
        tiles.append(tile("Steps", str(int(run.last_step)), sub))
    lr = steps[-1].get("lr") if steps else (epochs[-1].get("lr") if epochs else None)
    if lr is not None:
        tiles.append(tile("Final learning rate", num(lr)))
    seed = (run.meta or {}).get("seed") if isinstance(run.meta, dict) else None
    if seed is None and isinstance(run.config, dict):
        seed = run.config.get("seed")
    tiles.append(tile("Seed", num(seed)))
    return tiles


def _environment(meta: dict) -> str:
    """Seed, library versions, platform, command line and resumptions from meta.json."""
    pairs = [("seed", num(meta.get("seed")))]
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
    return kv_table(pairs)


def render(run: Run) -> str:
    """The summary section (always shown: it says what is missing when the run logged nothing)."""
    parts = []
    if not run.records:
        parts.append(run.missing(M.METRICS_FILE, "No metrics.jsonl in this run directory: no training "
                                                 "metrics were recorded, so there is nothing to summarise."))
    parts.append(f'<div class="tiles">{"".join(_tiles(run))}</div>')
    config = kv_table(flatten(run.config)) if isinstance(run.config, dict) and run.config else \
        run.missing("config.toml", "No config.toml: the resolved configuration was not saved.")
    env = _environment(run.meta) if isinstance(run.meta, dict) and run.meta else \
        run.missing("meta.json", "No meta.json: seed, library versions and command line are unknown.")
    parts.append(f'<div class="two-col"><div class="card"><h3>Configuration</h3>{config}</div>'
                 f'<div class="card"><h3>Environment</h3>{env}</div></div>')
    return section(ID, "Summary", "".join(parts))
