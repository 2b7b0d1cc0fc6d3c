"""The 2-2-1 sigmoid XOR network: textbook hand-derived backprop equals ``backward()``.

Network (row-vector convention, a batch of the 4 rows of the XOR truth table):

    h     = sigmoid(X @ W1 + b1)        X: (4, 2), W1: (2, 2), b1: (2,)
    y_hat = sigmoid(h @ W2 + b2)        W2: (2, 1), b2: (1,)

Losses:

- MSE as the *sum* of half squared errors, ``L = 0.5 * sum((y_hat - y)**2)``, so the
  textbook output delta is exactly ``delta_out = (y_hat - y) * y_hat * (1 - y_hat)``.
  (A variant uses ``0.5 * mean``, whose gradients are the same divided by 4.)
- binary cross-entropy, ``L = -sum(y log y_hat + (1 - y) log(1 - y_hat))``, whose output
  delta simplifies to ``delta_out = y_hat - y``.

Backward by hand, for either loss:

    dW2 = h.T @ delta_out,        db2 = sum of delta_out over the batch
    delta_hidden = (delta_out @ W2.T) * h * (1 - h)
    dW1 = X.T @ delta_hidden,     db1 = sum of delta_hidden over the batch
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as te

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])


@dataclass
class Weights:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @staticmethod
    def random(seed: int) -> "Weights":
        rng = np.random.default_rng(seed)
        return Weights(rng.normal(size=(2, 2)), rng.normal(size=2),
                       rng.normal(size=(2, 1)), rng.normal(size=1))

    def names(self) -> list[str]:
        return ["w1", "b1", "w2", "b2"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def forward_by_hand(weights: Weights) -> tuple[np.ndarray, np.ndarray]:
    hidden = sigmoid(XOR_INPUTS @ weights.w1 + weights.b1)
    output = sigmoid(hidden @ weights.w2 + weights.b2)
    return hidden, output


def backward_by_hand(weights: Weights, delta_out: np.ndarray, hidden: np.ndarray) -> Weights:
    delta_hidden = (delta_out @ weights.w2.T) * hidden * (1.0 - hidden)
    return Weights(
        w1=XOR_INPUTS.T @ delta_hidden,
        b1=delta_hidden.sum(axis=0),
        w2=hidden.T @ delta_out,
        b2=delta_out.sum(axis=0),
    )


def mse_gradients_by_hand(weights: Weights) -> Weights:
    hidden, output = forward_by_hand(weights)
    delta_out = (output - XOR_TARGETS) * output * (1.0 - output)
    return backward_by_hand(weights, delta_out, hidden)


def bce_gradients_by_hand(weights: Weights) -> Weights:
    hidden, output = forward_by_hand(weights)
    delta_out = output - XOR_TARGETS
    return backward_by_hand(weights, delta_out, hidden)


def as_leaves(weights: Weights, dtype: Any) -> dict[str, Any]:
    return {name: te.tensor(getattr(weights, name), dtype=dtype, requires_grad=True)
            for name in weights.names()}


def network_output(params: dict[str, Any], dtype: Any) -> Any:
    inputs = te.tensor(XOR_INPUTS, dtype=dtype)
    hidden = (inputs @ params["w1"] + params["b1"]).sigmoid()
    return (hidden @ params["w2"] + params["b2"]).sigmoid()


def mse_sum_loss(output: Any, dtype: Any) -> Any:
    error = output - te.tensor(XOR_TARGETS, dtype=dtype)
    return 0.5 * (error * error).sum()


def bce_sum_loss(output: Any, dtype: Any) -> Any:
    targets = te.tensor(XOR_TARGETS, dtype=dtype)
    return -(targets * output.log() + (1.0 - targets) * (1.0 - output).log()).sum()


def assert_gradients_equal(params: dict[str, Any], expected: Weights, rtol: float,
                           atol: float) -> None:
    for name in expected.names():
        grad = params[name].grad
        assert grad is not None, f"no gradient for {name}"
        assert tuple(grad.shape) == getattr(expected, name).shape, name
        np.testing.assert_allclose(grad.numpy(), getattr(expected, name), rtol=rtol, atol=atol,
                                   err_msg=name)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mse_gradients_match_hand_backprop(seed: int) -> None:
    weights = Weights.random(seed)
    params = as_leaves(weights, te.float64)
    output = network_output(params, te.float64)
    np.testing.assert_allclose(output.detach().numpy(), forward_by_hand(weights)[1], rtol=1e-13)
    mse_sum_loss(output, te.float64).backward()
    assert_gradients_equal(params, mse_gradients_by_hand(weights), rtol=1e-10, atol=1e-13)
    for param in params.values():
        assert param.grad.dtype == te.float64


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bce_gradients_match_hand_backprop(seed: int) -> None:
    weights = Weights.random(seed)
    params = as_leaves(weights, te.float64)
    bce_sum_loss(network_output(params, te.float64), te.float64).backward()
    assert_gradients_equal(params, bce_gradients_by_hand(weights), rtol=1e-10, atol=1e-13)


def test_mse_mean_variant_is_scaled_by_batch_size() -> None:
    weights = Weights.random(7)
    params = as_leaves(weights, te.float64)
    error = network_output(params, te.float64) - te.tensor(XOR_TARGETS, dtype=te.float64)
    (0.5 * (error * error).mean()).backward()
    by_hand = mse_gradients_by_hand(weights)
    scaled = Weights(*(getattr(by_hand, name) / 4.0 for name in by_hand.names()))
    assert_gradients_equal(params, scaled, rtol=1e-10, atol=1e-13)


def test_float32_gradients_close_to_float64_hand_values() -> None:
    weights = Weights.random(11)
    params = as_leaves(weights, te.float32)
    mse_sum_loss(network_output(params, te.float32), te.float32).backward()
    assert params["w1"].grad.dtype == te.float32
    assert_gradients_equal(params, mse_gradients_by_hand(weights), rtol=1e-4, atol=1e-6)


def test_one_sgd_step_matches_hand_update() -> None:
    weights = Weights.random(5)
    learning_rate = 0.5
    params = as_leaves(weights, te.float64)
    mse_sum_loss(network_output(params, te.float64), te.float64).backward()
    with te.no_grad():
        for param in params.values():
            param -= learning_rate * param.grad
    by_hand = mse_gradients_by_hand(weights)
    for name in weights.names():
        expected = getattr(weights, name) - learning_rate * getattr(by_hand, name)
        np.testing.assert_allclose(params[name].detach().numpy(), expected, rtol=1e-12)


def test_hand_gradients_are_not_trivially_zero() -> None:
    """Guards the comparison above: the hand gradients carry information."""
    gradients = mse_gradients_by_hand(Weights.random(0))
    for name in gradients.names():
        assert np.abs(getattr(gradients, name)).max() > 1e-4
