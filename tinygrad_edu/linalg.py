"""``tinygrad_edu.linalg``: vector norms, as ``torch.linalg``."""
from __future__ import annotations

from typing import Any

from tinygrad_edu.functional import norm as _norm
from tinygrad_edu.tensor import Tensor


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The ``ord``-norm of ``x`` as a vector (over ``dim``, or over every element)."""
    return _norm(x, ord, dim, keepdim)


def norm(x: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The 2-norm by default; only vector norms (any ``ord`` of ``vector_norm``) are supported."""
    return _norm(x, 2 if ord is None else ord, dim, keepdim)
