"""Optimizers with PyTorch's names, defaults and update rules, simplest first: SGD, Adagrad,
Adadelta, RMSprop, Adam, AdamW, then the quasi-Newton LBFGS; schedules in `lr_scheduler`."""

from tinygrad_lstm.optim import lr_scheduler
from tinygrad_lstm.optim.adadelta import Adadelta
from tinygrad_lstm.optim.adagrad import Adagrad
from tinygrad_lstm.optim.adam import Adam
from tinygrad_lstm.optim.adamw import AdamW
from tinygrad_lstm.optim.lbfgs import LBFGS
from tinygrad_lstm.optim.optimizer import Optimizer
from tinygrad_lstm.optim.rmsprop import RMSprop
from tinygrad_lstm.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "LBFGS",
           "lr_scheduler"]
