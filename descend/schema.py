"""One config-schema engine for the tasks whose configs are tables of key -> (type, default, check, flag):
defaults, per-value checks with did-you-mean for unknown keys, TOML tables and command-line overrides.

A task module keeps only its SCHEMA, FLAGS and `resolve(cfg)` (data-dependent defaults and cross-checks), e.g.
descend/gan/config.py and descend/diffusion/config.py.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Callable

from descend.train.config import UsageError


def defaults(schema: dict) -> dict:
    """The schema's defaults (None where the data decides)."""
    out: dict = {}
    for section, keys in schema.items():
        target = out if section == "" else out.setdefault(section, {})
        for key, spec in keys.items():
            target[key] = spec[1]
    return out


def check_value(schema: dict, section: str, key: str, value: Any, where: str) -> Any:
    """One value checked against the schema (ints widen to floats where a number is expected)."""
    kind, _default, check, _flag = schema[section][key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        name = {int: "an integer", float: "a number", str: "a string"}[kind]
        raise UsageError(f"{where}: expected {name}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise UsageError(f"{where}: must be a finite number, got {value}")
    problem = check(value) if check is not None else None
    if problem:
        raise UsageError(f"{where}: {problem}, got {value!r}")
    return value


def validate(schema: dict, raw: dict, source: str, resolve: Callable[[dict], dict]) -> dict:
    """A config from a (partial) dict such as a parsed config.toml; unknown keys and bad values raise."""
    cfg = defaults(schema)
    for name, value in raw.items():
        if name in schema and name != "":
            if not isinstance(value, dict):
                raise UsageError(f"{source}: [{name}] must be a table")
            for key, v in value.items():
                if key not in schema[name]:
                    hint = difflib.get_close_matches(key, list(schema[name]), n=1)
                    raise UsageError(f"{source}: unknown key '{name}.{key}'"
                                     + (f" (did you mean '{name}.{hint[0]}'?)" if hint else ""))
                cfg[name][key] = check_value(schema, name, key, v, f"{source}: key '{name}.{key}'")
        elif name in schema[""]:
            cfg[name] = check_value(schema, "", name, value, f"{source}: key '{name}'")
        else:
            raise UsageError(f"{source}: unknown key '{name}'")
    return resolve(cfg)


def from_flags(schema: dict, flags: dict, overrides: dict, resolve: Callable[[dict], dict]) -> dict:
    """Defaults, then {flag: value} overrides, resolved for the chosen data and cross-checked."""
    cfg = defaults(schema)
    for flag, value in overrides.items():
        section, key = flags[flag]
        v = check_value(schema, section, key, value, flag)
        if section == "":
            cfg[key] = v
        else:
            cfg[section][key] = v
    return resolve(cfg)
