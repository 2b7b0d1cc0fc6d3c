"""PyTorch parity of the compatibility features: vector norms (values, gradients, and the
gradient at zero), ``linalg.norm`` of matrices, ``clip_grad_norm_``/``clip_grad_value_``,
``SiLU``, the top-level function forms of methods, and ``repr`` strings (ours against
PyTorch's with ``torch.`` read as ``tinygrad_edu.``). Each row runs on both libraries from
the same NumPy inputs (``torch_parity_helpers``); tinygrad_edu runs with NumPy's
RuntimeWarnings as errors.
"""
from __future__ import annotations

import math
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_edu as te  # noqa: E402
from torch_parity_helpers import Case, assert_matches_torch, cases_as_params, numpy_warnings_as_errors  # noqa: E402

INF = math.inf
ORDERS = [2, "fro", 1, 3, 1.5, 0.5, INF, -INF, 0]
DIMS = [(None, False), (None, True), (1, False), (0, True), ((0, 1), False)]


def nn_of(lib: ModuleType) -> ModuleType:
    return lib.nn


def norm_rows() -> list[Case]:
    entries = {
        "method": lambda lib, x, p, dim, keepdim: x.norm(p, dim=dim, keepdim=keepdim),
        "norm": lambda lib, x, p, dim, keepdim: lib.norm(x, p, dim, keepdim),
        "vector_norm": lambda lib, x, p, dim, keepdim: lib.linalg.vector_norm(x, p, dim=dim, keepdim=keepdim),
    }
    rows = []
    for entry, call in entries.items():
        for p in ORDERS:
            if entry == "vector_norm" and p == "fro":
                continue  # torch.linalg.vector_norm takes numbers only
            for dim, keepdim in DIMS:
                fn = (lambda lib, x, call=call, p=p, dim=dim, keepdim=keepdim: call(lib, x, p, dim, keepdim))
                rows.append(Case(f"{entry}-p{p}-dim{dim}-keep{keepdim}", fn, ((3, 4),)))
                if dim is None and not keepdim:
                    rows.append(Case(f"{entry}-p{p}-float32", fn, ((5,),), dtype="float32"))
    for dim in (1, -1):  # linalg.norm over one dim is a vector norm
        for p in (None, 1, 3, INF):
            rows.append(Case(f"linalg.norm-p{p}-dim{dim}",
                             lambda lib, x, p=p, dim=dim: lib.linalg.norm(x, p, dim=dim), ((3, 4),)))
    return rows


@pytest.mark.parametrize("case", cases_as_params(norm_rows()))
def test_norm_values_and_gradients(case: Case) -> None:
    assert_matches_torch(case)


ZERO_ROWS = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0], [0.0, 0.5, 3.0]])


@pytest.mark.parametrize("p", ORDERS, ids=str)
@pytest.mark.parametrize("inputs, dim", [(np.zeros((2, 3)), None), (ZERO_ROWS, 1), (ZERO_ROWS, None)],
                         ids=["all-zero", "rows-with-zeros", "some-zeros"])
def test_norm_gradients_at_zero(p: Any, inputs: np.ndarray, dim: Any) -> None:
    assert_matches_torch(Case(f"norm-p{p}-at-zero", lambda lib, x: x.norm(p, dim=dim), (inputs,)))


TIES = np.array([[1.0, -3.0, 3.0, 2.0], [2.0, 2.0, -0.5, 0.5]])
WITH_NAN = np.array([3.0, math.nan, -1.0])
TIE_ROWS = [  # and NaN: a NaN element makes every norm NaN (the nan > 0 test must not hide it)
    *[Case(f"norm-p{p}-nan", lambda lib, x, p=p: x.detach().norm(p), (WITH_NAN,)) for p in (2, 3, 0.5, 1, INF)],
    Case("norm-inf-ties", lambda lib, x: x.norm(INF, dim=1), (TIES,)),
    Case("norm-minus-inf-ties", lambda lib, x: lib.linalg.vector_norm(x, -INF, dim=1), (np.abs(TIES) - 1.5,)),
    Case("amax-ties", lambda lib, x: lib.amax(x, 1), (TIES,)),
    Case("amin-ties", lambda lib, x: lib.amin(x, (0, 1)), (np.array([[1.0, 0.5], [0.5, 2.0]]),)),
]


@pytest.mark.parametrize("case", cases_as_params(TIE_ROWS))
def test_ties_and_nan_as_pytorch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, 2, -2, INF, -INF], ids=str)
def test_linalg_norm_of_a_matrix_is_a_matrix_norm_or_refused(ord: Any) -> None:
    """torch.linalg.norm of a 2-D input with dim=None is a *matrix* norm (max column sum for
    ord=1, largest singular value for 2, ...); computing the vector norm instead is wrong."""
    array = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0]])
    expected = torch.linalg.norm(torch.tensor(array), ord).item()
    try:
        got = te.linalg.norm(te.tensor(array), ord)
    except (NotImplementedError, RuntimeError, ValueError):
        assert ord not in (None, "fro"), "the Frobenius norm is a vector 2-norm and must be supported"
        return
    assert math.isclose(got.item(), expected, rel_tol=1e-9), f"ord={ord}: {got.item()} != torch {expected}"


def gradient_arrays(scale: float) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.standard_normal(shape).astype(np.float32) * scale for shape in ((3, 4), (4,), (2, 2, 2))]


def with_grads(lib: ModuleType, arrays: list[np.ndarray]) -> list[Any]:
    params = []
    for array in arrays:
        param = nn_of(lib).Parameter(lib.zeros(*array.shape))
        param.grad = lib.tensor(array.copy())
        params.append(param)
    return params + [nn_of(lib).Parameter(lib.ones(2))]  # one without a .grad, skipped by both


def assert_same(ours: Any, theirs: Any, what: str, rtol: float = 1e-5) -> None:
    assert tuple(ours.shape) == tuple(theirs.shape), what
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], what
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("norm_type", [2, 2.0, 1, INF, 3.0], ids=str)
@pytest.mark.parametrize("max_norm", [0.5, 1e4], ids=["clipped", "unclipped"])
@pytest.mark.parametrize("scale", [1.0, 0.0], ids=["random", "zero"])
def test_clip_grad_norm_matches_pytorch(norm_type: Any, max_norm: float, scale: float) -> None:
    arrays = gradient_arrays(scale)
    ours, theirs = with_grads(te, arrays), with_grads(torch, arrays)
    with numpy_warnings_as_errors():
        total = te.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert_same(total, expected, "total norm")
    for index, (param, reference) in enumerate(zip(ours, theirs)):
        if reference.grad is None:
            assert param.grad is None, f"param {index}"
        else:
            assert_same(param.grad, reference.grad, f"grad {index}")


@pytest.mark.parametrize("bad", [math.inf, math.nan], ids=["inf", "nan"])
def test_clip_grad_norm_error_if_nonfinite_as_pytorch(bad: float) -> None:
    arrays = gradient_arrays(1.0)
    arrays[1][2] = bad
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(with_grads(torch, arrays), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        te.nn.utils.clip_grad_norm_(with_grads(te, arrays), 1.0, error_if_nonfinite=True)
    theirs = torch.nn.utils.clip_grad_norm_(with_grads(torch, arrays), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = te.nn.utils.clip_grad_norm_(with_grads(te, arrays), 1.0)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # inf or nan, as PyTorch


def test_clip_grad_value_matches_pytorch() -> None:
    arrays = gradient_arrays(2.0)
    ours, theirs = with_grads(te, arrays), with_grads(torch, arrays)
    assert te.nn.utils.clip_grad_value_(ours, 0.7) is None and torch.nn.utils.clip_grad_value_(theirs, 0.7) is None
    for param, reference in zip(ours[:-1], theirs[:-1]):
        assert_same(param.grad, reference.grad, "clamped grad", rtol=0)


def test_parameters_to_vector_matches_pytorch() -> None:
    arrays = gradient_arrays(1.0)
    ours = [te.nn.Parameter(te.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    ours_vector = te.nn.utils.parameters_to_vector(ours)
    theirs_vector = torch.nn.utils.parameters_to_vector(theirs)
    assert_same(ours_vector, theirs_vector, "vector", rtol=0)
    assert ours_vector.requires_grad == theirs_vector.requires_grad


SILU_VALUES = np.array([-100.0, -20.0, -3.0, -0.5, 0.0, 0.25, 2.0, 20.0, 100.0])
SILU_ROWS = [
    Case("F.silu", lambda lib, x: nn_of(lib).functional.silu(x), ((4, 5),), low=-6.0, high=6.0),
    Case("nn.SiLU", lambda lib, x: nn_of(lib).SiLU()(x), ((4, 5),), low=-6.0, high=6.0),
    Case("silu-extremes", lambda lib, x: nn_of(lib).functional.silu(x), (SILU_VALUES,)),
    Case("silu-extremes-float32", lambda lib, x: nn_of(lib).functional.silu(x), (SILU_VALUES.astype(np.float32),)),
]


@pytest.mark.parametrize("case", cases_as_params(SILU_ROWS))
def test_silu_matches_pytorch(case: Case) -> None:
    assert_matches_torch(case)
    assert repr(te.nn.SiLU()) == repr(torch.nn.SiLU())
    assert repr(te.nn.SiLU(inplace=True)) == repr(torch.nn.SiLU(inplace=True))


SPECIAL = np.array([1.0, math.nan, math.inf, -math.inf, 0.0, -2.0])
MASK = np.array([[True, False, True], [True, True, True]])
INDEX = np.array([[[3, 0]] * 3] * 2, dtype=np.int64)
FUNCTION_ROWS = [
    Case("flatten", lambda lib, x: lib.flatten(x, 1), ((2, 3, 4),)),
    Case("reshape", lambda lib, x: lib.reshape(x, (4, -1)), ((2, 3, 4),)),
    Case("squeeze", lambda lib, x: lib.squeeze(x, 0), ((1, 3, 4),)),
    Case("squeeze-all", lambda lib, x: lib.squeeze(x), ((1, 3, 1),)),
    Case("unsqueeze", lambda lib, x: lib.unsqueeze(x, -1), ((2, 3),)),
    Case("transpose", lambda lib, x: lib.transpose(x, 0, 2), ((2, 3, 4),)),
    Case("permute", lambda lib, x: lib.permute(x, (2, 0, 1)), ((2, 3, 4),)),
    Case("t", lambda lib, x: lib.t(x), ((2, 3),)),
    Case("square", lambda lib, x: lib.square(x), ((2, 3),)),
    Case("sign", lambda lib, x: lib.sign(x), ((2, 3),)),
    Case("rsqrt", lambda lib, x: lib.rsqrt(x), ((2, 3),), low=0.2, high=3.0),
    Case("var", lambda lib, x: lib.var(x, 1, keepdim=True), ((3, 4),)),
    Case("var-correction", lambda lib, x: lib.var(x, dim=(0, 1), correction=0), ((3, 4),)),
    Case("std", lambda lib, x: lib.std(x), ((3, 4),)),
    Case("std-dim", lambda lib, x: lib.std(x, 0, keepdim=False), ((3, 4),)),
    Case("prod", lambda lib, x: lib.prod(x, 1), ((3, 4),)),
    Case("prod-all", lambda lib, x: lib.prod(x), ((2, 3),)),
    Case("chunk", lambda lib, x: lib.chunk(x, 3, 1), ((2, 7),)),
    Case("split-size", lambda lib, x: lib.split(x, 2, 1), ((2, 5),)),
    Case("split-sections", lambda lib, x: lib.split(x, [1, 3], 1), ((2, 4),)),
    Case("gather", lambda lib, x, i: lib.gather(x, 2, i), ((2, 3, 4), INDEX)),
    Case("add-alpha", lambda lib, x, y: lib.add(x, y, alpha=3), ((2, 3), (3,))),
    Case("add-scalar", lambda lib, x: lib.add(x, 2.5), ((2, 3),)),
    Case("sub-alpha", lambda lib, x, y: lib.sub(x, y, alpha=0.5), ((2, 3), (2, 1))),
    Case("mul", lambda lib, x, y: lib.mul(x, y), ((2, 3), (2, 3))),
    Case("div", lambda lib, x, y: lib.div(x, y), ((2, 3), (3,)), low=0.5, high=2.0),
    Case("neg", lambda lib, x: lib.neg(x), ((2, 3),)),
    Case("isnan", lambda lib, x: lib.isnan(x), (SPECIAL,)),
    Case("isinf", lambda lib, x: lib.isinf(x), (SPECIAL,)),
    Case("isfinite", lambda lib, x: lib.isfinite(x), (SPECIAL,)),
    Case("all", lambda lib, m: lib.all(m), (MASK,)),
    Case("all-dim", lambda lib, m: lib.all(m, 1, keepdim=True), (MASK,)),
    Case("any-dim", lambda lib, m: lib.any(m, 0), (~MASK,)),
    Case("amax", lambda lib, x: lib.amax(x, (0, 2), keepdim=True), ((2, 3, 4),)),
    Case("amin", lambda lib, x: lib.amin(x, 1), ((2, 3, 4),)),
    Case("clone", lambda lib, x: lib.clone(x), ((2, 3),)),
]


@pytest.mark.parametrize("case", cases_as_params(FUNCTION_ROWS))
def test_top_level_functions_match_pytorch(case: Case) -> None:
    assert_matches_torch(case)


REPR_ROWS = {
    "large": lambda lib: lib.tensor(1e10),
    "whole-millions": lambda lib: lib.tensor([1.5e6, 2e6]),
    "tiny-and-one": lambda lib: lib.tensor([1e-5, 1.0]),
    "ratio-above-1e3": lambda lib: lib.tensor([0.5, 1000.0]),
    "fractions": lambda lib: lib.tensor([0.25, 1.5]),
    "whole-aligned": lambda lib: lib.tensor([1.0, 999.0]),  # PyTorch pads every element to one width
    "whole-matrix": lambda lib: lib.tensor([[1.0, 2.0], [10.0, -20.0]]),
    "whole-with-nan-inf": lambda lib: lib.tensor([1.0, math.nan, math.inf]),
    "scientific-signs": lambda lib: lib.tensor([-1e10, 1.0]),
    "denormal-float32": lambda lib: lib.tensor([1e-40, 1.0]),  # max/min overflows float32: no warning
    "float64-fractions": lambda lib: lib.tensor([1.5, -2.25], dtype=lib.float64),
    "requires-grad": lambda lib: lib.tensor([0.5, 2.0], requires_grad=True),
    "integers": lambda lib: lib.tensor([1, 2, 300]),
    "empty": lambda lib: lib.zeros(0),
    "empty-2d": lambda lib: lib.zeros(0, 3),
    "empty-float64": lambda lib: lib.zeros(2, 0, dtype=lib.float64),
    "empty-int64": lambda lib: lib.zeros(0, dtype=lib.int64),  # PyTorch names every dtype of an empty tensor
}


@pytest.mark.parametrize("name", REPR_ROWS)
def test_repr_matches_pytorch(name: str) -> None:
    expected = repr(REPR_ROWS[name](torch)).replace("torch.", "tinygrad_edu.")
    with numpy_warnings_as_errors():
        got = repr(REPR_ROWS[name](te))
    assert got == expected, f"\n   ours: {got!r}\n  torch: {expected!r}"


def test_load_state_dict_result_prints_as_pytorch() -> None:
    ours, theirs = te.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert str(ours.load_state_dict(ours.state_dict())) == str(theirs.load_state_dict(theirs.state_dict()))
