"""How an implementation is timed, and how its peak memory is measured.

An *implementation* here is a set-up function with no arguments that returns a fresh
trainer (see ``workloads/common.py``): set-up copies the initial weights and is not timed;
the trainer's run of N steps is.

Time: every implementation is first run once for a few warm-up steps (caches, lazy
imports and first-call costs are paid there); then each is run ``repeats`` times for the
full N steps, taking turns (A, B, C, A, B, C, ...) so that a slow patch of the machine falls
on all of them alike. Each run gives seconds per step = run time / N; the report uses the
median over the repeats, with the fastest and slowest run as its spread. The garbage
collector is run before each timed run and left on during it, as in a user's script. The
objects alive before the first run (the imported libraries' among them: importing PyTorch
makes seven times as many) are frozen (``gc.freeze``) for the duration, so that they do not
make every full collection during a timed run slower than it would be in a script that
imports one library.

Memory: one separate, untimed run under ``tracemalloc`` (which slows allocation down, so
it never overlaps a timed run). Its peak is the most memory held at once by everything
allocated during set-up and the run: Python objects and NumPy's data buffers (NumPy
reports those to ``tracemalloc``). Memory from other allocators, such as PyTorch's, is
invisible to it.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.workloads.common import Trainer

#: A set-up function: copies the initial weights and returns a fresh trainer.
Implementation = Callable[[], Trainer]


@dataclass
class Measurement:
    """What was measured for one implementation of one workload."""

    seconds_per_step: list[float] = field(default_factory=list)  # one per timed run
    final_loss: float = math.nan  # the last timed run's final loss
    peak_memory_bytes: int | None = None  # None: not measured

    @property
    def median(self) -> float:
        return statistics.median(self.seconds_per_step)

    @property
    def fastest(self) -> float:
        return min(self.seconds_per_step)

    @property
    def slowest(self) -> float:
        return max(self.seconds_per_step)


def timed_run(implementation: Implementation, steps: int) -> tuple[float, float]:
    """Set up (not timed), then run ``steps`` steps; returns (seconds per step, final loss)."""
    trainer = implementation()
    gc.collect()
    start = time.perf_counter()
    loss = trainer(steps)
    elapsed = time.perf_counter() - start
    return elapsed / steps, loss


def measure_times(implementations: dict[str, Implementation], steps: int, repeats: int,
                  warmup_steps: int) -> dict[str, Measurement]:
    """Warm each implementation up, then time ``repeats`` runs of ``steps`` steps of each,
    taking turns; returns a measurement per implementation name."""
    if steps < 1 or repeats < 1 or warmup_steps < 1:
        raise ValueError(f"steps, repeats and warm-up steps must be positive, got {steps}, {repeats}, {warmup_steps}")
    measurements = {name: Measurement() for name in implementations}
    gc.collect()
    gc.freeze()
    try:
        for implementation in implementations.values():
            timed_run(implementation, warmup_steps)
        for _ in range(repeats):
            for name, implementation in implementations.items():
                seconds_per_step, loss = timed_run(implementation, steps)
                measurements[name].seconds_per_step.append(seconds_per_step)
                measurements[name].final_loss = loss
    finally:
        gc.unfreeze()
    return measurements


def peak_traced_memory(implementation: Implementation, steps: int) -> int:
    """The peak, in bytes, of the memory allocated during set-up and ``steps`` steps and
    held at once (``tracemalloc``'s peak, counted from the start of set-up)."""
    if tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is already tracing: the peak would include someone else's allocations")
    gc.collect()
    tracemalloc.start()
    try:
        trainer = implementation()
        trainer(steps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak
