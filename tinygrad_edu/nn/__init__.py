"""``tinygrad_edu.nn``: modules, layers, losses (``import tinygrad_edu.nn as nn``).

Reading order: ``parameter.py`` -> ``module.py`` (how a model finds its parameters and
names them) -> ``container.py`` -> ``functional.py`` (the math of every layer and loss)
-> ``layers.py`` and ``loss.py`` (thin modules around it) -> ``init.py`` -> ``summary.py``.
"""
from tinygrad_edu.nn import functional, init, utils
from tinygrad_edu.nn.container import ModuleDict, ModuleList, Sequential
from tinygrad_edu.nn.layers import (
    ELU, GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from tinygrad_edu.nn.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
from tinygrad_edu.nn.module import Module
from tinygrad_edu.nn.parameter import Parameter
from tinygrad_edu.nn.summary import ModelSummary, summary

__all__ = [
    "HuberLoss", "SmoothL1Loss",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "ELU", "Flatten", "functional", "GELU", "Identity",
    "init", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "ModelSummary", "Module", "ModuleDict", "ModuleList",
    "MSELoss", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "SiLU", "Softmax", "Softplus", "summary",
    "Tanh", "utils",
]
