"""Host-device traffic of a training step on the GPU, counted by the CuPy stand-in.

On a GPU, every copy between host and device memory, and every read of a GPU value by the
host (``item()``, ``bool()`` of a comparison, ``float()``), waits until the GPU has finished
all the work queued before it. A training step should make none beyond what the script
itself asks for (``loss.item()``) and the one check the cross-entropy needs (are all the
targets valid classes?). ``tests/fake_cupy.py`` counts copies exactly where a real GPU
would make them, so these tests run everywhere, CI included. On a machine where real CuPy
is in use they are skipped: real CuPy keeps no such count (``benchmarks/gpu.py`` measures
the copies there with the CUDA profiler).
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import fake_cupy
import pytest
import tinygrad_edu as te
import tinygrad_edu.nn as nn
from tinygrad_edu import backend

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.workloads import mlp, relu_mlp  # noqa: E402 - after the path set-up above

STEPS = 5


@pytest.fixture
def transfers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The stand-in's transfer counter, with the stand-in as the GPU backend for this test."""
    if backend._cupy is not None and not getattr(backend._cupy, "IS_FAKE", False):
        pytest.skip("real CuPy is in use: it keeps no transfer count (see benchmarks/gpu.py)")
    installed_here = getattr(sys.modules.get("cupy"), "IS_FAKE", False) is False
    if installed_here:
        fake_cupy.install()
    monkeypatch.setattr(backend, "_cupy", None)  # loaded afresh from the stand-in, then restored
    monkeypatch.setattr(backend, "DEVICES_IN_USE", False)
    backend.check_available("cuda")
    try:
        yield fake_cupy.TRANSFERS
    finally:
        if installed_here:
            fake_cupy.uninstall()


def per_step(transfers: dict[str, int], step: object) -> dict[str, float]:
    """Copies per call of ``step``, over STEPS calls after a first one (which may set up state)."""
    step()
    transfers.update(to_device=0, to_host=0)
    for _ in range(STEPS):
        step()
    return {kind: count / STEPS for kind, count in transfers.items()}


def test_benchmark_mlp_step_waits_once_for_the_class_check(transfers: dict[str, int]) -> None:
    trainer = relu_mlp.framework(te, mlp.make_problem(0), "cuda")
    counts = per_step(transfers, lambda: trainer(1))  # each call ends with loss.item(): one more read
    assert counts == {"to_device": 0, "to_host": 2}, counts


def test_adam_with_dropout_copies_nothing_to_the_device(transfers: dict[str, int]) -> None:
    te.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)).to("cuda")
    optimizer = te.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    inputs, labels = te.randn(32, 8, device="cuda"), te.randint(0, 3, (32,), device="cuda")

    def step() -> None:
        loss = nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    assert per_step(transfers, step) == {"to_device": 0, "to_host": 1}  # the class check only


def test_regression_step_never_waits_for_the_gpu(transfers: dict[str, int]) -> None:
    te.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).cuda()
    optimizer = te.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    inputs, targets = te.randn(16, 4).cuda(), te.randn(16, 1).cuda()

    def step() -> None:
        loss = nn.MSELoss()(model(inputs), targets * 0.5 + 1.0)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 1.0)
        optimizer.step()

    assert per_step(transfers, step) == {"to_device": 0, "to_host": 0}
