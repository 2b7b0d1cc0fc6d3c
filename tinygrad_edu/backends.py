"""``tinygrad_edu.backends``: the settings PyTorch scripts flip for reproducibility.

``torch.backends.cudnn.deterministic = True`` and ``torch.backends.cudnn.benchmark = False``
are common in seeding boilerplate. Here every op runs on NumPy and is deterministic, so
these are plain attributes that scripts may set and read; they change nothing.
"""
from __future__ import annotations


class _Settings:
    """A namespace of settable flags, like ``torch.backends.cudnn``."""

    def __init__(self, name: str, **flags: bool) -> None:
        self._name = name
        self.__dict__.update(flags)

    def is_available(self) -> bool:
        return False

    def __repr__(self) -> str:
        flags = ", ".join(f"{key}={value}" for key, value in self.__dict__.items() if not key.startswith("_"))
        return f"<tinygrad_edu.backends.{self._name}: {flags}>"


cudnn = _Settings("cudnn", enabled=False, deterministic=False, benchmark=False)
mps = _Settings("mps")
