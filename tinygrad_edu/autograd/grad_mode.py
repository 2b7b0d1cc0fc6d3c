"""Switching graph recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

While grad mode is off, ``Function.apply`` computes results without recording a node, so
nothing is kept for a backward pass (evaluation, optimizer updates). Each switch works as a
context manager and as a decorator, as in PyTorch.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    """The single switch. ``Function.apply`` reads ``GRAD_MODE.enabled`` on every call."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


GRAD_MODE = _GradMode()


def is_grad_enabled() -> bool:
    return GRAD_MODE.enabled


class _SwitchGradMode:
    """Shared machinery: set the mode on ``__enter__``, restore the previous on ``__exit__``."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = GRAD_MODE.enabled
        GRAD_MODE.enabled = self.mode

    def __exit__(self, *exc_info: Any) -> None:
        GRAD_MODE.enabled = self._previous

    def __call__(self, function: F) -> F:
        mode = self.mode

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Switch(mode):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _Switch(_SwitchGradMode):
    def __init__(self, mode: bool) -> None:
        self.mode = mode


class _NoArgumentSwitch(_SwitchGradMode):
    """``no_grad`` and ``enable_grad`` also decorate without parentheses (``@no_grad``), as in
    PyTorch: called with a function, the class returns the decorated function."""

    def __new__(cls, function: Callable[..., Any] | None = None) -> Any:
        switch = super().__new__(cls)
        if function is None:
            return switch
        if not callable(function):
            raise TypeError(f"{cls.__name__}() takes no arguments (got {function!r})")
        return switch(function)


class no_grad(_NoArgumentSwitch):  # noqa: N801 - PyTorch's name
    """Turn graph recording off: ``with no_grad(): ...``, ``@no_grad()`` or ``@no_grad``."""

    mode = False


class enable_grad(_NoArgumentSwitch):  # noqa: N801
    """Turn graph recording back on inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_SwitchGradMode):  # noqa: N801
    """``set_grad_enabled(False)`` switches at once (as a plain call), and also works as a
    context manager or decorator that restores the previous mode afterwards."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = GRAD_MODE.enabled
        GRAD_MODE.enabled = self.mode

    def __enter__(self) -> None:
        GRAD_MODE.enabled = self.mode

    def __call__(self, function: F) -> F:
        # Used as a decorator: undo the immediate switch made by __init__.
        GRAD_MODE.enabled = self._previous
        return super().__call__(function)


class inference_mode(_SwitchGradMode):  # noqa: N801 - PyTorch's name
    """PyTorch's faster ``no_grad`` for evaluation: ``with inference_mode():``,
    ``@inference_mode()`` or ``@inference_mode``. Here it is exactly ``no_grad``;
    ``inference_mode(False)`` leaves recording as it is."""

    def __new__(cls, mode: Any = True) -> Any:
        switch = super().__new__(cls)
        switch.active = True
        if callable(mode):  # used bare, as @inference_mode
            return switch(mode)
        switch.active = bool(mode)
        return switch

    def __enter__(self) -> None:
        self._previous = GRAD_MODE.enabled
        if self.active:
            GRAD_MODE.enabled = False

    def __call__(self, function: F) -> F:
        active = self.active

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(active):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
