"""The part every record-watching doctor shares (the GAN's and the diffusion model's): findings kept once by
code, each printed, sent to TensorBoard and written to diagnosis.json when it first holds, and saved with the
checkpoints so that a resumed run raises nothing twice."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from descend.doctor.doctor import write_diagnoses
from descend.doctor.rules import Diagnosis


class RecordWatcher:
    """Base of the doctors that judge a run's logged records; subclasses add `add` and `finish`."""

    def __init__(self, setting: Any, run_dir: str | Path | None = None, verbose: bool = True,
                 stream: TextIO | None = None, tb: Any = None) -> None:
        self.setting, self.run_dir, self.verbose, self.stream, self.tb = setting, run_dir, verbose, stream, tb
        self.records: list[dict] = []
        self.found: dict[str, Diagnosis] = {}

    @property
    def diagnoses(self) -> list[Diagnosis]:
        return list(self.found.values())

    def _announce(self, new: list[Diagnosis], step: int, finished: bool = False) -> list[Diagnosis]:
        """Print and log the diagnoses that just began to hold; rewrite diagnosis.json when any did."""
        for d in new:
            if self.verbose:
                self._print("doctor: " + d.format())
            if self.tb is not None and hasattr(self.tb, "add_text"):
                self.tb.add_text(f"doctor/{d.code}", d.format(), step)
        if self.run_dir is not None and (new or finished):
            write_diagnoses(self.run_dir, self.diagnoses, finished=finished, step=step)
        return new

    def _print(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def state_dict(self) -> dict:
        return {"found": [d.to_dict() for d in self.found.values()]}

    def load_state_dict(self, state: dict, records: list[dict]) -> None:
        """Restore the findings and the records so far (from metrics.jsonl, cut back to the checkpoint)."""
        self.found = {}
        for d in state.get("found", []):
            diag = Diagnosis.from_dict(d)
            self.found[diag.code] = diag
        self.records = list(records)
