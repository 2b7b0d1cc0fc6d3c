"""``gradcheck`` and ``gradgradcheck``: compare backward() with finite differences.

For a function f of some tensors, the Jacobian column of input element x_i is estimated by
central differences,

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

whose error is O(eps^2) (truncation) plus O(machine epsilon / eps) (rounding): in float64
with eps = 1e-6 both are around 1e-10, which is why the check runs in float64. The
analytic Jacobian is built row by row, one backward pass per output element (a vector-
Jacobian product with a one-hot vector). The two must agree within
``atol + rtol * |numeric|`` everywhere; on failure the error names the worst element
(a :class:`WorstElement`: input, index, analytic, numeric, error).

That costs one backward pass per output element and two forward passes per input element,
far too much for a 200 x 200 input. ``fast_mode=True`` checks one random direction
instead: with a random upstream vector u and a random input direction v,

    backward():           u . J v  =  (J^T u) . v                 (one backward pass)
    central differences:  u . (f(x + eps v) - f(x - eps v)) / (2 eps)   (two forwards)

are two estimates of the same number, compared input by input. A wrong gradient changes
the first almost surely, whatever the element; but the check can only name the input, not
the element. (HIPS autograd checks gradients this way.)

``gradgradcheck`` applies the same check to the function that returns the gradients
(computed with ``create_graph=True``), which tests every backward rule's own gradient.

:func:`check_backward_invariants` checks what a backward pass must leave intact besides
the values: the inputs are not modified (by the forward or the backward pass), neither is
the upstream gradient, each gradient has its input's shape and dtype, and no gradient
shares memory with another one, with the upstream gradient or with an input.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.autograd.engine import backward, grad
from tinygrad_edu.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``, ``gradgradcheck`` and ``check_backward_invariants`` on failure."""


@dataclass(frozen=True)
class WorstElement:
    """The worst disagreement between backward() and central differences.

    "Worst" means the largest excess of ``error = |analytic - numeric|`` over the allowed
    ``atol + rtol * |numeric|``. ``input`` is the position of the input among the
    function's arguments. A full check also gives ``index`` (the element of that input)
    and ``output``/``output_index`` (the output element whose gradient is wrong); a
    random-direction check compares one number per input, so those three are None.
    """

    input: int
    shape: tuple[int, ...]
    index: tuple[int, ...] | None
    output: int | None
    output_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    atol: float
    rtol: float

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def allowed(self) -> float:
        return self.atol + self.rtol * abs(self.numeric)

    def __str__(self) -> str:
        verdict = f"difference {self.error:.3g} > allowed {self.atol:g} + {self.rtol:g} * |numeric|"
        if self.index is None:
            return (
                f"gradcheck (random direction): gradient mismatch for input {self.input} (shape {self.shape}): "
                f"with a random upstream gradient u and a random direction v, u.Jv is analytic {self.analytic:.6g} "
                f"(backward) but numeric {self.numeric:.6g} (central differences), {verdict}; "
                f"the full check (fast_mode=False) on a smaller input names the element"
            )
        return (
            f"gradcheck: gradient mismatch for input {self.input} (shape {self.shape}) at element {self.index}, "
            f"output {self.output} element {self.output_index}: analytic {self.analytic:.6g}, "
            f"numeric {self.numeric:.6g}, {verdict}"
        )


def _excess(analytic: Any, numeric: Any, atol: float, rtol: float) -> Any:
    """How far ``|analytic - numeric|`` exceeds the tolerance (positive: a mismatch), elementwise.

    A NaN on either side counts as an infinite excess: a NaN must never pass unseen.
    """
    xp = backend.array_namespace()
    excess = abs(analytic - numeric) - (atol + rtol * abs(numeric))
    return xp.where(xp.isnan(analytic) | xp.isnan(numeric), xp.inf, excess)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _float64_copy(value: Any) -> Any:
    """A float64 leaf copy of a floating tensor (same requires_grad); other values as they are."""
    if isinstance(value, Tensor) and value.dtype.is_floating_point:
        return Tensor(value.detach(), dtype=backend.float64, requires_grad=value.requires_grad)
    return value


def _differentiable(outputs: Sequence[Any]) -> list[Tensor]:
    return [out for out in outputs if isinstance(out, Tensor) and out.dtype.is_floating_point]


# --------------------------------------------------------------------------- the full check
def _analytic_jacobians(outputs: list[Tensor], inputs: list[Tensor]) -> list[Any]:
    """For each input, an array of shape (total output elements, input elements).

    Row r is the gradient of output element r: one backward pass with a one-hot upstream
    gradient. Outputs are told apart by position, not identity (a function may return the
    same tensor twice). The Jacobians are host (NumPy) arrays, whatever the device.
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
                    one_hot = backend.to_device(one_hot.reshape(outputs[other].shape), outputs[other].device)
                    grad_outputs.append(Tensor._wrap(one_hot))
                grads = grad([outputs[other] for other in connected], inputs, grad_outputs, retain_graph=True,
                             allow_unused=True)
                for jacobian, gradient in zip(jacobians, grads):
                    if gradient is not None:
                        jacobian[row] = backend.to_host(gradient.detach().array).reshape(-1)
            row += 1
    return jacobians


def _numeric_jacobians(fn: Callable[..., Any], args: tuple[Any, ...], inputs: list[Tensor], eps: float) -> list[Any]:
    """Central differences, perturbing one input element at a time (in place, then restored)."""
    xp = backend.array_namespace()

    def evaluate() -> Any:
        outputs = _differentiable(_as_tuple(fn(*args)))
        if not outputs:
            return xp.zeros(0)
        return xp.concatenate([backend.to_host(out.detach().array).reshape(-1).astype(xp.float64) for out in outputs])

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


def _full_mismatch(fn: Callable[..., Any], args: tuple[Any, ...], positions: list[int], inputs: list[Tensor],
                   eps: float, atol: float, rtol: float) -> WorstElement | None:
    """Every Jacobian entry, analytic against numeric; the worst mismatch or None."""
    outputs = _differentiable(_as_tuple(fn(*args)))
    analytic = _analytic_jacobians(outputs, inputs)
    numeric = _numeric_jacobians(fn, args, inputs, eps)
    worst: tuple[float, WorstElement] | None = None
    for position, tensor, exact, estimate in zip(positions, inputs, analytic, numeric):
        if exact.shape != estimate.shape:
            raise GradcheckError(f"gradcheck: input {position}: the outputs changed size between evaluations")
        excess = _excess(exact, estimate, atol, rtol)
        if excess.size == 0 or not (excess > 0).any():
            continue
        row, column = divmod(int(excess.argmax()), excess.shape[1])
        if worst is None or excess[row, column] > worst[0]:
            output, output_index = _output_element(outputs, row)
            element = WorstElement(position, tensor.shape, _unravel(column, tensor.shape), output, output_index,
                                   float(exact[row, column]), float(estimate[row, column]), atol, rtol)
            worst = (float(excess[row, column]), element)
    return None if worst is None else worst[1]


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The element ``(i, j, ...)`` at position ``flat_index`` of a C-ordered array of ``shape``."""
    return tuple(int(i) for i in backend.array_namespace().unravel_index(flat_index, shape)) if shape else ()


def _output_element(outputs: list[Tensor], row: int) -> tuple[int, tuple[int, ...]]:
    """Which output, and which element of it, Jacobian row ``row`` belongs to."""
    output = 0
    while row >= outputs[output].numel():
        row -= outputs[output].numel()
        output += 1
    return output, _unravel(row, outputs[output].shape)


# --------------------------------------------------------------------------- the random-direction check
def _random_direction_mismatch(fn: Callable[..., Any], args: tuple[Any, ...], positions: list[int],
                               inputs: list[Tensor], eps: float, atol: float, rtol: float,
                               seed: int) -> WorstElement | None:
    """u.Jv by one backward pass against u.Jv by central differences, input by input."""
    xp = backend.array_namespace()
    generator = xp.random.default_rng(seed)
    outputs = _differentiable(_as_tuple(fn(*args)))
    # drawn on the host, then put where the tensors live
    upstream = [backend.to_device(generator.standard_normal(out.shape), out.device) for out in outputs]
    directions = [backend.to_device(generator.standard_normal(tensor.shape), tensor.device) for tensor in inputs]

    connected = [(out, vector) for out, vector in zip(outputs, upstream) if out.requires_grad]
    gradients: Sequence[Tensor | None] = [None] * len(inputs)
    if connected:  # J^T u for every input at once: one backward pass
        gradients = grad([out for out, _ in connected], inputs, [Tensor._wrap(vector) for _, vector in connected],
                         allow_unused=True)

    def projected_outputs() -> float:
        """u . f(x): every output seen through its upstream vector, summed."""
        values = _differentiable(_as_tuple(fn(*args)))
        if [value.shape for value in values] != [out.shape for out in outputs]:
            raise GradcheckError("gradcheck: the outputs changed size between evaluations")
        return float(sum((vector * value.detach().array).sum() for vector, value in zip(upstream, values)))

    worst: tuple[float, WorstElement] | None = None
    for position, tensor, direction, gradient in zip(positions, inputs, directions, gradients):
        analytic = 0.0 if gradient is None else float((gradient.detach().array * direction).sum())
        original = tensor.array.copy()
        tensor.array[...] = original + eps * direction
        plus = projected_outputs()
        tensor.array[...] = original - eps * direction
        minus = projected_outputs()
        tensor.array[...] = original
        numeric = (plus - minus) / (2 * eps)
        excess = float(_excess(xp.float64(analytic), xp.float64(numeric), atol, rtol))
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, WorstElement(position, tensor.shape, None, None, None, analytic, numeric, atol, rtol))
    return None if worst is None else worst[1]


# --------------------------------------------------------------------------- gradcheck
def find_gradient_mismatch(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
                           rtol: float = 1e-3, fast_mode: bool = False, seed: int = 0) -> WorstElement | None:
    """The worst element where the gradients of ``fn(*inputs)`` and central differences
    disagree, or None when they agree everywhere. ``gradcheck`` without the verdict.

    Floating inputs are copied to float64 (their ``requires_grad`` kept); the gradient is
    checked for every input with ``requires_grad=True``. With ``fast_mode=True`` one random
    direction per input is checked (``seed`` draws it), see the module docstring.
    """
    args = tuple(_float64_copy(value) for value in _as_tuple(inputs))
    positions = [index for index, value in enumerate(args) if isinstance(value, Tensor) and value.requires_grad]
    if not positions:
        raise ValueError("gradcheck: at least one input must be a floating point tensor with requires_grad=True")
    inputs_to_check = [args[position] for position in positions]
    if fast_mode:
        return _random_direction_mismatch(fn, args, positions, inputs_to_check, eps, atol, rtol, seed)
    return _full_mismatch(fn, args, positions, inputs_to_check, eps, atol, rtol)


def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool = False) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central finite differences.

    Floating inputs are copied to float64 (their ``requires_grad`` kept); the gradient is
    checked for every input with ``requires_grad=True``. Returns True, or raises
    :class:`GradcheckError` (or returns False when ``raise_exception=False``) naming the
    input, the input element, the output element, the analytic and the numeric value of
    the worst mismatch. ``fast_mode=True`` checks one random direction per input instead
    of every element: use it for large inputs (it names the input only).
    """
    worst = find_gradient_mismatch(fn, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode)
    return _verdict(None if worst is None else str(worst), raise_exception)


def _verdict(failure: str | None, raise_exception: bool) -> bool:
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure)
    return False


def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  fast_mode: bool = False) -> bool:
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
                     raise_exception=raise_exception, fast_mode=fast_mode)


# --------------------------------------------------------------------------- invariants of a backward pass
def find_invariant_violation(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                             seed: int = 0) -> str | None:
    """What one forward and backward pass of ``fn(*inputs)`` broke, or None.

    The pass runs on float64 leaf copies of the floating inputs (``requires_grad`` kept),
    with ``grad_outputs`` (one array or tensor per floating output; random normal values
    drawn with ``seed`` when not given) as the upstream gradient. It must leave the inputs
    (tensors and arrays) and the upstream gradient unchanged, give every input with
    ``requires_grad=True`` a gradient of its shape and dtype, and no gradient may share
    memory with another gradient, with the upstream gradient or with an input.
    """
    xp = backend.array_namespace()
    args = tuple(_float64_copy(value) for value in _as_tuple(inputs))
    checked = [(position, value) for position, value in enumerate(args) if isinstance(value, Tensor)
               and value.requires_grad]
    if not checked:
        raise ValueError("at least one input must be a floating point tensor with requires_grad=True")
    input_arrays = [(position, value.array if isinstance(value, Tensor) else value) for position, value
                    in enumerate(args) if isinstance(value, Tensor) or backend.is_array(value)]
    input_copies = [array.copy() for _, array in input_arrays]

    def modified_input() -> int | None:
        for (position, array), copy in zip(input_arrays, input_copies):
            if array.shape != copy.shape or not backend.array_namespace(array).array_equal(array, copy, equal_nan=True):
                return position
        return None

    outputs = _differentiable(_as_tuple(fn(*args)))
    position = modified_input()
    if position is not None:
        return f"the forward pass modified input {position} in place: an op must leave its inputs unchanged"

    if grad_outputs is None:
        generator = xp.random.default_rng(seed)
        grad_outputs = [backend.to_device(generator.standard_normal(out.shape), out.device) for out in outputs]
    vectors = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    if len(vectors) != len(outputs):
        raise ValueError(f"grad_outputs: {len(vectors)} given, but fn returned {len(outputs)} floating outputs")
    upstream = [value if isinstance(value, Tensor) else Tensor(value, dtype=out.dtype, device=out.device)
                for value, out in zip(vectors, outputs)]
    upstream_copies = [vector.array.copy() for vector in upstream]
    roots = [(out, vector) for out, vector in zip(outputs, upstream) if out.requires_grad]
    if roots:
        backward([out for out, _ in roots], [vector for _, vector in roots])

    position = modified_input()
    if position is not None:
        return f"the backward pass modified input {position} in place"
    for output, (vector, copy) in enumerate(zip(upstream, upstream_copies)):
        if not backend.array_namespace(copy).array_equal(vector.array, copy, equal_nan=True):
            return f"the backward pass modified the upstream gradient of output {output} in place"
    for position, tensor in checked:
        if tensor.grad is None:
            return f"input {position} (requires_grad=True) got no gradient: is it used by fn?"
        if tensor.grad.shape != tensor.shape:
            return f"input {position}: the gradient has shape {tensor.grad.shape}, the input {tensor.shape}"
        if tensor.grad.dtype != tensor.dtype:
            return f"input {position}: the gradient has dtype {tensor.grad.dtype}, the input {tensor.dtype}"
    return _aliased_gradient(checked, upstream, input_arrays)


def _aliased_gradient(checked: list[tuple[int, Tensor]], upstream: list[Tensor],
                      input_arrays: list[tuple[int, Any]]) -> str | None:
    """A gradient that shares memory with another gradient, the upstream gradient or an input."""
    for number, (position, tensor) in enumerate(checked):
        gradient = tensor.grad.array
        xp = backend.array_namespace(gradient)
        for output, vector in enumerate(upstream):
            if xp.shares_memory(gradient, vector.array):
                return f"the gradient of input {position} shares memory with the upstream gradient of output {output}"
        for other, other_tensor in checked[:number]:
            if xp.shares_memory(gradient, other_tensor.grad.array):
                return f"the gradients of inputs {other} and {position} share memory"
        for other, array in input_arrays:
            if xp.shares_memory(gradient, array):
                return f"the gradient of input {position} shares memory with input {other}"
    return None


def check_backward_invariants(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, seed: int = 0,
                              raise_exception: bool = True) -> bool:
    """Run ``fn(*inputs)`` forward and backward once and check what must stay intact
    (see :func:`find_invariant_violation`). Returns True, or raises :class:`GradcheckError`
    saying what broke (returns False when ``raise_exception=False``)."""
    return _verdict(find_invariant_violation(fn, inputs, grad_outputs, seed=seed), raise_exception)
