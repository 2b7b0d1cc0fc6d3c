"""``tinygrad_edu.linalg``: vector norms, as ``torch.linalg``."""
from __future__ import annotations

from typing import Any

from tinygrad_edu.functional import norm as _norm
from tinygrad_edu.tensor import Tensor


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The ``ord``-norm of ``x`` as a vector (over ``dim``, or over every element)."""
    return _norm(x, ord, dim, keepdim)


def norm(x: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The 2-norm of all elements by default (the Frobenius norm of a matrix). With ``ord``
    on a matrix this would be a matrix norm (largest singular value, ...), which is not
    supported here: pass ``dim`` for vector norms along one dimension."""
    matrix_dims = x.ndim == 2 if dim is None else isinstance(dim, (tuple, list)) and len(dim) == 2
    if ord is not None and ord != "fro" and matrix_dims:
        raise NotImplementedError(f"linalg.norm: matrix norms (ord={ord!r} of a 2-D input) are not supported; "
                                  f"use linalg.vector_norm, or pass a single dim")
    return _norm(x, 2 if ord is None else ord, dim, keepdim)
