"""Diagnoses: small rules, each a pure function over a run's history that returns a Diagnosis or None.

A rule sees the `History` (per-step loss, LR and gradient norm; epoch logs; sampled per-layer and
per-activation statistics; events such as the op that first produced NaN) and the diagnoses already found,
so a consequence is not reported beside its cause: dead ReLUs block the gradient, but that is not also
"vanishing gradients"; a loss that overflows after rising for twenty steps is a divergence, not a NaN bug.

Every threshold is a named constant below with the reason for its value. They were set on the pathology
zoo (tests/test_zoo.py) with healthy runs, which must trigger nothing, as the other half of the check.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SEVERITIES = ("error", "warning", "info")

# --- thresholds ---------------------------------------------------------------------------------------------
SMOOTH = 5                # steps in the rolling windows that hide single noisy batches
DIVERGE_RISE = 2.0        # loss above 2x its best so far ...
DIVERGE_ABOVE_START = 1.5 # ... and 1.5x where it started: a healthy run never climbs back above its start
GRAD_BLOWUP = 10.0        # grad norm 10x its early median just before a NaN: the NaN is the divergence's end
WEIGHT_BLOWUP = 10.0      # weights 10x their initial norm when the NaN appeared: steps were far too large
LOW_LR_MIN_STEPS = 50     # judge "barely moves" only after this many steps
LOW_LR_MOVE = 0.02        # loss moved less than 2 % from its start ...
LOW_LR_RATIO = 1e-5       # ... and no layer's update/weight ratio reached 1e-5 (healthy: 1e-4 .. 1e-2)
VANISH_RATIO = 1e-3       # first layers' gradient RMS three orders of magnitude below the last layers'
EXPLODE_RATIO = 1e3       # ... or three orders above
LAYER_SAMPLES = 3         # sampled steps a per-layer rule needs before it may fire
SPIKE = 100.0             # a gradient norm 100x the median of the steps before it
SPIKE_HISTORY = 10        # steps of history a spike is measured against
SPIKE_COUNT = 2           # spikes needed: one can be an unlucky batch
DEAD_FRACTION = 0.5       # half a ReLU layer's units never active over the window
SATURATED_FRACTION = 0.5  # half of a tanh/sigmoid layer's outputs within 0.01 of its bounds
ACT_SAMPLES = 2           # activation samples (after the dead-unit window filled) a rule needs
OVERFIT_RISE = 0.1        # validation loss 10 % above its best ...
OVERFIT_PATIENCE = 3      # ... for the last 3 epochs (2 lets a 1,000-sample val set's noise through) ...
OVERFIT_TRAIN_DROP = 0.1  # ... while the training loss fell by 10 % or more since the best epoch
PLATEAU_MIN_STEPS = 200   # a plateau needs a run this long ...
PLATEAU_SPAN = 0.4        # ... flat over its last 40 % (at least PLATEAU_MIN_STEPS / 2 steps)
PLATEAU_GAIN = 0.03       # "flat": the mean loss improved by less than 3 % over that span ...
PLATEAU_RATIO = 0.02      # ... while some layer's weights still move 2 % per step: the steps are too large to
                          # settle (healthy: 1e-3; Karpathy's rule of thumb), the loss bounces on a noise floor
OSC_SWING = 0.3           # a swing: the epoch loss rises 30 % above its last low and falls as far back
OSC_PEAKS = 2             # swings needed: one can be an unlucky epoch (healthy epochs move a few %)
OSC_MIN_EPOCHS = 5        # epochs needed to judge
UNDERFIT_MIN_EPOCHS = 4   # epochs before underfitting can be judged (at the end of training)
UNDERFIT_LEVEL = 0.5      # training loss still above half its starting value ...
UNDERFIT_RATE = 0.02      # ... improving less than 2 % per epoch over the last 3 epochs (still learning: more) ...
UNDERFIT_GAP = 0.2        # ... and validation within 20 % of training: not a generalisation problem


@dataclass
class Diagnosis:
    """One finding: what, since when, how bad, the evidence in numbers and words, and what to do."""

    code: str
    title: str
    severity: str
    step: int | None
    epoch: int | None
    evidence: str
    suggestion: str
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Diagnosis":
        return cls(**{k: d.get(k) for k in ("code", "title", "severity", "step", "epoch", "evidence",
                                             "suggestion")}, values=d.get("values") or {})

    def format(self) -> str:
        """Three lines for a terminal: severity, title and where; the evidence; the suggestion."""
        where = []
        if self.step is not None:
            where.append(f"step {self.step}")
        if self.epoch is not None:
            where.append(f"epoch {self.epoch + 1}")
        at = f" (since {', '.join(where)})" if where else ""
        return f"[{self.severity}] {self.title}{at}\n    {self.evidence}\n    -> {self.suggestion}"


class History:
    """What the rules read: per-step scalars, epoch logs, sampled layer/activation records and events.

    It is filled live by the doctor's monitors or rebuilt from a run's metrics.jsonl (`from_records`).
    """

    def __init__(self) -> None:
        self.step: list[int] = []
        self.epoch: list[int] = []
        self.loss: list[float] = []
        self.lr: list[float] = []
        self.grad_norm: list[float] = []
        self.epochs: list[dict] = []       # the trainer's epoch logs
        self.layers: list[dict] = []       # {"step", "layers": {name: {"grad_norm", "weight_norm", ...}}}
        self.activations: list[dict] = []  # {"step", "layers": {name: {"type", "mean", "std", "dead", ...}}}
        self.events: list[dict] = []       # {"event": "nan" | "rollback", "step", ...}
        self.finished = False              # set at the end of training: end-of-run rules may judge
        self._arrays: dict[str, tuple[np.ndarray, int]] = {}  # name -> (buffer, values in it)
        self._tables: dict[str, tuple] = {}
        self._memo: dict = {}  # results of scans over data that only grows (see _spikes, _depth_ratio)

    def add_step(self, logs: dict) -> None:
        get = logs.get
        self.step.append(logs["step"])
        self.epoch.append(get("epoch", 0))
        loss, lr, grad = get("loss"), get("lr"), get("grad_norm")
        self.loss.append(math.nan if loss is None else float(loss))
        self.lr.append(math.nan if lr is None else float(lr))
        self.grad_norm.append(math.nan if grad is None else float(grad))

    def add(self, record: dict) -> None:
        """Add one metrics.jsonl record (kinds step, epoch, layers, activations, doctor; others ignored)."""
        kind = record.get("kind")
        if kind == "step":
            self.add_step(record)
        elif kind == "epoch":
            self.epochs.append(record)
        elif kind == "layers":
            self.layers.append(record)
        elif kind == "activations":
            self.activations.append(record)
        elif kind == "doctor":
            self.events.append(record)

    @classmethod
    def from_records(cls, records: Iterable[dict]) -> "History":
        h = cls()
        for r in records:
            h.add(r)
        return h

    def array(self, name: str) -> np.ndarray:
        """One per-step series ("loss", "lr", "grad_norm", "step") as a float64 array (a read-only view).

        The series only grows, so a buffer with room to spare takes just the values added since the last
        call: converting the whole list every check made each check O(steps) and a long run O(steps²)."""
        values = getattr(self, name)
        n = len(values)
        buf, done = self._arrays.get(name, (None, 0))
        if buf is None or done > n:  # first use, or the list was cut back: start over
            buf, done = np.empty(max(2 * n, 1024)), 0
        elif n > len(buf):
            grown = np.empty(2 * n)
            grown[:done] = buf[:done]
            buf = grown
        if n > done:
            buf[done:n] = values[done:n]
            self._arrays[name] = (buf, n)
        view = buf[:n]
        view.flags.writeable = False
        return view

    def table(self, key: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(weight-layer names, steps, array [records, layers] of `key`) from the layer records; new records
        are added to a cache, so a check costs little however long the run."""
        names, steps, rows, done, arrays = self._tables.get(key, ([], [], [], 0, None))
        recs = self.layers
        if arrays is None or done < len(recs):
            latest = [n for n, st in recs[-1].get("layers", {}).items()
                      if st.get("weight") and key in st] if recs else []
            if latest != names:
                names, steps, rows, done = latest, [], [], 0
            for r in recs[done:]:
                if r.get("layers"):
                    steps.append(r.get("step", 0))
                    rows.append([_float(r["layers"].get(n, {}).get(key)) for n in names])
            arrays = (np.asarray(steps), np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names)))
            self._tables[key] = (names, steps, rows, len(recs), arrays)
        return names, arrays[0], arrays[1]

    def event(self, name: str) -> dict | None:
        """The first event named `name`, or None."""
        return next((e for e in self.events if e.get("event") == name), None)

    def epoch_at(self, i: int) -> int | None:
        return self.epoch[i] if 0 <= i < len(self.epoch) else None


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _rolling_median(x: np.ndarray, w: int) -> np.ndarray:
    """Median of each window of w consecutive values; entry j covers x[j : j + w]."""
    if len(x) < w:
        return np.empty(0)
    return np.median(sliding_window_view(x, w), axis=1)


def _rolling_min(x: np.ndarray, w: int) -> np.ndarray:
    """Minimum of each window of w consecutive values; entry j covers x[j : j + w]."""
    if len(x) < w:
        return np.empty(0)
    return np.min(sliding_window_view(x, w), axis=1)


def _first_nonfinite(x: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(x))
    return int(bad[0]) if bad.size else None


def _fmt(v: float) -> str:
    """A number as a person would write it: 0.0123, 4.56, 1.2e-07, 3.4e+05."""
    if v is None or not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.2g}" if abs(v) < 1e-3 else f"{v:.3g}"
    return f"{v:.4g}"


def _med(a: np.ndarray) -> float:
    """Median of a few values (np.median costs more than the sort for a handful)."""
    v = sorted(float(x) for x in a)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _loss_start(loss: np.ndarray) -> float:
    """The loss the run started from: the median of its first steps (the first alone is one noisy batch)."""
    return _med(loss[:SMOOTH])


# --- the rules ------------------------------------------------------------------------------------------------
def divergence(h: History, found: dict) -> Diagnosis | None:
    """The loss climbed far above both its best and its start, or turned non-finite after doing so."""
    loss = h.array("loss")
    k, _ = _trouble(h)
    finite = loss[:k] if k is not None else loss
    # The smallest loss of each SMOOTH consecutive steps: a divergence keeps the loss high, while a few
    # outlier batches (spikes) leave low values between them.
    m = _rolling_min(finite, SMOOTH)
    if m.size:
        # The first loss is measured before any update: the reference for "where it started", also when
        # the very first steps already blew up.
        start = float(finite[0])
        best = np.minimum(np.minimum.accumulate(m), start)
        up = np.flatnonzero((m > DIVERGE_RISE * best) & (m > DIVERGE_ABOVE_START * start))
        if up.size:
            j = int(up[0])
            jb = int(np.argmin(m[: j + 1]))
            if m[jb] < start:
                return _divergence(h, jb + SMOOTH, float(m[jb]), float(m[j]), j + SMOOTH - 1, k)
            return _divergence(h, 1, start, float(m[j]), j + SMOOTH - 1, k)
    if k is None or k == 0:
        return None
    # The loss went non-finite without a visible climb: a divergence only if the gradient or the weights
    # blew up first; otherwise it is a numerical problem in one op (the `nan` rule).
    g = h.array("grad_norm")[:k]
    g = g[np.isfinite(g)]
    early = float(np.median(g[: max(SMOOTH, k // 2)])) if g.size else float("nan")
    late = float(np.max(g[-SMOOTH:])) if g.size else float("nan")
    ev = h.event("nan") or {}
    w0, w1 = ev.get("weight_norm_start"), ev.get("weight_norm")
    grew = w0 is not None and w1 is not None and w0 > 0 and w1 > WEIGHT_BLOWUP * w0
    if (g.size and late > GRAD_BLOWUP * early) or grew:
        best = float(np.min(finite)) if finite.size else float("nan")
        return _divergence(h, k, best, float("nan"), k, k)
    return None


def _divergence(h: History, begin: int, best: float, peak: float, at: int, k: int | None) -> Diagnosis:
    begin = min(begin, len(h.step) - 1)
    lr = h.lr[begin] if begin < len(h.lr) else float("nan")
    parts = [f"the loss rose from its best {_fmt(best)} to {_fmt(peak)} by step {h.step[at]}"
             if math.isfinite(peak) else f"the loss was {_fmt(best)} at best"]
    if k is not None:
        parts.append(f"{_trouble(h)[1].replace('the ', '', 1)} at step {h.step[k]}")
        ev = h.event("nan")
        if ev and ev.get("op"):
            parts.append(f"first non-finite value from {ev['op']} in {ev.get('module', '?')}")
    g = [v for v in h.grad_norm[: at + 1] if math.isfinite(v)]
    if g:
        parts.append(f"gradient norm up to {_fmt(max(g))}")
    return Diagnosis(
        "divergence", "Training diverged: the learning rate is too high", "error", h.step[begin],
        h.epoch_at(begin), "; ".join(parts) + f"; lr {_fmt(lr)}.",
        f"Lower the learning rate (try {_fmt(lr / 10)} or run `descend lr-find`), add a warm-up, or clip "
        f"gradients (--clip-grad 1.0); `--on-divergence rollback` recovers automatically.",
        {"best_loss": best, "peak_loss": peak, "lr": lr, "nonfinite_step": h.step[k] if k is not None else None})


_NAN_HINTS = {
    "Exp": "exp overflows above ~88 in float32: use log_softmax / cross_entropy (log-sum-exp) instead of "
           "exp then log, or clamp the input",
    "Log": "log of zero or a negative number: use log_softmax / BCEWithLogitsLoss, or add an epsilon "
           "(x.clamp(min=1e-12).log())",
    "Div": "division by zero: add an epsilon to the denominator",
    "Sqrt": "square root of a negative number (or of 0 in backward): clamp the input, add an epsilon",
    "Pow": "a power of a negative base or an overflow: clamp the base, lower exponents",
    "MatMul": "values too large for the dtype: normalise the inputs, lower the learning rate",
}


def _trouble(h: History) -> tuple[int | None, str]:
    """(index of the first step whose loss or gradient was non-finite or whose forward made NaN/inf, what)."""
    loss, grad = h.array("loss"), h.array("grad_norm")
    cands = []
    k = _first_nonfinite(loss)
    if k is not None:
        cands.append((k, 1, f"the loss became {_fmt(h.loss[k])}"))
    g = np.flatnonzero(np.isnan(grad) & np.isfinite(loss))  # inf alone is an overflow: exploding_gradients
    if g.size:
        cands.append((int(g[0]), 2, f"the gradient became NaN (loss {_fmt(h.loss[int(g[0])])})"))
    ev = h.event("nan")
    if ev is not None and ev.get("where") != "weights" and ev.get("step") in h.step:
        i = h.step.index(ev["step"])
        cands.append((i, 0, f"the model's output became {ev.get('value', 'NaN/inf')}"))
    if not cands:
        return None, ""
    first = min(cands)  # the earliest step; at a tie, the forward before the loss before the gradient
    return first[0], first[2]


def nan(h: History, found: dict) -> Diagnosis | None:
    """NaN/inf appeared without a preceding divergence or overflow: name the op that made the first one."""
    if "divergence" in found or "exploding_gradients" in found:
        return None
    k, what = _trouble(h)
    if k is None:
        return None
    ev = h.event("nan") or {}
    at = f"{what} at step {h.step[k]}"
    if ev.get("op"):
        ins = ", ".join(str(tuple(s)) for s in ev.get("in_shapes", []))
        evidence = (f"{at}; the first non-finite value came from {ev['op']} in {ev.get('module', '?')} "
                    f"(inputs {ins} -> output {tuple(ev.get('out_shape', ()))}, {ev.get('value')}) at "
                    f"{ev.get('source')}.")
        hint = _NAN_HINTS.get(ev["op"], "guard this op's input range (clamp, add an epsilon) or compute it "
                                        "in a numerically stable form")
        suggestion = f"Fix {ev['op']} at {ev.get('source')}: {hint}."
    elif ev.get("where") == "input":
        evidence = f"{at}; the input batch itself contains NaN or inf."
        suggestion = "Clean the data: find the rows with NaN/inf (np.isfinite) and drop or impute them."
    else:
        where = " in the backward pass (the forward was finite)" if "gradient" in what else ""
        detail = f" ({ev['detail']})" if ev.get("detail") else ""
        evidence = (f"{at}{where}; the op that made the first non-finite value could not be named by "
                    f"re-running the batch{detail}.")
        suggestion = ("Check the loss function and custom ops for log(0), 0/0, sqrt(0) in backward and "
                      "overflow; re-run a failing batch under `with descend.tensor.detect_anomaly():`.")
    values = {k2: ev.get(k2) for k2 in ("op", "module", "value", "in_shapes", "out_shape", "source", "where")
              if k2 in ev}
    return Diagnosis("nan", "NaN/inf during training", "error", h.step[k], h.epoch_at(k), evidence,
                     suggestion, values)


def _spikes(h: History, g: np.ndarray, n: int) -> list[int]:
    """Indices i < n where g[i] > SPIKE x the median of the SPIKE_HISTORY values before it. Steps already
    scanned are remembered on the history, so a check scans only the new ones."""
    done, found = h._memo.get("spikes", (SPIKE_HISTORY, []))
    if n > done:
        ref = np.median(sliding_window_view(g[done - SPIKE_HISTORY: n - 1], SPIKE_HISTORY), axis=1)
        cur = g[done:n]
        with np.errstate(invalid="ignore"):
            new = np.flatnonzero(np.isfinite(cur) & (ref > 0) & (cur > SPIKE * ref))
        found = found + [int(i) + done for i in new]
        h._memo["spikes"] = (n, found)
    return found


def _depth_ratio(h: History) -> tuple[float, list[str], np.ndarray, int] | None:
    """Median over recent samples of (first quarter's gradient RMS) / (last quarter's), with its layers
    (computed once per new layer record: two rules ask)."""
    key = ("depth", len(h.layers))
    if key not in h._memo:
        h._memo[key] = _depth_ratio_now(h)
    return h._memo[key]


def _depth_ratio_now(h: History) -> tuple[float, list[str], np.ndarray, int] | None:
    names, _, rms = h.table("grad_rms")
    if len(names) < 3 or rms.shape[0] < LAYER_SAMPLES:
        return None
    q = max(1, len(names) // 4)
    recent = rms[-LAYER_SAMPLES:]
    first = np.median(recent[:, :q], axis=1)
    last = np.median(recent[:, -q:], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = first / last
    ratio = sorted(ratio[np.isfinite(ratio)].tolist())
    if len(ratio) < LAYER_SAMPLES:
        return None
    return ratio[len(ratio) // 2], names, recent, q


def _blocked(h: History) -> bool:
    """Whether the latest activation sample shows a layer dead or saturated enough to block the gradient,
    even before the dead-unit window has filled (the dead_relus or saturated_units rule will say so)."""
    if not h.activations:
        return False
    for s in h.activations[-1].get("layers", {}).values():
        if s.get("output"):
            continue
        if s.get("type") == "ReLU" and (s.get("dead") if s.get("dead") is not None else
                                        1 - s.get("active", 1)) >= DEAD_FRACTION:
            return True
        if (s.get("saturated") or 0) >= SATURATED_FRACTION:
            return True
    return False


def vanishing_gradients(h: History, found: dict) -> Diagnosis | None:
    """The first layers' gradients are orders of magnitude smaller than the last layers'."""
    if found.keys() & {"divergence", "nan", "dead_relus", "saturated_units"} or _blocked(h):
        return None  # a dead or saturated layer blocks the gradient: that diagnosis is the cause
    r = _depth_ratio(h)
    if r is None or not 0 < r[0] < VANISH_RATIO:
        return None  # exactly 0 is a blocked path (dead units, detached graph), not a vanishing one
    ratio, names, recent, q = r
    i = len(h.layers) - LAYER_SAMPLES
    first, last = names[0], names[-1]
    g = np.median(recent, axis=0)
    return Diagnosis(
        "vanishing_gradients", "Vanishing gradients in the first layers", "warning", h.layers[i]["step"],
        _rec_epoch(h, h.layers[i]),
        f"gradient RMS of the first layers is {_fmt(ratio)}x that of the last ({first}: {_fmt(g[0])}, "
        f"{last}: {_fmt(g[-1])}) over {len(names)} layers; the first layers barely learn.",
        "Use ReLU/GELU instead of sigmoid/tanh in deep stacks, He (kaiming) initialisation, normalisation "
        "layers (BatchNorm/LayerNorm) or residual connections; or make the network shallower.",
        {"ratio": ratio, "layers": dict(zip(names, [float(v) for v in g]))})


def exploding_gradients(h: History, found: dict) -> Diagnosis | None:
    """Gradient norms overflow, spike far above their recent level, or grow by orders of magnitude with depth."""
    if found.keys() & {"divergence", "nan"}:
        return None
    loss, g = h.array("loss"), h.array("grad_norm")
    # Overflow: the gradient norm is infinite although the loss was finite (a NaN is the `nan` rule's).
    bad = np.flatnonzero(np.isinf(g) & np.isfinite(loss))
    k, _ = _trouble(h)
    if bad.size and (k is None or bad[0] <= k):
        i = int(bad[0])
        return Diagnosis(
            "exploding_gradients", "Exploding gradients: the gradient overflowed", "error", h.step[i],
            h.epoch_at(i), f"the gradient norm became {_fmt(g[i])} at step {h.step[i]} while the loss was "
            f"finite ({_fmt(loss[i])}): the backward pass overflowed.",
            "Clip gradients (--clip-grad 1.0), lower the learning rate, and check the initialisation scale "
            "(kaiming/xavier) and normalisation layers.", {"step": h.step[i]})
    # Spikes: a norm SPIKE times the median of the steps before it (judged once the loss had a chance to
    # show a divergence instead, SMOOTH steps later).
    spikes = _spikes(h, g, len(g) - SMOOTH)
    if len(spikes) >= SPIKE_COUNT:
        i = spikes[0]
        top = max(spikes, key=lambda j: g[j])
        return Diagnosis(
            "exploding_gradients", "Exploding gradients: the gradient norm spikes", "warning", h.step[i],
            h.epoch_at(i), f"{len(spikes)} steps had a gradient norm over {_fmt(SPIKE)}x the median of the "
            f"{SPIKE_HISTORY} steps before (largest {_fmt(g[top])} at step {h.step[top]}).",
            "Clip gradients (--clip-grad 1.0); check for outliers in the data and for layers without "
            "normalisation.", {"spikes": [h.step[j] for j in spikes[:20]]})
    r = _depth_ratio(h)
    if r is not None and r[0] > EXPLODE_RATIO:
        ratio, names, recent, q = r
        i = len(h.layers) - LAYER_SAMPLES
        gm = np.median(recent, axis=0)
        return Diagnosis(
            "exploding_gradients", "Exploding gradients in the first layers", "warning", h.layers[i]["step"],
            _rec_epoch(h, h.layers[i]),
            f"gradient RMS of the first layers is {_fmt(ratio)}x that of the last ({names[0]}: "
            f"{_fmt(gm[0])}, {names[-1]}: {_fmt(gm[-1])}): the gradient grows layer by layer.",
            "Add residual connections or use fewer layers (BatchNorm alone does not stop this in deep "
            "plain stacks), scale the initialisation down, and clip gradients (--clip-grad 1.0).",
            {"ratio": ratio, "layers": dict(zip(names, map(float, gm)))})
    return None


def _rec_epoch(h: History, rec: dict) -> int | None:
    if "epoch" in rec:
        return rec["epoch"]
    if rec.get("step") in h.step:
        return h.epoch[h.step.index(rec["step"])]
    return None


def _act_table(h: History, key: str, types: tuple[str, ...]) -> tuple[list[str], np.ndarray, int]:
    """(layer names, [samples, layers] of `key`, index of the first sample used) for activation layers."""
    recs = [r for r in h.activations if r.get("layers")]
    recs = recs[-ACT_SAMPLES:]
    if len(recs) < ACT_SAMPLES:
        return [], np.empty((0, 0)), 0
    names = [n for n, s in recs[-1]["layers"].items()
             if s.get("type") in types and s.get(key) is not None and not s.get("output")]
    rows = [[_float(r["layers"].get(n, {}).get(key)) for n in names] for r in recs]
    return names, np.asarray(rows).reshape(len(recs), len(names)), len(h.activations) - ACT_SAMPLES


def dead_relus(h: History, found: dict) -> Diagnosis | None:
    """Half or more of a ReLU layer's units gave 0 for every sample in the window, on recent samples."""
    if found.keys() & {"divergence", "nan"}:
        return None
    names, dead, first = _act_table(h, "dead", ("ReLU",))
    if not names:
        return None
    low = dead.min(axis=0)  # the smallest dead fraction over recent samples: persistently dead
    worst = [(n, float(v)) for n, v in zip(names, low) if v >= DEAD_FRACTION]
    if not worst:
        return None
    rec = h.activations[first]
    desc = ", ".join(f"{n}: {100 * v:.0f}%" for n, v in sorted(worst, key=lambda t: -t[1]))
    window = rec["layers"][worst[0][0]].get("window")
    over = f" over the last {window} samples" if window else ""
    return Diagnosis(
        "dead_relus", "Dead ReLUs", "warning", rec["step"], _rec_epoch(h, rec),
        f"units that never activate{over}: {desc}. They get no gradient and cannot recover.",
        "Initialise biases at 0 (or slightly positive), lower the learning rate, use LeakyReLU/GELU, or add "
        "BatchNorm before the ReLU.", {"dead": dict(worst)})


def saturated_units(h: History, found: dict) -> Diagnosis | None:
    """Half or more of a tanh/sigmoid layer's outputs sit at its bounds, where the derivative is ~0."""
    if found.keys() & {"divergence", "nan"}:
        return None
    names, sat, first = _act_table(h, "saturated", ("Tanh", "Sigmoid"))
    if not names:
        return None
    low = sat.min(axis=0)
    worst = [(n, float(v)) for n, v in zip(names, low) if v >= SATURATED_FRACTION]
    if not worst:
        return None
    rec = h.activations[first]
    desc = ", ".join(f"{n}: {100 * v:.0f}%" for n, v in sorted(worst, key=lambda t: -t[1]))
    return Diagnosis(
        "saturated_units", "Saturated tanh/sigmoid units", "warning", rec["step"], _rec_epoch(h, rec),
        f"outputs within 0.01 of the bounds (tanh |y| > 0.99, sigmoid y < 0.01 or > 0.99): {desc}. Their "
        "gradient is nearly 0.",
        "Scale the inputs (standardise), use a smaller initialisation (xavier), add normalisation before "
        "the activation, or use ReLU/GELU.", {"saturated": dict(worst)})


def lr_too_low(h: History, found: dict) -> Diagnosis | None:
    """After LOW_LR_MIN_STEPS steps the loss has barely moved and no layer's weights change noticeably."""
    if found.keys() & {"divergence", "nan", "dead_relus", "saturated_units", "vanishing_gradients"}:
        return None
    loss = h.array("loss")
    if len(loss) < LOW_LR_MIN_STEPS or not np.isfinite(loss).all():
        return None
    _, _, ratio = h.table("update_ratio")
    if ratio.shape[0] < LAYER_SAMPLES or ratio.shape[1] == 0:
        return None
    start = _loss_start(loss)
    now = _med(loss[-SMOOTH:])
    moved = abs(start - now) / max(abs(start), 1e-12)
    top = float(np.nanmax(ratio))
    if moved >= LOW_LR_MOVE or not top < LOW_LR_RATIO:
        return None
    lr = h.lr[-1]
    return Diagnosis(
        "lr_too_low", "Learning rate too low: the loss barely moves", "warning", h.step[0], h.epoch_at(0),
        f"after {len(loss)} steps the loss moved {100 * moved:.2f}% ({_fmt(start)} -> {_fmt(now)}); the "
        f"largest update/weight ratio of any layer is {_fmt(top)} (healthy: about 1e-3); lr {_fmt(lr)}.",
        f"Raise the learning rate (try {_fmt(lr * 100)}, or run `descend lr-find` to pick one).",
        {"moved": moved, "max_update_ratio": top, "lr": lr})


def _swings(v: np.ndarray) -> list[int]:
    """Epochs where the series completed an up-and-down swing: it rose 1 + OSC_SWING times above its last
    low, then fell as far below that high (a zig-zag with hysteresis: slow waves count, noise does not)."""
    f = 1 + OSC_SWING
    swings, low, high, rising_at = [], v[0], None, None
    for i, x in enumerate(v[1:], 1):
        if high is None:
            low = min(low, x)
            if x > f * low:
                high, rising_at = x, i
        elif x > high:
            high, rising_at = x, i
        elif x < high / f:
            swings.append(rising_at)
            low, high = x, None
    return swings


def oscillation(h: History, found: dict) -> Diagnosis | None:
    """The epoch loss (validation, else training) jumps up and back down again, repeatedly."""
    if found.keys() & {"divergence", "nan", "exploding_gradients"}:
        return None
    for key in ("val_loss", "train_loss"):
        ep = [e for e in h.epochs if e.get(key) is not None]
        if len(ep) < OSC_MIN_EPOCHS:
            continue
        v = np.asarray([e[key] for e in ep], dtype=np.float64)
        if not np.isfinite(v).all():
            return None
        peaks = _swings(v)
        if len(peaks) < OSC_PEAKS:
            continue
        lrs = [e.get("lr") for e in ep]
        if any(a != b for a, b in zip(lrs, lrs[1:]) if a is not None and b is not None):
            # A schedule that moves the LR (cyclic, restarts) makes the loss move with it, on purpose.
            cyclic = max(lrs) > 2 * min(lrs) and any(b > a for a, b in zip(lrs, lrs[1:]))
            if cyclic:
                return None
        first = ep[peaks[0]]
        where = "validation" if key == "val_loss" else "training"
        desc = ", ".join(f"epoch {ep[i]['epoch'] + 1}: {_fmt(v[i])}" for i in peaks[:4])
        lr = h.lr[-1] if h.lr else first.get("lr", float("nan"))
        return Diagnosis(
            "oscillation", f"The {where} loss oscillates", "warning", first["step"], first["epoch"],
            f"the {where} loss rose more than {100 * OSC_SWING:.0f}% above its last low and fell back "
            f"{len(peaks)} times (peaks at {desc}; lowest {_fmt(float(v.min()))}); lr {_fmt(lr)}.",
            "Lower the learning rate or the momentum (e.g. 0.9 instead of 0.99), add a decaying schedule "
            "(cosine), or use a larger batch; keep the best checkpoint meanwhile.",
            {"peaks": [ep[i]["epoch"] for i in peaks], "series": key, "lr": lr})
    return None


def plateau(h: History, found: dict) -> Diagnosis | None:
    """The loss has stopped improving for a long stretch while the weights still take large steps."""
    if found.keys() & {"divergence", "nan", "lr_too_low", "oscillation", "vanishing_gradients", "dead_relus",
                       "saturated_units", "exploding_gradients"}:
        return None
    loss = h.array("loss")
    n = len(loss)
    if n < PLATEAU_MIN_STEPS or not np.isfinite(loss).all():
        return None
    span = max(int(PLATEAU_SPAN * n), PLATEAU_MIN_STEPS // 2)
    # Mean loss of the span's first quarter against its last quarter: minibatch noise averages out.
    q = span // 4
    a = float(np.mean(loss[n - span: n - span + q]))
    b = float(np.mean(loss[n - q:]))
    gain = (a - b) / max(abs(a), 1e-12)
    lr = h.array("lr")[-span:]
    if gain >= PLATEAU_GAIN or not np.allclose(lr, lr[0], rtol=1e-6):
        return None
    i0 = n - span
    _, steps, table = h.table("update_ratio")
    recent = table[steps >= h.step[i0]] if table.size else table
    ratio = float(np.median(np.nanmax(recent, axis=1))) if len(recent) >= LAYER_SAMPLES else float("nan")
    if not ratio >= PLATEAU_RATIO:
        return None
    start = _loss_start(loss)
    return Diagnosis(
        "plateau", "The loss has plateaued: the steps are too large to settle", "warning", h.step[i0],
        h.epoch_at(i0),
        f"over the last {span} steps the mean loss improved {100 * gain:.1f}% (it stays near {_fmt(b)}, "
        f"from {_fmt(start)} at the start) at a constant lr {_fmt(float(lr[0]))}, while the weights still "
        f"change by {100 * ratio:.1f}% per step (median of the largest layer's update/weight ratio; healthy "
        "about 0.1%).",
        f"Decay the learning rate (--schedule cosine, or plateau), or lower it to about {_fmt(float(lr[0]) / 10)}.",
        {"gain": gain, "level": b, "lr": float(lr[0]), "update_ratio": ratio})


def overfitting(h: History, found: dict) -> Diagnosis | None:
    """Validation loss rose well above its best for several epochs while the training loss kept falling."""
    if found.keys() & {"divergence", "nan", "oscillation"}:
        return None
    ep = [e for e in h.epochs if e.get("val_loss") is not None and e.get("train_loss") is not None]
    if len(ep) < OVERFIT_PATIENCE + 1:
        return None
    val = np.asarray([e["val_loss"] for e in ep], dtype=np.float64)
    train = np.asarray([e["train_loss"] for e in ep], dtype=np.float64)
    if not (np.isfinite(val).all() and np.isfinite(train).all()):
        return None
    for e in range(OVERFIT_PATIENCE, len(ep)):
        b = int(np.argmin(val[: e + 1]))
        recent = val[e - OVERFIT_PATIENCE + 1: e + 1]
        # ... and the training loss is near its lowest: were it swinging too, this would be oscillation.
        if e - b >= OVERFIT_PATIENCE and (recent > (1 + OVERFIT_RISE) * val[b]).all() \
                and train[e] < (1 - OVERFIT_TRAIN_DROP) * train[b] \
                and train[e] <= (1 + OVERFIT_RISE) * train[: e + 1].min():
            best = ep[b]
            acc = ""
            if best.get("val_acc") is not None:
                acc = f" (val acc {100 * best['val_acc']:.1f}% at the best epoch)"
            return Diagnosis(
                "overfitting", "Overfitting", "warning", ep[b + 1]["step"], ep[b + 1]["epoch"],
                f"validation loss rose from its best {_fmt(val[b])} at epoch {best['epoch'] + 1}{acc} to "
                f"{_fmt(val[e])} at epoch {ep[e]['epoch'] + 1}, while the training loss fell from "
                f"{_fmt(train[b])} to {_fmt(train[e])}.",
                f"Keep the weights of epoch {best['epoch'] + 1} (the best checkpoint) or stop early "
                "(early_stopping); add data or augmentation, weight decay or dropout, or use a smaller model.",
                {"best_epoch": best["epoch"], "best_val_loss": float(val[b]), "val_loss": float(val[e]),
                 "train_loss": float(train[e])})
    return None


def underfitting(h: History, found: dict) -> Diagnosis | None:
    """At the end: the training loss is still high, no longer improving, and validation is no better."""
    if not h.finished or any(d.severity != "info" for d in found.values()):
        return None  # underfitting is the diagnosis of last resort, when nothing else explains it
    ep = [e for e in h.epochs if e.get("train_loss") is not None]
    loss = h.array("loss")
    if len(ep) < UNDERFIT_MIN_EPOCHS or len(loss) < SMOOTH or not np.isfinite(loss).all():
        return None
    start = _loss_start(loss)
    t = [float(e["train_loss"]) for e in ep]
    level = t[-1] / max(abs(start), 1e-12)
    rate = (t[-4] - t[-1]) / (3 * max(abs(t[-4]), 1e-12))
    v = ep[-1].get("val_loss")
    gap_ok = v is None or v <= (1 + UNDERFIT_GAP) * t[-1]
    if level < UNDERFIT_LEVEL or rate >= UNDERFIT_RATE or not gap_ok:
        return None
    acc = ""
    if ep[-1].get("train_acc") is not None:
        acc = f" (train acc {100 * ep[-1]['train_acc']:.1f}%" + (
            f", val acc {100 * ep[-1]['val_acc']:.1f}%)" if ep[-1].get("val_acc") is not None else ")")
    val = f", validation {_fmt(v)}" if v is not None else ""
    return Diagnosis(
        "underfitting", "Underfitting: the model does not fit the training data", "warning", ep[-1]["step"],
        ep[-1]["epoch"],
        f"after {len(ep)} epochs the training loss is {_fmt(t[-1])}, {100 * level:.0f}% of its start "
        f"{_fmt(start)}{val}{acc}, and improved {100 * rate:.1f}% per epoch over the last 3.",
        "Use a bigger model (wider or deeper), less regularisation (weight decay, dropout), better input "
        "features or normalisation; or train longer with a higher learning rate.",
        {"level": level, "rate": rate, "train_loss": t[-1], "val_loss": v})


# Order matters: causes come before the consequences they suppress.
RULES: tuple[Callable[[History, dict], Diagnosis | None], ...] = (
    divergence, exploding_gradients, nan, dead_relus, saturated_units, vanishing_gradients, lr_too_low,
    oscillation, plateau, overfitting, underfitting,
)
CODES = tuple(r.__name__ for r in RULES)
# The rules that read only the epoch logs: cheap, applied at every epoch end.
EPOCH_RULES = (oscillation, overfitting, underfitting)
# The rules a regular check applies: divergence and nan can only hold after a step that the doctor checks
# at once anyway (a non-finite loss or gradient, a loss above DIVERGE_ABOVE_START x the first, an event).
PERIODIC_RULES = tuple(r for r in RULES if r not in EPOCH_RULES and r not in (divergence, nan))


def run_rules(h: History, found: dict | None = None, rules: Iterable | None = None) -> list[Diagnosis]:
    """Evaluate the rules (default: all) not yet in `found` (code -> Diagnosis), in order; returns the new
    diagnoses."""
    found = dict(found or {})
    new = []
    for rule in RULES if rules is None else rules:
        if rule.__name__ in found:
            continue
        d = rule(h, found)
        if d is not None:
            found[d.code] = d
            new.append(d)
    return new
