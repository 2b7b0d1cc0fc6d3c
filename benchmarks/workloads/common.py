"""What a workload is, and the pieces its implementations share.

A workload is one training task timed three ways:

- ``numpy_floor(problem)``: hand-written NumPy forward and backward, no framework. It is
  written carefully (float32 throughout, buffers allocated once, in-place updates, fused
  gradient formulas) because it is the floor the frameworks are measured against.
- ``framework(library, problem)``: the same task written as a user of PyTorch would write
  it (``nn.Sequential``, a loss, ``optim.SGD``, ``zero_grad``/``backward``/``step``). The
  code is run twice, once with ``library = tinygrad_edu`` and once with ``library = torch``:
  tinygrad_edu mirrors PyTorch's API, so one script serves both.

Each implementation is a *set-up function*: it copies the problem's initial weights into
its own storage and returns a ``Trainer``. A trainer is called once, with a number of
steps; it trains from the initial weights for that many steps and returns the loss of the
last step (computed in that step's forward pass, before its update). Set-up is not timed;
the call to the trainer is.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

#: Trains for the given number of steps from the initial weights; returns the last step's loss.
Trainer = Callable[[int], float]


@dataclass(frozen=True)
class LinearWeights:
    """A linear layer's parameters in PyTorch's layout: ``weight`` (out, in), ``bias`` (out,)."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Workload:
    """One benchmark task, its three implementations and its timing targets.

    ``make_problem(seed)`` draws the data and the initial weights (NumPy arrays, float32);
    ``numpy_floor(problem)`` and ``framework(library, problem)`` return trainers (see the
    module docstring). A target is the largest acceptable ratio of tinygrad_edu's median
    time per step to the other implementation's; ``memory_target`` (when set) the largest
    acceptable ratio of tinygrad_edu's peak traced memory to the NumPy floor's.
    """

    key: str
    name: str
    description: str
    steps: int
    quick_steps: int
    make_problem: Callable[[int], Any]
    numpy_floor: Callable[[Any], Trainer]
    framework: Callable[[ModuleType, Any], Trainer]
    target_vs_numpy: float
    target_vs_torch: float
    memory_target: float | None = None


# ----------------------------------------------------------------------------------------
# initial weights: one NumPy generator, converted to each library
# ----------------------------------------------------------------------------------------


def linear_weights(rng: np.random.Generator, in_features: int, out_features: int) -> LinearWeights:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``rng``: weight and bias
    uniform on [-1/sqrt(in_features), +1/sqrt(in_features)], float32."""
    bound = 1.0 / math.sqrt(in_features)
    weight = rng.uniform(-bound, bound, size=(out_features, in_features)).astype(np.float32)
    bias = rng.uniform(-bound, bound, size=(out_features,)).astype(np.float32)
    return LinearWeights(weight, bias)


def load_linear_weights(library: ModuleType, model: Any, weights: list[LinearWeights]) -> None:
    """Overwrite the ``nn.Linear`` layers of ``model`` (in order) with ``weights``.

    Written the way a PyTorch user copies weights in: ``copy_`` under ``no_grad``.
    """
    layers = [module for module in model.modules() if isinstance(module, library.nn.Linear)]
    if len(layers) != len(weights):
        raise ValueError(f"the model has {len(layers)} linear layers but {len(weights)} weight sets were given")
    with library.no_grad():
        for layer, initial in zip(layers, weights):
            layer.weight.copy_(library.from_numpy(initial.weight))
            layer.bias.copy_(library.from_numpy(initial.bias))


def copy_weights(weights: list[LinearWeights]) -> list[LinearWeights]:
    """Private copies for a NumPy floor, which updates its weights in place."""
    return [LinearWeights(layer.weight.copy(), layer.bias.copy()) for layer in weights]


# ----------------------------------------------------------------------------------------
# NumPy helpers for the floors: each works in place on float32 arrays
# ----------------------------------------------------------------------------------------


def sigmoid_in_place(values: np.ndarray) -> None:
    """values <- 1 / (1 + exp(-values)), with no temporary array."""
    np.negative(values, out=values)
    np.exp(values, out=values)
    values += 1.0
    np.reciprocal(values, out=values)


def sgd_update(parameters: list[np.ndarray], gradients: list[np.ndarray], learning_rate: float) -> None:
    """p <- p - lr * g for each pair, in place (the gradient buffers are scaled in place too;
    they are overwritten by the next backward pass)."""
    for parameter, gradient in zip(parameters, gradients):
        gradient *= learning_rate
        parameter -= gradient
