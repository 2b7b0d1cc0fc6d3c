"""PyTorch parity beyond single ops: type promotion (tensors of mixed dtypes, 0-d tensors,
Python numbers and NumPy values on either side), dtype inference at creation, numerical
stability at extreme inputs (no NumPy warning may leak), ``repr``, second derivatives and
autograd semantics (accumulation, hooks, ``retain_grad``, ``autograd.grad``, ``no_grad``).
"""
from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te  # noqa: E402
from tinygrad_edu import autograd as te_autograd  # noqa: E402

from torch_parity_helpers import (  # noqa: E402
    Case,
    assert_matches_torch,
    assert_tensor_matches,
    cases_as_params,
    dtype_name,
    numpy_warnings_as_errors,
    reference_warnings_silenced,
)

# --- type promotion -------------------------------------------------------------------

F32 = np.array([1.5, -2.0, 3.25], dtype=np.float32)
F64 = np.array([0.5, 1.0, -1.5])
I64 = np.array([1, -2, 3], dtype=np.int64)
BOOLS = np.array([True, False, True])
F64_0D = np.array(2.5)
F32_0D = np.array(2.5, dtype=np.float32)
I64_0D = np.array(3, dtype=np.int64)
NUMPY_F64 = np.array([2.0, 0.5, 4.0])


def numpy_operand(lib: ModuleType, array: np.ndarray) -> Any:
    """A NumPy array used directly as an operator's operand (left or right side).

    tinygrad_edu gets the raw array. PyTorch 2.x cannot take one: under NumPy 2,
    ``ndarray + Tensor`` raises, and ``Tensor + ndarray`` raises when the tensor requires grad.
    Its reference result is therefore the one it gives with the array as a tensor
    (``torch.from_numpy``), which is what it returns where it does accept the raw array.
    """
    return array if lib is te else torch.from_numpy(array.copy())


PROMOTION_CASES = [
    Case("int64_plus_float", lambda lib, i: i + 2.5, (I64,)),
    Case("float_plus_int64", lambda lib, i: 2.5 + i, (I64,)),
    Case("int64_times_int", lambda lib, i: i * 2, (I64,)),
    Case("int_minus_int64", lambda lib, i: 2 - i, (I64,)),
    Case("int64_truediv_int", lambda lib, i: i / 2, (I64,)),
    Case("int64_truediv_int64", lambda lib, i, j: i / j, (I64, I64[::-1].copy())),
    Case("int64_pow_int", lambda lib, i: i**2, (I64,)),
    Case("int64_pow_float", lambda lib, i: i**0.5, (np.abs(I64),)),
    Case("float_pow_int64", lambda lib, i: 2.0**i, (I64,)),
    Case("float32_plus_float64", lambda lib, a, b: a + b, (F32, F64)),
    Case("float64_times_float32", lambda lib, a, b: a * b, (F64, F32)),
    Case("float32_times_0d_float64", lambda lib, a, b: a * b, (F32, F64_0D)),
    Case("0d_float64_minus_float32", lambda lib, a, b: b - a, (F32, F64_0D)),
    Case("float64_times_0d_float32", lambda lib, a, b: a * b, (F64, F32_0D)),
    Case("int64_plus_0d_float64", lambda lib, i, b: i + b, (I64, F64_0D)),
    Case("int64_plus_0d_float32", lambda lib, i, b: i + b, (I64, F32_0D)),
    Case("float32_plus_0d_int64", lambda lib, a, i: a + i, (F32, I64_0D)),
    Case("int64_plus_0d_int64", lambda lib, i, j: i + j, (I64, I64_0D)),
    Case("int64_plus_float32", lambda lib, i, a: i + a, (I64, F32)),
    Case("int64_times_float64", lambda lib, i, b: i * b, (I64, F64)),
    Case("float32_div_int64", lambda lib, a, i: a / i, (F32, I64)),
    Case("float32_plus_int", lambda lib, a: a + 2, (F32,)),
    Case("float64_plus_float", lambda lib, b: b + 2.5, (F64,)),
    Case("float32_pow_float", lambda lib, a: a**2.0, (np.abs(F32),)),
    Case("bool_plus_bool", lambda lib, p, q: p + q, (BOOLS, BOOLS[::-1].copy())),
    Case("bool_times_bool", lambda lib, p, q: p * q, (BOOLS, BOOLS[::-1].copy())),
    Case("bool_plus_int64", lambda lib, p, i: p + i, (BOOLS, I64)),
    Case("bool_plus_int", lambda lib, p: p + 1, (BOOLS,)),
    Case("bool_times_float", lambda lib, p: p * 1.5, (BOOLS,)),
    Case("bool_plus_float32", lambda lib, p, a: p + a, (BOOLS, F32)),
    Case("bool_plus_0d_float64", lambda lib, p, b: p + b, (BOOLS, F64_0D)),
    Case("bool_pow_python_bool", lambda lib, p: p**True, (BOOLS,)),
    Case("bool_pow_int", lambda lib, p: p**2, (BOOLS,)),
    Case("float32_times_numpy_float64_scalar", lambda lib, a: a * np.float64(2.0), (F32,)),
    Case("numpy_float64_scalar_times_float32", lambda lib, a: np.float64(2.0) * a, (F32,)),
    Case("numpy_int64_scalar_plus_int64", lambda lib, i: np.int64(3) + i, (I64,)),
    Case("int64_plus_numpy_int64_scalar", lambda lib, i: i + np.int64(3), (I64,)),
    Case("float32_times_numpy_float32_scalar", lambda lib, a: a * np.float32(2.0), (F32,)),
    Case("numpy_float32_scalar_minus_float64", lambda lib, b: np.float32(2.0) - b, (F64,)),
    Case("float32_plus_numpy_array", lambda lib, a: a + numpy_operand(lib, NUMPY_F64), (F32,)),
    Case("int64_times_numpy_array", lambda lib, i: i * numpy_operand(lib, NUMPY_F64), (I64,)),
    Case("numpy_array_plus_float32", lambda lib, a: numpy_operand(lib, NUMPY_F64) + a, (F32,)),
    Case("numpy_array_minus_float64", lambda lib, b: numpy_operand(lib, NUMPY_F64) - b, (F64,)),
    Case("numpy_array_times_float32", lambda lib, a: numpy_operand(lib, NUMPY_F64) * a, (F32,)),
    Case("numpy_array_div_float64", lambda lib, b: numpy_operand(lib, NUMPY_F64) / b, (F64,)),
    Case("numpy_array_pow_float64", lambda lib, b: numpy_operand(lib, NUMPY_F64) ** b, (F64,)),
    Case("numpy_array_matmul_float64", lambda lib, b: numpy_operand(lib, NUMPY_F64) @ b, (F64,)),
    Case("float64_matmul_numpy_array", lambda lib, b: b @ numpy_operand(lib, NUMPY_F64), (F64,)),
    Case("int64_lt_float", lambda lib, i: i < 2.5, (I64,)),
    Case("float32_eq_float64", lambda lib, a, b: a == b, (F32, F32.astype(np.float64))),
    Case("float_gt_int64_reflected", lambda lib, i: 1.5 > i, (I64,)),
    Case("maximum_float32_float64", lambda lib, a, b: lib.maximum(a, b), (F32, F64)),
    Case("where_float32_float64", lambda lib, p, a, b: lib.where(p, a, b), (BOOLS, F32, F64)),
    Case("where_int64_float_scalar", lambda lib, p, i: lib.where(p, i, 2.5), (BOOLS, I64)),
    Case("cat_float32_float64", lambda lib, a, b: lib.cat([a, b]), (F32, F64)),
    Case("sum_int64", lambda lib, i: i.sum(), (I64,)),
    Case("sum_bool", lambda lib, p: p.sum(), (BOOLS,)),
    Case("max_int64", lambda lib, i: i.max(), (I64,)),
    Case("mean_float32", lambda lib, a: a.mean(), (F32,)),
    Case("neg_int64", lambda lib, i: -i, (I64,)),
    Case("sign_bool", lambda lib, p: p.sign(), (BOOLS,)),
    Case("max_bool", lambda lib, p: p.max(), (BOOLS,)),
    Case("min_bool", lambda lib, p: p.min(), (BOOLS,)),
    Case("min_dim_int64", lambda lib, i: i.reshape(3, 1).min(dim=0), (I64,)),
    Case("abs_int64", lambda lib, i: i.abs(), (I64,)),
    Case("exp_int64", lambda lib, i: i.exp(), (I64,)),
    Case("sqrt_int64", lambda lib, i: i.sqrt(), (np.abs(I64),)),
    Case("sigmoid_int64", lambda lib, i: i.sigmoid(), (I64,)),
    Case("int64_matmul_int64", lambda lib, i, j: i @ j, (I64, I64)),
    Case("float32_chain_stays_float32", lambda lib, a: (a * 2 + 1).tanh().softmax(0) / 3, (F32,)),
]

CREATION_CASES: list[tuple[str, Callable[[ModuleType], Any]]] = [
    ("int_list", lambda lib: lib.tensor([1, 2])),
    ("float_list", lambda lib: lib.tensor([1.0, 2.0])),
    ("mixed_list", lambda lib: lib.tensor([1, 2.5])),
    ("bool_list", lambda lib: lib.tensor([[True, False]])),
    ("python_int", lambda lib: lib.tensor(3)),
    ("python_float", lambda lib: lib.tensor(0.5)),
    ("python_bool", lambda lib: lib.tensor(True)),
    ("numpy_float64", lambda lib: lib.tensor(np.array([1.0, 2.0]))),
    ("numpy_float32", lambda lib: lib.tensor(np.array([1.0, 2.0], dtype=np.float32))),
    ("numpy_int64", lambda lib: lib.tensor(np.array([1, 2], dtype=np.int64))),
    ("numpy_float64_scalar", lambda lib: lib.tensor(np.float64(2.0))),
    ("from_numpy_float64", lambda lib: lib.from_numpy(np.array([[1.0], [2.0]]))),
    ("explicit_dtype", lambda lib: lib.tensor([1, 2], dtype=lib.float64)),
    ("int_to_bool_dtype", lambda lib: lib.tensor([0, 2], dtype=lib.bool)),
]


@pytest.mark.parametrize("case", cases_as_params(PROMOTION_CASES))
def test_type_promotion_matches_torch(case: Case) -> None:
    """Result dtype and values, and each floating input's gradient dtype, as PyTorch."""
    assert_matches_torch(case)


@pytest.mark.parametrize("name, make", CREATION_CASES, ids=[name for name, _ in CREATION_CASES])
def test_creation_dtype_matches_torch(name: str, make: Callable[[ModuleType], Any]) -> None:
    assert_tensor_matches(make(te), make(torch), name)


# --- numerical stability --------------------------------------------------------------

INF = np.inf
EXTREMES = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
HUGE_LOGITS = np.array(
    [
        [1e4, 0.0, -1e4],
        [1e4, 1e4, 0.0],
        [-1e4, -1e4, -1e4],
        [-INF, 0.0, 1.0],
        [-INF, -INF, 5.0],
    ]
)
ALL_NEG_INF_ROW = np.array([[-INF, -INF, -INF], [0.0, 1.0, 2.0]])
POS_INF_ROW = np.array([[INF, 0.0, 1.0], [0.0, 1.0, 2.0]])

STABILITY_CASES = [
    Case("sqrt_at_0", lambda lib, x: x.sqrt(), (np.array([0.0, 1.0, 4.0]),)),
    Case("pow_half_at_0", lambda lib, x: x**0.5, (np.array([0.0, 1.0, 4.0]),)),
    Case("log_at_0", lambda lib, x: x.log(), (np.array([0.0, 1.0, 4.0]),)),
    Case("reciprocal_at_0", lambda lib, x: 1.0 / x, (np.array([0.0, 1.0, -4.0]),)),
    Case("div_by_0", lambda lib, a, b: a / b, (np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 2.0]))),
    Case("rsqrt_at_0", lambda lib, x: x.rsqrt(), (np.array([0.0, 1.0, 4.0]),)),
    Case("var_single_element_is_nan", lambda lib, x: x.var(dim=1), (np.array([[1.0], [2.0]]),)),
    Case("sigmoid_pm1000", lambda lib, x: x.sigmoid(), (EXTREMES,)),
    Case("tanh_pm1000", lambda lib, x: x.tanh(), (EXTREMES,)),
    Case("exp_pm1000_overflows_to_inf", lambda lib, x: x.exp(), (EXTREMES,)),
    Case("sigmoid_pm1000_float32", lambda lib, x: x.sigmoid(), (EXTREMES.astype(np.float32),)),
    Case("tanh_pm1000_float32", lambda lib, x: x.tanh(), (EXTREMES.astype(np.float32),)),
    Case("fn_sigmoid_pm1000", lambda lib, x: lib.sigmoid(x), (EXTREMES,)),
    Case("softmax_1e4", lambda lib, x: x.softmax(dim=-1), (HUGE_LOGITS,)),
    Case("log_softmax_1e4", lambda lib, x: x.log_softmax(dim=-1), (HUGE_LOGITS,)),
    Case("logsumexp_1e4", lambda lib, x: x.logsumexp(dim=-1), (HUGE_LOGITS,)),
    Case("logsumexp_1e4_dim0", lambda lib, x: x.logsumexp(dim=0), (HUGE_LOGITS[:3].copy(),)),
    Case("softmax_1e4_float32", lambda lib, x: x.softmax(dim=-1), (HUGE_LOGITS.astype(np.float32),)),
    Case("log_softmax_1e4_float32", lambda lib, x: x.log_softmax(-1), (HUGE_LOGITS.astype(np.float32),)),
    Case("softmax_all_neg_inf_row", lambda lib, x: x.softmax(dim=1), (ALL_NEG_INF_ROW,)),
    Case("log_softmax_all_neg_inf_row", lambda lib, x: x.log_softmax(dim=1), (ALL_NEG_INF_ROW,)),
    Case("logsumexp_all_neg_inf_row", lambda lib, x: x.logsumexp(dim=1), (ALL_NEG_INF_ROW,)),
    Case("logsumexp_pos_inf_row", lambda lib, x: x.logsumexp(dim=1), (POS_INF_ROW,)),
    Case("softmax_pos_inf_row", lambda lib, x: x.softmax(dim=1), (POS_INF_ROW,)),
]


@pytest.mark.parametrize("case", cases_as_params(STABILITY_CASES))
def test_numerical_stability_matches_torch(case: Case) -> None:
    """Values and gradients, inf/nan included, with any NumPy RuntimeWarning an error."""
    assert_matches_torch(case)


# --- repr -----------------------------------------------------------------------------

REPR_CASES: list[tuple[str, Callable[[ModuleType], Any]]] = [
    ("float_vector", lambda lib: lib.tensor([1.0, 2.0])),
    ("int_vector", lambda lib: lib.tensor([1, 2])),
    ("bool_vector", lambda lib: lib.tensor([True, False])),
    ("float64_dtype_shown", lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64)),
    ("requires_grad_shown", lambda lib: lib.tensor([1.5, 2.0], requires_grad=True)),
    ("grad_fn_mul", lambda lib: lib.tensor(0.5, requires_grad=True) * 1.0),
    ("grad_fn_add", lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) + 1.0),
    ("matrix", lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]])),
    ("0d_float", lambda lib: lib.tensor(0.5)),
]


def library_neutral_repr(text: str) -> str:
    return text.replace("torch.", "tinygrad_edu.")


@pytest.mark.parametrize("name, make", REPR_CASES, ids=[name for name, _ in REPR_CASES])
def test_repr_matches_torch_exactly(name: str, make: Callable[[ModuleType], Any]) -> None:
    assert repr(make(te)) == library_neutral_repr(repr(make(torch)))


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, x: x.exp(),
        lambda lib, x: (x * x).sum(),
        lambda lib, x: x.sigmoid() - 1,
        lambda lib, x: x[0] / 2,
    ],
)
def test_repr_of_any_result_names_its_grad_fn(make: Callable[[ModuleType, Any], Any]) -> None:
    """Loose: every non-leaf result names some ``...Backward<n>`` node (names may differ)."""
    text = repr(make(te, te.tensor([1.0, 2.0], requires_grad=True)))
    assert re.search(r"grad_fn=<\w+Backward\d*>", text), text
    assert text.startswith("tensor("), text


# --- second order ---------------------------------------------------------------------

SECOND_ORDER_CASES = [
    Case("tanh", lambda lib, x: x.tanh(), ((3, 4),)),
    Case("sigmoid", lambda lib, x: x.sigmoid(), ((3, 4),)),
    Case("cube", lambda lib, x: x**3, ((3, 4),)),
    Case("softmax", lambda lib, x: x.softmax(dim=-1), ((3, 4),)),
    Case("log_softmax", lambda lib, x: x.log_softmax(dim=-1), ((3, 4),)),
    Case("logsumexp", lambda lib, x: x.logsumexp(dim=1), ((3, 4),)),
    Case("matmul", lambda lib, a, b: a @ b, ((3, 4), (4, 2))),
    Case("matmul_tanh", lambda lib, a, b: (a @ b).tanh(), ((2, 3, 4), (4, 2))),
    Case("exp_times_sin", lambda lib, x: x.exp() * x.sin(), ((5,),)),
    Case("log_div", lambda lib, a, b: (a / b).log(), ((3,), (3,)), low=0.5, high=2.0),
    Case("var_dim", lambda lib, x: x.var(dim=1), ((3, 4),)),
    Case("broadcast_mul_sum", lambda lib, a, b: (a * b * b).sum(dim=0), ((3, 4), (4,))),
]


def second_order_gradients(lib: ModuleType, autograd: ModuleType, case: Case, seed: int = 0) -> list[Any]:
    """First gradients (with create_graph=True) and the gradients of <first grads, w>."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(rng.uniform(case.low, case.high, size=shape)) for shape in case.inputs]
    inputs = [lib.tensor(array, dtype=lib.float64, requires_grad=True) for array in arrays]
    output = case.fn(lib, *inputs)
    upstream = lib.tensor(rng.standard_normal(tuple(output.shape)), dtype=lib.float64)
    first = autograd.grad(output, inputs, grad_outputs=upstream, create_graph=True)
    directional = None
    for gradient, array in zip(first, arrays):
        direction = lib.tensor(rng.standard_normal(array.shape), dtype=lib.float64)
        term = (gradient * direction).sum()
        directional = term if directional is None else directional + term
    second = autograd.grad(directional, inputs)
    return list(first) + list(second)


@pytest.mark.parametrize("case", cases_as_params(SECOND_ORDER_CASES))
def test_grad_of_grad_matches_torch(case: Case) -> None:
    expected = second_order_gradients(torch, torch.autograd, case)
    with numpy_warnings_as_errors():
        actual = second_order_gradients(te, te_autograd, case)
    assert len(actual) == len(expected)
    for index, (te_value, torch_value) in enumerate(zip(actual, expected)):
        assert_tensor_matches(te_value, torch_value, f"{case.name}: gradient {index}")


def test_backward_create_graph_then_grad_matches_torch() -> None:
    """``backward(create_graph=True)`` leaves a differentiable ``.grad`` (Hessian-vector product)."""

    def hessian_vector_product(lib: ModuleType, autograd: ModuleType) -> Any:
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        (x.tanh() * x**2).sum().backward(create_graph=True)
        assert x.grad is not None and x.grad.requires_grad
        direction = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)
        return autograd.grad((x.grad * direction).sum(), x)[0]

    with numpy_warnings_as_errors():
        actual = hessian_vector_product(te, te_autograd)
    with reference_warnings_silenced():
        expected = hessian_vector_product(torch, torch.autograd)
    assert_tensor_matches(actual, expected, "hvp")


# --- autograd semantics ---------------------------------------------------------------
# Each scenario returns the tensors to compare; ``autograd`` is the library's autograd module.
Scenario = Callable[[ModuleType, ModuleType], list[Any]]


def leaf(lib: ModuleType, values: list[float]) -> Any:
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


def accumulate_over_two_backwards(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x = leaf(lib, [0.5, -1.0, 2.0])
    (x * x).sum().backward()
    (x.sin() * 3).sum().backward()
    return [x.grad]


def hook_scales_and_retain_grad_sees_hooked_value(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x = leaf(lib, [0.5, -1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda gradient: gradient * 3)
    (y * y).sum().backward()
    return [x.grad, y.grad]


def leaf_hook(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x = leaf(lib, [0.5, -1.0, 2.0])
    x.register_hook(lambda gradient: gradient + 1)
    (x * x).sum().backward()
    return [x.grad]


def grad_of_several_outputs_and_inputs(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x, z, unused = leaf(lib, [0.5, -1.0]), leaf(lib, [2.0, 3.0]), leaf(lib, [1.0])
    first, second = x * z, (x.exp() + z).sum()
    upstream = lib.tensor([1.0, -2.0], dtype=lib.float64)
    gradients = autograd.grad([first, second], [x, z, unused], grad_outputs=[upstream, None], allow_unused=True)
    assert gradients[2] is None
    return [gradients[0], gradients[1]]


def diamond_with_broadcast(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x = leaf(lib, [[0.5], [-1.0]])
    bias = leaf(lib, [1.0, 2.0, 3.0])
    hidden = x + bias
    out = (hidden.tanh() * hidden + hidden.sigmoid()).mean()
    out.backward()
    return [out, x.grad, bias.grad]


def detach_and_no_grad_cut_the_graph(lib: ModuleType, autograd: ModuleType) -> list[Any]:
    x = leaf(lib, [0.5, -1.0, 2.0])
    with lib.no_grad():
        constant = x * 10
    out = (x * constant + x.detach() * x).sum()
    out.backward()
    assert not constant.requires_grad
    return [out, x.grad]


SCENARIOS: list[Scenario] = [
    accumulate_over_two_backwards,
    hook_scales_and_retain_grad_sees_hooked_value,
    leaf_hook,
    grad_of_several_outputs_and_inputs,
    diamond_with_broadcast,
    detach_and_no_grad_cut_the_graph,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.__name__ for scenario in SCENARIOS])
def test_autograd_scenario_matches_torch(scenario: Scenario) -> None:
    expected = scenario(torch, torch.autograd)
    with numpy_warnings_as_errors():
        actual = scenario(te, te_autograd)
    for index, (te_value, torch_value) in enumerate(zip(actual, expected, strict=True)):
        assert_tensor_matches(te_value, torch_value, f"{scenario.__name__}: tensor {index}")


def test_in_place_change_of_a_saved_output_is_refused_like_torch() -> None:
    """PyTorch refuses to back-propagate through ``exp`` once its saved output was modified
    in place; a silent wrong gradient would be worse than either answer."""

    def modify_saved_output_then_backward(lib: ModuleType) -> Any:
        x = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
        y = x.exp()
        y.mul_(2.0)
        y.sum().backward()
        return x.grad

    with pytest.raises(RuntimeError):
        modify_saved_output_then_backward(torch)
    try:
        gradient = modify_saved_output_then_backward(te)
    except Exception:  # any clear error is acceptable, as in PyTorch
        return
    pytest.fail(f"no error; tinygrad_edu returned the gradient {gradient!r} (true d/dx 2*exp(x) is 2*exp(x))")


def test_dtype_name_rejects_unknown_dtypes() -> None:
    """The helper behind every dtype comparison must not accept a foreign dtype silently."""
    with pytest.raises(AssertionError):
        dtype_name(torch.int32, torch)
