"""The report's sections, one module each. Every module has `ID` (the section's stable anchor), `NAV` (its
link text) and `render(run) -> str`, which returns "" when the section does not apply to the run (a GAN run
has no training curves; a run without evaluation.json has no test-set section). A section that applies but
lacks data says what is missing instead of failing.

A new section: a module here with those three names, added to `SECTIONS` in page order.
"""

from descend.report.sections import (activations, curves, diagnoses, evaluation, gradients, lr, model,
                                     samples, sharpness, summary)

SECTIONS = (summary, diagnoses, curves, evaluation, lr, sharpness, gradients, activations, samples, model)

__all__ = ["SECTIONS"]
