"""Pictures of the graph behind a tensor, and a step-by-step trace of its backward pass.

Three views of the graph that ``Function.apply`` recorded (``autograd/function.py``), for
learners:

- :func:`to_dot`: Graphviz DOT text, one node per tensor and one per op, edges in the
  direction the data flowed (inputs -> op -> output). Paste it into any Graphviz viewer, or
  let :func:`render` run Graphviz's ``dot`` program to write an SVG or PNG file.
- :func:`graph_text` (and :func:`print_graph`, which prints it): the same graph as an
  indented tree from the output down to the leaves; it needs nothing installed.
- :func:`trace_backward`: runs ``backward()`` and prints, op by op in the order the engine
  runs them, the gradient arriving at the op, the op's local rule (the first line of its
  Function's docstring) and where each input's gradient went: the chain rule, step by step.

Usage::

    from tinygrad_edu.viz import print_graph, to_dot, trace_backward

    loss = ((x @ w + b).sigmoid() - y).pow(2).mean()
    print_graph(loss, names={w: "w", b: "b"})
    with open("graph.dot", "w") as file:
        file.write(to_dot(loss, names={w: "w", b: "b"}))
    trace_backward(loss, names={w: "w", b: "b"})

Every view takes ``names``, a dict ``{tensor: "label"}``, and ``module``, anything with
``named_parameters()`` (an ``nn.Module``), whose parameters are then labelled with their
dotted names (``0.weight``). Ops are numbered ``[1]``, ``[2]``, ... in the order that
``backward()`` runs them, the same numbers in every view.

What the graph knows. It keeps ops (``Node``s) and the leaves that need a gradient, not
the intermediate tensors: an intermediate is described by the shape and dtype its op
recorded (``Node.output_meta``). Inputs that need no gradient (data, constants) are not
linked at all; those that an op saved for its backward pass (``X`` in ``X @ w``) are drawn,
dashed, until ``backward()`` frees them (or always, with ``retain_graph=True``).

The kinds of tensor, and how :func:`to_dot` draws them:

=============  ===============================================  ==========================
kind           what it is                                       drawn as
=============  ===============================================  ==========================
data           a leaf that needs no gradient (input, constant)  white box, dashed border
leaf           a leaf with ``requires_grad=True``               light blue box
parameter      a leaf named by ``module.named_parameters()``    green box
intermediate   the output of an op inside the graph             light yellow ellipse
output         the tensor the picture is drawn from             orange ellipse
(op)           one recorded op call, e.g. ``MulBackward0``      grey rounded box
=============  ===============================================  ==========================
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TextIO

from tinygrad_edu import backend
from tinygrad_edu.autograd.engine import observe_backward, topological_order
from tinygrad_edu.autograd.function import Node
from tinygrad_edu.backend import DType
from tinygrad_edu.tensor import Tensor

# A tensor of the picture is known by its place in the graph: ``id(tensor)`` for a leaf,
# ``(node, output_index)`` for the output of an op (the same pair as in ``Node.parents``).
TensorKey = Any

SMALL_ARRAY = 16  # arrays with at most this many elements are printed in full

DOT_STYLES: dict[str, dict[str, str]] = {
    "data": {"shape": "box", "style": "filled,dashed", "fillcolor": "white"},
    "leaf": {"shape": "box", "style": "filled", "fillcolor": "lightblue"},
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "palegreen"},
    "intermediate": {"shape": "ellipse", "style": "filled", "fillcolor": "lightyellow"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "orange"},
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "lightgrey"},
}

DOT_NOT_FOUND = (
    "Graphviz's `dot` program was not found on this computer (shutil.which('dot') found nothing on PATH), "
    "so the graph cannot be drawn as an image. Install Graphviz: on Debian/Ubuntu, the package `graphviz` "
    "(`sudo apt-get install graphviz`); on other systems, see https://graphviz.org/download/. Meanwhile, "
    "viz.to_dot(tensor) returns the DOT text, which can be pasted into any Graphviz viewer, and "
    "viz.print_graph(tensor) prints the graph as text with nothing installed."
)


# ----------------------------------------------------------------------------------------
# what the graph knows: one description shared by every view
# ----------------------------------------------------------------------------------------


@dataclass
class TensorEntry:
    """One tensor of the picture."""

    dot_id: str
    kind: str  # "data", "leaf", "parameter", "intermediate" or "output"
    label: str  # a user's name, a parameter's dotted name, or a short default ("" for none)
    shape: tuple[int, ...]
    dtype: DType
    requires_grad: bool
    grad_shape: tuple[int, ...] | None = None
    tensor: Tensor | None = None  # the Tensor itself, where the graph holds it (leaves, the output)

    def summary(self) -> str:
        """``w1 (2, 2) float32 [leaf, requires_grad, grad (2, 2)]``."""
        words = [self.label] if self.label else []
        words += [str(self.shape), self.dtype.name]
        if self.kind == "data" and self.tensor is not None and self.tensor.numel() == 1:
            words.append("= " + format_values(self.tensor))
        flags = [self.kind] if self.kind != "intermediate" else []
        flags.append("requires_grad" if self.requires_grad else "no grad")
        if self.grad_shape is not None:
            flags.append(f"grad {self.grad_shape}")
        return " ".join(words) + " [" + ", ".join(flags) + "]"


@dataclass
class OpEntry:
    """One op of the picture: a recorded ``Node`` and the tensors around it."""

    dot_id: str
    node: Node
    step: int  # 1 for the first op that backward() runs, 2 for the next, ...
    # (position in node.parents, or None for an input known only as a saved tensor; its key)
    inputs: list[tuple[int | None, TensorKey]] = field(default_factory=list)
    outputs: list[TensorKey] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name()

    @property
    def rule(self) -> str:
        return local_rule(self.node)


@dataclass
class GraphDescription:
    """Every tensor and op reachable from one output, each named and numbered once."""

    root: TensorKey = None
    tensors: dict[TensorKey, TensorEntry] = field(default_factory=dict)
    ops: dict[Node, OpEntry] = field(default_factory=dict)  # in the order backward() runs them

    def consumer_counts(self) -> dict[TensorKey, int]:
        """How many op inputs read each tensor (its gradient is the sum of that many parts)."""
        counts: dict[TensorKey, int] = {}
        for op in self.ops.values():
            for position, key in op.inputs:
                if position is not None:
                    counts[key] = counts.get(key, 0) + 1
        return counts


def local_rule(node: Node) -> str:
    """The first line of the op's docstring: by convention, its backward rule."""
    doc = node.function.__dict__.get("__doc__")  # the op's own, not the base class's
    if not doc or not doc.strip():
        return f"(no docstring; the rule is in {node.function.__name__}.backward)"
    return doc.strip().splitlines()[0].strip()


def _key(tensor: Tensor) -> TensorKey:
    return id(tensor) if tensor.grad_fn is None else (tensor.grad_fn, tensor._output_index)


def _user_labels(module: Any, names: Mapping[Tensor, str] | None) -> tuple[dict[TensorKey, str], set[TensorKey]]:
    """Labels from ``module.named_parameters()`` and from ``names`` (which wins), and the
    keys of the module's parameters."""
    labels: dict[TensorKey, str] = {}
    parameters: set[TensorKey] = set()
    if module is not None:
        if not callable(getattr(module, "named_parameters", None)):
            raise TypeError(f"viz: module must have named_parameters() (an nn.Module), got {type(module).__name__}")
        for name, parameter in module.named_parameters():
            if not isinstance(parameter, Tensor):
                raise TypeError(f"viz: module.named_parameters() gave {name!r} as a "
                                f"{type(parameter).__name__}, not a Tensor")
            labels[_key(parameter)] = name
            parameters.add(_key(parameter))
    for tensor, label in (names or {}).items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"viz: the keys of names must be Tensors, got a {type(tensor).__name__}")
        labels[_key(tensor)] = str(label)
    return labels, parameters


def _saved_data_inputs(node: Node) -> list[Tensor]:
    """The tensors an op saved for backward that are leaves needing no gradient (data,
    constants): the graph's only link to them. ``Node._saved`` holds one
    ``(tensor, version_counter, version, output_index)`` entry per saved tensor (see
    ``_record`` in autograd/function.py); it is None once backward() has freed the node."""
    if node._saved is None:
        return []
    return [tensor for tensor, _counter, _version, output_index in node._saved
            if output_index is None and isinstance(tensor, Tensor)
            and tensor.grad_fn is None and not tensor.requires_grad]


def describe_graph(tensor: Tensor, module: Any = None, names: Mapping[Tensor, str] | None = None) -> GraphDescription:
    """Walk the graph behind ``tensor`` once and name everything in it (see the module docstring)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(tensor).__name__}")
    labels, parameters = _user_labels(module, names)
    graph = GraphDescription()
    default_counts = {"leaf": 0, "data": 0}

    def add_leaf(leaf: Tensor, default_label: str | None = None) -> TensorKey:
        key = id(leaf)
        if key not in graph.tensors:
            kind = "parameter" if key in parameters else "leaf" if leaf.requires_grad else "data"
            label = labels.get(key, default_label)
            if label is None:
                counted = "data" if kind == "data" else "leaf"
                default_counts[counted] += 1
                label = f"{counted} {default_counts[counted]}"
            graph.tensors[key] = TensorEntry(f"tensor{len(graph.tensors) + 1}", kind, label, leaf.shape, leaf.dtype,
                                             leaf.requires_grad, _shape_of(leaf.grad), leaf)
        return key

    if tensor.grad_fn is None:
        graph.root = add_leaf(tensor, default_label="output")
        return graph

    graph.root = _key(tensor)
    graph.tensors[graph.root] = TensorEntry("tensor1", "output", labels.get(graph.root, "output"), tensor.shape,
                                            tensor.dtype, tensor.requires_grad, _shape_of(tensor.grad), tensor)
    # Consumers come before producers in this order, so an op's outputs are known when it is reached.
    for step, node in enumerate(topological_order([tensor.grad_fn]), start=1):
        op = OpEntry(f"op{step}", node, step)
        for position, parent in enumerate(node.parents):
            if parent is None:
                continue
            if type(parent) is tuple:
                key = parent
                if key not in graph.tensors:
                    shape, dtype = parent[0].output_meta[parent[1]]
                    graph.tensors[key] = TensorEntry(f"tensor{len(graph.tensors) + 1}", "intermediate",
                                                     labels.get(key, ""), shape, dtype, True, _retained_grad_shape(key))
            else:
                key = add_leaf(parent)
            op.inputs.append((position, key))
        for saved in _saved_data_inputs(node):
            op.inputs.append((None, add_leaf(saved)))
        op.outputs = [(node, index) for index in range(len(node.output_meta)) if (node, index) in graph.tensors]
        graph.ops[node] = op
    return graph


def _shape_of(gradient: Tensor | None) -> tuple[int, ...] | None:
    return None if gradient is None else gradient.shape


def _retained_grad_shape(key: tuple[Node, int]) -> tuple[int, ...] | None:
    """The ``.grad`` shape of an intermediate that called ``retain_grad()``, if it still lives."""
    node, index = key
    if node.retained is None or index not in node.retained:
        return None
    tensor = node.retained[index]()
    return None if tensor is None else _shape_of(tensor.grad)


# ----------------------------------------------------------------------------------------
# DOT text and rendering
# ----------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, newlines as DOT's ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _attributes(attributes: Mapping[str, str]) -> str:
    return "[" + ", ".join(f"{name}={_quote(value)}" for name, value in attributes.items()) + "]"


def _tensor_dot_label(entry: TensorEntry) -> str:
    lines = [entry.label] if entry.label else []
    lines.append(f"{entry.shape} {entry.dtype.name}")
    if entry.kind == "data" and entry.tensor is not None and entry.tensor.numel() == 1:
        lines.append("value " + format_values(entry.tensor))
    lines.append("requires_grad" if entry.requires_grad else "no grad")
    if entry.grad_shape is not None:
        lines.append(f"grad {entry.grad_shape}")
    return "\n".join(lines)


def _edge(source: str, target: str, attributes: Mapping[str, str]) -> str:
    return f"    {source} -> {target}" + (f" {_attributes(attributes)}" if attributes else "") + ";"


def to_dot(tensor: Tensor, module: Any = None, names: Mapping[Tensor, str] | None = None) -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    One node per tensor (label, shape, dtype, requires_grad, and ``.grad``'s shape once
    computed), styled by kind (see the module docstring), and one node per op (its
    ``...Backward0`` name; hovering over it in an SVG shows its backward rule). Edges follow
    the data: input -> op -> output. ``module`` (anything with ``named_parameters()``)
    labels parameters with their dotted names; ``names`` is a dict ``{tensor: "label"}``.
    """
    graph = describe_graph(tensor, module, names)
    lines = [
        "// tinygrad_edu autograd graph: data flows from the leaves (top) to the output (bottom).",
        "digraph autograd {",
        '    node [fontname="Helvetica", fontsize="10"];',
        '    edge [fontname="Helvetica", fontsize="9"];',
    ]
    for entry in graph.tensors.values():
        attributes = {"label": _tensor_dot_label(entry), **DOT_STYLES[entry.kind], "tooltip": entry.kind}
        lines.append(f"    {entry.dot_id} {_attributes(attributes)};")
    for op in graph.ops.values():
        attributes = {"label": op.name, **DOT_STYLES["op"], "tooltip": f"[{op.step}] {op.rule}"}
        lines.append(f"    {op.dot_id} {_attributes(attributes)};")
    for op in graph.ops.values():
        several_inputs = len(op.inputs) > 1
        for position, key in op.inputs:
            if position is None:
                edge = {"style": "dashed", "label": "saved"}
            else:
                edge = {"label": f"input {position}"} if several_inputs else {}
            lines.append(_edge(graph.tensors[key].dot_id, op.dot_id, edge))
        several_outputs = len(op.node.output_meta) > 1
        for key in op.outputs:
            edge = {"label": f"output {key[1]}"} if several_outputs else {}
            lines.append(_edge(op.dot_id, graph.tensors[key].dot_id, edge))
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor: Tensor, path: str | Path, format: str | None = None, **to_dot_kwargs: Any) -> Path:  # noqa: A002
    """Draw the graph of ``tensor`` into an image file with Graphviz's ``dot`` program.

    The format (``svg``, ``png``, ``pdf``, ...) is the path's suffix unless ``format`` is
    given; ``to_dot_kwargs`` (``module=``, ``names=``) go to :func:`to_dot`. Returns the path
    written. Raises a RuntimeError saying how to install Graphviz when ``dot`` is missing.
    """
    path = Path(path)
    if format is None:
        format = path.suffix.lstrip(".").lower()
        if not format:
            raise ValueError(f"render: cannot tell the image format of {str(path)!r}; "
                             f"give the path a suffix (.svg, .png, .pdf) or pass format=")
    text = to_dot(tensor, **to_dot_kwargs)
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("render: " + DOT_NOT_FOUND)
    result = subprocess.run([program, f"-T{format}", "-o", str(path)], input=text.encode("utf-8"),
                            capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip()
        raise RuntimeError(f"render: Graphviz's dot failed (exit status {result.returncode}) "
                           f"writing {str(path)!r} as {format!r}: {message}")
    return path


# ----------------------------------------------------------------------------------------
# the graph as text
# ----------------------------------------------------------------------------------------


def graph_text(tensor: Tensor, module: Any = None, names: Mapping[Tensor, str] | None = None) -> str:
    """The graph behind ``tensor`` as an indented tree, from the output down to the leaves.

    Each op is a line ``[step] NameBackward0 -> the tensor it made``; below it, its inputs.
    An op that feeds several others is expanded once and then written ``(see above)``.
    Meant for the small graphs a learner reads: each level of the tree is indented further.
    """
    graph = describe_graph(tensor, module, names)
    root = graph.tensors[graph.root]
    if not graph.ops:
        return root.summary() + "  (a leaf: no op made it, so there is no graph behind it)\n"
    lines = ["[n] is the order in which backward() runs the ops; 'saved:' marks an input that needs no",
             "gradient but that the op saved for its backward rule."]
    expanded: set[Node] = set()
    # An explicit stack, not recursion: (tensor key, prefix of its own line, prefix of its children's lines).
    stack: list[tuple[TensorKey, str, str]] = [(graph.root, "", "")]
    while stack:
        key, line_prefix, child_prefix = stack.pop()
        entry = graph.tensors[key]
        if type(key) is not tuple:  # a leaf
            lines.append(line_prefix + entry.summary())
            continue
        op = graph.ops[key[0]]
        made = entry.summary() if key != graph.root else root.summary()
        if op.node in expanded:
            lines.append(f"{line_prefix}[{op.step}] {op.name} (see above)")
            continue
        expanded.add(op.node)
        lines.append(f"{line_prefix}[{op.step}] {op.name} -> {made}")
        children = []
        for number, (position, input_key) in enumerate(op.inputs):
            last = number == len(op.inputs) - 1
            marker = "saved: " if position is None else ""
            children.append((input_key, child_prefix + ("`-- " if last else "|-- ") + marker,
                             child_prefix + ("    " if last else "|   ")))
        stack.extend(reversed(children))
    return "\n".join(lines) + "\n"


def print_graph(tensor: Tensor, file: TextIO | None = None, *, module: Any = None,
                names: Mapping[Tensor, str] | None = None) -> str:
    """Print :func:`graph_text` (to ``file``, standard output by default) and return it."""
    text = graph_text(tensor, module, names)
    print(text, end="", file=file if file is not None else sys.stdout)
    return text


# ----------------------------------------------------------------------------------------
# a backward pass, step by step
# ----------------------------------------------------------------------------------------


def format_number(value: Any) -> str:
    """4 significant digits; whole floats keep a ``.0`` so they still read as floats."""
    if isinstance(value, (bool, int)):
        return str(value)
    text = f"{value:.4g}"
    return text + ".0" if text.lstrip("-").isdigit() else text


def _format_nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_format_nested(value) for value in values) + "]"
    return format_number(values)


def format_values(tensor: Tensor) -> str:
    """Small tensors in full (``[[1.0, 2.0], [3.0, 4.0]]``); big ones as their shape, the
    first few values, and the smallest and largest."""
    if tensor.numel() <= SMALL_ARRAY:
        return _format_nested(tensor.tolist())
    flat = backend.to_host(tensor.array).reshape(-1)
    first = ", ".join(format_number(value) for value in flat[:4].tolist())
    return (f"shape {tensor.shape}: [{first}, ...] "
            f"(min {format_number(flat.min().item())}, max {format_number(flat.max().item())})")


def trace_backward(tensor: Tensor, gradient: Any = None, file: TextIO | None = None,
                   retain_graph: bool | None = None, *, module: Any = None,
                   names: Mapping[Tensor, str] | None = None) -> str:
    """Run ``tensor.backward(gradient, retain_graph)`` and print what each step did.

    For each op, in the order the engine runs it: its backward rule, the upstream gradient
    (the gradient of its output, summed over everything that used that output), and the
    gradient each input received: added to a leaf's ``.grad`` or passed to another op. The
    leaves' ``.grad`` follow. The gradients are exactly those of ``tensor.backward()``: it
    is the same call, watched through ``autograd.engine.observe_backward``. Prints to
    ``file`` (standard output by default) and returns the text.
    """
    graph = describe_graph(tensor, module, names)  # before backward() frees the saved tensors
    root = graph.tensors[graph.root]
    consumer_counts = graph.consumer_counts()
    seed = "1.0" if gradient is None else format_values(gradient if isinstance(gradient, Tensor) else Tensor(gradient))
    lines = [
        f"Backward pass from {root.summary()}, seeded with gradient {seed}.",
        "Each step applies one op's local rule to the gradient of its output (upstream) and passes",
        "the results to its inputs: the chain rule, from the output back to the leaves. A broadcast",
        "input's gradient arrives already summed back to that input's shape.",
    ]

    def describe_step(node: Node, grad_outputs: list[Tensor], grad_inputs: list[Tensor | None]) -> None:
        op = graph.ops.get(node)
        if op is None:  # a sweep started from inside a hook: not part of this graph
            lines.append(f"[?] {node.name()} (outside the traced graph)")
            return
        lines.append("")
        lines.append(f"[{op.step}] {op.name}")
        lines.append(f"    rule:     {op.rule}")
        for index, upstream in enumerate(grad_outputs):
            which = f" (output {index})" if len(grad_outputs) > 1 else ""
            parts = consumer_counts.get((node, index), 1)
            summed = f"   (the sum of {parts} gradients: this output was used {parts} times)" if parts > 1 else ""
            lines.append(f"    upstream{which}: {format_values(upstream)}{summed}")
        for position, passed in enumerate(grad_inputs):
            if passed is None:
                continue
            parent = node.parents[position]
            if type(parent) is tuple:
                producer = graph.ops[parent[0]]
                output = f" (output {parent[1]})" if len(parent[0].output_meta) > 1 else ""
                destination = f"passed to [{producer.step}] {producer.name}{output}"
            else:
                destination = f"accumulated into {graph.tensors[id(parent)].label}.grad"
            lines.append(f"    input {position}:  {format_values(passed)} -> {destination}")

    with observe_backward(describe_step):
        tensor.backward(gradient, retain_graph=retain_graph)

    if not graph.ops:
        lines.append("")
        lines.append("The tensor is a leaf: backward() put the seed gradient straight into its .grad.")
    lines.append("")
    lines.append("Leaf gradients after backward() (.grad accumulates across calls):")
    for entry in graph.tensors.values():
        if entry.kind in ("leaf", "parameter") and entry.tensor is not None and entry.tensor.grad is not None:
            lines.append(f"    {entry.label}.grad = {format_values(entry.tensor.grad)}")
    text = "\n".join(lines) + "\n"
    print(text, end="", file=file if file is not None else sys.stdout)
    return text
