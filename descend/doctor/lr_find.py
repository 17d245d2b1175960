"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates"; as fastai's `lr_find`).

Train for `num_iter` steps while the learning rate grows exponentially from `start_lr` to `end_lr`
(lr_i = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))), recording the loss of each batch. The loss is
smoothed exponentially with bias correction, s_i = (beta * a_{i-1} + (1 - beta) * loss_i) / (1 - beta^(i+1))
with beta = 1 - smooth_f (fastai's AvgSmoothLoss). The sweep stops once the smoothed loss exceeds
`diverge_th` times its minimum (or turns NaN): that learning rate is the divergence point.

Two suggestions are computed, as fastai does:
- `lr_steep`: where the smoothed loss falls fastest against log(lr), looked for before the minimum;
- `lr_min`: the learning rate of the minimum smoothed loss, divided by 10.
`suggestion` is the smaller of the two: the steepest point alone can sit on a noisy early dip, and the
minimum / 10 alone can be too timid; the smaller is the safe side of both. The model, optimizer (its
learning rates included), the loader's position and the global random state are restored afterwards.

The divergence point is the earlier of where the sweep stopped and the first LR after the minimum at which
the smoothed loss climbs back above its starting value: from there on, training leaves the model worse than
untrained (a cross-entropy loss often levels off near its untrained value as ReLUs die, far below
diverge_th x its minimum, so the sweep may stop much later or not at all).
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend import backend
from descend.rundir import codec, safe

LEARNED = 0.05  # the smoothed loss must have fallen 5 % below its start before "back above the start" counts


@dataclass
class LRFindResult:
    """The sweep: learning rates, raw and smoothed losses, the suggestion(s) and the divergence point."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    lr_steep: float | None
    lr_min: float | None
    diverged_lr: float | None  # where the sweep stopped, or the loss climbed back above its start (None: never)
    configured_lr: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"lrs": self.lrs, "losses": [_json_float(v) for v in self.losses],
                "smoothed": [_json_float(v) for v in self.smoothed], "suggestion": self.suggestion,
                "lr_steep": self.lr_steep, "lr_min": self.lr_min, "diverged_lr": self.diverged_lr,
                "configured_lr": self.configured_lr, "warnings": self.warnings,
                "method": "min(lr_steep, lr_min); lr_min = argmin(smoothed) / 10"}

    def summary(self) -> str:
        """A few lines for a terminal."""
        lines = [f"lr-find: {len(self.lrs)} steps, lr {self.lrs[0]:.2g} .. {self.lrs[-1]:.2g}"]
        if self.suggestion is not None:
            lines.append(f"  suggested lr: {self.suggestion:.2g} (steepest descent {_g(self.lr_steep)}, "
                         f"minimum / 10 {_g(self.lr_min)})")
        else:
            lines.append("  no suggestion: the loss did not fall during the sweep (raise end_lr or num_iter)")
        lines.append(f"  divergence point: {_g(self.diverged_lr)}" if self.diverged_lr is not None
                     else "  the loss did not diverge up to the end of the sweep")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def write(self, out_dir: str | Path, plot: Callable[[dict, Path], Any] | None = None) -> Path:
        """Write lr_find.json, and lr_find.svg with `plot(result_dict, path)` (descend.report.plot_lr_find;
        the report layer sits above the doctor, so the caller passes it in)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = safe.write_text(out, "lr_find.json", text=json.dumps(self.to_dict(), indent=2) + "\n")
        if plot is not None:
            plot(self.to_dict(), out / "lr_find.svg")
        return path


def _g(v: float | None) -> str:
    return "-" if v is None else f"{v:.2g}"


_json_float = codec.encode_float  # non-finite floats as the strings the run directory uses ("NaN", "Infinity")


def smooth(losses: list[float], smooth_f: float = 0.05) -> list[float]:
    """Exponential moving average with bias correction (fastai's AvgSmoothLoss with beta = 1 - smooth_f)."""
    beta = 1.0 - smooth_f
    avg, out = 0.0, []
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def suggest(lrs: list[float], smoothed: list[float], skip_start: int = 10,
            skip_end: int = 5) -> tuple[float | None, float | None, float | None]:
    """(suggestion, lr_steep, lr_min) from a sweep; see the module docstring for the rule."""
    s = np.asarray(smoothed, dtype=np.float64)
    x = np.log(np.asarray(lrs, dtype=np.float64))
    n = len(s)
    if n < 3 or not np.isfinite(s[0]):
        return None, None, None
    finite = np.isfinite(s)
    i_min = int(np.nanargmin(np.where(finite, s, np.nan)))
    if not s[i_min] < s[0]:
        return None, None, None  # the loss never fell below where it started
    lr_min = float(lrs[i_min] / 10)
    # Steepest descent before the minimum, leaving out the first steps (the average still warms up).
    lo = min(skip_start, max(i_min - 2, 0))
    hi = max(i_min, lo + 2)
    seg = s[lo:hi + 1]
    if len(seg) >= 3:
        grad = np.gradient(seg, x[lo:hi + 1])
        lr_steep = float(lrs[lo + int(np.argmin(grad))])
    else:
        lr_steep = lr_min
    return min(lr_steep, lr_min), lr_steep, lr_min


def lr_find(model: Any, optimizer: Any, loader: Any, loss_fn: Callable, start_lr: float = 1e-7,
            end_lr: float = 10.0, num_iter: int = 100, smooth_f: float = 0.05, diverge_th: float = 5.0,
            out_dir: str | Path | None = None, configured_lr: float | None = None,
            verbose: bool = False, warn: bool = True,
            plot: Callable[[dict, Path], Any] | None = None) -> LRFindResult:
    """Sweep the learning rate exponentially, return the losses and a suggested learning rate.

    The state of the model, the optimizer, the loader (if it has state_dict) and the global RNG is restored
    afterwards. `configured_lr` (default: the optimizer's current lr) is compared with the divergence point
    (`warn`: also as a Python warning). With `out_dir`, lr_find.json is written there, and the chart
    lr_find.svg when `plot` is given (pass descend.report.plot_lr_find).
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if num_iter < 3:
        raise ValueError(f"lr_find: num_iter must be >= 3, got {num_iter}")
    if not 0 < smooth_f <= 1:
        raise ValueError(f"lr_find: smooth_f must be in (0, 1], got {smooth_f}")
    if not diverge_th > 1:
        raise ValueError(f"lr_find: diverge_th must be > 1, got {diverge_th}")
    if configured_lr is None:
        configured_lr = float(optimizer.param_groups[0]["lr"])
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), backend.get_rng_state(),
             loader.state_dict() if hasattr(loader, "state_dict") else None, model.training)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    diverged = None
    ratio = end_lr / start_lr
    try:
        model.train()
        batches = _cycle(loader)
        beta, avg, best = 1.0 - smooth_f, 0.0, math.inf
        for i in range(num_iter):
            lr = start_lr * ratio ** (i / (num_iter - 1))
            for g in optimizer.param_groups:
                g["lr"] = lr
            inputs, targets = next(batches)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            value = float(loss.item())
            if math.isfinite(value):
                loss.backward()
                optimizer.step()
            avg = beta * avg + (1 - beta) * value
            s = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(s)
            if verbose and i % 10 == 0:
                print(f"lr-find: step {i + 1}/{num_iter}  lr {lr:.2e}  loss {s:.4f}")
            if not math.isfinite(s) or (i > 0 and s > diverge_th * best):
                diverged = lr
                break
            best = min(best, s)
    finally:
        model.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
        backend.set_rng_state(saved[2])
        if saved[3] is not None:
            loader.load_state_dict(saved[3])
        model.train(saved[4])
    suggestion, steep, low = suggest(lrs, smoothed)
    back = _climbed_back(lrs, smoothed)
    if back is not None and (diverged is None or back < diverged):
        diverged = back  # the loss was worse than untrained before the sweep's stop criterion fired
    result = LRFindResult(lrs, losses, smoothed, suggestion, steep, low, diverged, configured_lr)
    if diverged is not None and configured_lr is not None and configured_lr >= diverged:
        result.warnings.append(f"the configured lr {configured_lr:.2g} is at or above the divergence point "
                               f"{diverged:.2g}: training will likely diverge; use about "
                               f"{_g(suggestion)}")
    elif suggestion is not None and configured_lr is not None and diverged is not None \
            and configured_lr > diverged / 3:
        result.warnings.append(f"the configured lr {configured_lr:.2g} is within 3x of the divergence point "
                               f"{diverged:.2g}: training may be unstable")
    for w in result.warnings if warn else ():
        warnings.warn("lr_find: " + w, stacklevel=2)
    if out_dir is not None:
        result.write(out_dir, plot)
    return result


def _climbed_back(lrs: list[float], smoothed: list[float]) -> float | None:
    """The first LR after the minimum where the smoothed loss is back above where it started (training there
    makes the model worse than untrained), if the loss fell by LEARNED first; else None."""
    s = np.asarray(smoothed, dtype=np.float64)
    if len(s) < 3 or not np.isfinite(s[0]):
        return None
    i_min = int(np.nanargmin(np.where(np.isfinite(s), s, np.nan)))
    if not s[i_min] < (1 - LEARNED) * s[0]:
        return None
    above = np.flatnonzero(~(s[i_min:] <= s[0]))  # NaN counts as above
    return float(lrs[i_min + int(above[0])]) if above.size else None


def _cycle(loader: Any) -> Any:
    """Batches from the loader, starting it again whenever it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader yielded no batches")
