"""Generative adversarial training and the metrics that watch a generator for mode collapse."""

from descend.gan.metrics import ModeReport, class_coverage, mode_report, near_duplicate_rate

__all__ = ["ModeReport", "class_coverage", "mode_report", "near_duplicate_rate"]
