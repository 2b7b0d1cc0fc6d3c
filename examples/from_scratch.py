"""From backprop by hand to autograd: the same 2-2-1 XOR network, trained twice side by side.

Left: the classic from-scratch NumPy version, with every derivative written out by hand.
Right: the same network in tinygrad_edu, where ``loss.backward()`` finds the gradients.
Both start from the same weights and take the same SGD steps; at every step the script
compares the four gradients and shows that they are equal (to float64 rounding).

The hand-written backward pass, for  h = sigmoid(X W1 + b1),  out = sigmoid(h W2 + b2),
L = 1/2 sum (out - y)^2:

    delta_out    = (out - y) * out * (1 - out)          dL/d(h W2 + b2)
    dW2, db2     = h^T delta_out,  sum of delta_out over the rows
    delta_hidden = (delta_out W2^T) * h * (1 - h)        dL/d(X W1 + b1)
    dW1, db1     = X^T delta_hidden,  sum of delta_hidden over the rows

The engine does the same: each line is one op's backward rule (see
docs/internals/07-xor-by-hand.md for the line-by-line map).

Run:  python examples/from_scratch.py        (or --steps, --lr, --seed)
"""
from __future__ import annotations

import argparse

import numpy as np

import tinygrad_edu as torch
import tinygrad_edu.nn as nn

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


# ----------------------------------------------------------------------------------------
# by hand, with NumPy
# ----------------------------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def hand_forward_backward(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
                          b2: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its gradients, every derivative written out (see the module docstring)."""
    h = sigmoid(X @ w1 + b1)
    out = sigmoid(h @ w2 + b2)
    loss = 0.5 * np.sum((out - Y) ** 2)

    delta_out = (out - Y) * out * (1 - out)
    delta_hidden = (delta_out @ w2.T) * h * (1 - h)
    gradients = {"w1": X.T @ delta_hidden, "b1": delta_hidden.sum(axis=0),
                 "w2": h.T @ delta_out, "b2": delta_out.sum(axis=0)}
    return loss, gradients


# ----------------------------------------------------------------------------------------
# with tinygrad_edu: the same network as PyTorch code
# ----------------------------------------------------------------------------------------


def make_model(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> nn.Sequential:
    """nn.Linear keeps its weight as (out_features, in_features): the transpose of w1, w2."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(w1.T))
        model[0].bias.copy_(torch.tensor(b1))
        model[2].weight.copy_(torch.tensor(w2.T))
        model[2].bias.copy_(torch.tensor(b2))
    return model


def autograd_gradients(model: nn.Sequential) -> tuple[float, dict[str, np.ndarray]]:
    model.zero_grad()
    out = model(torch.tensor(X))
    loss = 0.5 * nn.functional.mse_loss(out, torch.tensor(Y), reduction="sum")
    loss.backward()  # the whole backward pass
    gradients = {"w1": model[0].weight.grad.numpy().T, "b1": model[0].bias.grad.numpy(),
                 "w2": model[2].weight.grad.numpy().T, "b2": model[2].bias.grad.numpy()}
    return loss.item(), gradients


def main(steps: int = 3000, lr: float = 2.0, seed: int = 0, show_every: int = 500,
         verbose: bool = True) -> dict[str, float]:
    """Train both versions; returns the final losses and the largest gradient difference seen."""
    rng = np.random.default_rng(seed)
    weights = {"w1": rng.normal(size=(2, 2)), "b1": np.zeros(2), "w2": rng.normal(size=(2, 1)), "b2": np.zeros(1)}
    model = make_model(**weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    largest_difference = 0.0

    for step in range(steps + 1):
        hand_loss, hand = hand_forward_backward(**weights)
        auto_loss, auto = autograd_gradients(model)
        difference = max(float(np.max(np.abs(hand[name] - auto[name]))) for name in hand)
        largest_difference = max(largest_difference, difference)
        if verbose and (step == 0 or step % show_every == 0):
            print(f"step {step:5d}   loss by hand {hand_loss:.6f}   by autograd {auto_loss:.6f}   "
                  f"largest gradient difference {difference:.1e}")
            if step == 0:
                for name in hand:
                    print(f"    d loss / d {name}:  by hand {np.round(hand[name].ravel(), 6)}   "
                          f"autograd {np.round(auto[name].ravel(), 6)}")
        if step == steps:
            break
        for name in weights:  # the hand-written SGD step
            weights[name] = weights[name] - lr * hand[name]
        optimizer.step()  # the same step, by the optimizer

    if verbose:
        with torch.no_grad():
            predictions = model(torch.tensor(X)).numpy().ravel()
        print("learned XOR:", ", ".join(f"{int(a)}^{int(b)} -> {p:.3f}" for (a, b), p in zip(X, predictions)))
        print(f"over {steps} steps the gradients never differed by more than {largest_difference:.1e}")
    return {"largest_difference": largest_difference, "hand_loss": hand_loss, "autograd_loss": auto_loss}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.steps, args.lr, args.seed)
