"""Replay a trace through a diagnoser: descend's Doctor (its real callback, fed the recorded steps, samples and
epoch logs at the moments the live run produced them), AUTOTRAINER's rules and SageMaker Debugger's built-in
rules. Each returns its alarms: {"codes": (doctor codes it names), "at": step it fired, "severity",
"confidence"}.

The literature's rules are re-implemented from their published definitions and default thresholds (facts,
not code): AUTOTRAINER (Zhang et al., ICSE'21; its released monitor's defaults beta_1 = 1e-3, beta_2 = 1e-4,
beta_3 = 70, gamma = 0.7, zeta = 0.03, eta = 0.2, delta = 0.01, Theta = 0.7, judged from 30 % of the epochs),
and SageMaker Debugger's rules with their documented defaults (VanishingGradient 1e-7, ExplodingTensor,
DeadRelu 50 % of a layer, SaturatedActivation 50 %, LossNotDecreasing 10 steps / 0.1 %, Overfit ratio 0.1,
Overtraining patience 10, WeightUpdateRatio 10 / 1e-8). Where the trace holds a close stand-in rather than the
exact tensor (RMS instead of mean |g|, units never active instead of zero gradients) it is said below.
"""

from __future__ import annotations

import math
from typing import Any

from descend.doctor.doctor import Doctor

NAN_CODES = ("divergence", "exploding_gradients", "nan")
SLOW_CODES = ("lr_too_low", "plateau", "underfitting")


class _Trainer:
    """What the Doctor reads of a trainer during replay."""

    def __init__(self) -> None:
        self.step, self.epoch, self.run, self.stop_training, self.model = 0, 0, None, False, None


def groups(records: list[dict]):
    """(step or epoch record, the records that followed it before the next step or epoch record)."""
    head, extra = None, []
    for r in records:
        if r.get("kind") in ("step", "epoch"):
            if head is not None:
                yield head, extra
            head, extra = r, []
        else:
            extra.append(r)
    if head is not None:
        yield head, extra


def doctor(trace: dict, **kwargs: Any) -> list[dict]:
    """Replay the trace through `Doctor(**kwargs)` (defaults: the default doctor) and return its alarms."""
    doc = Doctor(verbose=False, layers=False, activations=False, **kwargs)
    doc.monitors = []
    t = _Trainer()
    t.epochs = trace["epochs"]
    doc.on_train_begin(t)
    alarms: list[dict] = []
    seen: set = set()
    seen_order: list = []
    last_epoch: dict = {}

    def collect() -> None:
        for key, d in doc.found.items():
            if key not in seen:
                seen.add(key)
                seen_order.append(key)
                conf = getattr(d, "confidence", None)
                alarms.append({"codes": (d.code,), "at": t.step, "since": d.step, "severity": d.severity,
                               "confidence": conf})

    h = doc.history
    for head, extra in groups(trace["records"]):
        t.step, t.epoch = int(head.get("step", t.step)), int(head.get("epoch", t.epoch))
        if head["kind"] == "step":
            h.add_step(head)
            for r in extra:
                h.add(r)
            doc.after_step(t, head)
        else:
            last_epoch = head
            doc.on_epoch_end(t, head)
        collect()
        if t.stop_training:
            break
    doc.on_train_end(t, last_epoch)
    collect()
    final = {id(d): d.severity for d in doc.found.values()}
    by_id = {key: id(d) for key, d in doc.found.items()}
    for a, key in zip(alarms, seen_order):
        a["severity"] = final[by_id[key]]  # a consequence demoted to info once its cause was found
    return alarms


# --- AUTOTRAINER --------------------------------------------------------------------------------------------------
AT = dict(beta_1=1e-3, beta_2=1e-4, beta_3=70.0, gamma=0.7, zeta=0.03, eta=0.2, delta=0.01, theta=0.7,
          judgment_point=0.3)
AT_CODES = {"explode": NAN_CODES, "relu": ("dead_relus",), "vanish": ("vanishing_gradients",),
            "not_converge": SLOW_CODES, "unstable": ("oscillation",)}


def _oscillates(acc: list[float], threshold: float, rate: float) -> bool:
    """AUTOTRAINER's oscillation test: count paired local maxima and minima of the accuracy that differ by at
    least `threshold`; oscillating when the count reaches `rate` x the number of epochs."""
    hi = [acc[i] for i in range(1, len(acc) - 1) if acc[i] >= acc[i - 1] and acc[i] >= acc[i + 1]]
    lo = [acc[i] for i in range(1, len(acc) - 1) if acc[i] <= acc[i - 1] and acc[i] <= acc[i + 1]]
    count = sum(1 for a, b in zip(hi, lo) if a - b >= threshold)
    return count >= rate * len(acc)


def _max_gain(acc: list[float]) -> float:
    return max([0.0] + [b - a for a, b in zip(acc, acc[1:])])


def autotrainer(trace: dict) -> list[dict]:
    """AUTOTRAINER's five problems, judged at every epoch end from the epoch history and the latest gradients
    (per-layer gradient norms of the first and last weight layers; the fraction of zero gradients is stood in
    for by the fraction of ReLU units that never fired)."""
    p = AT
    feat = {"vanish": 0, "explode": 0, "relu": 0, "nan": False}
    layer, acts, epochs = None, None, []
    total = trace["epochs"]
    for head, extra in groups(trace["records"]):
        for r in extra:
            if r.get("kind") == "layers":
                layer = r
            elif r.get("kind") == "activations":
                acts = r
        if head["kind"] == "step":
            if not (math.isfinite(head.get("loss", math.nan)) and math.isfinite(head.get("grad_norm") or 0.0)):
                feat["nan"] = True
            continue
        epochs.append(head)
        if layer is not None:
            norms = [s["grad_norm"] for s in layer["layers"].values()
                     if s.get("weight") and s.get("grad_norm") is not None]
            if len(norms) >= 2 and norms[-1] > 0:
                rate = norms[0] / norms[-1]
                if rate < p["beta_1"] and norms[0] < p["beta_2"]:
                    feat["vanish"] += 1
                if rate > p["beta_3"]:
                    feat["explode"] += 1
        if acts is not None:
            dead = [s["dead"] for s in acts["layers"].values()
                    if s.get("type") == "ReLU" and s.get("dead") is not None]
            if dead and sum(dead) / len(dead) >= p["gamma"]:
                feat["relu"] += 1
        issue = _autotrainer_issue(feat, epochs, total, p)
        if issue:
            return [{"codes": AT_CODES[issue], "at": head["step"], "severity": "warning", "confidence": None}]
    return []


def _autotrainer_issue(feat: dict, epochs: list[dict], total: int, p: dict) -> str | None:
    loss = [e.get("train_loss") for e in epochs]
    if feat["nan"] or any(v is None or not math.isfinite(v) for v in loss) or \
            any(e.get("val_loss") is not None and not math.isfinite(e["val_loss"]) for e in epochs):
        return "explode"
    if len(epochs) < p["judgment_point"] * total:
        return None
    acc = [e.get("train_acc") for e in epochs]
    vacc = [e.get("val_acc") for e in epochs]
    if any(a is None for a in acc):
        return None  # no accuracy (regression): AUTOTRAINER's loss-side tests read accuracy
    vacc = [a if a is not None else acc[i] for i, a in enumerate(vacc)]
    not_converge = max(vacc) < p["theta"] or max(acc) < p["theta"]
    slow = _max_gain(vacc) < p["delta"] and _max_gain(acc) < p["delta"]
    if not_converge or slow:
        for key in ("relu", "explode", "vanish"):
            if feat[key] >= 1:
                return key
        return "not_converge" if slow else None
    if _oscillates(acc, p["zeta"], p["eta"]):
        return "unstable"
    return None


# --- SageMaker Debugger --------------------------------------------------------------------------------------------
SM = dict(vanishing=1e-7, dead_layer=0.5, saturated_layer=0.5, loss_steps=10, loss_diff=0.001, overfit_ratio=0.1,
          overfit_patience=1, overtrain_patience=10, overtrain_delta=0.01, update_large=10.0, update_small=1e-8)


def sagemaker(trace: dict) -> list[dict]:
    """SageMaker Debugger's built-in rules on the same records (mean |gradient| stood in for by the RMS;
    a layer's inactive neurons by its units that never fired over the sampled window)."""
    p = SM
    alarms: dict[str, dict] = {}

    def fire(name: str, codes: tuple, step: int) -> None:
        if name not in alarms:
            alarms[name] = {"codes": codes, "at": step, "severity": "warning", "confidence": None}

    losses: list[float] = []
    epochs: list[dict] = []
    for head, extra in groups(trace["records"]):
        step = int(head.get("step", 0))
        for r in extra:
            if r.get("kind") == "layers":
                for s in r["layers"].values():
                    if not s.get("weight"):
                        continue
                    if s.get("grad_rms") is not None and s["grad_rms"] < p["vanishing"]:
                        fire("VanishingGradient", ("vanishing_gradients",), step)
                    u = s.get("update_ratio")
                    if u is not None and math.isfinite(u) and u > p["update_large"]:
                        fire("WeightUpdateRatio/large", ("divergence",), step)
                    if u is not None and u < p["update_small"]:
                        fire("WeightUpdateRatio/small", ("lr_too_low",), step)
                    if not all(math.isfinite(s.get(k, 0.0)) for k in ("grad_norm", "weight_norm")):
                        fire("ExplodingTensor", NAN_CODES, step)
            elif r.get("kind") == "activations":
                for s in r["layers"].values():
                    if s.get("output"):
                        continue
                    if s.get("type") == "ReLU" and (s.get("dead") or 0) >= p["dead_layer"]:
                        fire("DeadRelu", ("dead_relus",), step)
                    if (s.get("saturated") or 0) >= p["saturated_layer"]:
                        fire("SaturatedActivation", ("saturated_units",), step)
            elif r.get("kind") == "doctor":
                fire("ExplodingTensor", NAN_CODES, step)
        if head["kind"] == "step":
            loss = head.get("loss", math.nan)
            if not math.isfinite(loss) or not math.isfinite(head.get("grad_norm") or 0.0):
                fire("ExplodingTensor", NAN_CODES, step)
            losses.append(loss)
            k = p["loss_steps"]
            if len(losses) > k and len(losses) % k == 1:
                before, now = losses[-1 - k], losses[-1]
                if math.isfinite(before) and math.isfinite(now) and now > before * (1 - p["loss_diff"]):
                    fire("LossNotDecreasing", SLOW_CODES, step)
        else:
            epochs.append(head)
            _sagemaker_epoch(epochs, p, fire, step)
    return sorted(alarms.values(), key=lambda a: a["at"])


def _sagemaker_epoch(epochs: list[dict], p: dict, fire: Any, step: int) -> None:
    e = epochs[-1]
    t, v = e.get("train_loss"), e.get("val_loss")
    if t is not None and v is not None and t > 0 and math.isfinite(v):
        over = [(x.get("val_loss", 0) - x["train_loss"]) / x["train_loss"] > p["overfit_ratio"]
                for x in epochs[-(p["overfit_patience"] + 1):] if x.get("train_loss")]
        if len(over) > p["overfit_patience"] and all(over):
            fire("Overfit", ("overfitting",), step)
    vals = [x["val_loss"] for x in epochs if x.get("val_loss") is not None and math.isfinite(x["val_loss"])]
    n = p["overtrain_patience"]
    if len(vals) > n and min(vals[-n:]) > min(vals[:-n]) - p["overtrain_delta"]:
        fire("Overtraining", ("overfitting",), step)
