"""``tinygrad_edu.optim``: optimizers and learning-rate schedules (``import tinygrad_edu.optim as optim``).

Reading order: ``optimizer.py`` (param groups, state, state_dict) -> ``sgd.py`` ->
``adam.py`` -> ``rmsprop.py`` -> ``lr_scheduler.py``.
"""
from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.adam import Adam, AdamW
from tinygrad_edu.optim.optimizer import Optimizer
from tinygrad_edu.optim.rmsprop import RMSprop
from tinygrad_edu.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
