"""PyTorch parity of the shape ops, ``cat``/``stack``/``split``/``chunk``, indexing and matmul:
forward values, shapes, dtypes and the gradient of every input.

Each row is one op written once for both libraries (``lib`` is ``tinygrad_edu`` or ``torch``);
see ``torch_parity_helpers`` for what is compared.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from torch_parity_helpers import Case, assert_matches_torch, cases_as_params  # noqa: E402

BLOCK = (2, 3, 4)
SQUEEZABLE = (1, 3, 1, 4)

SHAPE_CASES = [
    Case("reshape_varargs", lambda lib, x: x.reshape(6, 4), (BLOCK,)),
    Case("reshape_tuple_minus_one", lambda lib, x: x.reshape((4, -1)), (BLOCK,)),
    Case("reshape_flat", lambda lib, x: x.reshape(-1), (BLOCK,)),
    Case("reshape_to_0d", lambda lib, x: x.reshape(()), ((1, 1),)),
    Case("view_varargs", lambda lib, x: x.view(3, 8), (BLOCK,)),
    Case("view_tuple", lambda lib, x: x.view((2, 12)), (BLOCK,)),
    Case("view_minus_one", lambda lib, x: x.view(-1, 4), (BLOCK,)),
    Case("flatten_all", lambda lib, x: x.flatten(), (BLOCK,)),
    Case("flatten_from_1", lambda lib, x: x.flatten(1), (BLOCK,)),
    Case("flatten_0_1", lambda lib, x: x.flatten(0, 1), (BLOCK,)),
    Case("flatten_start_negative", lambda lib, x: x.flatten(start_dim=-2), (BLOCK,)),
    Case("flatten_0d", lambda lib, x: x.flatten(), ((),)),
    Case("unsqueeze_front", lambda lib, x: x.unsqueeze(0), (BLOCK,)),
    Case("unsqueeze_back", lambda lib, x: x.unsqueeze(-1), (BLOCK,)),
    Case("unsqueeze_middle", lambda lib, x: x.unsqueeze(2), (BLOCK,)),
    Case("squeeze_all", lambda lib, x: x.squeeze(), (SQUEEZABLE,)),
    Case("squeeze_dim", lambda lib, x: x.squeeze(2), (SQUEEZABLE,)),
    Case("squeeze_negative_dim", lambda lib, x: x.squeeze(-2), (SQUEEZABLE,)),
    Case("squeeze_non_one_is_noop", lambda lib, x: x.squeeze(1), (SQUEEZABLE,)),
    Case("transpose", lambda lib, x: x.transpose(0, 2), (BLOCK,)),
    Case("transpose_negative", lambda lib, x: x.transpose(-1, -2), (BLOCK,)),
    Case("permute_varargs", lambda lib, x: x.permute(2, 0, 1), (BLOCK,)),
    Case("permute_tuple", lambda lib, x: x.permute((1, 2, 0)), (BLOCK,)),
    Case("T_2d", lambda lib, x: x.T, ((3, 4),)),
    Case("expand", lambda lib, x: x.expand(2, 3, 4), ((3, 1),)),
    Case("expand_minus_one", lambda lib, x: x.expand(-1, 5), ((3, 1),)),
    Case("expand_tuple", lambda lib, x: x.expand((4, 2, 3)), ((1, 3),)),
    Case("repeat", lambda lib, x: x.repeat(2, 1, 3), (BLOCK,)),
    Case("repeat_adds_dims", lambda lib, x: x.repeat(2, 2), ((3,),)),
    Case("repeat_tuple", lambda lib, x: x.repeat((1, 2)), ((2, 3),)),
    Case("contiguous", lambda lib, x: x.transpose(0, 1).contiguous(), (BLOCK,)),
    Case("reshape_after_transpose", lambda lib, x: x.transpose(0, 2).reshape(4, 6), (BLOCK,)),
    Case("cat_dim0", lambda lib, a, b: lib.cat([a, b], dim=0), ((2, 3), (4, 3))),
    Case("cat_default_dim", lambda lib, a, b: lib.cat((a, b)), ((2, 3), (1, 3))),
    Case("cat_dim1", lambda lib, a, b: lib.cat([a, b], dim=1), ((2, 3), (2, 5))),
    Case("cat_negative_three", lambda lib, a, b, c: lib.cat([a, b, c], dim=-1), ((2, 1), (2, 2), (2, 3))),
    Case("cat_same_tensor_twice", lambda lib, a: lib.cat([a, a * 2], dim=0), ((2, 3),)),
    Case("stack", lambda lib, a, b: lib.stack([a, b]), ((2, 3), (2, 3))),
    Case("stack_last", lambda lib, a, b: lib.stack([a, b], dim=-1), ((2, 3), (2, 3))),
    Case("stack_middle_three", lambda lib, a, b, c: lib.stack((a, b, c), dim=1), ((2, 3), (2, 3), (2, 3))),
    Case("stack_0d", lambda lib, a, b: lib.stack([a, b]), ((), ())),
    Case("split_size_uneven", lambda lib, x: x.split(2, dim=1), ((2, 5, 3),)),
    Case("split_sizes_list", lambda lib, x: x.split([1, 4], dim=1), ((2, 5, 3),)),
    Case("split_default_dim", lambda lib, x: x.split(2), ((5, 3),)),
    Case("split_first_part_only", lambda lib, x: x.split(2)[0] * 3, ((5, 3),)),
    Case("chunk_uneven", lambda lib, x: x.chunk(2, dim=0), ((5, 3),)),
    Case("chunk_last_dim", lambda lib, x: x.chunk(3, dim=-1), ((2, 7),)),
]

CUBOID = (4, 5, 6)
BOOL_MASK_3D = np.random.default_rng(7).uniform(size=CUBOID) > 0.5
BOOL_MASK_2D = np.random.default_rng(8).uniform(size=(4, 5)) > 0.5
INDEXING_CASES = [
    Case("int", lambda lib, x: x[1], (CUBOID,)),
    Case("numpy_int_scalar", lambda lib, x: x[np.int64(2)], (CUBOID,)),
    Case("tensor_index_negative", lambda lib, x: x[lib.tensor([-1, 0, -1])], (CUBOID,)),
    Case("negative_int", lambda lib, x: x[-1], (CUBOID,)),
    Case("ints_to_0d", lambda lib, x: x[1, 2, 3], (CUBOID,)),
    Case("slice", lambda lib, x: x[1:3], (CUBOID,)),
    Case("slice_step", lambda lib, x: x[::2], (CUBOID,)),
    Case("slices_mixed", lambda lib, x: x[1:, :4:2, -2:], (CUBOID,)),
    Case("int_and_slice", lambda lib, x: x[:, 1], (CUBOID,)),
    Case("empty_slice", lambda lib, x: x[3:1], (CUBOID,)),
    Case("none_front", lambda lib, x: x[None], (CUBOID,)),
    Case("none_middle_and_int", lambda lib, x: x[:, None, 2], (CUBOID,)),
    Case("ellipsis_int", lambda lib, x: x[..., 1], (CUBOID,)),
    Case("int_ellipsis", lambda lib, x: x[1, ...], (CUBOID,)),
    Case("ellipsis_none", lambda lib, x: x[..., None], (CUBOID,)),
    Case("none_ellipsis_int", lambda lib, x: x[None, ..., 0], (CUBOID,)),
    Case("int_list_repeated", lambda lib, x: x[[0, 2, 2]], (CUBOID,)),
    Case("int_list_negative", lambda lib, x: x[[-1, 0, -1]], (CUBOID,)),
    Case("numpy_int_array_2d", lambda lib, x: x[np.array([[0, 1], [3, 3]])], (CUBOID,)),
    Case("tensor_index_repeated", lambda lib, x: x[lib.tensor([0, 2, 2])], (CUBOID,)),
    Case("tensor_index_as_input", lambda lib, x, index: x[index], (CUBOID, np.array([3, 0, 3]))),
    Case("tensor_index_0d", lambda lib, x: x[lib.tensor(2)], (CUBOID,)),
    Case("two_int_lists", lambda lib, x: x[[0, 1, 1], [2, 3, 3]], (CUBOID,)),
    Case("slice_then_int_list", lambda lib, x: x[:, [1, 1, 3]], (CUBOID,)),
    Case("separated_int_lists", lambda lib, x: x[[0, 1], :, [2, 3]], (CUBOID,)),
    Case("slice_and_list", lambda lib, x: x[1:, [0, 2]], (CUBOID,)),
    Case("list_slice_list", lambda lib, x: x[[0, 3], 1:3, [5, 5]], (CUBOID,)),
    Case("int_and_list", lambda lib, x: x[2, [0, 0, 4]], (CUBOID,)),
    # PyTorch applies ints first (as select), so an int and a list separated by a slice do
    # not move the list's dim to the front as NumPy does: torch gives (5, 2), NumPy (2, 5).
    Case("int_slice_list_torch_order", lambda lib, x: x[0, :, [1, 3]], (CUBOID,)),
    Case("broadcast_index_arrays", lambda lib, x: x[np.array([[0], [3]]), np.array([1, 1, 2])], (CUBOID,)),
    Case("bool_mask_full", lambda lib, x: x[BOOL_MASK_3D], (CUBOID,)),
    Case("bool_mask_leading", lambda lib, x: x[BOOL_MASK_2D], (CUBOID,)),
    Case("bool_mask_tensor_input", lambda lib, x, mask: x[mask], (CUBOID, BOOL_MASK_2D)),
    Case("bool_mask_from_comparison", lambda lib, x: x[x > 0], (CUBOID,)),
    Case("bool_list", lambda lib, x: x[[True, False, True, True]], (CUBOID,)),
    Case("slice_and_bool_mask", lambda lib, x: x[:, np.array([True, False, False, True, True])], (CUBOID,)),
    Case("none_and_list", lambda lib, x: x[None, [1, 1]], (CUBOID,)),
    Case("index_twice", lambda lib, x: x[1:][:, 2] + x[0, 0], (CUBOID,)),
]

MATMUL_SHAPES: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3,), (2, 3, 4)),
    ((2, 3, 4), (4,)),
    ((1, 4), (4, 1)),
]
MATMUL_CASES = [Case(f"matmul-{a}-{b}", lambda lib, x, y: x @ y, (a, b)) for a, b in MATMUL_SHAPES] + [
    Case("fn_matmul", lambda lib, x, y: lib.matmul(x, y), ((2, 3, 4), (4, 5))),
    Case("method_matmul", lambda lib, x, y: x.matmul(y), ((3, 4), (4,))),
    Case("matmul_same_tensor", lambda lib, x: x @ x.T, ((3, 4),)),
    Case("fn_mm", lambda lib, x, y: lib.mm(x, y), ((3, 4), (4, 2))),
]


@pytest.mark.parametrize("case", cases_as_params(SHAPE_CASES))
def test_shape_op_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(INDEXING_CASES))
def test_indexing_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(MATMUL_CASES))
def test_matmul_matches_torch(case: Case) -> None:
    assert_matches_torch(case)


@pytest.mark.parametrize("case", cases_as_params(MATMUL_CASES))
def test_matmul_float32_matches_torch(case: Case) -> None:
    assert_matches_torch(dataclasses.replace(case, dtype="float32"))


@st.composite
def shape_and_index(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """A shape and an index mixing ints, slices, integer lists (repeats allowed), ``None``
    and ``...``, one entry per indexed dim. Integer lists are arrays of the same length, so
    they broadcast together, as PyTorch requires."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    list_length = draw(st.integers(1, 3))
    index: list[Any] = []
    for size in shape:
        kind = draw(st.sampled_from(["int", "slice", "list", "full"]))
        if kind == "int":
            index.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-size, size))
            stop = draw(st.none() | st.integers(-size, size))
            index.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
        elif kind == "list":
            index.append(draw(st.lists(st.integers(-size, size - 1), min_size=list_length, max_size=list_length)))
        else:
            index.append(slice(None))
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    if draw(st.booleans()):
        # drop the first indexed entry behind an Ellipsis (a leading ``None`` stays in front)
        first = 1 if index[0] is None else 0
        index[first : first + 1] = [Ellipsis]
    return shape, tuple(index)


@given(shape_index=shape_and_index())
def test_random_index_matches_torch(shape_index: tuple[tuple[int, ...], tuple[Any, ...]]) -> None:
    shape, index = shape_index
    assert_matches_torch(Case(f"index {index}", lambda lib, x: x[index], (shape,)))
