"""Bad input raises a clear error of PyTorch's exception type; never a wrong answer.

Shape mismatches are RuntimeErrors naming the op and both shapes; bad dims and indices
are IndexErrors; unsupported dtypes are TypeErrors; autograd misuse is a RuntimeError.
The regexes are loose on purpose: they ask for the op name and the shapes, not for an
exact sentence.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te


def shape_text(shape: tuple[int, ...]) -> str:
    """A regex for a shape printed as ``(2, 3)`` (brackets ``[2, 3]`` accepted too)."""
    inner = r",\s*".join(str(size) for size in shape)
    if len(shape) == 1:
        inner += ",?"
    return r"[\(\[]" + inner + r"[\)\]]"


def assert_message_names(error: pytest.ExceptionInfo[BaseException], op_pattern: str,
                         *shapes: tuple[int, ...]) -> None:
    message = str(error.value)
    assert re.search(op_pattern, message, re.IGNORECASE), f"op not named in: {message!r}"
    for shape in shapes:
        assert re.search(shape_text(shape), message), f"shape {shape} not in: {message!r}"


# --------------------------------------------------------------------------- shape mismatches

BINARY_OPS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    (r"add|\+", lambda a, b: a + b),
    (r"sub|-", lambda a, b: a - b),
    (r"mul|\*", lambda a, b: a * b),
    (r"div|/", lambda a, b: a / b),
    (r"pow|\*\*", lambda a, b: a ** b),
    (r"max", lambda a, b: te.maximum(a, b)),
    (r"min", lambda a, b: te.minimum(a, b)),
    (r"lt|less|<", lambda a, b: a < b),
    (r"eq|equal|==", lambda a, b: a == b),
]


@pytest.mark.parametrize("op_pattern, op", BINARY_OPS, ids=[p for p, _ in BINARY_OPS])
def test_binary_op_shape_mismatch(op_pattern: str, op: Callable[[Any, Any], Any]) -> None:
    a, b = te.ones(2, 3), te.ones(4, 5)
    with pytest.raises(RuntimeError) as error:
        op(a, b)
    assert_message_names(error, op_pattern, (2, 3), (4, 5))


def test_binary_op_mismatch_with_numpy_operand() -> None:
    with pytest.raises(RuntimeError) as error:
        te.ones(2, 3) + np.ones((3, 2))
    assert_message_names(error, r"add|\+", (2, 3), (3, 2))


def test_binary_op_mismatch_with_grad_inputs_raises_in_forward() -> None:
    a = te.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as error:
        a * te.ones(4)
    assert_message_names(error, r"mul|\*", (3,), (4,))


def test_where_shape_mismatch() -> None:
    with pytest.raises(RuntimeError) as error:
        te.where(te.ones(2) > 0, te.ones(3), te.ones(3))
    assert_message_names(error, r"where", (2,), (3,))


MATMUL_CASES: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((2, 3), (4, 5)),
    ((3,), (4,)),
    ((2, 3), (4,)),
    ((3,), (4, 5)),
    ((2, 3, 4), (2, 5, 6)),
    ((2, 3, 4), (3, 4, 5)),  # batch dims 2 and 3 do not broadcast
]


@pytest.mark.parametrize("left, right", MATMUL_CASES)
def test_matmul_shape_mismatch(left: tuple[int, ...], right: tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError) as error:
        te.ones(*left) @ te.ones(*right)
    assert_message_names(error, r"matmul|@|\bmm", left, right)
    with pytest.raises(RuntimeError):
        te.matmul(te.ones(*left), te.ones(*right))


def test_matmul_of_zero_dim_tensor_is_refused() -> None:
    with pytest.raises(RuntimeError, match="(?i)matmul|@"):
        te.tensor(2.0) @ te.ones(3)


def test_cat_shape_mismatch() -> None:
    with pytest.raises(RuntimeError) as error:
        te.cat([te.ones(2, 3), te.ones(2, 4)], dim=0)
    assert_message_names(error, r"cat", (2, 3), (2, 4))


def test_cat_ndim_mismatch() -> None:
    with pytest.raises(RuntimeError, match="(?i)cat"):
        te.cat([te.ones(2, 3), te.ones(3)], dim=0)


def test_stack_shape_mismatch() -> None:
    with pytest.raises(RuntimeError) as error:
        te.stack([te.ones(2, 3), te.ones(2, 4)])
    assert_message_names(error, r"stack", (2, 3), (2, 4))


@pytest.mark.parametrize("method", ["reshape", "view"])
@pytest.mark.parametrize("target", [(4, 2), (4, -1), (7,)])
def test_reshape_and_view_size_mismatch(method: str, target: tuple[int, ...]) -> None:
    t = te.ones(2, 3)
    with pytest.raises(RuntimeError) as error:
        getattr(t, method)(*target)
    assert_message_names(error, method, (2, 3), target)


def test_reshape_with_two_inferred_dims() -> None:
    with pytest.raises(RuntimeError, match="(?i)reshape|infer|-1"):
        te.ones(6).reshape(-1, -1)


@pytest.mark.parametrize("target", [(4, 3), (2, 4), (3,)])
def test_expand_shape_mismatch(target: tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError) as error:
        te.ones(2, 3).expand(*target)
    assert_message_names(error, r"expand", (2, 3), target)


def test_inplace_broadcast_mismatch() -> None:
    t = te.ones(3)
    with pytest.raises(RuntimeError) as error:
        t += te.ones(2, 3)
    assert_message_names(error, r"add|\+", (3,), (2, 3))
    np.testing.assert_array_equal(t.numpy(), np.ones(3))


# --------------------------------------------------------------------------- wrong dim

BAD_DIM_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sum", lambda t: t.sum(dim=2)),
    ("sum_negative", lambda t: t.sum(dim=-3)),
    ("sum_tuple", lambda t: t.sum(dim=(0, 5))),
    ("mean", lambda t: t.mean(dim=2)),
    ("prod", lambda t: t.prod(dim=2)),
    ("var", lambda t: t.var(dim=2)),
    ("max", lambda t: t.max(dim=2)),
    ("min", lambda t: t.min(dim=-3)),
    ("argmax", lambda t: t.argmax(dim=3)),
    ("softmax", lambda t: t.softmax(dim=2)),
    ("log_softmax", lambda t: t.log_softmax(dim=-3)),
    ("logsumexp", lambda t: t.logsumexp(dim=2)),
    ("unsqueeze", lambda t: t.unsqueeze(3)),
    ("squeeze", lambda t: t.squeeze(2)),
    ("transpose", lambda t: t.transpose(0, 2)),
    ("permute", lambda t: t.permute(0, 2)),
    ("flatten", lambda t: t.flatten(0, 2)),
    ("size", lambda t: t.size(2)),
    ("cat", lambda t: te.cat([t, t], dim=2)),
    ("stack", lambda t: te.stack([t, t], dim=4)),
    ("split", lambda t: t.split(1, dim=2)),
    ("chunk", lambda t: t.chunk(2, dim=2)),
]


@pytest.mark.parametrize("name, call", BAD_DIM_CALLS, ids=[n for n, _ in BAD_DIM_CALLS])
def test_dim_out_of_range_is_index_error(name: str, call: Callable[[Any], Any]) -> None:
    with pytest.raises(IndexError, match="(?i)dim"):
        call(te.ones(2, 3))


# --------------------------------------------------------------------------- bad indices

BAD_INDICES: list[tuple[str, Callable[[Any], Any]]] = [
    ("int_past_end", lambda t: t[3]),
    ("negative_past_start", lambda t: t[-4]),
    ("list", lambda t: t[[0, 3]]),
    ("numpy_array", lambda t: t[np.array([1, -5])]),
    ("int_tensor", lambda t: t[te.tensor([5])]),
    ("too_many", lambda t: t[0, 0]),
    ("mask_wrong_length", lambda t: t[te.tensor([True, False])]),
    ("float_index", lambda t: t[1.5]),
    ("float_tensor_index", lambda t: t[te.tensor([0.0])]),
]


@pytest.mark.parametrize("name, call", BAD_INDICES, ids=[n for n, _ in BAD_INDICES])
def test_bad_index_on_vector_is_index_error(name: str, call: Callable[[Any], Any]) -> None:
    with pytest.raises(IndexError):
        call(te.ones(3))


def test_bad_index_on_second_dim() -> None:
    t = te.ones(2, 3)
    with pytest.raises(IndexError):
        t[0, 5]
    with pytest.raises(IndexError):
        t[:, [3]]


def test_bad_index_with_grad_raises_in_forward() -> None:
    x = te.ones(3, requires_grad=True)
    with pytest.raises(IndexError):
        x[te.tensor([0, 3])]


# --------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize(
    "array",
    [np.array([1 + 2j]), np.array(["a", "b"]), np.array([object()], dtype=object)],
    ids=["complex", "string", "object"],
)
def test_unsupported_numpy_dtype_is_type_error(array: np.ndarray) -> None:
    with pytest.raises(TypeError):
        te.tensor(array)


def test_unsupported_dtype_argument_is_type_error() -> None:
    with pytest.raises(TypeError):
        te.zeros(2, dtype=np.complex128)


INT_AND_BOOL_GRAD_REQUESTS: list[tuple[str, Callable[[], Any]]] = [
    ("tensor_int", lambda: te.tensor([1, 2], requires_grad=True)),
    ("tensor_bool", lambda: te.tensor([True, False], requires_grad=True)),
    ("zeros_int64", lambda: te.zeros(2, dtype=te.int64, requires_grad=True)),
    ("ones_bool", lambda: te.ones(2, dtype=te.bool, requires_grad=True)),
    ("arange_int", lambda: te.arange(3, requires_grad=True)),
    ("requires_grad_int", lambda: te.tensor([1, 2]).requires_grad_()),
    ("requires_grad_bool", lambda: (te.ones(2) > 0).requires_grad_()),
]


@pytest.mark.parametrize("name, make", INT_AND_BOOL_GRAD_REQUESTS,
                         ids=[n for n, _ in INT_AND_BOOL_GRAD_REQUESTS])
def test_only_floating_tensors_require_grad(name: str, make: Callable[[], Any]) -> None:
    with pytest.raises(RuntimeError, match="(?i)floating[ -]?point"):
        make()


@pytest.mark.parametrize("make_like", [te.rand_like, te.randn_like], ids=["rand_like", "randn_like"])
@pytest.mark.parametrize("source", [[1, 2], [True, False]], ids=["int64", "bool"])
def test_random_like_on_integer_tensor_is_refused(make_like: Callable[[Any], Any],
                                                  source: list[Any]) -> None:
    # PyTorch raises NotImplementedError (a RuntimeError); rounding random floats to
    # integers would silently give a tensor of zeros.
    with pytest.raises((RuntimeError, TypeError)):
        make_like(te.tensor(source))


# --------------------------------------------------------------------------- bad argument values

BAD_VALUES: list[tuple[str, Callable[[], Any]]] = [  # each a RuntimeError in PyTorch
    ("int_to_negative_power", lambda: te.tensor([1, 2]) ** -1),
    ("arange_zero_step", lambda: te.arange(0, 5, 0)),
    ("linspace_negative_steps", lambda: te.linspace(0, 1, -1)),
    ("zeros_negative_size", lambda: te.zeros(-1)),
    ("randint_empty_range", lambda: te.randint(5, 3, (2,))),
    ("eye_negative", lambda: te.eye(-1)),
    ("where_float_condition", lambda: te.where(te.tensor([1.0, 0.0]), te.ones(2), te.zeros(2))),
    ("permute_repeated", lambda: te.ones(2, 3).permute(0, 0)),
    ("repeat_too_few", lambda: te.ones(2, 3).repeat(2)),
    ("item_of_empty", lambda: te.tensor([]).item()),
]


@pytest.mark.parametrize("name, make", BAD_VALUES, ids=[n for n, _ in BAD_VALUES])
def test_bad_argument_values_raise_runtime_error(name: str, make: Callable[[], Any]) -> None:
    with pytest.raises(RuntimeError):
        make()


# --------------------------------------------------------------------------- autograd misuse

def test_backward_on_int_tensor() -> None:
    with pytest.raises(RuntimeError):
        te.tensor([1, 2]).sum().backward()


def test_backward_on_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError):
        te.tensor([1.0, 2.0]).sum().backward()


def test_backward_on_non_scalar_without_gradient() -> None:
    y = te.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="(?i)scalar"):
        y.backward()


def test_backward_gradient_of_wrong_shape_is_refused_not_broadcast() -> None:
    x = te.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="(?i)shape"):
        y.backward(gradient=te.ones(1))
    assert x.grad is None


def test_comparison_results_do_not_require_grad() -> None:
    x = te.ones(3, requires_grad=True)
    mask = x < 2
    assert mask.requires_grad is False
    assert mask.dtype == te.bool
    with pytest.raises(RuntimeError):
        mask.sum().backward()


# --------------------------------------------------------------------------- conversions

def test_item_on_many_elements() -> None:
    with pytest.raises(RuntimeError):
        te.tensor([1.0, 2.0]).item()


def test_len_of_zero_dim_tensor() -> None:
    with pytest.raises(TypeError):
        len(te.tensor(1.0))
