"""Run the doctor benchmark: record (or load cached) traces of every case x seed, confirm each run's label by
its oracle, replay descend's Doctor and the literature's rules on the same traces, and write the scores.

    OMP_NUM_THREADS=1 python -m bench.doctor            # record what is missing, score, write RESULTS.md
    python -m bench.doctor --half dev                   # score one half only (tuning uses dev)
    python -m bench.doctor --force                      # re-record every trace

The cases are split into a development and a test half once, by case (all seeds of a case on one side),
stratified by label and seeded; the split is stored in bench/doctor/split.json and never re-drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from bench.doctor import metrics, oracle, replay, trace
from bench.doctor.cases import CASES, SEEDS

HERE = Path(__file__).parent
SPLIT = HERE / "split.json"
RESULTS = HERE / "RESULTS.md"
DIAGNOSERS = {"descend's doctor": replay.doctor, "AUTOTRAINER's rules": replay.autotrainer,
              "SageMaker Debugger's rules": replay.sagemaker}


def make_split(seed: int = 19) -> dict:
    """Half of each label's cases (rounded down) to "dev", the rest to "test"."""
    rng = np.random.default_rng(seed)
    halves: dict[str, str] = {}
    labels = sorted({c.label for c in CASES})
    for label in labels:
        names = sorted(c.name for c in CASES if c.label == label)
        rng.shuffle(names)
        k = len(names) // 2
        for i, n in enumerate(names):
            halves[n] = "dev" if i < k else "test"
    return {"seed": seed, "halves": halves}


# Cases added after the first split (issue 19: plateau had 4 test runs), split among themselves the same way
# with a seed of their own, recorded in split.json before any of them was recorded or scored.
ADDED = {"plateau-more": (1919, ("plat-mlp-sgd1", "plat-mlp-momentum0.2", "plat-cnn-adam0.03",
                                 "plat-mlp28-adam0.03", "plat-gru-adam0.05", "plat-logistic-adamw0.3",
                                 "plat-mlp-blobs-sgd2", "plat-mlp-blobs-adamw0.05",
                                 "plat-logistic-images-sgd2", "plat-cnn-momentum0.1"))}


def split_added(seed: int, names: tuple[str, ...]) -> dict[str, str]:
    """Half of the added cases (rounded down), drawn with `seed` from their sorted names, to "dev"."""
    names = sorted(names)
    np.random.default_rng(seed).shuffle(names)
    return {n: "dev" if i < len(names) // 2 else "test" for i, n in enumerate(names)}


def load_split() -> dict[str, str]:
    if not SPLIT.exists():
        SPLIT.write_text(json.dumps(make_split(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    split = json.loads(SPLIT.read_text(encoding="utf-8"))
    added = split.setdefault("added", {})
    for key, (seed, names) in ADDED.items():
        if key not in added:  # drawn once, then kept
            added[key] = {"seed": seed, "halves": split_added(seed, names)}
            split["halves"].update(added[key]["halves"])
            SPLIT.write_text(json.dumps(split, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    halves = split["halves"]
    missing = [c.name for c in CASES if c.name not in halves]
    if missing:
        raise SystemExit(f"bench/doctor/split.json has no half for {', '.join(missing)}: a new case needs an "
                         "entry (put it in test unless the split is re-drawn before any tuning)")
    return halves


def _one(job: tuple) -> tuple[str, int, float]:
    name, seed, force = job
    case = next(c for c in CASES if c.name == name)
    t = trace.load_or_record(case, seed, force)
    return name, seed, t["seconds"]


def record_all(force: bool = False, jobs: int = 2) -> None:
    todo = [(c.name, s, force) for c in CASES for s in SEEDS if force or not trace.path(c, s).exists()]
    if not todo:
        return
    print(f"recording {len(todo)} runs with {jobs} processes ...", flush=True)
    start = time.perf_counter()
    if jobs > 1:
        with get_context("fork").Pool(jobs) as pool:
            for name, seed, sec in pool.imap_unordered(_one, todo):
                print(f"  {name} seed {seed}: {sec:.1f}s", flush=True)
    else:
        for job in todo:
            name, seed, sec = _one(job)
            print(f"  {name} seed {seed}: {sec:.1f}s", flush=True)
    print(f"recorded in {time.perf_counter() - start:.0f}s", flush=True)


def evaluate(halves: dict[str, str], which: tuple[str, ...]) -> tuple[dict, list, list]:
    traces = [trace.load_or_record(c, s) for c in CASES for s in SEEDS]
    reference = oracle.reference_losses(traces)
    runs: dict[str, list] = {h: [] for h in which}
    excluded = []
    for t in traces:
        half = halves[t["case"]]
        if not oracle.confirmed(t, reference):
            excluded.append((t["case"], t["seed"], t["label"], half))
            continue
        if half not in which:
            continue
        truth = t["label"]
        runs[half].append({"case": t["case"], "seed": t["seed"], "truth": truth, "steps": t["steps"],
                           "alarms": {name: fn(t) for name, fn in DIAGNOSERS.items()}})
    scores = {h: [metrics.score(runs[h], name) for name in DIAGNOSERS] for h in which}
    return scores, excluded, runs


def _said(run: dict, name: str) -> list[str]:
    """The classes a diagnoser raised an alarm for on a run (info findings aside)."""
    return [a["codes"][0] if run["truth"] not in a["codes"] else run["truth"]
            for a in run["alarms"][name] if a["severity"] != "info"]


def report(scores: dict, excluded: list, runs: dict) -> str:
    n_fault = len({c.name for c in CASES if c.label != "healthy"})
    n_ok = len({c.name for c in CASES if c.label == "healthy"})
    out = ["# Doctor benchmark results", "",
           f"Generated by `OMP_NUM_THREADS=1 python -m bench.doctor` ({n_fault} fault cases and {n_ok} healthy "
           f"configurations x {len(SEEDS)} seeds; see bench/doctor/cases.py). A run counts when its oracle "
           "confirms its label (bench/doctor/oracle.py); `info` findings are not alarms. The split into a "
           "development and a test half is fixed in bench/doctor/split.json; rules were tuned on dev only.", "",
           "The literature's rules name coarser problems than the doctor: AUTOTRAINER's `explode` and "
           "SageMaker's ExplodingTensor count as right for divergence, exploding gradients and NaN; "
           "AUTOTRAINER's slow convergence and SageMaker's LossNotDecreasing for LR too low, plateau and "
           "underfitting (a wrong one is counted against the first class of its group). Time to detection: the "
           "step at which a right alarm was first raised, as a fraction of the run's steps (median over the "
           "detected runs).", ""]
    for half in ("test", "dev"):
        if half not in scores:
            continue
        s = scores[half]
        out += [f"## {half} half ({s[0]['fault_runs']} fault runs, {s[0]['healthy_runs']} healthy runs)", "",
                metrics.summary_table(s), "", "Per class (precision / recall / F1):", "", metrics.class_table(s),
                "", "Confusion (descend's doctor; a fault run counts under its class when the doctor named it, "
                "else under the first alarm it raised):", "", metrics.confusion_table(s[0]), ""]
        name = s[0]["name"]
        misses = [f"{r['case']}/s{r['seed']} ({r['truth']}: said {', '.join(_said(r, name)) or 'nothing'})"
                  for r in runs[half] if r["truth"] != "healthy" and r["truth"] not in _said(r, name)]
        false = [f"{r['case']}/s{r['seed']} ({', '.join(_said(r, name))})"
                 for r in runs[half] if r["truth"] == "healthy" and _said(r, name)]
        out += [f"Missed by the doctor ({len(misses)}): " + ("; ".join(misses) or "none") + ".", "",
                f"False alarms of the doctor on healthy runs ({len(false)}): " + ("; ".join(false) or "none") + ".",
                ""]
    out += [f"## Runs left out: the oracle did not confirm the label ({len(excluded)})", "",
            "; ".join(f"{c}/s{s} ({lab}, {h})" for c, s, lab, h in sorted(excluded)) or "none", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.doctor", description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--force", action="store_true", help="re-record every trace")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    halves = load_split()
    record_all(args.force, args.jobs)
    which = ("dev", "test") if args.half == "all" else (args.half,)
    scores, excluded, runs = evaluate(halves, which)
    text = report(scores, excluded, runs)
    print(text)
    if not args.no_write and args.half == "all":
        RESULTS.write_text(text, encoding="utf-8")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
