"""The names of a run directory's files (one place; every reader and writer takes them from here)."""

from __future__ import annotations

CONFIG = "config.toml"
META = "meta.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
INDEX = "index.json"
SOURCES = "sources.json"
DATA = "data.json"
DIAGNOSIS = "diagnosis.json"
EVALUATION = "evaluation.json"
REPORT = "report.html"
LR_FIND = "lr_find.json"
TB = "tb"
SAMPLES = "samples"
LOCK = ".lock"  # flock'ed by the one process writing the run
SIGNATURES = "trust.json"  # HMAC signatures of code files, made with a key kept outside the run
