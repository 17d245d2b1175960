"""One config-schema engine: a table of section -> key -> Key(type, default, check, flag, help) gives the
defaults, the per-value checks, did-you-mean for unknown keys and values, TOML tables, command-line overrides
and the argparse options (with their defaults in the help).

A task module keeps only its table and its own `resolve(cfg)` (data-dependent defaults and cross-checks):
descend/train/config.py, descend/gan/config.py, descend/diffusion/config.py.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import math
from typing import Any, Callable, NamedTuple

from descend.errors import UsageError

INT_MAX = 2**31 - 1  # the default upper bound of an integer key: a typo of many digits is an error, not a hang


class Key(NamedTuple):
    """One config key: its type (int, float, str or bool; float accepts ints), its default (None: the data
    decides), a check returning a problem or None, its flag (None: a comment in the table says why), the
    flag's help, and an upper bound for numbers (ints default to INT_MAX)."""

    kind: type
    default: Any
    check: Callable[[Any], str | None] | None = None
    flag: str | None = None
    help: str = ""
    most: float | None = None


# --- checks (each returns the problem, or None; the engine adds the key and the value) ------------------

def positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be >= 0"


def fraction(v: Any) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def one_of(*names: str) -> Callable[[Any], str | None]:
    """A check that the value is one of `names`, suggesting the closest one."""
    def check(v: Any) -> str | None:
        if v in names:
            return None
        hint = did_you_mean(v, names)
        return f"must be one of {', '.join(names)}" + (f" (did you mean '{hint}'?)" if hint else "")
    return check


def did_you_mean(word: Any, choices: Any) -> str | None:
    """The closest choice: the same name spelt with '-' or '_', or written out in words whose initials are the
    choice (learning_rate, --learning-rate -> lr), else difflib's nearest."""
    if not isinstance(word, str):
        return None

    def norm(s: str) -> str:
        return s.lstrip("-").replace("-", "_").lower().rpartition(".")[2]

    w = norm(word)
    initials = "".join(part[0] for part in w.split("_") if part) if "_" in w else None
    for c in choices:
        if isinstance(c, str) and norm(c) in (w, initials):
            return c
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def dotted(section: str, key: str) -> str:
    return key if section == "" else f"{section}.{key}"


def fill(cfg: dict, values: dict) -> None:
    """Set the dotted keys of `values` in `cfg` where cfg holds None (the data-dependent defaults)."""
    for name, value in values.items():
        section, key = name.split(".")
        if cfg[section][key] is None:
            cfg[section][key] = value


def _type_name(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a table",
            list: "an array"}.get(type(v), type(v).__name__)


def _no_resolve(cfg: dict) -> dict:
    return cfg


class Schema:
    """The engine over one table; `resolve` fills data-dependent defaults and cross-checks a whole config."""

    def __init__(self, table: dict[str, dict[str, tuple]], resolve: Callable[[dict], dict] | None = None,
                 data_defaults: dict[str, dict] | None = None) -> None:
        self.table = {s: {k: Key(*spec) for k, spec in keys.items()} for s, keys in table.items()}
        self.resolve = resolve or _no_resolve
        self.data_defaults = data_defaults or {}  # {"images": {dotted key: default}}: for --help
        self.flags = {spec.flag: (s, k) for s, keys in self.table.items() for k, spec in keys.items() if spec.flag}

    def defaults(self) -> dict:
        """The table's defaults (None where the data decides)."""
        out: dict = {}
        for section, keys in self.table.items():
            target = out if section == "" else out.setdefault(section, {})
            for key, spec in keys.items():
                target[key] = spec.default
        return out

    def check_value(self, section: str, key: str, value: Any, where: str) -> Any:
        """One value checked against the table; returns it (ints widened to float where a number is expected)."""
        spec = self.table[section][key]
        kind = spec.kind
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]
            shown = repr(value) if isinstance(value, (str, int, float, bool)) else _type_name(value)
            raise UsageError(f"{where}: expected {name}, got {shown}")
        if kind is float and not math.isfinite(value):
            raise UsageError(f"{where}: must be a finite number, got {value}")
        limit = spec.most if spec.most is not None else (INT_MAX if kind is int else None)
        if limit is not None and value > limit:
            raise UsageError(f"{where}: must be at most {limit}, got {value}")
        if kind is str and any(ord(c) < 0x20 or c == "\x7f" for c in value):
            raise UsageError(f"{where}: must not contain control characters (such as NUL or a newline), got "
                             f"{value!r}")
        problem = spec.check(value) if spec.check is not None else None
        if problem:
            raise UsageError(f"{where}: {problem}, got {value!r}")
        return value

    def validate(self, raw: dict, source: str) -> dict:
        """A whole config from a partial one such as a parsed config.toml; unknown keys and bad values raise
        UsageError naming `source`."""
        cfg = self.defaults()
        for name, value in raw.items():
            if name in self.table and name != "":
                if not isinstance(value, dict):
                    raise UsageError(f"{source}: [{name}] must be a table, got {_type_name(value)}")
                for key, v in value.items():
                    if key not in self.table[name]:
                        self._unknown(source, name, key)
                    cfg[name][key] = self.check_value(name, key, v, f"{source}: key '{name}.{key}'")
            elif name in self.table[""]:
                cfg[name] = self.check_value("", name, value, f"{source}: key '{name}'")
            else:
                self._unknown(source, "", name, value)
        return self.resolve(cfg)

    def _unknown(self, source: str, section: str, key: str, value: Any = None) -> None:
        sections = [s for s in self.table if s]
        if section == "" and isinstance(value, dict):  # a misspelt [section]
            hint = did_you_mean(key, sections)
            raise UsageError(f"{source}: unknown section [{key}]" + (f" (did you mean [{hint}]?)" if hint else
                                                                     f"; sections: {', '.join(sections)}"))
        # The same section first (a typo), then everywhere (a key put in the wrong section).
        hint = did_you_mean(key, self.table[section])
        hint = dotted(section, hint) if hint else None
        if hint is None:
            owners = [dotted(s, key) for s in self.table if key in self.table[s]]
            every = [dotted(s, k) for s, keys in self.table.items() for k in keys]
            hint = owners[0] if owners else did_you_mean(dotted(section, key), every)
        raise UsageError(f"{source}: unknown key '{dotted(section, key)}'" + (f" (did you mean '{hint}'?)"
                                                                             if hint else ""))

    def override(self, cfg: dict, overrides: dict) -> dict:
        """`cfg` with {flag: value} overrides checked and applied (not resolved)."""
        cfg = copy.deepcopy(cfg)
        for flag, value in overrides.items():
            section, key = self.flags[flag]
            (cfg if section == "" else cfg[section])[key] = self.check_value(section, key, value, flag)
        return cfg

    def from_flags(self, overrides: dict) -> dict:
        """Defaults, then {flag: value} overrides, resolved and cross-checked."""
        return self.resolve(self.override(self.defaults(), overrides))

    def add_flags(self, parser: argparse.ArgumentParser, skip: tuple = ()) -> None:
        """Add an option per flag of the table (default None: a flag not given leaves the config's value), its
        help ending with the table's default (or the data's)."""
        for flag, (section, key) in self.flags.items():
            if flag in skip:
                continue
            spec = self.table[section][key]
            text = self._help(section, key).replace("%", "%%")
            if spec.kind is bool:
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
            else:
                parser.add_argument(flag, type=spec.kind, help=text)

    def _help(self, section: str, key: str) -> str:
        """A flag's help and its default: the table's, or each kind of data's where the data decides."""
        spec, name = self.table[section][key], dotted(section, key)
        per_data = {where: d[name] for where, d in self.data_defaults.items() if name in d}
        if spec.default is not None:
            shown = str(spec.default) if spec.default != "" else ""  # '' is explained by the help
        elif len(set(map(str, per_data.values()))) == 1:
            shown = str(next(iter(per_data.values())))
        else:
            shown = ", ".join(f"{value} on {where}" for where, value in per_data.items())
        if not shown:
            return spec.help
        return f"{spec.help} (default {shown})" if spec.help else f"default {shown}"

    def given(self, args: argparse.Namespace) -> dict:
        """{flag: value} for the table's flags given on the command line."""
        out = {}
        for flag in self.flags:
            value = getattr(args, flag[2:].replace("-", "_"), None)
            if value is not None:
                out[flag] = value
        return out
