"""Tensor creation, dtypes and promotion, conversions, repr, indexing and joining/splitting."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_edu as te


def values(t: Any) -> np.ndarray:
    return t.detach().numpy()


# --------------------------------------------------------------------------- creation

@pytest.mark.parametrize("make", [te.zeros, te.ones, te.empty, te.rand, te.randn])
def test_shape_as_varargs_tuple_or_list(make: Callable[..., Any]) -> None:
    assert tuple(make(2, 3).shape) == (2, 3)
    assert tuple(make((2, 3)).shape) == (2, 3)
    assert tuple(make([2, 3]).shape) == (2, 3)
    assert tuple(make(4).shape) == (4,)
    assert make(2, 3).dtype == te.float32
    assert make(2, dtype=te.float64).dtype == te.float64


@pytest.mark.parametrize("make", [te.zeros, te.ones, te.empty, te.rand, te.randn])
def test_shape_as_size_keyword(make: Callable[..., Any]) -> None:
    assert tuple(make(size=(2, 3)).shape) == (2, 3)


def test_zeros_ones_full_values() -> None:
    np.testing.assert_array_equal(te.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(te.ones(3).numpy(), np.ones(3))
    full = te.full((2, 3), 7.5)
    np.testing.assert_array_equal(full.numpy(), np.full((2, 3), 7.5))
    assert full.dtype == te.float32
    assert te.full((2,), 3).dtype == te.int64
    assert te.zeros(()).shape == ()


def test_creation_with_requires_grad() -> None:
    for t in (te.zeros(2, requires_grad=True), te.ones(2, 2, requires_grad=True),
              te.randn(3, requires_grad=True), te.full((2,), 1.0, requires_grad=True)):
        assert t.requires_grad and t.is_leaf and t.grad is None


def test_arange() -> None:
    ints = te.arange(5)
    assert ints.dtype == te.int64
    np.testing.assert_array_equal(ints.numpy(), np.arange(5))
    np.testing.assert_array_equal(te.arange(2, 11, 3).numpy(), [2, 5, 8])
    floats = te.arange(0, 1, 0.25)
    assert floats.dtype == te.float32
    np.testing.assert_allclose(floats.numpy(), [0.0, 0.25, 0.5, 0.75])
    assert te.arange(5, dtype=te.float64).dtype == te.float64


def test_linspace_and_eye() -> None:
    lin = te.linspace(0, 1, 5)
    assert lin.dtype == te.float32
    np.testing.assert_allclose(lin.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(te.linspace(-1, 1, steps=3).numpy(), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(te.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(te.eye(2, 3).numpy(), np.eye(2, 3))
    assert te.eye(2).dtype == te.float32


def test_random_ranges_and_dtypes() -> None:
    te.manual_seed(1)
    uniform = te.rand(10_000).numpy()
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert abs(uniform.mean() - 0.5) < 0.02
    normal = te.randn(10_000).numpy()
    assert abs(normal.mean()) < 0.05 and abs(normal.std() - 1.0) < 0.05
    ints = te.randint(3, 7, (1000,))
    assert ints.dtype == te.int64 and tuple(ints.shape) == (1000,)
    assert set(np.unique(ints.numpy())) == {3, 4, 5, 6}
    from_zero = te.randint(4, (2, 50)).numpy()
    assert from_zero.shape == (2, 50) and from_zero.min() >= 0 and from_zero.max() < 4


def test_manual_seed_reproducible() -> None:
    def draw() -> list[np.ndarray]:
        return [te.rand(5).numpy(), te.randn(2, 2).numpy(), te.randint(0, 100, (4,)).numpy()]

    te.manual_seed(42)
    first = draw()
    te.manual_seed(42)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    te.manual_seed(43)
    assert not np.array_equal(te.rand(5).numpy(), first[0])


def test_like_functions() -> None:
    base = te.ones(2, 3, dtype=te.float64)
    for made in (te.zeros_like(base), te.ones_like(base), te.full_like(base, 2.0),
                 te.rand_like(base), te.randn_like(base)):
        assert tuple(made.shape) == (2, 3) and made.dtype == te.float64
    np.testing.assert_array_equal(te.zeros_like(base).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(te.full_like(base, 2.0).numpy(), np.full((2, 3), 2.0))
    ints = te.tensor([[1, 2]])
    assert te.zeros_like(ints).dtype == te.int64
    assert te.ones_like(ints, dtype=te.float32).dtype == te.float32
    assert te.zeros_like(base, requires_grad=True).requires_grad


# --------------------------------------------------------------------------- dtypes

def test_inferred_dtypes() -> None:
    assert te.tensor(1).dtype == te.int64
    assert te.tensor(1.5).dtype == te.float32
    assert te.tensor(True).dtype == te.bool
    assert te.tensor([1, 2.5]).dtype == te.float32
    assert te.tensor([[1, 2], [3, 4]]).dtype == te.int64
    assert te.tensor(np.array([1.0])).dtype == te.float64
    assert te.tensor(np.array([1.0], dtype=np.float32)).dtype == te.float32
    assert te.tensor(np.array([1, 2])).dtype == te.int64
    assert te.Tensor([1.0, 2.0]).dtype == te.float32
    assert te.tensor([1, 2], dtype=te.float64).dtype == te.float64
    assert te.float == te.float32 and te.double == te.float64 and te.long == te.int64


def test_from_numpy_keeps_dtype_and_shares_memory() -> None:
    array = np.array([1.0, 2.0])
    t = te.from_numpy(array)
    assert t.dtype == te.float64
    array[0] = 9.0
    assert t.numpy()[0] == 9.0


PROMOTIONS: list[tuple[str, Callable[[], Any], Any]] = [
    ("int+float_scalar", lambda: te.tensor([1, 2]) + 2.5, te.float32),
    ("int+int_scalar", lambda: te.tensor([1, 2]) + 2, te.int64),
    ("int/int_scalar", lambda: te.tensor([1, 2]) / 2, te.float32),
    ("float32+float64", lambda: te.ones(2) + te.ones(2, dtype=te.float64), te.float64),
    ("float32+0d_float64", lambda: te.ones(2) + te.tensor(2.0, dtype=te.float64), te.float32),
    ("int+float32", lambda: te.tensor([1, 2]) + te.ones(2), te.float32),
    ("int+0d_float64", lambda: te.tensor([1, 2]) + te.tensor(1.5, dtype=te.float64), te.float64),
    ("float32*py_float", lambda: te.ones(2) * 1e-3, te.float32),
    ("float64*py_float", lambda: te.ones(2, dtype=te.float64) * 2.0, te.float64),
    ("bool+int", lambda: te.tensor([True, False]) + 1, te.int64),
    ("float32+np_float64", lambda: te.ones(2) + np.array([1.0, 2.0]), te.float64),
    ("float32+np_scalar", lambda: te.ones(2) + np.float64(2.5), te.float32),
    ("int**2", lambda: te.tensor([1, 2]) ** 2, te.int64),
    ("int**float", lambda: te.tensor([1, 2]) ** -1.0, te.float32),
]


@pytest.mark.parametrize("name, make, dtype", PROMOTIONS, ids=[p[0] for p in PROMOTIONS])
def test_type_promotion(name: str, make: Callable[[], Any], dtype: Any) -> None:
    assert make().dtype == dtype


def test_integer_true_division_values() -> None:
    np.testing.assert_allclose((te.tensor([1, 3]) / 2).numpy(), [0.5, 1.5])


OPERATORS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b), ("lt", lambda a, b: a < b),
    ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b),
    ("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b),
]


@pytest.mark.parametrize("name, op", OPERATORS, ids=[o[0] for o in OPERATORS])
@pytest.mark.parametrize("other", [2.0, 2, np.array([2.0, 0.5, 3.0])], ids=["float", "int", "ndarray"])
def test_operators_with_numbers_and_arrays_on_either_side(
    name: str, op: Callable[[Any, Any], Any], other: Any
) -> None:
    base = np.array([1.0, 2.0, 4.0])
    t = te.tensor(base, dtype=te.float64)
    for result, expected in ((op(t, other), op(base, other)), (op(other, t), op(other, base))):
        assert isinstance(result, te.Tensor)
        np.testing.assert_allclose(result.numpy(), expected)
    if name in ("lt", "le", "gt", "ge", "eq", "ne"):
        assert op(t, other).dtype == te.bool and op(other, t).dtype == te.bool


def test_matmul_with_numpy_on_either_side() -> None:
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    left = te.tensor(a) @ b
    right = a @ te.tensor(b)
    assert isinstance(left, te.Tensor) and isinstance(right, te.Tensor)
    np.testing.assert_allclose(left.numpy(), a @ b)
    np.testing.assert_allclose(right.numpy(), a @ b)


def test_reflected_ops_with_grad() -> None:
    x = te.tensor([1.0, 2.0], dtype=te.float64, requires_grad=True)
    (2.0 - x + 1.0 / x + 2.0 ** x + np.array([3.0, 4.0]) * x).sum().backward()
    expected = -1.0 - 1.0 / np.array([1.0, 2.0]) ** 2 + np.log(2.0) * 2.0 ** np.array([1.0, 2.0]) \
        + np.array([3.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), expected)


# --------------------------------------------------------------------------- conversions

def test_item_tolist_numpy() -> None:
    assert te.tensor([3.5]).item() == 3.5 and isinstance(te.tensor(3.5).item(), float)
    assert isinstance(te.tensor(3).item(), int) and te.tensor(3).item() == 3
    assert te.tensor(True).item() is True
    nested = te.tensor([[1.0, 2.0], [3.0, 4.0]]).tolist()
    assert nested == [[1.0, 2.0], [3.0, 4.0]] and type(nested[0][0]) is float
    assert type(te.tensor([1, 2]).tolist()[0]) is int
    array = te.tensor([1.0, 2.0]).numpy()
    assert isinstance(array, np.ndarray) and array.dtype == np.float32
    assert np.asarray(te.tensor([1, 2])).dtype == np.int64


def test_shape_helpers() -> None:
    t = te.zeros(4, 2, 3)
    assert len(t) == 4
    assert tuple(t.size()) == (4, 2, 3) and t.size() == (4, 2, 3)
    assert t.size(1) == 2 and t.size(-1) == 3
    assert t.dim() == 3 and t.ndim == 3 and t.numel() == 24
    assert t.shape == (4, 2, 3)
    m = te.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(m.T.numpy(), np.array([[1, 4], [2, 5], [3, 6]]))
    assert te.tensor(5.0).dim() == 0 and te.tensor(5.0).numel() == 1


REPRS: list[tuple[Callable[[], Any], str]] = [  # the strings PyTorch 2.x prints
    (lambda: te.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: te.tensor([1.0, 2.0], requires_grad=True) * 2,
     "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    (lambda: te.tensor([1, 2]), "tensor([1, 2])"),
    (lambda: te.tensor(3.0), "tensor(3.)"),
    (lambda: te.tensor(3), "tensor(3)"),
    (lambda: te.tensor([True]), "tensor([True])"),
    (lambda: te.tensor([True, False]), "tensor([ True, False])"),
    (lambda: te.tensor([-1.5, 2.0]), "tensor([-1.5000,  2.0000])"),
    (lambda: te.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: te.tensor([1e-5, 1e5]), "tensor([1.0000e-05, 1.0000e+05])"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[expected for _, expected in REPRS])
def test_repr_like_pytorch(make: Callable[[], Any], expected: str) -> None:
    assert repr(make()) == expected


def test_repr_names_non_default_dtype() -> None:
    double = repr(te.tensor([1.5], dtype=te.float64))
    assert double.startswith("tensor([1.5000]") and "dtype=" in double and "float64" in double


# --------------------------------------------------------------------------- indexing

BASE = np.arange(24.0).reshape(2, 3, 4)

INDEXERS: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = [
    ("int", lambda t: t[1], lambda a: a[1]),
    ("negative_int", lambda t: t[-1, -2], lambda a: a[-1, -2]),
    ("ints_to_scalar", lambda t: t[1, 2, 3], lambda a: a[1, 2, 3]),
    ("slice_step", lambda t: t[:, ::2, 1:], lambda a: a[:, ::2, 1:]),
    ("negative_step_free", lambda t: t[:, -2:, :-1], lambda a: a[:, -2:, :-1]),
    ("slice_past_end", lambda t: t[:, 5:9], lambda a: a[:, 5:9]),
    ("none", lambda t: t[None, :, None], lambda a: a[None, :, None]),
    ("ellipsis", lambda t: t[..., 1], lambda a: a[..., 1]),
    ("ellipsis_none", lambda t: t[0, ..., None], lambda a: a[0, ..., None]),
    ("list", lambda t: t[[1, 0, 1]], lambda a: a[[1, 0, 1]]),
    ("empty_list", lambda t: t[[]], lambda a: a[np.array([], dtype=np.int64)]),
    ("negative_tensor_ints", lambda t: t[te.tensor([-1, -2])], lambda a: a[[-1, -2]]),
    ("numpy_ints", lambda t: t[:, np.array([2, 0])], lambda a: a[:, np.array([2, 0])]),
    ("tensor_ints", lambda t: t[:, :, te.tensor([3, 3, 0])], lambda a: a[:, :, [3, 3, 0]]),
    ("paired_lists", lambda t: t[[0, 1], [2, 0]], lambda a: a[[0, 1], [2, 0]]),
    ("list_and_slice", lambda t: t[[1, 0], 1:], lambda a: a[[1, 0], 1:]),
    ("separated_lists", lambda t: t[[0, 1], :, [1, 3]], lambda a: a[[0, 1], :, [1, 3]]),
    ("bool_mask_tensor", lambda t: t[t > 10], lambda a: a[a > 10]),
    ("bool_mask_numpy", lambda t: t[np.array([True, False])], lambda a: a[np.array([True, False])]),
    ("bool_mask_partial", lambda t: t[0, te.tensor([True, False, True])],
     lambda a: a[0, np.array([True, False, True])]),
]


@pytest.mark.parametrize("name, index_tensor, index_array", INDEXERS, ids=[i[0] for i in INDEXERS])
def test_indexing_values_match_numpy(
    name: str, index_tensor: Callable[[Any], Any], index_array: Callable[[Any], Any]
) -> None:
    result = index_tensor(te.tensor(BASE))
    expected = np.asarray(index_array(BASE))
    assert tuple(result.shape) == expected.shape
    np.testing.assert_array_equal(result.numpy(), expected)


def test_int_then_list_index_follows_pytorch_not_numpy() -> None:
    # PyTorch applies the int first (a select), so the list's dimension stays in place;
    # NumPy would move it to the front, giving shape (2, 3).
    result = te.tensor(BASE)[1, :, [1, 3]]
    np.testing.assert_array_equal(result.numpy(), [[13.0, 15.0], [17.0, 19.0], [21.0, 23.0]])


def test_repeated_integer_indices_accumulate_gradient() -> None:
    x = te.zeros(5, dtype=te.float64, requires_grad=True)
    weights = te.tensor([1.0, 2.0, 3.0, 4.0], dtype=te.float64)
    (x[[0, 0, 2, 0]] * weights).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0 + 2.0 + 4.0, 0.0, 3.0, 0.0, 0.0])


def test_repeated_index_pairs_accumulate_gradient_2d() -> None:
    x = te.zeros(2, 3, dtype=te.float64, requires_grad=True)
    x[te.tensor([1, 1, 0]), te.tensor([2, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])


def test_mask_and_slice_gradients() -> None:
    x = te.tensor([[1.0, -2.0], [-3.0, 4.0]], dtype=te.float64, requires_grad=True)
    (x[x > 0].sum() + x[:, 0].sum() * 10).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[11.0, 0.0], [10.0, 1.0]])


@given(st.integers(min_value=1, max_value=6), st.data())
def test_integer_index_gradient_counts(size: int, data: st.DataObject) -> None:
    picks = data.draw(st.lists(st.integers(min_value=-size, max_value=size - 1), max_size=10))
    x = te.zeros(size, dtype=te.float64, requires_grad=True)
    x[te.tensor(picks, dtype=te.int64)].sum().backward()
    expected = np.zeros(size)
    np.add.at(expected, np.array(picks, dtype=np.int64), 1.0)
    np.testing.assert_allclose(x.grad.numpy(), expected)


# --------------------------------------------------------------------------- join and split

def test_cat_and_stack_values_and_gradients() -> None:
    a = te.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = te.tensor(np.arange(3.0).reshape(1, 3), requires_grad=True)
    joined = te.cat([a, b], dim=0)
    np.testing.assert_array_equal(values(joined), np.concatenate([values(a), values(b)]))
    (joined * te.arange(9.0).reshape(3, 3)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(b.grad.numpy(), [[6.0, 7.0, 8.0]])
    c = te.ones(2, 3)
    np.testing.assert_array_equal(te.cat([c, c * 2], dim=-1).numpy(),
                                  np.concatenate([np.ones((2, 3)), 2 * np.ones((2, 3))], axis=-1))
    stacked = te.stack([c, c * 2], dim=1)
    assert tuple(stacked.shape) == (2, 2, 3)
    np.testing.assert_array_equal(stacked.numpy(), np.stack([np.ones((2, 3)), 2 * np.ones((2, 3))], 1))


def test_split_and_chunk() -> None:
    t = te.arange(10.0).reshape(5, 2)
    assert [tuple(p.shape) for p in t.split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [tuple(p.shape) for p in t.split([1, 4])] == [(1, 2), (4, 2)]
    assert [tuple(p.shape) for p in t.split(1, dim=1)] == [(5, 1), (5, 1)]
    np.testing.assert_array_equal(t.split([1, 4])[1].numpy(), np.arange(2.0, 10.0).reshape(4, 2))
    assert [p.numel() for p in te.ones(5).chunk(3)] == [2, 2, 1]
    assert [p.numel() for p in te.ones(6).chunk(4)] == [2, 2, 2]  # PyTorch gives fewer chunks
    x = te.arange(6.0, requires_grad=True)
    first, second = x.chunk(2)
    (first * 2 + second.sum()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0, 3.0, 3.0, 3.0])
    y = te.arange(6.0, requires_grad=True)
    (y.split([1, 5])[0] * 5).sum().backward()        # unused pieces get zero gradient
    np.testing.assert_array_equal(y.grad.numpy(), [5.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def test_max_min_with_dim_return_values_and_indices() -> None:
    data = np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 6.0]])
    t = te.tensor(data)
    max_values, max_indices = t.max(dim=1)
    np.testing.assert_array_equal(max_values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(max_indices.numpy(), [1, 0])
    assert max_indices.dtype == te.int64
    min_values, min_indices = te.min(t, dim=0, keepdim=True)
    assert tuple(min_values.shape) == (1, 3)
    np.testing.assert_array_equal(min_indices.numpy(), [[0, 1, 0]])
    assert t.max().item() == 7.0 and t.max().dim() == 0
    named = t.max(dim=1)
    np.testing.assert_array_equal(named.values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(named.indices.numpy(), [1, 0])


def test_max_with_dim_gradient_goes_to_argmax() -> None:
    x = te.tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 6.0]], dtype=te.float64, requires_grad=True)
    max_values, _ = x.max(dim=1)
    (max_values * te.tensor([1.0, 10.0], dtype=te.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0], [10.0, 0.0, 0.0]])
    tied = te.tensor([[2.0, 2.0]], requires_grad=True)
    tied_values, tied_index = tied.max(dim=1)
    tied_values.sum().backward()                     # all of it to the returned index
    assert tied_index.item() == 0
    np.testing.assert_array_equal(tied.grad.numpy(), [[1.0, 0.0]])


def test_randperm_is_a_seeded_permutation() -> None:
    te.manual_seed(3)
    first = te.randperm(10)
    te.manual_seed(3)
    second = te.randperm(10)
    assert first.dtype == te.int64
    assert sorted(first.tolist()) == list(range(10))
    assert first.tolist() == second.tolist()
    assert te.randperm(0).shape == (0,)


def test_integer_floor_division_and_remainder() -> None:
    numbers = te.tensor([7, -7, 9])
    assert (numbers // 2).tolist() == [3, -4, 4]
    assert (numbers % 4).tolist() == [3, 1, 1]
    assert (numbers // 2).dtype == te.int64
    with pytest.raises(RuntimeError, match="division by zero"):
        numbers // te.tensor([1, 0, 1])
