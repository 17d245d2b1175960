"""Scores of a diagnoser's alarms against the confirmed labels: the issue's table, per-class precision,
recall and F1, a confusion matrix, time to detection and false warnings per 10k healthy steps."""

from __future__ import annotations

from collections import Counter

import numpy as np

from bench.doctor.cases import LABELS

NONE = "none"


def _alarms(alarms: list[dict]) -> list[dict]:
    return [a for a in alarms if a.get("severity") != "info"]


def score(runs: list[dict], name: str) -> dict:
    """runs: [{"truth": label or "healthy", "steps": int, "alarms": {diagnoser: [alarm, ...]}}]."""
    tp, fp, fn = Counter(), Counter(), Counter()
    confusion: Counter = Counter()
    healthy = [r for r in runs if r["truth"] == "healthy"]
    faults = [r for r in runs if r["truth"] != "healthy"]
    ttd, early = [], 0
    warn_healthy = 0
    for r in runs:
        alarms = _alarms(r["alarms"][name])
        truth = r["truth"]
        hit = next((a for a in alarms if truth in a["codes"]), None)
        wrong = {a["codes"][0] for a in alarms if truth not in a["codes"]}
        for c in wrong:
            fp[c] += 1
        if truth == "healthy":
            warn_healthy += len(alarms)
            confusion[(truth, alarms[0]["codes"][0] if alarms else NONE)] += 1
            continue
        if hit is not None:
            tp[truth] += 1
            frac = hit["at"] / max(r["steps"], 1)
            ttd.append((hit["at"], frac))
            early += frac <= 0.25
            confusion[(truth, truth)] += 1
        else:
            fn[truth] += 1
            confusion[(truth, alarms[0]["codes"][0] if alarms else NONE)] += 1
    per_class = {}
    for c in LABELS:
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else float("nan")
        rc = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else float("nan")
        f1 = 2 * p * rc / (p + rc) if p == p and rc == rc and p + rc > 0 else 0.0
        per_class[c] = {"precision": p, "recall": rc, "f1": f1, "support": tp[c] + fn[c], "tp": tp[c],
                        "fp": fp[c]}
    present = [c for c in LABELS if per_class[c]["support"]]
    stp, sfp, sfn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    healthy_steps = sum(r["steps"] for r in healthy)
    return {
        "name": name,
        "healthy_runs": len(healthy), "fault_runs": len(faults),
        "false_alarm": np.mean([bool(_alarms(r["alarms"][name])) for r in healthy]) if healthy else float("nan"),
        "detection": np.mean([bool(_alarms(r["alarms"][name])) for r in faults]) if faults else float("nan"),
        "macro_f1": float(np.mean([per_class[c]["f1"] for c in present])) if present else float("nan"),
        "micro_p": stp / (stp + sfp) if stp + sfp else float("nan"),
        "micro_r": stp / (stp + sfn) if stp + sfn else float("nan"),
        "per_class": per_class, "confusion": confusion,
        "ttd_steps": float(np.median([s for s, _ in ttd])) if ttd else float("nan"),
        "ttd_frac": float(np.median([f for _, f in ttd])) if ttd else float("nan"),
        "early": early / len(ttd) if ttd else float("nan"),
        "warn_per_10k": 1e4 * warn_healthy / healthy_steps if healthy_steps else float("nan"),
    }


def _pct(v: float) -> str:
    return "n/a" if v != v else f"{100 * v:.0f} %"


def _f(v: float) -> str:
    return "n/a" if v != v else f"{v:.2f}"


def summary_table(scores: list[dict]) -> str:
    out = ["| | false alarms on healthy runs | detection on buggy runs | macro-F1 | micro P / R | "
           "false warnings / 10k healthy steps | median time to detection (steps, fraction of run) |",
           "|---|---|---|---|---|---|---|"]
    for s in scores:
        out.append(f"| {s['name']} | {_pct(s['false_alarm'])} | {_pct(s['detection'])} | {_f(s['macro_f1'])} | "
                   f"{_f(s['micro_p'])} / {_f(s['micro_r'])} | {s['warn_per_10k']:.1f} | "
                   f"{s['ttd_steps']:.0f}, {_pct(s['ttd_frac'])} |")
    return "\n".join(out)


def class_table(scores: list[dict]) -> str:
    head = "| class | support | " + " | ".join(f"{s['name']} P / R / F1" for s in scores) + " |"
    out = [head, "|---|---|" + "---|" * len(scores)]
    for c in LABELS:
        cells = [f"{_f(s['per_class'][c]['precision'])} / {_f(s['per_class'][c]['recall'])} / "
                 f"{_f(s['per_class'][c]['f1'])}" for s in scores]
        out.append(f"| {c} | {scores[0]['per_class'][c]['support']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def confusion_table(s: dict) -> str:
    rows = list(LABELS) + ["healthy"]
    cols = list(LABELS) + [NONE]
    short = {c: c.replace("_gradients", "").replace("_units", "").replace("_relus", "")[:8] for c in cols}
    out = ["| truth \\ said | " + " | ".join(short[c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for r in rows:
        cells = [str(s["confusion"].get((r, c), 0) or ".") for c in cols]
        out.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(out)
