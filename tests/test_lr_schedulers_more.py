"""MultiStepLR, LambdaLR and ReduceLROnPlateau: against written-out rules, and against
PyTorch when it is installed."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu.optim import lr_scheduler


def learning_rates(lib: Any, make: Callable[[Any, Any], Any], metrics: list[float] | None = None,
                   epochs: int = 40) -> list[tuple[float, ...]]:
    """Two parameter groups (lr 0.1 and 0.5); the lrs after each epoch's scheduler step."""
    first, second = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(1))
    optimizer = lib.optim.SGD([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    scheduler = make(lib, optimizer)
    history = []
    for epoch in range(epochs):
        optimizer.step()
        scheduler.step(metrics[epoch]) if metrics is not None else scheduler.step()
        history.append(tuple(group["lr"] for group in optimizer.param_groups))
    return history


PLATEAU_METRICS = list(np.linspace(1.0, 0.5, 10)) + [0.5 + 0.001 * (k % 3) for k in range(30)]

CASES = {
    "multistep": (lambda lib, opt: lib.optim.lr_scheduler.MultiStepLR(opt, [3, 7, 7, 20], gamma=0.5), None),
    "lambda": (lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.95**e), None),
    "lambda_per_group": (lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(
        opt, [lambda e: 1 / (e + 1), lambda e: 0.9**e]), None),
    "plateau": (lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(opt), PLATEAU_METRICS),
    "plateau_cooldown_floor": (lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(
        opt, patience=2, cooldown=3, factor=0.5, min_lr=0.01), PLATEAU_METRICS),
    "plateau_max_abs": (lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", threshold_mode="abs", threshold=0.1, patience=1), PLATEAU_METRICS),
}


def test_multistep_follows_the_closed_form() -> None:
    history = learning_rates(te, CASES["multistep"][0], epochs=25)
    for epoch, (lr, _) in enumerate(history, start=1):
        passed = sum(1 for milestone in [3, 7, 7, 20] if milestone <= epoch)
        assert math.isclose(lr, 0.1 * 0.5**passed)


def test_lambda_follows_the_closed_form() -> None:
    history = learning_rates(te, CASES["lambda_per_group"][0], epochs=10)
    for epoch, (first, second) in enumerate(history, start=1):
        assert math.isclose(first, 0.1 / (epoch + 1)) and math.isclose(second, 0.5 * 0.9**epoch)


def test_plateau_waits_patience_epochs_then_reduces() -> None:
    parameter = te.nn.Parameter(te.zeros(1))
    optimizer = te.optim.SGD([parameter], lr=1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=2, factor=0.5)
    for loss, expected in [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 0.5), (0.1, 0.5), (0.2, 0.5)]:
        scheduler.step(te.tensor(loss))
        assert scheduler.get_last_lr() == [expected]


def test_plateau_and_lambda_refuse_bad_arguments() -> None:
    optimizer = te.optim.SGD([te.nn.Parameter(te.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(optimizer, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(optimizer, mode="lowest")
    with pytest.raises(ValueError, match="lr_lambdas"):
        lr_scheduler.LambdaLR(optimizer, [lambda e: 1.0, lambda e: 2.0])


def test_scheduler_state_round_trips() -> None:
    make, metrics = CASES["plateau_cooldown_floor"]
    parameter = te.nn.Parameter(te.zeros(1))
    optimizer = te.optim.SGD([parameter], lr=0.1)
    scheduler = make(te, optimizer)
    for value in PLATEAU_METRICS[:15]:
        scheduler.step(value)
    restored = make(te, te.optim.SGD([te.nn.Parameter(te.zeros(1))], lr=0.1))
    restored.load_state_dict(scheduler.state_dict())
    assert restored.state_dict() == scheduler.state_dict()


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    make, metrics = CASES[name]
    ours, theirs = learning_rates(te, make, metrics), learning_rates(torch, make, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
