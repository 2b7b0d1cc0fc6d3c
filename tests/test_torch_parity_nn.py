"""PyTorch parity of ``nn.Module``: the same architecture, written once as a function of the
library (``build(lib, nn)``), must give PyTorch's parameter names, ``state_dict`` keys and
order, shapes, module names, buffers and ``repr``; loaded with PyTorch's weights it must
compute PyTorch's outputs; ``load_state_dict`` must report the same keys; ``Linear`` and
``nn.init`` must draw from the same distributions.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te
import tinygrad_edu.nn as te_nn

LIBRARIES = {"torch": (torch, torch.nn), "tinygrad_edu": (te, te_nn)}


def mlp(lib: ModuleType, nn: ModuleType) -> Any:
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))


def named_mlp(lib: ModuleType, nn: ModuleType) -> Any:
    return nn.Sequential(OrderedDict([
        ("hidden", nn.Linear(3, 8)), ("act", nn.GELU()), ("drop", nn.Dropout(0.1)),
        ("out", nn.Linear(8, 2, bias=False)), ("prob", nn.Softmax(dim=1)),
    ]))


def flatten_net(lib: ModuleType, nn: ModuleType) -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.LeakyReLU(0.2), nn.Identity(), nn.Linear(4, 3),
                         nn.LogSoftmax(dim=1))


def composite(lib: ModuleType, nn: ModuleType) -> Any:
    class Composite(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(lib.ones(2))
            self.stem = nn.Sequential(nn.Linear(3, 6), nn.ReLU())
            self.blocks = nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6, bias=False), nn.ELU()])
            self.heads = nn.ModuleDict({"mean": nn.Linear(6, 2), "scale": nn.Linear(6, 2)})
            self.register_buffer("offset", lib.full((2,), 0.5))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x: Any) -> Any:
            hidden = self.stem(x)
            for block in self.blocks:
                hidden = block(hidden)
            return self.heads["mean"](hidden) * self.gain + self.heads["scale"](hidden).sigmoid() + self.offset

    return Composite()


def nested(lib: ModuleType, nn: ModuleType) -> Any:
    class Block(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.fc = nn.Linear(width, width)
            self.norm_scale = nn.Parameter(lib.ones(width))
            self.register_buffer("shift", lib.full((width,), 0.25))

        def forward(self, x: Any) -> Any:
            return (self.fc(x) * self.norm_scale + self.shift).tanh() + x

    class Tower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(3, 4)
            self.first = Block(4)
            self.body = nn.Sequential(Block(4), nn.Dropout(0.2), Block(4))
            self.readout = nn.Sequential(OrderedDict([("fc", nn.Linear(4, 1)), ("act", nn.Sigmoid())]))

        def forward(self, x: Any) -> Any:
            return self.readout(self.body(self.first(self.embed(x))))

    return Tower()


ARCHITECTURES: dict[str, tuple[Callable[[ModuleType, ModuleType], Any], tuple[int, ...]]] = {
    "mlp": (mlp, (5, 3)),
    "named_mlp": (named_mlp, (5, 3)),
    "flatten_net": (flatten_net, (5, 3, 4)),
    "composite": (composite, (5, 3)),
    "nested": (nested, (5, 3)),
}


def build_both(name: str) -> tuple[Any, Any]:
    build, _ = ARCHITECTURES[name]
    return build(*LIBRARIES["torch"]), build(*LIBRARIES["tinygrad_edu"])


def as_te_state(torch_state: dict[str, Any]) -> dict[str, te.Tensor]:
    return {key: te.tensor(value.detach().numpy()) for key, value in torch_state.items()}


def names(pairs) -> list[str]:
    return [name for name, _ in pairs]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_names_keys_shapes_and_modules_match(name: str) -> None:
    reference, model = build_both(name)
    assert names(model.named_parameters()) == names(reference.named_parameters())
    assert list(model.state_dict()) == list(reference.state_dict())
    assert names(model.named_buffers()) == names(reference.named_buffers())
    assert names(model.named_modules()) == names(reference.named_modules())
    assert names(model.named_children()) == names(reference.named_children())
    for (key, param), (_, torch_param) in zip(model.named_parameters(), reference.named_parameters()):
        assert tuple(param.shape) == tuple(torch_param.shape), key
        assert param.requires_grad == torch_param.requires_grad, key
    for (key, value), torch_value in zip(model.state_dict().items(), reference.state_dict().values()):
        assert tuple(value.shape) == tuple(torch_value.shape), key
        assert value.requires_grad == torch_value.requires_grad, key


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_repr_matches(name: str) -> None:
    reference, model = build_both(name)
    assert repr(model) == repr(reference)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_forward_with_pytorchs_weights_matches(name: str) -> None:
    torch.manual_seed(0)
    reference, model = build_both(name)
    reference.eval()
    model.eval()
    result = model.load_state_dict(as_te_state(reference.state_dict()))
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    x = np.random.default_rng(0).standard_normal(ARCHITECTURES[name][1]).astype(np.float32)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    output = model(te.tensor(x))
    assert output.dtype == te.float32
    np.testing.assert_allclose(output.detach().numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_modes_match_after_train_and_eval(name: str) -> None:
    reference, model = build_both(name)
    reference.eval()
    model.eval()
    assert [m.training for m in model.modules()] == [m.training for m in reference.modules()]
    reference.train()
    model.train()
    assert [m.training for m in model.modules()] == [m.training for m in reference.modules()]


def test_repr_of_a_module_list_with_repeated_layers_matches() -> None:
    reference = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    model = te_nn.ModuleList([te_nn.Linear(2, 2) for _ in range(3)] + [te_nn.ReLU()])
    assert repr(model) == repr(reference)


def tied(lib: ModuleType, nn: ModuleType) -> Any:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.decoder.weight = self.encoder.weight
            self.again = self.encoder

    return Tied()


def test_shared_parameters_and_modules_match() -> None:
    reference, model = tied(*LIBRARIES["torch"]), tied(*LIBRARIES["tinygrad_edu"])
    assert names(model.named_parameters()) == names(reference.named_parameters())  # each once
    assert names(model.named_modules()) == names(reference.named_modules())
    assert list(model.state_dict()) == list(reference.state_dict())  # every name, as PyTorch saves it
    assert repr(model) == repr(reference)


# --- load_state_dict errors -----------------------------------------------------------------


def load_error(model: Any, state: dict[str, Any], strict: bool = True) -> str:
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state, strict=strict)
    return str(error.value)


def quoted(message: str) -> list[str]:
    return re.findall(r'"([^"]+)"', message)


def broken_states(torch_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """PyTorch's state_dict with a key removed, one renamed and one added, for both libraries."""
    state = OrderedDict(torch_model.state_dict())
    del state["gain"]
    state["stem.0.weights"] = state.pop("stem.0.weight")
    state["heads.extra.bias"] = torch.zeros(2)
    return state, as_te_state(state)


def test_load_state_dict_missing_and_unexpected_keys_match() -> None:
    reference, model = build_both("composite")
    torch_state, te_state = broken_states(reference)
    torch_message, message = load_error(reference, torch_state), load_error(model, te_state)
    assert quoted(message) == quoted(torch_message)
    for part in ("Missing key(s) in state_dict", "Unexpected key(s) in state_dict", "Composite"):
        assert part in message
    assert tuple(model.load_state_dict(te_state, strict=False)) == tuple(
        reference.load_state_dict(torch_state, strict=False))


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_size_mismatch_matches(strict: bool) -> None:
    reference, model = build_both("nested")
    torch_state = reference.state_dict()
    torch_state["body.2.fc.weight"] = torch.zeros(4, 3)
    torch_message = load_error(reference, torch_state, strict)
    message = load_error(model, as_te_state(torch_state), strict)
    key_pattern = r"size mismatch for ([\w.]+)"
    assert re.findall(key_pattern, message) == re.findall(key_pattern, torch_message) == ["body.2.fc.weight"]
    assert "4, 3" in message and "4, 4" in message


# --- initialisation -------------------------------------------------------------------------


def test_linear_default_init_matches_pytorchs_distribution() -> None:
    torch.manual_seed(0)
    te.manual_seed(0)
    reference, layer = torch.nn.Linear(300, 400), te_nn.Linear(300, 400)
    bound = 1 / math.sqrt(300)
    quantiles = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    for what in ("weight", "bias"):
        ours = getattr(layer, what).detach().numpy()
        theirs = getattr(reference, what).detach().numpy()
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        tolerance = 0.05 * bound if what == "weight" else 0.25 * bound  # 400 biases are few
        np.testing.assert_allclose(np.quantile(ours, quantiles), np.quantile(theirs, quantiles), atol=tolerance)
    assert reference.weight.detach().numpy().std() == pytest.approx(layer.weight.detach().numpy().std(), rel=0.03)


INIT_CASES = [
    ("xavier_uniform_", {"gain": 1.5}), ("xavier_normal_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}), ("kaiming_normal_", {}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out"}), ("uniform_", {"a": -1.0, "b": 2.0}),
    ("normal_", {"mean": 0.5, "std": 0.1}),
]


@pytest.mark.parametrize(("function", "kwargs"), INIT_CASES, ids=[f"{f}{sorted(k.items())}" for f, k in INIT_CASES])
def test_init_functions_match_pytorchs_scale(function: str, kwargs: dict[str, Any]) -> None:
    torch.manual_seed(0)
    te.manual_seed(0)
    shape = (64, 32, 3, 3)
    theirs = getattr(torch.nn.init, function)(torch.empty(shape), **kwargs).numpy()
    ours = getattr(te_nn.init, function)(te.empty(*shape), **kwargs).numpy()
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert ours.mean() == pytest.approx(theirs.mean(), abs=0.05 * theirs.std())
    assert abs(ours).max() <= 1.01 * abs(theirs).max() or function.endswith("normal_")


@pytest.mark.parametrize("nonlinearity", ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
def test_calculate_gain_matches(nonlinearity: str) -> None:
    assert te_nn.init.calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity))
    assert te_nn.init.calculate_gain("leaky_relu", 0.3) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.3))
