"""The benchmark harness (``benchmarks/``) runs, and its implementations agree.

Nothing is timed here: the timing goals live in ``benchmarks/`` and docs/benchmarks.md,
never in the unit tests. These tests run every workload for a few steps and check that
tinygrad_edu's final loss, and PyTorch's where it is installed, matches the hand-written
NumPy floor's, so that the harness never reports a fast wrong answer as a result.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import gpu as gpu_benchmark  # noqa: E402 - after the path set-up above
from benchmarks import run  # noqa: E402
from conftest import DEVICES  # noqa: E402
from benchmarks.results import EDU, EDU_CAPTURED, NUMPY, TORCH, losses_agree  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

TORCH_MODULE = run.load_torch()


@pytest.mark.parametrize("key", sorted(WORKLOADS))
def test_every_implementation_ends_at_the_floors_loss(key: str) -> None:
    workload = WORKLOADS[key]
    result = run.benchmark(workload, steps=workload.quick_steps, repeats=1, torch=TORCH_MODULE, memory=False)
    expected = {NUMPY, EDU, EDU_CAPTURED} if TORCH_MODULE is None else {NUMPY, EDU, EDU_CAPTURED, TORCH}
    assert set(result.measurements) == expected
    losses = {name: measurement.final_loss for name, measurement in result.measurements.items()}
    assert all(math.isfinite(loss) for loss in losses.values()), losses
    assert result.loss_mismatches() == [], losses


@pytest.mark.parametrize("key", sorted(WORKLOADS))
def test_the_floor_trains_so_that_the_loss_check_sees_the_gradients(key: str) -> None:
    """If the updates did nothing, a wrong backward pass could still match the floor's loss."""
    workload = WORKLOADS[key]
    problem = workload.make_problem(run.SEED)
    first_loss = workload.numpy_floor(problem)(1)
    later_loss = workload.numpy_floor(problem)(workload.quick_steps)
    assert not losses_agree(later_loss, first_loss)


def test_the_loss_check_flags_a_departure_and_tolerates_rounding() -> None:
    assert losses_agree(2.30786, 2.30786 * (1 + 1e-4))
    assert losses_agree(3e-6, 9e-6)  # tiny losses: absolute tolerance
    assert not losses_agree(0.25, 0.2504)
    assert not losses_agree(math.nan, 0.25)


def test_the_command_line_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "benchmarks.md"
    status = run.main(["--quick", "--workloads", "xor,W4", "--output", str(output)])
    assert status == 0
    text = output.read_text()
    assert text.rstrip("\n") == capsys.readouterr().out.rstrip("\n")
    for expected in ("## Machine", "## Targets", "W1 xor", "W4 overhead", "tinygrad_edu ÷ NumPy floor", "quick"):
        assert expected in text
    assert "W2 spiral" not in text and "LOSS MISMATCH" not in text


def test_an_unknown_workload_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.main(["--workloads", "W9", "--no-write"])
    assert "unknown workload 'W9'" in capsys.readouterr().err


def test_device_option_takes_only_the_workloads_that_support_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.main(["--workloads", "W1,W3", "--device", "cuda", "--no-write"])
    assert "W1 run on the CPU only" in capsys.readouterr().err
    assert [key for key, workload in sorted(WORKLOADS.items()) if run.supports_device(workload)] == ["W2", "W3"]


@pytest.mark.parametrize("key", ["W2", "W3"])
def test_the_mlp_workloads_reach_the_floors_loss_on_every_device(key: str, device: str) -> None:
    result = run.benchmark(WORKLOADS[key], steps=2, repeats=1, torch=None, memory=False, device=device)
    assert result.loss_mismatches() == []
    assert math.isfinite(result.measurements[EDU].final_loss)


@pytest.mark.parametrize("gpu", [device for device in DEVICES if device != "cpu"])
def test_the_gpu_benchmark_times_and_checks_its_losses(gpu: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = gpu_benchmark.main(["--quick", "--no-write", "--device", gpu])
    text = capsys.readouterr().out
    assert status == 0 and "LOSS MISMATCH" not in text
    for expected in ("tinygrad_edu (GPU, CuPy)", "tinygrad_edu (CPU, NumPy)", "first-step loss", "steps/s"):
        assert expected in text


def test_the_gpu_benchmark_says_what_is_missing(without_cupy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert gpu_benchmark.main(["--quick", "--no-write"]) == 2
    assert "CuPy is not installed" in capsys.readouterr().err
