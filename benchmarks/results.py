"""What was measured for one workload, and how it is judged: the loss check against the
NumPy floor, the time ratios, the memory ratio and their targets."""
from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.timing import Measurement
from benchmarks.workloads.common import Workload

NUMPY = "NumPy floor"
EDU = "tinygrad_edu"
EDU_CAPTURED = "tinygrad_edu, captured"  # the same script with its step under tinygrad_edu.jit.capture
TORCH = "PyTorch"
#: The tinygrad_edu columns that are judged against the targets, each on its own row.
JUDGED = (EDU, EDU_CAPTURED)

#: Losses agree when within this relative tolerance, or this absolute one for tiny losses:
#: float32 rounding differs between implementations and grows over thousands of steps.
LOSS_RELATIVE_TOLERANCE = 1e-3
LOSS_ABSOLUTE_TOLERANCE = 1e-5


def losses_agree(loss: float, reference: float) -> bool:
    """Whether ``loss`` is within tolerance of ``reference`` (never, if either is NaN)."""
    return math.isclose(loss, reference, rel_tol=LOSS_RELATIVE_TOLERANCE, abs_tol=LOSS_ABSOLUTE_TOLERANCE)


@dataclass
class WorkloadResult:
    """One workload's measurements, by implementation name (NUMPY, EDU, EDU_CAPTURED on the
    CPU and, when PyTorch is installed, TORCH)."""

    workload: Workload
    steps: int
    measurements: dict[str, Measurement]

    def loss_matches(self, name: str) -> bool:
        """Whether implementation ``name``'s final loss agrees with the NumPy floor's."""
        return losses_agree(self.measurements[name].final_loss, self.measurements[NUMPY].final_loss)

    def loss_mismatches(self) -> list[str]:
        """The implementations whose final loss departs from the NumPy floor's."""
        return [name for name in self.measurements if name != NUMPY and not self.loss_matches(name)]

    def time_ratio(self, other: str, mine: str = EDU) -> float | None:
        """tinygrad_edu's (column ``mine``) median time per step over ``other``'s (None if
        either did not run)."""
        if other not in self.measurements or mine not in self.measurements:
            return None
        return self.measurements[mine].median / self.measurements[other].median

    def memory_ratio(self, mine: str = EDU) -> float | None:
        """tinygrad_edu's peak traced memory over the NumPy floor's (None if not measured)."""
        if mine not in self.measurements:
            return None
        edu, floor = self.measurements[mine].peak_memory_bytes, self.measurements[NUMPY].peak_memory_bytes
        if edu is None or floor is None:
            return None
        return edu / floor
