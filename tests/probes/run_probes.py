"""Run the probes without pytest: `python -m tests.probes.run_probes [area-prefix] [--write-known]`.

Prints each failing probe with the difference; --write-known rewrites known.py from the failures, with a
reason made from each difference for new entries (reasons already in known.py are kept).
"""

import re
import sys
import time
from pathlib import Path

import torch

try:
    import descend
except Exception as exc:  # noqa: BLE001 — the tree is shared; still check the probes under torch
    print(f"descend does not import ({exc}); checking the probes under torch only")
    descend = None
from tests.probes import harness
from tests.probes.known import KNOWN


def reason(diff: str) -> str:
    """A short reason for known.py from a comparison's difference."""
    diff = diff.split("\n")[0]
    m = re.search(r"AttributeError: module '([\w.]+)' has no attribute '(\w+)'", diff)
    if m:
        return f"{m.group(1)}.{m.group(2)} missing"
    m = re.search(r"AttributeError: '(\w+)' object has no attribute '(\w+)'", diff)
    if m:
        return f"{m.group(1)}.{m.group(2)} missing"
    m = re.search(r"TypeError: ([\w.]+)\(\) got an unexpected keyword argument '(\w+)'", diff)
    if m:
        return f"{m.group(1)}() does not accept {m.group(2)}="
    m = re.match(r"result: torch raises (\w+), descend raises (\w+)", diff)
    if m:
        return f"raises {m.group(2)} where torch raises {m.group(1)} (make it also a {m.group(1)})"
    diff = diff.replace("result", "", 1).lstrip(": ")
    return diff if len(diff) <= 150 else diff[:147] + "..."


def write_known(failed: dict[str, str]) -> None:
    doc = '"""Probes that still fail, each with the reason; test_probes.py marks them xfail(strict=True)."""'
    lines = [doc, "", "KNOWN: dict[str, str] = {"]
    for name in sorted(failed, key=lambda n: (n.split(".")[0], n)):
        # Keep a reason written by hand while its probe still fails.
        lines.append(f"    {name!r}: {KNOWN.get(name) or reason(failed[name])!r},")
    lines.append("}")
    Path(__file__).with_name("known.py").write_text("\n".join(lines) + "\n")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prefix = args[0] if args else ""
    start = time.time()
    names = [n for n in harness.load_all() if n.startswith(prefix)]
    failed = {}
    for name in names:
        if descend is None:
            p = harness.REGISTRY[name]
            ref = harness.run(p, torch)
            if p.raises != isinstance(ref, harness.Threw):
                what = ref.exc if isinstance(ref, harness.Threw) else "does not raise"
                failed[name] = f"probe bug: {what}"
            continue
        diff = harness.check(name, torch, descend)
        if diff is not None:
            failed[name] = diff
    for name, diff in failed.items():
        mark = " [known]" if name in KNOWN else ""
        print(f"FAIL {name}{mark}: {diff}")
    bugs = [n for n, d in failed.items() if d.startswith("probe bug")]
    areas = {}
    for name in names:
        area = name.split(".")[0]
        areas.setdefault(area, [0, 0])
        areas[area][0] += 1
        areas[area][1] += name not in failed
    print(" ".join(f"{a}:{p}/{t}" for a, (t, p) in areas.items()))
    if "--write-known" in sys.argv and descend is not None and not prefix:
        write_known(failed)
        print(f"wrote known.py ({len(failed)} entries)")
    print(f"{len(names) - len(failed)}/{len(names)} pass ({1 - len(failed) / max(1, len(names)):.1%}); "
          f"{len(bugs)} probe bugs; {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
