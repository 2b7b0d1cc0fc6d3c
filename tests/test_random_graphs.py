"""Random programs: the engine against finite differences on graphs nobody wrote by hand.

Hypothesis draws a short program over a pool of tensors: each step applies a unary op to
one pool entry, or a broadcasting binary op to two, and appends the result to the pool.
Entries are reused freely, so the graphs have diamonds, fan-out, broadcasting in every
direction and leaves used many times. The loss sums everything in the pool (so every step
matters), and ``gradcheck`` compares the backward pass with central differences; a second
test checks that two backward passes accumulate exactly twice the gradient.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as te
from tinygrad_edu.autograd import gradcheck

# Smooth, bounded ops, so that any composition stays in a range where finite differences
# in float64 are accurate: tanh/sin/sigmoid squash, the binary ops keep magnitudes small.
UNARY: dict[str, Callable[[te.Tensor], te.Tensor]] = {
    "tanh": lambda x: x.tanh(),
    "sin": lambda x: x.sin(),
    "sigmoid": lambda x: x.sigmoid(),
    "square_scaled": lambda x: x * x * 0.5,
    "softmax_last": lambda x: x.softmax(-1) if x.ndim else x.sigmoid(),
    "sum_keepdim": lambda x: x.sum(dim=-1, keepdim=True) * 0.3 if x.ndim else x,
    "transposed_scale": lambda x: (x.transpose(0, -1) * 0.7).transpose(0, -1) if x.ndim >= 2 else x * 0.7,
}
BINARY: dict[str, Callable[[te.Tensor, te.Tensor], te.Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div_smooth": lambda a, b: a / (1.5 + b.tanh()),
}

# Shapes that all broadcast with each other: (3, 4), (4,), (1, 4), (3, 1), ().
POOL_SHAPES = [(3, 4), (4,), (1, 4), (3, 1), ()]


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[np.ndarray], list[tuple[str, int, int]]]:
    leaf_count = draw(st.integers(1, 3))
    leaves = [
        draw(st.lists(st.floats(-1.5, 1.5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        for shape in POOL_SHAPES[:leaf_count]
    ]
    arrays = [np.array(values, dtype=np.float64).reshape(shape) for values, shape in zip(leaves, POOL_SHAPES)]
    steps = []
    for step in range(draw(st.integers(1, 8))):
        pool_size = leaf_count + step
        name = draw(st.sampled_from(sorted(UNARY) + sorted(BINARY)))
        steps.append((name, draw(st.integers(0, pool_size - 1)), draw(st.integers(0, pool_size - 1))))
    return arrays, steps


def run_program(steps: list[tuple[str, int, int]], *leaves: te.Tensor) -> te.Tensor:
    pool = list(leaves)
    for name, first, second in steps:
        if name in UNARY:
            pool.append(UNARY[name](pool[first]))
        else:
            pool.append(BINARY[name](pool[first], pool[second]))
    return sum(tensor.sum() for tensor in pool)


@given(program=programs())
def test_random_program_gradients_match_finite_differences(program: tuple[list[np.ndarray], list]) -> None:
    arrays, steps = program
    leaves = tuple(te.tensor(array, requires_grad=True) for array in arrays)
    assert gradcheck(lambda *xs: run_program(steps, *xs), leaves)


@given(program=programs())
def test_random_program_accumulates_over_two_backward_passes(program: tuple[list[np.ndarray], list]) -> None:
    arrays, steps = program
    leaves = [te.tensor(array, requires_grad=True) for array in arrays]
    run_program(steps, *leaves).backward()
    once = [leaf.grad.numpy().copy() for leaf in leaves]
    run_program(steps, *leaves).backward()
    for leaf, first in zip(leaves, once):
        assert leaf.grad.shape == leaf.shape
        np.testing.assert_allclose(leaf.grad.numpy(), 2 * first, rtol=1e-12, atol=1e-12)
