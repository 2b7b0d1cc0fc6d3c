"""A ReLU network trained with softmax cross-entropy and plain SGD, full batch.

W2 (``spiral.py``) and W3 (``mlp.py``) are this one task with different data and layer
sizes: ``Linear -> ReLU -> ... -> Linear``, then cross-entropy on the last layer's scores.
The two workloads differ in where the time goes: W2's arrays are small (300 rows, 100
hidden units), so per-op overhead still counts; W3's matrix products (256x784 by 784x512)
dominate, so it measures how close a framework gets to the BLAS floor and how much memory
it holds on to.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.workloads.common import LinearWeights, Trainer, copy_weights, load_linear_weights, sgd_update


@dataclass(frozen=True)
class ClassificationProblem:
    inputs: np.ndarray  # (N, features) float32
    labels: np.ndarray  # (N,) int64, class indices
    weights: list[LinearWeights]  # one per linear layer, first to last
    learning_rate: float


# ----------------------------------------------------------------------------------------
# (a) the NumPy floor
# ----------------------------------------------------------------------------------------


def softmax_cross_entropy_in_place(scores: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.float32:
    """Return the mean cross-entropy of ``scores`` (N, C) against ``labels``, and replace
    ``scores`` by its gradient, fused into one formula:

        loss = mean over rows of ( log sum_j exp(s_j) - s_label )
        d loss / d scores = (softmax(scores) - onehot(labels)) / N

    The row maximum is subtracted first so that ``exp`` cannot overflow.
    """
    count = len(scores)
    scores -= scores.max(axis=1, keepdims=True)
    picked = scores[rows, labels]
    np.exp(scores, out=scores)
    totals = scores.sum(axis=1, keepdims=True)
    loss = np.log(totals).mean() - picked.mean()
    scores /= totals
    scores[rows, labels] -= 1.0
    scores *= 1.0 / count
    return loss


def numpy_floor(problem: ClassificationProblem) -> Trainer:
    """Forward: a[0] = x;  a[i+1] = relu(a[i] W_i^T + b_i) (no ReLU after the last layer).

    Backward, with g the gradient of the current layer's output (first: the fused
    softmax-cross-entropy gradient of the scores):
        dW_i = g^T a[i],  db_i = column sums of g
        g <- (g W_i) * (a[i] > 0)        (to the layer below, through its ReLU)
    """
    layers = copy_weights(problem.weights)
    inputs, labels = problem.inputs, problem.labels
    count = len(inputs)
    rows = np.arange(count)
    parameters = [layer.weight for layer in layers] + [layer.bias for layer in layers]
    last = len(layers) - 1

    def train(steps: int) -> float:
        # work buffers, allocated once per run and reused by every step:
        # activations[0] is the input; activations[i + 1] is layer i's output (ReLU applied in place);
        # d_activations[i] is the gradient of activations[i] and masks[i] where its ReLU passed (hidden layers).
        activations = [inputs] + [np.empty((count, len(layer.bias)), np.float32) for layer in layers]
        d_activations = [None] + [np.empty_like(activation) for activation in activations[1:-1]]
        masks = [None] + [np.empty(activation.shape, bool) for activation in activations[1:-1]]
        weight_gradients = [np.empty_like(layer.weight) for layer in layers]
        bias_gradients = [np.empty_like(layer.bias) for layer in layers]
        gradients = weight_gradients + bias_gradients
        loss = np.float32("nan")
        for _ in range(steps):
            for index, layer in enumerate(layers):
                output = activations[index + 1]
                np.matmul(activations[index], layer.weight.T, out=output)
                output += layer.bias
                if index < last:
                    np.maximum(output, 0.0, out=output)
            loss = softmax_cross_entropy_in_place(activations[-1], labels, rows)

            gradient = activations[-1]
            for index in range(last, -1, -1):
                np.matmul(gradient.T, activations[index], out=weight_gradients[index])
                np.sum(gradient, axis=0, out=bias_gradients[index])
                if index > 0:
                    below = d_activations[index]
                    np.matmul(gradient, layers[index].weight, out=below)
                    np.greater(activations[index], 0.0, out=masks[index])
                    below *= masks[index]
                    gradient = below
            sgd_update(parameters, gradients, problem.learning_rate)
        return float(loss)

    return train


# ----------------------------------------------------------------------------------------
# (b) tinygrad_edu and (c) PyTorch: one script, run with either library
# ----------------------------------------------------------------------------------------


def framework(torch: ModuleType, problem: ClassificationProblem, device: str = "cpu",
              capture: bool = False) -> Trainer:
    """The PyTorch-style script; ``device="cuda"`` trains on the GPU (the model and the data
    are moved there once, as a user would; the final ``loss.item()`` waits for the GPU)."""
    nn, optim = torch.nn, torch.optim
    layers = []
    for initial in problem.weights:
        out_features, in_features = initial.weight.shape
        layers += [nn.Linear(in_features, out_features), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])  # no ReLU after the last layer
    load_linear_weights(torch, model, problem.weights)
    model.to(device)
    inputs = torch.from_numpy(problem.inputs).to(device)
    labels = torch.from_numpy(problem.labels).to(device)
    loss_function = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=problem.learning_rate)

    def step(inputs: Any, labels: Any) -> Any:
        loss = loss_function(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    if capture:  # tinygrad_edu only: record the step once, replay its NumPy calls (tinygrad_edu/jit.py)
        step = torch.jit.capture(step)

    def train(steps: int) -> float:
        for _ in range(steps):
            loss = step(inputs, labels)
        return loss.item()

    return train
