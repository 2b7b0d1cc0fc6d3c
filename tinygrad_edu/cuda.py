"""``tinygrad_edu.cuda``: the questions PyTorch scripts ask about the GPU.

This version computes on the CPU only, so the answers are "no GPU": scripts written as

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

run unchanged on the CPU. Seeding functions do nothing (there is no GPU generator to seed).
"""
from __future__ import annotations

from tinygrad_edu.backend import cuda_is_available


def is_available() -> bool:
    """False: no GPU backend is available (see the module docstring)."""
    return cuda_is_available()


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU; ``tinygrad_edu.manual_seed`` seeds the CPU generator."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed without a GPU; ``tinygrad_edu.manual_seed`` seeds the CPU generator."""
