"""The CuPy test double (``fake_cupy.py``): it must refuse every host/device mix-up that real CuPy would
refuse (and a few that CuPy lets pass), and otherwise behave like CuPy, so that the ``"cuda"`` code paths of
the package can be tested on a machine without a GPU."""
from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import fake_cupy

IMPLICIT = "Implicit conversion to a NumPy array is not allowed"
HOST_ARRAY = re.escape("Unsupported type <class 'numpy.ndarray'>")


def _cupy_modules() -> dict[str, Any]:
    return {name: module for name, module in sys.modules.items() if name.partition(".")[0] in ("cupy", "cupyx")}


@pytest.fixture
def cp() -> Iterator[Any]:
    """The fake ``cupy`` module, installed for one test; ``sys.modules`` is restored afterwards."""
    before = _cupy_modules()
    cupy = fake_cupy.install()
    try:
        yield cupy
    finally:
        fake_cupy.uninstall()
        for name in set(_cupy_modules()) - set(before):
            del sys.modules[name]
        sys.modules.update(before)


# --------------------------------------------------------------------------- installation

def test_install_makes_the_modules_importable(cp: Any) -> None:
    import cupy
    import cupyx
    import cupyx.scipy.special
    from cupy.cuda import runtime
    from cupyx.scipy.special import erf

    assert cupy is cp and cupy.IS_FAKE is True
    assert cupyx.scipy.special.erf is erf and runtime is cp.cuda.runtime
    assert sys.modules["cupy.random"] is cp.random


def test_uninstall_leaves_sys_modules_as_it_was() -> None:
    before = dict(sys.modules)
    fake_cupy.install()
    fake_cupy.uninstall()
    assert not _cupy_modules()
    assert set(sys.modules) - set(before) == set()


# --------------------------------------------------------------------------- the strict errors

def test_implicit_conversion_to_numpy_is_refused_with_cupys_message(cp: Any) -> None:
    d = cp.asarray([1.0, 2.0])
    conversions = (np.asarray, np.array, np.asanyarray, np.ascontiguousarray, lambda a: a.__array__(),
                   lambda a: np.array([a, a]), lambda a: np.float32(a[0]))
    for convert in conversions:
        with pytest.raises(TypeError, match=IMPLICIT) as error:
            convert(d)
        assert str(error.value) == fake_cupy.IMPLICIT
    assert "`.get()`" in fake_cupy.IMPLICIT


@pytest.mark.parametrize("call", [
    lambda d: np.exp(d),
    lambda d: np.add(d, d),
    lambda d: np.concatenate([d, d]),
    lambda d: np.where(d > 0, d, 0.0),
    lambda d: np.sum(d),
    lambda d: np.stack([d]),
    lambda d: np.add.at(d, [0], 1.0),
    lambda d: np.maximum.reduce(d),
], ids=["exp", "add", "concatenate", "where", "sum", "stack", "add.at", "maximum.reduce"])
def test_numpy_functions_on_a_device_array_are_refused(cp: Any, call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError):
        call(cp.asarray([1.0, -2.0]))


@pytest.mark.parametrize("host", [np.ones(2), np.array(2.0), np.ones((1, 2), np.float32)], ids=["1-d", "0-d", "2-d"])
@pytest.mark.parametrize("call", [
    lambda cp, d, h: d + h,
    lambda cp, d, h: h + d,
    lambda cp, d, h: d * h,
    lambda cp, d, h: h - d,
    lambda cp, d, h: d > h,
    lambda cp, d, h: h == d,
    lambda cp, d, h: d @ h.reshape(-1)[:2],
    lambda cp, d, h: d.__iadd__(h),
    lambda cp, d, h: cp.add(d, h),
    lambda cp, d, h: cp.maximum(h, d),
    lambda cp, d, h: cp.concatenate([d, h.reshape(-1)]),
    lambda cp, d, h: cp.where(d > 0, h, d),
    lambda cp, d, h: d.clip(h, None),
], ids=["add", "radd", "mul", "rsub", "gt", "eq", "matmul", "iadd", "cp.add", "cp.maximum", "cp.concatenate",
        "cp.where", "method"])
def test_a_host_array_operand_is_refused(cp: Any, call: Callable[..., Any], host: np.ndarray) -> None:
    with pytest.raises(TypeError, match=HOST_ARRAY):
        call(cp, cp.asarray([1.0, 2.0]), host)


def test_in_place_operator_on_a_host_array_with_a_device_operand_is_refused(cp: Any) -> None:
    host = np.ones(2)
    with pytest.raises(TypeError):
        host += cp.ones(2)


@pytest.mark.parametrize("index", [np.array([0, 1]), np.array([True, False, True]), np.array(1),
                                   (np.array([0]), slice(None))], ids=["int", "bool", "0-d", "in-tuple"])
def test_a_host_array_as_index_is_refused(cp: Any, index: Any) -> None:
    d = cp.ones((3, 3))
    with pytest.raises(TypeError, match=HOST_ARRAY):
        d[index]
    with pytest.raises(TypeError, match=HOST_ARRAY):
        d[index] = 0.0


@pytest.mark.parametrize("value", [np.zeros(3), np.array(0.0)], ids=["1-d", "0-d"])
def test_a_host_array_as_assigned_value_is_refused(cp: Any, value: np.ndarray) -> None:
    d = cp.ones(3)
    with pytest.raises(TypeError, match=HOST_ARRAY):
        d[:] = value
    assert d.get().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("call", [
    lambda cp, d, out: cp.exp(d, out=out),
    lambda cp, d, out: cp.maximum(d, d, out=out),
    lambda cp, d, out: cp.sum(d, axis=0, out=out),
    lambda cp, d, out: d.sum(axis=0, out=out),
    lambda cp, d, out: cp.add.reduce(d, axis=0, out=out),
], ids=["exp", "maximum", "cp.sum", "method", "reduce"])
def test_a_host_out_array_is_refused(cp: Any, call: Callable[..., Any]) -> None:
    d = cp.ones(3)
    out = np.empty(3) if call(cp, d, None).ndim else np.empty(())
    with pytest.raises(TypeError, match=HOST_ARRAY):
        call(cp, d, out)


def test_a_cupy_function_refuses_host_arrays_but_the_converters_take_them(cp: Any) -> None:
    with pytest.raises(TypeError, match=HOST_ARRAY):
        cp.exp(np.ones(2))
    with pytest.raises(TypeError, match=HOST_ARRAY):
        cp.zeros_like(np.ones(2))
    for convert in (cp.asarray, cp.array, cp.ascontiguousarray):
        assert isinstance(convert(np.ones(2)), cp.ndarray)


def test_host_only_array_attributes_are_not_offered(cp: Any) -> None:
    d = cp.ones(2)
    for name in ("__array_interface__", "__array_struct__", "ctypes", "flat"):
        assert not hasattr(d, name)


# --------------------------------------------------------------------------- results stay on the device

def test_operators_take_device_arrays_and_scalars_and_give_device_arrays(cp: Any) -> None:
    d = cp.asarray([1.0, -2.0], dtype=cp.float32)
    results = [d + d, d * 2.0, 2.0 * d, d - 1, 1 - d, d / 2, d ** 2, d > 0, -d, abs(d), d @ d,
               d * np.float32(2), np.float32(2) * d, np.float64(1) < d, d // 1, d % 2]
    for result in results:
        assert isinstance(result, cp.ndarray) and not isinstance(result, np.ndarray)
    assert (d + d).get().tolist() == [2.0, -4.0]
    assert (np.float32(2) * d).dtype == np.float32
    assert (d @ d).ndim == 0 and float(d @ d) == 5.0


def test_in_place_operators_and_item_assignment_work_on_the_device(cp: Any) -> None:
    d = cp.zeros(4)
    same = d
    d += 1.0
    d *= cp.asarray(3.0)
    d[cp.asarray([0, 2])] = cp.asarray([5.0, 6.0])
    d[cp.asarray([False, True, False, False])] = 0.0
    d[3] = np.float64(7.0)
    d[[0]] = 1.0
    assert d is same and d.get().tolist() == [1.0, 0.0, 6.0, 7.0]


@pytest.mark.parametrize("method", [
    lambda cp, d: d.sum(axis=0), lambda cp, d: d.reshape(3, 2), lambda cp, d: d.astype(np.float64),
    lambda cp, d: d.T, lambda cp, d: d.copy(), lambda cp, d: d.max(axis=1, keepdims=True), lambda cp, d: d.ravel(),
    lambda cp, d: d[None, ..., 0], lambda cp, d: d[1], lambda cp, d: d[:, 1:], lambda cp, d: d[cp.asarray([1, 0])],
    lambda cp, d: d[d > 2], lambda cp, d: d[[0, 1], [2, 0]],
], ids=["sum", "reshape", "astype", "T", "copy", "max", "ravel", "newaxis-ellipsis", "int", "slice", "fancy",
        "mask", "list"])
def test_methods_and_indexing_give_device_arrays(cp: Any, method: Callable[..., Any]) -> None:
    assert isinstance(method(cp, cp.arange(6, dtype=cp.float32).reshape(2, 3)), cp.ndarray)


@pytest.mark.parametrize("reduce", [
    lambda cp, d: d.sum(), lambda cp, d: d.max(), lambda cp, d: d.mean(), lambda cp, d: d.argmax(),
    lambda cp, d: d.any(), lambda cp, d: cp.sum(d), lambda cp, d: cp.add.reduce(d.ravel()), lambda cp, d: d[0, 0],
    lambda cp, d: cp.linalg.norm(d),
], ids=["sum", "max", "mean", "argmax", "any", "cp.sum", "add.reduce", "element", "norm"])
def test_full_reductions_give_0d_device_arrays_not_numpy_scalars(cp: Any, reduce: Callable[..., Any]) -> None:
    result = reduce(cp, cp.arange(6.0).reshape(2, 3))
    assert isinstance(result, cp.ndarray) and result.ndim == 0
    assert not isinstance(result, np.generic)


def test_namespace_functions_give_device_arrays_and_tuples_of_them(cp: Any) -> None:
    a, b = cp.arange(3.0), cp.ones(3)
    for result in (cp.concatenate([a, b]), cp.stack((a, b)), cp.where(a > 0, a, 0.0), cp.zeros((2, 2)),
                   cp.exp(a), cp.maximum(a, b), cp.matmul(a, b), cp.einsum("i,i->", a, b), cp.zeros_like(a)):
        assert isinstance(result, cp.ndarray)
    rows, cols = cp.ix_(cp.arange(2), cp.arange(3))
    assert isinstance(rows, cp.ndarray) and rows.shape == (2, 1) and cols.shape == (1, 3)
    (nonzero,) = cp.nonzero(a)
    assert isinstance(nonzero, cp.ndarray) and nonzero.get().tolist() == [1, 2]
    assert all(isinstance(part, cp.ndarray) for part in cp.split(cp.arange(4), 2))


def test_out_arguments_are_filled_and_returned(cp: Any) -> None:
    a, b, c = cp.asarray([1.0, 5.0]), cp.asarray([3.0, 2.0]), cp.empty(2)
    assert cp.maximum(a, b, out=c) is c and c.get().tolist() == [3.0, 5.0]
    assert cp.exp(cp.zeros(2), out=c) is c and c.get().tolist() == [1.0, 1.0]
    assert cp.asarray(a) is a and a.astype(a.dtype, copy=False) is a


# --------------------------------------------------------------------------- transfers and conversions

@pytest.mark.parametrize("host", [[1, 2, 3], 2.5, np.arange(6, dtype=np.int16).reshape(2, 3),
                                  np.array(1.5, np.float32), np.float32(3)], ids=["list", "float", "ndarray", "0-d",
                                                                                  "numpy-scalar"])
def test_asarray_from_host_and_get_round_trip_values_and_dtype(cp: Any, host: Any) -> None:
    d = cp.asarray(host)
    back = d.get()
    expected = np.asarray(host)
    assert isinstance(d, cp.ndarray) and type(back) is np.ndarray
    assert back.dtype == expected.dtype and back.shape == expected.shape and np.array_equal(back, expected)
    assert cp.asarray(host, dtype=cp.float32).dtype == np.float32
    assert np.array_equal(cp.asnumpy(d), expected) and type(cp.asnumpy(d)) is np.ndarray


def test_asarray_copies_host_memory_and_get_copies_device_memory(cp: Any) -> None:
    host = np.zeros(3)
    d = cp.asarray(host)
    host[0] = 1.0
    back = d.get()
    back[1] = 1.0
    assert d.get().tolist() == [0.0, 0.0, 0.0]


def test_conversions_to_python_objects_are_allowed(cp: Any) -> None:
    d = cp.asarray([[1.5, 2.0]])
    assert d.tolist() == [[1.5, 2.0]] and d[0, 0].item() == 1.5
    assert float(d[0, 0]) == 1.5 and int(d[0, 1]) == 2 and bool(d[0, 0]) is True
    assert f"{d.sum():.1f}" == "3.5" and len(d) == 1 and d.shape == (1, 2) and d.dtype == np.float64


def test_types_constants_and_array_module(cp: Any) -> None:
    d = cp.ones(3)
    assert isinstance(d, cp.ndarray) and not isinstance(np.ones(3), cp.ndarray) and not isinstance(d, np.ndarray)
    assert cp.float32 is np.float32 and cp.dtype is np.dtype and cp.int64 is np.int64
    assert cp.inf == math.inf and cp.pi == math.pi and cp.newaxis is None
    assert cp.get_array_module(d) is cp and cp.get_array_module(np.ones(1), 1.0) is np
    assert cp.get_array_module(np.ones(1), d) is cp
    assert cp.shares_memory(d, d[1:]) and cp.may_share_memory(d, d.reshape(3, 1))
    assert not cp.shares_memory(d, d.copy())
    assert d.device.id == 0 and cp.add is cp.add


def test_float_errors_do_not_warn_as_on_a_gpu(cp: Any) -> None:
    zero = cp.asarray([0.0])
    assert math.isinf(float(cp.log(zero)[0])) and math.isinf(float((1.0 / zero)[0]))
    assert math.isinf(float(cp.exp(cp.asarray([1000.0], dtype=cp.float32))[0]))


# --------------------------------------------------------------------------- scatter and special functions

def test_add_at_and_scatter_add_accumulate_repeated_indices(cp: Any) -> None:
    a = cp.zeros(3, dtype=cp.float32)
    cp.add.at(a, cp.asarray([0, 0, 2]), cp.asarray([1.0, 2.0, 5.0], dtype=cp.float32))
    assert a.get().tolist() == [3.0, 0.0, 5.0]
    import cupyx
    b = cp.zeros((2, 2))
    cupyx.scatter_add(b, (cp.asarray([1, 1, 1]), cp.asarray([0, 0, 1])), 1.0)
    assert b.get().tolist() == [[0.0, 0.0], [2.0, 1.0]]
    with pytest.raises(TypeError, match=HOST_ARRAY):
        cupyx.scatter_add(b, np.array([0, 0]), 1.0)
    with pytest.raises(TypeError, match=HOST_ARRAY):
        cp.add.at(b, cp.asarray([0]), np.ones(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_matches_math_erf_and_keeps_the_dtype(cp: Any, dtype: Any) -> None:
    from cupyx.scipy.special import erf
    values = [-3.0, -0.5, 0.0, 0.25, 1.0, 2.5]
    result = erf(cp.asarray(values, dtype=dtype))
    assert isinstance(result, cp.ndarray) and result.dtype == dtype
    expected = np.asarray([math.erf(v) for v in np.asarray(values, dtype=dtype).tolist()], dtype=dtype)
    np.testing.assert_array_equal(result.get(), expected)
    with pytest.raises(TypeError, match=HOST_ARRAY):
        erf(np.ones(2, dtype=dtype))


# --------------------------------------------------------------------------- random numbers

@pytest.mark.parametrize("draw", [
    lambda rs, dt: rs.random_sample((2, 3), dtype=dt), lambda rs, dt: rs.rand(2, 3, dtype=dt),
    lambda rs, dt: rs.randn(2, 3, dtype=dt), lambda rs, dt: rs.standard_normal((2, 3), dtype=dt),
    lambda rs, dt: rs.uniform(-1.0, 1.0, (2, 3), dtype=dt), lambda rs, dt: rs.normal(0.0, 2.0, (2, 3), dtype=dt),
], ids=["random_sample", "rand", "randn", "standard_normal", "uniform", "normal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_state_is_reproducible_and_gives_the_dtype(cp: Any, draw: Callable[..., Any], dtype: Any) -> None:
    first, second = draw(cp.random.RandomState(7), dtype), draw(cp.random.RandomState(7), dtype)
    assert isinstance(first, cp.ndarray) and first.dtype == dtype and first.shape == (2, 3)
    assert np.array_equal(first.get(), second.get())
    assert not np.array_equal(first.get(), draw(cp.random.RandomState(8), dtype).get())


def test_random_state_integers_permutation_and_seed(cp: Any) -> None:
    rs = cp.random.RandomState(0)
    ints = rs.randint(0, 5, size=(10,), dtype=np.int32)
    assert isinstance(ints, cp.ndarray) and ints.dtype == np.int32 and 0 <= int(ints.min()) <= int(ints.max()) < 5
    perm = rs.permutation(6)
    assert isinstance(perm, cp.ndarray) and sorted(perm.tolist()) == list(range(6))
    rs.seed(3)
    again = rs.random_sample(4).get()
    rs.seed(3)
    assert np.array_equal(again, rs.random_sample(4).get())
    cp.random.seed(1)
    assert isinstance(cp.random.rand(2), cp.ndarray)


def test_default_rng(cp: Any) -> None:
    rng, same = cp.random.default_rng(5), cp.random.default_rng(5)
    for a, b in ((rng.random((3,), dtype=np.float32), same.random((3,), dtype=np.float32)),
                 (rng.standard_normal((3,), dtype=np.float64), same.standard_normal((3,), dtype=np.float64)),
                 (rng.integers(0, 10, size=(3,)), same.integers(0, 10, size=(3,)))):
        assert isinstance(a, cp.ndarray) and np.array_equal(a.get(), b.get())
    assert rng.random((3,), dtype=np.float32).dtype == np.float32


# --------------------------------------------------------------------------- the device

def test_one_device_and_its_context(cp: Any) -> None:
    assert cp.cuda.runtime.getDeviceCount() == 1 and cp.cuda.get_device_id() == 0
    with cp.cuda.Device(0) as device:
        assert device.id == 0
        device.synchronize()
    cp.cuda.Stream.null.synchronize()
    assert cp.cuda.Device() == cp.cuda.Device(0) == cp.ones(1).device


@pytest.mark.parametrize("use", [lambda d: d.__enter__(), lambda d: d.synchronize(), lambda d: d.use()],
                         ids=["with", "synchronize", "use"])
def test_a_missing_device_raises_cuda_runtime_error(cp: Any, use: Callable[[Any], Any]) -> None:
    assert issubclass(cp.cuda.runtime.CUDARuntimeError, Exception)
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
        use(cp.cuda.Device(1))
