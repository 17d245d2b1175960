"""Run the probes without pytest: `python -m tests.probes.run_probes [area-prefix]` prints each failure."""

import sys
import time

import torch

try:
    import descend
except Exception as exc:  # noqa: BLE001 — the tree is shared; still check the probes under torch
    print(f"descend does not import ({exc}); checking the probes under torch only")
    descend = None
from tests.probes import harness
from tests.probes.known import KNOWN


def main() -> None:
    prefix = sys.argv[1] if len(sys.argv) > 1 else ""
    start = time.time()
    names = [n for n in harness.load_all() if n.startswith(prefix)]
    failed = {}
    for name in names:
        if descend is None:
            p = harness.REGISTRY[name]
            ref = harness.run(p, torch)
            if p.raises != isinstance(ref, harness.Threw):
                failed[name] = f"probe bug: {ref.exc if isinstance(ref, harness.Raised) else 'no raise'}"
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
    print(f"{len(names) - len(failed)}/{len(names)} pass ({1 - len(failed) / max(1, len(names)):.1%}); "
          f"{len(bugs)} probe bugs; {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
