"""The losses of ``tinygrad_edu.nn``: values against written-out NumPy formulas, gradients
against central differences (float64), numerical stability at extreme inputs, and errors.

Every loss is checked in every reduction mode, called both as a module (``nn.MSELoss``)
and as a function (``F.mse_loss``); hypothesis draws which. Gradients are checked with
respect to the input and, where the loss is differentiable in it, the target too. Values
stay away from the kinks (L1 at input == target) and from the ends of BCE's domain, where
finite differences cannot agree with any gradient.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import tinygrad_edu as te
import tinygrad_edu.nn as nn
import tinygrad_edu.nn.functional as F  # noqa: N812 - PyTorch's customary name
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_edu.autograd import gradcheck, gradgradcheck

from strategies import Shape, arrays, shapes

REDUCTIONS = ("mean", "sum", "none")
#: name -> (module class, function); every test calls one or the other.
LOSSES: dict[str, tuple[type, Any]] = {
    "mse": (nn.MSELoss, F.mse_loss),
    "l1": (nn.L1Loss, F.l1_loss),
    "bce": (nn.BCELoss, F.binary_cross_entropy),
    "bce_with_logits": (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits),
    "cross_entropy": (nn.CrossEntropyLoss, F.cross_entropy),
    "nll": (nn.NLLLoss, F.nll_loss),
}


def loss_fn(name: str, as_module: bool, **options: Any) -> Any:
    """The loss as a function of (input, target), with its options (weights as float64 tensors)."""
    options = {key: te.tensor(value) if isinstance(value, np.ndarray) else value for key, value in options.items()}
    module_class, function = LOSSES[name]
    if as_module:
        return module_class(**options)
    return lambda input, target: function(input, target, **options)  # noqa: A002


def leaf(array: np.ndarray) -> te.Tensor:
    return te.tensor(array.copy(), requires_grad=True)


def assert_value(result: te.Tensor, expected: Any) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    assert tuple(result.shape) == expected.shape
    assert result.dtype is te.float64
    np.testing.assert_allclose(result.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- NumPy references
def reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](losses)


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """ln(1 / (1 + e^-x)), written without overflow."""
    return -np.logaddexp(0.0, -x)


def rows_by_class(array: np.ndarray) -> np.ndarray:
    """(C,) -> (1, C); (N, C, d1, ...) -> (N * d1 * ..., C): one row per prediction."""
    return array[None] if array.ndim == 1 else np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])


def log_softmax(array: np.ndarray, axis: int) -> np.ndarray:
    shifted = array - array.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def reference_nll(log_probs: np.ndarray, target: np.ndarray, weight: np.ndarray | None, ignore_index: int,
                  reduction: str, label_smoothing: float = 0.0) -> np.ndarray:
    """Sample by sample: (1 - eps) (-w_y ln p_y) + eps / C * sum_c (-w_c ln p_c); mean divides
    by the summed weights w_y of the samples that are not ignored."""
    rows = rows_by_class(log_probs)
    classes = rows.shape[1]
    weights = np.ones(classes) if weight is None else weight
    losses, total_weight = [], 0.0
    for row, label in zip(rows, target.reshape(-1)):
        if label == ignore_index:
            losses.append(0.0)
            continue
        uniform_part = -(weights * row).sum() / classes
        losses.append((1 - label_smoothing) * -weights[label] * row[label] + label_smoothing * uniform_part)
        total_weight += weights[label]
    per_sample = np.array(losses).reshape(target.shape)
    return per_sample.sum() / total_weight if reduction == "mean" else reduce(per_sample, reduction)


def reference_soft_cross_entropy(logits: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
                                 reduction: str, label_smoothing: float) -> np.ndarray:
    """-sum_c w_c y'_c ln softmax(x)_c with y' = (1 - eps) y + eps / C; mean over the samples."""
    classes = logits.shape[0 if logits.ndim == 1 else 1]
    smoothed = rows_by_class(target) * (1 - label_smoothing) + label_smoothing / classes
    weights = np.ones(classes) if weight is None else weight
    per_row = -(log_softmax(rows_by_class(logits), 1) * smoothed * weights).sum(axis=1)
    batch_shape = () if logits.ndim == 1 else logits.shape[:1] + logits.shape[2:]
    return reduce(per_row.reshape(batch_shape), reduction)


# --------------------------------------------------------------------------- drawing problems
forms = st.booleans()  # True: the module, False: the function


@st.composite
def regression_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) whose differences stay 0.05 or more from 0 (L1's kink)."""
    shape = draw(shapes(0, 3, 1, 4))
    values = draw(arrays(shape, -2.0, 2.0))
    difference = draw(arrays(shape, -2.0, 2.0, avoid=(0.0,)))
    return values, values + difference


@st.composite
def optional_weight(draw: st.DrawFn, shape: Shape) -> np.ndarray | None:
    """None, or positive weights of a shape that broadcasts with ``shape`` (a suffix of it)."""
    if draw(st.booleans()):
        return None
    rank = draw(st.integers(0, len(shape)))
    return draw(arrays(shape[len(shape) - rank:], 0.5, 2.0))


@st.composite
def class_problems(draw: st.DrawFn, probabilities: bool = False) -> dict[str, Any]:
    """Logits of shape (C,), (N, C) or (N, C, d1), class indices (or class probabilities:
    one-hot or soft rows), maybe a class weight, an ignore_index and a label smoothing."""
    classes = draw(st.integers(2, 4))
    layout = draw(st.sampled_from(["batched", "k-dim", "unbatched"]))
    batch = {"unbatched": (), "batched": (draw(st.integers(1, 4)),), "k-dim": (draw(st.integers(1, 3)), 2)}[layout]
    class_axis = 0 if layout == "unbatched" else 1
    shape = batch[:class_axis] + (classes,) + batch[class_axis:]
    labels = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=math.prod(batch),
                                    max_size=math.prod(batch))), dtype=np.int64).reshape(batch)
    ignore_index = draw(st.sampled_from([-100, 0, classes - 1]))
    if labels.size and np.all(labels == ignore_index):  # keep one sample counted (else mean is 0/0)
        labels.flat[0] = (ignore_index + 1) % classes
    problem: dict[str, Any] = {
        "logits": draw(arrays(shape, -3.0, 3.0)),
        "labels": labels,
        "weight": draw(st.none() | arrays((classes,), 0.5, 2.0)),
        "ignore_index": ignore_index,
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.35])),
    }
    if probabilities:
        soft = np.exp(draw(arrays(shape, -2.0, 2.0)))
        soft /= soft.sum(axis=class_axis, keepdims=True)
        one_hot = np.moveaxis(np.eye(classes)[labels], -1, class_axis)
        problem["probabilities"] = soft if draw(st.booleans()) else one_hot
    return problem


# --------------------------------------------------------------------------- values and gradients
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse", "l1"])
@given(pair=regression_pairs(), as_module=forms)
def test_regression_losses(name: str, reduction: str, pair: tuple[np.ndarray, np.ndarray], as_module: bool) -> None:
    values, target = pair
    loss = loss_fn(name, as_module, reduction=reduction)
    elementwise = (values - target) ** 2 if name == "mse" else np.abs(values - target)
    assert_value(loss(leaf(values), leaf(target)), reduce(elementwise, reduction))
    assert gradcheck(loss, (leaf(values), leaf(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), as_module=forms)
def test_binary_cross_entropy(reduction: str, data: st.DataObject, as_module: bool) -> None:
    shape = data.draw(shapes(0, 3, 1, 4))
    probabilities, target = data.draw(arrays(shape, 0.05, 0.95)), data.draw(arrays(shape, 0.0, 1.0))
    weight = data.draw(optional_weight(shape))
    loss = loss_fn("bce", as_module, reduction=reduction, weight=weight)
    elementwise = -(target * np.log(probabilities) + (1 - target) * np.log(1 - probabilities))
    expected = reduce(elementwise * (1.0 if weight is None else weight), reduction)
    assert_value(loss(leaf(probabilities), leaf(target)), expected)
    assert gradcheck(loss, (leaf(probabilities), leaf(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), as_module=forms)
def test_binary_cross_entropy_with_logits(reduction: str, data: st.DataObject, as_module: bool) -> None:
    shape = data.draw(shapes(0, 3, 1, 4))
    logits, target = data.draw(arrays(shape, -4.0, 4.0)), data.draw(arrays(shape, 0.0, 1.0))
    weight, pos_weight = data.draw(optional_weight(shape)), data.draw(optional_weight(shape))
    loss = loss_fn("bce_with_logits", as_module, reduction=reduction, weight=weight, pos_weight=pos_weight)
    positive = 1.0 if pos_weight is None else pos_weight
    elementwise = -(positive * target * log_sigmoid(logits) + (1 - target) * log_sigmoid(-logits))
    expected = reduce(elementwise * (1.0 if weight is None else weight), reduction)
    assert_value(loss(leaf(logits), leaf(target)), expected)
    assert gradcheck(loss, (leaf(logits), leaf(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problems(), as_module=forms)
def test_cross_entropy_with_class_indices(reduction: str, problem: dict[str, Any], as_module: bool) -> None:
    options = {key: problem[key] for key in ("weight", "ignore_index", "label_smoothing")}
    loss = loss_fn("cross_entropy", as_module, reduction=reduction, **options)
    logits, labels = problem["logits"], te.tensor(problem["labels"])
    log_probs = log_softmax(logits, axis=0 if logits.ndim == 1 else 1)
    assert_value(loss(leaf(logits), labels), reference_nll(log_probs, problem["labels"], reduction=reduction, **options))
    assert gradcheck(lambda x: loss(x, labels), (leaf(logits),))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problems(probabilities=True), as_module=forms)
def test_cross_entropy_with_class_probabilities(reduction: str, problem: dict[str, Any], as_module: bool) -> None:
    options = {key: problem[key] for key in ("weight", "label_smoothing")}
    loss = loss_fn("cross_entropy", as_module, reduction=reduction, **options)
    logits, probabilities = problem["logits"], problem["probabilities"]
    expected = reference_soft_cross_entropy(logits, probabilities, reduction=reduction, **options)
    assert_value(loss(leaf(logits), leaf(probabilities)), expected)
    assert gradcheck(loss, (leaf(logits), leaf(probabilities)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problems(), as_module=forms)
def test_nll_loss(reduction: str, problem: dict[str, Any], as_module: bool) -> None:
    options = {key: problem[key] for key in ("weight", "ignore_index")}
    loss = loss_fn("nll", as_module, reduction=reduction, **options)
    inputs, labels = problem["logits"], te.tensor(problem["labels"])  # NLL takes any scores
    assert_value(loss(leaf(inputs), labels), reference_nll(inputs, problem["labels"], reduction=reduction, **options))
    assert gradcheck(lambda x: loss(x, labels), (leaf(inputs),))


SECOND_ORDER = {  # name -> (input range, whether the target is differentiable and drawn as floats)
    "mse": ((-2.0, 2.0), True), "bce": ((0.05, 0.95), True), "bce_with_logits": ((-4.0, 4.0), True),
    "cross_entropy": ((-3.0, 3.0), False),  # (NLL and L1 are piecewise linear: nothing to check)
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS))
def test_second_order(name: str, data: st.DataObject, reduction: str) -> None:
    (low, high), float_target = SECOND_ORDER[name]
    loss = loss_fn(name, True, reduction=reduction)
    if float_target:
        shape = data.draw(shapes(0, 2, 1, 3))
        # BCEWithLogits' pieces |x| and max(-x, 0) have kinks at 0: that point has its own test below
        values = data.draw(arrays(shape, low, high, avoid=(0.0,)))
        inputs = (leaf(values), leaf(data.draw(arrays(shape, 0.0, 1.0))))
        assert gradgradcheck(loss, inputs)
        return
    problem = data.draw(class_problems())
    labels = te.tensor(problem["labels"])
    assert gradgradcheck(lambda x: loss(x, labels), (leaf(problem["logits"]),))


def test_bce_with_logits_second_derivative_at_zero() -> None:
    """d2/dx2 of the loss is sigmoid'(x) = 1/4 at x = 0, whichever way the loss is composed."""
    logits = te.tensor([0.0, 0.0], dtype=te.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, te.tensor([0.0, 1.0], dtype=te.float64), reduction="sum")
    (gradient,) = te.autograd.grad(loss, logits, create_graph=True)
    np.testing.assert_allclose(gradient.detach().numpy(), [0.5, -0.5])
    (second,) = te.autograd.grad(gradient.sum(), logits)
    np.testing.assert_allclose(second.numpy(), [0.25, 0.25])


def test_float32_in_float32_out() -> None:
    values, target = te.rand(2, 3), te.rand(2, 3)
    for name in ("mse", "l1", "bce", "bce_with_logits", "cross_entropy"):
        for reduction in REDUCTIONS:
            assert loss_fn(name, True, reduction=reduction)(values, target).dtype is te.float32
    assert F.cross_entropy(values, te.tensor([0, 2])).dtype is te.float32
    assert F.nll_loss(values, te.tensor([0, 2]), reduction="none").dtype is te.float32


# --------------------------------------------------------------------------- stability at extreme inputs
@pytest.mark.parametrize("scale", [1e4, 1e30])
@pytest.mark.parametrize("dtype", [te.float32, te.float64])
def test_cross_entropy_is_exact_for_huge_logits(scale: float, dtype: Any) -> None:
    logits = te.tensor(np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 1.0, -1.0]]) * scale, dtype=dtype,
                       requires_grad=True)
    loss = F.cross_entropy(logits, te.tensor([0, 0, 1]), reduction="sum")
    loss.backward()
    expected_loss = np.float64(np.float32(scale) if dtype is te.float32 else scale) * 2
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-6)  # 0 + 2 scale + 0
    np.testing.assert_array_equal(logits.grad.numpy(), [[0, 0, 0], [-1, 1, 0], [0, 0, 0]])  # softmax - one-hot
    soft = F.cross_entropy(logits, te.tensor(np.eye(3)[[0, 0, 1]], dtype=dtype), reduction="none")
    np.testing.assert_allclose(soft.detach().numpy(), [0, expected_loss, 0], rtol=1e-6)


@pytest.mark.parametrize("dtype", [te.float32, te.float64])
def test_bce_with_logits_is_exact_for_huge_and_zero_logits(dtype: Any) -> None:
    logits = te.tensor([1e4, -1e4, 1e4, -1e4, 0.0, 0.0, 0.0], dtype=dtype, requires_grad=True)
    target = te.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss.sum().backward()
    np.testing.assert_array_equal(loss.detach().numpy()[:4], [1e4, 0.0, 0.0, 1e4])
    np.testing.assert_allclose(loss.detach().numpy()[4:], [math.log(2)] * 3, rtol=1e-6)
    # sigmoid(x) - y: exactly 1, 0, 0, -1 at +-1e4 and 0.5 - y at 0
    np.testing.assert_allclose(logits.grad.numpy(), [1.0, 0.0, 0.0, -1.0, 0.5, 0.2, -0.5], rtol=1e-6, atol=0)


def test_bce_at_probabilities_exactly_zero_and_one_is_clamped() -> None:
    probabilities = te.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], dtype=te.float64, requires_grad=True)
    target = te.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.3], dtype=te.float64)
    loss = nn.BCELoss(reduction="none")(probabilities, target)
    loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, 0, 0, 30, 70], rtol=1e-12)  # ln clamped at -100
    gradient = probabilities.grad.numpy()  # (x - y) / max(x (1 - x), 1e-12)
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(gradient, [-1e12, 1e12, 0, 0, -0.3e12, 0.7e12], rtol=1e-12)
    tiny = F.binary_cross_entropy(te.tensor([1e-60], dtype=te.float64), te.tensor([1.0], dtype=te.float64))
    assert tiny.item() == 100.0


# --------------------------------------------------------------------------- errors
def test_bce_rejects_input_outside_zero_one_or_nan() -> None:
    for bad in ([0.5, 1.5], [-0.1, 0.5], [0.5, math.nan]):
        with pytest.raises(RuntimeError, match="binary_cross_entropy"):
            nn.BCELoss()(te.tensor(bad), te.tensor([0.0, 1.0]))


@pytest.mark.parametrize("name", ["bce", "bce_with_logits"])
def test_binary_losses_reject_a_target_of_another_shape(name: str) -> None:
    with pytest.raises(ValueError, match=r"\(2,\).*\(1, 2\)"):
        loss_fn(name, True)(te.tensor([[0.5, 0.5]]), te.tensor([0.0, 1.0]))


@pytest.mark.parametrize("name", ["mse", "l1"])
def test_regression_losses_warn_when_the_target_has_another_shape(name: str) -> None:
    with pytest.warns(UserWarning, match=r"\(2,\).*\(1, 2\)"):
        loss_fn(name, False)(te.tensor([[0.5, 0.5]]), te.tensor([0.0, 1.0]))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=r"\(1, 2\).*\(3,\)"):
        loss_fn(name, False)(te.tensor([[0.5, 0.5]]), te.tensor([0.0, 1.0, 2.0]))  # as PyTorch: warn, then fail


@pytest.mark.parametrize("name", ["cross_entropy", "nll"])
@pytest.mark.parametrize("label", [3, -1])
def test_class_index_out_of_range(name: str, label: int) -> None:
    with pytest.raises(IndexError, match=f"{name}.*{label}"):
        loss_fn(name, True)(te.zeros(2, 3), te.tensor([0, label]))


@pytest.mark.parametrize("name", ["cross_entropy", "nll"])
def test_class_targets_of_the_wrong_batch_shape(name: str) -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3,\)"):
        loss_fn(name, True)(te.zeros(2, 3), te.tensor([0, 1, 2]))


def test_cross_entropy_probabilities_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        F.cross_entropy(te.zeros(2, 3), te.zeros(2, 4))


def test_nll_loss_needs_integer_class_indices() -> None:
    with pytest.raises(RuntimeError, match="nll_loss.*int64"):
        F.nll_loss(te.zeros(2, 3), te.tensor([0.0, 1.0]))


@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_reduction_string(name: str) -> None:
    with pytest.raises(ValueError, match="avg"):
        LOSSES[name][0](reduction="avg")
    classes = name in ("cross_entropy", "nll")
    values, target = (te.zeros(2, 3), te.tensor([0, 1])) if classes else (te.full((2,), 0.5), te.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=f"{LOSSES[name][1].__name__}.*avg"):
        LOSSES[name][1](values, target, reduction="avg")


def test_label_smoothing_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(te.zeros(2, 3), te.tensor([0, 1]), label_smoothing=1.5)


@pytest.mark.parametrize("name", ["cross_entropy", "nll"])
@pytest.mark.parametrize("length", [2, 4])
def test_class_weight_of_the_wrong_length(name: str, length: int) -> None:
    """PyTorch: "weight tensor should be defined either for all 3 classes or no classes"."""
    with pytest.raises(RuntimeError, match=str(length)):
        loss_fn(name, True, weight=np.ones(length))(te.zeros(2, 3, dtype=te.float64), te.tensor([0, 1]))
