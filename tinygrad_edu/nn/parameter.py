"""``Parameter``: a tensor that a ``Module`` owns and an optimizer updates.

A Parameter is an ordinary leaf Tensor with ``requires_grad=True`` by default. What makes
it special is only where it is stored: assigning one to a Module attribute registers it,
so ``module.parameters()`` finds it (see ``Module.__setattr__`` in ``module.py``).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.tensor import Tensor


class Parameter(Tensor):
    """``Parameter(data, requires_grad=True)``: shares ``data``'s memory, as PyTorch's does."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = backend.zeros((0,), backend.DEFAULT_FLOAT)
        elif isinstance(data, Tensor):
            array = data.array
        else:
            array = backend.as_array(data)
        self._setup(array)
        if isinstance(data, Tensor):
            self._version = data._version  # same memory, same version counter
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__
