"""Handwritten digits: an MLP on the UCI 8x8 digits (shipped with the package, no download).

A PyTorch-style training script: a held-out test split with ``random_split``, mini-batches
from a ``DataLoader``, ``Adam``, then ``save`` / ``load`` of the trained weights and a
check that the reloaded model predicts exactly what the trained one does.

Run:  python examples/digits.py          (or --epochs, --batch-size, --seed, --out DIR)
      python examples/digits.py --device cuda     (on an NVIDIA GPU, with CuPy installed)
"""
from __future__ import annotations

import argparse
import os

import tinygrad_edu as torch
import tinygrad_edu.nn as nn
import tinygrad_edu.optim as optim
from tinygrad_edu.datasets import digits
from tinygrad_edu.utils.data import DataLoader, TensorDataset, random_split


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(128, 10),
    )


def evaluate(model: nn.Module, loader: DataLoader, device: str = "cpu") -> float:
    """Accuracy over a whole loader, in eval mode (no dropout) and without a graph."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    model.train()
    return correct / total


def main(epochs: int = 30, batch_size: int = 64, lr: float = 3e-3, seed: int = 0, out_dir: str = ".",
         verbose: bool = True, device: str = "cpu") -> dict[str, float]:
    torch.manual_seed(seed)
    images, labels = digits()  # (1797, 64) in [0, 1], labels 0-9
    train_set, test_set = random_split(TensorDataset(images, labels), [0.8, 0.2],
                                       generator=torch.Generator().manual_seed(seed))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = make_model().to(device)  # the weights are drawn on the CPU, then moved
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        running_loss = 0.0
        for batch_images, batch_labels in train_loader:
            batch_images, batch_labels = batch_images.to(device), batch_labels.to(device)
            loss = loss_fn(model(batch_images), batch_labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(batch_labels)
        if verbose and (epoch % 5 == 0 or epoch == epochs):
            print(f"epoch {epoch:3d}   train loss {running_loss / len(train_set):.4f}   "
                  f"test accuracy {evaluate(model, test_loader, device):.1%}")

    train_accuracy, test_accuracy = evaluate(model, train_loader, device), evaluate(model, test_loader, device)
    print(f"{len(train_set)} training images: accuracy {train_accuracy:.1%};  "
          f"{len(test_set)} held-out images: accuracy {test_accuracy:.1%}")

    # Save the weights, load them into a fresh model, and compare the predictions.
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "digits_mlp.pt")
    torch.save(model.state_dict(), path)
    reloaded = make_model().to(device)
    reloaded.load_state_dict(torch.load(path))  # the saved tensors go back to `device`
    model.eval()
    reloaded.eval()
    test_images = images[test_set.indices].to(device)
    with torch.no_grad():
        same = bool((model(test_images) == reloaded(test_images)).all())
    print(f"saved to {path}; the reloaded model gives {'the same' if same else 'DIFFERENT'} predictions")
    return {"train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "reload_identical": same}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="folder for the saved model")
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (needs CuPy and an NVIDIA GPU)')
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.lr, args.seed, args.out, device=args.device)
