"""The PyTorch-script compatibility layer checked without PyTorch (NumPy formulas, central
differences, exact strings); its PyTorch parity is in ``test_torch_parity_compat.py``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import tinygrad_edu as te
import tinygrad_edu.nn.functional as F  # noqa: N812 - PyTorch's customary name
from tinygrad_edu import nn
from tinygrad_edu.autograd import gradcheck

INF = math.inf
NORM_ORDERS = [2, "fro", 1, 3, INF, -INF, 0]


def leaf(values: Any, dtype: Any = te.float64) -> te.Tensor:
    return te.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def values(tensor: te.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


@pytest.mark.parametrize("spec, index, representation",
                         [("cuda", None, "device(type='cuda')"), ("cuda:1", 1, "device(type='cuda', index=1)")])
def test_cuda_device_can_be_named(spec: str, index: int | None, representation: str) -> None:
    where = te.device(spec)
    assert (where.type, where.index, str(where), repr(where)) == ("cuda", index, spec, representation)
    assert where == spec and te.device(where) == where


USES_OF_CUDA = {
    "zeros": lambda: te.zeros(2, device="cuda"), "tensor": lambda: te.tensor([1.0, 2.0], device="cuda"),
    "Tensor": lambda: te.Tensor([1.0], device=te.device("cuda:0")), "to": lambda: te.ones(2).to("cuda"),
    "cuda()": lambda: te.ones(2).cuda(), "Linear": lambda: nn.Linear(2, 2, device="cuda"),
    "module.to": lambda: nn.Linear(2, 2).to(te.device("cuda")), "load": "load",
}


@pytest.mark.parametrize("use", USES_OF_CUDA.values(), ids=list(USES_OF_CUDA))
def test_putting_anything_on_cuda_says_what_is_missing(use: Any, tmp_path: Any, without_cupy: None) -> None:
    te.save({"w": te.ones(2)}, tmp_path / "state.pt")
    with pytest.raises(RuntimeError) as raised:
        use() if callable(use) else te.load(tmp_path / "state.pt", map_location="cuda")
    message = str(raised.value)
    assert "cuda" in message and "not available" in message
    assert "CuPy" in message or "GPU backend" in message, message


def test_cpu_only_answers_cudnn_flags_and_determinism(without_cupy: None) -> None:
    assert te.zeros(2, device="cpu").device == "cpu" and te.ones(2).to(te.device("cpu")).device == te.device("cpu")
    assert nn.Linear(2, 2, device="cpu").to("cpu").weight.device == "cpu"
    assert te.ones(2).is_cuda is False and nn.Linear(2, 2).weight.is_cuda is False
    assert te.cuda.is_available() is False and te.cuda.device_count() == 0
    assert te.cuda.manual_seed(0) is None and te.cuda.manual_seed_all(0) is None
    assert te.device("cuda" if te.cuda.is_available() else "cpu") == "cpu"  # the common idiom
    cudnn = te.backends.cudnn
    before = (cudnn.deterministic, cudnn.benchmark, te.are_deterministic_algorithms_enabled())
    try:
        cudnn.deterministic, cudnn.benchmark = True, False
        assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
        te.use_deterministic_algorithms(True)
        te.use_deterministic_algorithms(True, warn_only=True)
        assert te.are_deterministic_algorithms_enabled() is True
    finally:
        cudnn.deterministic, cudnn.benchmark = before[:2]
        te.use_deterministic_algorithms(before[2])


def test_inference_mode_as_context_manager_and_decorators() -> None:
    x = te.ones(2, requires_grad=True)
    with te.inference_mode():
        assert not te.is_grad_enabled() and not (x * 2).requires_grad
    assert te.is_grad_enabled()

    called = te.inference_mode()(lambda t: t * 2)

    @te.inference_mode
    def bare(t: te.Tensor) -> te.Tensor:
        """Docstring kept."""
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad and te.is_grad_enabled()
    assert bare.__name__ == "bare" and bare.__doc__ == "Docstring kept."
    with te.inference_mode(False):
        assert (x * 2).requires_grad
    with te.no_grad(), te.inference_mode(False):
        assert not te.is_grad_enabled()  # False leaves the mode as it is, like PyTorch
    assert te.autograd.inference_mode is te.inference_mode


def test_grad_only_inputs_and_materialize_grads() -> None:
    a, unused = leaf([1.0, 2.0]), leaf([[3.0]])
    (only,) = te.autograd.grad((a * a).sum(), a, only_inputs=True)
    ga, gu = te.autograd.grad((a * a).sum(), [a, unused], materialize_grads=True)  # zeros for the unused one
    np.testing.assert_array_equal([values(only), values(ga)], [[2.0, 4.0]] * 2)
    assert gu is not None and gu.shape == (1, 1) and gu.dtype == te.float64
    np.testing.assert_array_equal(values(gu), [[0.0]])
    assert te.autograd.grad((a * a).sum(), [a, unused], allow_unused=True)[1] is None
    with pytest.raises(ValueError, match="allow_unused"):
        te.autograd.grad((a * a).sum(), [a, unused], allow_unused=False, materialize_grads=True)


def numpy_norm(array: np.ndarray, p: Any, dim: Any, keepdim: bool) -> np.ndarray:
    magnitude, where = np.abs(array), {"axis": dim, "keepdims": keepdim}
    if p in (INF, -INF):
        return (np.max if p > 0 else np.min)(magnitude, **where)
    if p == 0:
        return np.sum(array != 0, **where).astype(array.dtype)
    power = 2 if p == "fro" else p
    return np.sum(magnitude**power, **where) ** (1.0 / power)


NORM_ENTRY_POINTS = {
    "Tensor.norm": lambda x, p, dim, keepdim: x.norm(p, dim=dim, keepdim=keepdim),
    "norm": lambda x, p, dim, keepdim: te.norm(x, p, dim, keepdim),
    "linalg.vector_norm": lambda x, p, dim, keepdim: te.linalg.vector_norm(x, p, dim=dim, keepdim=keepdim),
    "linalg.norm": lambda x, p, dim, keepdim: te.linalg.norm(x, p, dim=dim, keepdim=keepdim),
}


NORM_ARRAY = np.random.default_rng(3).uniform(-2.0, 2.0, size=(3, 4)) * (np.arange(12).reshape(3, 4) % 5 != 0)


# Left out: 'fro' for the linalg functions (a matrix-norm ord), and linalg.norm of a 2-D input over
# both dims, which is a matrix norm in PyTorch (see test_torch_parity_compat.py).
NORM_CASES = [pytest.param(entry, p, dim, keepdim, id=f"{entry}-{p}-{dim}-{keepdim}")
              for entry in NORM_ENTRY_POINTS for p in NORM_ORDERS
              for dim, keepdim in [(None, False), (None, True), (1, False), (-2, True), ((0, 1), False)]
              if not ("linalg" in entry and p == "fro") and (entry != "linalg.norm" or isinstance(dim, int))]


@pytest.mark.parametrize("entry, p, dim, keepdim", NORM_CASES)
def test_norm_values_match_numpy(entry: str, p: Any, dim: Any, keepdim: bool) -> None:
    for dtype in (te.float32, te.float64):
        x = te.tensor(NORM_ARRAY, dtype=dtype)  # with zeros, for p=0
        result = NORM_ENTRY_POINTS[entry](x, p, dim, keepdim)
        expected = numpy_norm(x.numpy(), p, dim, keepdim)
        assert result.dtype == dtype and result.shape == expected.shape, (result.shape, expected.shape)
        np.testing.assert_allclose(values(result), expected, rtol=1e-5 if dtype == te.float32 else 1e-12)


def test_norm_defaults_to_the_two_norm_and_propagates_nan() -> None:
    x = te.tensor(NORM_ARRAY, dtype=te.float64)
    two = math.sqrt(float(np.sum(x.numpy() ** 2)))
    for result in (x.norm(), te.norm(x), te.linalg.vector_norm(x), te.linalg.norm(x)):
        assert result.shape == () and math.isclose(result.item(), two, rel_tol=1e-12)
    for p in (2, 1, 3, INF):
        assert math.isnan(te.tensor([3.0, math.nan]).norm(p).item()), p


@pytest.mark.parametrize("p", [2, "fro", 1, 3, 1.5, INF, -INF], ids=str)
@pytest.mark.parametrize("dim", [None, 1, (0, 1)], ids=str)
def test_norm_gradients_by_central_differences(p: Any, dim: Any) -> None:
    rng = np.random.default_rng(4)
    array = rng.uniform(0.3, 1.5, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))  # away from 0, no ties
    assert gradcheck(lambda t: t.norm(p, dim=dim), (leaf(array),))
    assert gradcheck(lambda t: te.linalg.vector_norm(t, 2 if p == "fro" else p, dim=dim, keepdim=True), (leaf(array),))


@pytest.mark.parametrize("p", NORM_ORDERS + [0.5], ids=str)
def test_norm_gradient_at_zero_is_zero_not_nan(p: Any) -> None:
    x = leaf(np.zeros(4))
    result = x.norm(p)
    assert result.item() == 0.0 and result.requires_grad  # PyTorch: a grad_fn even for p=0
    result.backward()
    assert x.grad is None or np.array_equal(values(x.grad), np.zeros(4))  # PyTorch leaves None for p=0
    rows = leaf([[0.0, 0.0], [3.0, -4.0]])
    (grad,) = te.autograd.grad(rows.norm(p, dim=1).sum(), rows, allow_unused=True, materialize_grads=True)
    assert not np.isnan(values(grad)).any()
    np.testing.assert_array_equal(values(grad)[0], [0.0, 0.0])


def params_with_grads(*grads: Any) -> list[nn.Parameter]:
    params = [nn.Parameter(te.zeros(*np.shape(grad))) for grad in grads]
    for param, grad in zip(params, grads):
        param.grad = te.tensor(grad)
    return params


def test_clip_grad_norm_scales_only_above_max_norm() -> None:
    params = params_with_grads([3.0, 4.0], [[0.0, 12.0]])  # total 2-norm 13
    grads_before = [p.grad for p in params]
    total = nn.utils.clip_grad_norm_(params, max_norm=20.0)
    assert isinstance(total, te.Tensor) and total.shape == () and math.isclose(total.item(), 13.0, rel_tol=1e-6)
    np.testing.assert_array_equal(values(params[0].grad), [3.0, 4.0])
    total = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert math.isclose(total.item(), 13.0, rel_tol=1e-6)  # the norm before clipping
    assert all(p.grad is g for p, g in zip(params, grads_before))  # in place
    scale = 1.0 / (13.0 + 1e-6)
    np.testing.assert_allclose(values(params[0].grad), [3.0 * scale, 4.0 * scale], rtol=1e-6)
    np.testing.assert_allclose(values(params[1].grad), [[0.0, 12.0 * scale]], rtol=1e-6)
    (param,) = params_with_grads([0.0, 10.0])  # one tensor; parameters without .grad are skipped
    no_grad_yet = nn.Parameter(te.ones(3))
    assert math.isclose(nn.utils.clip_grad_norm_(param, 5.0).item(), 10.0)
    assert math.isclose(nn.utils.clip_grad_norm_([param, no_grad_yet], 5.0).item(), 5.0, rel_tol=1e-6)
    assert no_grad_yet.grad is None


@pytest.mark.parametrize("norm_type, expected", [(1, 19.0), (INF, 12.0), (3.0, (27 + 64 + 1728) ** (1 / 3))])
def test_clip_grad_norm_other_orders(norm_type: Any, expected: float) -> None:
    params = params_with_grads([3.0, -4.0], [[0.0, 12.0]])
    total = nn.utils.clip_grad_norm_(params, 6.0, norm_type=norm_type)
    assert math.isclose(total.item(), expected, rel_tol=1e-6)
    np.testing.assert_allclose(values(params[0].grad), np.array([3.0, -4.0]) * 6.0 / (expected + 1e-6), rtol=1e-6)


@pytest.mark.parametrize("bad", [math.inf, math.nan], ids=["inf", "nan"])
def test_clip_grad_norm_error_if_nonfinite(bad: float) -> None:
    (param,) = params_with_grads([1.0, bad])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(param, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_parameter_vectors() -> None:
    (param,) = params_with_grads([-7.0, 0.5, 9.0])
    grad = param.grad
    assert nn.utils.clip_grad_value_([param], clip_value=2.0) is None and param.grad is grad  # in place
    np.testing.assert_array_equal(values(param.grad), [-2.0, 0.5, 2.0])
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    params = list(model.parameters())
    vector = nn.utils.parameters_to_vector(model.parameters())
    assert vector.shape == (11,)
    np.testing.assert_array_equal(values(vector), np.concatenate([values(p).ravel() for p in params]))
    nn.utils.vector_to_parameters(te.arange(11, dtype=te.float32), model.parameters())
    assert all(a is b for a, b in zip(model.parameters(), params))  # the same Parameter objects
    np.testing.assert_array_equal(values(model[0].weight), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(values(model[1].bias), [10.0])
    assert all(p.requires_grad and p.is_leaf for p in model.parameters())
    np.testing.assert_array_equal(values(nn.utils.parameters_to_vector(model.parameters())), np.arange(11.0))
    with pytest.raises(RuntimeError):
        nn.utils.vector_to_parameters(te.zeros(10), model.parameters())


X = np.random.default_rng(5).uniform(-2.0, 2.0, size=(2, 3, 4))
INDEX, OTHER = te.tensor([[[3, 0]] * 3] * 2), te.tensor(X[0, 0] * 0.5)
FUNCTION_CALLS: dict[str, tuple[Any, tuple[Any, ...], dict[str, Any]]] = {  # name: (input prep, args, kwargs)
    "flatten": (None, (1,), {}), "reshape": (None, ((4, -1),), {}), "squeeze": (lambda x: x[:1], (0,), {}),
    "unsqueeze": (None, (-1,), {}), "transpose": (None, (0, 2), {}), "permute": (None, ((2, 0, 1),), {}),
    "t": (lambda x: x[0], (), {}), "square": (None, (), {}), "sign": (None, (), {}), "rsqrt": (abs, (), {}),
    "var": (None, (1,), {"keepdim": True}), "std": (None, (), {"correction": 0}), "prod": (None, (2,), {}),
    "chunk": (None, (2, 2), {}), "split": (None, ([1, 3], 2), {}), "gather": (None, (2, INDEX), {}),
    "add": (None, (2.0,), {"alpha": 3}), "sub": (None, (OTHER,), {"alpha": 0.5}), "mul": (None, (OTHER,), {}),
    "div": (None, (3.0,), {}), "neg": (None, (), {}), "isnan": (lambda x: x.log(), (), {}),
    "isinf": (lambda x: 1 / (x * 0), (), {}), "isfinite": (lambda x: x.log(), (), {}),
    "all": (lambda x: x > -1, (1,), {"keepdim": True}), "any": (lambda x: x > 1.5, (), {}),
    "amax": (None, ((0, 2),), {}), "amin": (None, (1,), {"keepdim": True}), "clone": (None, (), {}),
}


@pytest.mark.parametrize("name", FUNCTION_CALLS)
def test_top_level_function_equals_method(name: str) -> None:
    prep, args, kwargs = FUNCTION_CALLS[name]
    prep = prep or (lambda x: x)
    with np.errstate(all="ignore"):
        got = getattr(te, name)(prep(leaf(X)), *args, **kwargs)
        want = getattr(prep(leaf(X)), name)(*args, **kwargs)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert (a.shape, a.dtype, a.requires_grad) == (b.shape, b.dtype, b.requires_grad)
        np.testing.assert_array_equal(values(a), values(b))
    assert name in te.__all__


def test_cat_still_refuses_mismatched_shapes() -> None:
    assert te.cat([te.zeros(2, 3), te.ones(1, 3)]).shape == (3, 3)
    assert te.cat([te.zeros(2, 3), te.ones(2, 1)], dim=1).shape == (2, 4)
    for other in (te.zeros(3, 2), te.zeros(2, 3, 1), te.zeros(2, 4)):
        with pytest.raises(RuntimeError, match="cat"):
            te.cat([te.zeros(2, 3), other], dim=0)


def test_silu_values_and_gradients() -> None:
    array = np.array([-30.0, -2.5, -0.3, 0.0, 0.7, 4.0, 30.0])
    expected = array / (1.0 + np.exp(-array))
    np.testing.assert_allclose(values(F.silu(leaf(array))), expected, rtol=1e-12)
    np.testing.assert_allclose(values(nn.SiLU()(leaf(array))), expected, rtol=1e-12)
    assert repr(nn.SiLU()) == "SiLU()" and repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
    assert gradcheck(F.silu, (leaf(array[1:-1]),))
    big = leaf([-1000.0, 1000.0])
    F.silu(big).sum().backward()  # no overflow into NaN far from 0
    assert np.isfinite(values(big.grad)).all()


def test_from_numpy_integer_widths_copy_float16_refused_float32_shared() -> None:
    for dtype in (np.uint8, np.int32, np.int16):
        source = np.arange(6, dtype=dtype).reshape(2, 3)
        tensor = te.from_numpy(source)
        assert tensor.dtype == te.int64 and tensor.shape == (2, 3), dtype
        source[0, 0] = 9  # a copy: the tensor keeps the old values
        np.testing.assert_array_equal(tensor.numpy(), np.arange(6).reshape(2, 3))
    with pytest.raises(TypeError, match="float16"):
        te.from_numpy(np.ones(2, dtype=np.float16))
    shared = np.ones(3, dtype=np.float32)
    tensor = te.from_numpy(shared)
    shared[0] = 5.0
    assert tensor.dtype == te.float32 and tensor.tolist() == [5.0, 1.0, 1.0]


@pytest.mark.parametrize("call", [lambda a, b: a @ b, te.matmul, te.mm, lambda a, b: a.matmul(b)])
def test_matmul_of_mixed_float_dtypes_is_refused(call: Any) -> None:
    single, double = te.ones(2, 2), te.ones(2, 2, dtype=te.float64)
    for a, b in ((single, double), (double, single)):
        with pytest.raises(RuntimeError) as raised:
            call(a, b)
        assert "float32" in str(raised.value) and "float64" in str(raised.value)
    assert call(double, double).dtype == te.float64


@pytest.mark.parametrize("make, expected", [  # PyTorch's strings
    (lambda: te.tensor(1e10), "tensor(1.0000e+10)"),
    (lambda: te.tensor([1.5e6, 2e6]), "tensor([1500000., 2000000.])"),
    (lambda: te.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: te.tensor([0.5, 1000.0]), "tensor([5.0000e-01, 1.0000e+03])"),
    (lambda: te.tensor([1.0, 999.0]), "tensor([  1., 999.])"),
    (lambda: te.tensor([0.25, 1.5]), "tensor([0.2500, 1.5000])"),
    (lambda: te.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: te.zeros(0), "tensor([])"),
    (lambda: te.zeros(2, 0, dtype=te.float64), "tensor([], size=(2, 0), dtype=tinygrad_edu.float64)"),
])
def test_repr_formats(make: Any, expected: str) -> None:
    assert repr(make()) == expected


def test_manual_seed_returns_the_global_generator() -> None:
    generator = te.manual_seed(0)
    assert isinstance(generator, te.Generator) and generator.initial_seed() == 0
    first, _ = te.rand(3, generator=generator), te.manual_seed(0)
    np.testing.assert_array_equal(values(te.rand(3)), values(first))
    generator.manual_seed(7)  # as torch.default_generator: re-seeds the global stream
    drawn, _ = te.rand(3), te.manual_seed(7)
    np.testing.assert_array_equal(values(drawn), values(te.rand(3)))


def test_load_state_dict_result_prints_and_legacy_constructor_is_refused(capsys: Any) -> None:
    model = nn.Linear(2, 2)
    print(model.load_state_dict(model.state_dict()))
    assert capsys.readouterr().out == "<All keys matched successfully>\n"
    result = model.load_state_dict({"weight": te.zeros(2, 2)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == []
    assert "missing_keys=['bias']" in repr(result)
    with pytest.raises(TypeError) as raised:
        te.Tensor(2, 3)
    assert "empty" in str(raised.value) or "zeros" in str(raised.value)
    assert te.Tensor([1.0], True).requires_grad  # requires_grad may still be positional


def test_comparison_functions_equal_the_operators() -> None:
    a, b = te.tensor([1.0, 5.0, 3.0]), te.tensor([2.0, 5.0, 1.0])
    for function, expected in [(te.eq, a == b), (te.ne, a != b), (te.lt, a < b), (te.le, a <= b), (te.gt, a > b),
                               (te.ge, a >= b)]:
        assert function(a, b).tolist() == expected.tolist()


def test_out_argument_writes_into_the_given_tensor() -> None:
    x = te.tensor([[1.0, 2.0], [3.0, 4.0]])
    same_shape, other_shape = te.zeros(2, 2), te.zeros(5)
    assert te.matmul(x, x.T, out=same_shape) is same_shape
    assert same_shape.tolist() == [[5.0, 11.0], [11.0, 25.0]]
    assert te.mul(x, 2.0, out=other_shape) is other_shape and other_shape.shape == (2, 2)  # resized, as PyTorch
    view = same_shape.data
    te.add(x, 1.0, out=same_shape)
    assert view.tolist() == [[2.0, 3.0], [4.0, 5.0]]  # written in place
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        te.sub(te.ones(2, requires_grad=True), 1.0, out=te.zeros(2))
