"""W1 xor: the 2-4-1 sigmoid network on XOR's four rows, MSE loss, plain SGD.

Inputs are 4x2, so a step is a few dozen operations on arrays of at most 16 numbers: the
time goes to the cost of each operation (Python calls, graph bookkeeping), not to
arithmetic. This is where a framework's per-op overhead shows most.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.workloads.common import (
    LinearWeights, Trainer, Workload, copy_weights, linear_weights, load_linear_weights, sgd_update, sigmoid_in_place,
)

HIDDEN = 4
LEARNING_RATE = 1.0


@dataclass(frozen=True)
class XorProblem:
    inputs: np.ndarray  # (4, 2) float32
    targets: np.ndarray  # (4, 1) float32
    weights: list[LinearWeights]  # 2 -> 4, 4 -> 1


def make_problem(seed: int) -> XorProblem:
    rng = np.random.default_rng(seed)
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    targets = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return XorProblem(inputs, targets, [linear_weights(rng, 2, HIDDEN), linear_weights(rng, HIDDEN, 1)])


# ----------------------------------------------------------------------------------------
# (a) the NumPy floor
# ----------------------------------------------------------------------------------------


def numpy_floor(problem: XorProblem) -> Trainer:
    """Forward:  hidden = sigmoid(x W1^T + b1),  output = sigmoid(hidden W2^T + b2),
    loss = mean((output - y)^2).

    Backward, with n = 4 rows:
        d_output = 2 (output - y) / n * output (1 - output)      (through MSE and sigmoid)
        dW2 = d_output^T hidden,  db2 = column sums of d_output
        d_hidden = (d_output W2) * hidden (1 - hidden)
        dW1 = d_hidden^T x,       db1 = column sums of d_hidden
    """
    (layer1, layer2) = copy_weights(problem.weights)
    inputs, targets = problem.inputs, problem.targets
    rows = len(inputs)
    parameters = [layer1.weight, layer1.bias, layer2.weight, layer2.bias]

    def train(steps: int) -> float:
        # work buffers, allocated once per run and reused by every step
        hidden = np.empty((rows, HIDDEN), np.float32)
        output = np.empty((rows, 1), np.float32)
        error = np.empty_like(output)
        d_output = np.empty_like(output)
        d_hidden = np.empty_like(hidden)
        slope = np.empty_like(hidden)
        gradients = [np.empty_like(parameter) for parameter in parameters]
        grad_w1, grad_b1, grad_w2, grad_b2 = gradients
        loss = np.float32("nan")
        for _ in range(steps):
            np.matmul(inputs, layer1.weight.T, out=hidden)
            hidden += layer1.bias
            sigmoid_in_place(hidden)
            np.matmul(hidden, layer2.weight.T, out=output)
            output += layer2.bias
            sigmoid_in_place(output)
            np.subtract(output, targets, out=error)
            loss = np.vdot(error, error) / rows

            np.subtract(1.0, output, out=d_output)
            d_output *= output
            d_output *= error
            d_output *= 2.0 / rows
            np.matmul(d_output.T, hidden, out=grad_w2)
            np.sum(d_output, axis=0, out=grad_b2)
            np.matmul(d_output, layer2.weight, out=d_hidden)
            np.subtract(1.0, hidden, out=slope)
            slope *= hidden
            d_hidden *= slope
            np.matmul(d_hidden.T, inputs, out=grad_w1)
            np.sum(d_hidden, axis=0, out=grad_b1)
            sgd_update(parameters, gradients, LEARNING_RATE)
        return float(loss)

    return train


# ----------------------------------------------------------------------------------------
# (b) tinygrad_edu and (c) PyTorch: one script, run with either library
# ----------------------------------------------------------------------------------------


def framework(torch: ModuleType, problem: XorProblem, capture: bool = False) -> Trainer:
    nn, optim = torch.nn, torch.optim
    model = nn.Sequential(nn.Linear(2, HIDDEN), nn.Sigmoid(), nn.Linear(HIDDEN, 1), nn.Sigmoid())
    load_linear_weights(torch, model, problem.weights)
    inputs, targets = torch.from_numpy(problem.inputs), torch.from_numpy(problem.targets)
    loss_function = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step(inputs: Any, targets: Any) -> Any:
        loss = loss_function(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    if capture:  # tinygrad_edu only: record the step once, replay its NumPy calls (tinygrad_edu/jit.py)
        step = torch.jit.capture(step)

    def train(steps: int) -> float:
        for _ in range(steps):
            loss = step(inputs, targets)
        return loss.item()

    return train


WORKLOAD = Workload(
    key="W1",
    name="xor",
    description="4x2 inputs, 2-4-1 sigmoid MLP, MSE, SGD (lr 1.0)",
    steps=5000,
    quick_steps=50,
    make_problem=make_problem,
    numpy_floor=numpy_floor,
    framework=framework,
    target_vs_numpy=1.5,
    target_vs_torch=0.35,
)
