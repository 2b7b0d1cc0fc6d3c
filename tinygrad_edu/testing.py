"""Tools for gradient-checking experiments: hypothesis strategies and ``assert_gradients_match``.

The same machinery the project's own tests use (``tests/strategies.py`` re-exports the
strategies, ``tests/test_gradients.py`` checks every op with the same two halves), for
users who write their own ops::

    import tinygrad_edu as te
    from hypothesis import given
    from tinygrad_edu.testing import assert_gradients_match, tensors

    @given(tensors(shape=(3, 4), dtype=te.float64, requires_grad=True))
    def test_my_softplus(x):
        assert_gradients_match(MySoftplus.apply, x)

Contents, top to bottom: strategies for shapes (:func:`shapes`,
:func:`broadcastable_shapes`, :func:`matmul_shapes`), dims (:func:`dims`), values
(:class:`Domain`, :func:`arrays`), indices (:func:`indices`), tensors (:func:`tensors`);
then :func:`assert_gradients_match`.

Every strategy but :func:`tensors` draws *plain NumPy data*: shapes as tuples, values as
NumPy arrays, indices as ints, slices and NumPy arrays. None of them calls tinygrad_edu,
so a bug in the package can never hide inside the data generation; :func:`tensors` draws
NumPy values the same way and only wraps them into a Tensor at the very end.

Finite differences only agree with an analytic gradient where the function is smooth, so
:func:`arrays` keeps values inside an op's domain (a :class:`Domain`), away from its kinks
(``avoid`` points) and, for ``max``/``min``-like ops, pairwise distinct so that no tie
flips under a perturbation. Hypothesis favours the low end of an integer range and shrinks
towards it; where that would make most examples trivial (0-d shapes, say), the strategies
draw "how far from the top" instead.

hypothesis is a test dependency, not a runtime one: ``import tinygrad_edu`` does not import
this module, and importing it without hypothesis raises an ImportError that says how to
install it. ``assert_gradients_match`` needs no hypothesis itself; it is built from two
halves in :mod:`tinygrad_edu.autograd.gradcheck` that work without it:
``gradcheck(..., fast_mode=True)`` for the random-direction check and
``check_backward_invariants``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu import backend
from tinygrad_edu.autograd.gradcheck import find_gradient_mismatch, find_invariant_violation
from tinygrad_edu.tensor import Tensor

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    from hypothesis.strategies import SearchStrategy
except ImportError as error:
    raise ImportError(
        "tinygrad_edu.testing needs hypothesis, a test dependency that tinygrad_edu itself does not need: "
        "pip install hypothesis  (or pip install 'tinygrad_edu[dev]')"
    ) from error

__all__ = [
    "DEFAULT_MARGIN", "INDEX_KINDS", "MODES", "Dim", "Domain", "GradientAssertionError", "Shape", "arrays",
    "arrays_for_domain", "assert_gradients_match", "bool_masks", "broadcast_shape", "broadcastable_shapes",
    "dim_ints", "dims", "elements", "indices", "matmul_shapes", "shapes", "tensors",
]

Shape = tuple[int, ...]
Dim = int | tuple[int, ...]

#: Smallest gap kept between a value and a kink, and between two values that must differ.
#: Central differences use eps ~ 1e-6, so anything far above that is safe.
DEFAULT_MARGIN = 0.05


# --------------------------------------------------------------------------- shapes
@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 4) -> Shape:
    """Shapes such as ``()``, ``(1,)``, ``(3, 1, 2)``: ``min_dims..max_dims`` sides, each in
    ``min_side..max_side``.

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
def dim_ints(ndim: int, extra: int = 0) -> SearchStrategy[int]:
    """One valid dim for a tensor of rank ``ndim`` (+``extra`` for unsqueeze), negative included.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    """
    rank = max(ndim + extra, 1)
    return st.integers(-rank, rank - 1)


@st.composite
def dims(draw: st.DrawFn, ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Dim | None:
    """A valid ``dim`` argument for a tensor of rank ``ndim``: ``None`` (all), an int, or a
    tuple of distinct dims, with either sign."""
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple and ndim > 0 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(dim_ints(ndim))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    negate = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    return tuple(d - ndim if flip else d for d, flip in zip(chosen, negate))


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


def elements(domain: Domain) -> SearchStrategy[float]:
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
    dtype: Any = np.float64,
    avoid: tuple[float, ...] = (),
    margin: float = DEFAULT_MARGIN,
    distinct: bool = False,
    with_zeros: bool = False,
) -> np.ndarray:
    """A NumPy array of ``shape`` with values in ``[low, high]`` (see :class:`Domain`).

    Values are drawn in float64; another floating ``dtype`` rounds them at the end.
    """
    domain = Domain(low, high, avoid, margin, distinct, with_zeros)
    return draw(arrays_for_domain((shape,), domain))[0].astype(dtype, copy=False)


@st.composite
def arrays_for_domain(draw: st.DrawFn, input_shapes: tuple[Shape, ...], domain: Domain) -> list[np.ndarray]:
    """One float64 array per shape, all from ``domain``; ``distinct`` holds across all of them."""
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
    if domain.avoid:
        raise ValueError("distinct values and avoid points together are not supported")
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


def bool_masks(shape: Shape, at_least_one: bool = True) -> SearchStrategy[np.ndarray]:
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


# --------------------------------------------------------------------------- indices
IndexPart = int | slice | None | type(Ellipsis) | np.ndarray

#: What :func:`indices` can draw: ``basic`` (ints, slices, None, ...), ``integer`` (integer
#: arrays, as ``x[[0, 2, 0]]``) and ``boolean`` (masks, as ``x[x > 0]``).
INDEX_KINDS = ("basic", "integer", "boolean")


def indices(shape: Shape, kinds: Sequence[str] = INDEX_KINDS) -> SearchStrategy[Any]:
    """Indices ``index`` for which ``array[index]`` is valid, ``array`` having ``shape``.

    ``kinds`` picks among :data:`INDEX_KINDS`. Integer arrays always repeat one entry (the
    gradient of a repeated index must accumulate); boolean masks select at least one element.
    Steps are positive (PyTorch has no negative steps). A 0-d shape takes basic indices only.
    """
    unknown = sorted(set(kinds) - set(INDEX_KINDS))
    if unknown or not kinds:
        raise ValueError(f"indices: kinds must be some of {INDEX_KINDS}, got {tuple(kinds)}")
    if 0 in shape:
        raise ValueError(f"indices: every side must be at least 1, got shape {shape}")
    shape = tuple(shape)
    makers = {"basic": _basic_index, "integer": _integer_array_index, "boolean": _boolean_mask_index}
    usable = [kind for kind in kinds if kind == "basic" or len(shape) > 0]
    if not usable:
        raise ValueError(f"indices: a 0-d shape takes basic indices only, not {tuple(kinds)}")
    return st.one_of(*[makers[kind](shape) for kind in usable])


@st.composite
def _index_parts(draw: st.DrawFn, sides: Shape) -> list[IndexPart]:
    """An int or a non-empty positive-step slice per side, with bounds written in every way."""
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


@st.composite
def _basic_index(draw: st.DrawFn, shape: Shape) -> Any:
    """Ints, slices, None and at most one Ellipsis, e.g. ``(1, None, ..., slice(0, 2))``."""
    front = draw(st.integers(0, len(shape)))
    use_ellipsis = draw(st.booleans())
    back = draw(st.integers(0, len(shape) - front)) if use_ellipsis else 0
    parts = draw(_index_parts(shape[:front]))
    if use_ellipsis:
        parts = parts + [Ellipsis] + draw(_index_parts(shape[len(shape) - back :]))
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


@st.composite
def _integer_array_index(draw: st.DrawFn, shape: Shape) -> Any:
    """Full slices up to one dim, then one or two adjacent int64 arrays with a repeated entry."""
    position = draw(st.integers(0, len(shape) - 1))
    count = draw(st.integers(1, min(2, len(shape) - position)))
    index_shape = draw(shapes(1, 2, 1, 3))
    index_arrays = []
    for side in shape[position : position + count]:
        values = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-side, side - 1)))
        values.flat[-1] = values.flat[0]  # a repeated index: its gradient must accumulate
        index_arrays.append(values)
    index = tuple([slice(None)] * position + index_arrays)
    return index[0] if len(index) == 1 else index


@st.composite
def _boolean_mask_index(draw: st.DrawFn, shape: Shape) -> Any:
    """A mask over a prefix of the dims (at least one True), or a 1-D mask after full slices."""
    if draw(st.booleans()):
        prefix = draw(st.integers(1, len(shape)))
        return draw(bool_masks(shape[:prefix]))
    position = draw(st.integers(0, len(shape) - 1))
    return tuple([slice(None)] * position + [draw(bool_masks((shape[position],)))])


# --------------------------------------------------------------------------- tensors
def tensors(
    shape: Shape | SearchStrategy[Shape] | None = None,
    dtype: backend.DType | Sequence[backend.DType] = backend.float32,
    low: float = -2.0,
    high: float = 2.0,
    *,
    avoid: tuple[float, ...] = (),
    margin: float = DEFAULT_MARGIN,
    distinct: bool = False,
    requires_grad: bool = False,
) -> SearchStrategy[Tensor]:
    """Tensors of ``shape`` (a tuple, a strategy of shapes, or :func:`shapes` by default) and
    ``dtype`` (one dtype, or a sequence of dtypes to draw from).

    Floating values lie in ``[low, high]`` (after rounding to float32, in
    ``[float32(low), float32(high)]``) with ``avoid``/``margin``/``distinct`` as in
    :class:`Domain`; int64 values are the integers of ``[low, high]``; bool values are any.
    Only floating tensors can have ``requires_grad=True``.
    """
    dtypes = [backend.to_dtype(each) for each in (dtype if isinstance(dtype, (list, tuple)) else (dtype,))]
    if not dtypes:
        raise ValueError("tensors: dtype must name at least one dtype")
    if requires_grad and not all(each.is_floating_point for each in dtypes):
        raise ValueError(f"tensors: only floating point tensors can require grad, not {dtypes}")
    if low > high:
        raise ValueError(f"tensors: low ({low}) must not exceed high ({high})")
    if shape is None:
        shape_strategy: SearchStrategy[Shape] = shapes()
    elif isinstance(shape, SearchStrategy):
        shape_strategy = shape
    else:
        shape_strategy = st.just(tuple(shape))
    domain = Domain(low, high, tuple(avoid), margin, distinct)

    @st.composite
    def draw_tensor(draw: st.DrawFn) -> Tensor:
        drawn_dtype = draw(st.sampled_from(dtypes))
        drawn_shape = draw(shape_strategy)
        if drawn_dtype.is_floating_point:
            values = draw(arrays_for_domain((drawn_shape,), domain))[0]
        elif drawn_dtype is backend.int64:
            values = draw(hnp.arrays(np.int64, drawn_shape, elements=st.integers(math.ceil(low), math.floor(high))))
        else:
            values = draw(hnp.arrays(np.bool_, drawn_shape, elements=st.booleans()))
        return Tensor(values, dtype=drawn_dtype, requires_grad=requires_grad)  # the only tinygrad_edu call

    return draw_tensor()


# --------------------------------------------------------------------------- gradient assertions
#: ``full``: every element of every Jacobian (cost grows with input size times output size);
#: ``random``: one random direction per input (cost: one backward, two forwards per input).
MODES = ("full", "random")


class GradientAssertionError(AssertionError):
    """Raised by :func:`assert_gradients_match`. An AssertionError, so that pytest reports
    it as a failed check (not as a crash), with the message naming what is wrong."""


def assert_gradients_match(fn: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                           rtol: float = 1e-3, mode: str = "full", seed: int = 0) -> None:
    """Assert that backward() through ``fn(*inputs)`` is right.

    ``fn`` takes ``inputs`` (tensors, arrays, numbers) and returns a tensor or a tuple of
    them. It runs on float64 copies of the floating inputs, so the inputs are never
    touched; the gradient is checked for every input with ``requires_grad=True``. Checks,
    in this order:

    1. the invariants of a backward pass (with a random upstream gradient drawn from
       ``seed``): inputs not modified, upstream gradient not modified, each gradient of
       its input's shape and dtype, no gradient sharing memory with another gradient, with
       the upstream gradient or with an input;
    2. the gradients against central differences with step ``eps``: they must agree within
       ``atol + rtol * |numeric|``, everywhere (``mode="full"``) or along one random
       direction per input (``mode="random"``).

    Raises :class:`GradientAssertionError` naming the first broken invariant, or the worst
    element: input, index, analytic and numeric values, error (the random mode names the
    input only; run the full mode on a smaller input to find the element).
    """
    if mode not in MODES:
        raise ValueError(f"assert_gradients_match: mode must be one of {MODES}, got {mode!r}")
    violation = find_invariant_violation(fn, inputs, seed=seed)
    if violation is not None:
        raise GradientAssertionError(f"assert_gradients_match: {violation}")
    worst = find_gradient_mismatch(fn, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=mode == "random", seed=seed)
    if worst is not None:
        raise GradientAssertionError(f"assert_gradients_match: {worst}")
