"""Optimizers over flat parameter buffers, pure learning-rate schedules, and PyTorch-named schedulers."""

from descend.optim import lr_scheduler, schedules
from descend.optim.adadelta import Adadelta
from descend.optim.adagrad import Adagrad
from descend.optim.adam import Adam, AdamW
from descend.optim.adamax import Adamax
from descend.optim.asgd import ASGD
from descend.optim.lbfgs import LBFGS
from descend.optim.nadam import NAdam, RAdam
from descend.optim.optimizer import Optimizer
from descend.optim.rmsprop import RMSprop
from descend.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "ASGD", "LBFGS", "lr_scheduler", "schedules"]
