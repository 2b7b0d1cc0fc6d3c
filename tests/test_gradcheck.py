"""Tests of the checkers themselves: ``gradcheck`` and ``gradgradcheck`` must catch wrong
gradients (and say where), and must pass correct ones.

The op-table tests trust these two functions; a checker that always returns True would make
every one of them pass. So here custom ``Function``s with deliberately wrong backward rules
are fed to the checkers, next to correct twins that must pass.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import tinygrad_edu as te
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_edu.autograd import Function, GradcheckError, gradcheck, gradgradcheck

from strategies import Shape, arrays, shapes


def leaf(values: object) -> te.Tensor:
    return te.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- custom Functions
class Square(Function):
    """y = x ** 2; backward: grad * 2x (correct, built from Tensor ops so differentiable again)."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        return grad * 2 * x


class SquareWrongGrad(Function):
    """y = x ** 2; backward: grad * x -- wrong by a factor of 2."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        return grad * x


class SquarePlusBump(Function):
    """y = x ** 2; backward: grad * (2x + bump) -- wrong exactly where ``bump`` is not zero.

    (The bump is scaled by ``grad``, so only the diagonal of the Jacobian is wrong.)
    """

    @staticmethod
    def forward(ctx, x: te.Tensor, bump: np.ndarray) -> te.Tensor:
        ctx.save_for_backward(x)
        ctx.bump = bump
        return x * x

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> tuple[te.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * (2 * x + te.tensor(ctx.bump)), None


class MulWrongForSecond(Function):
    """y = a * b; backward right for ``a``, but for ``b`` it adds 5 at element (1, 2)."""

    @staticmethod
    def forward(ctx, a: te.Tensor, b: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        a, b = ctx.saved_tensors
        bump = np.zeros(tuple(b.shape))
        bump[1, 2] = 5.0
        return grad * b, grad * (a + te.tensor(bump))


class Double(Function):
    """y = 2x; backward: 2 * grad (correct)."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        return grad * 2


class DoubleWrongGrad(Function):
    """y = 2x (right value); backward: 3 * grad (wrong)."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        return grad * 3


class SquareViaDouble(Function):
    """y = x ** 2; backward: Double(grad * x) = 2x * grad, right in value.

    Its *second* derivative goes through ``Double``'s backward; ``doubler`` picks the correct
    or the wrong one, so only gradgradcheck can tell the two apart.
    """

    @staticmethod
    def forward(ctx, x: te.Tensor, doubler: type[Function]) -> te.Tensor:
        ctx.save_for_backward(x)
        ctx.doubler = doubler
        return x * x

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> tuple[te.Tensor, None]:
        (x,) = ctx.saved_tensors
        return ctx.doubler.apply(grad * x), None


class SinCos(Function):
    """Two outputs (sin x, cos x); backward: grad_sin * cos x - grad_cos * sin x."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, grad_sin: te.Tensor, grad_cos: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        return grad_sin * x.cos() - grad_cos * x.sin()


class IgnoresSecondInput(Function):
    """y = a * b; the gradient for ``b`` is nonsense, but ``b`` never requires grad."""

    @staticmethod
    def forward(ctx, a: te.Tensor, b: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        a, b = ctx.saved_tensors
        return grad * b, grad * 1000.0


# --------------------------------------------------------------------------- helpers
def numbers_in(message: str) -> list[float]:
    return [float(text) for text in re.findall(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", message)]


def mentions_number(message: str, value: float) -> bool:
    return any(np.isclose(number, value, rtol=1e-4, atol=1e-6) for number in numbers_in(message))


def mentions_element(message: str, element: tuple[int, ...]) -> bool:
    """The element written as a tuple ``(1, 2)`` or a list ``[1, 2]``, as Python prints them."""
    return str(element) in message or str(list(element)) in message


# --------------------------------------------------------------------------- wrong first derivatives
def test_gradcheck_raises_on_a_wrong_gradient() -> None:
    x = leaf([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])
    with pytest.raises(GradcheckError):
        gradcheck(SquareWrongGrad.apply, (x,))
    assert issubclass(GradcheckError, RuntimeError)


def test_gradcheck_returns_false_when_asked_not_to_raise() -> None:
    x = leaf([0.5, -1.0, 2.0])
    assert gradcheck(SquareWrongGrad.apply, (x,), raise_exception=False) is False
    assert gradcheck(Square.apply, (x,), raise_exception=False) is True


def test_the_message_names_input_element_analytic_and_numeric() -> None:
    a = leaf([[0.5, -1.0, 2.0], [1.5, -0.25, 2.5]])  # d(a*b)/db at (1, 2) is a[1, 2] = 2.5
    b = leaf([[1.0, 2.0, 3.0], [-1.0, 0.5, 1.25]])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(MulWrongForSecond.apply, (a, b))
    message = str(caught.value)
    assert re.search(r"input\D{0,3}1\b", message), message  # the second input (index 1)
    assert mentions_element(message, (1, 2)), message
    assert mentions_number(message, 7.5), message  # analytic: 2.5 + 5
    assert mentions_number(message, 2.5), message  # numeric


@given(data=st.data())
def test_gradcheck_finds_any_single_wrong_element(data: st.DataObject) -> None:
    shape: Shape = data.draw(shapes(max_dims=3, max_side=3), label="shape")
    values = data.draw(arrays(shape, low=-2.0, high=2.0), label="values")
    flat_index = data.draw(st.integers(0, max(values.size - 1, 0)), label="flat index")
    error = data.draw(st.sampled_from([-3.0, -0.1, 0.05, 1.0, 40.0]), label="error")
    bump = np.zeros(shape)
    bump.flat[flat_index] = error
    element = tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()

    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: SquarePlusBump.apply(x, bump), (leaf(values),))
    message = str(caught.value)
    assert mentions_element(message, element), message
    assert mentions_number(message, 2 * values.flat[flat_index] + error), message
    assert gradcheck(lambda x: SquarePlusBump.apply(x, np.zeros(shape)), (leaf(values),)) is True


def test_tolerances_are_used() -> None:
    x = leaf([0.5, 1.0, 2.0])
    bump = np.array([0.0, 0.02, 0.0])  # relative error 1% at x = 1
    nearly_right = lambda tensor: SquarePlusBump.apply(tensor, bump)  # noqa: E731
    assert gradcheck(nearly_right, (x,), raise_exception=False) is False  # default rtol 1e-3
    assert gradcheck(nearly_right, (x,), rtol=0.05) is True
    assert gradcheck(nearly_right, (x,), atol=0.1) is True


def test_inputs_without_requires_grad_are_not_checked() -> None:
    a = leaf([1.0, -2.0])
    b = te.tensor(np.array([3.0, 0.5]))  # requires_grad=False
    assert gradcheck(IgnoresSecondInput.apply, (a, b)) is True


# --------------------------------------------------------------------------- second derivatives
def test_gradgradcheck_catches_a_wrong_second_derivative_that_gradcheck_misses() -> None:
    x = leaf([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])
    wrong_second = lambda tensor: SquareViaDouble.apply(tensor, DoubleWrongGrad)  # noqa: E731
    assert gradcheck(wrong_second, (x,)) is True  # the first derivative is right in value
    with pytest.raises(GradcheckError):
        gradgradcheck(wrong_second, (x,))
    assert gradgradcheck(wrong_second, (x,), raise_exception=False) is False


def test_gradgradcheck_passes_the_correct_twin() -> None:
    x = leaf([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])
    assert gradcheck(Double.apply, (x,)) is True
    assert gradgradcheck(lambda tensor: SquareViaDouble.apply(tensor, Double), (x,)) is True
    assert gradgradcheck(Square.apply, (x,)) is True


def test_gradgradcheck_accepts_explicit_grad_outputs() -> None:
    x = leaf([0.5, -1.0, 2.0])
    upstream = te.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    assert gradgradcheck(lambda tensor: (tensor * tensor).sin(), (x,), grad_outputs=(upstream,)) is True


# --------------------------------------------------------------------------- correct functions pass
def several_inputs_two_outputs(a: te.Tensor, b: te.Tensor, c: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
    """Broadcasting (3, 1) with (4,), a reduction, and a second output of another shape."""
    mixed = (a * b + c.exp()).tanh()
    return mixed.sum(dim=1), (a - c) ** 2 / (b * b + 1.0)


def test_gradcheck_passes_several_inputs_and_tuple_outputs() -> None:
    rng = np.random.default_rng(0)
    inputs = (leaf(rng.normal(size=(3, 1))), leaf(rng.normal(size=(4,))), leaf(rng.normal(size=(3, 4))))
    assert gradcheck(several_inputs_two_outputs, inputs) is True
    assert gradgradcheck(several_inputs_two_outputs, inputs) is True


def test_gradcheck_passes_a_function_with_two_outputs() -> None:
    x = leaf([[0.3, -1.2], [2.0, 0.7]])
    assert gradcheck(SinCos.apply, (x,)) is True
    assert gradgradcheck(SinCos.apply, (x,)) is True


def test_gradcheck_accepts_a_single_tensor_and_a_0d_input() -> None:
    assert gradcheck(lambda x: x.exp() * 3.0, leaf(0.7)) is True
    assert gradcheck(lambda x: x.sum(), leaf([1.0, 2.0])) is True


def test_gradcheck_leaves_its_inputs_alone() -> None:
    values = np.array([[0.1, 0.2], [0.3, 0.4]])
    x = leaf(values)
    assert gradcheck(lambda tensor: (tensor * tensor).sum(), (x,)) is True
    assert gradgradcheck(lambda tensor: (tensor * tensor).sum(), (x,)) is True
    assert np.array_equal(x.detach().numpy(), values)
    assert x.grad is None


# --------------------------------------------------------------------------- the random-direction mode, NaN
def test_fast_mode_passes_correct_gradients_and_catches_wrong_ones() -> None:
    rng = np.random.default_rng(1)
    inputs = (leaf(rng.normal(size=(3, 1))), leaf(rng.normal(size=(4,))), leaf(rng.normal(size=(3, 4))))
    assert gradcheck(several_inputs_two_outputs, inputs, fast_mode=True) is True
    assert gradgradcheck(several_inputs_two_outputs, inputs, fast_mode=True) is True
    a, b = leaf(rng.normal(size=(2, 3))), leaf(rng.normal(size=(2, 3)))
    with pytest.raises(GradcheckError, match=r"random direction.*input 1 \(shape \(2, 3\)\)") as caught:
        gradcheck(MulWrongForSecond.apply, (a, b), fast_mode=True)
    assert "element (1, 2)" not in str(caught.value)  # one number per input: no element to name
    assert gradcheck(MulWrongForSecond.apply, (a, b), fast_mode=True, raise_exception=False) is False


class NanGrad(Function):
    """y = 2x; backward: NaN everywhere."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        return grad * float("nan")


@pytest.mark.parametrize("fast_mode", [False, True])
def test_a_nan_gradient_never_passes(fast_mode: bool) -> None:
    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(NanGrad.apply, (leaf([1.0, 2.0]),), fast_mode=fast_mode)
