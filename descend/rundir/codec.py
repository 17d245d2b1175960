"""THE JSON codec of the run directory: non-finite floats as the strings "NaN", "Infinity" and "-Infinity", so
every file is strict JSON any reader (a browser, jq) parses; NumPy values as Python values; a nesting limit."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from descend.rundir.errors import RunDirError

MAX_DEPTH = 64  # deeper JSON is refused (deeper nesting is never written, and it exhausts the C stack)
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Also read back: Python's spellings, which earlier versions and other tools write.
_DECODE = {**NONFINITE, "nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode_float(v: float) -> float | str:
    """A float as it is written: itself when finite, else "NaN", "Infinity" or "-Infinity"."""
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def to_json(value: Any) -> Any:
    """A JSON-valid copy of `value`: non-finite floats as strings, NumPy scalars/arrays as Python values."""
    if isinstance(value, (bool, str, type(None))):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return encode_float(value)
    if hasattr(value, "item"):  # a one-element tensor of any framework
        return to_json(value.item())
    raise TypeError(f"metrics.jsonl: cannot write a value of type {type(value).__name__} (run directory JSON)")


def from_json(value: Any) -> Any:
    """Undo `to_json`: the non-finite strings become floats again, everything else is unchanged."""
    if isinstance(value, str):
        return _DECODE.get(value, value)
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON text of `value` (through `to_json`)."""
    return json.dumps(to_json(value), indent=indent, allow_nan=False)


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in a parsed JSON value (a scalar: 0); iterative, so never recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return deepest


def loads(text: str | bytes, where: str, max_depth: int = MAX_DEPTH, decode: bool = True) -> Any:
    """Parse JSON text from `where` (RunDirError naming it when invalid or nested deeper than `max_depth`);
    non-finite strings become floats when `decode`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise RunDirError(f"{where}: JSON nested too deeply (more than {max_depth} levels)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise RunDirError(f"{where}: not valid JSON ({e})") from None
    if depth(value) > max_depth:
        raise RunDirError(f"{where}: JSON nested too deeply (more than {max_depth} levels)")
    return from_json(value) if decode else value
