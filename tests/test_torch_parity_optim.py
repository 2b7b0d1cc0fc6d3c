"""PyTorch parity of the optimizers and learning-rate schedules.

The same float32 initial weights and the same gradients go to a tinygrad_edu optimizer and
to PyTorch's; after every step the parameters must agree to float32 rounding. The
schedules must give the same learning rates epoch by epoch (also past ``T_max``, chained
with each other, and after someone sets the lr by hand), and the optimizers' state dicts
must have PyTorch's structure: the same parameter indices and per-parameter state keys.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te  # noqa: E402
from tinygrad_edu import nn as te_nn  # noqa: E402
from tinygrad_edu import optim as te_optim  # noqa: E402

SHAPES = [(4, 3), (4,)]
STEPS = 8
SCALES = [3.0, 1.0, 0.2, 2.0, 0.1, 1.0, 0.5, 4.0]  # sizes that rise and fall, so amsgrad matters
RTOL, ATOL = 1e-6, 1e-6
# Group settings that only steer PyTorch's kernels (multi-tensor, fused, CUDA graphs, autograd
# through the step); tinygrad_edu has one implementation, so it has no such keys.
KERNEL_FLAGS = {"foreach", "fused", "capturable", "differentiable"}
# Keys tinygrad_edu's groups may lack: only those flags (``decoupled_weight_decay`` is there:
# Adam takes it as PyTorch's does).
KNOWN_MISSING = KERNEL_FLAGS

CASES = [
    ("SGD", "plain", dict(lr=0.1)),
    ("SGD", "momentum", dict(lr=0.1, momentum=0.9)),
    ("SGD", "dampening", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", "weight_decay", dict(lr=0.1, weight_decay=0.2)),
    ("SGD", "weight_decay_momentum", dict(lr=0.1, momentum=0.5, weight_decay=0.2)),
    ("SGD", "nesterov", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", "maximize", dict(lr=0.1, momentum=0.9, maximize=True, weight_decay=0.1)),
    ("Adam", "default", dict()),
    ("Adam", "lr_betas_eps", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3)),
    ("Adam", "weight_decay", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", "amsgrad", dict(lr=0.05, amsgrad=True)),
    ("Adam", "maximize", dict(lr=0.05, maximize=True, weight_decay=0.1)),
    ("Adam", "decoupled_weight_decay", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),
    ("AdamW", "default", dict()),
    ("AdamW", "weight_decay", dict(lr=0.05, weight_decay=0.3)),
    ("AdamW", "amsgrad", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", "maximize", dict(lr=0.05, weight_decay=0.3, maximize=True)),
    ("RMSprop", "plain", dict(lr=0.01)),
    ("RMSprop", "alpha", dict(lr=0.01, alpha=0.9, eps=1e-4)),
    ("RMSprop", "momentum", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", "centered", dict(lr=0.01, centered=True)),
    ("RMSprop", "centered_momentum", dict(lr=0.01, centered=True, momentum=0.5)),
    ("RMSprop", "weight_decay", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", "maximize", dict(lr=0.01, maximize=True, momentum=0.5, weight_decay=0.1)),
]
CASE_PARAMS = [pytest.param(name, kwargs, id=f"{name}-{label}") for name, label, kwargs in CASES]


def initial_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]


def gradient_sequence(seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[(scale * rng.standard_normal(shape)).astype(np.float32) for shape in SHAPES] for scale in SCALES]


class Pair:
    """The same parameters and optimizer in both libraries."""

    def __init__(self, name: str, kwargs: dict[str, Any], group_lrs: tuple[float, ...] | None = None) -> None:
        arrays = initial_arrays()
        self.ours = [te.tensor(array, requires_grad=True) for array in arrays]
        self.theirs = [torch.tensor(array, requires_grad=True) for array in arrays]
        if group_lrs is None:
            self.opt = getattr(te_optim, name)(self.ours, **kwargs)
            self.torch_opt = getattr(torch.optim, name)(self.theirs, **kwargs)
        else:
            self.opt = getattr(te_optim, name)(
                [{"params": [p], "lr": lr} for p, lr in zip(self.ours, group_lrs)], **kwargs)
            self.torch_opt = getattr(torch.optim, name)(
                [{"params": [p], "lr": lr} for p, lr in zip(self.theirs, group_lrs)], **kwargs)

    def step(self, grads: list[np.ndarray | None]) -> None:
        for ours, theirs, grad in zip(self.ours, self.theirs, grads):
            ours.grad = None if grad is None else te.tensor(grad)
            theirs.grad = None if grad is None else torch.tensor(grad)
        self.opt.step()
        self.torch_opt.step()

    def assert_params_match(self, context: str) -> None:
        for index, (ours, theirs) in enumerate(zip(self.ours, self.theirs)):
            assert ours.dtype == te.float32
            np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{context}: parameter {index}")


@pytest.mark.parametrize("name, kwargs", CASE_PARAMS)
def test_parameters_match_pytorch_each_step(name: str, kwargs: dict[str, Any]) -> None:
    pair = Pair(name, kwargs)
    for step, grads in enumerate(gradient_sequence()):
        pair.step(grads)
        pair.assert_params_match(f"{name} {kwargs} after step {step + 1}")


@pytest.mark.parametrize("name, kwargs", [
    pytest.param("SGD", dict(lr=0.1, momentum=0.9), id="SGD"),
    pytest.param("Adam", dict(lr=0.05), id="Adam"),
    pytest.param("AdamW", dict(lr=0.05, weight_decay=0.1), id="AdamW"),
    pytest.param("RMSprop", dict(lr=0.01, centered=True), id="RMSprop"),
])
def test_param_groups_with_different_lr_match_pytorch(name: str, kwargs: dict[str, Any]) -> None:
    pair = Pair(name, kwargs, group_lrs=(0.3, 0.001))
    for step, grads in enumerate(gradient_sequence()):
        pair.step(grads)
        pair.assert_params_match(f"{name} with two groups after step {step + 1}")


def test_skipped_param_matches_pytorch() -> None:
    pair = Pair("Adam", dict(lr=0.05))
    for grads in gradient_sequence()[:3]:
        pair.step([grads[0], None])  # the second parameter has no gradient
    pair.assert_params_match("Adam with a parameter without grad")
    assert list(pair.opt.state_dict()["state"]) == list(pair.torch_opt.state_dict()["state"]) == [0]


def _as_numpy(value: Any) -> Any:
    return value.detach().numpy() if isinstance(value, (torch.Tensor, te.Tensor)) else value


@pytest.mark.parametrize("name, kwargs", CASE_PARAMS)
def test_state_dict_matches_pytorch(name: str, kwargs: dict[str, Any]) -> None:
    pair = Pair(name, kwargs, group_lrs=(0.1, 0.01))
    for grads in gradient_sequence()[:3]:
        pair.step(grads)
    ours, theirs = pair.opt.state_dict(), pair.torch_opt.state_dict()
    assert set(ours) == set(theirs) == {"state", "param_groups"}
    assert sorted(ours["state"]) == sorted(theirs["state"])  # the same parameter indices hold state
    for index, their_state in theirs["state"].items():
        assert set(ours["state"][index]) == set(their_state), f"state keys of parameter {index}"
        for key, their_value in their_state.items():
            our_value = ours["state"][index][key]
            assert str(our_value.dtype).split(".")[-1] == str(their_value.dtype).split(".")[-1], key
            np.testing.assert_allclose(_as_numpy(our_value), _as_numpy(their_value), rtol=1e-5, atol=1e-6,
                                       err_msg=f"state[{index}][{key!r}]")
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for our_group, their_group in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(our_group) <= set(their_group), f"keys PyTorch lacks: {set(our_group) - set(their_group)}"
        for key in set(our_group) & set(their_group):
            assert our_group[key] == their_group[key], key


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_param_group_keys_we_lack_are_only_pytorch_kernel_flags(name: str) -> None:
    p, q = te.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    ours, theirs = getattr(te_optim, name)([p]).param_groups[0], getattr(torch.optim, name)([q]).param_groups[0]
    missing = set(theirs) - set(ours)
    assert missing <= KNOWN_MISSING, f"{name} lacks PyTorch's group keys {sorted(missing - KNOWN_MISSING)}"
    for key in set(ours) & set(theirs) - {"params"}:
        assert ours[key] == theirs[key], f"{name}: default of {key!r}"


@pytest.mark.parametrize("name, kwargs", [
    pytest.param("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), id="SGD"),
    pytest.param("Adam", dict(lr=0.05, amsgrad=True), id="Adam"),
    pytest.param("RMSprop", dict(lr=0.01, momentum=0.5, centered=True), id="RMSprop"),
])
def test_pytorch_state_dict_loads_and_continues(name: str, kwargs: dict[str, Any]) -> None:
    pair = Pair(name, kwargs)
    sequence = gradient_sequence()
    for grads in sequence[:3]:
        pair.step(grads)
    theirs = pair.torch_opt.state_dict()
    converted = {
        "state": {index: {key: te.tensor(value.detach().numpy()) for key, value in state.items()}
                  for index, state in theirs["state"].items()},
        "param_groups": [{key: value for key, value in group.items() if key not in KNOWN_MISSING}
                         for group in theirs["param_groups"]],
    }
    fresh = [te.tensor(p.detach().numpy(), requires_grad=True) for p in pair.theirs]
    pair.ours, pair.opt = fresh, getattr(te_optim, name)(fresh, lr=1.0)
    pair.opt.load_state_dict(converted)
    for step, grads in enumerate(sequence[3:]):
        pair.step(grads)
        pair.assert_params_match(f"{name} after loading PyTorch's state, step {step + 1}")


# --------------------------------------------------------------------------- schedulers

SCHEDULES = [
    pytest.param(lambda lib, opt: lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), id="StepLR"),
    pytest.param(lambda lib, opt: lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8), id="ExponentialLR"),
    pytest.param(lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20), id="Cosine"),
    pytest.param(lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.002),
                 id="Cosine-past-T_max"),
    pytest.param(lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1), id="Cosine-T_max-1"),
]


def run_schedules(makers: list[Callable[[Any, Any], Any]], epochs: int = 20, name: str = "SGD",
                  kwargs: dict[str, Any] | None = None,
                  manual_lr: dict[int, float] | None = None) -> None:
    """Train both libraries for ``epochs`` with the schedulers ``makers`` chained on one
    optimizer (two groups); ``manual_lr`` sets every group's lr by hand at given epochs."""
    pair = Pair(name, kwargs or dict(lr=0.1, momentum=0.9), group_lrs=(0.1, 0.02))
    ours = [make(te, pair.opt) for make in makers]
    theirs = [make(torch, pair.torch_opt) for make in makers]
    sequence = gradient_sequence() * (epochs // STEPS + 1)
    for epoch in range(epochs):
        if manual_lr and epoch in manual_lr:
            for group in pair.opt.param_groups + pair.torch_opt.param_groups:
                group["lr"] = manual_lr[epoch]
        pair.step(sequence[epoch])
        for scheduler in ours + theirs:
            scheduler.step()
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine.get_last_lr(), reference.get_last_lr(), rtol=1e-12, atol=1e-15,
                                       err_msg=f"get_last_lr after epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in pair.opt.param_groups],
                                   [g["lr"] for g in pair.torch_opt.param_groups], rtol=1e-12, atol=1e-15,
                                   err_msg=f"lr after epoch {epoch}")
        pair.assert_params_match(f"epoch {epoch}")


@pytest.mark.parametrize("make", SCHEDULES)
def test_scheduler_matches_pytorch(make: Callable[[Any, Any], Any]) -> None:
    run_schedules([make])


@pytest.mark.parametrize("make", SCHEDULES)
def test_scheduler_with_adam_matches_pytorch(make: Callable[[Any, Any], Any]) -> None:
    run_schedules([make], epochs=10, name="Adam", kwargs=dict(lr=0.05))


@pytest.mark.parametrize("make", SCHEDULES)
def test_scheduler_after_a_manual_lr_change_matches_pytorch(make: Callable[[Any, Any], Any]) -> None:
    run_schedules([make], manual_lr={7: 0.05, 13: 0.3})


def test_chained_schedulers_match_pytorch() -> None:
    run_schedules([SCHEDULES[1].values[0], SCHEDULES[0].values[0]])
    run_schedules([SCHEDULES[3].values[0], SCHEDULES[0].values[0]], manual_lr={9: 0.07})


def test_scheduler_state_dict_keys_match_pytorch() -> None:
    for param in SCHEDULES:
        make = param.values[0]
        ours = make(te, te_optim.SGD([te.tensor([1.0], requires_grad=True)], lr=0.1))
        theirs = make(torch, torch.optim.SGD([torch.tensor([1.0], requires_grad=True)], lr=0.1))
        our_state, their_state = ours.state_dict(), theirs.state_dict()
        for key in ("base_lrs", "last_epoch", "_last_lr"):
            assert our_state[key] == their_state[key], f"{param.id}: {key}"
        assert "optimizer" not in our_state


def test_training_a_model_matches_pytorch() -> None:
    rng = np.random.default_rng(3)
    inputs, targets = rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    ours, theirs = te_nn.Linear(3, 1), torch.nn.Linear(3, 1)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    opt, torch_opt = te_optim.Adam(ours.parameters(), lr=0.1), torch.optim.Adam(theirs.parameters(), lr=0.1)
    scheduler = te_optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    torch_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(torch_opt, T_max=5)
    for epoch in range(10):
        opt.zero_grad()
        torch_opt.zero_grad()
        loss = te_nn.functional.mse_loss(ours(te.tensor(inputs)), te.tensor(targets))
        torch_loss = torch.nn.functional.mse_loss(theirs(torch.tensor(inputs)), torch.tensor(targets))
        loss.backward()
        torch_loss.backward()
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-5), f"loss at epoch {epoch}"
        opt.step()
        torch_opt.step()
        scheduler.step()
        torch_scheduler.step()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
