"""Hypothesis strategies for the gradient tests: shapes, dims and bounded arrays.

Every strategy here draws *plain NumPy data* (shapes as tuples, values as float64 arrays);
the tests turn them into tensors. Keeping the strategies free of ``tinygrad_edu`` means a bug
in the package can never hide inside the data generation.

Finite differences only agree with an analytic gradient where the function is smooth, so
:func:`arrays` keeps values inside an op's domain, away from its kinks (``avoid`` points) and,
for ``max``/``min``-like ops, pairwise distinct so that no tie flips under a perturbation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]
Dim = int | tuple[int, ...]

#: Smallest gap kept between a value and a kink, and between two values that must differ.
#: Central differences use eps ~ 1e-6, so anything far above that is safe.
DEFAULT_MARGIN = 0.05


# --------------------------------------------------------------------------- shapes
@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 4) -> Shape:
    """Shapes such as ``()``, ``(1,)``, ``(3, 1, 2)``.

    The rank is drawn counting down from ``max_dims`` (hypothesis favours the low end of an
    integer range, which would make a third of a 12-example CI run 0-d); so examples shrink
    towards all-ones shapes of full rank such as ``(1, 1, 1, 1)``. 0-d still comes often.
    """
    rank = max_dims - draw(st.integers(0, max_dims - min_dims))
    return tuple(draw(st.integers(min_side, max_side)) for _ in range(rank))


@st.composite
def broadcastable_shapes(
    draw: st.DrawFn, n: int = 2, min_dims: int = 0, max_dims: int = 4, max_side: int = 4
) -> tuple[Shape, ...]:
    """``n`` shapes that broadcast together (NumPy rules), e.g. ``((3, 1), (2, 1, 4), ())``.

    One full shape is drawn; each result keeps a suffix of it (so ranks differ, 0-d included)
    and turns some of its sides into 1.
    """
    full = draw(shapes(min_dims, max_dims, 1, max_side))
    result = []
    for _ in range(n):
        # Full rank half the time or more (hypothesis would otherwise favour 0-d suffixes).
        rank = draw(st.sampled_from([len(full), len(full), *range(len(full))]))
        suffix = full[len(full) - rank :]
        ones = [draw(st.integers(0, 2)) == 0 for _ in range(rank)]  # a third of the sides become 1
        result.append(tuple(1 if make_one else side for side, make_one in zip(suffix, ones)))
    return tuple(result)


def broadcast_shape(*input_shapes: Shape) -> Shape:
    """The shape NumPy gives to ``input_shapes`` broadcast together."""
    return tuple(np.broadcast_shapes(*input_shapes))


@st.composite
def matmul_shapes(draw: st.DrawFn, max_side: int = 4, max_batch_dims: int = 2) -> tuple[Shape, Shape]:
    """Shape pairs valid for ``a @ b``: 1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D, batched with broadcast."""
    side = st.integers(1, max_side)
    m, k, p = draw(side), draw(side), draw(side)
    # The general case first: hypothesis draws (and shrinks towards) early entries more often.
    case = draw(st.sampled_from(["batched", "mat-mat", "mat-vec", "vec-mat", "vec-vec"]))
    if case == "vec-vec":
        return (k,), (k,)
    if case == "vec-mat":
        return (k,), (k, p)
    if case == "mat-vec":
        return (m, k), (k,)
    if case == "mat-mat":
        return (m, k), (k, p)
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=1, max_dims=max_batch_dims, max_side=3))
    vector_side = draw(st.sampled_from(["neither", "neither", "left", "right"]))  # 1-D with batched
    left = (k,) if vector_side == "left" else batch_a + (m, k)
    right = (k,) if vector_side == "right" else batch_b + (k, p)
    return left, right


# --------------------------------------------------------------------------- dims
def dim_ints(ndim: int, extra: int = 0) -> st.SearchStrategy[int]:
    """One valid dim for a tensor of rank ``ndim`` (+``extra`` for unsqueeze), negative included.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    """
    rank = max(ndim + extra, 1)
    return st.integers(-rank, rank - 1)


@st.composite
def dims(draw: st.DrawFn, ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Dim | None:
    """A valid ``dim`` argument: ``None`` (all), an int, or a tuple of distinct dims, any signs."""
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple and ndim > 0 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(dim_ints(ndim))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    negate = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    return tuple(d - ndim if flip else d for d, flip in zip(chosen, negate))


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


# --------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Domain:
    """Where an op's gradient can be checked by central differences.

    ``low``/``high`` bound the values; no value comes within ``margin`` of an ``avoid`` point
    (a kink or a pole); with ``distinct`` every value differs from every other one (also across
    all inputs of the op) by a clear gap; ``with_zeros`` plants exact zeros (e.g. for ``prod``).
    """

    low: float = -2.0
    high: float = 2.0
    avoid: tuple[float, ...] = ()
    margin: float = DEFAULT_MARGIN
    distinct: bool = False
    with_zeros: bool = False


def _push_away(value: float, domain: Domain) -> float:
    """Move ``value`` out of the ``margin`` band around each avoid point, staying in bounds."""
    for point in domain.avoid:
        if abs(value - point) < domain.margin:
            above = point + domain.margin
            below = point - domain.margin
            value = above if (value >= point and above <= domain.high) or below < domain.low else below
    return value


def elements(domain: Domain) -> st.SearchStrategy[float]:
    """Single float64 values of ``domain`` (never NaN/inf, never near an avoid point)."""
    return st.floats(domain.low, domain.high, allow_nan=False, allow_infinity=False).map(
        lambda value: _push_away(value, domain)
    )


@st.composite
def arrays(
    draw: st.DrawFn,
    shape: Shape,
    low: float = -2.0,
    high: float = 2.0,
    dtype: type = np.float64,
    avoid: tuple[float, ...] = (),
    margin: float = DEFAULT_MARGIN,
    distinct: bool = False,
    with_zeros: bool = False,
) -> np.ndarray:
    """A float64 array of ``shape`` with values in ``[low, high]`` (see :class:`Domain`)."""
    domain = Domain(low, high, avoid, margin, distinct, with_zeros)
    return draw(arrays_for_domain((shape,), domain))[0]


@st.composite
def arrays_for_domain(draw: st.DrawFn, input_shapes: tuple[Shape, ...], domain: Domain) -> list[np.ndarray]:
    """One array per shape, all from ``domain``; ``distinct`` holds across all of them together."""
    if domain.distinct:
        return _distinct_arrays(draw, input_shapes, domain)
    result = []
    for shape in input_shapes:
        values = draw(hnp.arrays(np.float64, shape, elements=elements(domain)))
        if domain.with_zeros and values.size > 0:
            zero_mask = draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
            values = np.where(zero_mask, 0.0, values)
        result.append(np.array(values, dtype=np.float64))
    return result


def _distinct_arrays(draw: st.DrawFn, input_shapes: tuple[Shape, ...], domain: Domain) -> list[np.ndarray]:
    """Values on a jittered grid, shuffled: every pair differs by at least half a grid step."""
    assert not domain.avoid, "distinct values and avoid points together are not supported"
    sizes = [math.prod(shape) for shape in input_shapes]
    total = sum(sizes)
    order = np.array(draw(st.permutations(range(total))), dtype=np.float64)
    jitter = np.array(draw(st.lists(st.floats(0.0, 0.5), min_size=total, max_size=total)))
    step = (domain.high - domain.low) / max(total, 1)
    flat = domain.low + (order + 0.25 + jitter * 0.5) * step
    flat = np.array([_push_away(value, domain) for value in flat], dtype=np.float64)
    result, start = [], 0
    for shape, size in zip(input_shapes, sizes):
        result.append(flat[start : start + size].reshape(shape).copy())
        start += size
    return result


def bool_masks(shape: Shape, at_least_one: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Boolean arrays of ``shape``; with ``at_least_one`` some element is True."""
    masks = hnp.arrays(np.bool_, shape, elements=st.booleans())
    if at_least_one:
        return masks.map(_ensure_one_true)
    return masks


def _ensure_one_true(mask: np.ndarray) -> np.ndarray:
    if mask.size and not mask.any():
        mask = mask.copy()
        mask.flat[0] = True
    return mask


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
IndexPart = int | slice | None | type(Ellipsis) | np.ndarray


@st.composite
def _index_parts(draw: st.DrawFn, sides: Shape) -> list[IndexPart]:
    """An int or a non-empty positive-step slice per side (PyTorch has no negative steps)."""
    parts: list[IndexPart] = []
    for side in sides:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-side, side - 1)))
            continue
        start = draw(st.integers(0, side - 1))
        stop = draw(st.integers(start + 1, side))
        step = draw(st.integers(1, 2))
        start_written = draw(st.sampled_from([start, start - side, None if start == 0 else start]))
        stop_written = draw(st.sampled_from([stop, None if stop == side else stop]))
        parts.append(slice(start_written, stop_written, step))
    return parts


def _with_nones(draw: st.DrawFn, parts: list[IndexPart]) -> list[IndexPart]:
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return parts


@st.composite
def basic_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """Ints, slices, None and at most one Ellipsis, e.g. ``(1, None, ..., slice(0, 2))``."""
    shape = input_shapes[0]
    front = draw(st.integers(0, len(shape)))
    use_ellipsis = draw(st.booleans())
    back = draw(st.integers(0, len(shape) - front)) if use_ellipsis else 0
    parts = draw(_index_parts(shape[:front]))
    if use_ellipsis:
        parts = parts + [Ellipsis] + draw(_index_parts(shape[len(shape) - back :]))
    parts = _with_nones(draw, parts)
    index: object = parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)
    return {"index": index, "as_tensor": False}


@st.composite
def int_array_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """Full slices up to one dim, then one or two adjacent integer arrays with a repeated entry."""
    shape = input_shapes[0]
    position = draw(st.integers(0, len(shape) - 1))
    count = draw(st.integers(1, min(2, len(shape) - position)))
    index_shape = draw(shapes(1, 2, 1, 3))
    arrays_out = []
    for side in shape[position : position + count]:
        values = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-side, side - 1)))
        values.flat[-1] = values.flat[0]  # a repeated index: its gradient must accumulate
        arrays_out.append(values)
    index = tuple([slice(None)] * position + arrays_out)
    return {"index": index[0] if len(index) == 1 else index, "as_tensor": draw(st.booleans())}


@st.composite
def bool_mask_indices(draw: st.DrawFn, input_shapes: tuple[Shape, ...]) -> Params:
    """A mask over a prefix of the dims (at least one True), or a 1-D mask after full slices."""
    shape = input_shapes[0]
    if draw(st.booleans()):
        prefix = draw(st.integers(1, len(shape)))
        index: object = draw(bool_masks(shape[:prefix]))
    else:
        position = draw(st.integers(0, len(shape) - 1))
        index = tuple([slice(None)] * position + [draw(bool_masks((shape[position],)))])
    return {"index": index, "as_tensor": draw(st.booleans())}
