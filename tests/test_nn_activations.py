"""The activations of ``tinygrad_edu.nn`` (modules and functions) and the functional
``linear``, ``dropout`` and ``one_hot``: values against NumPy formulas, gradients against
central differences (float64, first and second order), stability, and errors.

Random values stay 0.05 or more away from 0 for the activations with a kink there (ReLU,
LeakyReLU, ELU); their one-sided derivatives at exactly 0 are PyTorch's choices, checked
on their own (and against torch in ``test_torch_parity_losses.py``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tinygrad_edu as te
import tinygrad_edu.nn as nn
import tinygrad_edu.nn.functional as F  # noqa: N812 - PyTorch's customary name
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_edu.autograd import gradcheck, gradgradcheck

from strategies import arrays, dim_ints, shapes

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
erf = np.vectorize(math.erf, otypes=[np.float64])


@dataclass(frozen=True)
class Activation:
    module: Callable[[], nn.Module]
    function: Callable[[te.Tensor], te.Tensor]
    reference: Callable[[np.ndarray], np.ndarray]
    kink_at_zero: bool = False


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(nn.ReLU, F.relu, lambda x: np.maximum(x, 0.0), kink_at_zero=True),
    "leaky_relu": Activation(nn.LeakyReLU, F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), kink_at_zero=True),
    "leaky_relu_0.2": Activation(lambda: nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, negative_slope=0.2),
                                 lambda x: np.where(x > 0, x, 0.2 * x), kink_at_zero=True),
    "elu": Activation(nn.ELU, F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), kink_at_zero=True),
    "elu_0.5": Activation(lambda: nn.ELU(alpha=0.5), lambda x: F.elu(x, alpha=0.5),
                          lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))), kink_at_zero=True),
    "gelu": Activation(nn.GELU, F.gelu, lambda x: x * 0.5 * (1 + erf(x / math.sqrt(2)))),
    "gelu_tanh": Activation(lambda: nn.GELU(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
                            lambda x: 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))),
    "sigmoid": Activation(nn.Sigmoid, F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": Activation(nn.Tanh, F.tanh, np.tanh),
    "softplus": Activation(nn.Softplus, F.softplus, lambda x: np.logaddexp(0.0, x)),
    "softplus_beta_2": Activation(lambda: nn.Softplus(beta=2.0), lambda x: F.softplus(x, beta=2.0),
                                  lambda x: np.logaddexp(0.0, 2 * x) / 2),
}


def leaf(array: np.ndarray) -> te.Tensor:
    return te.tensor(array.copy(), requires_grad=True)


def assert_value(result: te.Tensor, expected: np.ndarray, dtype: Any = te.float64) -> None:
    assert tuple(result.shape) == np.shape(expected)
    assert result.dtype is dtype
    np.testing.assert_allclose(result.detach().numpy(), expected, rtol=1e-12, atol=1e-14)


def np_log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


# --------------------------------------------------------------------------- elementwise activations
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(data=st.data(), as_module=st.booleans())
def test_activation_values_and_gradients(name: str, data: st.DataObject, as_module: bool) -> None:
    activation = ACTIVATIONS[name]
    avoid = (0.0,) if activation.kink_at_zero else ()
    values = data.draw(arrays(data.draw(shapes(0, 3, 1, 4)), -4.0, 4.0, avoid=avoid))
    function = activation.module() if as_module else activation.function
    assert_value(function(leaf(values)), activation.reference(values))
    assert gradcheck(function, (leaf(values),))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(data=st.data())
def test_activation_second_order(name: str, data: st.DataObject) -> None:
    activation = ACTIVATIONS[name]
    avoid = (0.0,) if activation.kink_at_zero else ()
    values = data.draw(arrays(data.draw(shapes(0, 2, 1, 3)), -3.0, 3.0, avoid=avoid))
    assert gradgradcheck(activation.module(), (leaf(values),))


@pytest.mark.parametrize(
    "name, expected_slope", [("relu", 0.0), ("leaky_relu_0.2", 0.2), ("elu_0.5", 0.5), ("gelu", 0.5), ("gelu_tanh", 0.5)]
)
def test_derivative_at_exactly_zero_is_pytorchs(name: str, expected_slope: float) -> None:
    values = te.tensor([0.0, -0.0], dtype=te.float64, requires_grad=True)
    output = ACTIVATIONS[name].module()(values)
    output.sum().backward()
    np.testing.assert_array_equal(output.detach().numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(values.grad.numpy(), [expected_slope, expected_slope])


def test_activations_are_stable_for_huge_inputs() -> None:
    """No overflow (pytest turns NumPy's RuntimeWarnings into errors) and the exact limits."""
    values = te.tensor([-1e4, 1e4], dtype=te.float64, requires_grad=True)
    expected = {"relu": [0, 1e4], "elu_0.5": [-0.5, 1e4], "gelu": [0, 1e4], "gelu_tanh": [0, 1e4],
                "sigmoid": [0, 1], "tanh": [-1, 1]}
    for name, limits in expected.items():
        output = ACTIVATIONS[name].module()(values)
        np.testing.assert_array_equal(output.detach().numpy(), limits, err_msg=name)
        values.grad = None
        output.sum().backward()
        assert np.all(np.isfinite(values.grad.numpy())), name


# --------------------------------------------------------------------------- softmax and log_softmax
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@given(data=st.data(), as_module=st.booleans())
def test_softmax_over_any_dim(log: bool, data: st.DataObject, as_module: bool) -> None:
    shape = data.draw(shapes(1, 3, 1, 4))
    dim = data.draw(dim_ints(len(shape)))
    values = data.draw(arrays(shape, -4.0, 4.0))
    if as_module:
        function = nn.LogSoftmax(dim=dim) if log else nn.Softmax(dim=dim)
    else:
        function = (lambda x: F.log_softmax(x, dim=dim)) if log else (lambda x: F.softmax(x, dim))
    expected = np_log_softmax(values, dim)
    assert_value(function(leaf(values)), expected if log else np.exp(expected))
    assert gradcheck(function, (leaf(values),))
    if values.size <= 12:
        assert gradgradcheck(function, (leaf(values),))


def test_softmax_is_exact_for_huge_logits() -> None:
    logits = te.tensor([[1e4, -1e4, 0.0], [1e30, 0.0, -1e30]], dtype=te.float64, requires_grad=True)
    np.testing.assert_array_equal(F.softmax(logits, dim=1).detach().numpy(), [[1, 0, 0], [1, 0, 0]])
    log_probabilities = F.log_softmax(logits, dim=1)
    np.testing.assert_array_equal(log_probabilities.detach().numpy(), [[0, -2e4, -1e4], [0, -1e30, -2e30]])
    log_probabilities[:, 1].sum().backward()
    np.testing.assert_array_equal(logits.grad.numpy(), [[-1, 1, 0], [-1, 1, 0]])  # one-hot - softmax


@pytest.mark.parametrize("ndim, implied_dim", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_without_dim_warns_and_uses_pytorchs_legacy_dim(ndim: int, implied_dim: int, log: bool) -> None:
    values = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    expected = np_log_softmax(values, implied_dim) if ndim else np.zeros(())
    name = "log_softmax" if log else "softmax"
    for function in (nn.LogSoftmax() if log else nn.Softmax(), F.log_softmax if log else F.softmax):
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
            output = function(te.tensor(values))
        assert_value(output, expected if log else np.exp(expected))


def test_softmax_dtype_argument_casts_first() -> None:
    values = te.tensor([[1.0, 2.0, 3.0]])
    assert F.softmax(values, dim=1, dtype=te.float64).dtype is te.float64
    assert F.log_softmax(values, dim=1, dtype=te.float64).dtype is te.float64
    assert F.softmax(values, dim=1).dtype is te.float32


def test_gelu_rejects_an_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="approximate.*fast"):
        nn.GELU(approximate="fast")
    with pytest.raises(ValueError, match="gelu.*fast"):
        F.gelu(te.zeros(2), approximate="fast")


# --------------------------------------------------------------------------- linear
@given(data=st.data(), with_bias=st.booleans())
def test_linear_values_and_gradients(data: st.DataObject, with_bias: bool) -> None:
    batch = data.draw(shapes(0, 2, 1, 3))
    in_features, out_features = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    values = data.draw(arrays(batch + (in_features,)))
    weight = data.draw(arrays((out_features, in_features)))
    bias = data.draw(arrays((out_features,))) if with_bias else None
    expected = values @ weight.T + (0.0 if bias is None else bias)
    inputs = (leaf(values), leaf(weight)) + ((leaf(bias),) if with_bias else ())
    assert_value(F.linear(*inputs), expected)
    assert gradcheck(F.linear, inputs)
    assert gradgradcheck(F.linear, inputs)  # the fused Linear's backward is differentiable too


def test_linear_module_uses_its_parameters() -> None:
    te.manual_seed(0)
    layer, no_bias = nn.Linear(5, 3), nn.Linear(5, 3, bias=False)
    assert no_bias.bias is None and layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert np.all(np.abs(layer.weight.detach().numpy()) <= 1 / math.sqrt(5))
    values = te.randn(4, 5)
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    expected = values.numpy() @ weight.T + bias
    np.testing.assert_allclose(layer(values).detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(no_bias(values).detach().numpy(), values.numpy() @ no_bias.weight.detach().numpy().T,
                               rtol=1e-6)
    assert layer(values).dtype is te.float32


@pytest.mark.parametrize("input_shape, weight_shape", [((2, 3), (4, 5)), ((3,), (4, 2)), ((), (4, 1))])
def test_linear_rejects_mismatched_shapes(input_shape: tuple[int, ...], weight_shape: tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError, match="linear") as error:
        F.linear(te.ones(*input_shape), te.ones(*weight_shape))
    assert str(input_shape) in str(error.value) and str(weight_shape) in str(error.value)
    with pytest.raises(RuntimeError, match=r"linear.*\(2, 5\)"):
        nn.Linear(3, 4)(te.ones(2, 5))


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics(p: float) -> None:
    te.manual_seed(1234)
    count = 200_000
    output = F.dropout(te.ones(count, dtype=te.float64), p).numpy()
    dropped = output == 0
    assert abs(dropped.mean() - p) < 5 * math.sqrt(p * (1 - p) / count)  # a 5-sigma band
    np.testing.assert_allclose(output[~dropped], 1 / (1 - p), rtol=1e-15)  # the rest scaled by 1/(1-p)
    assert abs(output.mean() - 1) < 5 * math.sqrt(p / (1 - p) / count)  # the expectation is kept


def test_dropout_is_reproducible_with_manual_seed_and_its_gradient_is_the_mask() -> None:
    masks = []
    for seed in (7, 7, 8):
        te.manual_seed(seed)
        values = te.full((50,), 2.0, dtype=te.float64, requires_grad=True)
        output = nn.Dropout(0.4)(values)
        output.sum().backward()
        np.testing.assert_allclose(values.grad.numpy(), output.detach().numpy() / 2.0)  # mask / (1 - p)
        masks.append(output.detach().numpy() != 0)
    assert np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[0], masks[2])


def test_dropout_identity_and_extremes() -> None:
    values = te.randn(3, 4)
    layer = nn.Dropout(0.5)
    layer.eval()
    for output in (layer(values), F.dropout(values, 0.5, training=False), F.dropout(values, 0.0)):
        np.testing.assert_array_equal(output.numpy(), values.numpy())
    everything = F.dropout(te.randn(3, 4, dtype=te.float64), 1.0)
    np.testing.assert_array_equal(everything.numpy(), np.zeros((3, 4)))
    assert everything.dtype is te.float64


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_a_probability_outside_zero_one(p: float) -> None:
    with pytest.raises(ValueError, match=str(p)):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=str(p)):
        F.dropout(te.ones(2), p)


# --------------------------------------------------------------------------- one_hot
@given(data=st.data(), infer=st.booleans())
def test_one_hot_values(data: st.DataObject, infer: bool) -> None:
    classes = data.draw(st.integers(1, 5))
    shape = data.draw(shapes(0, 3, 1, 4))
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=math.prod(shape),
                                         max_size=math.prod(shape))), dtype=np.int64).reshape(shape)
    if infer:
        classes = int(labels.max()) + 1
    output = F.one_hot(te.tensor(labels), -1 if infer else classes)
    assert output.dtype is te.int64 and tuple(output.shape) == shape + (classes,)
    np.testing.assert_array_equal(output.numpy(), np.eye(classes, dtype=np.int64)[labels])


def test_one_hot_of_an_empty_tensor_with_num_classes() -> None:
    assert tuple(F.one_hot(te.tensor(np.zeros(0, dtype=np.int64)), 3).shape) == (0, 3)


@pytest.mark.parametrize("labels, num_classes", [([0, 3], 3), ([-1, 1], -1), ([-1, 1], 4)])
def test_one_hot_rejects_classes_out_of_range(labels: list[int], num_classes: int) -> None:
    with pytest.raises(RuntimeError, match="one_hot"):
        F.one_hot(te.tensor(labels), num_classes)


def test_one_hot_needs_integer_indices() -> None:
    with pytest.raises(RuntimeError, match="one_hot.*int64"):
        F.one_hot(te.tensor([1.0, 0.0]))
