"""TensorBoard event files through tensorboardX, imported only when a writer is made.

Tags written by `scalars_from_record`, by record kind:
    step         train/loss, train/acc, train/grad_norm, lr (and train/<key> for any other number)
    epoch        epoch/train_loss, epoch/val_loss, epoch/val_acc, ... (every number but step, epoch, lr)
    test         test/loss, test/acc (the "test_" prefix dropped)
    layers       grad_norm/<layer>, weight_norm/<layer>, update_ratio/<layer>, grad_rms/<layer>, ...
    activations  activations/<stat>/<layer> (mean, std, dead, saturated, ...)
    gan          gan/<key> (d_loss, g_loss, d_real, d_fake, modes, ...)
    other kinds  <kind>/<key> for every top-level number
Non-finite values are written as they are (TensorBoard shows them as NaN/inf).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

_SKIP = ("kind", "step", "epoch")
_BAD_TAG = re.compile(r"[^-/\w.]")  # TensorBoard's rule for tag characters (tensorboardX applies the same)


def _tag(name: str) -> str:
    return _BAD_TAG.sub("_", name).lstrip("/")


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    return float(v)


def _layer_values(record: dict) -> list[tuple[str, str, Any]]:
    """(layer, statistic, value) of a layers/activations record, grouped by layer or by statistic."""
    for group in ("layers", "stats"):
        by_layer = record.get(group)
        if isinstance(by_layer, dict):
            return [(layer, stat, v) for layer, stats in by_layer.items() if isinstance(stats, dict)
                    for stat, v in stats.items()]
    return [(layer, stat, v) for stat, by_stat in record.items() if isinstance(by_stat, dict)
            for layer, v in by_stat.items()]


def record_scalars(record: dict) -> dict[str, float]:
    """The TensorBoard {tag: value} of one metrics record (see the module docstring for the tags)."""
    kind = record.get("kind")
    out: dict[str, float] = {}
    if kind in ("layers", "activations"):
        prefix = "" if kind == "layers" else "activations/"
        for layer, stat, v in _layer_values(record):
            if _number(v) is not None:
                out[f"{prefix}{stat}/{layer}"] = _number(v)
        return out
    for key, v in record.items():
        if key in _SKIP or _number(v) is None:
            continue
        if kind == "step":
            tag = "lr" if key == "lr" else f"train/{key}"
        elif kind == "epoch":
            if key == "lr":
                continue  # the per-step "lr" tag already holds it
            tag = f"epoch/{key}"
        elif kind == "test":
            tag = f"test/{key[5:] if key.startswith('test_') else key}"
        else:
            tag = f"{kind}/{key}"
        out[tag] = _number(v)
    return out


class TBWriter:
    """A thin wrapper over tensorboardX's SummaryWriter writing to `log_dir` (usually <run>/tb).

    purge_step: on resume, TensorBoard hides events at or after this step that an earlier process wrote.
    The SummaryWriter names used elsewhere (add_scalar, add_image, add_text) are kept as aliases.
    """

    def __init__(self, log_dir: str | os.PathLike, purge_step: int | None = None,
                 flush_secs: int = 10) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError("TBWriter needs the tensorboardX package (pip install tensorboardX)") from e
        from tensorboardX.proto.summary_pb2 import Summary

        self.log_dir = str(log_dir)
        self.writer = SummaryWriter(logdir=self.log_dir, purge_step=purge_step, flush_secs=flush_secs)
        self._summary = Summary

    def scalar(self, tag: str, value: float, step: int) -> None:
        """One scalar point."""
        v = _number(value)
        if v is None:
            raise TypeError(f"TBWriter.scalar: '{tag}' needs a number, got {type(value).__name__}")
        self.writer.add_scalar(tag, v, int(step))

    def scalars_from_record(self, record: dict) -> dict[str, float]:
        """Write every number of a metrics record under its tag; returns the {tag: value} written."""
        if not isinstance(record.get("step"), (int, np.integer)) or isinstance(record.get("step"), bool):
            raise ValueError(f"TBWriter.scalars_from_record: record needs an integer 'step', "
                             f"got {record.get('step')!r}")
        scalars = record_scalars(record)
        if scalars:
            # One event holding all the record's values: an event costs the writer ~35 us whatever it holds
            # (its CRC32C is pure Python without the crc32c package), a value a few us.
            S = self._summary
            values = [S.Value(tag=_tag(tag), simple_value=v) for tag, v in scalars.items()]
            self.writer.file_writer.add_summary(S(value=values), int(record["step"]))
        return scalars

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An (H, W, C) uint8 image, C = 1, 3 or 4, or an (H, W) grey one."""
        a = np.asarray(image)
        if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
            raise ValueError(f"TBWriter.image: '{tag}' needs a uint8 (H, W) or (H, W, C) image with C in "
                             f"(1, 3, 4), got {a.dtype} {a.shape}")
        if a.ndim == 2:
            a = a[:, :, None]
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        self.writer.add_image(tag, a, int(step), dataformats="HWC")

    def text(self, tag: str, text: str, step: int) -> None:
        """A text entry (shown in TensorBoard's Text tab)."""
        self.writer.add_text(tag, str(text), int(step))

    # SummaryWriter's names, as the trainer and the doctor call them.
    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalar(tag, value, step)

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.image(tag, image, step)

    def add_text(self, tag: str, text: str, step: int) -> None:
        self.text(tag, text, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "TBWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TBWriter({self.log_dir!r})"

