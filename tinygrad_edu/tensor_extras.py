"""More ``Tensor`` methods: sorting, selecting, flipping, rounding, in-place variants.

``Tensor`` inherits them from :class:`MoreTensorMethods` so that ``tensor.py`` stays a
readable length. Each is one line: it calls the function of the same name in
``functional.py``, where the op is composed (and documented); nothing here has rules of its
own. ``tinygrad_edu.functional`` is looked up when a method is called, because this module
is imported while ``tensor.py`` itself is still being defined.
"""
from __future__ import annotations

from typing import Any

import tinygrad_edu


class MoreTensorMethods:
    __slots__ = ()

    def get_device(self: Any) -> int:
        """The GPU's index for a GPU tensor, -1 for a CPU tensor (as PyTorch)."""
        return -1 if self.device.type == "cpu" else (self.device.index or 0)

    def new_full(self: Any, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Any:
        """A tensor of ``size`` filled with ``fill_value``, of this tensor's dtype and device unless told otherwise."""
        return tinygrad_edu.full(size, fill_value, dtype=self.dtype if dtype is None else dtype,
                                 device=self.device if device is None else device, requires_grad=requires_grad)

    def new_empty(self: Any, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
        """Zeros here (as ``empty``), of this tensor's dtype and device unless told otherwise."""
        return tinygrad_edu.zeros(*size, dtype=self.dtype if dtype is None else dtype,
                                  device=self.device if device is None else device, requires_grad=requires_grad)

    def new_tensor(self: Any, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
        """A copy of ``data``, of this tensor's dtype and device unless told otherwise."""
        return tinygrad_edu.tensor(data, dtype=self.dtype if dtype is None else dtype,
                                   device=self.device if device is None else device, requires_grad=requires_grad)

    def sort(self: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return tinygrad_edu.functional.sort(self, dim, descending, stable)

    def argsort(self: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return tinygrad_edu.functional.argsort(self, dim, descending, stable)

    def topk(self: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
        return tinygrad_edu.functional.topk(self, k, dim, largest, sorted)

    def cumsum(self: Any, dim: int) -> Any:
        return tinygrad_edu.functional.cumsum(self, dim)

    def index_select(self: Any, dim: int, index: Any) -> Any:
        return tinygrad_edu.functional.index_select(self, dim, index)

    def flip(self: Any, dims: Any) -> Any:
        return tinygrad_edu.functional.flip(self, dims)

    def round(self: Any, decimals: int = 0) -> Any:
        return tinygrad_edu.functional.round(self, decimals)

    def floor(self: Any) -> Any:
        return tinygrad_edu.functional.floor(self)

    def ceil(self: Any) -> Any:
        return tinygrad_edu.functional.ceil(self)

    def bmm(self: Any, mat2: Any) -> Any:
        return tinygrad_edu.functional.bmm(self, mat2)

    def clamp_min(self: Any, min: Any) -> Any:  # noqa: A002 - PyTorch's name
        return self.clamp(min=min)

    def clamp_max(self: Any, max: Any) -> Any:  # noqa: A002
        return self.clamp(max=max)

    def exp_(self: Any) -> Any:
        return self._inplace("exp_", lambda current: current.exp())

    def abs_(self: Any) -> Any:
        return self._inplace("abs_", lambda current: current.abs())

    def neg_(self: Any) -> Any:
        return self._inplace("neg_", lambda current: current.neg())

    def relu_(self: Any) -> Any:
        return self._inplace("relu_", lambda current: current.relu())

    def sigmoid_(self: Any) -> Any:
        return self._inplace("sigmoid_", lambda current: current.sigmoid())

    def tanh_(self: Any) -> Any:
        return self._inplace("tanh_", lambda current: current.tanh())
