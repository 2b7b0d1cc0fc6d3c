"""``nn.Module`` and its containers: how a model finds, names, saves, loads and prints its parts.

The expected names, orders, error texts and ``repr`` strings are PyTorch's (checked against
PyTorch 2.x by hand and by ``test_torch_parity_nn.py`` where torch is installed); this file
needs no torch. Layers, ``nn.init`` and ``summary`` are tested in ``test_nn_layers.py``.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu import nn


def names(pairs) -> list[str]:
    return [name for name, _ in pairs]


def make_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))


class Block(nn.Module):
    """A custom module holding a child module, a parameter and two buffers."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.scale = nn.Parameter(te.ones(width))
        self.fc = nn.Linear(width, width)
        self.register_buffer("running", te.zeros(width))
        self.register_buffer("scratch", te.zeros(width), persistent=False)

    def forward(self, x: te.Tensor) -> te.Tensor:
        return self.fc(x) * self.scale + self.running


class Tower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = Block()
        self.stack = nn.Sequential(Block(), nn.ReLU(), Block())
        self.last = nn.Linear(3, 1)

    def forward(self, x: te.Tensor) -> te.Tensor:
        return self.last(self.stack(self.first(x)))


# --- discovery and naming -----------------------------------------------------------------


def test_parameters_found_through_attributes_with_dotted_names() -> None:
    model = Tower()
    assert names(model.named_parameters()) == [
        "first.scale", "first.fc.weight", "first.fc.bias",
        "stack.0.scale", "stack.0.fc.weight", "stack.0.fc.bias",
        "stack.2.scale", "stack.2.fc.weight", "stack.2.fc.bias",
        "last.weight", "last.bias",
    ]
    assert all(p is q for p, q in zip(model.parameters(), (param for _, param in model.named_parameters())))
    assert names(model.named_modules()) == ["", "first", "first.fc", "stack", "stack.0", "stack.0.fc", "stack.1",
                                            "stack.2", "stack.2.fc", "last"]
    assert names(model.named_children()) == ["first", "stack", "last"]
    assert [type(child).__name__ for child in model.children()] == ["Block", "Sequential", "Linear"]
    assert len(list(model.modules())) == 10
    assert names(model.named_parameters(recurse=False)) == []
    assert names(model.first.named_parameters(recurse=False)) == ["scale"]
    assert names(model.named_parameters(prefix="net"))[0] == "net.first.scale"


def test_sequential_names_indexing_slicing_and_append() -> None:
    te.manual_seed(0)
    model = make_mlp()
    assert names(model.named_parameters()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert len(model) == 5 and isinstance(model[0], nn.Linear) and model[-1] is model[4]
    assert [type(layer).__name__ for layer in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    head = model[2:]
    assert isinstance(head, nn.Sequential) and head[0] is model[2]
    assert names(head.named_parameters()) == ["2.weight", "2.bias", "4.weight", "4.bias"]  # keys kept, as PyTorch
    with pytest.raises(IndexError):
        model[5]
    x = te.randn(4, 2)
    expected = model[4](model[3](model[2](model[1](model[0](x)))))
    np.testing.assert_allclose(model(x).detach().numpy(), expected.detach().numpy())
    model.append(nn.Sigmoid())
    assert len(model) == 6 and names(model.named_children())[-1] == "5"
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 4)), ("act", nn.Tanh()), ("out", nn.Linear(4, 1))]))
    assert names(named.named_parameters()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert named.hidden is named[0]
    with pytest.raises(TypeError):
        nn.Sequential(nn.Linear(1, 1), "not a module")


def test_module_list_and_module_dict() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 3)])
            self.heads = nn.ModuleDict({"left": nn.Linear(3, 1), "right": nn.Linear(3, 2, bias=False)})

    net = Net()
    assert names(net.named_parameters()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                             "heads.left.weight", "heads.left.bias", "heads.right.weight"]
    net.layers.append(nn.Linear(3, 4))
    net.layers.extend([nn.ReLU()])
    net.layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in net.layers] == ["Identity", "Linear", "Linear", "Linear", "ReLU"]
    assert names(net.layers.named_children()) == ["0", "1", "2", "3", "4"]
    assert names(net.layers[1:3].named_children()) == ["0", "1"]  # a ModuleList slice is renumbered
    net.layers[4] = nn.Tanh()
    assert isinstance(net.layers[-1], nn.Tanh) and len(net.layers) == 5
    assert "left" in net.heads and net.heads.keys() == ["left", "right"] and list(net.heads) == ["left", "right"]
    del net.heads["left"]
    assert names(net.heads.named_parameters()) == ["right.weight"]
    with pytest.raises(NotImplementedError):
        net.layers(te.ones(1, 2))  # a ModuleList has no forward


def test_plain_lists_and_dicts_of_modules_and_parameters_are_found() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 3), nn.Linear(3, 1)]
            self.branches = {"enc": nn.Linear(1, 2)}
            self.scales = [nn.Parameter(te.ones(2)), nn.Parameter(te.zeros(3))]
            self.extra = {"alpha": nn.Parameter(te.ones(1))}
            self.sizes = [2, 3, 1]  # not modules: ignored

    net = Net()
    found = names(net.named_parameters())
    # PyTorch has no order for plain containers (it does not see them): only the names are checked,
    # and that each container's entries come in their own order.
    assert sorted(found) == sorted(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                    "branches.enc.weight", "branches.enc.bias", "scales.0", "scales.1", "extra.alpha"])
    layer_names = [name for name in found if name.startswith("layers.")]
    assert layer_names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert [name for name in found if name.startswith("scales.")] == ["scales.0", "scales.1"]
    assert len(found) == 9 and set(net.state_dict()) == set(found)
    assert {"layers.0", "layers.1", "branches.enc"} <= set(names(net.named_modules()))
    net.eval()
    assert not net.layers[1].training and not net.branches["enc"].training


def test_shared_parameters_are_listed_once() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.decoder.weight = self.encoder.weight
            self.again = self.encoder  # the same module twice

    tied = Tied()
    assert names(tied.named_parameters()) == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert len(list(tied.parameters())) == 3
    assert names(tied.named_modules()) == ["", "encoder", "decoder"]


# --- registration rules -------------------------------------------------------------------


def test_reassigning_a_name_keeps_its_place() -> None:
    layer = nn.Linear(2, 2)
    layer.weight = nn.Parameter(te.zeros(2, 2))
    assert list(layer.state_dict()) == ["weight", "bias"]  # PyTorch replaces in place
    tower = Tower()
    tower.first = Block()
    assert names(tower.named_children()) == ["first", "stack", "last"]
    layers = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    layers[0] = nn.Tanh()
    assert isinstance(layers[0], nn.Tanh) and isinstance(layers[1], nn.ReLU)


def test_sequential_item_assignment() -> None:
    model = make_mlp()
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh) and names(model.named_children()) == ["0", "1", "2", "3", "4"]


def test_register_buffer_persistent_and_not() -> None:
    block = Block()
    assert names(block.named_buffers()) == ["running", "scratch"]
    assert all(buffer is not param for buffer in block.buffers() for param in block.parameters())
    assert "running" not in names(block.named_parameters())
    assert list(block.state_dict()) == ["scale", "running", "fc.weight", "fc.bias"]  # own params, buffers, children
    block.running = te.full((3,), 2.0)  # assigning a tensor to a buffer's name replaces the buffer
    assert block.state_dict()["running"].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(KeyError):
        block.register_buffer("a.b", te.zeros(1))
    with pytest.raises(TypeError):
        block.register_buffer("bad", [1.0, 2.0])


def test_register_parameter_none_and_assignment_errors() -> None:
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert names(layer.named_parameters()) == ["weight"] and list(layer.state_dict()) == ["weight"]
    layer.register_parameter("bias", nn.Parameter(te.zeros(2)))
    assert names(layer.named_parameters()) == ["weight", "bias"]
    with pytest.raises(TypeError):
        layer.weight = te.zeros(2, 3)  # a plain Tensor on a parameter's name, as PyTorch refuses

    class Early(nn.Module):
        def __init__(self) -> None:
            self.weight = nn.Parameter(te.ones(1))
            super().__init__()

    with pytest.raises(AttributeError, match="__init__"):
        Early()


def test_getattr_unknown_name_raises_naming_it() -> None:
    layer = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        _ = layer.wieght
    assert getattr(layer, "missing", "default") == "default"


def test_delattr_removes_parameters_children_and_plain_attributes() -> None:
    layer = nn.Linear(2, 2)
    del layer.bias
    assert names(layer.named_parameters()) == ["weight"]
    with pytest.raises(AttributeError, match="bias"):
        _ = layer.bias
    tower = Tower()
    del tower.stack
    assert names(tower.named_children()) == ["first", "last"]
    tower.note = "plain"
    del tower.note
    assert not hasattr(tower, "note")


# --- state_dict and load_state_dict -------------------------------------------------------


def test_state_dict_values_are_detached_and_share_memory() -> None:
    layer = nn.Linear(3, 2)
    state = layer.state_dict()
    assert list(state) == ["weight", "bias"]
    assert not state["weight"].requires_grad and state["weight"].grad_fn is None
    state["weight"].fill_(0.5)
    assert np.all(layer.weight.detach().numpy() == 0.5)
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight


def test_load_state_dict_round_trip_copies_values() -> None:
    te.manual_seed(1)
    source, target = Tower(), Tower()
    source.first.running.fill_(7.0)
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    weight_before = target.last.weight
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].detach().numpy(), value.detach().numpy(), err_msg=key)
    source.last.weight.detach().fill_(3.0)  # copied, not shared
    assert not np.any(target.last.weight.detach().numpy() == 3.0)
    assert target.last.weight is weight_before and target.last.weight.requires_grad and target.last.weight.is_leaf
    fresh = Tower()
    fresh.load_state_dict(target.state_dict())
    x = te.randn(2, 3)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), target(x).detach().numpy())


def test_load_state_dict_missing_and_unexpected_keys() -> None:
    model = make_mlp()
    state = model.state_dict()
    del state["2.bias"]
    state["9.weight"] = te.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert 'Missing key(s) in state_dict: "2.bias"' in message
    assert 'Unexpected key(s) in state_dict: "9.weight"' in message
    assert "Sequential" in message


def test_load_state_dict_not_strict_returns_the_keys_and_loads_the_rest() -> None:
    model = make_mlp()
    state = {"0.weight": te.ones(10, 2), "extra": te.zeros(2)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.bias", "2.weight", "2.bias", "4.weight", "4.bias"] and unexpected == ["extra"]
    assert np.all(model[0].weight.detach().numpy() == 1.0)


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_shape_mismatch_always_raises(strict: bool) -> None:
    model = make_mlp()
    state = model.state_dict()
    state["2.weight"] = te.zeros(10, 3)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state, strict=strict)
    message = str(error.value)
    assert "size mismatch for 2.weight" in message and "10, 3" in message and "10, 10" in message


def test_load_state_dict_into_float32_keeps_dtype() -> None:
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": te.ones(2, 2, dtype=te.float64), "bias": te.zeros(2, dtype=te.float64)})
    assert layer.weight.dtype == te.float32 and np.all(layer.weight.detach().numpy() == 1.0)


# --- modes, gradients, apply, dtype conversion, hooks -------------------------------------


def test_train_and_eval_are_recursive() -> None:
    model = Tower()
    assert all(module.training for module in model.modules())
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())
    model.train(False)
    assert not model.stack[1].training


def test_zero_grad_set_to_none_and_to_zeros() -> None:
    layer = nn.Linear(3, 2)
    layer(te.ones(4, 3)).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    layer(te.ones(4, 3)).sum().backward()
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad.shape == (2, 3) and np.all(layer.weight.grad.detach().numpy() == 0.0)
    assert not layer.weight.grad.requires_grad
    layer(te.ones(4, 3)).sum().backward()
    np.testing.assert_allclose(layer.bias.grad.detach().numpy(), [4.0, 4.0])  # accumulates from zero


def test_apply_visits_children_first_and_can_initialise() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    visited: list[str] = []
    assert model.apply(lambda module: visited.append(type(module).__name__)) is model
    assert visited == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.weight, 0.25)
            nn.init.zeros_(module.bias)

    model.apply(init_weights)
    assert all(np.all(p.detach().numpy() == (0.25 if name.endswith("weight") else 0.0)) for name, p in model.named_parameters())


def test_to_double_changes_floating_parameters_and_buffers() -> None:
    block = Block()
    block.register_buffer("steps", te.zeros(1, dtype=te.int64))
    weight = block.fc.weight
    assert block.double() is block
    assert block.fc.weight is weight  # converted in place, as PyTorch does
    assert all(p.dtype == te.float64 and p.requires_grad and p.is_leaf for p in block.parameters())
    assert block.running.dtype == te.float64 and block.scratch.dtype == te.float64
    assert block.steps.dtype == te.int64  # integer buffers keep their dtype
    assert block(te.ones(2, 3, dtype=te.float64)).dtype == te.float64
    block.to(te.float32)
    assert block.fc.bias.dtype == te.float32 and block.float() is block
    with pytest.raises(TypeError):
        block.to(te.int64)


def test_requires_grad_() -> None:
    model = make_mlp()
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_forward_hooks_see_and_may_replace_the_output() -> None:
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda module, args, output: seen.append((module, args, output)))
    x = te.ones(1, 2)
    output = layer(x)
    assert len(seen) == 1 and seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is output
    handle.remove()
    layer(x)
    assert len(seen) == 1
    replacing = layer.register_forward_hook(lambda module, args, output: output * 0)
    assert np.all(layer(x).detach().numpy() == 0.0)
    replacing.remove()


# --- repr -------------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Dropout(0.25))
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 1, bias=False), "b": nn.Identity()})
        self.flat = nn.Flatten()


def test_repr_is_pytorchs_tree() -> None:
    assert repr(nn.Linear(2, 3)) == "Linear(in_features=2, out_features=3, bias=True)"
    assert repr(Net()) == (
        "Net(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Dropout(p=0.25, inplace=False)\n"
        "  )\n"
        "  (heads): ModuleDict(\n"
        "    (a): Linear(in_features=4, out_features=1, bias=False)\n"
        "    (b): Identity()\n"
        "  )\n"
        "  (flat): Flatten(start_dim=1, end_dim=-1)\n"
        ")"
    )


def test_repr_puts_extra_repr_before_children() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self) -> str:
            return "factor=3"

    assert repr(Scaled()) == "Scaled(\n  factor=3\n  (fc): Linear(in_features=1, out_features=1, bias=True)\n)"


def test_repr_of_module_list_groups_repeated_layers() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Linear(in_features=2, out_features=2, bias=True)\n"
        ")"
    )


def test_repr_and_state_dict_list_a_shared_module_under_each_name() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(1, 1)
            self.b = self.a

    twice = Twice()
    assert repr(twice) == (
        "Twice(\n  (a): Linear(in_features=1, out_features=1, bias=True)\n"
        "  (b): Linear(in_features=1, out_features=1, bias=True)\n)"
    )
    assert list(twice.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert names(twice.named_parameters()) == ["a.weight", "a.bias"]
