"""``Function`` and ``Node``: how one call of an op is recorded in the graph.

Every differentiable op, built in or written by a user, is a subclass of :class:`Function`
with two static methods side by side:

    class Square(Function):
        '''y = x ** 2;  backward: grad_x = grad * 2x'''
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.array * x.array        # raw array math: nothing is recorded here
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x             # Tensor ops: differentiable again

``Square.apply(x)`` runs ``forward`` and, when ``x`` requires grad and grad mode is on,
records a :class:`Node`: the ``ctx`` that ``forward`` filled in, the links to the inputs'
own nodes, and the ``grad_fn`` of the output. ``autograd/engine.py`` later walks these
nodes backwards and calls ``backward``.

``forward`` may return backend arrays (what the built-in ops do) or Tensors (what user
Functions written with Tensor ops do); ``apply`` wraps arrays into Tensors.
"""
from __future__ import annotations

import traceback
import weakref
from typing import Any, Callable

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd.anomaly import ANOMALY_MODE, check_forward_anomaly
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.backend import QUIET_FLOAT_ERRORS
from tinygrad_edu.tensor import Tensor


class Node:
    """One recorded op call: the ``ctx`` of ``forward``/``backward`` and the ``grad_fn`` of
    its outputs.

    Only what ``backward`` needs is kept: the saved tensors, the shapes of the inputs (to
    reduce broadcast gradients), and ``parents``: for each input, the leaf Tensor itself
    (its gradient goes into ``.grad``), or a ``(node, output_index)`` pair naming the op
    output it came from, or None when that input needs no gradient. Intermediate tensors
    that nobody saved are freed as soon as the user drops them, as in PyTorch.
    """

    # Slots keep the per-op cost of recording low; ``__dict__`` stays for the attributes
    # that forward() stores on ctx (``ctx.dims = ...``), as PyTorch allows.
    __slots__ = ("function", "parents", "input_shapes", "needs_input_grad", "output_meta", "freed", "hooks",
                 "retained", "creation_trace", "_to_save", "_saved", "__dict__")

    def __init__(self, function: type["Function"], needs_input_grad: tuple[bool, ...]) -> None:
        self.function = function
        self.needs_input_grad = needs_input_grad
        self.parents: tuple[Any, ...] = ()  # per input: a leaf Tensor, a (node, output_index) pair, or None
        self.input_shapes: tuple[tuple[int, ...] | None, ...] = ()
        self.output_meta: tuple[tuple[tuple[int, ...], backend.DType], ...] = ()
        self.freed = False
        self.hooks: dict[int, list[Callable[..., Any]]] | None = None  # per output index, made on first use
        self.retained: dict[int, "weakref.ref[Tensor]"] | None = None  # outputs that retain_grad()
        self.creation_trace: list[str] | None = None
        self._to_save: tuple[Any, ...] = ()
        self._saved: list[tuple[Any, ...]] | None = None

    # -- the ctx interface used inside forward/backward ---------------------------------

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep these tensors (inputs or outputs of ``forward``) for ``backward``."""
        self._to_save = tensors

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Outputs (such as indices) that should not require grad; backward gets zeros for them."""
        self.__dict__.setdefault("non_differentiable", set()).update(id(output) for output in outputs)

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The tensors given to ``save_for_backward``, checked for in-place changes."""
        if self._saved is None:
            if self.freed:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time (or to read the saved "
                    f"tensors of {self.name()} after they were freed). The saved tensors are "
                    f"freed by backward(); call backward(retain_graph=True) the first time if "
                    f"you need to back-propagate through the graph again."
                )
            return tuple(self._to_save)  # inside forward, before apply has packed them
        unpacked = []
        for tensor, counter, version, output_index in self._saved:
            if output_index is not None:
                tensor = _rebuild_output(self, tensor, counter, output_index)
            if counter is not None and counter[0] != version:
                raise RuntimeError(
                    f"one of the tensors needed by {self.name()} for gradient computation has been "
                    f"modified by an in-place operation (its version is {counter[0]}, "
                    f"expected {version})"
                )
            unpacked.append(tensor)
        return tuple(unpacked)

    # -- introspection --------------------------------------------------------------------

    def name(self) -> str:
        """``MulBackward0`` for a ``Mul`` node, as PyTorch names them (a Function whose op
        PyTorch calls otherwise sets ``node_name``)."""
        return getattr(self.function, "node_name", None) or f"{self.function.__name__}Backward0"

    def output_hooks(self, output_index: int) -> list[Callable[..., Any]]:
        """The (mutable) list of hooks run on the gradient of one output."""
        if self.hooks is None:
            self.hooks = {}
        return self.hooks.setdefault(output_index, [])

    def retain_output_grad(self, output_index: int, tensor: Tensor) -> None:
        if self.retained is None:
            self.retained = {}
        self.retained[output_index] = weakref.ref(tensor)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _rebuild_output(node: Node, array: Any, counter: list[int], output_index: int) -> Tensor:
    """A saved *output* is stored as its array, not as the Tensor: the Tensor points to this
    node through ``grad_fn``, so keeping it here would make a reference cycle that only the
    garbage collector could break. It is rebuilt (same memory, same ``grad_fn``) on use."""
    tensor = Tensor._wrap(array, requires_grad=True)
    tensor.grad_fn = node
    tensor._output_index = output_index
    tensor._version = counter
    return tensor


class Function:
    """Base class of every differentiable op. Subclasses define ``forward`` and ``backward``
    as static methods and are called through ``apply``; see the module docstring."""

    @staticmethod
    def forward(ctx: Node, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Node, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on ``args`` and record the call if a gradient will be needed."""
        needs_input_grad = tuple([isinstance(arg, Tensor) and arg._requires_grad for arg in args])
        if backend.DEVICES_IN_USE:  # False until the first GPU tensor: CPU-only programs skip the check
            _check_one_device(cls, args)
        previous_mode = GRAD_MODE.enabled
        record = previous_mode and True in needs_input_grad
        ctx = Node(cls, needs_input_grad)
        if tracing.RECORDING.current is not None:  # jit.capture is recording: can it replay these inputs?
            tracing.RECORDING.current.check_inputs(args)

        GRAD_MODE.enabled = False  # forward itself is never recorded
        try:
            if QUIET_FLOAT_ERRORS.depth:  # already quiet (inside a Module call or a backward pass)
                raw_outputs = cls.forward(ctx, *args, **kwargs)
            else:
                with QUIET_FLOAT_ERRORS:
                    raw_outputs = cls.forward(ctx, *args, **kwargs)
        finally:
            GRAD_MODE.enabled = previous_mode
        is_tuple = isinstance(raw_outputs, tuple)
        if is_tuple:
            outputs = tuple(_as_tensor(out, args) for out in raw_outputs)
        else:
            outputs = (_as_tensor(raw_outputs, args),)

        if ANOMALY_MODE.enabled and not ANOMALY_MODE.in_backward:
            check_forward_anomaly(cls.__name__, args, outputs)

        if record:
            _record(ctx, args, outputs, needs_input_grad)
        return outputs if is_tuple else outputs[0]


def _check_one_device(cls: type, args: tuple[Any, ...]) -> None:
    """All tensor inputs of one op must live on one device (PyTorch's rule): NumPy cannot
    read GPU memory, and CuPy does not copy host arrays silently."""
    arrays = [arg.array for arg in args if isinstance(arg, Tensor)]
    if len(arrays) > 1:
        backend.same_device(cls.__name__, *arrays)


def _as_tensor(output: Any, inputs: tuple[Any, ...]) -> Tensor:
    """A forward result as a new Tensor. An input returned as it is (an identity Function)
    gets a new Tensor object around the same array: recording must never turn the caller's
    input into a node's output."""
    if not isinstance(output, Tensor):
        return Tensor._wrap(output)
    for arg in inputs:
        if output is arg:
            return Tensor._wrap(output.array)
    return output


def _record(ctx: Node, args: tuple[Any, ...], outputs: tuple[Tensor, ...], needs_input_grad: tuple[bool, ...]) -> None:
    """Link ``ctx`` into the graph: parents, input shapes, saved tensors, outputs' grad_fn.

    This runs once per recorded op, so it is written for speed: each output's dtype is
    looked up once, and outputs are told apart from inputs by identity.
    """
    parents = []
    shapes = []
    for arg, needs_grad in zip(args, needs_input_grad):
        if not needs_grad:
            parents.append(None)
            shapes.append(None)
        else:
            parents.append(arg if arg.grad_fn is None else (arg.grad_fn, arg._output_index))
            shapes.append(arg.array.shape)
    ctx.parents = tuple(parents)
    ctx.input_shapes = tuple(shapes)
    if backend.DEVICES_IN_USE:  # where the gradients must go back to (every input is on one device)
        ctx.input_device = next(arg.device for arg in args if isinstance(arg, Tensor))
    dtypes = [out.dtype for out in outputs]
    ctx.output_meta = tuple(zip([out.array.shape for out in outputs], dtypes))

    saved = []
    for tensor in ctx._to_save:
        if tensor is None:
            saved.append((None, None, 0, None))
            continue
        output_index = next((index for index, out in enumerate(outputs) if out is tensor), None)
        if output_index is not None:  # an output: kept as its array (see _rebuild_output)
            saved.append((tensor.array, tensor._version, tensor._version[0], output_index))
        else:
            saved.append((tensor, tensor._version, tensor._version[0], None))
    ctx._saved = saved
    ctx._to_save = ()

    excluded = ctx.__dict__.get("non_differentiable", ())
    for index, (out, dtype) in enumerate(zip(outputs, dtypes)):
        if dtype.is_floating_point and id(out) not in excluded:
            out.grad_fn = ctx
            out._output_index = index
            out._requires_grad = True
    if ANOMALY_MODE.enabled:
        ctx.creation_trace = traceback.format_stack()[:-3]

