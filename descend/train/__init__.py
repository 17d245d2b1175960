"""Training: the fit loop, callbacks, run directories and checkpoints with exact resume."""

from descend.train.callbacks import Callback, EarlyStopping, ProgressBar
from descend.train.checkpoint import Checkpoints
from descend.errors import UsageError
from descend.train.loop import Trainer, evaluate, fit
from descend.train.run import Run

__all__ = ["Callback", "EarlyStopping", "ProgressBar", "Checkpoints", "UsageError", "Trainer", "evaluate",
           "fit", "Run"]
