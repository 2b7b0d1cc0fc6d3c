"""The backward pass: reverse-mode automatic differentiation over the recorded nodes.

``loss.backward()`` comes here. The steps:

1. **Order.** :func:`topological_order` lists every node reachable from the roots so that a
   node comes after every node that consumes its outputs. It walks the graph with an
   explicit stack, not recursion, so a chain of 100,000 ops needs no deep Python stack,
   and it visits each node once, so the time is linear in the size of the graph.
2. **Seed.** The root's gradient (1 for a scalar loss) goes into its node's buffer.
3. **Sweep.** For each node in that order, the gradients of its outputs are complete (all
   consumers came earlier), so its ``backward`` turns them into gradients of its inputs
   (the chain rule). Each input gradient is summed down to the input's shape
   (:func:`~tinygrad_edu.broadcasting.unbroadcast`, the one place broadcasting is undone)
   and *added* to what that input has received so far: a tensor used twice gets the sum.
4. **Leaves.** Leaf tensors (parameters, inputs with ``requires_grad=True``) receive their
   total gradient last, through their hooks, into ``.grad`` (accumulating across calls).
5. **Free.** Unless ``retain_graph=True``, each node drops its saved tensors once used, so
   the memory of a training step is returned as soon as ``backward()`` ends.

With ``create_graph=False`` (the usual case) the sweep runs with grad mode off: the Tensor
ops inside the backward rules record nothing. With ``create_graph=True`` they are
recorded, so the gradients are differentiable tensors (grad of grad, Hessian-vector
products).

Watching the sweep: inside ``with observe_backward(callback):`` every node the sweep runs
is also reported to ``callback(node, grad_outputs, grad_inputs)``; ``viz.trace_backward``
prints a learner's trace from it. Unwatched, the sweep pays one ``is not None`` test per node.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd.anomaly import ANOMALY_MODE, check_backward_anomaly
from tinygrad_edu.autograd.function import Node
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.broadcasting import unbroadcast
from tinygrad_edu.tensor import Tensor

# ``callback(node, grad_outputs, grad_inputs)``: see :func:`observe_backward`.
BackwardObserver = Callable[[Node, list[Tensor], list[Tensor | None]], None]


class _ObserverSlot:
    """The single place where the current observer of backward sweeps is kept (or None)."""

    __slots__ = ("callback",)

    def __init__(self) -> None:
        self.callback: BackwardObserver | None = None


BACKWARD_OBSERVER = _ObserverSlot()


@contextmanager
def observe_backward(callback: BackwardObserver) -> Iterator[None]:
    """Report every node run by the backward sweeps started inside this block.

    After a node's backward rule has run, ``callback(node, grad_outputs, grad_inputs)`` is
    called with the gradients of the node's outputs (after their hooks) and, for each entry
    of ``node.parents``, the gradient passed on to that input (already summed to the input's
    shape and cast to its dtype), or None where no gradient went. The callback must only
    look: the gradients it sees are the ones the sweep goes on using. Sweeps of ``grad()``
    and nested sweeps started inside the block are reported too. The previous observer is
    restored on exit.
    """
    previous = BACKWARD_OBSERVER.callback
    BACKWARD_OBSERVER.callback = callback
    try:
        yield
    finally:
        BACKWARD_OBSERVER.callback = previous


def topological_order(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each after all the nodes that consume it.

    Depth-first search with an explicit stack: a node is appended to ``finished`` once all
    its parents are finished, so ``finished`` runs from the leaves up to the roots; reversed,
    it runs from the roots down, which is the order the backward sweep needs.
    """
    finished: list[Node] = []
    visited: set[Node] = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(_parent_nodes(root)))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in visited:
                    visited.add(parent)
                    stack.append((parent, iter(_parent_nodes(parent))))
                    break
            else:  # every parent is finished
                stack.pop()
                finished.append(node)
    finished.reverse()
    return finished


def _parent_nodes(node: Node) -> list[Node]:
    return [parent[0] for parent in node.parents if type(parent) is tuple]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves."""
    roots = _roots(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(roots, retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than stored.

    No ``.grad`` is touched. Only the part of the graph between the outputs and the inputs
    is run. With ``create_graph=True`` the results are differentiable. ``only_inputs`` is
    accepted and ignored, as in PyTorch (where it is deprecated); ``materialize_grads=True``
    returns zeros instead of None for unused inputs.
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True (vmap over grad_outputs) is not supported")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True (or left unset)")
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor) or not tensor.requires_grad:
            raise RuntimeError(f"grad: input {index} does not require grad, so no gradient can be taken with respect to it")
    roots = _roots(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(roots, retain_graph, create_graph, capture=inputs)
    results = []
    for index, tensor in enumerate(inputs):
        result = captured.get(_slot(tensor))
        if result is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {index} (shape {tensor.shape}) was not used in the graph of the outputs; "
                f"pass allow_unused=True to get None for it"
            )
        if result is None and materialize_grads:
            result = Tensor._wrap(backend.zeros(tensor.shape, tensor.dtype, tensor.device))
        results.append(result)
    return tuple(results)


def _slot(tensor: Tensor) -> Any:
    """Where a tensor's gradient is collected: its node output, or the leaf itself."""
    return tensor if tensor.grad_fn is None else (tensor.grad_fn, tensor._output_index)


def _roots(tensors: Any, grads: Any, caller: str) -> list[tuple[Tensor, Tensor]]:
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grads is None:
        grads = [None] * len(tensors)
    elif isinstance(grads, Tensor):
        grads = [grads]
    else:
        grads = list(grads)
    if len(grads) != len(tensors):
        raise RuntimeError(f"{caller}: got {len(tensors)} tensors but {len(grads)} gradients")
    roots = []
    for index, (tensor, gradient) in enumerate(zip(tensors, grads)):
        if not tensor.requires_grad:
            if not tensor.dtype.is_floating_point:
                raise RuntimeError(
                    f"{caller}: tensor {index} has dtype {tensor.dtype}; only floating point tensors "
                    f"have gradients, so there is nothing to back-propagate"
                )
            raise RuntimeError(f"{caller}: element {index} of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if tensor.numel() != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs; tensor {index} has "
                    f"shape {tensor.shape}, so pass gradient= (a tensor of that shape)"
                )
            gradient = Tensor._wrap(backend.array_namespace(tensor.array).ones(tensor.shape, tensor.array.dtype))
        else:
            gradient = gradient if isinstance(gradient, Tensor) else Tensor(gradient, dtype=tensor.dtype,
                                                                            device=tensor.device)
            if backend.DEVICES_IN_USE and gradient.device != tensor.device:
                raise RuntimeError(f"{caller}: gradient {index} is on {gradient.device} but the tensor is on "
                                   f"{tensor.device}; move it with .to({str(tensor.device)!r})")
            if gradient.shape != tensor.shape:
                raise RuntimeError(
                    f"{caller}: gradient {index} has shape {gradient.shape} but the tensor has shape {tensor.shape}"
                )
            if gradient.dtype != tensor.dtype:
                gradient = gradient.to(tensor.dtype)
        roots.append((tensor, gradient))
    return roots


def run_backward(roots: list[tuple[Tensor, Tensor]], retain_graph: bool, create_graph: bool,
                 capture: Sequence[Tensor] | None = None) -> dict[Any, Tensor]:
    """The sweep described in the module docstring.

    Without ``capture``, leaf gradients are accumulated into ``.grad``. With ``capture`` (a
    list of tensors, from :func:`grad`), their total gradients are returned instead, keyed by
    :func:`_slot`, and only the nodes that lead to them are run.
    """
    buffers: dict[Node, list[Tensor | None]] = {}  # node -> gradient of each of its outputs
    leaf_grads: dict[Tensor, Tensor] = {}  # leaf tensor -> its total gradient
    owned: set[int] = set()  # ids of leaf gradients that only the sweep holds (see _owns_its_memory)
    root_nodes = []
    for tensor, gradient in roots:
        if tensor.grad_fn is None:
            _add_leaf_grad(leaf_grads, tensor, gradient)
        else:
            _add_node_grad(buffers, tensor.grad_fn, tensor._output_index, gradient)
            root_nodes.append(tensor.grad_fn)
    order = topological_order(root_nodes)

    targets = {_slot(tensor) for tensor in capture} if capture is not None else set()
    needed = _nodes_leading_to(order, targets) if capture is not None else None
    captured: dict[Any, Tensor] = {}
    observer = BACKWARD_OBSERVER.callback
    recording = tracing.recording_now()  # jit.capture writes this sweep down, as NumPy calls
    if recording is not None and (create_graph or observer is not None):
        recording.refuse("the step calls backward with create_graph=True or under observe_backward")

    previous_mode, previous_in_backward = GRAD_MODE.enabled, ANOMALY_MODE.in_backward
    GRAD_MODE.enabled = create_graph
    ANOMALY_MODE.in_backward = True
    try:
        with backend.quiet_float_errors():
            for node in order:
                grad_outputs = buffers.pop(node, None)
                if grad_outputs is None or (needed is not None and node not in needed):
                    continue
                grad_outputs = _complete_and_hook(node, grad_outputs, create_graph, targets, captured)
                grad_inputs = _run_node(node, grad_outputs, buffers, leaf_grads, owned)
                if observer is not None:
                    observer(node, grad_outputs, grad_inputs)
                if not retain_graph:
                    node._saved = None
                    node.freed = True
            for leaf, gradient in leaf_grads.items():
                exclusive = not leaf._hooks and id(gradient) in owned  # a hook may keep what it sees
                for hook in leaf._hooks:
                    gradient = _run_hook(hook, gradient)
                if capture is not None:
                    if leaf in targets:
                        captured[leaf] = _fresh(gradient, create_graph)
                elif recording is not None:  # into .grad, as a call that every replay makes
                    recording.store_grad(leaf, gradient, exclusive)
                else:
                    accumulate_grad(leaf, gradient, create_graph, exclusive)
    finally:
        GRAD_MODE.enabled = previous_mode
        ANOMALY_MODE.in_backward = previous_in_backward
    return captured


def _run_node(node: Node, grad_outputs: list[Tensor], buffers: dict[Node, list[Tensor | None]],
              leaf_grads: dict[Tensor, Tensor], owned: set[int]) -> list[Tensor | None]:
    """Apply one node's backward rule and pass each input gradient on to that input.

    Returns, for each entry of ``node.parents``, the gradient passed on (None where none was).
    """
    grad_inputs = node.function.backward(node, *grad_outputs)
    if not isinstance(grad_inputs, tuple):
        grad_inputs = (grad_inputs,)
    if len(grad_inputs) < len(node.parents):
        raise RuntimeError(
            f"{node.name()}: backward returned {len(grad_inputs)} gradients but forward had "
            f"{len(node.parents)} inputs (return None for inputs that need no gradient)"
        )
    if ANOMALY_MODE.enabled:
        check_backward_anomaly(node, grad_outputs, grad_inputs)
    passed_on: list[Tensor | None] = [None] * len(node.parents)
    builtin = node.function.__module__.startswith("tinygrad_edu.ops.")
    for position, (parent, shape, gradient) in enumerate(zip(node.parents, node.input_shapes, grad_inputs)):
        if parent is None or gradient is None:
            continue
        if not isinstance(gradient, Tensor):
            raise TypeError(
                f"{node.name()}: backward returned a {type(gradient).__name__} as the gradient of input "
                f"{position}; return a Tensor (or None)"
            )
        if backend.DEVICES_IN_USE and node.__dict__.get("input_device", gradient.device) != gradient.device:
            raise RuntimeError(f"{node.name()}: backward returned a gradient on {gradient.device} for input "
                               f"{position}, which is on {node.__dict__['input_device']}")
        expected_dtype = parent.dtype if type(parent) is not tuple else parent[0].output_meta[parent[1]][1]
        if gradient.dtype is not expected_dtype:  # a gradient has its tensor's dtype, as in PyTorch
            gradient = gradient.to(expected_dtype)
        if gradient.shape != shape:
            try:
                gradient = unbroadcast(gradient, shape)
            except RuntimeError:
                raise RuntimeError(
                    f"{node.name()}: backward returned a gradient of shape {gradient.shape} "
                    f"for an input of shape {shape}"
                ) from None
        passed_on[position] = gradient
        if type(parent) is tuple:
            parent_node, output_index = parent
            _add_node_grad(buffers, parent_node, output_index, gradient)
        else:
            fresh = builtin and _owns_its_memory(gradient, position, grad_inputs, grad_outputs)
            _add_leaf_grad(leaf_grads, parent, gradient, owned, fresh)
    return passed_on


def _run_hook(hook: Callable[[Tensor], Any], gradient: Tensor) -> Tensor:
    """A tensor hook's result: the gradient it returns instead (of the same shape, as in
    PyTorch), or the gradient itself when it returns None."""
    if tracing.recording_now() is not None:
        tracing.recording_now().refuse(f"a gradient hook ({getattr(hook, '__name__', hook)!r}) runs in the step")
    replaced = hook(gradient)
    if replaced is None:
        return gradient
    if not isinstance(replaced, Tensor) or replaced.shape != gradient.shape:
        shape = replaced.shape if isinstance(replaced, Tensor) else type(replaced).__name__
        raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} changed the shape of the gradient "
                           f"from {gradient.shape} to {shape}; a hook must return a gradient of the same shape")
    return replaced


def _complete_and_hook(node: Node, grad_outputs: list[Tensor | None], create_graph: bool,
                       targets: set[Any], captured: dict[Any, Tensor]) -> list[Tensor]:
    """Fill in zeros for outputs that got no gradient, then run the outputs' hooks,
    ``retain_grad`` and ``grad(..., inputs=)`` captures."""
    completed = []
    for index, gradient in enumerate(grad_outputs):
        if gradient is None:  # on the device of a gradient that did arrive (one always did)
            shape, dtype = node.output_meta[index]
            present = next(other for other in grad_outputs if other is not None)
            gradient = Tensor._wrap(backend.zeros(shape, dtype, present.device))
        if node.hooks is not None:
            for hook in node.hooks.get(index, ()):
                gradient = _run_hook(hook, gradient)
        if node.retained is not None and index in node.retained:
            if tracing.recording_now() is not None:
                tracing.recording_now().refuse("the step uses retain_grad()")
            tensor = node.retained[index]()
            if tensor is not None:
                accumulate_grad(tensor, gradient, create_graph)
        if (node, index) in targets:
            captured[(node, index)] = _fresh(gradient, create_graph)
        completed.append(gradient)
    return completed


def _add_node_grad(buffers: dict[Node, list[Tensor | None]], node: Node, index: int, gradient: Tensor) -> None:
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * len(node.output_meta)
    slots[index] = gradient if slots[index] is None else slots[index] + gradient


def _add_leaf_grad(leaf_grads: dict[Tensor, Tensor], leaf: Tensor, gradient: Tensor,
                   owned: set[int] | None = None, fresh: bool = False) -> None:
    """Add ``gradient`` to the leaf's total. ``owned`` collects the ids of the totals that
    only this sweep holds (``fresh`` says whether ``gradient`` is one): ids are only kept
    for tensors that ``leaf_grads`` keeps alive, so a freed tensor's id, which Python may
    give to a new object, is never in it."""
    previous = leaf_grads.get(leaf)
    if previous is None:
        leaf_grads[leaf] = gradient
        if owned is not None and fresh:
            owned.add(id(gradient))
        return
    total = leaf_grads[leaf] = previous + gradient  # a new array that only this leaf holds
    if owned is not None:
        owned.discard(id(previous))
        owned.add(id(total))


def _nodes_leading_to(order: list[Node], targets: set[Any]) -> set[Node]:
    """The nodes from which some target can be reached (the rest need not run)."""
    needed: set[Node] = set()
    for node in reversed(order):  # producers before consumers
        for index in range(len(node.output_meta)):
            if (node, index) in targets:
                needed.add(node)
        for parent in node.parents:
            if parent is None:
                continue
            if (type(parent) is tuple and parent[0] in needed) or (type(parent) is not tuple and parent in targets):
                needed.add(node)
    return needed


def _owns_its_memory(gradient: Tensor, position: int, grad_inputs: tuple[Any, ...],
                     grad_outputs: list[Tensor]) -> bool:
    """Whether a leaf's gradient from a built-in rule may become ``.grad`` as it is, without
    the defensive copy: its array owns its memory (not a view of another array), and the
    tensor is neither the node's upstream gradient passed on as it is (``Add``, ``Clone``:
    that tensor may also be the caller's seed, a hook's, or a sibling's) nor returned for a
    second input too. Built-in rules make every other gradient fresh; a custom
    ``Function`` might return a tensor it keeps, so its gradients are always copied, and
    so is anything a leaf's hook has seen.

    PyTorch avoids the same copy (it "steals" a gradient nobody else uses): big gradients,
    an MLP's weights, then cost no copy per step.
    """
    if getattr(gradient.array, "base", True) is not None or gradient.grad_fn is not None:
        return False
    if any(gradient is upstream for upstream in grad_outputs):
        return False
    return not any(gradient is other for index, other in enumerate(grad_inputs) if index != position)


def _fresh(gradient: Tensor, create_graph: bool) -> Tensor:
    """A gradient that shares memory with nothing else (the upstream gradient, a sibling's).
    With ``create_graph`` it stays the graph's own tensor, so that it can be differentiated."""
    if create_graph:
        return gradient
    return Tensor._wrap(gradient.array.copy())


def accumulate_grad(tensor: Tensor, gradient: Tensor, create_graph: bool, owned: bool = False) -> None:
    """``tensor.grad += gradient``, as PyTorch does: the first gradient is stored as a fresh
    copy (or as it is, when ``owned``: nothing else holds its memory); later ones are added
    in place, or out of place when the gradients carry a graph."""
    if tensor.grad is None:
        if owned and not create_graph:
            tensor.grad = gradient
        else:
            tensor.grad = gradient.clone() if create_graph else _fresh(gradient, create_graph)
    elif create_graph or tensor.grad.requires_grad:
        tensor.grad = tensor.grad + gradient
    else:
        tensor.grad.array += gradient.array
