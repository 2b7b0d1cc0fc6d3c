"""Small data sets for the classic from-scratch networks; all work offline.

- ``xor() and_gate() or_gate() nand_gate()``: the four rows of a logic gate's truth
  table, as ``(inputs, targets)`` of shapes (4, 2) and (4, 1), float32.
- ``spiral(n_per_class, classes, noise, seed)``: the cs231n spiral: ``classes`` arms
  that no straight line separates, ``(points (N, 2) float32, labels (N,) int64)``.
- ``digits()``: 1,797 handwritten digits, 8x8 pixels each, from the UCI "Optical
  Recognition of Handwritten Digits" data (E. Alpaydin and C. Kaynak, 1998; CC BY 4.0),
  shipped inside the package as ``data/digits.npz``.
"""
from __future__ import annotations

from importlib import resources

from tinygrad_edu import backend
from tinygrad_edu.tensor import Tensor

_INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]


def _gate(outputs: list[float]) -> tuple[Tensor, Tensor]:
    return Tensor(_INPUTS), Tensor([[value] for value in outputs])


def xor() -> tuple[Tensor, Tensor]:
    """Inputs (4, 2) and targets (4, 1): 1 where exactly one input is 1."""
    return _gate([0.0, 1.0, 1.0, 0.0])


def and_gate() -> tuple[Tensor, Tensor]:
    return _gate([0.0, 0.0, 0.0, 1.0])


def or_gate() -> tuple[Tensor, Tensor]:
    return _gate([0.0, 1.0, 1.0, 1.0])


def nand_gate() -> tuple[Tensor, Tensor]:
    return _gate([1.0, 1.0, 1.0, 0.0])


def spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int | None = 0) -> tuple[Tensor, Tensor]:
    """Class k's points lie on an arm: radius r from 0 to 1 and angle t from 4k to 4(k+1)
    radians plus Gaussian noise of std ``noise``; a point is (r sin t, r cos t).

    ``seed`` makes the noise reproducible (``None`` draws from the global generator that
    ``manual_seed`` seeds). Returns points (N, 2) float32 and labels (N,) int64, N =
    n_per_class * classes, ordered class by class.
    """
    if n_per_class < 1 or classes < 1:
        raise ValueError(f"spiral: n_per_class and classes must be positive, got {n_per_class} and {classes}")
    if noise < 0:
        raise ValueError(f"spiral: noise must be non-negative, got {noise}")
    rng = backend.generator() if seed is None else backend.Generator().manual_seed(seed).rng
    xp = backend.array_namespace()
    points, labels = [], []
    for k in range(classes):
        radius = xp.linspace(0.0, 1.0, n_per_class)
        angle = xp.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + rng.standard_normal(n_per_class) * noise
        points.append(xp.stack([radius * xp.sin(angle), radius * xp.cos(angle)], axis=1))
        labels.append(xp.full(n_per_class, k))
    return Tensor(xp.concatenate(points), dtype=backend.float32), Tensor(xp.concatenate(labels), dtype=backend.int64)


#: Pixel values in ``digits`` run from 0 to 16 (counts of set pixels in 4x4 blocks).
DIGITS_MAX_PIXEL = 16


def digits(flatten: bool = True) -> tuple[Tensor, Tensor]:
    """The 1,797 UCI 8x8 handwritten digits: images float32 scaled to [0, 1], of shape
    (1797, 64) (or (1797, 8, 8) with ``flatten=False``), and labels 0-9 (int64).

    Each image counts the set pixels of a 32x32 bitmap in non-overlapping 4x4 blocks
    (0 to 16), written by 13 people; about 180 images per digit.
    """
    with resources.files("tinygrad_edu").joinpath("data", "digits.npz").open("rb") as file:
        arrays = backend.read_npz(file)
    images = arrays["images"].astype(backend.float32.numpy_dtype) / DIGITS_MAX_PIXEL
    if flatten:
        images = images.reshape(len(images), -1)
    return Tensor._wrap(images), Tensor._wrap(arrays["labels"].astype(backend.int64.numpy_dtype))
