"""Diagnoses for adversarial training: mode collapse, a discriminator that overpowers the generator,
oscillation, and (at the end of a 2-D run) samples that miss the data's modes — each a pure rule over the
run's "gan" records, in the doctor's Diagnosis format.

The records are what metrics.jsonl holds (kind "gan"): every `log_every` steps the averaged d_loss, g_loss,
d_real and d_fake; at evaluation steps also, on 2-D mixtures, modes / num_modes / high_quality / reverse_kl,
and on images classes_covered / num_classes / class_entropy / near_duplicates.

Thresholds are named constants with their reasons. They were set on healthy and collapsing runs of the ring
and the grid (tests/test_gan_diagnose.py keeps both halves): a healthy run must trigger nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend.doctor.rules import Diagnosis
from descend.doctor.watcher import RecordWatcher

# --- thresholds ---------------------------------------------------------------------------------------------
WINDOW = 3             # consecutive evaluations a finding must hold for: one eval can be an unlucky moment
WARMUP = 0.2           # judge only after 20 % of the run: every generator starts far from the data
HQ_MIN = 0.05          # 5 % of the samples (125 of 2,500) on modes: enough for a histogram over the modes
COLLAPSED = 0.5        # half of the modes or fewer covered ...
KL_HIGH = 0.5          # ... or reverse KL above half of log k: mass worth at most sqrt(k) equally used modes
                       # (an uneven but complete cover, KL ~0.7 on the ring mid-run, is not collapse)
SPREAD_MIN = 0.2       # samples within a fifth of the data's spread (RMS distance to their centre): one blob
ENTROPY_MIN = 0.6      # class entropy / log(classes): 0.6 of 10 classes is ~4 equally used classes
DUPLICATES_MAX = 0.5   # half the fixed-noise samples have a near twin: the generator ignores its noise
D_REAL_HI = 0.85       # D(real) above 0.85 (times 1 - label smoothing) ...
D_FAKE_LO = 0.15       # ... and D(fake) below 0.15: D tells them apart almost surely ...
D_RECORDS = 5          # ... in each of the last 5 logged averages ...
G_CLIMB = 0.5          # ... while g_loss climbed 0.5 nats above its best (from ~log 2 towards -log D(fake))
OSC_EVALS = 6          # evaluations needed to call coverage cyclic
OSC_REVERSALS = 3      # direction changes of at least OSC_SWING_MODES modes (or OSC_SWING_ENTROPY)
OSC_SWING_MODES = 0.25  # a quarter of the modes gained or lost between two evaluations
OSC_SWING_ENTROPY = 0.2
HOP_EVALS = 3          # a collapsed generator whose main mode changed at 3 of its last evaluations hops
LOSS_RECORDS = 10      # logged averages needed to call the losses cyclic
LOSS_SWING = 0.5       # d_loss swinging by half its median between logged averages ...
LOSS_REVERSALS = 0.5   # ... with a direction change at half the records or more (noise averages away)


@dataclass
class Setting:
    """What the rules need to know about the run: the data's modes or classes and the game's options."""

    kind: str                     # "mixture" or "image"
    total_steps: int
    num_modes: int = 0
    num_classes: int = 0
    label_smoothing: float = 0.0
    loss: str = "non_saturating"
    extra: dict = field(default_factory=dict)


def _fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.0f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def effective_modes(num_modes: int, reverse_kl: float) -> float:
    """k·exp(-KL(p‖uniform)) = exp(entropy of p): how many equally used modes the histogram is worth."""
    return num_modes * math.exp(-reverse_kl) if math.isfinite(reverse_kl) else 0.0


def _evals(records: list[dict], key: str, s: Setting) -> list[dict]:
    """Evaluation records past the warm-up."""
    return [r for r in records if key in r and r["step"] >= WARMUP * s.total_steps]


# --- the rules ------------------------------------------------------------------------------------------------
def mode_collapse(records: list[dict], s: Setting, found: dict) -> Diagnosis | None:
    """The generator's samples cover few modes (2-D) or classes (images), or are near-duplicates."""
    if s.kind == "mixture":
        return _mixture_collapse(records, s)
    return _image_collapse(records, s)


def _collapsed_2d(r: dict) -> bool:
    """Samples shrunk to a blob, or (enough of them on modes to tell) piled on half the modes or fewer.

    Samples spread like the data but off its modes are not collapse: the generator has not learned yet.
    """
    if r.get("spread", 1.0) <= SPREAD_MIN:
        return True
    k = r["num_modes"]
    return r["high_quality"] >= HQ_MIN and (r["modes"] <= COLLAPSED * k or r["reverse_kl"] >= KL_HIGH * math.log(k))


def _judgeable(r: dict) -> bool:
    """Enough samples on modes to read their histogram, or samples shrunk to a blob (collapse anywhere)."""
    return r.get("spread", 1.0) <= SPREAD_MIN or r["high_quality"] >= HQ_MIN


def _mixture_collapse(records: list[dict], s: Setting) -> Diagnosis | None:
    evals = _evals(records, "modes", s)
    # Evaluations with almost no sample near a mode tell nothing either way; they are left out of the streak,
    # so a generator that swings between piling its samples on one mode and missing every mode is collapsed.
    judged = [r for r in evals if _judgeable(r)]
    if len(judged) >= WINDOW and all(_collapsed_2d(r) for r in judged[-WINDOW:]):
        start = len(judged) - WINDOW
        while start > 0 and _collapsed_2d(judged[start - 1]):
            start -= 1
        first, now = judged[start], judged[-1]
        k = now["num_modes"]
        skipped = sum(1 for r in evals if r["step"] >= first["step"] and not _judgeable(r))
        peak = max(records, key=lambda r: r.get("modes", -1))
        eff = effective_modes(k, now["reverse_kl"])
        if now.get("spread", 1.0) <= SPREAD_MIN:
            what = (f"the samples have shrunk to {_pct(now['spread'])} of the data's spread (RMS distance to "
                    f"their centre) and cover {now['modes']} of {k} modes: different noise, nearly the same point")
        else:
            what = (f"the samples cover {now['modes']} of {k} modes (worth {eff:.1f} equally used modes; reverse "
                    f"KL {_fmt(now['reverse_kl'])}, 0 when uniform) with {_pct(now['high_quality'])} of them high "
                    f"quality: the generator piles its samples on a few modes")
        evidence = f"at step {now['step']} {what}; collapsed at every evaluation since step {first['step']}"
        if skipped:
            evidence += (f" (leaving aside {skipped} with under {_pct(HQ_MIN)} of the samples near a mode, too few "
                         f"to judge)")
        if peak["modes"] >= now["modes"] + 2:
            evidence += f" (it covered {peak['modes']} modes at step {peak['step']})"
        return Diagnosis("mode_collapse", "Mode collapse", "error", first["step"], None, evidence,
                         _COLLAPSE_ADVICE, {"modes": now["modes"], "num_modes": k, "effective_modes": eff,
                                            "reverse_kl": now["reverse_kl"], "high_quality": now["high_quality"],
                                            "spread": now.get("spread"), "counts": now.get("counts")})
    # Partial collapse is judged at the end: modes missing at the last evaluations and no progress.
    if len(evals) < WINDOW:
        return None
    last = evals[-WINDOW:]
    now, k = last[-1], last[-1]["num_modes"]
    if (s.extra.get("finished") and all(r["modes"] < k and r["high_quality"] >= HQ_MIN for r in last)
            and now["modes"] <= last[0]["modes"]):
        missing = [i for i, c in enumerate(now.get("counts") or []) if c == 0]
        evidence = (f"the last {WINDOW} evaluations (steps {last[0]['step']}-{now['step']}) cover "
                    f"{', '.join(str(r['modes']) for r in last)} of {k} modes with "
                    f"{_pct(now['high_quality'])} high-quality samples, without progress"
                    + (f"; never reached: mode {', '.join(map(str, missing))}" if missing else ""))
        return Diagnosis("mode_collapse", "Partial mode collapse", "warning", last[0]["step"], None, evidence,
                         _COLLAPSE_ADVICE, {"modes": now["modes"], "num_modes": k,
                                            "reverse_kl": now["reverse_kl"], "counts": now.get("counts")})
    return None


def _collapsed_image(r: dict) -> bool:
    return r["class_entropy"] <= ENTROPY_MIN or r["near_duplicates"] >= DUPLICATES_MAX


def _image_collapse(records: list[dict], s: Setting) -> Diagnosis | None:
    evals = _evals(records, "classes_covered", s)
    if len(evals) < WINDOW or not all(_collapsed_image(r) for r in evals[-WINDOW:]):
        return None
    start = len(evals) - WINDOW
    while start > 0 and _collapsed_image(evals[start - 1]):
        start -= 1
    first, now = evals[start], evals[-1]
    n = now["num_classes"]
    parts = []
    if now["class_entropy"] <= ENTROPY_MIN:
        parts.append(f"a classifier trained on the real data puts its samples in {now['classes_covered']} of {n} "
                     f"classes with entropy {now['class_entropy']:.2f} of the maximum (1 when all classes are "
                     f"equally used)")
    if now["near_duplicates"] >= DUPLICATES_MAX:
        parts.append(f"{_pct(now['near_duplicates'])} of the fixed-noise samples have a near-duplicate: different "
                     f"noise, the same output")
    evidence = f"at step {now['step']} " + " and ".join(parts) + f"; so at every evaluation since step {first['step']}"
    return Diagnosis("mode_collapse", "Mode collapse", "error", first["step"], None, evidence, _COLLAPSE_ADVICE,
                     {k: now[k] for k in ("classes_covered", "num_classes", "class_entropy", "near_duplicates")})


_COLLAPSE_ADVICE = ("let the discriminator judge samples jointly (--pack 2), lower the learning rates "
                    "(--lr-g, --lr-d) or use the non-saturating loss (--loss non_saturating); a larger "
                    "--noise-dim gives the generator more to vary")


def discriminator_overpowers(records: list[dict], s: Setting, found: dict) -> Diagnosis | None:
    """D(real) near 1 and D(fake) near 0 in every recent record while the generator's loss climbs.

    Not for wgan-gp: its critic's outputs are unbounded scores, not probabilities, and a critic kept
    1-Lipschitz by its penalty still gives the generator a gradient however far apart it holds the two sets.
    """
    if s.loss == "wgan-gp":
        return None
    logs = [r for r in records if "d_real" in r and r["step"] >= WARMUP * s.total_steps]
    if len(logs) < D_RECORDS:
        return None
    last = logs[-D_RECORDS:]
    real_hi = D_REAL_HI * (1 - s.label_smoothing)
    if not all(r["d_real"] >= real_hi and r["d_fake"] <= D_FAKE_LO for r in last):
        return None
    g = np.array([r["g_loss"] for r in records if "g_loss" in r], dtype=np.float64)
    g_now = float(np.mean([r["g_loss"] for r in last]))
    best = float(np.nanmin(g)) if g.size else g_now
    if not g_now >= best + G_CLIMB:
        return None
    first = last[0]
    evidence = (f"over the last {D_RECORDS} logged averages (steps {first['step']}-{last[-1]['step']}) "
                f"D(real) = {np.mean([r['d_real'] for r in last]):.2f} and D(fake) = "
                f"{np.mean([r['d_fake'] for r in last]):.3f}: the discriminator tells them apart almost surely, "
                f"and the generator's loss climbed from its best {_fmt(best)} to {_fmt(g_now)}")
    if s.loss == "minimax":
        evidence += "; with the minimax loss the generator's gradient vanishes exactly then"
    advice = ("weaken the discriminator: a lower --lr-d than --lr-g, fewer --d-steps, one-sided "
              "--label-smoothing 0.1" + ("" if s.loss == "non_saturating" else
                                         ", and the non-saturating loss (--loss non_saturating)"))
    return Diagnosis("discriminator_overpowers", "The discriminator overpowers the generator", "warning",
                     first["step"], None, evidence, advice,
                     {"d_real": last[-1]["d_real"], "d_fake": last[-1]["d_fake"], "g_loss": g_now,
                      "g_loss_best": best})


def _reversals(x: np.ndarray, swing: float) -> tuple[int, list[int]]:
    """Direction changes between steps of at least `swing` (smaller moves are ignored as noise)."""
    moves = np.diff(x)
    big = [(i, m) for i, m in enumerate(moves) if abs(m) >= swing]
    flips = [big[j][0] for j in range(1, len(big)) if np.sign(big[j][1]) != np.sign(big[j - 1][1])]
    return len(flips), flips


def oscillation(records: list[dict], s: Setting, found: dict) -> Diagnosis | None:
    """Coverage or losses cycling up and down, or a collapsed generator hopping from mode to mode."""
    key, swing, unit = (("modes", max(2.0, OSC_SWING_MODES * s.num_modes), "modes covered")
                        if s.kind == "mixture" else ("class_entropy", OSC_SWING_ENTROPY, "class entropy"))
    evals = _evals(records, key, s)
    if len(evals) >= OSC_EVALS:
        x = np.array([r[key] for r in evals], dtype=np.float64)
        n, flips = _reversals(x, swing)
        if n >= OSC_REVERSALS:
            shown = ", ".join(_fmt(v) for v in x[-8:])
            return Diagnosis("gan_oscillation", "Oscillation", "warning", evals[flips[0]]["step"], None,
                             f"{unit} went up and down {n} times by {_fmt(swing)} or more; the last "
                             f"evaluations: {shown} (steps {evals[-min(8, len(x))]['step']}-{evals[-1]['step']})",
                             _OSC_ADVICE, {key: x.tolist()})
    if s.kind == "mixture":
        hop = _mode_hopping(evals)
        if hop is not None:
            return hop
    logs = [r for r in records if "d_loss" in r and r["step"] >= WARMUP * s.total_steps]
    # A critic's loss (wgan-gp) hovers around 0, where a swing relative to its median is only noise.
    if s.loss != "wgan-gp" and len(logs) >= LOSS_RECORDS:
        d = np.array([r["d_loss"] for r in logs[-2 * LOSS_RECORDS:]], dtype=np.float64)
        med = float(np.median(np.abs(d)))
        n, flips = _reversals(d, LOSS_SWING * med) if med > 0 else (0, [])
        if n >= LOSS_REVERSALS * len(d):
            return Diagnosis("gan_oscillation", "Oscillation", "warning", logs[-len(d) + flips[0]]["step"], None,
                             f"the discriminator's loss swings by half its median ({_fmt(med)}) or more, changing "
                             f"direction {n} times in the last {len(d)} logged averages", _OSC_ADVICE,
                             {"d_loss": d.tolist()})
    return None


def _mode_hopping(evals: list[dict]) -> Diagnosis | None:
    collapsed = [r for r in evals[-(HOP_EVALS + 1):] if _collapsed_2d(r) and r.get("counts")]
    if len(collapsed) < HOP_EVALS + 1:
        return None
    main = [int(np.argmax(r["counts"])) for r in collapsed]
    hops = sum(a != b for a, b in zip(main, main[1:]))
    if hops < HOP_EVALS:
        return None
    return Diagnosis("gan_oscillation", "Oscillation: the collapsed generator hops between modes", "warning",
                     collapsed[0]["step"], None,
                     f"the mode holding most samples went {' -> '.join(map(str, main))} over steps "
                     f"{collapsed[0]['step']}-{collapsed[-1]['step']}: the generator chases the discriminator from "
                     f"mode to mode instead of covering them", _OSC_ADVICE, {"main_modes": main})


def off_modes(records: list[dict], s: Setting, found: dict) -> Diagnosis | None:
    """At the end of a 2-D run, almost no sample near any mode at every one of the last evaluations, the samples
    spread like the data (not shrunk to a point, which is collapse): the generator never learned the modes.

    Judged only at the end, since every generator starts off the modes; the threshold is the collapse rule's
    HQ_MIN, below which its histogram is too thin to read (recorded runs: every WGAN-GP run of the protocol
    ends at 0-4.2 % over its last 3 evaluations; the plain, packed and R1 runs at 8.1 % or more).
    """
    evals = _evals(records, "modes", s)
    if s.kind != "mixture" or not s.extra.get("finished") or len(evals) < WINDOW:
        return None
    last = evals[-WINDOW:]
    if not all(r["high_quality"] < HQ_MIN and r.get("spread", 1.0) > SPREAD_MIN for r in last):
        return None
    now = last[-1]
    evidence = (f"at the last {WINDOW} evaluations (steps {last[0]['step']}-{now['step']}) only "
                f"{', '.join(_pct(r['high_quality']) for r in last)} of the samples lie near a mode (within 3 std), "
                f"while they spread like the data ({_pct(now.get('spread', 1.0))} of its spread): the generator "
                f"has not learned where the modes are")
    if s.loss == "wgan-gp":
        suggestion = ("a critic-based loss needs a far longer run: many more --steps at a lower --lr-g and --lr-d "
                  "(the WGAN-GP authors train toy data 100,000 generator steps at 1e-4), or the non-saturating "
                  "loss with an R1 penalty (--loss non_saturating --r1 0.1), which covers these mixtures in "
                  "5,000 steps")
    else:
        suggestion = "train longer (--steps) or at lower learning rates (--lr-g, --lr-d)"
    return Diagnosis("gan_off_modes", "Samples miss the data's modes", "warning", last[0]["step"], None,
                     evidence, suggestion, {"high_quality": [r["high_quality"] for r in last],
                                            "spread": now.get("spread"), "modes": now["modes"]})


_OSC_ADVICE = ("lower both learning rates (--lr-g, --lr-d) or beta1 (--beta1 0.5), and pack the discriminator "
               "(--pack 2) so it can see a lack of diversity")

RULES: tuple[Callable[[list, Setting, dict], Diagnosis | None], ...] = (
    mode_collapse, discriminator_overpowers, oscillation, off_modes)
CODES = ("mode_collapse", "discriminator_overpowers", "gan_oscillation", "gan_off_modes")


def run_rules(records: list[dict], s: Setting, found: dict | None = None) -> list[Diagnosis]:
    """The diagnoses that hold now and were not found before (each code fires once)."""
    found = found if found is not None else {}
    new = []
    for rule in RULES:
        d = rule(records, s, found)
        if d is not None and d.code not in found:
            found[d.code] = d
            new.append(d)
    return new


class GanDoctor(RecordWatcher):
    """Watches a GAN's records: prints each diagnosis once when it first holds and keeps diagnosis.json."""

    def add(self, record: dict, step: int) -> list[Diagnosis]:
        """Take one record; returns the diagnoses it made hold."""
        self.records.append(record)
        return self._check(step)

    def finish(self, step: int) -> list[Diagnosis]:
        """The end of training: end-of-run rules may judge; diagnosis.json is marked finished."""
        self.setting.extra["finished"] = True
        self._note_recovery()
        new = self._check(step, finished=True)
        if self.verbose:
            n = len([d for d in self.found.values() if d.severity != "info"])
            where = f"; see {Path(self.run_dir) / 'diagnosis.json'}" if self.run_dir is not None and n else ""
            self._print("doctor: no problems found" if n == 0 else f"doctor: {n} problem{'s' * (n > 1)} found{where}")
        return new

    def _note_recovery(self) -> None:
        """A collapse that the last evaluations no longer show is kept, marked recovered (severity info)."""
        d = self.found.get("mode_collapse")
        if d is None or d.severity != "error":
            return
        key, collapsed = (("modes", _collapsed_2d) if self.setting.kind == "mixture"
                          else ("classes_covered", _collapsed_image))
        evals = _evals(self.records, key, self.setting)
        if key == "modes":
            evals = [r for r in evals if _judgeable(r)]  # a recovery must be seen, not inferred from no data
        last = evals[-WINDOW:]
        if len(last) < WINDOW or any(collapsed(r) for r in last) or last[0]["step"] <= (d.step or 0):
            return
        now = last[-1]
        if key == "modes":
            state = (f"{now['modes']} of {now['num_modes']} modes, {_pct(now['high_quality'])} high quality, "
                     f"reverse KL {_fmt(now['reverse_kl'])}")
        else:
            state = f"{now['classes_covered']} of {now['num_classes']} classes, entropy {now['class_entropy']:.2f}"
        d.severity, d.title = "info", d.title + " (recovered)"
        d.evidence += f"; recovered by the end: {state} at step {now['step']}"
        if self.verbose:
            self._print(f"doctor: the mode collapse found at step {d.step} recovered: {state} at step {now['step']}")

    def _check(self, step: int, finished: bool = False) -> list[Diagnosis]:
        return self._announce(run_rules(self.records, self.setting, self.found), step, finished)
