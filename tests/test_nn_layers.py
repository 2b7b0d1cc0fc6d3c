"""``Linear``, ``Identity``, ``Flatten``, ``Dropout``, ``nn.init`` and ``nn.summary``.

Distributions are checked statistically on large tensors drawn after a fixed
``manual_seed``: a bound must hold for every element, a mean or standard deviation must
land within a few standard errors of the formula (so a wrong constant, e.g. ``fan_out``
for ``fan_in``, fails). ``Module`` itself is tested in ``test_nn_module.py``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as te
from tinygrad_edu import nn
from tinygrad_edu.nn import init


def values(tensor: te.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


def assert_std(array: np.ndarray, expected: float, rtol: float = 0.03) -> None:
    assert abs(array.std() - expected) <= rtol * expected, f"std {array.std():.6g}, expected {expected:.6g}"


def assert_mean(array: np.ndarray, expected: float, std: float) -> None:
    tolerance = 6 * std / math.sqrt(array.size)  # six standard errors
    assert abs(array.mean() - expected) <= tolerance, f"mean {array.mean():.6g}, expected {expected:.6g}"


# --- Linear ---------------------------------------------------------------------------------


def test_linear_parameters_and_forward() -> None:
    te.manual_seed(0)
    layer = nn.Linear(3, 2)
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    assert layer.weight.requires_grad and layer.weight.is_leaf and layer.weight.dtype == te.float32
    assert (layer.in_features, layer.out_features) == (3, 2)
    x = te.randn(5, 3)
    expected = values(x) @ values(layer.weight).T + values(layer.bias)
    np.testing.assert_allclose(values(layer(x)), expected, rtol=1e-6, atol=1e-6)
    upstream = te.randn(5, 2)
    layer(x).backward(upstream)
    np.testing.assert_allclose(values(layer.weight.grad), values(upstream).T @ values(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values(layer.bias.grad), values(upstream).sum(axis=0), rtol=1e-5, atol=1e-6)


def test_linear_without_bias_and_on_batched_input() -> None:
    te.manual_seed(1)
    layer = nn.Linear(4, 5, bias=False, dtype=te.float64)
    assert layer.bias is None and [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.dtype == te.float64
    x = te.randn(2, 3, 4, dtype=te.float64)
    output = layer(x)
    assert output.shape == (2, 3, 5)
    np.testing.assert_allclose(values(output), values(x) @ values(layer.weight).T, rtol=1e-12)


def test_linear_wrong_input_size_names_both_shapes() -> None:
    layer = nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as error:
        layer(te.ones(4, 5))
    message = str(error.value)
    assert "(4, 5)" in message or "4x5" in message
    assert "(2, 3)" in message or "3x2" in message


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in() -> None:
    te.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    weight, bias = values(layer.weight), values(layer.bias)
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.99 * bound  # the whole interval is used, not a narrower one
    assert_std(weight, 1 / math.sqrt(3 * 400))
    assert_mean(weight, 0.0, 1 / math.sqrt(3 * 400))
    te.manual_seed(0)
    np.testing.assert_array_equal(values(nn.Linear(400, 300).weight), weight)  # reproducible


# --- Identity, Flatten, Dropout -------------------------------------------------------------


def test_identity_returns_its_input() -> None:
    x = te.randn(2, 3)
    assert nn.Identity()(x) is x
    assert nn.Identity(54, unused="argument")(x) is x
    assert list(nn.Identity().parameters()) == []


@pytest.mark.parametrize(("start_dim", "end_dim", "shape"), [
    (1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (-3, -2, (2, 12, 5)), (2, 3, (2, 3, 20)), (0, 0, (2, 3, 4, 5)),
])
def test_flatten(start_dim: int, end_dim: int, shape: tuple[int, ...]) -> None:
    x = te.arange(120.0).reshape(2, 3, 4, 5)
    output = nn.Flatten(start_dim, end_dim)(x)
    assert output.shape == shape
    np.testing.assert_array_equal(values(output).ravel(), np.arange(120.0))
    assert nn.Flatten()(x).shape == (2, 60)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_in_training_zeroes_p_and_scales_the_rest(p: float) -> None:
    te.manual_seed(0)
    x = te.ones(200, 500, requires_grad=True)
    output = nn.Dropout(p)(x)
    kept = values(output) != 0
    assert abs((~kept).mean() - p) < 0.01
    np.testing.assert_allclose(values(output)[kept], 1 / (1 - p), rtol=1e-6)
    output.sum().backward()
    np.testing.assert_allclose(values(x.grad), values(output), rtol=1e-6)  # the same mask and scale


def test_dropout_in_eval_and_edge_probabilities() -> None:
    te.manual_seed(0)
    x = te.randn(50, 40)
    dropout = nn.Dropout(0.5)
    assert dropout.eval() is dropout
    np.testing.assert_array_equal(values(dropout(x)), values(x))
    np.testing.assert_array_equal(values(nn.Dropout(0.0)(x)), values(x))
    assert np.all(values(nn.Dropout(1.0)(x)) == 0.0)
    model = nn.Sequential(nn.Linear(40, 40), nn.Dropout(0.5))
    model.eval()
    np.testing.assert_array_equal(values(model(x)), values(model(x)))
    model.train()
    assert not np.array_equal(values(model(x)), values(model(x)))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)


# --- nn.init --------------------------------------------------------------------------------


def large(*shape: int) -> te.Tensor:
    return te.empty(*shape)


@pytest.mark.parametrize(("name", "param", "gain"), [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", 0, math.sqrt(2)), ("selu", None, 0.75),
])
def test_calculate_gain(name: str, param: float | None, gain: float) -> None:
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-12)


def test_calculate_gain_rejects_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def test_uniform_normal_and_constants() -> None:
    te.manual_seed(0)
    tensor = large(300, 200)
    assert init.uniform_(tensor, -2.0, 3.0) is tensor
    array = values(tensor)
    assert array.min() >= -2.0 and array.max() <= 3.0
    assert_std(array, 5 / math.sqrt(12))
    assert_mean(array, 0.5, 5 / math.sqrt(12))
    default = values(init.uniform_(large(100, 100)))
    assert default.min() >= 0.0 and default.max() <= 1.0
    array = values(init.normal_(tensor, 1.5, 0.5))
    assert_std(array, 0.5)
    assert_mean(array, 1.5, 0.5)
    assert_std(values(init.normal_(large(300, 200))), 1.0)
    assert np.all(values(init.zeros_(tensor)) == 0.0)
    assert np.all(values(init.ones_(tensor)) == 1.0)
    assert np.all(values(init.constant_(tensor, 0.3)) == np.float32(0.3))


def test_init_on_a_parameter_records_no_graph() -> None:
    param = nn.Parameter(te.zeros(30, 20))
    for fill in (init.xavier_uniform_, init.kaiming_normal_, init.ones_, lambda t: init.normal_(t, 0.0, 2.0)):
        assert fill(param) is param
        assert param.is_leaf and param.requires_grad and param.grad_fn is None


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain: float) -> None:
    te.manual_seed(2)
    fan_out, fan_in = 300, 200
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    array = values(init.xavier_uniform_(large(fan_out, fan_in), gain=gain))
    assert np.abs(array).max() <= bound and np.abs(array).max() > 0.99 * bound
    assert_std(array, bound / math.sqrt(3))
    array = values(init.xavier_normal_(large(fan_out, fan_in), gain=gain))
    assert_std(array, gain * math.sqrt(2 / (fan_in + fan_out)))
    assert_mean(array, 0.0, gain * math.sqrt(2 / (fan_in + fan_out)))


@pytest.mark.parametrize(("a", "mode", "nonlinearity"), [
    (0.0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"), (0.0, "fan_out", "relu"),
    (0.1, "fan_out", "leaky_relu"), (0.0, "fan_in", "tanh"), (0.0, "fan_in", "linear"),
])
def test_kaiming(a: float, mode: str, nonlinearity: str) -> None:
    te.manual_seed(3)
    shape = (120, 40, 3, 3)  # a convolution weight: fan_in = 40*9, fan_out = 120*9
    fan = 40 * 9 if mode == "fan_in" else 120 * 9
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    array = values(init.kaiming_uniform_(large(*shape), a=a, mode=mode, nonlinearity=nonlinearity))
    assert np.abs(array).max() <= math.sqrt(3) * std and np.abs(array).max() > 0.99 * math.sqrt(3) * std
    assert_std(array, std)
    array = values(init.kaiming_normal_(large(*shape), a=a, mode=mode, nonlinearity=nonlinearity))
    assert_std(array, std)
    assert_mean(array, 0.0, std)


def test_kaiming_default_arguments() -> None:
    te.manual_seed(4)
    array = values(init.kaiming_normal_(large(500, 200)))  # a=0, fan_in, leaky_relu: std sqrt(2 / fan_in)
    assert_std(array, math.sqrt(2 / 200))


@pytest.mark.parametrize("fill", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                  init.kaiming_normal_])
def test_fan_based_init_refuses_one_dimensional_tensors(fill) -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fill(te.zeros(5))


def test_kaiming_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(te.zeros(3, 3), mode="fan_avg")


# --- summary --------------------------------------------------------------------------------


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))


def test_summary_of_the_2_10_10_1_mlp_counts_151_parameters() -> None:
    printed: list[str] = []
    result = nn.summary(mlp(), (2,), print_fn=printed.append)
    rows = [(row.name, row.kind, row.output_shape, row.params) for row in result.layers]
    assert rows == [("0", "Linear", [-1, 10], 30), ("1", "ReLU", [-1, 10], 0), ("2", "Linear", [-1, 10], 110),
                    ("3", "ReLU", [-1, 10], 0), ("4", "Linear", [-1, 1], 11)]
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (151, 151, 0)
    assert len(printed) == 1 and "Total params: 151" in printed[0] and "Linear" in printed[0]
    assert str(result) == printed[0]
    assert mlp().summary((2,), batch_size=4, print_fn=None).layers[-1].output_shape == [4, 1]


def test_summary_counts_non_trainable_parameters_separately() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 4)
            self.frozen = nn.Parameter(te.ones(4), requires_grad=False)
            self.flat = nn.Flatten()

        def forward(self, x: te.Tensor) -> te.Tensor:
            return self.flat(self.fc(x) * self.frozen)

    result = nn.summary(Scaled(), (5, 3), print_fn=None)
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (20, 16, 4)
    assert [(row.name, row.output_shape, row.params) for row in result.layers] == [
        ("fc", [-1, 5, 4], 16), ("flat", [-1, 20], 0)]


def test_summary_leaves_no_hook_and_keeps_a_uniform_mode() -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    result = nn.summary(model, (2,), print_fn=None)
    assert all(module.training for module in model.modules())
    model(te.ones(3, 2))
    assert len(result.layers) == 3  # no hook left behind to record this call
    model.eval()
    nn.summary(model, (2,), print_fn=None)
    assert not any(module.training for module in model.modules())


def test_summary_keeps_a_mixed_training_mode() -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    model[1].eval()  # e.g. a frozen part of a model being fine-tuned
    nn.summary(model, (2,), print_fn=None)
    assert [module.training for module in model.modules()] == [True, True, False, True]


# --- a property over random MLPs ------------------------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=12), min_size=2, max_size=6))
def test_mlp_parameter_count_and_names(sizes: list[int]) -> None:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    assert sum(p.numel() for p in model.parameters()) == sum(i * o + o for i, o in itertools.pairwise(sizes))
    expected = [f"{2 * index}.{kind}" for index in range(len(sizes) - 1) for kind in ("weight", "bias")]
    assert [name for name, _ in model.named_parameters()] == expected
    assert list(model.state_dict()) == expected
    assert nn.summary(model, (sizes[0],), print_fn=None).total_params == sum(p.numel() for p in model.parameters())
