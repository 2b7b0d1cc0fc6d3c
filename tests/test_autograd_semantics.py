"""Autograd semantics, checked against PyTorch's documented behaviour.

Covers: gradient accumulation, diamonds, non-scalar backward, freed graphs and
``retain_graph``, deep chains, hooks, ``retain_grad``, grad-mode switches, ``detach``,
``.data``, ``is_leaf``, ``grad_fn`` names, in-place ops, higher-order derivatives,
``autograd.grad``, custom ``autograd.Function`` ops, ``detect_anomaly`` and memory.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu import autograd


def values(t: Any) -> np.ndarray:
    """The values of a tensor as a NumPy array, without touching the graph."""
    return t.detach().numpy()


def leaf(data: Any) -> Any:
    """A float64 leaf tensor that requires grad."""
    return te.tensor(data, dtype=te.float64, requires_grad=True)


# --------------------------------------------------------------------------- accumulation

def test_gradients_accumulate_across_backward_calls() -> None:
    x = leaf([1.0, 2.0, 3.0])
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 2.0, 2.0 + 4.0, 2.0 + 6.0])


def test_diamonds_sum_every_path() -> None:
    x = leaf(3.0)
    (x * 2 + x * x).backward()           # 2 + 2x
    assert x.grad.item() == pytest.approx(8.0)
    v = leaf([1.0, -2.0])
    (v * v).sum().backward()             # the same tensor twice in one op
    np.testing.assert_allclose(v.grad.numpy(), [2.0, -4.0])
    w = leaf(2.0)
    y = w.exp()
    (y * y + y).backward()               # shared intermediate: (2y + 1) * y
    assert w.grad.item() == pytest.approx((2 * np.exp(2.0) + 1) * np.exp(2.0))


def test_gradients_are_not_aliased() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    upstream = te.tensor([1.0, 1.0], dtype=te.float64)
    (x + y).backward(gradient=upstream)
    x.grad.add_(100.0)                         # must not leak into y.grad or upstream
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(upstream.numpy(), [1.0, 1.0])
    (x + y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 2.0])


def test_backward_on_non_scalar_needs_gradient() -> None:
    x = leaf([1.0, 2.0])
    y = x * 3
    with pytest.raises(RuntimeError):
        y.backward()
    y.backward(gradient=te.tensor([1.0, 10.0], dtype=te.float64))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 30.0])


# --------------------------------------------------------------------------- freed graphs

def test_second_backward_needs_retain_graph() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    y.backward()                                     # the graph was kept
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * values(x) * np.exp(values(x) ** 2))
    with pytest.raises(RuntimeError, match="(?i)retain_graph"):
        y.backward()                                 # the second call freed it


# --------------------------------------------------------------------------- hooks

def test_hook_on_leaf_sees_gradient_and_can_replace_it() -> None:
    x = leaf([1.0, 2.0])
    seen: list[np.ndarray] = []

    def double(grad: Any) -> Any:
        seen.append(grad.numpy().copy())
        return grad * 2

    x.register_hook(double)
    (x * x + x * 3).sum().backward()           # x used twice: one call with the total
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [5.0, 7.0])
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 14.0])


def test_hook_on_non_leaf_changes_what_flows_upstream() -> None:
    x = leaf([1.0, 2.0])
    y = x * x
    seen: list[np.ndarray] = []

    def observe_then_zero_first(grad: Any) -> Any:
        seen.append(grad.numpy().copy())
        return grad * te.tensor([0.0, 1.0], dtype=te.float64)

    y.register_hook(observe_then_zero_first)
    (y * 5).sum().backward()
    np.testing.assert_allclose(seen[0], [5.0, 5.0])
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 5.0 * 2 * 2.0])


def test_hook_returning_none_keeps_gradient_and_handle_removes_it() -> None:
    x = leaf([1.0])
    calls: list[int] = []
    handle = x.register_hook(lambda grad: calls.append(1))
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])
    handle.remove()
    (x * 4).sum().backward()
    assert len(calls) == 1


def test_retain_grad_on_non_leaf() -> None:
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    z = x * 2
    (y * y + z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * values(y))
    assert z.grad is None
    assert y.grad.requires_grad is False


# --------------------------------------------------------------------------- grad mode

def test_grad_mode_context_managers_nest() -> None:
    x = leaf([1.0])
    with te.no_grad():
        plain = x * 2
    assert plain.requires_grad is False and plain.grad_fn is None
    with te.no_grad():
        with te.enable_grad():
            inside_enable = x * 2
        after_enable = x * 2
        with te.set_grad_enabled(True):
            inside_set_true = x * 2
    with te.set_grad_enabled(False):
        inside_set_false = x * 2
    assert inside_enable.requires_grad is True
    assert after_enable.requires_grad is False
    assert inside_set_true.requires_grad is True
    assert inside_set_false.requires_grad is False
    assert (x * 2).requires_grad is True


def test_grad_modes_as_decorators() -> None:
    x = leaf([1.0])

    @te.no_grad()
    def without_grad() -> Any:
        return x * 2

    @te.enable_grad()
    def with_grad() -> Any:
        return x * 2

    @te.set_grad_enabled(False)
    def set_off() -> Any:
        return x * 2

    assert without_grad().requires_grad is False
    assert set_off().requires_grad is False
    with te.no_grad():
        assert with_grad().requires_grad is True
    assert (x * 2).requires_grad is True


def test_no_grad_and_enable_grad_as_bare_decorators() -> None:
    """PyTorch >= 2.1 also accepts ``@torch.no_grad`` without parentheses."""
    x = leaf([1.0])

    @te.no_grad
    def without_grad() -> Any:
        return x * 2

    @te.enable_grad
    def with_grad() -> Any:
        return x * 2

    assert without_grad().requires_grad is False
    with te.no_grad():
        assert with_grad().requires_grad is True


def test_grad_mode_restored_after_exception() -> None:
    x = leaf([1.0])
    with pytest.raises(ValueError):
        with te.no_grad():
            raise ValueError("boom")
    assert (x * 2).requires_grad is True


# --------------------------------------------------------------------------- detach / data / leaves

def test_detach_and_data_share_memory_without_grad() -> None:
    x = leaf([1.0, 2.0])
    detached = x.detach()
    assert detached.requires_grad is False and detached.grad_fn is None
    detached.add_(10.0)
    np.testing.assert_allclose(values(x), [11.0, 12.0])
    assert x.data.requires_grad is False
    x.data.mul_(3.0)
    x.data -= 1.0
    np.testing.assert_allclose(values(x), [32.0, 35.0])
    assert x.requires_grad is True and x.is_leaf


def test_requires_grad_in_place_setter() -> None:
    x = te.tensor([1.0, 2.0])
    assert x.requires_grad is False
    returned = x.requires_grad_()
    assert returned is x and x.requires_grad is True
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    x.requires_grad_(False)
    assert x.requires_grad is False


def test_is_leaf() -> None:
    x = leaf([1.0])
    plain = te.tensor([1.0])
    assert x.is_leaf and plain.is_leaf
    assert not (x * 2).is_leaf
    assert (plain * 2).is_leaf  # no grad required: a leaf, as in PyTorch
    assert (x * 2).detach().is_leaf


def test_grad_fn_names_in_repr() -> None:
    x = leaf([1.0, 2.0])
    assert "grad_fn=<MulBackward0>" in repr(x * 2)
    assert "grad_fn=<AddBackward0>" in repr(x + 1)
    assert "grad_fn" not in repr(x)
    assert "requires_grad=True" in repr(x)


# --------------------------------------------------------------------------- in-place ops

INPLACE_CASES: list[tuple[str, Callable[[Any], Any], list[float]]] = [
    ("iadd", lambda t: t.__iadd__(1.0), [2.0, 3.0]),
    ("isub", lambda t: t.__isub__(1.0), [0.0, 1.0]),
    ("imul", lambda t: t.__imul__(3.0), [3.0, 6.0]),
    ("itruediv", lambda t: t.__itruediv__(2.0), [0.5, 1.0]),
    ("add_", lambda t: t.add_(te.tensor([1.0, 1.0])), [2.0, 3.0]),
    ("sub_", lambda t: t.sub_(0.5), [0.5, 1.5]),
    ("mul_", lambda t: t.mul_(te.tensor([2.0, 3.0])), [2.0, 6.0]),
    ("zero_", lambda t: t.zero_(), [0.0, 0.0]),
    ("fill_", lambda t: t.fill_(7.0), [7.0, 7.0]),
    ("copy_", lambda t: t.copy_(te.tensor([5.0, 6.0])), [5.0, 6.0]),
]


@pytest.mark.parametrize("name, apply, expected", INPLACE_CASES, ids=[c[0] for c in INPLACE_CASES])
def test_inplace_ops(name: str, apply: Callable[[Any], Any], expected: list[float]) -> None:
    plain = te.tensor([1.0, 2.0])
    alias = plain
    assert apply(plain) is plain                     # mutates and returns the same object
    np.testing.assert_allclose(alias.numpy(), expected)

    refused = te.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="(?i)leaf|in-?place"):
        apply(refused)
    np.testing.assert_allclose(values(refused), [1.0, 2.0])

    allowed = te.tensor([1.0, 2.0], requires_grad=True)
    with te.no_grad():
        apply(allowed)
    np.testing.assert_allclose(values(allowed), expected)
    assert allowed.requires_grad and allowed.is_leaf


def test_inplace_on_non_leaf_is_differentiated() -> None:
    x = leaf([1.0, 2.0])
    y = x * 2
    y += 1.0
    y.mul_(3.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_modifying_a_saved_tensor_in_place_is_detected() -> None:
    x = leaf([1.0, 2.0])
    y = (x * 1).exp()                          # exp saves its output
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="(?i)in-?place|modified"):
        y.sum().backward()


# --------------------------------------------------------------------------- higher order

def test_second_derivative_of_cube() -> None:
    x = leaf([1.0, -2.0, 0.5])
    (first,) = autograd.grad((x ** 3).sum(), [x], create_graph=True)
    np.testing.assert_allclose(values(first), 3 * values(x) ** 2)
    assert first.requires_grad
    (second,) = autograd.grad(first.sum(), [x])
    np.testing.assert_allclose(second.numpy(), 6 * values(x))


def test_backward_with_create_graph_gives_differentiable_grad() -> None:
    x = leaf(1.5)
    (x ** 3).backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    (second,) = autograd.grad(first, [x])
    assert second.item() == pytest.approx(6 * 1.5)


def test_hessian_vector_products() -> None:
    rng = np.random.default_rng(0)
    matrix, vector, point = rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4)
    a, v, x = te.tensor(matrix), te.tensor(vector), leaf(point)
    f = x @ (a @ x) + (x ** 3).sum()             # Hessian = A + A^T + diag(6x)
    (g,) = autograd.grad(f, [x], create_graph=True)
    np.testing.assert_allclose(values(g), (matrix + matrix.T) @ point + 3 * point ** 2)
    hessian = matrix + matrix.T + np.diag(6 * point)
    (hv,) = autograd.grad(g, [x], grad_outputs=[v], retain_graph=True)
    np.testing.assert_allclose(hv.numpy(), hessian @ vector, rtol=1e-10)
    (hv_from_dot,) = autograd.grad((g * v).sum(), [x])
    np.testing.assert_allclose(hv_from_dot.numpy(), hessian @ vector, rtol=1e-10)


def test_ordinary_backward_records_no_graph_for_gradient() -> None:
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward()
    assert x.grad.requires_grad is False
    assert x.grad.grad_fn is None


# --------------------------------------------------------------------------- autograd.grad

def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    result = autograd.grad((x * w).sum(), [x, w])
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_allclose(result[0].numpy(), [3.0, 4.0])
    np.testing.assert_allclose(result[1].numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    (g,) = autograd.grad(x * x, [x], grad_outputs=[te.tensor([1.0, 0.5], dtype=te.float64)])
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])


def test_grad_allow_unused() -> None:
    x = leaf(2.0)
    unused = leaf(1.0)
    with pytest.raises(RuntimeError, match="(?i)allow_unused"):
        autograd.grad(x * 2, [x, unused])
    gx, gu = autograd.grad(x * 2, [x, unused], allow_unused=True)
    assert gx.item() == pytest.approx(2.0)
    assert gu is None


def test_grad_frees_graph_unless_retained() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    autograd.grad(y, [x], retain_graph=True)
    (g,) = autograd.grad(y, [x])
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="(?i)retain_graph"):
        autograd.grad(y, [x])


# --------------------------------------------------------------------------- custom Function

class Cube(autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaledExp(autograd.Function):
    """exp(scale * x) with a non-tensor argument whose gradient is None."""

    @staticmethod
    def forward(ctx: Any, x: Any, scale: float) -> Any:
        result = (x * scale).exp()
        ctx.scale = scale
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        (result,) = ctx.saved_tensors
        return grad * ctx.scale * result, None


class Product(autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        return grad * b, grad * a


def test_custom_function_cube() -> None:
    x = leaf([1.0, -2.0])
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    np.testing.assert_allclose(values(y), [1.0, -8.0])
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])
    with te.no_grad():
        assert Cube.apply(x).requires_grad is False


def test_custom_functions_with_scalar_argument_and_two_inputs() -> None:
    z = leaf([0.0, 1.0])
    ScaledExp.apply(z, 2.0).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2.0 * np.exp([0.0, 2.0]))
    a, b = leaf([2.0, 3.0]), leaf([5.0, 7.0])
    Product.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [5.0, 7.0])
    np.testing.assert_allclose(b.grad.numpy(), [2.0, 3.0])


# --------------------------------------------------------------------------- detect_anomaly

ANOMALY_ERRORS = (RuntimeError, ArithmeticError)


def test_detect_anomaly_names_forward_op() -> None:
    with pytest.raises(ANOMALY_ERRORS, match="(?i)log"):
        with autograd.detect_anomaly():
            x = leaf([-1.0, 2.0])
            y = (x.log() * 2).exp()
            y.sum().backward()


def test_detect_anomaly_names_backward_op() -> None:
    with pytest.raises(ANOMALY_ERRORS, match="(?i)sqrt"):
        with autograd.detect_anomaly():
            x = leaf([0.0, 1.0])
            y = x.sqrt() * 3      # forward is finite; d sqrt / dx at 0 is inf
            y.sum().backward()


def test_detect_anomaly_quiet_on_finite_graph() -> None:
    with autograd.detect_anomaly():
        x = leaf([1.0, 4.0])
        x.sqrt().log().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (2 * np.array([1.0, 4.0])))


class Identity(autograd.Function):
    """Returns its input unchanged; backward doubles the gradient (to see it was used)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * 2


class MaxWithIndex(autograd.Function):
    """Two outputs: the max (differentiable) and its index, marked non-differentiable."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        index = x.argmax().to(te.float64)
        ctx.mark_non_differentiable(index)
        ctx.save_for_backward(x, index)
        return x.max(), index

    @staticmethod
    def backward(ctx: Any, grad: Any, grad_index: Any) -> Any:
        x, index = ctx.saved_tensors
        one_hot = te.zeros_like(x)
        one_hot[int(index.item())] = 1.0
        return grad * one_hot


def test_function_returning_its_input_leaves_the_input_a_leaf() -> None:
    x = leaf([1.0, 2.0])
    y = Identity.apply(x)
    assert x.is_leaf and x.grad_fn is None
    assert y is not x and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_mark_non_differentiable_output_does_not_require_grad() -> None:
    x = leaf([1.0, 5.0, 2.0])
    value, index = MaxWithIndex.apply(x)
    assert value.requires_grad and not index.requires_grad
    value.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 0.0])


class HalfPrecisionGrad(autograd.Function):
    """Doubles its input; backward hands back a float32 gradient for a float64 input."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return (grad * 2).float()


class NumberGrad(autograd.Function):
    """Backward returns a Python number: refused with a message naming the node."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return 2.0


def test_gradient_takes_its_inputs_dtype() -> None:
    x = leaf([1.0, 2.0])
    HalfPrecisionGrad.apply(x).sum().backward()
    assert x.grad.dtype == te.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_backward_returning_a_non_tensor_is_a_clear_error() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="NumberGradBackward0.*input 0"):
        NumberGrad.apply(x).sum().backward()
