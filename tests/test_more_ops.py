"""sort, argsort, topk, index_select, flip, round/floor/ceil, bmm, clamp_min/max and the
in-place variants: values against NumPy, gradients against finite differences, and against
PyTorch when it is installed."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu.autograd import gradcheck, gradgradcheck

VALUES = np.array([[0.3, -1.2, 2.5, 0.7, -0.4], [1.1, 0.2, -2.2, 3.3, 0.05], [-0.6, 1.9, 0.8, -1.5, 2.2]])

DIFFERENTIABLE: dict[str, Callable[[Any, Any], Any]] = {
    "sort_ascending": lambda lib, x: lib.sort(x, dim=1)[0],
    "sort_descending_dim0": lambda lib, x: x.sort(dim=0, descending=True).values,
    "topk_largest": lambda lib, x: lib.topk(x, 3, dim=1)[0],
    "topk_smallest_dim0": lambda lib, x: x.topk(2, dim=0, largest=False).values,
    "index_select_repeats": lambda lib, x: x.index_select(1, lib.tensor([4, 0, 4])),
    "flip_both": lambda lib, x: lib.flip(x, (0, 1)),
    "flip_last": lambda lib, x: x.flip(-1),
    "bmm": lambda lib, x: lib.bmm(x.reshape(1, 3, 5), x.reshape(1, 5, 3)),
    "clamp_min": lambda lib, x: x.clamp_min(0.1),
    "clamp_max": lambda lib, x: x.clamp_max(0.9),
    "cumsum_dim1": lambda lib, x: x.cumsum(1),
    "cumsum_dim0_squared": lambda lib, x: lib.cumsum(x, 0) ** 2,
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_gradients_match_finite_differences(name: str) -> None:
    x = te.tensor(VALUES, dtype=te.float64, requires_grad=True)
    assert gradcheck(lambda x: DIFFERENTIABLE[name](te, x), (x,))
    assert gradgradcheck(lambda x: DIFFERENTIABLE[name](te, x), (x,))


def test_values_against_numpy() -> None:
    x = te.tensor(VALUES)
    np.testing.assert_allclose(te.sort(x, dim=1)[0].numpy(), np.sort(VALUES, axis=1).astype(np.float32))
    assert te.argsort(x, dim=1).tolist() == np.argsort(VALUES, axis=1, kind="stable").tolist()
    top = te.topk(x, 2, dim=1)
    np.testing.assert_allclose(top.values.numpy(), -np.sort(-VALUES, axis=1)[:, :2].astype(np.float32))
    assert top.indices.dtype is te.int64
    np.testing.assert_allclose(x.flip(0).numpy(), VALUES[::-1].astype(np.float32))
    np.testing.assert_allclose(x.index_select(0, te.tensor([2, 0])).numpy(), VALUES[[2, 0]].astype(np.float32))


def test_rounding_has_zero_gradient_and_rounds_half_to_even() -> None:
    x = te.tensor([0.5, 1.5, -0.5, 2.4, -2.6], requires_grad=True)
    rounded = x.round()
    assert rounded.tolist() == [0.0, 2.0, -0.0, 2.0, -3.0] and rounded.requires_grad
    (rounded.sum() + x.floor().sum() + x.ceil().sum()).backward()
    assert x.grad.tolist() == [0.0] * 5
    assert te.floor(te.tensor([1.7, -1.2])).tolist() == [1.0, -2.0]
    assert te.ceil(te.tensor([1.2, -1.7])).tolist() == [2.0, -1.0]
    assert te.round(te.tensor([1.2345]), decimals=2).tolist() == pytest.approx([1.23])


def test_stable_order_of_ties() -> None:
    x = te.tensor([2.0, 1.0, 2.0, 1.0])
    assert x.argsort().tolist() == [1, 3, 0, 2]
    assert x.argsort(descending=True).tolist() == [0, 2, 1, 3]


def test_bad_arguments_are_named() -> None:
    x = te.ones(2, 3)
    with pytest.raises(RuntimeError, match="topk: k \\(4\\)"):
        x.topk(4)
    with pytest.raises(RuntimeError, match="index_select"):
        x.index_select(0, te.tensor([[0]]))
    with pytest.raises(RuntimeError, match="bmm"):
        te.bmm(x, x)


def test_in_place_variants() -> None:
    x = te.tensor([1.0, -2.0, 0.5])
    x.abs_()
    assert x.tolist() == [1.0, 2.0, 0.5]
    x.neg_().relu_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    y = te.tensor([0.0])
    y.exp_().tanh_().sigmoid_()
    assert y.tolist() == pytest.approx([1 / (1 + np.exp(-np.tanh(1.0)))])
    leaf = te.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="exp_: a leaf tensor that requires grad"):
        leaf.exp_()


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_matches_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours = te.tensor(VALUES, dtype=te.float64, requires_grad=True)
    theirs = torch.tensor(VALUES, requires_grad=True)
    result, expected = DIFFERENTIABLE[name](te, ours), DIFFERENTIABLE[name](torch, theirs)
    np.testing.assert_allclose(result.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    weights = np.linspace(0.5, 1.5, expected.numel()).reshape(tuple(expected.shape))
    (result * te.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


ROBUST_LOSSES = {
    "smooth_l1": lambda lib, x, y, reduction: lib.nn.functional.smooth_l1_loss(x, y, reduction=reduction, beta=0.5),
    "smooth_l1_beta0": lambda lib, x, y, reduction: lib.nn.SmoothL1Loss(reduction=reduction, beta=0.0)(x, y),
    "huber": lambda lib, x, y, reduction: lib.nn.HuberLoss(reduction=reduction, delta=1.5)(x, y),
}
PREDICTIONS = np.array([0.1, -2.0, 3.1, 0.45, -0.8, 1.7])
TARGETS = np.array([0.0, 0.5, -0.2, 1.2, -0.6, 1.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(ROBUST_LOSSES))
def test_robust_losses_values_and_gradients(name: str, reduction: str) -> None:
    x = te.tensor(PREDICTIONS, dtype=te.float64, requires_grad=True)
    y = te.tensor(TARGETS, dtype=te.float64)
    assert gradcheck(lambda x: ROBUST_LOSSES[name](te, x, y, reduction), (x,))
    distance = np.abs(PREDICTIONS - TARGETS)
    if name == "huber":
        expected = np.where(distance <= 1.5, 0.5 * distance**2, 1.5 * (distance - 0.75))
    elif name == "smooth_l1":
        expected = np.where(distance < 0.5, distance**2, distance - 0.25)
    else:
        expected = distance
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(ROBUST_LOSSES[name](te, x, y, reduction).detach().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ROBUST_LOSSES))
def test_robust_losses_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = te.tensor(PREDICTIONS, requires_grad=True), torch.tensor(PREDICTIONS, requires_grad=True)
    ROBUST_LOSSES[name](te, ours, te.tensor(TARGETS), "mean").backward()
    ROBUST_LOSSES[name](torch, theirs, torch.tensor(TARGETS), "mean").backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
