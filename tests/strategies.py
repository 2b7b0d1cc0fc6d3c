"""Hypothesis strategies for the gradient tests: the package's own, plus op arguments.

The general strategies (shapes, broadcastable shapes, dims, bounded arrays, indices,
tensors) live in :mod:`tinygrad_edu.testing.strategies`, so that users check their own ops
with the very strategies these tests use; this module re-exports them and adds what only
the op table needs: each op's extra arguments drawn as a dict of keywords.

Everything the tests draw is *plain NumPy data* (shapes as tuples, values as float64
arrays, indices as ints, slices and NumPy arrays): the package strategies that draw it call
no tinygrad_edu code (only ``tensors()`` wraps its NumPy values into a Tensor, at the very
end, and these tests do not use it), and the tests turn the data into tensors themselves.
So a bug in the package can never hide inside the data generation, even though the
strategies now ship inside it.

Finite differences only agree with an analytic gradient where the function is smooth, so
:func:`arrays` keeps values inside an op's domain, away from its kinks (``avoid`` points) and,
for ``max``/``min``-like ops, pairwise distinct so that no tie flips under a perturbation.
"""
from __future__ import annotations

import math

from hypothesis import strategies as st
from tinygrad_edu.testing import (
    DEFAULT_MARGIN,
    Dim,
    Domain,
    Shape,
    arrays,
    arrays_for_domain,
    bool_masks,
    broadcast_shape,
    broadcastable_shapes,
    dim_ints,
    dims,
    elements,
    indices,
    matmul_shapes,
    shapes,
    tensors,
)

__all__ = [
    # re-exported from tinygrad_edu.testing.strategies
    "DEFAULT_MARGIN", "Dim", "Domain", "Shape", "arrays", "arrays_for_domain", "bool_masks", "broadcast_shape",
    "broadcastable_shapes", "dim_ints", "dims", "elements", "indices", "matmul_shapes", "shapes", "tensors",
    # op arguments for the op table
    "Params", "basic_indices", "bool_mask_indices", "cat_dims", "chunk_params", "clamp_bounds", "constants",
    "expand_sizes", "flatten_params", "int_array_indices", "join_shapes", "keepdim_reductions", "normalize_dims",
    "permute_params", "reduced_count", "repeat_sizes", "reshape_targets", "split_params", "variance_params",
    "where_conditions",
]


# --------------------------------------------------------------------------- dims
def normalize_dims(dim: Dim | None, ndim: int) -> tuple[int, ...]:
    """The non-negative dims a ``dim`` argument refers to (all of them for ``None``)."""
    if ndim == 0:
        return ()
    if dim is None:
        return tuple(range(ndim))
    as_tuple = (dim,) if isinstance(dim, int) else dim
    return tuple(sorted(d % ndim for d in as_tuple))


def reduced_count(shape: Shape, dim: Dim | None) -> int:
    """How many elements each output of a reduction over ``dim`` combines."""
    return math.prod(shape[d] for d in normalize_dims(dim, len(shape)))


# --------------------------------------------------------------------------- op arguments
# Each takes the input shapes of one example and draws the op's extra arguments as a dict
# whose keys are the keyword names the op table's forms accept.
Params = dict[str, object]


def constants(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
    """A constant operand for ``x op c`` / ``c op x``: a Python float or a broadcastable array."""
    shape = input_shapes[0]
    python_number = st.sampled_from([1.5, -0.75, 2.0, 3])
    array_shape = st.integers(0, len(shape)).map(lambda rank: shape[len(shape) - rank :])
    numpy_array = array_shape.flatmap(lambda s: arrays(s, low=0.5, high=2.0))
    return st.fixed_dictionaries({"constant": python_number | numpy_array, "constant_first": st.booleans()})


def clamp_bounds(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
    """(min, max) pairs whose kinks lie at -0.5 / 0.5; either bound may be absent."""
    return st.fixed_dictionaries({"bounds": st.sampled_from([(-0.5, 0.5), (-0.5, None), (None, 0.5)])})


@st.composite
def where_conditions(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """The condition of ``where``: it broadcasts with both inputs and may be larger than both."""
    full = broadcast_shape(*input_shapes)
    leading = draw(st.lists(st.integers(1, 3), max_size=1))
    sides = [draw(st.integers(1, 3)) if side == 1 else draw(st.sampled_from([side, 1])) for side in full]
    return {"condition": draw(bool_masks(tuple(leading + sides), at_least_one=False))}


@st.composite
def keepdim_reductions(draw: st.DrawFn, shape: Shape, allow_none: bool = True, allow_tuple: bool = True) -> Params:
    return {"dim": draw(dims(len(shape), allow_none, allow_tuple)), "keepdim": draw(st.booleans())}


@st.composite
def variance_params(draw: st.DrawFn, shape: Shape, min_count: int) -> Params:
    """dim/keepdim/correction with more reduced elements than ``correction`` (and >= min_count)."""
    dim = draw(dims(len(shape)))
    count = reduced_count(shape, dim)
    if count < min_count:
        dim = None  # reduce over everything; the caller's shapes may still be too small
        count = math.prod(shape)
    correction = draw(st.integers(0, max(0, min(2, count - 1))))
    return {"dim": dim, "keepdim": draw(st.booleans()), "correction": correction}


def _factorize(number: int) -> list[int]:
    factors, candidate = [], 2
    while number > 1:
        while number % candidate == 0:
            factors.append(candidate)
            number //= candidate
        candidate += 1
    return factors


@st.composite
def reshape_targets(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """A shape with the same number of elements (up to 4 dims, maybe with one -1)."""
    factors = draw(st.permutations(_factorize(math.prod(input_shapes[0]))))
    target: list[int] = []
    for factor in factors:
        if target and (len(target) >= 4 or draw(st.booleans())):
            target[-1] *= factor
        else:
            target.append(factor)
    while len(target) < 4 and draw(st.booleans()):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"target": tuple(target)}


@st.composite
def flatten_params(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    ndim = len(input_shapes[0])
    first, second = draw(dim_ints(ndim)), draw(dim_ints(ndim))
    rank = max(ndim, 1)
    start, end = sorted((first, second), key=lambda d: d % rank)
    return {"start_dim": start, "end_dim": end}


@st.composite
def permute_params(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    ndim = len(input_shapes[0])
    order = draw(st.permutations(range(ndim)))
    negate = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
    return {"order": tuple(d - ndim if flip else d for d, flip in zip(order, negate))}


@st.composite
def expand_sizes(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """New leading sides, size-1 sides grown, other sides kept or written -1."""
    leading = draw(st.lists(st.integers(1, 3), max_size=2))
    kept = [draw(st.integers(1, 3)) if side == 1 else draw(st.sampled_from([side, -1])) for side in input_shapes[0]]
    return {"sizes": tuple(leading + kept)}


@st.composite
def repeat_sizes(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    ndim = len(input_shapes[0])
    count = draw(st.integers(max(ndim, 1), ndim + 1))
    return {"sizes": tuple(draw(st.lists(st.integers(1, 3), min_size=count, max_size=count)))}


@st.composite
def split_params(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """An int split size or a list of sections that sum to the side, along a valid dim."""
    shape = input_shapes[0]
    dim = draw(dim_ints(len(shape)))
    side = shape[dim]
    if draw(st.booleans()):
        return {"split_size": draw(st.integers(1, side + 1)), "dim": dim}
    cuts = sorted(draw(st.sets(st.integers(1, side - 1), max_size=side - 1))) if side > 1 else []
    sections = [stop - start for start, stop in zip([0] + cuts, cuts + [side])]
    return {"split_size": sections, "dim": dim}


@st.composite
def chunk_params(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    shape = input_shapes[0]
    dim = draw(dim_ints(len(shape)))
    return {"chunks": draw(st.integers(1, shape[dim] + 1)), "dim": dim}


@st.composite
def join_shapes(draw: st.DrawFn, count: int, same: bool, max_dims: int, max_side: int) -> tuple[Shape, ...]:
    """``count`` shapes for stack (``same``) or cat (equal except along one dim, at least 1-D)."""
    base = draw(shapes(0 if same else 1, max_dims, 1, max_side))
    if same:
        return (base,) * count
    axis = draw(st.integers(0, len(base) - 1))
    sides = draw(st.lists(st.integers(1, max_side), min_size=count, max_size=count))
    return tuple(base[:axis] + (side,) + base[axis + 1 :] for side in sides)


@st.composite
def cat_dims(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """The dim along which the shapes differ (any dim when they are all equal), maybe negative."""
    ndim = len(input_shapes[0])
    differing = [d for d in range(ndim) if len({shape[d] for shape in input_shapes}) > 1]
    axis = differing[0] if differing else draw(st.integers(0, ndim - 1))
    return {"dim": axis - ndim if draw(st.booleans()) else axis}


# --------------------------------------------------------------------------- indices
# The index itself comes from the package's ``indices``; the op table also wants to know
# whether to pass integer arrays and masks as tensors (``x[te.tensor(...)]``) or as NumPy arrays.
@st.composite
def basic_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """Ints, slices, None and at most one Ellipsis, e.g. ``(1, None, ..., slice(0, 2))``."""
    return {"index": draw(indices(input_shapes[0], kinds=("basic",))), "as_tensor": False}


@st.composite
def int_array_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """Full slices up to one dim, then one or two adjacent integer arrays with a repeated entry."""
    return {"index": draw(indices(input_shapes[0], kinds=("integer",))), "as_tensor": draw(st.booleans())}


@st.composite
def bool_mask_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """A mask over a prefix of the dims (at least one True), or a 1-D mask after full slices."""
    return {"index": draw(indices(input_shapes[0], kinds=("boolean",))), "as_tensor": draw(st.booleans())}
