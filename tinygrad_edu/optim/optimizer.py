"""``Optimizer``: the base class that SGD, Adam, AdamW and RMSprop share.

An optimizer holds ``param_groups`` (a list of dicts: the tensors under ``"params"`` and
their settings such as ``"lr"``) and ``state`` (per-tensor memory such as momentum).
``step()`` reads each parameter's ``.grad`` and updates the parameter in place.

Updates are not part of any graph, so the subclasses write them on the raw arrays
(``param.array``, ``param.grad.array``) exactly as the formulas read: this is what
``with no_grad(): p -= lr * g`` does, without building Tensors for every intermediate.
``mark_updated`` then bumps the tensor's version counter, as PyTorch's in-place updates
do, so a graph that saved the old values refuses to back-propagate through them.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd import enable_grad
from tinygrad_edu.tensor import Tensor


def mark_updated(param: Tensor) -> None:
    """Record that ``param``'s values changed in place (see the module docstring)."""
    param._version[0] += 1


def check_non_negative(optimizer: str, name: str, value: float) -> None:
    if not 0.0 <= value:
        raise ValueError(f"{optimizer}: invalid {name}: {value} (it must be >= 0)")


def check_beta(optimizer: str, index: int, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{optimizer}: invalid beta parameter at index {index}: {value} (it must be in [0, 1))")


class Optimizer:
    """``Optimizer(params, defaults)``: ``params`` is an iterable of tensors (or of
    ``(name, tensor)`` pairs, as ``model.named_parameters()`` gives), or of dicts (parameter
    groups) each with ``"params"`` and optional per-group settings."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got a Tensor (wrap it in a list)"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with settings that default to the optimizer's."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}: a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if params and isinstance(params[0], tuple):  # model.named_parameters(): keep the names too
            group["param_names"] = [name for name, _ in params]
            params = [param for _, param in params]
        group["params"] = params
        for param in group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """An optimizer written as PyTorch's are, with its own ``step``, gets that step
        marked as an effect too (see ``step`` below)."""
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__ and not getattr(cls.__dict__["step"], "is_effect", False):
            cls.step = tracing.effect(cls.__dict__["step"])  # type: ignore[method-assign]

    @tracing.effect(repeatable=True)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients (to ``None`` by default, so the next backward starts fresh)."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.detach_()
                    param.grad.array[...] = 0

    @tracing.effect
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure`` (optional)
        re-evaluates the model and returns the loss, which ``step`` returns.

        Marked as an *effect* for ``jit.capture``: a captured step runs it for real on every
        replay, so the updates use the learning rate and the state of that moment."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                grad = param._grad  # the slot behind the .grad property: this loop runs every step
                if grad is None:
                    continue
                if grad.array.shape != param.array.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: the gradient of shape {grad.shape} does not match "
                        f"its parameter of shape {param.shape}"
                    )
                state = self.state.get(param, {})
                self.update(param, grad.array, state, group)
                if state:  # only optimizers with memory (momentum, averages) keep state
                    self.state[param] = state
                mark_updated(param)
        return loss

    def update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update one parameter in place; each optimizer writes its rule here."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    @staticmethod
    def new_state(like: Tensor, values: Any = None) -> Tensor:
        """A state tensor (momentum, averages) shaped like ``like``: zeros, or a copy of ``values``."""
        array = backend.zeros(like.shape, like.dtype, like.device) if values is None else values.copy()
        return Tensor._wrap(array)

    # ------------------------------------------------------------------------------------
    # state_dict: the optimizer's memory, keyed by parameter position, for save/load
    # ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, with
        parameters replaced by their position across the groups, as in PyTorch."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                saved["params"].append(index_of[id(param)])
            groups.append(saved)
        state = {
            index_of[id(param)]: dict(values) for param, values in self.state.items() if id(param) in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and memory saved by ``state_dict()`` (copied, and cast to each
        parameter's dtype), so training continues exactly where it stopped."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                f"{len(self.param_groups)}"
            )
        for position, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group ({position}) of {len(saved['params'])} parameters "
                    f"that doesn't match the size of optimizer's group ({len(group['params'])})"
                )
        param_of = {}
        for group, saved in zip(self.param_groups, saved_groups):
            param_of.update(zip(saved["params"], group["params"]))
        self.state = {}
        for index, values in state_dict["state"].items():
            if int(index) not in param_of:
                raise ValueError(f"loaded state dict has state for parameter {index}, which no group contains")
            param = param_of[int(index)]
            self.state[param] = {key: _cast_like(value, param, key) for key, value in values.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = copy.deepcopy(value)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            for key in sorted(key for key in group if key != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _cast_like(value: Any, param: Tensor, key: str) -> Any:
    """A copy of a saved state value; floating tensors (not the step count) take the param's
    dtype and device (the step count stays on the CPU, as in PyTorch)."""
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    if key != "step" and value.dtype.is_floating_point:
        if value.shape != param.shape:
            raise ValueError(
                f"loaded optimizer state {key!r} has shape {value.shape}, its parameter has shape {param.shape}"
            )
        cast = value.array.astype(param.dtype.numpy_dtype, copy=True)
        return Tensor._wrap(backend.to_device(cast, param.device))  # on the parameter's device
    return Tensor._wrap(value.array.copy())
