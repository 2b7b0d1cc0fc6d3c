"""W4 overhead: 200 small elementwise ops on a (4, 4) tensor, then sum and backward.

With 16 numbers per array the arithmetic is free; what is timed is the cost of recording
200 ops on the graph and walking back through them. The chain is 25 rounds of 8 ops:

    y <- y * 0.5,  y <- y + x,  y <- tanh(y),  y <- y * y,
    y <- exp(y),   y <- sigmoid(y),  y <- y - 0.5,  y <- y / 1.5

starting from y = x. Each round maps any input into (0.15, 0.3), so nothing overflows however
long the chain; ``x`` is used by every round, so its gradient accumulates 25 contributions.

One step is: the chain, ``loss = y.sum()``, ``loss.backward()``, and an SGD step on ``x``.
The SGD step (one op on 16 numbers) is there so that the final loss depends on every
gradient computed: a wrong backward pass then shows as a loss mismatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.workloads.common import Trainer, Workload, sgd_update

ROUNDS = 25  # of 8 ops: 200 ops
SHAPE = (4, 4)
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class OverheadProblem:
    start: np.ndarray  # x's initial values, (4, 4) float32


def make_problem(seed: int) -> OverheadProblem:
    rng = np.random.default_rng(seed)
    return OverheadProblem(rng.standard_normal(SHAPE, dtype=np.float32))


# ----------------------------------------------------------------------------------------
# (a) the NumPy floor
# ----------------------------------------------------------------------------------------


def numpy_floor(problem: OverheadProblem) -> Trainer:
    """Forward: the chain, keeping each round's tanh, exp and sigmoid outputs (t, e, s).

    Backward, round by round from the last, with g = dL/dy (first: ones, from the sum):
        g <- g / 1.5 * s (1 - s)      (through y = (s - 0.5) / 1.5 and s = sigmoid(e))
        g <- g * e * 2 t * (1 - t^2)  (through e = exp(t^2) and t = tanh(a))
        dL/dx += g                    (a = 0.5 y + x)
        g <- 0.5 g                    (to the previous round's y)
    and finally dL/dx += g, since the first round's y is x itself.
    """
    x = problem.start.copy()

    def train(steps: int) -> float:
        # work buffers, allocated once per run and reused by every step
        tanh_outputs = np.empty((ROUNDS, *SHAPE), np.float32)
        exp_outputs = np.empty_like(tanh_outputs)
        sigmoid_outputs = np.empty_like(tanh_outputs)
        y = np.empty(SHAPE, np.float32)
        scratch = np.empty(SHAPE, np.float32)
        gradient = np.empty(SHAPE, np.float32)
        grad_x = np.empty(SHAPE, np.float32)
        loss = np.float32("nan")
        for _ in range(steps):
            y[...] = x
            for t, e, s in zip(tanh_outputs, exp_outputs, sigmoid_outputs):
                np.multiply(y, 0.5, out=scratch)
                scratch += x
                np.tanh(scratch, out=t)
                np.multiply(t, t, out=scratch)
                np.exp(scratch, out=e)
                np.negative(e, out=scratch)  # sigmoid(e) = 1 / (1 + exp(-e))
                np.exp(scratch, out=scratch)
                scratch += 1.0
                np.reciprocal(scratch, out=s)
                np.subtract(s, 0.5, out=y)
                y /= 1.5
            loss = y.sum()

            gradient.fill(1.0)
            grad_x.fill(0.0)
            for t, e, s in zip(tanh_outputs[::-1], exp_outputs[::-1], sigmoid_outputs[::-1]):
                gradient /= 1.5
                np.subtract(1.0, s, out=scratch)
                scratch *= s
                gradient *= scratch
                gradient *= e
                np.multiply(t, t, out=scratch)  # 2 t (1 - t^2)
                np.subtract(1.0, scratch, out=scratch)
                scratch *= t
                scratch *= 2.0
                gradient *= scratch
                grad_x += gradient
                gradient *= 0.5
            grad_x += gradient
            sgd_update([x], [grad_x], LEARNING_RATE)
        return float(loss)

    return train


# ----------------------------------------------------------------------------------------
# (b) tinygrad_edu and (c) PyTorch: one script, run with either library
# ----------------------------------------------------------------------------------------


def framework(torch: ModuleType, problem: OverheadProblem, capture: bool = False) -> Trainer:
    x = torch.tensor(problem.start, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=LEARNING_RATE)

    def step() -> Any:
        y = x
        for _ in range(ROUNDS):
            y = y * 0.5
            y = y + x
            y = y.tanh()
            y = y * y
            y = y.exp()
            y = y.sigmoid()
            y = y - 0.5
            y = y / 1.5
        loss = y.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    if capture:  # tinygrad_edu only: record the step once, replay its NumPy calls (tinygrad_edu/jit.py)
        step = torch.jit.capture(step)

    def train(steps: int) -> float:
        for _ in range(steps):
            loss = step()
        return loss.item()

    return train


WORKLOAD = Workload(
    key="W4",
    name="overhead",
    description="200 elementwise ops on a (4, 4) tensor, sum, backward, SGD step on the input",
    steps=200,
    quick_steps=5,
    make_problem=make_problem,
    numpy_floor=numpy_floor,
    framework=framework,
    target_vs_numpy=2.0,
    target_vs_torch=0.5,
)
