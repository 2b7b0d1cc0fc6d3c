"""``detect_anomaly``: name the op that first produced NaN or Inf.

Inside ``with detect_anomaly():`` every op checks its result. An op whose inputs are all
finite but whose output is not (``log(-1)``, ``exp(1000)``) raises at once in the forward
pass; a backward rule that turns finite upstream gradients into NaN/Inf raises during
``backward()`` and also prints where the op was created in the forward pass. Off by
default: checking every array costs a full pass over it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _AnomalyMode:
    """``enabled``: the switch. ``in_backward``: set by the engine while a backward pass runs,
    so that the ops a backward rule uses are not blamed: the rule's node is."""

    __slots__ = ("enabled", "in_backward")

    def __init__(self) -> None:
        self.enabled = False
        self.in_backward = False


ANOMALY_MODE = _AnomalyMode()


def is_anomaly_enabled() -> bool:
    return ANOMALY_MODE.enabled


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager and decorator that switches anomaly detection on."""

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = bool(check_nan)

    def __enter__(self) -> None:
        self._previous = ANOMALY_MODE.enabled
        ANOMALY_MODE.enabled = self.mode

    def __exit__(self, *exc_info: Any) -> None:
        ANOMALY_MODE.enabled = self._previous

    def __call__(self, function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.mode):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def set_detect_anomaly(mode: bool) -> None:
    ANOMALY_MODE.enabled = bool(mode)


def _all_finite(tensors: Iterable[Any]) -> bool:
    from tinygrad_edu.tensor import Tensor

    for tensor in tensors:
        if isinstance(tensor, Tensor) and tensor.dtype.is_floating_point:
            if not bool(tensor.isfinite().all()):
                return False
    return True


def check_forward_anomaly(op_name: str, inputs: Iterable[Any], outputs: Iterable[Any]) -> None:
    """Raise if ``op_name`` turned finite inputs into a NaN/Inf output."""
    outputs = list(outputs)
    if _all_finite(outputs) or not _all_finite(inputs):
        return
    raise RuntimeError(
        f"detect_anomaly: the forward pass of {op_name} produced NaN or Inf values "
        f"from finite inputs (output shapes {[tuple(out.shape) for out in outputs]})"
    )


def check_backward_anomaly(node: Any, grad_outputs: Iterable[Any], grad_inputs: Iterable[Any]) -> None:
    """Raise if the backward rule of ``node`` turned finite gradients into NaN/Inf."""
    grad_inputs = [grad for grad in grad_inputs if grad is not None]
    if _all_finite(grad_inputs) or not _all_finite(grad_outputs):
        return
    where = ""
    if node.creation_trace:
        where = "\nThe op was created in the forward pass at:\n" + "".join(node.creation_trace[-4:])
    raise RuntimeError(
        f"detect_anomaly: Function '{node.name()}' returned NaN or Inf values in its gradient "
        f"from finite upstream gradients.{where}"
    )
