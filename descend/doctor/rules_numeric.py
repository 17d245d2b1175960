"""Rules for runs that blow up: divergence (the loss climbs away) and NaN/inf from one operation."""

from __future__ import annotations

import math

import numpy as np

from descend.doctor.history import Diagnosis, History, _first_nonfinite, _fmt, _rolling_min, confidence
from descend.doctor.thresholds import DIVERGE_ABOVE_START, DIVERGE_RISE, GRAD_BLOWUP, SMOOTH, WEIGHT_BLOWUP


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
        {"best_loss": best, "peak_loss": peak, "lr": lr, "nonfinite_step": h.step[k] if k is not None else None},
        0.99 if not math.isfinite(peak) or k is not None else confidence(peak / best, DIVERGE_RISE, 10.0))


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


def _first_bad(h: History) -> tuple[int | None, int | None]:
    """(first non-finite loss, first NaN gradient with a finite loss), scanning only the steps added since
    the last call (several rules ask at every check)."""
    loss, grad = h.array("loss"), h.array("grad_norm")
    n = len(loss)
    done, k, g = h._memo.get("bad", (0, None, None))
    if done > n:  # the history was cut back: start over
        done, k, g = 0, None, None
    if n > done:
        if k is None:
            k = _first_nonfinite(loss[done:])
            k = None if k is None else k + done
        if g is None:
            with np.errstate(invalid="ignore"):
                hit = np.flatnonzero(np.isnan(grad[done:]) & np.isfinite(loss[done:]))
            g = int(hit[0]) + done if hit.size else None
        h._memo["bad"] = (n, k, g)
    return k, g


def _trouble(h: History) -> tuple[int | None, str]:
    """(index of the first step whose loss or gradient was non-finite or whose forward made NaN/inf, what)."""
    cands = []
    k, g = _first_bad(h)
    if k is not None:
        cands.append((k, 1, f"the loss became {_fmt(h.loss[k])}"))
    if g is not None:  # inf alone is an overflow: exploding_gradients
        cands.append((g, 2, f"the gradient became NaN (loss {_fmt(h.loss[g])})"))
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
                      "overflow; re-run a failing batch under `with descend.autograd.detect_anomaly():`.")
    values = {k2: ev.get(k2) for k2 in ("op", "module", "value", "in_shapes", "out_shape", "source", "where")
              if k2 in ev}
    return Diagnosis("nan", "NaN/inf during training", "error", h.step[k], h.epoch_at(k), evidence,
                     suggestion, values, 0.99 if ev.get("op") or ev.get("where") == "input" else 0.8)

