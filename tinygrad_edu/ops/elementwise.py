"""Elementwise primitives: one ``Function`` each, forward and backward side by side.

``forward`` computes on raw backend arrays (nothing is recorded). ``backward`` receives the
upstream gradient ``grad`` (a Tensor of the output's shape) and returns the gradient of each
input, written with Tensor ops so that it is itself differentiable (``create_graph=True``).
Binary ops may return a gradient of the *broadcast* shape: the engine sums it down to the
input's shape (``broadcasting.unbroadcast``), so no rule here repeats that.

The docstring of each class states its derivative in one line.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.backend import DType, array_namespace
from tinygrad_edu.tensor import Tensor

# ----------------------------------------------------------------------------------------
# unary
# ----------------------------------------------------------------------------------------


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        return -x.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        return -grad


class Exp(Function):
    """y = e^x;  dy/dx = e^x = y (the output is saved, not recomputed)."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Tensor:
        y = Tensor._wrap(array_namespace(x.array).exp(x.array))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    """y = ln x;  dy/dx = 1 / x."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        return array_namespace(x.array).log(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 1 / (2y).

    A primitive rather than ``x ** 0.5`` so that the value is the correctly rounded square root.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Tensor:
        y = Tensor._wrap(array_namespace(x.array).sqrt(x.array))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad / (y * 2)


class Sin(Function):
    """y = sin x;  dy/dx = cos x."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        return array_namespace(x.array).sin(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * x.cos()


class Cos(Function):
    """y = cos x;  dy/dx = -sin x."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        return array_namespace(x.array).cos(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return -grad * x.sin()


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y^2.

    A primitive for stability: built from exp, tanh(1000) would be inf/inf = nan.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Tensor:
        y = Tensor._wrap(array_namespace(x.array).tanh(x.array))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y).

    A primitive for stability: the forward pass only ever exponentiates -|x|, so it never
    overflows (the textbook 1 / (1 + exp(-x)) overflows for x = -1000).
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Tensor:
        xp = array_namespace(x.array)
        e = xp.exp(-xp.abs(x.array))  # in (0, 1]: never overflows
        # 1 / (1 + e^-x) where x >= 0, and e^x / (1 + e^x) below: one division for both
        y = Tensor._wrap((xp.where(x.array >= 0, 1, e) / (1 + e)).astype(x.array.dtype, copy=False))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0 (PyTorch's choice at x = 0)."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Tensor:
        y = Tensor._wrap(array_namespace(x.array).maximum(x.array, 0))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad * (y > 0)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        return array_namespace(x.array).abs(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * x.sign()


class Sign(Function):
    """y = sign(x);  dy/dx = 0 (a step function: its gradient is zero wherever it exists)."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        return array_namespace(x.array).sign(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        return grad * 0


class Clone(Function):
    """y = x, in new memory;  dy/dx = 1."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        return x.array.copy()

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        return grad


class Cast(Function):
    """y = x converted to another dtype;  the gradient is converted back to x's dtype."""

    node_name = "ToCopyBackward0"  # PyTorch's name: `to(dtype)` and `to(device)` are one op there

    @staticmethod
    def forward(ctx: Node, x: Tensor, dtype: DType) -> Any:
        ctx.input_dtype = x.dtype
        return x.array.astype(dtype.numpy_dtype)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        return grad.to(ctx.input_dtype), None


# ----------------------------------------------------------------------------------------
# binary (inputs already share one dtype; shapes broadcast)
# ----------------------------------------------------------------------------------------


class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        return a.array + b.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, Tensor]:
        return grad, grad


class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        return a.array - b.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        # Save only what a gradient will need: b for a's gradient, a for b's.
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        return a.array * b.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """z = a / b;  dz/da = 1 / b, dz/db = -a / b^2."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a.array / b.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Pow(Function):
    """z = a ** b;  dz/da = b a^(b-1), dz/db = a^b ln a.

    As in PyTorch: dz/da is 0 where b == 0 (even at a == 0), and dz/db is 0 where a == 0 and
    b >= 0 (where ln a is -inf but a^b is 0 or 1 and flat in b from the right).
    """

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Tensor:
        z = Tensor._wrap(array_namespace(a.array).power(a.array, b.array))
        ctx.save_for_backward(a, b, z if ctx.needs_input_grad[1] else None)
        return z

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b, z = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            if b.ndim == 0 and not b.requires_grad:  # the common x ** c with a constant c
                exponent = b.item()
                grad_a = grad * 0 if exponent == 0 else grad * exponent * a ** (exponent - 1)
            else:
                grad_a = (grad * b * a ** (b - 1)).where(b != 0, 0.0)
        if ctx.needs_input_grad[1]:
            grad_b = (grad * z * a.log()).where((a != 0) | (b < 0), 0.0)
        return grad_a, grad_b


class Remainder(Function):
    """z = a mod b = a - floor(a / b) * b;  dz/da = 1, dz/db = -floor(a / b).

    The result has the sign of b, as in Python and PyTorch; floor is flat between its jumps,
    so it adds nothing to the derivatives."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        xp = array_namespace(a.array)
        if ctx.needs_input_grad[1]:
            ctx.quotient = Tensor._wrap(xp.floor_divide(a.array, b.array))
        return xp.remainder(a.array, b.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, Tensor | None]:
        return grad, (-grad * ctx.quotient if ctx.needs_input_grad[1] else None)


class Where(Function):
    """z = a where condition else b;  dz/da = condition, dz/db = not condition."""

    @staticmethod
    def forward(ctx: Node, condition: Tensor, a: Tensor, b: Tensor) -> Any:
        ctx.condition = condition
        return array_namespace(a.array).where(condition.array, a.array, b.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[None, Tensor | None, Tensor | None]:
        zero = grad.new_zeros(())
        grad_a = Where.apply(ctx.condition, grad, zero) if ctx.needs_input_grad[1] else None
        grad_b = Where.apply(ctx.condition, zero, grad) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b
