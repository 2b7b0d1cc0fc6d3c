"""Logic gates with a tiny network: XOR, AND, OR and NAND, with no hand-written gradients.

The network is the classic one from hand-written backprop tutorials: 2 inputs, a small
sigmoid hidden layer, 1 sigmoid output, trained with binary cross-entropy. XOR is the
interesting gate: no straight line separates its 1s from its 0s, so it needs the hidden
layer; AND, OR and NAND are linearly separable and learn quickly.

Run:  python examples/xor.py            (or --steps, --hidden, --seed, --device cuda)
"""
from __future__ import annotations

import argparse

import tinygrad_edu as torch
import tinygrad_edu.nn as nn
import tinygrad_edu.optim as optim
from tinygrad_edu.datasets import and_gate, nand_gate, or_gate, xor

GATES = {"XOR": xor, "AND": and_gate, "OR": or_gate, "NAND": nand_gate}


def make_network(hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, hidden),
        nn.Sigmoid(),
        nn.Linear(hidden, 1),
        nn.Sigmoid(),
    )


def train_gate(inputs: torch.Tensor, targets: torch.Tensor, steps: int, hidden: int,
               lr: float) -> tuple[nn.Module, float]:
    """Full-batch training on the 4 rows of the truth table; returns the model and last loss."""
    model = make_network(hidden).to(inputs.device)  # where the data is
    loss_fn = nn.BCELoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, loss.item()


def learned_table(model: nn.Module, inputs: torch.Tensor) -> list[tuple[int, int, float]]:
    """(a, b, predicted probability) for each row of the truth table."""
    with torch.no_grad():
        probabilities = model(inputs)
    return [(int(a), int(b), p) for (a, b), (p,) in zip(inputs.tolist(), probabilities.tolist())]


def main(steps: int = 2000, hidden: int = 4, lr: float = 0.05, seed: int = 0, verbose: bool = True,
         device: str = "cpu") -> dict[str, bool]:
    """Train every gate; returns {gate name: whether all four rows are right}."""
    torch.manual_seed(seed)
    correct = {}
    for name, gate in GATES.items():
        inputs, targets = (tensor.to(device) for tensor in gate())
        model, final_loss = train_gate(inputs, targets, steps, hidden, lr)
        table = learned_table(model, inputs)
        correct[name] = all(round(p) == t for (_, _, p), (t,) in zip(table, targets.tolist()))
        if verbose:
            print(f"{name}  (loss {final_loss:.4f}, {'all rows right' if correct[name] else 'WRONG'})")
            for (a, b, p), (t,) in zip(table, targets.tolist()):
                print(f"   {a} {name:>4} {b} = {round(p)}   (p = {p:.3f}, target {int(t)})")
    return correct


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=4, help="hidden sigmoid units")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (needs CuPy and an NVIDIA GPU)')
    args = parser.parse_args()
    results = main(args.steps, args.hidden, args.lr, args.seed, device=args.device)
    raise SystemExit(0 if all(results.values()) else 1)
