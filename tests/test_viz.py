"""tinygrad_edu.viz: DOT text that parses and says the right things, the text tree, the
step-by-step backward trace (same gradients as backward()), and rendering with or without
Graphviz's `dot` program."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as te
import tinygrad_edu.ops as ops
from tinygrad_edu import viz
from tinygrad_edu.autograd.engine import BACKWARD_OBSERVER, observe_backward

# --------------------------------------------------------------------------- a small DOT parser

_TOKEN = re.compile(r'\s+|//[^\n]*|(?P<token>"(?:[^"\\]|\\.)*"|->|[\[\]{}=,;]|[A-Za-z_][A-Za-z_0-9]*|-?[0-9.]+)')


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None, f"DOT: unexpected character at {text[position:position + 30]!r}"
        if match.group("token") is not None:
            tokens.append(match.group("token"))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    if not token.startswith('"'):
        return token
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) == "n" else match.group(1), token[1:-1])


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """Node and edge statements of a ``digraph { ... }``: ({id: attributes}, [(from, to, attributes)])."""
    tokens = _tokens(text)
    assert tokens[0] == "digraph" and tokens[-1] == "}", "DOT: expected digraph ... { ... }"
    position = tokens.index("{") + 1
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []

    def attributes() -> dict[str, str]:
        nonlocal position
        found: dict[str, str] = {}
        if tokens[position] != "[":
            return found
        position += 1
        while tokens[position] != "]":
            name, equals, value = tokens[position:position + 3]
            assert equals == "=", f"DOT: expected name=value, got {tokens[position:position + 3]}"
            found[_unquote(name)] = _unquote(value)
            position += 3
            if tokens[position] == ",":
                position += 1
        position += 1
        return found

    while tokens[position] != "}":
        first = tokens[position]
        position += 1
        if tokens[position] == "->":
            second = tokens[position + 1]
            position += 2
            edges.append((_unquote(first), _unquote(second), attributes()))
        elif first in ("node", "edge", "graph"):
            attributes()
        else:
            assert _unquote(first) not in nodes, f"DOT: node {first} declared twice"
            nodes[_unquote(first)] = attributes()
        assert tokens[position] == ";", f"DOT: expected ';' after a statement, got {tokens[position]!r}"
        position += 1
    for source, target, _ in edges:
        assert source in nodes and target in nodes, f"DOT: edge {source} -> {target} names an undeclared node"
    return nodes, edges


def id_of(nodes: dict[str, dict[str, str]], first_label_line: str) -> str:
    found = [node for node, attributes in nodes.items() if attributes["label"].split("\n")[0] == first_label_line]
    assert len(found) == 1, f"expected one node labelled {first_label_line!r}, found {len(found)}"
    return found[0]


DOT_INSTALLED = shutil.which("dot") is not None

# --------------------------------------------------------------------------- known graphs


def neuron() -> tuple[te.Tensor, dict[str, te.Tensor]]:
    """loss = ((x @ w) + b).sigmoid().sum(), x data, w and b leaves that require grad."""
    x = te.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    w = te.tensor([[0.1], [-0.2]], requires_grad=True)
    b = te.tensor([0.5], requires_grad=True)
    return ((x @ w) + b).sigmoid().sum(), {"x": x, "w": w, "b": b}


class FakeModule:
    """Just what viz needs from an nn.Module: named_parameters() yielding (name, tensor)."""

    def __init__(self, **parameters: te.Tensor) -> None:
        self._parameters = parameters

    def named_parameters(self) -> Any:
        for name, tensor in self._parameters.items():
            yield name.replace("_", "."), tensor


def xor_loss(seed: int) -> tuple[te.Tensor, list[te.Tensor]]:
    rng = np.random.default_rng(seed)
    inputs = te.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=te.float64)
    targets = te.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=te.float64)
    weights = [te.tensor(rng.normal(size=shape), requires_grad=True) for shape in [(2, 2), (2,), (2, 1), (1,)]]
    w1, b1, w2, b2 = weights
    hidden = (inputs @ w1 + b1).sigmoid()
    return (((hidden @ w2 + b2).sigmoid() - targets) ** 2).mean(), weights


# --------------------------------------------------------------------------- to_dot


def test_dot_parses_and_names_every_op() -> None:
    loss, _ = neuron()
    nodes, _ = parse_dot(viz.to_dot(loss))
    op_labels = sorted(attributes["label"] for attributes in nodes.values() if attributes["fillcolor"] == "lightgrey")
    expected = []
    node = loss.grad_fn
    while node is not None:  # this graph is a chain: follow the first input that has a node
        expected.append(node.name())
        node = next((parent[0] for parent in node.parents if type(parent) is tuple), None)
    assert expected == ["SumBackward0", "SigmoidBackward0", "AddBackward0", "MatmulBackward0"]
    assert op_labels == sorted(expected)


def test_dot_edges_follow_the_data_from_inputs_to_output() -> None:
    loss, _ = neuron()
    nodes, edges = parse_dot(viz.to_dot(loss))
    predecessors: dict[str, list[str]] = {node: [] for node in nodes}
    successors: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target, _ in edges:
        predecessors[target].append(source)
        successors[source].append(target)
    # Walk from the output back to the leaves: tensor <- its op <- the op's one non-leaf input <- ...
    ops_seen = []
    current = id_of(nodes, "output")
    while predecessors[current]:
        (op,) = predecessors[current]  # a tensor comes out of exactly one op
        ops_seen.append(nodes[op]["label"])
        inner = [node for node in predecessors[op] if predecessors[node]]
        if not inner:
            break
        (current,) = inner
    assert ops_seen == ["SumBackward0", "SigmoidBackward0", "AddBackward0", "MatmulBackward0"]
    assert successors[id_of(nodes, "output")] == [], "the output is where the data ends"
    for node, attributes in nodes.items():
        if attributes["fillcolor"] == "lightgrey":
            assert len(successors[node]) == 1, "an op points to the one tensor it made"
        elif not predecessors[node]:
            assert attributes["shape"] == "box", "leaves (no incoming edge) are boxes"


def test_dot_styles_data_leaves_parameters_and_ops_differently() -> None:
    loss, tensors = neuron()
    module = FakeModule(**{"0_weight": tensors["w"]})
    nodes, edges = parse_dot(viz.to_dot(loss, module=module, names={tensors["x"]: "x"}))
    weight, bias, data = id_of(nodes, "0.weight"), id_of(nodes, "leaf 1"), id_of(nodes, "x")
    output = id_of(nodes, "output")
    op = next(node for node in nodes if nodes[node]["label"] == "MatmulBackward0")
    styles = {name: (nodes[node]["shape"], nodes[node]["style"], nodes[node]["fillcolor"])
              for name, node in [("parameter", weight), ("leaf", bias), ("data", data), ("output", output), ("op", op)]}
    assert len(set(styles.values())) == len(styles), styles
    assert "requires_grad" in nodes[weight]["label"] and "no grad" in nodes[data]["label"]
    assert (data, op, {"style": "dashed", "label": "saved"}) in edges  # x is known only as Matmul's saved input


def test_dot_labels_names_shapes_dtypes_grads_and_escapes() -> None:
    loss, tensors = neuron()
    tricky = 'w "one"\\two\nthree'
    text = viz.to_dot(loss, names={tensors["w"]: tricky, loss: "loss"})
    nodes, _ = parse_dot(text)
    weight = next(node for node in nodes if nodes[node]["label"].startswith('w "one"'))
    assert nodes[weight]["label"].split("\n")[:4] == ['w "one"\\two', "three", "(2, 1) float32", "requires_grad"]
    assert nodes[id_of(nodes, "loss")]["label"] == "loss\n() float32\nrequires_grad"
    loss.backward()
    nodes, _ = parse_dot(viz.to_dot(loss, names={tensors["w"]: "w"}))
    assert nodes[id_of(nodes, "w")]["label"].endswith("grad (2, 1)")


def test_dot_of_a_leaf_and_of_shared_inputs() -> None:
    leaf = te.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse_dot(viz.to_dot(leaf))
    assert len(nodes) == 1 and edges == []
    product = leaf * leaf
    nodes, edges = parse_dot(viz.to_dot(product))
    leaf_id = id_of(nodes, "leaf 1")
    assert sorted(attributes["label"] for source, _, attributes in edges if source == leaf_id) == ["input 0", "input 1"]


@pytest.mark.skipif(not DOT_INSTALLED, reason="Graphviz's dot is not installed")
def test_graphviz_accepts_the_dot_text() -> None:
    loss, tensors = xor_loss(0)
    text = viz.to_dot(loss, names={tensors[0]: 'w1 "quoted"'})
    result = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"<svg" in result.stdout and b"MatmulBackward0" in result.stdout


def test_viz_rejects_what_it_cannot_draw() -> None:
    loss, _ = neuron()
    with pytest.raises(TypeError, match="expected a Tensor"):
        viz.to_dot([1.0])
    with pytest.raises(TypeError, match="named_parameters"):
        viz.to_dot(loss, module=object())
    with pytest.raises(TypeError, match="keys of names"):
        viz.to_dot(loss, names={"w": "w"})


# --------------------------------------------------------------------------- render


def test_render_without_dot_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, _ = neuron()
    with pytest.raises(RuntimeError) as error:
        viz.render(loss, tmp_path / "graph.svg")
    message = str(error.value)
    for needed in ["`dot`", "not found", "apt-get install graphviz", "graphviz.org", "to_dot", "Graphviz viewer"]:
        assert needed in message
    assert not (tmp_path / "graph.svg").exists()


def test_render_needs_a_format(tmp_path: Path) -> None:
    loss, _ = neuron()
    with pytest.raises(ValueError, match="suffix"):
        viz.render(loss, tmp_path / "graph")


@pytest.mark.skipif(not DOT_INSTALLED, reason="Graphviz's dot is not installed")
def test_render_writes_svg_and_png(tmp_path: Path) -> None:
    loss, tensors = neuron()
    written = viz.render(loss, str(tmp_path / "graph.svg"), names={tensors["w"]: "w"})
    assert written == tmp_path / "graph.svg" and "<svg" in written.read_text()
    png = viz.render(loss, tmp_path / "graph.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert viz.render(loss, tmp_path / "graph.out", format="svg").read_text().count("<svg") == 1


# --------------------------------------------------------------------------- print_graph


def test_print_graph_of_a_tiny_graph() -> None:
    a = te.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = te.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = (a * b).sum()
    out = io.StringIO()
    text = viz.print_graph(y, file=out, names={a: "a", b: "b"})
    assert out.getvalue() == text
    assert text.splitlines()[2:] == [
        "[1] SumBackward0 -> output () float32 [output, requires_grad]",
        "`-- [2] MulBackward0 -> (3,) float32 [requires_grad]",
        "    |-- a (3,) float32 [leaf, requires_grad]",
        "    `-- b (3,) float32 [leaf, requires_grad]",
    ]


def test_print_graph_prints_a_shared_subgraph_once() -> None:
    a = te.tensor([1.0, 2.0], requires_grad=True)
    hidden = (a * 2.0).exp()
    y = (hidden + hidden.sin()).sum()
    text = viz.graph_text(y, names={a: "a", hidden: "hidden"})
    assert text.count("ExpBackward0 -> hidden (2,) float32") == 1
    assert text.count("ExpBackward0 (see above)") == 1
    assert text.count("a (2,) float32 [leaf, requires_grad]") == 1  # below the one expanded ExpBackward0
    assert "saved: data 1 () float32 = 2.0 [data, no grad]" in text


def test_print_graph_of_a_leaf_and_of_a_module(capsys: pytest.CaptureFixture[str]) -> None:
    leaf = te.tensor(3.0, requires_grad=True)
    viz.print_graph(leaf)
    assert "a leaf: no op made it" in capsys.readouterr().out
    loss, tensors = neuron()
    text = viz.graph_text(loss, module=FakeModule(layer_weight=tensors["w"], layer_bias=tensors["b"]))
    assert "layer.weight (2, 1) float32 [parameter, requires_grad]" in text
    assert "layer.bias (1,) float32 [parameter, requires_grad]" in text


def test_print_graph_handles_a_deep_chain_without_recursion() -> None:
    x = te.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    assert viz.graph_text(y).count("MulBackward0") == 3000


# --------------------------------------------------------------------------- trace_backward


def test_trace_backward_of_a_tiny_graph() -> None:
    a = te.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = te.tensor([4.0, 5.0, 6.0], requires_grad=True)
    out = io.StringIO()
    text = viz.trace_backward((a * b).sum(), file=out, names={a: "a", b: "b"})
    assert out.getvalue() == text
    steps = text.split("\n\n")
    assert steps[1].splitlines() == [
        "[1] SumBackward0",
        f"    rule:     {ops.Sum.__doc__.splitlines()[0]}",
        "    upstream: 1.0",
        "    input 0:  [1.0, 1.0, 1.0] -> passed to [2] MulBackward0",
    ]
    assert steps[2].splitlines() == [
        "[2] MulBackward0",
        "    rule:     z = a * b;  dz/da = b, dz/db = a.",
        "    upstream: [1.0, 1.0, 1.0]",
        "    input 0:  [4.0, 5.0, 6.0] -> accumulated into a.grad",
        "    input 1:  [1.0, 2.0, 3.0] -> accumulated into b.grad",
    ]
    assert steps[3].splitlines()[1:] == ["    a.grad = [4.0, 5.0, 6.0]", "    b.grad = [1.0, 2.0, 3.0]"]
    assert a.grad.tolist() == [4.0, 5.0, 6.0]


def test_trace_backward_gives_the_same_gradients_as_backward() -> None:
    loss, weights = xor_loss(1)
    loss.backward()
    expected = [weight.grad.numpy().copy() for weight in weights]
    loss, weights = xor_loss(1)
    text = viz.trace_backward(loss, file=io.StringIO(), names=dict(zip(weights, ["w1", "b1", "w2", "b2"])))
    for name, weight, grad in zip(["w1", "b1", "w2", "b2"], weights, expected):
        assert np.array_equal(weight.grad.numpy(), grad), name
        assert f"accumulated into {name}.grad" in text
    assert [line.split("]")[0] for line in text.splitlines() if line.startswith("[")] == [f"[{n}" for n in range(1, 11)]


def test_trace_backward_sums_the_gradients_of_a_tensor_used_twice() -> None:
    a = te.tensor([1.0, 2.0], requires_grad=True)
    hidden = a * 3.0
    text = viz.trace_backward((hidden * hidden).sum(), file=io.StringIO(), names={a: "a"})
    mul_of_a = text.split("\n\n")[3]
    # y = sum(h * h), h = 3a: dy/dh = h + h = [6, 12] arrives as two parts; dy/da = 3 dy/dh.
    assert "upstream: [6.0, 12.0]   (the sum of 2 gradients: this output was used 2 times)" in mul_of_a
    assert "input 0:  [18.0, 36.0] -> accumulated into a.grad" in mul_of_a
    assert a.grad.tolist() == [18.0, 36.0]


def test_trace_backward_with_a_gradient_and_retain_graph() -> None:
    a = te.tensor([[1.0, -1.0], [2.0, 0.5]], requires_grad=True)
    y = a.relu()
    text = viz.trace_backward(y, te.tensor([[1.0, 2.0], [3.0, 4.0]]), file=io.StringIO(), retain_graph=True)
    assert "seeded with gradient [[1.0, 2.0], [3.0, 4.0]]" in text
    assert "input 0:  [[1.0, 0.0], [3.0, 4.0]] -> accumulated into leaf 1.grad" in text
    y.backward(te.ones(2, 2))  # the graph was retained
    assert a.grad.tolist() == [[2.0, 0.0], [4.0, 5.0]]


def test_trace_backward_of_a_leaf() -> None:
    leaf = te.tensor(2.0, requires_grad=True)
    text = viz.trace_backward(leaf, file=io.StringIO())
    assert "straight into its .grad" in text and "output.grad = 1.0" in text


def test_every_primitive_states_its_rule_on_its_first_docstring_line() -> None:
    for name in ops.__all__:
        first_line = getattr(ops, name).__doc__.splitlines()[0]
        assert ";" in first_line and first_line.rstrip().endswith("."), f"{name}: {first_line!r}"


def test_observer_is_called_per_node_and_removed_afterwards() -> None:
    seen: list[tuple[str, int, int]] = []
    a = te.tensor([1.0, 2.0], requires_grad=True)
    y = (a.exp() * 2.0).sum()
    with pytest.raises(ZeroDivisionError):
        with observe_backward(lambda node, outs, ins: seen.append((node.name(), len(outs), len(ins)))):
            y.backward(retain_graph=True)
            raise ZeroDivisionError
    assert seen == [("SumBackward0", 1, 3), ("MulBackward0", 1, 2), ("ExpBackward0", 1, 1)]
    assert BACKWARD_OBSERVER.callback is None
    y.backward()
    assert len(seen) == 3


def test_format_values_is_short_for_big_arrays() -> None:
    assert viz.format_values(te.arange(4.0).reshape(2, 2)) == "[[0.0, 1.0], [2.0, 3.0]]"
    big = te.arange(100.0).reshape(10, 10)
    assert viz.format_values(big) == "shape (10, 10): [0.0, 1.0, 2.0, 3.0, ...] (min 0.0, max 99.0)"
    assert viz.format_values(te.tensor(1 / 3)) == "0.3333"
