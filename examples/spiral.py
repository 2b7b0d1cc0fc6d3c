"""The cs231n spiral: three interleaved arms that no linear classifier can separate.

A 2 -> 100 -> 3 network with a ReLU hidden layer and cross-entropy loss learns them,
written as a PyTorch script: only the imports differ. It prints a progress line while it
trains, and, when matplotlib is installed (``pip install -e ".[plots]"``), draws the
decision boundary and the loss curve.

Run:  python examples/spiral.py          (or --steps, --lr, --seed, --out DIR, --device cuda, --capture)

``--capture`` wraps the training step in ``tinygrad_edu.jit.capture`` (recorded once as NumPy
calls, then replayed: same numbers, less time; see docs/internals/10-capture.md).
"""
from __future__ import annotations

import argparse
import os

import tinygrad_edu as torch
import tinygrad_edu.nn as nn
import tinygrad_edu.optim as optim
from tinygrad_edu.datasets import spiral


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 3))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(dim=1) == labels).float().mean().item()


def train(steps: int = 500, lr: float = 1.0, seed: int = 0, report_every: int = 50,
          verbose: bool = True, device: str = "cpu", capture: bool = False) -> tuple[nn.Module, list[float], float]:
    """Full-batch gradient descent with momentum; returns (model, losses, training accuracy)."""
    torch.manual_seed(seed)
    points, labels = spiral(n_per_class=100, classes=3, noise=0.2, seed=seed)
    points, labels = points.to(device), labels.to(device)
    model = make_model().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)

    def training_step(points: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(points)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss, logits

    if capture:  # tinygrad_edu only (PyTorch has no such function): record once, then replay
        training_step = torch.jit.capture(training_step)
    losses = []
    for step in range(1, steps + 1):
        loss, logits = training_step(points, labels)
        losses.append(loss.item())
        if verbose and (step % report_every == 0 or step == steps):
            print(f"step {step:5d}   loss {loss.item():.4f}   accuracy {accuracy(logits, labels):.1%}")
    with torch.no_grad():
        final_accuracy = accuracy(model(points), labels)
    return model, losses, final_accuracy


def draw(model: nn.Module, losses: list[float], out_dir: str, seed: int) -> list[str]:
    """Save the decision boundary and the loss curve as PNGs; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt
    import numpy as np

    points, labels = spiral(seed=seed)
    xs, ys = np.meshgrid(np.linspace(-1.1, 1.1, 300), np.linspace(-1.1, 1.1, 300))
    grid = torch.tensor(np.stack([xs.ravel(), ys.ravel()], axis=1), dtype=torch.float32)
    with torch.no_grad():
        regions = model.cpu()(grid).argmax(dim=1).numpy().reshape(xs.shape)
    os.makedirs(out_dir, exist_ok=True)
    boundary_path = os.path.join(out_dir, "spiral_boundary.png")
    figure, axes = plt.subplots(figsize=(5, 5))
    colours = matplotlib.colors.ListedColormap(["tab:red", "tab:blue", "tab:green"])
    axes.contourf(xs, ys, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=colours, alpha=0.25)
    axes.scatter(points[:, 0].numpy(), points[:, 1].numpy(), c=labels.numpy(), cmap=colours, vmin=0, vmax=2, s=12,
                 edgecolors="k", linewidths=0.3)
    axes.set_title("spiral: decision regions of a 2-100-3 ReLU network")
    figure.savefig(boundary_path, dpi=120, bbox_inches="tight")
    plt.close(figure)

    curve_path = os.path.join(out_dir, "spiral_loss.png")
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy loss")
    axes.set_yscale("log")
    axes.set_title("training loss")
    figure.savefig(curve_path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return [boundary_path, curve_path]


def main(steps: int = 500, lr: float = 1.0, seed: int = 0, out_dir: str = ".", plots: bool = True,
         device: str = "cpu", capture: bool = False) -> float:
    model, losses, final_accuracy = train(steps, lr, seed, device=device, capture=capture)
    print(f"training accuracy: {final_accuracy:.1%}")
    if plots:
        try:
            paths = draw(model, losses, out_dir, seed)
        except ImportError:
            print('matplotlib is not installed, so no pictures (pip install -e ".[plots]" to get them)')
        else:
            print("wrote " + " and ".join(paths))
    return final_accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="folder for the pictures")
    parser.add_argument("--no-plots", action="store_true", help="skip the pictures even if matplotlib is installed")
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (needs CuPy and an NVIDIA GPU)')
    parser.add_argument("--capture", action="store_true", help="record the training step once and replay it "
                        "(tinygrad_edu.jit.capture; CPU only)")
    args = parser.parse_args()
    main(args.steps, args.lr, args.seed, args.out, plots=not args.no_plots, device=args.device, capture=args.capture)
