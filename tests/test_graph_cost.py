"""The graph's cost: a 100,000-op chain back-propagates (iteratively, in linear time), and a
training loop's memory stays flat because backward() frees what the graph saved."""
from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as te


def leaf(data: Any) -> te.Tensor:
    return te.tensor(np.asarray(data, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- deep chains

def _chain_backward_seconds(length: int) -> float:
    x = leaf(1.0)
    y = x
    for _ in range(length):
        y = y * 1.0001
    start = time.perf_counter()
    y.backward()
    elapsed = time.perf_counter() - start
    assert x.grad.item() == pytest.approx(1.0001 ** length, rel=1e-6)
    return elapsed


def test_chain_of_100k_ops_backpropagates_in_linear_time() -> None:
    short = _chain_backward_seconds(10_000)
    long = _chain_backward_seconds(100_000)  # a RecursionError would surface here
    # Linear time gives a ratio near 10, quadratic near 100.
    assert long < 30 * max(short, 1e-3)


# --------------------------------------------------------------------------- memory

def _traced_bytes_over_training_loop(keep_losses: bool) -> tuple[int, int]:
    te.manual_seed(0)
    inputs = te.randn(64, 100, dtype=te.float64)
    weight = te.randn(100, 100, dtype=te.float64, requires_grad=True)
    kept: list[Any] = []
    traced_bytes: dict[int, int] = {}
    tracemalloc.start()
    try:
        for iteration in range(1, 301):
            hidden = (inputs @ weight).tanh()
            loss = (hidden * hidden).exp().mean()
            loss.backward()
            with te.no_grad():
                weight -= 0.001 * weight.grad
            weight.grad.zero_()
            if keep_losses:
                kept.append(loss)
            if iteration in (50, 300):
                gc.collect()
                traced_bytes[iteration] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return traced_bytes[50], traced_bytes[300]


def test_training_loop_memory_does_not_grow() -> None:
    at_50, at_300 = _traced_bytes_over_training_loop(keep_losses=False)
    # One iteration's intermediates are ~200 KB; a leak of one graph per step adds ~50 MB.
    assert at_300 - at_50 < 4_000_000


def test_saved_arrays_released_after_backward_even_if_loss_kept() -> None:
    at_50, at_300 = _traced_bytes_over_training_loop(keep_losses=True)
    # PyTorch frees saved tensors at backward; only small node objects stay alive.
    assert at_300 - at_50 < 12_000_000
