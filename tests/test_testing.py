"""Tests of ``tinygrad_edu.testing``: the strategies draw what they promise, and
``assert_gradients_match`` passes correct ops and fails planted bugs with a clear message.
Also the example ``examples/gradcheck_experiment.py``, run small.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tinygrad_edu as te
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_edu.autograd import Function, engine
from tinygrad_edu.autograd.gradcheck import find_gradient_mismatch
from tinygrad_edu.testing import (
    GradientAssertionError,
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    dims,
    indices,
    matmul_shapes,
    shapes,
    tensors,
)

MODES = ["full", "random"]


# --------------------------------------------------------------------------- the strategies
@st.composite
def shape_bounds(draw: st.DrawFn) -> tuple[int, int, int, int]:
    min_dims = draw(st.integers(0, 3))
    min_side = draw(st.integers(1, 3))
    return min_dims, draw(st.integers(min_dims, 4)), min_side, draw(st.integers(min_side, 4))


@given(data=st.data())
def test_shapes_stay_within_bounds(data: st.DataObject) -> None:
    min_dims, max_dims, min_side, max_side = data.draw(shape_bounds())
    shape = data.draw(shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple) and min_dims <= len(shape) <= max_dims
    assert all(isinstance(side, int) and min_side <= side <= max_side for side in shape)


@given(count=st.integers(1, 4), data=st.data())
def test_broadcastable_shapes_broadcast(count: int, data: st.DataObject) -> None:
    drawn = data.draw(broadcastable_shapes(count, max_dims=3, max_side=3))
    assert len(drawn) == count and all(len(shape) <= 3 for shape in drawn)
    np.broadcast_shapes(*drawn)  # raises if they do not broadcast


@given(pair=matmul_shapes())
def test_matmul_shapes_multiply(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    np.matmul(np.zeros(pair[0]), np.zeros(pair[1]))


@given(shape=shapes(max_dims=4, max_side=3), data=st.data())
def test_dims_are_valid_for_the_shape(shape: tuple[int, ...], data: st.DataObject) -> None:
    dim = data.draw(dims(len(shape)))
    if not shape:  # a 0-d tensor takes dim 0 or -1 (PyTorch), NumPy takes no axis at all
        assert dim in (None, 0, -1)
        return
    as_tuple = (dim,) if isinstance(dim, int) else dim
    if as_tuple is not None:
        assert len({d % len(shape) for d in as_tuple}) == len(as_tuple), "dims must be distinct"
    np.sum(np.zeros(shape), axis=dim)  # raises for an invalid axis


@pytest.mark.parametrize("kind", ["basic", "integer", "boolean"])
@given(shape=shapes(max_dims=4, max_side=3), data=st.data())
def test_indices_are_valid_for_the_shape(kind: str, shape: tuple[int, ...], data: st.DataObject) -> None:
    if kind != "basic" and not shape:
        with pytest.raises(ValueError, match="0-d"):
            indices(shape, kinds=(kind,))
        return
    index = data.draw(indices(shape, kinds=(kind,)))
    parts = index if isinstance(index, tuple) else (index,)
    assert all(part is None or part is Ellipsis or isinstance(part, (int, slice, np.ndarray)) for part in parts)
    np.zeros(shape)[index]  # raises for an invalid index


@given(shape=shapes(max_dims=3), data=st.data())
def test_arrays_are_numpy_within_bounds_and_away_from_kinks(shape: tuple[int, ...], data: st.DataObject) -> None:
    values = data.draw(arrays(shape, low=-1.0, high=3.0, avoid=(0.0, 1.0), margin=0.1))
    assert type(values) is np.ndarray and values.shape == shape and values.dtype == np.float64
    assert np.all((values >= -1.0) & (values <= 3.0))
    assert np.all(np.abs(values) >= 0.1 - 1e-12) and np.all(np.abs(values - 1.0) >= 0.1 - 1e-12)
    distinct = data.draw(arrays(shape, distinct=True))
    assert len(np.unique(distinct)) == distinct.size


@given(data=st.data())
def test_tensors_have_the_requested_dtype_shape_and_bounds(data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from([te.float32, te.float64, te.int64, te.bool]))
    shape = data.draw(shapes(max_dims=3))
    low, high = data.draw(st.sampled_from([(-2.0, 2.0), (0.1, 0.7), (-5.0, -3.0)]))
    requires_grad = dtype.is_floating_point and data.draw(st.booleans())
    if dtype is te.int64:
        low, high = -3.0, 4.0
    tensor = data.draw(tensors(shape, dtype, low, high, requires_grad=requires_grad))
    assert isinstance(tensor, te.Tensor)
    assert tensor.dtype is dtype and tuple(tensor.shape) == shape and tensor.requires_grad == requires_grad
    if dtype is not te.bool:
        values = tensor.detach().numpy()
        bounds = np.array([low, high], dtype=values.dtype)  # float32 rounds the bounds too
        assert np.all((values >= bounds[0]) & (values <= bounds[1]))


@given(tensor=tensors(shape=shapes(min_dims=1, max_dims=2), dtype=(te.float32, te.float64)))
def test_tensors_draws_shapes_and_dtypes_from_strategies(tensor: te.Tensor) -> None:
    assert tensor.dtype in (te.float32, te.float64) and 1 <= tensor.ndim <= 2


def test_tensors_refuses_grad_for_integers() -> None:
    with pytest.raises(ValueError, match="floating"):
        tensors(dtype=te.int64, requires_grad=True)


def test_hypothesis_is_a_test_dependency_only() -> None:
    """``import tinygrad_edu`` imports neither hypothesis nor testing; without hypothesis,
    ``import tinygrad_edu.testing`` says how to install it. (A fresh interpreter each.)"""
    script = (
        "import sys\n"
        "import tinygrad_edu\n"
        "assert 'hypothesis' not in sys.modules and 'tinygrad_edu.testing' not in sys.modules\n"
        "sys.modules['hypothesis'] = None  # makes `import hypothesis` fail\n"
        "try:\n"
        "    import tinygrad_edu.testing\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "pip install hypothesis" in result.stdout and "tinygrad_edu[dev]" in result.stdout


# --------------------------------------------------------------------------- assert_gradients_match passes
def leaf(shape: tuple[int, ...], seed: int, low: float = -2.0, high: float = 2.0) -> te.Tensor:
    values = np.random.default_rng(seed).uniform(low, high, size=shape)
    return te.tensor(values, dtype=te.float32, requires_grad=True)  # float32: checked on float64 copies


CORRECT_CASES = {
    "tanh": (lambda x: x.tanh(), [(3, 4)]),
    "broadcast_mul_add": (lambda a, b, c: a * b + c, [(3, 1), (4,), ()]),
    "broadcast_div": (lambda a, b: a / (b * b + 1.0), [(2, 3, 1), (1, 4)]),
    "matmul_softmax": (lambda a, b: (a @ b).softmax(-1), [(2, 3), (3, 4)]),
    "sum_dim_two_outputs": (lambda x: (x.sum(dim=1), x.exp().mean()), [(3, 2)]),
    "index_repeated": (lambda x: x[[0, 2, 0]] * 2.0, [(3, 2)]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CORRECT_CASES))
def test_correct_ops_pass(name: str, mode: str) -> None:
    fn, input_shapes = CORRECT_CASES[name]
    inputs = [leaf(shape, seed) for seed, shape in enumerate(input_shapes)]
    before = [tensor.detach().numpy().copy() for tensor in inputs]
    assert_gradients_match(fn, *inputs, mode=mode)
    for tensor, values in zip(inputs, before):  # the caller's tensors are never touched
        assert np.array_equal(tensor.detach().numpy(), values) and tensor.grad is None


@given(pair=broadcastable_shapes(2, max_dims=3, max_side=3), data=st.data())
def test_drawn_broadcasting_products_pass(pair: tuple[tuple[int, ...], ...], data: st.DataObject) -> None:
    a, b = (data.draw(tensors(shape, te.float64, requires_grad=True)) for shape in pair)
    assert_gradients_match(lambda x, y: (x * y).tanh() + x, a, b)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        assert_gradients_match(lambda x: x * 2.0, leaf((2,), 0), mode="fast")


# --------------------------------------------------------------------------- planted bugs
class SquareWrongAt(Function):
    """y = x ** 2; backward: grad * 2x, plus 5 at element (1, 2): wrong in one element."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        bump = np.zeros(tuple(x.shape))
        bump[1, 2] = 5.0
        return grad * (x * 2.0 + te.tensor(bump))


class SameGradientTwice(Function):
    """y = 2a + 2b; backward returns one tensor object for both inputs (right values)."""

    @staticmethod
    def forward(ctx, a: te.Tensor, b: te.Tensor) -> te.Tensor:
        return a * 2.0 + b * 2.0

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        doubled = grad * 2.0
        return doubled, doubled


class PassUpstream(Function):
    """y = x + 0; backward returns the upstream gradient object itself (right values)."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        return x + 0.0

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        return grad


class ScaleUpstreamInPlace(Function):
    """y = 2x; backward doubles the upstream gradient *in place* and returns it."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        return x * 2.0

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        grad.data.mul_(2.0)
        return grad * 1.0


def mutate_input(x: te.Tensor) -> te.Tensor:
    """y = 3x, but it also adds 1 to its input's first element behind autograd's back."""
    x.detach().numpy()[0, 0] += 1.0
    return x * 3.0


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_gradient_fails_naming_the_worst_element(mode: str) -> None:
    x = te.tensor(np.arange(6.0).reshape(2, 3) / 4 - 0.5, requires_grad=True)  # x[1, 2] = 0.75
    with pytest.raises(GradientAssertionError) as caught:
        assert_gradients_match(SquareWrongAt.apply, x, mode=mode)
    message = str(caught.value)
    assert "input 0" in message and "analytic" in message and "numeric" in message, message
    if mode == "full":  # the element too: analytic 2 * 0.75 + 5, numeric 2 * 0.75
        assert "element (1, 2)" in message and "6.5" in message and "1.5" in message, message
    else:
        assert "random direction" in message, message


def test_the_worst_element_is_reported_as_fields() -> None:
    x = te.tensor(np.arange(6.0).reshape(2, 3) / 4 - 0.5, requires_grad=True)
    worst = find_gradient_mismatch(SquareWrongAt.apply, (x,))
    assert (worst.input, worst.index, worst.output, worst.output_index) == (0, (1, 2), 0, (1, 2))
    assert worst.analytic == pytest.approx(6.5) and worst.numeric == pytest.approx(1.5)
    assert worst.error == pytest.approx(5.0)


@pytest.mark.parametrize("mode", MODES)
def test_an_input_mutation_fails(mode: str) -> None:
    with pytest.raises(GradientAssertionError, match="forward pass modified input 0"):
        assert_gradients_match(mutate_input, leaf((2, 2), 0), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_an_upstream_mutation_fails(mode: str) -> None:
    with pytest.raises(GradientAssertionError, match="modified the upstream gradient"):
        assert_gradients_match(ScaleUpstreamInPlace.apply, leaf((3,), 0), mode=mode)


@pytest.fixture
def engine_without_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine stores each leaf's first gradient as a fresh copy, so a backward rule
    that hands one tensor to two inputs, or passes the upstream gradient on (as the
    built-in ``Add`` does), aliases nothing in ``.grad``. This fixture removes that copy:
    the bug the aliasing invariant exists to catch."""

    def accumulate_without_copy(tensor: te.Tensor, gradient: te.Tensor, create_graph: bool, owned: bool = False) -> None:
        tensor.grad = gradient if tensor.grad is None else tensor.grad + gradient

    monkeypatch.setattr(engine, "accumulate_grad", accumulate_without_copy)


@pytest.mark.parametrize("mode", MODES)
def test_one_gradient_for_two_inputs_fails_without_the_engines_copy(mode: str, engine_without_copies: None) -> None:
    with pytest.raises(GradientAssertionError, match="gradients of inputs 0 and 1 share memory"):
        assert_gradients_match(SameGradientTwice.apply, leaf((2, 3), 0), leaf((2, 3), 1), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_the_upstream_gradient_as_a_gradient_fails_without_the_engines_copy(mode: str,
                                                                             engine_without_copies: None) -> None:
    with pytest.raises(GradientAssertionError, match="shares memory with the upstream gradient"):
        assert_gradients_match(PassUpstream.apply, leaf((2, 3), 0), mode=mode)


def test_returning_one_gradient_twice_is_harmless_with_the_real_engine() -> None:
    assert_gradients_match(SameGradientTwice.apply, leaf((2, 3), 0), leaf((2, 3), 1))
    assert_gradients_match(PassUpstream.apply, leaf((2, 3), 0))


def test_the_random_mode_catches_a_wrong_gradient_on_a_large_input_cheaply() -> None:
    calls = []

    def counted(x: te.Tensor) -> te.Tensor:
        calls.append(1)
        return SquareWrongAt.apply(x)

    with pytest.raises(GradientAssertionError, match=r"input 0 \(shape \(200, 200\)\)"):
        assert_gradients_match(counted, leaf((200, 200), 0), mode="random")
    assert len(calls) <= 4  # invariants: 1; random direction: 1 + 2 (the full mode: 80,001)


# --------------------------------------------------------------------------- the example
def load_example() -> object:
    path = Path(__file__).resolve().parents[1] / "examples" / "gradcheck_experiment.py"
    spec = importlib.util.spec_from_file_location("gradcheck_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_shows_the_v_and_catches_the_wrong_function(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    example = load_example()
    example.main(["--out", str(tmp_path), "--big-side", "20"])
    printed = capsys.readouterr().out
    assert "float32" in printed and "float64" in printed and "best eps" in printed
    assert "ForgetfulSigmoid failed, as it should" in printed and "analytic" in printed
    assert "random-direction gradcheck on a 20x20 input failed, as it should" in printed
    assert "no plot" in printed or (tmp_path / "gradcheck_eps.png").is_file()  # matplotlib is optional

    float64_rows = [line.split() for line in printed.split("float64:")[1].splitlines() if line.strip()[:2] == "1e"]
    errors = np.array([[float(cell) for cell in row[1:]] for row in float64_rows])  # rows: eps 1e-1 .. 1e-12
    assert errors.shape == (12, 5)
    best = errors.min(axis=0)
    assert np.all(best < errors[0] / 1000) and np.all(best < errors[-1] / 1000), "the V: low in the middle"
