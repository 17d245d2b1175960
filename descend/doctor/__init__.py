"""The training doctor: monitors that collect statistics during fit, rules that turn them into diagnoses in
words, an automatic rollback on divergence, and the learning-rate range test."""

from descend.doctor.doctor import Doctor, read_diagnoses, write_diagnoses
from descend.doctor.monitors import ActivationMonitor, LayerMonitor, NonFiniteMonitor
from descend.doctor.rollback import Rollback
from descend.doctor.rules import CODES, RULES, Diagnosis, History, run_rules

__all__ = ["Doctor", "Rollback", "Diagnosis", "History", "RULES", "CODES", "run_rules", "read_diagnoses",
           "write_diagnoses", "LayerMonitor", "ActivationMonitor", "NonFiniteMonitor"]
