"""How a PyTorch index key (``t[...]``) becomes a NumPy one.

``Tensor.__getitem__`` and ``__setitem__`` call :func:`index_key` to normalise the key
(tensors and lists become backend arrays, float indices are refused) and
:func:`split_ints_from_arrays` for the one case where NumPy and PyTorch disagree. The
``Index`` op (``ops/movement.py``) then does the indexing and its gradient.
"""
from __future__ import annotations

import builtins
from typing import Any

from tinygrad_edu import backend


def index_key(key: Any, like: Any = None) -> tuple[Any, ...]:
    """Normalise an index key: a tuple whose tensors and lists became backend arrays, on
    the device of the indexed array ``like`` (a CPU index tensor can index a GPU tensor).

    Integer arrays must be int64-like and boolean masks bool; float indices are refused.
    An Ellipsis is appended when there is none, so the result is always an array (a view
    for basic indexing), never a NumPy scalar.
    """
    parts = key if isinstance(key, tuple) else (key,)
    normalised = []
    for part in parts:
        part = backend.python_number(part)
        if isinstance(part, tensor_module.Tensor):
            part = part.array
        elif isinstance(part, list):
            part = backend.asarray(part) if part else backend.asarray(part, dtype=backend.int64)
        if backend.is_array(part):
            if part.dtype.kind not in "iub":
                raise IndexError(f"index: tensors used as indices must be integer or bool, got {part.dtype}")
            if part.dtype.kind == "b" and part.ndim == 0:
                part = builtins.bool(part)
            elif like is not None and backend.DEVICES_IN_USE:
                part = backend.to_device(part, backend.device_of(like))
        elif not isinstance(part, (builtins.int, slice, type(None), type(Ellipsis))):
            raise IndexError(f"index: unsupported index of type {type(part).__name__}")
        normalised.append(part)
    if not any(part is Ellipsis for part in normalised):
        normalised.append(Ellipsis)
    return tuple(normalised)


def split_ints_from_arrays(key: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """PyTorch applies integer indices first (each removes its dimension) and only then the
    index arrays; NumPy treats an int next to an index array as one more index array, which
    moves the result's dimensions (``x[0, :, [1, 2]]`` is (2, 4) in NumPy, (4, 2) in PyTorch).
    So a key mixing both is split into a basic key (the ints, with every array replaced by
    full slices) and an advanced key (the arrays, at the positions that remain). Otherwise
    ``(key, None)``: one NumPy indexing step already means what PyTorch means."""
    has_array = any(backend.is_array(part) for part in key)
    has_int = any(type(part) is builtins.int for part in key)
    if not (has_array and has_int):
        return key, None
    basic: list[Any] = []
    advanced: list[Any] = []
    for part in key:
        if type(part) is builtins.int:
            basic.append(part)
        elif backend.is_array(part):
            basic.extend([slice(None)] * (part.ndim if part.dtype.kind == "b" else 1))
            advanced.append(part)
        elif part is Ellipsis:
            basic.append(part)
            advanced.append(part)
        else:  # a slice or None: applied by the basic step, kept whole by the advanced one
            basic.append(part)
            advanced.append(slice(None))
    return tuple(basic), tuple(advanced)


# Imported last: tensor.py imports this module before it defines Tensor.
from tinygrad_edu import tensor as tensor_module  # noqa: E402
