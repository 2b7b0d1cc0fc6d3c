"""W2 spiral: the cs231n spiral (3 arms of 100 points), a 2-100-3 ReLU network,
softmax cross-entropy, plain SGD. The task itself is in ``relu_mlp.py``."""
from __future__ import annotations

import numpy as np

from benchmarks.workloads import relu_mlp
from benchmarks.workloads.common import Workload, linear_weights

POINTS_PER_CLASS = 100
CLASSES = 3
HIDDEN = 100
NOISE = 0.2
LEARNING_RATE = 1.0


def spiral_points(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class k's points lie on an arm: radius r from 0 to 1, angle t from 4k to 4(k+1)
    radians plus Gaussian noise; a point is (r sin t, r cos t). Returns points (300, 2)
    float32 and labels (300,) int64, class by class."""
    points, labels = [], []
    for k in range(CLASSES):
        radius = np.linspace(0.0, 1.0, POINTS_PER_CLASS)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), POINTS_PER_CLASS) + rng.standard_normal(POINTS_PER_CLASS) * NOISE
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(POINTS_PER_CLASS, k, dtype=np.int64))
    return np.concatenate(points).astype(np.float32), np.concatenate(labels)


def make_problem(seed: int) -> relu_mlp.ClassificationProblem:
    rng = np.random.default_rng(seed)
    points, labels = spiral_points(rng)
    weights = [linear_weights(rng, 2, HIDDEN), linear_weights(rng, HIDDEN, CLASSES)]
    return relu_mlp.ClassificationProblem(points, labels, weights, LEARNING_RATE)


WORKLOAD = Workload(
    key="W2",
    name="spiral",
    description="cs231n spiral 300x2, 2-100-3 ReLU MLP, softmax cross-entropy, SGD (lr 1.0)",
    steps=2000,
    quick_steps=20,
    make_problem=make_problem,
    numpy_floor=relu_mlp.numpy_floor,
    framework=relu_mlp.framework,
    target_vs_numpy=1.3,
    target_vs_torch=0.5,
)
