"""W3 mlp: a batch of 256 random 784-feature inputs with random labels from 10 classes, a
784-512-512-10 ReLU network, softmax cross-entropy, plain SGD. The task itself is in
``relu_mlp.py``; MNIST's shapes, with no download."""
from __future__ import annotations

from itertools import pairwise

import numpy as np

from benchmarks.workloads import relu_mlp
from benchmarks.workloads.common import Workload, linear_weights

BATCH = 256
SIZES = [784, 512, 512, 10]
LEARNING_RATE = 0.01


def make_problem(seed: int) -> relu_mlp.ClassificationProblem:
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[-1], size=BATCH, dtype=np.int64)
    weights = [linear_weights(rng, fan_in, fan_out) for fan_in, fan_out in pairwise(SIZES)]
    return relu_mlp.ClassificationProblem(inputs, labels, weights, LEARNING_RATE)


WORKLOAD = Workload(
    key="W3",
    name="mlp",
    description="batch 256 of 784 features, 784-512-512-10 ReLU MLP, cross-entropy, SGD (lr 0.01)",
    steps=100,
    quick_steps=3,
    make_problem=make_problem,
    numpy_floor=relu_mlp.numpy_floor,
    framework=relu_mlp.framework,
    target_vs_numpy=1.05,
    target_vs_torch=1.0,
    memory_target=1.2,
)
