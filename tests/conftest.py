"""Shared pytest configuration: the hypothesis profiles.

Three profiles keep the property tests bounded where time is short and deep where it is not:

- ``ci``   : few examples per test, used when the ``CI`` environment variable is set
             (``.ci/run`` and most CI services set it); keeps the suite within minutes on 2 cores.
- ``dev``  : the default for a local ``pytest`` run; a little deeper than ``ci``.
- ``deep`` : ``HYPOTHESIS_PROFILE=deep pytest`` for a long local search before a release.

``HYPOTHESIS_PROFILE`` always wins when it is set.

Devices: tests that take the ``device`` fixture run once per device. "cpu" always runs;
"cuda" runs where CuPy sees an NVIDIA GPU, and is skipped with the reason elsewhere (CI has
no GPU). ``TINYGRAD_EDU_FAKE_CUDA=1 pytest -k cuda`` runs the "cuda" cases on
``tests/fake_cupy.py``, a strict NumPy-backed stand-in for CuPy: it computes on the host
but refuses every host array handed to the "GPU", so it checks the device plumbing on a
machine without a GPU (not the GPU's numbers).
"""
import os

import pytest
from hypothesis import HealthCheck, settings

if os.environ.get("TINYGRAD_EDU_FAKE_CUDA"):
    import fake_cupy

    fake_cupy.install()

from tinygrad_edu import backend  # noqa: E402 - after the optional fake CuPy is installed

try:
    backend.check_available("cuda")
    CUDA_MISSING = None
except RuntimeError as error:
    CUDA_MISSING = str(error)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(CUDA_MISSING is not None,
                                                                 reason=f"no GPU here: {CUDA_MISSING}"))]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """Each device this machine has: "cpu", and "cuda" when CuPy sees a GPU."""
    return request.param

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

settings.register_profile("ci", max_examples=30, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("deep", max_examples=300, **_COMMON)

_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


@pytest.fixture
def without_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without CuPy, even where CuPy (or the fake) is loaded: `import cupy` fails."""
    import sys

    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "DEVICES_IN_USE", False)
