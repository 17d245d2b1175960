"""Diagnoses: small rules, each a pure function over a run's history that returns a Diagnosis or None.

A rule sees the `History` (per-step loss, LR and gradient norm; epoch logs; sampled per-layer and
per-activation statistics; events such as the op that first produced NaN) and the diagnoses already found,
so a consequence is not reported as a cause: dead ReLUs block the gradient, but that is not also "vanishing
gradients"; units that die while the loss diverges are reported, as `info`, as the divergence's consequence.
The rules live by responsibility in rules_numeric (divergence, NaN), rules_gradients (exploding, vanishing),
rules_units (dead, saturated) and rules_progress (LR too low, plateau, oscillation, over- and underfitting);
every threshold is a named constant in thresholds.py.
"""

from __future__ import annotations

from typing import Callable, Iterable

from descend.doctor.history import Diagnosis, History, _fmt, confidence
from descend.doctor.rules_gradients import exploding_gradients, vanishing_gradients
from descend.doctor.rules_numeric import divergence, nan
from descend.doctor.rules_progress import lr_too_low, oscillation, overfitting, plateau, underfitting
from descend.doctor.rules_units import dead_relus, saturated_units
from descend.doctor.thresholds import DIVERGE_ABOVE_START

__all__ = ["Diagnosis", "History", "RULES", "CODES", "EPOCH_RULES", "PERIODIC_RULES", "CAUSES", "run_rules",
           "DIVERGE_ABOVE_START", "confidence", "_fmt", "divergence", "nan",
           "exploding_gradients", "vanishing_gradients", "dead_relus", "saturated_units", "lr_too_low",
           "oscillation", "plateau", "overfitting", "underfitting"]

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
# Causes, and the findings that are their consequences when both are present (reported as `info`).
CAUSES = {"divergence": ("dead_relus", "saturated_units", "vanishing_gradients", "exploding_gradients"),
          "nan": ("dead_relus", "saturated_units", "vanishing_gradients"),
          "exploding_gradients": ("dead_relus", "saturated_units", "vanishing_gradients")}


def run_rules(h: History, found: dict | None = None, rules: Iterable | None = None) -> list[Diagnosis]:
    """Evaluate the rules (default: all) not yet in `found` (code -> Diagnosis), in order; returns the new
    diagnoses. A cause found after its consequences turns those (in `found`) into `info` findings."""
    found = dict(found or {})  # the caller's Diagnosis objects are shared: a demotion reaches them
    new = []
    for rule in RULES if rules is None else rules:
        if rule.__name__ in found:
            continue
        d = rule(h, dict(found))
        if d is None:
            continue
        found[d.code] = d
        new.append(d)
        for code in CAUSES.get(d.code, ()):
            effect = found.get(code)
            if effect is not None and effect.severity != "info":
                _demote(effect, d)
    return new


def _demote(effect: Diagnosis, cause: Diagnosis) -> None:
    effect.severity = "info"
    effect.title += f" (a consequence of: {cause.title.split(':')[0].lower()})"
    effect.values["consequence_of"] = cause.code
