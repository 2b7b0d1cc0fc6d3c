"""The table of differentiable ops that drives the gradient tests.

One :class:`OpSpec` row per op (or per distinct way of calling it). A row says how to call
the op on tensors (``forms``: equivalent spellings, e.g. method and function, one drawn per
example), which inputs it takes (``kind``, see :class:`Kind`), which values keep it smooth
(``domain``), which extra arguments to draw (``params``) and whether to check second order.

Adding an op means adding a row here; ``tests/test_gradients.py`` does the rest.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tinygrad_edu as te
from hypothesis import strategies as st

from strategies import (
    Domain,
    Shape,
    basic_indices,
    bool_mask_indices,
    cat_dims,
    chunk_params,
    clamp_bounds,
    constants,
    dim_ints,
    expand_sizes,
    flatten_params,
    int_array_indices,
    keepdim_reductions,
    permute_params,
    repeat_sizes,
    reshape_targets,
    split_params,
    variance_params,
    where_conditions,
)

Params = dict[str, object]
ParamStrategy = Callable[[tuple[Shape, ...]], st.SearchStrategy[Params]]


class Kind(enum.Enum):
    """How the input shapes of a row are drawn (see ``input_shapes`` in test_gradients.py)."""

    UNARY = "one tensor of any shape, 0-d and size-1 dims included"
    BINARY = "two tensors whose shapes broadcast (ranks may differ)"
    WHERE = "a condition and two tensors, all three shapes broadcast together"
    REDUCTION = "one tensor plus dim/keepdim arguments"
    MATMUL = "two tensors valid for matmul: 1-D, 2-D, batched with broadcast"
    SHAPE = "one tensor plus the shape op's own arguments"
    INDEX = "one tensor (at least 1-D) plus an index"
    JOIN = "several tensors equal except along one dim (cat) or equal (stack)"


@dataclass(frozen=True, repr=False)
class OpSpec:
    """One row of the table."""

    name: str  # pytest id, unique
    op: str  # the API name this row covers (several rows may cover one op)
    forms: tuple[Callable[..., object], ...]  # forms[i](*tensors, **params) -> Tensor | tuple
    kind: Kind
    arity: int = 1
    domain: Domain | tuple[Domain, ...] = Domain()
    params: ParamStrategy | None = None
    second_order: bool = True
    min_dims: int = 0  # UNARY/REDUCTION/SHAPE/INDEX: the ranks the op accepts (PyTorch's)
    max_dims: int = 4
    min_numel: int = 1  # e.g. std needs two values to have a nonzero spread

    def __repr__(self) -> str:  # keeps hypothesis' failure reports short
        return f"OpSpec({self.name!r})"

    def domains(self) -> tuple[Domain, ...]:
        """One domain per input."""
        if isinstance(self.domain, Domain):
            return (self.domain,) * self.arity
        return self.domain


# --------------------------------------------------------------------------- domains
ANY = Domain(-2.0, 2.0)
POSITIVE = Domain(0.3, 3.0)
NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.5)  # poles: 1/x, x**-1
KINK_AT_ZERO = Domain(-2.0, 2.0, avoid=(0.0,))  # abs, relu, sign
DISTINCT = Domain(-2.0, 2.0, distinct=True)  # max, min, maximum, minimum, std
CLAMP_KINKS = Domain(-1.5, 1.5, avoid=(-0.5, 0.5))
NEAR_ONE = Domain(0.5, 1.5)  # prod: keeps products of up to 256 values near 1


def fixed(**choices: tuple[object, ...]) -> ParamStrategy:
    """Params that do not depend on the shapes: one of the given choices per keyword."""
    drawn = st.fixed_dictionaries({key: st.sampled_from(options) for key, options in choices.items()})

    def params(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
        return drawn

    return params


def dim_keepdim(allow_none: bool = True, allow_tuple: bool = True) -> ParamStrategy:
    """``dim`` (None, int or tuple, as allowed) and ``keepdim`` for the first input."""

    def params(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
        return keepdim_reductions(input_shapes[0], allow_none, allow_tuple)

    return params


def one_dim(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
    return st.fixed_dictionaries({"dim": dim_ints(len(input_shapes[0]))})


def max_with_dim(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
    return st.fixed_dictionaries({"dim": dim_ints(len(input_shapes[0])), "keepdim": st.booleans()})


# --------------------------------------------------------------------------- helpers for rows
def _reduce(method: str) -> tuple[Callable[..., object], ...]:
    """Method form ``x.sum(dim=..., keepdim=...)``, and the bare ``x.sum()`` when dim is None."""

    def call(x: te.Tensor, dim: object, keepdim: bool) -> object:
        if dim is None and not keepdim:
            return getattr(x, method)()
        return getattr(x, method)(dim=dim, keepdim=keepdim)

    return (call,)


def _in_place(statement: str) -> Callable[..., object]:
    """``y = a + 0 * b`` (a non-leaf of the broadcast shape), then one in-place op on ``y`` with ``b``."""

    def call(a: te.Tensor, b: te.Tensor) -> te.Tensor:
        result = a + b * 0.0
        if statement == "+=":
            result += b
        elif statement == "-=":
            result -= b
        elif statement == "*=":
            result *= b
        elif statement == "/=":
            result /= b
        else:
            result = getattr(result, statement)(b)
        return result

    return call


def _with_constant(operator: Callable[[object, object], object]) -> Callable[..., object]:
    """``x op c`` or ``c op x`` with ``c`` a Python float or a broadcastable NumPy array."""

    def call(x: te.Tensor, constant: object, constant_first: bool) -> object:
        return operator(constant, x) if constant_first else operator(x, constant)

    return call


def _index(x: te.Tensor, index: object, as_tensor: bool) -> te.Tensor:
    """``x[index]``; with ``as_tensor`` the NumPy index arrays become int64/bool tensors."""
    if as_tensor:
        if isinstance(index, np.ndarray):
            index = te.tensor(index)
        elif isinstance(index, tuple):
            index = tuple(te.tensor(part) if isinstance(part, np.ndarray) else part for part in index)
    return x[index]


def _max_values(function: Callable[..., object]) -> Callable[..., object]:
    def call(x: te.Tensor, dim: int, keepdim: bool) -> te.Tensor:
        return function(x, dim=dim, keepdim=keepdim)[0]

    return call


def gather_params(input_shapes: tuple[Shape, ...]) -> st.SearchStrategy[Params]:
    """A ``dim`` and an int64 index of the input's shape, each entry within that dim's size
    (repeats allowed: their gradients must add up)."""
    shape = input_shapes[0]

    @st.composite
    def draw_params(draw: st.DrawFn) -> Params:
        dim = draw(dim_ints(len(shape)))
        size = shape[dim]
        index = draw(st.lists(st.integers(0, size - 1), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return {"dim": dim, "index": np.array(index, dtype=np.int64).reshape(shape)}

    return draw_params()


def _set_item(x: te.Tensor) -> te.Tensor:
    """``y[..., 0] = 2 * x[..., -1]`` on a copy: the overwritten column gets no gradient."""
    y = x * 1.0
    y[..., 0] = x[..., -1] * 2.0
    return y


def _overwrite(method: str) -> Callable[..., object]:
    """``y = a * 1`` then ``y.copy_(b)`` or ``y.fill_(...)``: only what was written counts."""

    def call(a: te.Tensor, b: te.Tensor) -> te.Tensor:
        y = a * 1.0 + b * 0.0  # the broadcast shape, so that b fits into y
        if method == "copy_":
            y.copy_(b * 3.0)
        else:
            y.fill_(0.5)
        return y * a

    return call


U, B, R, S = Kind.UNARY, Kind.BINARY, Kind.REDUCTION, Kind.SHAPE

# --------------------------------------------------------------------------- the table
OP_TABLE: tuple[OpSpec, ...] = (
    # ---- arithmetic (broadcasting binary ops, constants on either side)
    OpSpec("add", "add", (lambda a, b: a + b,), B, 2),
    OpSpec("add_const", "add", (_with_constant(lambda p, q: p + q),), U, params=constants),
    OpSpec("sub", "sub", (lambda a, b: a - b,), B, 2),
    OpSpec("sub_const", "sub", (_with_constant(lambda p, q: p - q),), U, params=constants),
    OpSpec("mul", "mul", (lambda a, b: a * b,), B, 2),
    OpSpec("mul_const", "mul", (_with_constant(lambda p, q: p * q),), U, params=constants),
    OpSpec("div", "div", (lambda a, b: a / b,), B, 2, domain=(ANY, NONZERO)),
    OpSpec("div_const", "div", (_with_constant(lambda p, q: p / q),), U, domain=NONZERO, params=constants),
    OpSpec("pow_scalar", "pow", (lambda x, exponent: x**exponent, lambda x, exponent: x.pow(exponent)), U,
           domain=Domain(0.5, 2.0), params=fixed(exponent=(-1.5, -1.0, 0.5, 1.5, 2.5))),
    OpSpec("pow_int_scalar", "pow", (lambda x, exponent: x**exponent,), U,
           domain=NONZERO, params=fixed(exponent=(1, 2, 3, -1, -2, 2.0, 3.0))),
    # The exponent stays off 0: there PyTorch (and so tinygrad_edu) masks d(a**b)/da to 0,
    # a removable jump that makes the second derivative disagree with finite differences.
    OpSpec("pow_tensor", "pow", (lambda a, b: a**b, lambda a, b: a.pow(b)), B, 2,
           domain=(Domain(0.5, 2.0), Domain(-2.0, 2.0, avoid=(0.0,)))),
    OpSpec("rpow_scalar", "pow", (lambda x, base: base**x,), U, params=fixed(base=(2.0, 0.5, 3))),
    OpSpec("neg", "neg", (lambda x: -x,), U),
    OpSpec("iadd", "add_", (_in_place("+="), _in_place("add_")), B, 2),
    OpSpec("isub", "sub_", (_in_place("-="), _in_place("sub_")), B, 2),
    OpSpec("imul", "mul_", (_in_place("*="), _in_place("mul_")), B, 2),
    OpSpec("idiv", "div_", (_in_place("/="),), B, 2, domain=(ANY, NONZERO)),
    # ---- elementwise math
    OpSpec("abs", "abs", (lambda x: x.abs(), lambda x: abs(x)), U, domain=KINK_AT_ZERO),
    OpSpec("sign", "sign", (lambda x: x.sign(),), U, domain=KINK_AT_ZERO),
    OpSpec("exp", "exp", (lambda x: x.exp(), te.exp), U),
    OpSpec("log", "log", (lambda x: x.log(), te.log), U, domain=POSITIVE),
    OpSpec("sqrt", "sqrt", (lambda x: x.sqrt(), te.sqrt), U, domain=POSITIVE),
    OpSpec("rsqrt", "rsqrt", (lambda x: x.rsqrt(),), U, domain=POSITIVE),
    OpSpec("sin", "sin", (lambda x: x.sin(),), U, domain=Domain(-3.0, 3.0)),
    OpSpec("cos", "cos", (lambda x: x.cos(),), U, domain=Domain(-3.0, 3.0)),
    OpSpec("tanh", "tanh", (lambda x: x.tanh(), te.tanh), U, domain=Domain(-3.0, 3.0)),
    OpSpec("sigmoid", "sigmoid", (lambda x: x.sigmoid(), te.sigmoid), U, domain=Domain(-4.0, 4.0)),
    OpSpec("relu", "relu", (lambda x: x.relu(), te.relu), U, domain=KINK_AT_ZERO),
    OpSpec("clamp", "clamp", (lambda x, bounds: x.clamp(*bounds), lambda x, bounds: te.clamp(x, *bounds)), U,
           domain=CLAMP_KINKS, params=clamp_bounds),
    OpSpec("maximum", "maximum", (lambda a, b: a.maximum(b), te.maximum), B, 2, domain=DISTINCT),
    OpSpec("minimum", "minimum", (lambda a, b: a.minimum(b), te.minimum), B, 2, domain=DISTINCT),
    OpSpec("where", "where", (lambda a, b, condition: te.where(te.tensor(condition), a, b),), Kind.WHERE, 2,
           params=where_conditions),
    # ---- reductions
    OpSpec("sum", "sum", _reduce("sum") + (lambda x, dim, keepdim: te.sum(x, dim=dim, keepdim=keepdim)
                                           if dim is not None else te.sum(x),), R, params=dim_keepdim()),
    OpSpec("mean", "mean", _reduce("mean"), R, params=dim_keepdim()),
    OpSpec("prod", "prod", _reduce("prod"), R, domain=NEAR_ONE, params=dim_keepdim()),
    # Exact zeros, other values clear of 0: near-zero values like 1e-100 make y / x cancel
    # catastrophically in the second derivative (PyTorch's too).
    OpSpec("prod_zeros", "prod", _reduce("prod"), R, domain=Domain(-1.5, 1.5, avoid=(0.0,), margin=0.2, with_zeros=True),
           params=dim_keepdim()),
    OpSpec("var", "var", (lambda x, dim, keepdim, correction: x.var(dim=dim, keepdim=keepdim, correction=correction),),
           R, params=lambda shapes: variance_params(shapes[0], min_count=1)),
    OpSpec("std", "std", (lambda x, dim, keepdim, correction: x.std(dim=dim, keepdim=keepdim, correction=correction),),
           R, domain=DISTINCT, params=lambda shapes: variance_params(shapes[0], min_count=2), min_numel=2),
    OpSpec("max_all", "max", (lambda x: x.max(), te.max), R, domain=DISTINCT),
    OpSpec("max_dim", "max", (_max_values(lambda x, **kw: x.max(**kw)), _max_values(te.max)), R,
           domain=DISTINCT, params=max_with_dim),
    OpSpec("min_all", "min", (lambda x: x.min(), te.min), R, domain=DISTINCT),
    OpSpec("min_dim", "min", (_max_values(lambda x, **kw: x.min(**kw)), _max_values(te.min)), R,
           domain=DISTINCT, params=max_with_dim),
    OpSpec("logsumexp", "logsumexp",
           (lambda x, dim, keepdim: x.logsumexp(dim=dim, keepdim=keepdim),
            lambda x, dim, keepdim: te.logsumexp(x, dim=dim, keepdim=keepdim)),
           R, domain=Domain(-3.0, 3.0), params=dim_keepdim(allow_none=False)),
    OpSpec("softmax", "softmax", (lambda x, dim: x.softmax(dim), lambda x, dim: te.softmax(x, dim=dim)), R,
           domain=Domain(-3.0, 3.0), params=one_dim),
    OpSpec("log_softmax", "log_softmax",
           (lambda x, dim: x.log_softmax(dim), lambda x, dim: te.log_softmax(x, dim=dim)), R,
           domain=Domain(-3.0, 3.0), params=one_dim),
    # ---- shape ops
    OpSpec("reshape", "reshape", (lambda x, target: x.reshape(target), lambda x, target: x.reshape(*target) if target else x.reshape(())), S,
           params=reshape_targets),
    OpSpec("view", "view", (lambda x, target: x.view(target), lambda x, target: x.view(*target) if target else x.view(())), S,
           params=reshape_targets),
    OpSpec("flatten", "flatten", (lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),), S,
           params=flatten_params),
    OpSpec("unsqueeze", "unsqueeze", (lambda x, dim: x.unsqueeze(dim),), S,
           params=lambda shapes: st.fixed_dictionaries({"dim": dim_ints(len(shapes[0]), extra=1)})),
    OpSpec("squeeze", "squeeze", (lambda x, dim: x.squeeze() if dim is None else x.squeeze(dim),), S,
           params=lambda shapes: st.fixed_dictionaries({"dim": st.none() | dim_ints(len(shapes[0]))})),
    OpSpec("transpose", "transpose", (lambda x, dim0, dim1: x.transpose(dim0, dim1),), S,
           params=lambda shapes: st.fixed_dictionaries(
               {"dim0": dim_ints(len(shapes[0])), "dim1": dim_ints(len(shapes[0]))})),
    OpSpec("permute", "permute", (lambda x, order: x.permute(*order) if order else x.permute(()), lambda x, order: x.permute(order)), S,
           params=permute_params),
    OpSpec("expand", "expand", (lambda x, sizes: x.expand(*sizes) if sizes else x.expand(()), lambda x, sizes: x.expand(sizes)), S,
           params=expand_sizes),
    OpSpec("repeat", "repeat", (lambda x, sizes: x.repeat(*sizes), lambda x, sizes: x.repeat(sizes)), S,
           params=repeat_sizes),
    OpSpec("contiguous", "contiguous",
           (lambda x: x.contiguous(), lambda x: x.unsqueeze(0).transpose(0, -1).contiguous()), S),
    OpSpec("T", "T", (lambda x: x.T,), S, min_dims=1, max_dims=2),  # PyTorch deprecates .T elsewhere
    OpSpec("cat", "cat", (lambda a, b, c, dim: te.cat([a, b, c], dim=dim),
                          lambda a, b, c, dim: te.cat((a, b, c), dim)), Kind.JOIN, 3, params=cat_dims),
    OpSpec("stack", "stack", (lambda a, b, dim: te.stack([a, b], dim=dim),), Kind.JOIN, 2,
           params=lambda shapes: st.fixed_dictionaries({"dim": dim_ints(len(shapes[0]), extra=1)})),
    OpSpec("split", "split", (lambda x, split_size, dim: x.split(split_size, dim=dim),), S, min_dims=1,
           params=split_params),
    OpSpec("chunk", "chunk", (lambda x, chunks, dim: x.chunk(chunks, dim=dim),), S, min_dims=1,
           params=chunk_params),
    # ---- indexing
    OpSpec("index_basic", "__getitem__", (_index,), Kind.INDEX, min_dims=1, params=basic_indices),
    OpSpec("index_int_array", "__getitem__", (_index,), Kind.INDEX, min_dims=1, params=int_array_indices),
    OpSpec("index_bool_mask", "__getitem__", (_index,), Kind.INDEX, min_dims=1, params=bool_mask_indices),
    # ---- matmul
    OpSpec("matmul", "matmul", (lambda a, b: a @ b, lambda a, b: a.matmul(b), te.matmul), Kind.MATMUL, 2),
    # ---- differentiable ops beyond API.md's list (PyTorch has them; scripts use them)
    # a / b stays in (1, 2): floor(a / b) = 1 throughout, away from remainder's jumps
    OpSpec("remainder", "remainder", (lambda a, b: a % b,), B, 2, domain=(Domain(2.5, 3.9), Domain(2.0, 2.4))),
    OpSpec("square", "square", (lambda x: x.square(),), U),
    OpSpec("clone", "clone", (lambda x: x.clone(),), U),
    OpSpec("masked_fill", "masked_fill", (lambda x: x.masked_fill(x > 0.5, 0.25),), U,
           domain=Domain(-2.0, 2.0, avoid=(0.5,))),
    OpSpec("amax", "amax", _reduce("amax"), R, domain=DISTINCT, params=dim_keepdim(allow_none=False)),
    OpSpec("amin", "amin", _reduce("amin"), R, domain=DISTINCT, params=dim_keepdim(allow_none=False)),
    OpSpec("gather", "gather", (lambda x, dim, index: x.gather(dim, te.tensor(index)),), S, min_dims=1,
           params=gather_params),
    OpSpec("setitem", "__setitem__", (_set_item,), U, min_dims=1),
    OpSpec("copy_", "copy_", (_overwrite("copy_"),), B, 2),
    OpSpec("fill_", "fill_", (_overwrite("fill_"),), B, 2),
)

SPECS_BY_NAME: dict[str, OpSpec] = {spec.name: spec for spec in OP_TABLE}
