"""Look inside autograd: draw the graph of a tiny XOR network's loss, then follow its
backward pass op by op.

Run:  python examples/graph.py [--out DIRECTORY]

Writes xor_graph.dot (Graphviz text) and, when Graphviz's `dot` program is installed,
xor_graph.svg into DIRECTORY (the current directory by default).
"""
import argparse
from pathlib import Path

import tinygrad_edu as te
from tinygrad_edu.viz import print_graph, render, to_dot, trace_backward

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("."), help="directory for xor_graph.dot and .svg")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

te.manual_seed(0)

# The XOR truth table, and a 2-2-1 network with sigmoid units (plain leaf tensors as weights).
X = te.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = te.tensor([[0.0], [1.0], [1.0], [0.0]])
w1 = te.randn(2, 2, requires_grad=True)
b1 = te.zeros(2, requires_grad=True)
w2 = te.randn(2, 1, requires_grad=True)
b2 = te.zeros(1, requires_grad=True)

hidden = (X @ w1 + b1).sigmoid()
prediction = (hidden @ w2 + b2).sigmoid()
loss = ((prediction - y) ** 2).mean()

# Labels for the drawings; tensors without one get "leaf 1", "data 2", ...
names = {X: "X", w1: "w1", b1: "b1", w2: "w2", b2: "b2", hidden: "hidden", loss: "loss"}

# 1. The graph as text: from the loss down to the leaves. Needs nothing installed.
print_graph(loss, names=names)

# 2. The graph as Graphviz DOT text, and as an SVG picture if Graphviz is installed.
dot_path = args.out / "xor_graph.dot"
dot_path.write_text(to_dot(loss, names=names))
print(f"\nwrote {dot_path}")
try:
    print(f"wrote {render(loss, args.out / 'xor_graph.svg', names=names)}")
except RuntimeError as error:  # `dot` is missing: the message says how to install it
    print(f"no SVG: {error}")

# 3. The backward pass, step by step: what each op receives, its rule, what it passes on.
print()
trace_backward(loss, names=names)
