"""The engine stores a leaf's first gradient without copying it only when nothing else can
see its memory (``engine._owns_its_memory``); everywhere else ``.grad`` is a fresh copy."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_edu as te
import tinygrad_edu.nn as nn
from tinygrad_edu.autograd import Function, engine


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the defensive copies (calls of ``engine._fresh``)."""
    count = [0]
    original = engine._fresh

    def counting(gradient: te.Tensor, create_graph: bool) -> te.Tensor:
        count[0] += 1
        return original(gradient, create_graph)

    monkeypatch.setattr(engine, "_fresh", counting)
    return count


class ReturnsItsInput(Function):
    """A (wrong, but possible) custom rule that returns a tensor it saved, as it is."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> Any:
        ctx.save_for_backward(x)
        return x.array * 1.0

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        return x


def test_an_mlps_gradients_are_stored_without_copies(copies: list[int]) -> None:
    te.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    nn.functional.cross_entropy(model(te.randn(5, 4)), te.tensor([0, 1, 2, 0, 1])).backward()
    assert copies[0] <= 1  # at most one of the four parameters needs one
    arrays = [p.grad.array for p in model.parameters()] + [p.array for p in model.parameters()]
    for i, first in enumerate(arrays):
        for second in arrays[i + 1:]:
            assert not np.shares_memory(first, second)


def test_one_tensor_handed_to_two_leaves_is_copied() -> None:
    x, y = te.ones(3, requires_grad=True), te.ones(3, requires_grad=True)
    (x + y).sum().backward()  # Add passes its upstream gradient itself to both inputs
    assert not np.shares_memory(x.grad.array, y.grad.array)
    x.grad.array[0] = 5.0
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_a_custom_rule_returning_a_kept_tensor_is_copied() -> None:
    w = te.ones(3, requires_grad=True)
    ReturnsItsInput.apply(w).sum().backward()
    assert w.grad is not w and not np.shares_memory(w.grad.array, w.array)


def test_what_a_hook_saw_is_copied() -> None:
    u, seen = te.ones(3, requires_grad=True), []
    u.register_hook(seen.append)
    (u * 3).sum().backward()
    assert not np.shares_memory(u.grad.array, seen[0].array)


def test_the_callers_seed_is_copied() -> None:
    seed, v = te.ones(3), te.ones(3, requires_grad=True)
    (v * 1).backward(seed)
    assert not np.shares_memory(v.grad.array, seed.array)
    (v * 1).backward(seed)  # accumulation adds into .grad in place: the seed must not change
    assert seed.tolist() == [1.0, 1.0, 1.0] and v.grad.tolist() == [2.0, 2.0, 2.0]


def test_a_view_of_the_upstream_gradient_is_copied() -> None:
    z = te.ones(2, 3, requires_grad=True)
    upstream = te.ones(6)
    z.reshape(6).backward(upstream)  # Reshape's rule returns a view of the upstream gradient
    assert not np.shares_memory(z.grad.array, upstream.array)


def test_two_backward_passes_accumulate_into_an_owned_gradient() -> None:
    x = te.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_a_freed_gradients_id_never_marks_another_as_owned() -> None:
    """Regression (found by tests/test_random_graphs.py): ``a`` receives three gradients,
    summed as they come, so the tensors of the later ones are freed; Python gave one of their
    ids to the read-only broadcast view that ``b`` receives from ``sum``, which was then stored
    as ``b.grad`` without a copy, and the second backward pass could not add into it."""
    for _ in range(5):
        a = te.zeros(3, 4, dtype=te.float64, requires_grad=True)
        b = te.zeros(4, dtype=te.float64, requires_grad=True)
        for _ in range(2):
            pool = [a, b, a.sigmoid(), a * a * 0.5]
            sum(tensor.sum() for tensor in pool).backward()
        assert b.grad.tolist() == [2.0] * 4
        assert np.allclose(a.grad.numpy(), 2 * (1 + 0.25))
        assert b.grad.array.flags.writeable
