"""The workloads, by key. Each module holds its task's implementations side by side:
``numpy_floor`` (hand-written NumPy) and ``framework`` (one PyTorch-style script, run
with tinygrad_edu and with PyTorch). ``common.py`` says what a workload is."""
from __future__ import annotations

from benchmarks.workloads import mlp, overhead, spiral, xor
from benchmarks.workloads.common import Workload

WORKLOADS: dict[str, Workload] = {
    workload.key: workload for workload in (xor.WORKLOAD, spiral.WORKLOAD, mlp.WORKLOAD, overhead.WORKLOAD)
}
