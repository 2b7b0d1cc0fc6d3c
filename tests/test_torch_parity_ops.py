"""PyTorch parity of the elementwise ops, comparisons, ``where``, reductions, in-place ops
and the top-level functions: forward values, shapes, dtypes and the gradient of every input.

Each row is one op written once for both libraries (``lib`` is ``tinygrad_edu`` or ``torch``);
see ``torch_parity_helpers`` for what is compared. Inputs are float64 unless a row says
otherwise (every unary op and reduction is run again in float32). Random values stay inside
each op's domain and away from its kinks; ``KINK_CASES`` puts values exactly on them, where
PyTorch's choice of subgradient is the reference.
"""
from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import mutually_broadcastable_shapes  # noqa: E402

import tinygrad_edu as te  # noqa: E402
from torch_parity_helpers import Case, ParityFn, assert_matches_torch, cases_as_params  # noqa: E402

MATRIX = (3, 4)
CUBE = (3, 4, 5)
POSITIVE = dict(low=0.5, high=2.0)

UNARY_CASES = [
    Case("neg", lambda lib, x: -x, (MATRIX,)),
    Case("abs", lambda lib, x: x.abs(), (MATRIX,)),
    Case("exp", lambda lib, x: x.exp(), (MATRIX,)),
    Case("log", lambda lib, x: x.log(), (MATRIX,), **POSITIVE),
    Case("sqrt", lambda lib, x: x.sqrt(), (MATRIX,), **POSITIVE),
    Case("rsqrt", lambda lib, x: x.rsqrt(), (MATRIX,), **POSITIVE),
    Case("sin", lambda lib, x: x.sin(), (MATRIX,)),
    Case("cos", lambda lib, x: x.cos(), (MATRIX,)),
    Case("tanh", lambda lib, x: x.tanh(), (MATRIX,)),
    Case("sigmoid", lambda lib, x: x.sigmoid(), (MATRIX,)),
    Case("relu", lambda lib, x: x.relu(), (MATRIX,)),
    Case("sign", lambda lib, x: x.sign(), (MATRIX,)),
    Case("clamp_min_max", lambda lib, x: x.clamp(-0.5, 0.5), (MATRIX,)),
    Case("clamp_min_only", lambda lib, x: x.clamp(min=-0.5), (MATRIX,)),
    Case("clamp_max_only", lambda lib, x: x.clamp(max=0.5), (MATRIX,)),
    Case("pow_int_exponent", lambda lib, x: x**3, (MATRIX,)),
    Case("pow_method", lambda lib, x: x.pow(2), (MATRIX,)),
    Case("pow_fractional", lambda lib, x: x**2.5, (MATRIX,), **POSITIVE),
    Case("pow_negative", lambda lib, x: x**-1.5, (MATRIX,), **POSITIVE),
    Case("pow_zero", lambda lib, x: x**0, (MATRIX,)),
    Case("rpow_scalar_base", lambda lib, x: 2.0**x, (MATRIX,)),
    Case("tanh_0d", lambda lib, x: x.tanh(), ((),)),
    Case("exp_size1", lambda lib, x: x.exp(), ((1, 1),)),
    Case("chain_used_twice", lambda lib, x: x * x.sigmoid() + x.tanh() * x, (MATRIX,)),
    # the top-level functions
    Case("fn_exp", lambda lib, x: lib.exp(x), (MATRIX,)),
    Case("fn_log", lambda lib, x: lib.log(x), (MATRIX,), **POSITIVE),
    Case("fn_sqrt", lambda lib, x: lib.sqrt(x), (MATRIX,), **POSITIVE),
    Case("fn_tanh", lambda lib, x: lib.tanh(x), (MATRIX,)),
    Case("fn_sigmoid", lambda lib, x: lib.sigmoid(x), (MATRIX,)),
    Case("fn_relu", lambda lib, x: lib.relu(x), (MATRIX,)),
    Case("fn_clamp", lambda lib, x: lib.clamp(x, min=-0.5, max=0.5), (MATRIX,)),
    Case("fn_clamp_positional", lambda lib, x: lib.clamp(x, -0.5, 0.5), (MATRIX,)),
]

# Binary ops; both operands are drawn from [0.5, 2) so that / and ** stay in their domain.
BINARY_OPS: dict[str, ParityFn] = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: a**b,
    "pow_method": lambda lib, a, b: a.pow(b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "maximum_method": lambda lib, a, b: a.maximum(b),
    "minimum_method": lambda lib, a, b: a.minimum(b),
}
SHAPE_PAIRS: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((), ()),
    ((1,), (3, 1)),
    ((5, 1, 3), (1, 4, 1)),
]
BINARY_CASES = [
    Case(f"{op}-{a}-{b}", fn, (a, b), **POSITIVE) for op, fn in BINARY_OPS.items() for a, b in SHAPE_PAIRS
]

SCALAR_OPERAND_CASES = [
    Case("add_scalar", lambda lib, x: x + 2.5, (MATRIX,)),
    Case("radd_scalar", lambda lib, x: 2.5 + x, (MATRIX,)),
    Case("sub_scalar", lambda lib, x: x - 2, (MATRIX,)),
    Case("rsub_scalar", lambda lib, x: 2.5 - x, (MATRIX,)),
    Case("mul_scalar", lambda lib, x: x * -3.0, (MATRIX,)),
    Case("rmul_scalar", lambda lib, x: 3 * x, (MATRIX,)),
    Case("div_scalar", lambda lib, x: x / 4.0, (MATRIX,)),
    Case("rdiv_scalar", lambda lib, x: 2.0 / x, (MATRIX,), **POSITIVE),
    Case("rpow_int_base", lambda lib, x: 3**x, (MATRIX,)),
    Case("maximum_ties", lambda lib, a, b: lib.maximum(a, b), (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 3.0, 5.0]))),
    Case("minimum_ties", lambda lib, a, b: lib.minimum(a, b), (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 3.0, 5.0]))),
    Case("sub_self", lambda lib, x: x - x, (MATRIX,)),
    Case("div_self_broadcast", lambda lib, x: x / x.sum(dim=1, keepdim=True), (MATRIX,), **POSITIVE),
]

# Values exactly at a kink or a boundary: PyTorch's subgradient choices are the reference.
AT_KINKS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
KINK_CASES = [
    Case("relu_at_0", lambda lib, x: x.relu(), (AT_KINKS,)),
    Case("abs_at_0", lambda lib, x: x.abs(), (AT_KINKS,)),
    Case("sign_at_0", lambda lib, x: x.sign(), (AT_KINKS,)),
    Case("clamp_at_bounds", lambda lib, x: x.clamp(-0.5, 0.5), (AT_KINKS,)),
    Case("clamp_min_at_bound", lambda lib, x: x.clamp(min=0.0), (AT_KINKS,)),
    Case("square_at_0", lambda lib, x: x**2, (AT_KINKS,)),
    Case("cube_at_0", lambda lib, x: x.pow(3), (AT_KINKS,)),
    Case("pow_0_at_0", lambda lib, x: x**0, (AT_KINKS,)),
    Case("pow_1_at_0", lambda lib, x: x**1, (AT_KINKS,)),
    Case("maximum_with_scalar_tensor_tie", lambda lib, x, y: lib.maximum(x, y), (AT_KINKS, np.array(0.0))),
    Case("where_mask_at_0", lambda lib, x: lib.where(x >= 0, x, -x), (AT_KINKS,)),
]


def add_in_place(lib: ModuleType, x: Any, y: Any) -> Any:
    out = x * 2
    out += y
    return out


def mul_in_place(lib: ModuleType, x: Any, y: Any) -> Any:
    out = x * 2
    out *= y
    return out


def div_in_place(lib: ModuleType, x: Any, y: Any) -> Any:
    out = x * 2
    out /= y
    return out


def sub_mul_div_in_place(lib: ModuleType, x: Any, y: Any) -> Any:
    out = x.sin()  # sin saves its input, not its output, so modifying the output is allowed
    out -= y
    out *= y
    out /= 3.0
    return out


def method_in_place_chain(lib: ModuleType, x: Any, y: Any) -> Any:
    out = x.cos()
    out.add_(y).mul_(y).sub_(1.0)
    return out * x


def zero_and_copy_in_place(lib: ModuleType, x: Any, y: Any) -> Any:
    zeroed = (x + 1).zero_()
    copied = (x * 0).copy_(y)
    return x * 3 + zeroed + copied


# In-place ops on non-leaf tensors: the gradient must flow as if the op were out-of-place.
IN_PLACE_CASES = [
    Case("iadd_broadcast", add_in_place, ((3, 4), (4,))),
    Case("imul_by_tensor_requiring_grad", mul_in_place, ((3, 4), (3, 4))),
    Case("idiv_by_tensor_requiring_grad", div_in_place, ((3, 4), (4,)), **POSITIVE),
    Case("imul_by_constant_tensor", lambda lib, x: mul_in_place(lib, x, lib.tensor([1.0, -2.0, 3.0, 0.5])), ((3, 4),)),
    Case("isub_imul_idiv", sub_mul_div_in_place, ((3, 4), (3, 4))),
    Case("method_chain_add_mul_sub", method_in_place_chain, ((3, 4), (3, 4))),
    Case("zero_and_copy", zero_and_copy_in_place, ((3, 4), (3, 4))),
    Case("fill_", lambda lib, x: (x * 2).fill_(0.5) * x, ((3, 4),)),
]

TIES_LEFT = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
TIES_RIGHT = np.array([2.0, 2.0, 2.0])
COMPARISON_CASES = [
    Case("lt", lambda lib, a, b: a < b, (TIES_LEFT, TIES_RIGHT)),
    Case("le", lambda lib, a, b: a <= b, (TIES_LEFT, TIES_RIGHT)),
    Case("gt", lambda lib, a, b: a > b, (TIES_LEFT, TIES_RIGHT)),
    Case("ge", lambda lib, a, b: a >= b, (TIES_LEFT, TIES_RIGHT)),
    Case("eq", lambda lib, a, b: a == b, (TIES_LEFT, TIES_RIGHT)),
    Case("ne", lambda lib, a, b: a != b, (TIES_LEFT, TIES_RIGHT)),
    Case("lt_scalar", lambda lib, a: a < 2.0, (TIES_LEFT,)),
    Case("scalar_lt_reflected", lambda lib, a: 2.0 < a, (TIES_LEFT,)),
    Case("eq_scalar", lambda lib, a: a == 2, (TIES_LEFT,)),
    Case("ge_0d", lambda lib, a, b: a >= b, (TIES_LEFT, np.array(2.0))),
    # remainder: Python's floor rounding for negatives; differentiable in both operands
    Case("remainder", lambda lib, a, b: a % b, (np.array([[5.0, -7.0, 3.5]]), np.array([2.0, 2.0, -1.5]))),
    Case("remainder_scalar", lambda lib, a: a % 3, (np.array([5.0, -7.0, 3.5]),)),
]


def test_floor_division_matches_torch() -> None:
    """``//`` (and ``number % tensor``) have no derivative in PyTorch, so values only."""
    left, right = np.array([[5.0, -7.0, 3.5]]), np.array([2.0, 2.0, -1.5])
    ours = te.tensor(left) // te.tensor(right)
    np.testing.assert_array_equal(ours.numpy(), (torch.tensor(left) // torch.tensor(right)).numpy())
    np.testing.assert_array_equal((7.0 // te.tensor(right)).numpy(), (7.0 // torch.tensor(right)).numpy())
    np.testing.assert_array_equal((7.0 % te.tensor(right)).numpy(), (7.0 % torch.tensor(right)).numpy())
    assert not (te.tensor(left, requires_grad=True) // 2).requires_grad

MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
WHERE_CASES = [
    Case("where", lambda lib, c, a, b: lib.where(c, a, b), (MASK, MATRIX, MATRIX)),
    Case("where_broadcast", lambda lib, c, a, b: lib.where(c, a, b), (MASK[:, :1].copy(), (1, 4), ())),
    Case("where_scalar_other", lambda lib, c, a: lib.where(c, a, 0.0), (MASK, MATRIX)),
    Case("where_method", lambda lib, c, a, b: a.where(c, b), (MASK, MATRIX, (4,))),
    Case("where_from_comparison", lambda lib, a, b: lib.where(a > 0, a, b), (MATRIX, MATRIX)),
    Case("where_same_input_both_sides", lambda lib, a: lib.where(a > 0, a, a * 2), (MATRIX,)),
]

WITH_ZEROS = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, -2.0, 0.5]])
MAX_TIES = np.array([[1.0, 3.0], [3.0, 2.0]])
ROW_TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
REDUCTION_CASES = [
    Case("sum_all", lambda lib, x: x.sum(), (CUBE,)),
    Case("sum_dim", lambda lib, x: x.sum(1), (CUBE,)),
    Case("sum_dim_keepdim", lambda lib, x: x.sum(dim=-1, keepdim=True), (CUBE,)),
    Case("sum_tuple", lambda lib, x: x.sum(dim=(0, 2)), (CUBE,)),
    Case("sum_tuple_keepdim", lambda lib, x: x.sum(dim=(0, -1), keepdim=True), (CUBE,)),
    Case("sum_0d", lambda lib, x: x.sum(), ((),)),
    Case("sum_dim_numpy_int", lambda lib, x: x.sum(dim=np.int64(0)), ((3, 2),)),
    Case("mean_all", lambda lib, x: x.mean(), (CUBE,)),
    Case("mean_dim", lambda lib, x: x.mean(dim=1), (CUBE,)),
    Case("mean_tuple_keepdim", lambda lib, x: x.mean(dim=(0, 2), keepdim=True), (CUBE,)),
    Case("prod_all", lambda lib, x: x.prod(), (MATRIX,), **POSITIVE),
    Case("prod_dim", lambda lib, x: x.prod(1), (CUBE,), **POSITIVE),
    Case("prod_dim_keepdim", lambda lib, x: x.prod(dim=-1, keepdim=True), (CUBE,), **POSITIVE),
    Case("prod_dim_with_zeros", lambda lib, x: x.prod(dim=1), (WITH_ZEROS,)),
    Case("prod_all_one_zero", lambda lib, x: x.prod(), (np.array([1.5, 0.0, 2.0, -1.0]),)),
    Case("var_all", lambda lib, x: x.var(), (CUBE,)),
    Case("var_dim", lambda lib, x: x.var(1), (CUBE,)),
    Case("var_tuple_keepdim", lambda lib, x: x.var(dim=(0, 2), keepdim=True), (CUBE,)),
    Case("var_unbiased_false", lambda lib, x: x.var(1, unbiased=False), (CUBE,)),
    Case("var_correction_0", lambda lib, x: x.var(dim=1, correction=0), (CUBE,)),
    Case("var_correction_2", lambda lib, x: x.var(correction=2), (CUBE,)),
    Case("std_all", lambda lib, x: x.std(), (CUBE,)),
    Case("std_dim_keepdim", lambda lib, x: x.std(dim=-1, keepdim=True), (CUBE,)),
    Case("std_tuple", lambda lib, x: x.std(dim=(0, 1)), (CUBE,)),
    Case("std_unbiased_false", lambda lib, x: x.std(0, unbiased=False), (CUBE,)),
    Case("std_correction_0", lambda lib, x: x.std(dim=2, correction=0), (CUBE,)),
    Case("max_all", lambda lib, x: x.max(), (CUBE,)),
    Case("min_all", lambda lib, x: x.min(), (CUBE,)),
    Case("max_all_ties_spread", lambda lib, x: x.max(), (MAX_TIES,)),
    Case("min_all_ties_spread", lambda lib, x: x.min(), (np.array([[2.0, 1.0], [1.0, 1.0]]),)),
    Case("max_dim", lambda lib, x: x.max(dim=1), (CUBE,)),
    Case("max_dim_keepdim", lambda lib, x: x.max(1, keepdim=True), (CUBE,)),
    Case("min_dim", lambda lib, x: x.min(dim=0), (CUBE,)),
    Case("max_dim_ties_first_index", lambda lib, x: x.max(dim=1), (ROW_TIES,)),
    Case("max_dim_values_only", lambda lib, x: x.max(dim=-1)[0] * 2, (CUBE,)),
    Case("max_dim_named_fields", lambda lib, x: (x.max(dim=1).values, x.max(dim=1).indices), (CUBE,)),
    Case("min_dim_named_fields", lambda lib, x: (x.min(0).values * 3, x.min(0).indices), (CUBE,)),
    Case("min_dim_ties_first_index", lambda lib, x: x.min(dim=1), (-ROW_TIES,)),
    Case("argmin_ties", lambda lib, x: x.argmin(dim=1), (-ROW_TIES,)),
    Case("argmax_all", lambda lib, x: x.argmax(), (CUBE,)),
    Case("argmax_dim", lambda lib, x: x.argmax(dim=1), (CUBE,)),
    Case("argmax_keepdim", lambda lib, x: x.argmax(dim=0, keepdim=True), (CUBE,)),
    Case("argmax_ties", lambda lib, x: x.argmax(dim=1), (ROW_TIES,)),
    Case("argmin_all", lambda lib, x: x.argmin(), (CUBE,)),
    Case("argmin_dim", lambda lib, x: x.argmin(dim=-1), (CUBE,)),
    Case("logsumexp_dim", lambda lib, x: x.logsumexp(dim=1), (CUBE,)),
    Case("logsumexp_tuple", lambda lib, x: x.logsumexp(dim=(0, 2)), (CUBE,)),
    Case("logsumexp_keepdim", lambda lib, x: x.logsumexp(-1, keepdim=True), (CUBE,)),
    Case("softmax_last", lambda lib, x: x.softmax(dim=-1), (CUBE,)),
    Case("softmax_first", lambda lib, x: x.softmax(0), (CUBE,)),
    Case("softmax_1d", lambda lib, x: x.softmax(dim=0), ((6,),)),
    Case("log_softmax", lambda lib, x: x.log_softmax(dim=1), (CUBE,)),
    Case("log_softmax_last", lambda lib, x: x.log_softmax(-1), (MATRIX,)),
    # the top-level functions
    Case("fn_sum", lambda lib, x: lib.sum(x), (CUBE,)),
    Case("fn_sum_dim", lambda lib, x: lib.sum(x, dim=1, keepdim=True), (CUBE,)),
    Case("fn_mean", lambda lib, x: lib.mean(x), (CUBE,)),
    Case("fn_mean_dim", lambda lib, x: lib.mean(x, dim=(0, 1)), (CUBE,)),
    Case("fn_max", lambda lib, x: lib.max(x), (CUBE,)),
    Case("fn_max_dim", lambda lib, x: lib.max(x, dim=1), (CUBE,)),
    Case("fn_max_dim_positional", lambda lib, x: lib.max(x, 2), (CUBE,)),
    Case("fn_min", lambda lib, x: lib.min(x), (CUBE,)),
    Case("fn_min_dim", lambda lib, x: lib.min(x, dim=0, keepdim=True), (CUBE,)),
    Case("fn_argmax", lambda lib, x: lib.argmax(x), (CUBE,)),
    Case("fn_argmax_dim", lambda lib, x: lib.argmax(x, dim=1), (CUBE,)),
    Case("fn_softmax", lambda lib, x: lib.softmax(x, dim=1), (CUBE,)),
    Case("fn_softmax_positional", lambda lib, x: lib.softmax(x, -1), (MATRIX,)),
    Case("fn_log_softmax", lambda lib, x: lib.log_softmax(x, dim=-1), (CUBE,)),
    Case("fn_logsumexp", lambda lib, x: lib.logsumexp(x, dim=1), (CUBE,)),
    Case("fn_logsumexp_positional", lambda lib, x: lib.logsumexp(x, 0), (MATRIX,)),
]


@pytest.mark.parametrize("case", cases_as_params(UNARY_CASES))
def test_unary_op_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(UNARY_CASES + REDUCTION_CASES))
def test_float32_op_keeps_float32_and_matches_torch(case: Case) -> None:
    """The same rows on float32 inputs: no silent upcast to float64, values within float32 noise."""
    assert_matches_torch(dataclasses.replace(case, dtype="float32"))


@pytest.mark.parametrize("case", cases_as_params(BINARY_CASES))
def test_binary_op_broadcasting_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(SCALAR_OPERAND_CASES))
def test_scalar_operand_and_tie_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(KINK_CASES))
def test_kink_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(IN_PLACE_CASES))
def test_in_place_on_non_leaf_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(COMPARISON_CASES))
def test_comparison_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(WHERE_CASES))
def test_where_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(REDUCTION_CASES))
def test_reduction_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("op_name", sorted(BINARY_OPS))
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_binary_op_random_broadcast_matches_torch(op_name: str, shapes, seed: int) -> None:
    case = Case(op_name, BINARY_OPS[op_name], tuple(shapes.input_shapes), **POSITIVE)
    assert_matches_torch(case, seed)


REDUCTION_OPS: dict[str, ParityFn] = {
    "sum": lambda lib, x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim),
    "mean": lambda lib, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim),
    "var": lambda lib, x, dim, keepdim: x.var(dim=dim, keepdim=keepdim),
    "std_correction_0": lambda lib, x, dim, keepdim: x.std(dim=dim, keepdim=keepdim, correction=0),
    "logsumexp": lambda lib, x, dim, keepdim: x.logsumexp(dim=dim, keepdim=keepdim),
}


@st.composite
def shape_and_dims(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A shape of 1 to 4 dims (sides 2..3, so var with correction 1 is defined) and a
    non-empty tuple of distinct dims, some written as negative numbers."""
    shape = tuple(draw(st.lists(st.integers(2, 3), min_size=1, max_size=4)))
    chosen = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    signed = tuple(draw(st.sampled_from([dim, dim - len(shape)])) for dim in chosen)
    return shape, signed


@pytest.mark.parametrize("op_name", sorted(REDUCTION_OPS))
@given(shape_dims=shape_and_dims(), keepdim=st.booleans(), seed=st.integers(min_value=0, max_value=2**16))
def test_reduction_random_dims_matches_torch(
    op_name: str, shape_dims: tuple[tuple[int, ...], tuple[int, ...]], keepdim: bool, seed: int
) -> None:
    shape, dims = shape_dims
    reduce = REDUCTION_OPS[op_name]
    dim: int | tuple[int, ...] = dims[0] if len(dims) == 1 else dims
    case = Case(op_name, lambda lib, x: reduce(lib, x, dim, keepdim), (shape,))
    assert_matches_torch(case, seed)
