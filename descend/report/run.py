"""What the report reads from a run directory: config, meta, diagnoses, the LR range test, the metrics records
and the sample images. A file that cannot be read leaves a note for the page, never an error."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any, Callable

from descend.report import metrics as M
from descend.report.page import SEVERITY_ORDER, note

GENERATIVE_TABLES = ("gan", "diffusion")  # config tables of the adversarial and diffusion commands


def _read_json(path: Path) -> Any:
    return M.from_json(json.loads(path.read_text(encoding="utf-8")))


class Run:
    """The files of one run directory, read leniently; `problems`: file name -> why it was unreadable."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.problems: dict[str, str] = {}
        self.config = self._read("config.toml", lambda p: tomllib.loads(p.read_text(encoding="utf-8")))
        self.meta = self._read("meta.json", _read_json)
        self.diagnosis = self._read("diagnosis.json", _read_json)
        self.lr_find = self._read("lr_find.json", _read_json)
        records = self._read(M.METRICS_FILE, lambda p: M.read_metrics(run_dir))
        self.records: list[dict] = records or []
        self.samples = sorted((run_dir / "samples").glob("*.png")) if (run_dir / "samples").is_dir() else []
        self.diagnoses, self.diagnosis_extra = self._diagnoses()

    def _read(self, name: str, load: Callable[[Path], Any]) -> Any:
        path = self.dir / name
        if not path.exists():
            return None
        try:
            return load(path)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
            self.problems[name] = f"{name} could not be read: {e}"
            return None

    def _diagnoses(self) -> tuple[list[dict], dict]:
        """The diagnoses (sorted: severity, then step) and the file's other fields ({} for a bare list)."""
        body = self.diagnosis
        if isinstance(body, dict) and isinstance(body.get("diagnoses"), list):
            items, extra = body["diagnoses"], body
        elif isinstance(body, list):
            items, extra = body, {}
        else:
            if body is not None:
                self.problems["diagnosis.json"] = ("diagnosis.json could not be read: expected a list of "
                                                   'diagnoses or {"diagnoses": [...]}')
                self.diagnosis = None
            return [], {}
        items = [d for d in items if isinstance(d, dict)]
        items.sort(key=lambda d: (SEVERITY_ORDER.get(str(d.get("severity")), 3),
                                  d.get("step") if isinstance(d.get("step"), (int, float)) else math.inf))
        return items, extra

    def missing(self, name: str, why: str) -> str:
        """A note saying that `name` is missing or unreadable, and `why` it matters."""
        if name in self.problems:
            return note(self.problems[name])
        return note(why)

    def kind(self, kind: str) -> list[dict]:
        """The metrics records of one kind."""
        return M.select(self.records, kind)

    @property
    def last_step(self) -> float | None:
        """The largest step of any record (None without records)."""
        return max((r["step"] for r in self.records if isinstance(r.get("step"), (int, float))), default=None)

    @property
    def generative(self) -> bool:
        """A GAN or diffusion run: no classifier step or epoch records, and gan records or such a config.

        Its report leaves out the training sections it has no data for (curves, learning rate, gradients,
        activations) instead of opening with notes about what a classifier run would have logged.
        """
        if self.kind("step") or self.kind("epoch"):
            return False
        config = self.config if isinstance(self.config, dict) else {}
        return bool(self.kind("gan")) or any(isinstance(config.get(t), dict) for t in GENERATIVE_TABLES)
