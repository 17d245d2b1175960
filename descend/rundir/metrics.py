"""metrics.jsonl: one JSON object per line, each with a string "kind" and an integer "step"; appended and
flushed record by record, so a killed run keeps what it logged (a last line cut short is skipped)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from descend.rundir import codec, safe
from descend.rundir.errors import RunDirError


def check_record(record: Any) -> None:
    """A record must be a dict with a string 'kind' and an integer 'step'."""
    if not isinstance(record, dict):
        raise TypeError(f"metrics.jsonl: a record must be a dict, got {type(record).__name__}")
    if not isinstance(record.get("kind"), str):
        raise ValueError(f"metrics.jsonl: record needs a string 'kind', got {record.get('kind')!r}")
    step = record.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"metrics.jsonl: record of kind '{record['kind']}' needs an integer 'step', "
                         f"got {step!r}")


def line(record: dict) -> str:
    """One record as its metrics.jsonl line."""
    return codec.dumps(record) + "\n"


class MetricsWriter:
    """Appends records to a metrics.jsonl (refusing a symlink), one flushed line each."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = safe.open_append(self.path)

    def write(self, record: dict) -> None:
        self._file.write(line(record))
        self._file.flush()

    def tell(self) -> int:
        self._file.flush()
        return self._file.tell()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


def parse(text: str, where: str) -> list[dict]:
    """The records of metrics.jsonl text, non-finite values as floats; a last line without its newline that
    does not parse (an interrupted write) is left out; anything else malformed raises RunDirError."""
    lines = text.split("\n")
    records = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            record = codec.loads(raw, f"{where}:{i + 1}")
        except RunDirError:
            if i == len(lines) - 1:
                break
            raise
        if not isinstance(record, dict):
            raise RunDirError(f"{where}:{i + 1}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return records


def read(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """Every record of a metrics.jsonl file in order ([] when it does not exist); `limit`: bytes to read."""
    path = Path(path)
    if not os.path.lexists(path):
        return []
    data = safe.read_bytes(path)
    if limit is not None:
        data = data[:limit]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path}: not a UTF-8 text file (byte {e.start})") from None
    return parse(text, str(path))
