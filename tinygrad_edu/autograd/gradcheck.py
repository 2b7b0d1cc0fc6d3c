"""``gradcheck`` and ``gradgradcheck``: compare backward() with finite differences.

For a function f of some tensors, the Jacobian column of input element x_i is estimated by
central differences,

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

whose error is O(eps^2) (truncation) plus O(machine epsilon / eps) (rounding): in float64
with eps = 1e-6 both are around 1e-10, which is why the check runs in float64. The
analytic Jacobian is built row by row, one backward pass per output element (a vector-
Jacobian product with a one-hot vector). The two must agree within
``atol + rtol * |numeric|`` everywhere; on failure the error names the worst element.

``gradgradcheck`` applies the same check to the function that returns the gradients
(computed with ``create_graph=True``), which tests every backward rule's own gradient.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from tinygrad_edu import backend
from tinygrad_edu.autograd.engine import grad
from tinygrad_edu.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``/``gradgradcheck`` when the gradients do not match."""


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _float64_copy(value: Any) -> Any:
    """A float64 leaf copy of a floating tensor (same requires_grad); other values as they are."""
    if isinstance(value, Tensor) and value.dtype.is_floating_point:
        return Tensor(value.detach(), dtype=backend.float64, requires_grad=value.requires_grad)
    return value


def _differentiable(outputs: Sequence[Any]) -> list[Tensor]:
    return [out for out in outputs if isinstance(out, Tensor) and out.dtype.is_floating_point]


def _analytic_jacobians(outputs: list[Tensor], inputs: list[Tensor]) -> list[Any]:
    """For each input, an array of shape (total output elements, input elements).

    Row r is the gradient of output element r: one backward pass with a one-hot upstream
    gradient. Outputs are told apart by position, not identity (a function may return the
    same tensor twice).
    """
    xp = backend.array_namespace()
    total = sum(out.numel() for out in outputs)
    jacobians = [xp.zeros((total, tensor.numel())) for tensor in inputs]
    connected = [position for position, out in enumerate(outputs) if out.requires_grad]
    row = 0
    for position, out in enumerate(outputs):
        for element in range(out.numel()):
            if out.requires_grad:
                grad_outputs = []
                for other in connected:
                    one_hot = xp.zeros(outputs[other].numel(), dtype=outputs[other].array.dtype)
                    if other == position:
                        one_hot[element] = 1.0
                    grad_outputs.append(Tensor._wrap(one_hot.reshape(outputs[other].shape)))
                grads = grad([outputs[other] for other in connected], inputs, grad_outputs, retain_graph=True,
                             allow_unused=True)
                for jacobian, gradient in zip(jacobians, grads):
                    if gradient is not None:
                        jacobian[row] = gradient.detach().array.reshape(-1)
            row += 1
    return jacobians


def _numeric_jacobians(fn: Callable[..., Any], args: tuple[Any, ...], inputs: list[Tensor], eps: float) -> list[Any]:
    """Central differences, perturbing one input element at a time (in place, then restored)."""
    xp = backend.array_namespace()

    def evaluate() -> Any:
        outputs = _differentiable(_as_tuple(fn(*args)))
        if not outputs:
            return xp.zeros(0)
        return xp.concatenate([out.detach().array.reshape(-1).astype(xp.float64) for out in outputs])

    jacobians = []
    for tensor in inputs:
        flat = tensor.array.reshape(-1)  # a view: writing into it perturbs the input
        columns = []
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + eps
            plus = evaluate()
            flat[index] = original - eps
            minus = evaluate()
            flat[index] = original
            columns.append((plus - minus) / (2 * eps))
        jacobians.append(xp.stack(columns, axis=1) if columns else xp.zeros((evaluate().size, 0)))
    return jacobians


def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central finite differences.

    Floating inputs are copied to float64 (their ``requires_grad`` kept); the gradient is
    checked for every input with ``requires_grad=True``. Returns True, or raises
    :class:`GradcheckError` (or returns False when ``raise_exception=False``) naming the
    input, the input element, the output element, the analytic and the numeric value of
    the worst mismatch.
    """
    args = tuple(_float64_copy(value) for value in _as_tuple(inputs))
    inputs_to_check = [value for value in args if isinstance(value, Tensor) and value.requires_grad]
    if not inputs_to_check:
        raise ValueError("gradcheck: at least one input must be a floating point tensor with requires_grad=True")
    positions = [index for index, value in enumerate(args) if isinstance(value, Tensor) and value.requires_grad]

    outputs = _differentiable(_as_tuple(fn(*args)))
    analytic = _analytic_jacobians(outputs, inputs_to_check)
    numeric = _numeric_jacobians(fn, args, inputs_to_check, eps)

    worst: tuple[float, str] | None = None
    for position, tensor, exact, estimate in zip(positions, inputs_to_check, analytic, numeric):
        if exact.shape != estimate.shape:
            raise GradcheckError(f"gradcheck: input {position}: the outputs changed size between evaluations")
        excess = abs(exact - estimate) - (atol + rtol * abs(estimate))
        if excess.size == 0 or not (excess > 0).any():
            continue
        row, column = divmod(int(excess.argmax()), excess.shape[1])
        if worst is None or excess[row, column] > worst[0]:
            worst = (float(excess[row, column]), _describe(position, tensor, column, outputs, row, exact[row, column],
                                                          estimate[row, column], atol, rtol))
    if worst is None:
        return True
    if raise_exception:
        raise GradcheckError(worst[1])
    return False


def _describe(position: int, tensor: Tensor, column: int, outputs: list[Tensor], row: int, exact: float,
              estimate: float, atol: float, rtol: float) -> str:
    xp = backend.array_namespace()
    element = tuple(int(i) for i in xp.unravel_index(column, tensor.shape)) if tensor.ndim else ()
    output_index, output_element = 0, row
    while output_element >= outputs[output_index].numel():
        output_element -= outputs[output_index].numel()
        output_index += 1
    output_shape = outputs[output_index].shape
    out_element = tuple(int(i) for i in xp.unravel_index(output_element, output_shape)) if output_shape else ()
    return (
        f"gradcheck: gradient mismatch for input {position} (shape {tensor.shape}) at element {element}, "
        f"output {output_index} element {out_element}: analytic {exact:.6g}, numeric {estimate:.6g}, "
        f"difference {abs(exact - estimate):.3g} > allowed {atol:g} + {rtol:g} * |numeric|"
    )


def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: ``gradcheck`` of the map (inputs, v) -> v^T J(inputs).

    ``grad_outputs`` (the vectors v, one per floating output) are random when not given;
    they are checked as inputs too, as the gradient is linear in them.
    """
    args = tuple(_float64_copy(value) for value in _as_tuple(inputs))
    outputs = _differentiable(_as_tuple(fn(*args)))
    if grad_outputs is None:
        generator = backend.array_namespace().random.default_rng(0)
        grad_outputs = tuple(Tensor(generator.standard_normal(out.shape), dtype=backend.float64, requires_grad=True)
                             for out in outputs)
    else:
        grad_outputs = tuple(_float64_copy(value) for value in _as_tuple(grad_outputs))
    count = len(args)

    def first_derivative(*values: Any) -> tuple[Tensor, ...]:
        inner_args, vectors = values[:count], values[count:]
        inner_outputs = _differentiable(_as_tuple(fn(*inner_args)))
        pairs = [(out, vector) for out, vector in zip(inner_outputs, vectors) if out.requires_grad]
        wrt = [value for value in inner_args if isinstance(value, Tensor) and value.requires_grad]
        if not pairs:
            return tuple(value.detach() * 0 for value in wrt)
        grads = grad([out for out, _ in pairs], wrt, [vector for _, vector in pairs], create_graph=True, allow_unused=True)
        return tuple(gradient if gradient is not None else value.detach() * 0 for gradient, value in zip(grads, wrt))

    return gradcheck(first_derivative, args + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
