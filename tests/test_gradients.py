"""Gradients of every differentiable op against central finite differences, driven by the op table.

For each row of ``tests/op_table.py`` hypothesis draws input shapes (by the row's kind), the
row's extra arguments and float64 values from the row's domain, then checks

- first order: ``gradcheck`` (analytic vector-Jacobian products vs central differences);
- the invariants of a backward pass (``check_backward_invariants``, the helper that
  ``tinygrad_edu.testing.assert_gradients_match`` is built from): each gradient has its
  input's shape and dtype, inputs and the upstream gradient are left unchanged, gradients
  do not alias each other, the upstream gradient or an input;
- second order: ``gradgradcheck`` on smaller shapes (its cost grows with the square of the size).

A meta-test keeps the table honest: it must cover every differentiable op that API.md lists.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import tinygrad_edu as te
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_edu.autograd import check_backward_invariants, gradcheck, gradgradcheck

from op_table import OP_TABLE, SPECS_BY_NAME, Kind, OpSpec
from strategies import (
    Shape,
    arrays,
    arrays_for_domain,
    broadcastable_shapes,
    join_shapes,
    matmul_shapes,
    shapes,
)


@dataclass(frozen=True)
class Size:
    """Bounds on the drawn shapes."""

    max_dims: int
    max_side: int


FIRST_ORDER = Size(max_dims=4, max_side=4)  # up to 256 elements per input
SECOND_ORDER = Size(max_dims=3, max_side=3)  # up to 27: gradgradcheck is quadratic in size


@dataclass(frozen=True)
class Case:
    """One drawn example of a row: input values, extra arguments, and which form to call."""

    values: tuple[np.ndarray, ...]
    params: dict[str, object]
    form: int

    def function(self, spec: OpSpec) -> Callable[..., object]:
        """The op as a function of tensors only, as gradcheck wants it."""
        call = spec.forms[self.form]
        return lambda *tensors: call(*tensors, **self.params)


# --------------------------------------------------------------------------- drawing cases
def input_shapes(spec: OpSpec, size: Size) -> st.SearchStrategy[tuple[Shape, ...]]:
    """The shapes of a row's tensor inputs, by the row's kind."""
    max_dims = min(size.max_dims, spec.max_dims)
    if spec.kind in (Kind.BINARY, Kind.WHERE):  # where's condition is drawn with its params
        return broadcastable_shapes(2, max_dims=max_dims, max_side=size.max_side)
    if spec.kind is Kind.MATMUL:
        return matmul_shapes(max_side=size.max_side, max_batch_dims=max(max_dims - 2, 1))
    if spec.kind is Kind.JOIN:
        same = spec.op == "stack"
        return join_shapes(spec.arity, same, max_dims, size.max_side)
    single = shapes(max(spec.min_dims, 1 if spec.min_numel > 1 else 0), max_dims, 1, size.max_side)
    return single.filter(lambda shape: math.prod(shape) >= spec.min_numel).map(lambda shape: (shape,))


@st.composite
def cases(draw: st.DrawFn, spec: OpSpec, size: Size) -> Case:
    drawn_shapes = draw(input_shapes(spec, size), label="input shapes")
    params = draw(spec.params(drawn_shapes), label="params") if spec.params is not None else {}
    domains = spec.domains()
    if len(set(domains)) == 1:
        values = draw(arrays_for_domain(drawn_shapes, domains[0]))  # distinct across all inputs
    else:
        values = [draw(arrays_for_domain((shape,), domain))[0] for shape, domain in zip(drawn_shapes, domains)]
    form = draw(st.integers(0, len(spec.forms) - 1), label="form")
    return Case(tuple(values), params, form)


def leaf_tensors(values: tuple[np.ndarray, ...]) -> tuple[te.Tensor, ...]:
    return tuple(te.tensor(value.copy(), requires_grad=True) for value in values)


def as_outputs(result: object) -> tuple[te.Tensor, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


# --------------------------------------------------------------------------- the tests
# Parametrised by row name (not by the row) so that pytest ids and hypothesis reports stay short.
ALL_NAMES = [spec.name for spec in OP_TABLE]
SECOND_ORDER_NAMES = [spec.name for spec in OP_TABLE if spec.second_order]


@pytest.mark.parametrize("name", ALL_NAMES)
@given(data=st.data())
def test_gradient_matches_finite_differences(name: str, data: st.DataObject) -> None:
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, FIRST_ORDER), label="case")
    inputs = leaf_tensors(case.values)
    assert gradcheck(case.function(spec), inputs) is True


@pytest.mark.parametrize("name", ALL_NAMES)
@given(data=st.data())
def test_backward_keeps_invariants(name: str, data: st.DataObject) -> None:
    """``check_backward_invariants``: the half of ``tinygrad_edu.testing.assert_gradients_match``
    that checks everything but the values (the test above checks those)."""
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, FIRST_ORDER), label="case")
    function = case.function(spec)
    output_shapes = [tuple(output.shape) for output in as_outputs(function(*leaf_tensors(case.values)))]
    upstream = [data.draw(arrays(shape, low=-1.0, high=1.0), label="upstream gradient") for shape in output_shapes]
    assert check_backward_invariants(function, leaf_tensors(case.values), upstream) is True


@pytest.mark.parametrize("name", SECOND_ORDER_NAMES)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(name: str, data: st.DataObject) -> None:
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, SECOND_ORDER), label="case")
    inputs = leaf_tensors(case.values)
    assert gradgradcheck(case.function(spec), inputs) is True


# --------------------------------------------------------------------------- the table itself
#: Every differentiable op in API.md's Tensor section (operators by their method names;
#: ``__getitem__`` for ``t[...]``, ``T`` for the attribute, ``add_``-style for in-place ops).
EXPECTED_DIFFERENTIABLE_OPS = frozenset(
    """
    add sub mul div pow neg matmul add_ sub_ mul_ div_
    exp log sqrt rsqrt sin cos tanh sigmoid relu abs sign clamp maximum minimum where
    sum mean prod var std max min logsumexp softmax log_softmax
    reshape view flatten unsqueeze squeeze transpose permute expand repeat contiguous T
    __getitem__ cat stack split chunk
    """.split()
)


#: Differentiable ops tinygrad_edu has beyond API.md's list (PyTorch's names).
EXTRA_DIFFERENTIABLE_OPS = frozenset("remainder square clone masked_fill amax amin gather __setitem__ copy_ fill_".split())


def test_table_covers_every_differentiable_op() -> None:
    covered = {spec.op for spec in OP_TABLE}
    expected = EXPECTED_DIFFERENTIABLE_OPS | EXTRA_DIFFERENTIABLE_OPS
    assert sorted(expected - covered) == [], "ops without a row"
    assert sorted(covered - expected) == [], "rows for ops no list names"


def test_table_rows_are_well_formed() -> None:
    names = [spec.name for spec in OP_TABLE]
    assert len(names) == len(set(names)), "row names must be unique (they are the pytest ids)"
    for spec in OP_TABLE:
        assert spec.forms, spec.name
        assert len(spec.domains()) == spec.arity, spec.name
        assert 0 <= spec.min_dims <= spec.max_dims, spec.name
    assert {spec.kind for spec in OP_TABLE} == set(Kind), "every kind of input is exercised"


def test_second_order_covers_elementwise_reductions_and_matmul() -> None:
    checked = {spec.op for spec in OP_TABLE if spec.second_order}
    required = {"add", "sub", "mul", "div", "pow", "exp", "log", "sqrt", "tanh", "sigmoid", "sum", "mean",
                "prod", "var", "std", "max", "min", "logsumexp", "softmax", "log_softmax", "matmul"}
    assert sorted(required - checked) == []
