"""Optimizers over flat parameter buffers, pure learning-rate schedules, and PyTorch-named schedulers."""

from descend.optim import lr_scheduler, schedules
from descend.optim.adagrad import Adagrad
from descend.optim.adam import Adam, AdamW
from descend.optim.optimizer import Optimizer
from descend.optim.rmsprop import RMSprop
from descend.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "schedules"]
