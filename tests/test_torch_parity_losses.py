"""PyTorch parity of the losses, the activations and ``nn.functional`` (``linear``,
``one_hot``): forward values, the result's dtype and shape, and the gradient of every input
that requires grad, in float32 and float64, from the same random inputs.

A row is written once for both libraries (``lib`` is ``tinygrad_edu`` or ``torch``) and says
which of its inputs require grad: class weights are constants made inside the row (PyTorch
refuses gradients for them), class indices are int64. The rows cover every reduction mode,
class weights, ``ignore_index``, label smoothing (with indices and with probabilities),
``pos_weight``, K-dimensional and unbatched inputs, and the extreme inputs where a naive
formula would overflow or divide by zero.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te  # noqa: E402
from torch_parity_helpers import dtype_name, numpy_warnings_as_errors, reference_warnings_silenced  # noqa: E402

#: (rtol, atol) per dtype.
TOLERANCES = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}
REDUCTIONS = ("mean", "sum", "none")
BATCH, CLASSES = 5, 4
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])
POS_WEIGHT = np.array([3.0, 0.5, 1.0, 2.0])
Arrays = Callable[[np.random.Generator], tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class Row:
    name: str
    fn: Callable[..., Any]  # fn(lib, *tensors) -> one tensor
    inputs: Arrays  # floating arrays take the dtype under test; int64 arrays stay int64
    grads: tuple[bool, ...]  # which inputs require grad
    float64_rtol: float = TOLERANCES["float64"][0]


def constant(lib: ModuleType, array: np.ndarray, like: Any) -> Any:
    """A weight of ``like``'s dtype that does not require grad."""
    return lib.tensor(array, dtype=like.dtype)


# --------------------------------------------------------------------------- inputs
def uniform(low: float, high: float, *shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(low, high, shape)


def labels(shape: tuple[int, ...], ignored: int | None = None) -> Callable[[np.random.Generator], np.ndarray]:
    """Class indices; with ``ignored``, the first one (and maybe others) is that value, the second is not."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        result = rng.integers(0, CLASSES, shape)
        if ignored is not None:
            result.flat[0], result.flat[1] = ignored, (ignored + 1) % CLASSES
        return result
    return draw


def soft_targets(*shape: int, class_axis: int = 1) -> Callable[[np.random.Generator], np.ndarray]:
    def draw(rng: np.random.Generator) -> np.ndarray:
        weights = rng.uniform(0.1, 1.0, shape)
        return weights / weights.sum(axis=class_axis, keepdims=True)
    return draw


def one_hot_targets(*batch: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.moveaxis(np.eye(CLASSES)[rng.integers(0, CLASSES, batch)], -1, 1)


def inputs(*makers: Callable[[np.random.Generator], np.ndarray]) -> Arrays:
    return lambda rng: tuple(np.asarray(make(rng)) for make in makers)


def fixed(*arrays: Any) -> Arrays:
    return lambda rng: tuple(np.asarray(array) for array in arrays)


LOGITS = uniform(-3, 3, BATCH, CLASSES)
PAIR = inputs(LOGITS, uniform(-3, 3, BATCH, CLASSES))
PROBABILITIES = inputs(uniform(0.02, 0.98, BATCH, CLASSES), uniform(0, 1, BATCH, CLASSES))
BINARY_LOGITS = inputs(LOGITS, uniform(0, 1, BATCH, CLASSES))
KDIM = (3, CLASSES, 2, 3)  # (N, C, d1, d2)


# --------------------------------------------------------------------------- rows
def loss_rows(reduction: str) -> list[Row]:
    r = reduction
    rows = [
        Row("mse", lambda lib, x, y: lib.nn.MSELoss(reduction=r)(x, y), PAIR, (True, True)),
        Row("mse_functional", lambda lib, x, y: lib.nn.functional.mse_loss(x, y, reduction=r), PAIR, (True, True)),
        Row("l1", lambda lib, x, y: lib.nn.L1Loss(reduction=r)(x, y), PAIR, (True, True)),
        Row("l1_functional", lambda lib, x, y: lib.nn.functional.l1_loss(x, y, reduction=r), PAIR, (True, True)),
        Row("bce", lambda lib, x, y: lib.nn.BCELoss(reduction=r)(x, y), PROBABILITIES, (True, True)),
        Row("bce_weight", lambda lib, x, y: lib.nn.BCELoss(constant(lib, CLASS_WEIGHT, x), reduction=r)(x, y),
            PROBABILITIES, (True, True)),
        Row("bce_functional", lambda lib, x, y: lib.nn.functional.binary_cross_entropy(x, y, reduction=r),
            PROBABILITIES, (True, True)),
        Row("bce_logits", lambda lib, x, y: lib.nn.BCEWithLogitsLoss(reduction=r)(x, y), BINARY_LOGITS, (True, True)),
        Row("bce_logits_weight", lambda lib, x, y: lib.nn.BCEWithLogitsLoss(
            constant(lib, CLASS_WEIGHT, x), reduction=r)(x, y), BINARY_LOGITS, (True, True)),
        Row("bce_logits_pos_weight", lambda lib, x, y: lib.nn.BCEWithLogitsLoss(
            reduction=r, pos_weight=constant(lib, POS_WEIGHT, x))(x, y), BINARY_LOGITS, (True, True)),
        Row("bce_logits_both_weights", lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(
            x, y, constant(lib, CLASS_WEIGHT, x), reduction=r, pos_weight=constant(lib, POS_WEIGHT, x)),
            BINARY_LOGITS, (True, True)),
        Row("nll", lambda lib, x, t: lib.nn.NLLLoss(reduction=r)(x, t), inputs(LOGITS, labels((BATCH,))), (True, False)),
        Row("nll_weight_ignore", lambda lib, x, t: lib.nn.functional.nll_loss(
            x, t, constant(lib, CLASS_WEIGHT, x), ignore_index=2, reduction=r),
            inputs(LOGITS, labels((BATCH,), ignored=2)), (True, False)),
        Row("nll_kdim", lambda lib, x, t: lib.nn.NLLLoss(constant(lib, CLASS_WEIGHT, x), reduction=r)(x, t),
            inputs(uniform(-3, 3, *KDIM), labels((3, 2, 3))), (True, False)),
        Row("nll_unbatched", lambda lib, x, t: lib.nn.NLLLoss(reduction=r)(x, t),
            inputs(uniform(-3, 3, CLASSES), labels(())), (True, False)),
    ]
    for weighted in (False, True):
        for ignore in (None, 1):
            for smoothing in (0.0, 0.2):
                def ce(lib: ModuleType, x: Any, t: Any, weighted: bool = weighted, ignore: int | None = ignore,
                       smoothing: float = smoothing) -> Any:
                    options = {"ignore_index": ignore} if ignore is not None else {}
                    weight = constant(lib, CLASS_WEIGHT, x) if weighted else None
                    return lib.nn.CrossEntropyLoss(weight, reduction=r, label_smoothing=smoothing, **options)(x, t)
                suffix = "_weight" * weighted + "_ignore" * (ignore is not None) + "_smoothing" * (smoothing > 0)
                rows.append(Row(f"ce{suffix}", ce, inputs(LOGITS, labels((BATCH,), ignore)), (True, False)))
                if ignore is None:  # ignore_index has no meaning for probabilities
                    rows.append(Row(f"ce_probabilities{suffix}", ce, inputs(LOGITS, soft_targets(BATCH, CLASSES)),
                                    (True, True)))
                    rows.append(Row(f"ce_one_hot{suffix}", ce, inputs(LOGITS, one_hot_targets(BATCH)), (True, True)))
    rows += [
        Row("ce_kdim", lambda lib, x, t: lib.nn.functional.cross_entropy(
            x, t, constant(lib, CLASS_WEIGHT, x), ignore_index=0, reduction=r, label_smoothing=0.1),
            inputs(uniform(-3, 3, *KDIM), labels((3, 2, 3), ignored=0)), (True, False)),
        Row("ce_kdim_probabilities", lambda lib, x, t: lib.nn.functional.cross_entropy(
            x, t, constant(lib, CLASS_WEIGHT, x), reduction=r, label_smoothing=0.1),
            inputs(uniform(-3, 3, *KDIM), soft_targets(*KDIM)), (True, True)),
        Row("ce_unbatched", lambda lib, x, t: lib.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1)(x, t),
            inputs(uniform(-3, 3, CLASSES), labels(())), (True, False)),
        Row("ce_unbatched_probabilities", lambda lib, x, t: lib.nn.CrossEntropyLoss(reduction=r)(x, t),
            inputs(uniform(-3, 3, CLASSES), soft_targets(CLASSES, class_axis=0)), (True, True)),
        # extreme inputs: exact 0/1 probabilities, logits of 0 and +-1e4
        # (PyTorch divides by its floor 1e-12 rounded to float32 in some kernels: 4e-9 off in float64)
        Row("bce_exactly_0_and_1", lambda lib, x, y: lib.nn.BCELoss(reduction=r)(x, y),
            fixed([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.5], [1.0, 0.0, 0.0, 1.0, 0.3, 0.3, 0.5]), (True, False), 1e-8),
        Row("bce_logits_extremes", lambda lib, x, y: lib.nn.BCEWithLogitsLoss(reduction=r)(x, y),
            fixed([1e4, -1e4, 1e4, -1e4, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0]), (True, True)),
        Row("bce_logits_extremes_pos_weight", lambda lib, x, y: lib.nn.BCEWithLogitsLoss(
            reduction=r, pos_weight=constant(lib, np.array([2.5]), x))(x, y),
            fixed([1e4, -1e4, 1e4, -1e4, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0]), (True, True)),
        Row("ce_huge_logits", lambda lib, x, t: lib.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1)(x, t),
            fixed([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 1e4, -1e4]], np.array([0, 0, 1])), (True, False)),
        Row("ce_huge_logits_probabilities", lambda lib, x, t: lib.nn.CrossEntropyLoss(reduction=r)(x, t),
            fixed([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]), (True, True)),
    ]
    return [dataclasses.replace(row, name=f"{row.name}_{reduction}") for row in rows]


def activation(name: str, fn: Callable[..., Any], low: float = -3.0, high: float = 3.0) -> Row:
    return Row(name, fn, inputs(uniform(low, high, 3, 4, 5)), (True,))


ACTIVATION_ROWS = [
    activation("relu", lambda lib, x: lib.nn.ReLU()(x)),
    activation("leaky_relu", lambda lib, x: lib.nn.LeakyReLU()(x)),
    activation("leaky_relu_0.2", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2)),
    activation("elu", lambda lib, x: lib.nn.ELU()(x)),
    activation("elu_alpha", lambda lib, x: lib.nn.functional.elu(x, alpha=0.7)),
    activation("gelu", lambda lib, x: lib.nn.GELU()(x), -6, 6),
    activation("gelu_tanh", lambda lib, x: lib.nn.GELU(approximate="tanh")(x)),
    activation("gelu_tanh_functional", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    activation("sigmoid", lambda lib, x: lib.nn.Sigmoid()(x), -10, 10),
    activation("sigmoid_functional", lambda lib, x: lib.nn.functional.sigmoid(x)),
    activation("tanh", lambda lib, x: lib.nn.Tanh()(x)),
    activation("tanh_functional", lambda lib, x: lib.nn.functional.tanh(x)),
    activation("softplus", lambda lib, x: lib.nn.Softplus()(x)),
    activation("softplus_beta_threshold", lambda lib, x: lib.nn.functional.softplus(x * 30, beta=0.5, threshold=5)),
    activation("relu_functional", lambda lib, x: lib.nn.functional.relu(x)),
    activation("softmax_dim0", lambda lib, x: lib.nn.Softmax(dim=0)(x)),
    activation("softmax_dim-1", lambda lib, x: lib.nn.Softmax(dim=-1)(x)),
    activation("softmax_functional_dim1", lambda lib, x: lib.nn.functional.softmax(x, dim=1)),
    activation("log_softmax_dim1", lambda lib, x: lib.nn.LogSoftmax(dim=1)(x)),
    activation("log_softmax_dim-3", lambda lib, x: lib.nn.LogSoftmax(dim=-3)(x)),
    activation("log_softmax_functional_dim2", lambda lib, x: lib.nn.functional.log_softmax(x, dim=2)),
    activation("log_softmax_huge", lambda lib, x: lib.nn.functional.log_softmax(x * 1e4, dim=1)),
    activation("huge_inputs", lambda lib, x: lib.nn.functional.gelu(x * 1e3) + lib.nn.functional.elu(x * 1e3)
               + (x * 1e3).sigmoid()),
    Row("kinks_at_zero", lambda lib, x: lib.nn.functional.relu(x) + lib.nn.functional.leaky_relu(x, 0.2) * 2
        + lib.nn.functional.elu(x, 0.5) * 3 + lib.nn.functional.gelu(x) * 5, fixed([0.0, -0.0, 1.0, -1.0]), (True,)),
    Row("linear", lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
        inputs(uniform(-2, 2, 2, 3, 5), uniform(-1, 1, 4, 5), uniform(-1, 1, 4)), (True, True, True)),
    Row("linear_no_bias", lambda lib, x, w: lib.nn.functional.linear(x, w),
        inputs(uniform(-2, 2, 3, 5), uniform(-1, 1, 4, 5)), (True, True)),
    Row("linear_1d", lambda lib, x, w: lib.nn.functional.linear(x, w),
        inputs(uniform(-2, 2, 5), uniform(-1, 1, 4, 5)), (True, True)),
]
ROWS = [row for reduction in REDUCTIONS for row in loss_rows(reduction)] + ACTIVATION_ROWS


# --------------------------------------------------------------------------- the comparison
def run(lib: ModuleType, row: Row, arrays: tuple[np.ndarray, ...], dtype: str) -> tuple[Any, list[Any]]:
    """Call the row, then back-propagate a fixed random upstream gradient."""
    tensors = [lib.tensor(array.copy(), dtype=getattr(lib, dtype) if array.dtype.kind == "f" else lib.int64,
                          requires_grad=needs_grad) for array, needs_grad in zip(arrays, row.grads)]
    output = row.fn(lib, *tensors)
    upstream = np.random.default_rng(1).standard_normal(tuple(output.shape))
    output.backward(lib.tensor(upstream, dtype=output.dtype))
    return output, tensors


def assert_same(te_value: Any, torch_value: Any, what: str, float64_rtol: float = TOLERANCES["float64"][0]) -> None:
    assert isinstance(te_value, te.Tensor), f"{what}: not a Tensor but {type(te_value)!r}"
    assert tuple(te_value.shape) == tuple(torch_value.shape), f"{what}: shape {te_value.shape} != {torch_value.shape}"
    name = dtype_name(te_value.dtype, te)
    assert name == dtype_name(torch_value.dtype, torch), f"{what}: dtype {name} != torch {torch_value.dtype}"
    actual, expected = te_value.detach().numpy(), torch_value.detach().numpy()
    if name in TOLERANCES:
        rtol, atol = TOLERANCES[name]
        rtol = float64_rtol if name == "float64" else rtol
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def compare(row: Row, dtype: str, seed: int = 0) -> None:
    arrays = row.inputs(np.random.default_rng(seed))
    with reference_warnings_silenced():
        torch_output, torch_inputs = run(torch, row, arrays, dtype)
    with numpy_warnings_as_errors():
        te_output, te_inputs = run(te, row, arrays, dtype)
    assert_same(te_output, torch_output, "output", row.float64_rtol)
    for index, (te_input, torch_input) in enumerate(zip(te_inputs, torch_inputs)):
        if torch_input.grad is None:
            assert te_input.grad is None, f"input {index}: torch has no gradient, tinygrad_edu has one"
        else:
            assert_same(te_input.grad, torch_input.grad, f"gradient of input {index}", row.float64_rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in ROWS])
def test_matches_torch(row: Row, dtype: str) -> None:
    compare(row, dtype)


def test_row_names_are_unique() -> None:
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_matches_torch(name: str) -> None:
    """mean over no counted sample: PyTorch returns NaN but a zero gradient."""
    def fn(lib: ModuleType, x: Any, t: Any) -> Any:
        return getattr(lib.nn.functional, name)(x, t, ignore_index=2)
    compare(Row(name, fn, inputs(LOGITS, lambda rng: np.full(BATCH, 2)), (True, False)), "float64")


# --------------------------------------------------------------------------- second order
SECOND_ORDER_ROWS = [
    Row("bce_logits_at_zero", lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(x, y),
        fixed([0.0, 0.0, 1.5, -2.0], [0.0, 1.0, 0.3, 0.8]), (True, True)),
    Row("bce", lambda lib, x, y: lib.nn.functional.binary_cross_entropy(x, y), PROBABILITIES, (True, True)),
    Row("ce_smoothing_weight", lambda lib, x, t: lib.nn.functional.cross_entropy(
        x, t, constant(lib, CLASS_WEIGHT, x), label_smoothing=0.2), inputs(LOGITS, labels((BATCH,))), (True, False)),
    Row("ce_probabilities", lambda lib, x, t: lib.nn.functional.cross_entropy(x, t),
        inputs(LOGITS, soft_targets(BATCH, CLASSES)), (True, True)),
    Row("gelu", lambda lib, x: lib.nn.functional.gelu(x).sum(), inputs(uniform(-3, 3, 6)), (True,)),
    Row("softplus", lambda lib, x: lib.nn.functional.softplus(x).sum(), inputs(uniform(-3, 3, 6)), (True,)),
    Row("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh").sum(), inputs(uniform(-3, 3, 6)),
        (True,)),
    Row("log_softmax", lambda lib, x: (lib.nn.functional.log_softmax(x, dim=1) ** 2).sum(),
        inputs(uniform(-3, 3, 2, 4)), (True,)),
]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in SECOND_ORDER_ROWS])
def test_second_derivative_matches_torch(row: Row) -> None:
    """The gradient of (sum of the first gradients) with respect to each differentiable input."""
    arrays = row.inputs(np.random.default_rng(0))
    results = []
    for lib in (torch, te):
        tensors = [lib.tensor(array, dtype=lib.float64 if array.dtype.kind == "f" else lib.int64, requires_grad=g)
                   for array, g in zip(arrays, row.grads)]
        wrt = [tensor for tensor, g in zip(tensors, row.grads) if g]
        first = lib.autograd.grad(row.fn(lib, *tensors), wrt, create_graph=True)
        total = sum(gradient.sum() for gradient in first)
        results.append(lib.autograd.grad(total, wrt, allow_unused=True))
    for index, (torch_second, te_second) in enumerate(zip(*results)):
        expected = np.zeros(arrays[index].shape) if torch_second is None else torch_second.numpy()
        actual = np.zeros(arrays[index].shape) if te_second is None else te_second.numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12, err_msg=f"input {index}")


# --------------------------------------------------------------------------- one_hot
@pytest.mark.parametrize("labels_array, num_classes", [
    (np.array([0, 2, 1, 2]), -1), (np.array([[0, 2], [1, 1]]), 5), (np.array(3), -1), (np.array(1), 2),
    (np.zeros(0, dtype=np.int64), 3),
])
def test_one_hot_matches_torch(labels_array: np.ndarray, num_classes: int) -> None:
    expected = torch.nn.functional.one_hot(torch.tensor(labels_array), num_classes)
    assert_same(te.nn.functional.one_hot(te.tensor(labels_array), num_classes), expected, "one_hot")


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 3]), 3),
    lambda lib: lib.nn.functional.one_hot(lib.tensor([-1, 1])),
    lambda lib: lib.nn.functional.one_hot(lib.tensor([1.0])),
    lambda lib: lib.nn.functional.one_hot(lib.tensor(np.zeros(0, dtype=np.int64))),  # no classes to infer from
], ids=["too_large", "negative", "float", "empty_without_num_classes"])
def test_one_hot_errors_like_torch(make: Callable[[ModuleType], Any]) -> None:
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError, match="one_hot|class"):
        make(te)
