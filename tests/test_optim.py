"""Optimizers and learning-rate schedules, checked against their update formulas.

Each optimizer runs several steps on two float64 parameters whose gradients are set by
hand to a fixed random sequence; the same steps are written out below in plain NumPy, one
formula per line, and the parameters must agree to rounding error after every step.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu import optim
from tinygrad_edu.optim import lr_scheduler

SHAPES = [(3,), (2, 2)]
STEPS = 6
# Gradient sizes that rise and fall, so amsgrad's running maximum matters.
SCALES = [3.0, 1.0, 0.2, 2.0, 0.1, 1.0]


def initial_arrays(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient_sequence(seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[scale * rng.standard_normal(shape) for shape in SHAPES] for scale in SCALES]


def leaves(arrays: list[np.ndarray]) -> list[te.Tensor]:
    return [te.tensor(array, requires_grad=True) for array in arrays]


def set_grads(params: list[te.Tensor], grads: list[np.ndarray]) -> None:
    for param, grad in zip(params, grads):
        param.grad = te.tensor(grad)


def values(params: list[te.Tensor]) -> list[np.ndarray]:
    return [param.detach().numpy().copy() for param in params]


# --------------------------------------------------------------------------- the formulas

def sgd_formula(p: np.ndarray, grads: list[np.ndarray], lr: float = 1e-3, momentum: float = 0.0,
                dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                maximize: bool = False) -> Iterator[np.ndarray]:
    buffer = None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum != 0:
            buffer = g.copy() if buffer is None else momentum * buffer + (1 - dampening) * g
            g = g + momentum * buffer if nesterov else buffer
        p = p - lr * g
        yield p


def adam_formula(p: np.ndarray, grads: list[np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 decoupled: bool = False) -> Iterator[np.ndarray]:
    beta1, beta2 = betas
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        v_used = v_max if amsgrad else v
        m_hat = m / (1 - beta1**t)
        p = p - lr * m_hat / (np.sqrt(v_used / (1 - beta2**t)) + eps)
        yield p


def adamw_formula(p: np.ndarray, grads: list[np.ndarray], weight_decay: float = 1e-2,
                  **kwargs: Any) -> Iterator[np.ndarray]:
    return adam_formula(p, grads, weight_decay=weight_decay, decoupled=True, **kwargs)


def rmsprop_formula(p: np.ndarray, grads: list[np.ndarray], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                    weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                    maximize: bool = False) -> Iterator[np.ndarray]:
    square_avg, grad_avg, buffer = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            denominator = np.sqrt(square_avg - grad_avg**2) + eps
        else:
            denominator = np.sqrt(square_avg) + eps
        if momentum > 0:
            buffer = momentum * buffer + g / denominator
            p = p - lr * buffer
        else:
            p = p - lr * g / denominator
        yield p


OPTIMIZERS: dict[str, tuple[Any, Callable[..., Iterator[np.ndarray]]]] = {
    "SGD": (optim.SGD, sgd_formula), "Adam": (optim.Adam, adam_formula),
    "AdamW": (optim.AdamW, adamw_formula), "RMSprop": (optim.RMSprop, rmsprop_formula),
}

CASES = [
    ("SGD", "plain", dict(lr=0.1)),
    ("SGD", "momentum", dict(lr=0.1, momentum=0.9)),
    ("SGD", "dampening", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", "weight_decay", dict(lr=0.1, weight_decay=0.2)),
    ("SGD", "weight_decay_momentum", dict(lr=0.1, momentum=0.5, weight_decay=0.2)),
    ("SGD", "nesterov", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", "maximize", dict(lr=0.1, momentum=0.9, maximize=True, weight_decay=0.1)),
    ("SGD", "default_lr", dict()),
    ("Adam", "default", dict()),
    ("Adam", "lr_betas_eps", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3)),
    ("Adam", "weight_decay", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", "amsgrad", dict(lr=0.05, amsgrad=True)),
    ("Adam", "maximize", dict(lr=0.05, maximize=True, weight_decay=0.1)),
    ("AdamW", "default", dict()),
    ("AdamW", "weight_decay", dict(lr=0.05, weight_decay=0.3)),
    ("AdamW", "amsgrad", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", "plain", dict(lr=0.01)),
    ("RMSprop", "alpha", dict(lr=0.01, alpha=0.9, eps=1e-4)),
    ("RMSprop", "momentum", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", "centered", dict(lr=0.01, centered=True)),
    ("RMSprop", "centered_momentum", dict(lr=0.01, centered=True, momentum=0.5)),
    ("RMSprop", "weight_decay", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", "maximize", dict(lr=0.01, maximize=True, momentum=0.5)),
]
CASE_PARAMS = [pytest.param(name, kwargs, id=f"{name}-{label}") for name, label, kwargs in CASES]


@pytest.mark.parametrize("name, kwargs", CASE_PARAMS)
def test_update_matches_formula_each_step(name: str, kwargs: dict[str, Any]) -> None:
    cls, formula = OPTIMIZERS[name]
    arrays, sequence = initial_arrays(), gradient_sequence()
    params = leaves(arrays)
    opt = cls(params, **kwargs)
    expected = [list(formula(array, [grads[i] for grads in sequence], **kwargs)) for i, array in enumerate(arrays)]
    for step, grads in enumerate(sequence):
        set_grads(params, grads)
        opt.step()
        for i, param in enumerate(params):
            np.testing.assert_allclose(param.detach().numpy(), expected[i][step], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} {kwargs}: parameter {i} after step {step + 1}")
            assert param.dtype == te.float64 and param.is_leaf and param.requires_grad


def test_sgd_with_a_closure_on_a_real_backward_follows_the_closed_form() -> None:
    # loss = sum(p^2) / 2 has gradient p, so plain SGD gives p_t = p_0 (1 - lr)^t.
    start = np.array([1.0, -2.0, 0.5])
    p = te.tensor(start, requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure() -> te.Tensor:
        opt.zero_grad()
        loss = (p * p).sum() / 2
        loss.backward()
        return loss

    for step in range(1, 6):
        loss = opt.step(closure)  # step returns the closure's loss, computed before the update
        assert loss.item() == pytest.approx(np.sum((start * 0.75 ** (step - 1)) ** 2) / 2, rel=1e-12)
        np.testing.assert_allclose(p.detach().numpy(), start * 0.75**step, rtol=1e-12)


def test_param_groups_with_their_own_settings() -> None:
    arrays, sequence = initial_arrays(), gradient_sequence()
    params = leaves(arrays)
    opt = optim.SGD([{"params": [params[0]]}, {"params": params[1], "lr": 0.01, "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert [group["lr"] for group in opt.param_groups] == [0.1, 0.01]
    assert [group["momentum"] for group in opt.param_groups] == [0.9, 0.5]
    assert opt.param_groups[1]["dampening"] == 0 and opt.param_groups[1]["params"] == [params[1]]
    first = list(sgd_formula(arrays[0], [grads[0] for grads in sequence], lr=0.1, momentum=0.9))
    second = list(sgd_formula(arrays[1], [grads[1] for grads in sequence], lr=0.01, momentum=0.5))
    for step, grads in enumerate(sequence):
        set_grads(params, grads)
        opt.step()
        np.testing.assert_allclose(params[0].detach().numpy(), first[step], rtol=1e-12)
        np.testing.assert_allclose(params[1].detach().numpy(), second[step], rtol=1e-12)


def test_add_param_group_later() -> None:
    a, b = te.tensor([1.0], requires_grad=True), te.tensor([1.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["lr"] == 0.2
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_set_to_none_true_and_false() -> None:
    p = te.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad  # zeroed in place, as PyTorch does
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    assert tuple(p.grad.shape) == (2,) and not p.grad.requires_grad
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 4.0])
    opt.zero_grad()  # set_to_none=True is the default
    assert p.grad is None
    opt.zero_grad(set_to_none=False)  # nothing to zero: no error
    assert p.grad is None


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_params_without_grad_are_skipped(name: str) -> None:
    cls, _ = OPTIMIZERS[name]
    with_grad, without = te.tensor([1.0, 2.0], requires_grad=True), te.tensor([3.0, 4.0], requires_grad=True)
    opt = cls([without, with_grad], lr=0.1)
    with_grad.grad = te.tensor([0.5, -0.5])
    opt.step()
    np.testing.assert_array_equal(without.detach().numpy(), [3.0, 4.0])
    assert not np.array_equal(with_grad.detach().numpy(), [1.0, 2.0])
    assert without._version[0] == 0
    assert set(opt.state_dict()["state"]) <= {1}


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD([p * 2], lr=0.1), "non-leaf"),
    (lambda p: optim.Adam([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p], lr=-0.1), "learning rate"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.SGD([p], lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam([p], lr=-1.0), "learning rate"),
    (lambda p: optim.Adam([p], eps=-1e-8), "epsilon"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda p: optim.Adam([p], betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.AdamW([p], weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.RMSprop([p], alpha=-0.5), "alpha"),
    (lambda p: optim.RMSprop([p], momentum=-0.5), "momentum"),
    (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1), "more than one parameter group"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_bad_arguments_raise_value_error(make: Callable[[te.Tensor], Any], message: str) -> None:
    p = te.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=f"(?i){message}"):
        make(p)


def test_a_single_tensor_instead_of_a_list_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(te.tensor([1.0], requires_grad=True), lr=0.1)


STATE_KEYS = [
    pytest.param("SGD", dict(lr=0.1), None, id="SGD-plain"),  # PyTorch keeps no state at all for plain SGD
    pytest.param("SGD", dict(lr=0.1, momentum=0.9), {"momentum_buffer"}, id="SGD-momentum"),
    pytest.param("Adam", dict(), {"step", "exp_avg", "exp_avg_sq"}, id="Adam"),
    pytest.param("Adam", dict(amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, id="Adam-amsgrad"),
    pytest.param("AdamW", dict(), {"step", "exp_avg", "exp_avg_sq"}, id="AdamW"),
    pytest.param("RMSprop", dict(), {"step", "square_avg"}, id="RMSprop"),
    pytest.param("RMSprop", dict(momentum=0.9, centered=True), {"step", "square_avg", "momentum_buffer", "grad_avg"},
                 id="RMSprop-momentum-centered"),
]


@pytest.mark.parametrize("name, kwargs, keys", STATE_KEYS)
def test_state_dict_structure(name: str, kwargs: dict[str, Any], keys: set[str] | None) -> None:
    cls, _ = OPTIMIZERS[name]
    params = leaves(initial_arrays())
    opt = cls([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], **kwargs)
    for grads in gradient_sequence()[:2]:
        set_grads(params, grads)
        opt.step()
    saved = opt.state_dict()
    assert set(saved) == {"state", "param_groups"}
    assert [group["params"] for group in saved["param_groups"]] == [[0], [1]]
    assert saved["param_groups"][1]["lr"] == 0.5
    assert set(saved["param_groups"][0]) == set(opt.defaults) | {"params"}
    if keys is None:
        assert saved["state"] == {}
        return
    assert set(saved["state"]) == {0, 1}
    for index, shape in enumerate(SHAPES):
        assert set(saved["state"][index]) == keys
        for key, value in saved["state"][index].items():
            expected_shape = () if key == "step" else shape
            assert tuple(value.shape) == expected_shape, key
        if "step" in keys:
            assert saved["state"][index]["step"].item() == 2.0


@pytest.mark.parametrize("name, kwargs", CASE_PARAMS)
def test_load_state_dict_continues_identically(name: str, kwargs: dict[str, Any]) -> None:
    cls, _ = OPTIMIZERS[name]
    sequence = gradient_sequence()
    params = leaves(initial_arrays())
    opt = cls(params, **kwargs)
    for grads in sequence[:3]:
        set_grads(params, grads)
        opt.step()
    saved = opt.state_dict()
    copies = leaves(values(params))
    restored = cls(copies, lr=123.0)  # the loaded groups bring back every setting, lr included
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for grads in sequence[3:]:
        set_grads(params, grads)
        set_grads(copies, grads)
        opt.step()
        restored.step()
        for original, copy in zip(params, copies):
            np.testing.assert_array_equal(copy.detach().numpy(), original.detach().numpy())


def test_load_state_dict_copies_the_state() -> None:
    params = leaves(initial_arrays())
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, gradient_sequence()[0])
    opt.step()
    saved = opt.state_dict()
    other = optim.SGD(leaves(initial_arrays()), lr=0.1, momentum=0.9)
    other.load_state_dict(saved)
    saved["state"][0]["momentum_buffer"].array[...] = 99.0
    saved["param_groups"][0]["lr"] = 7.0
    buffer = other.state_dict()["state"][0]["momentum_buffer"]
    assert not np.any(buffer.numpy() == 99.0)
    assert other.param_groups[0]["lr"] == 0.1


def test_load_state_dict_with_mismatched_groups_raises() -> None:
    a, b = te.tensor([1.0], requires_grad=True), te.tensor([2.0], requires_grad=True)
    two_params = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([te.tensor([1.0], requires_grad=True)], lr=0.1).load_state_dict(two_params)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(two_params)


def test_step_bumps_the_version_so_an_old_graph_refuses_backward() -> None:
    p = te.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    loss = (p * p).sum()  # saves p for the backward pass
    p.grad = te.tensor([1.0, 1.0])
    before = p._version[0]
    opt.step()
    assert p._version[0] == before + 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_float32_params_keep_float32_state() -> None:
    p = te.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = te.tensor([0.5, 0.5])
    opt.step()
    state = opt.state_dict()["state"][0]
    assert (p.dtype, state["exp_avg"].dtype, state["step"].dtype) == (te.float32,) * 3  # step: as PyTorch


# --------------------------------------------------------------------------- schedulers

def cosine(base: float, epoch: int, t_max: int, eta_min: float) -> float:
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


SCHEDULES = [
    pytest.param(lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
                 lambda base, epoch: base * 0.5 ** (epoch // 3), id="StepLR"),
    pytest.param(lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8),
                 lambda base, epoch: base * 0.8**epoch, id="ExponentialLR"),
    pytest.param(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=20),
                 lambda base, epoch: cosine(base, epoch, 20, 0.0), id="CosineAnnealingLR"),
    pytest.param(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001),
                 lambda base, epoch: cosine(base, epoch, 6, 0.001), id="CosineAnnealingLR-past-T_max"),
    pytest.param(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=1),
                 lambda base, epoch: cosine(base, epoch, 1, 0.0), id="CosineAnnealingLR-T_max-1"),
]


@pytest.mark.parametrize("make, closed_form", SCHEDULES)
def test_scheduler_follows_its_closed_form_for_20_epochs(make: Callable[[optim.Optimizer], Any],
                                                         closed_form: Callable[[float, int], float]) -> None:
    bases = (0.1, 0.03)
    params = [te.tensor([1.0], requires_grad=True) for _ in bases]
    opt = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, bases)], lr=1.0)
    scheduler = make(opt)
    for epoch in range(20):
        used = [group["lr"] for group in opt.param_groups]
        assert scheduler.get_last_lr() == used  # get_last_lr reports what the optimizer uses
        np.testing.assert_allclose(used, [closed_form(base, epoch) for base in bases], rtol=1e-9, atol=1e-12,
                                   err_msg=f"epoch {epoch}")
        opt.step()
        scheduler.step()
    assert scheduler.last_epoch == 20 and [group["initial_lr"] for group in opt.param_groups] == list(bases)


@pytest.mark.parametrize("make", [
    lambda opt: lr_scheduler.StepLR(opt, step_size=4, gamma=0.3),
    lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
    lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
], ids=["StepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_scheduler_state_dict_round_trip(make: Callable[[optim.Optimizer], Any]) -> None:
    first = te.tensor([1.0], requires_grad=True)
    opt = optim.SGD([first], lr=0.1)
    scheduler = make(opt)
    for _ in range(5):
        opt.step()
        scheduler.step()
    saved_scheduler, saved_opt = scheduler.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_scheduler and saved_scheduler["last_epoch"] == 5
    resumed_opt = optim.SGD([te.tensor([1.0], requires_grad=True)], lr=0.1)
    resumed_opt.load_state_dict(saved_opt)
    resumed = make(resumed_opt)
    resumed.load_state_dict(saved_scheduler)
    assert resumed.get_last_lr() == scheduler.get_last_lr()
    for _ in range(10):
        opt.step()
        scheduler.step()
        resumed_opt.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()
        assert resumed_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_scheduler_bad_arguments() -> None:
    opt = optim.SGD([te.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.ExponentialLR("sgd", gamma=0.5)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.ExponentialLR(optim.SGD([te.tensor([1.0], requires_grad=True)], lr=0.1), gamma=0.5, last_epoch=3)
