"""Shared machinery of the PyTorch parity tests (``tests/test_torch_parity_*.py``).

A parity row is a function ``fn(lib, *tensors)`` where ``lib`` is the ``tinygrad_edu``
module or the ``torch`` module, so one line of source states one op for both libraries.
``assert_matches_torch`` runs the row on both, from the same NumPy inputs, and compares:

- every output: type (a Tensor), shape, dtype, ``requires_grad`` and values;
- after back-propagating a random upstream gradient (the same for both libraries) from every
  output that requires grad: each input's ``.grad`` (present or ``None``, shape, dtype, values);
- that no input tensor was modified by the op or its backward.

Floating inputs require grad; integer and boolean inputs (indices, masks) do not. Every call
into tinygrad_edu runs with NumPy's RuntimeWarning turned into an error, so that an overflow
or a division by zero that PyTorch handles silently shows up as a failure.

torch is never a dependency of the project: this module is imported only by test modules
that start with ``torch = pytest.importorskip("torch")``.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence, Union

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te  # noqa: E402  (after the importorskip on purpose)

Shape = tuple[int, ...]
InputSpec = Union[Shape, np.ndarray]
ParityFn = Callable[..., Any]

DTYPE_NAMES: tuple[str, ...] = ("float32", "float64", "int64", "bool")
NUMPY_DTYPE_NAMES: dict[np.dtype, str] = {np.dtype(name): name for name in DTYPE_NAMES}
# (rtol, atol) per dtype: tight enough that any wrong formula fails, loose enough for a
# different summation order.
TOLERANCES: dict[str, tuple[float, float]] = {"float64": (1e-6, 1e-9), "float32": (1e-4, 1e-5)}


@dataclass(frozen=True)
class Case:
    """One parity row: ``fn(lib, *tensors)`` and how to make its inputs.

    Each entry of ``inputs`` is either a shape (values drawn uniformly from ``[low, high)``,
    of dtype ``dtype``) or a NumPy array used as it is (its dtype decides the tensor's dtype).
    """

    name: str
    fn: ParityFn
    inputs: tuple[InputSpec, ...]
    low: float = -2.0
    high: float = 2.0
    dtype: str = "float64"


def cases_as_params(cases: Sequence[Case]) -> list[Any]:
    """The rows of a table as pytest params, each identified by its name."""
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"duplicate case names: {duplicates}"
    return [pytest.param(case, id=case.name) for case in cases]


def make_arrays(case: Case, seed: int = 0) -> list[np.ndarray]:
    """The NumPy inputs of a row, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in case.inputs:
        if isinstance(spec, np.ndarray):
            arrays.append(spec.copy())
        else:
            arrays.append(np.asarray(rng.uniform(case.low, case.high, size=spec), dtype=case.dtype))
    return arrays


def dtype_name(dtype: Any, lib: ModuleType) -> str:
    """The library-independent name ('float32', ...) of one of ``lib``'s dtypes."""
    for name in DTYPE_NAMES:
        if dtype == getattr(lib, name):
            return name
    raise AssertionError(f"{lib.__name__} returned a dtype outside {DTYPE_NAMES}: {dtype!r}")


def is_floating(name: str) -> bool:
    return name in ("float32", "float64")


def to_lib_tensor(lib: ModuleType, array: np.ndarray) -> Any:
    """A fresh tensor of ``lib`` holding a copy of ``array``; floating ones require grad."""
    name = NUMPY_DTYPE_NAMES[array.dtype]
    return lib.tensor(array.copy(), dtype=getattr(lib, name), requires_grad=is_floating(name))


def as_output_list(result: Any) -> list[Any]:
    """An op's result as a list: ``max(dim)``, ``split`` and ``chunk`` return several tensors."""
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


@contextlib.contextmanager
def numpy_warnings_as_errors() -> Iterator[None]:
    """Turn every RuntimeWarning (NumPy overflow, invalid value, divide by zero) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(divide="warn", over="warn", invalid="warn"):
            yield


@contextlib.contextmanager
def reference_warnings_silenced() -> Iterator[None]:
    """PyTorch is the reference, not the code under test: its own UserWarnings (e.g. var with
    zero degrees of freedom) are noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@dataclass
class RunResult:
    """What one library produced for a row: the outputs and the input tensors (with .grad)."""

    outputs: list[Any]
    inputs: list[Any]


def run_on(lib: ModuleType, fn: ParityFn, arrays: Sequence[np.ndarray], seed: int) -> RunResult:
    """Run ``fn`` on ``lib``, then back-propagate a random upstream gradient from each output."""
    inputs = [to_lib_tensor(lib, array) for array in arrays]
    outputs = as_output_list(fn(lib, *inputs))
    rng = np.random.default_rng(seed + 1)
    for output in outputs:
        # Draw for every output, so both libraries see the same upstream gradients even
        # if they disagree on which outputs require grad (that disagreement is checked later).
        upstream = np.asarray(rng.standard_normal(tuple(output.shape)))
        if getattr(output, "requires_grad", False):
            output.backward(gradient=lib.tensor(upstream, dtype=output.dtype), retain_graph=True)
    return RunResult(outputs, inputs)


def assert_tensor_matches(te_value: Any, torch_value: Any, what: str) -> None:
    """Same type, shape, dtype and values (NaN and inf in the same places)."""
    assert isinstance(te_value, te.Tensor), f"{what}: expected a tinygrad_edu.Tensor, got {type(te_value)!r}"
    assert tuple(te_value.shape) == tuple(torch_value.shape), (
        f"{what}: shape {tuple(te_value.shape)} != torch {tuple(torch_value.shape)}"
    )
    te_dtype, torch_dtype = dtype_name(te_value.dtype, te), dtype_name(torch_value.dtype, torch)
    assert te_dtype == torch_dtype, f"{what}: dtype {te_dtype} != torch {torch_dtype}"
    actual = np.asarray(te_value.detach().numpy())
    expected = torch_value.detach().numpy()
    if is_floating(te_dtype):
        rtol, atol = TOLERANCES[te_dtype]
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def assert_results_match(te_result: RunResult, torch_result: RunResult) -> None:
    """Outputs, their requires_grad flags, and every input's gradient agree."""
    assert len(te_result.outputs) == len(torch_result.outputs), (
        f"{len(te_result.outputs)} outputs != torch {len(torch_result.outputs)}"
    )
    for index, (te_out, torch_out) in enumerate(zip(te_result.outputs, torch_result.outputs)):
        assert_tensor_matches(te_out, torch_out, f"output {index}")
        assert bool(te_out.requires_grad) == torch_out.requires_grad, (
            f"output {index}: requires_grad {te_out.requires_grad} != torch {torch_out.requires_grad}"
        )
    for index, (te_in, torch_in) in enumerate(zip(te_result.inputs, torch_result.inputs)):
        if torch_in.grad is None:
            assert te_in.grad is None, f"input {index}: torch leaves .grad None, got {te_in.grad!r}"
        else:
            assert te_in.grad is not None, f"input {index}: .grad is None, torch has a gradient"
            assert_tensor_matches(te_in.grad, torch_in.grad, f"gradient of input {index}")


def assert_matches_torch(case: Case, seed: int = 0) -> None:
    """Run a row on both libraries from the same inputs and compare everything."""
    arrays = make_arrays(case, seed)
    with reference_warnings_silenced():
        torch_result = run_on(torch, case.fn, arrays, seed)
    with numpy_warnings_as_errors():
        te_result = run_on(te, case.fn, arrays, seed)
    assert_results_match(te_result, torch_result)
    for index, (te_input, array) in enumerate(zip(te_result.inputs, arrays)):
        np.testing.assert_array_equal(te_input.detach().numpy(), array, err_msg=f"input {index} was mutated")
