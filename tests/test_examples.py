"""The examples run and reach their targets.

Each example exposes a ``main(...)`` returning its result, so the tests call it directly
(smaller settings where the full run is slow) and assert the result. The full runs with
the README's settings are here too where they take seconds; the many-seed robustness runs
are marked ``slow`` (``python -m pytest -m slow``).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------- xor


def test_xor_learns_all_four_gates_with_the_default_settings(capsys: pytest.CaptureFixture[str]) -> None:
    results = load_example("xor").main()
    assert results == {"XOR": True, "AND": True, "OR": True, "NAND": True}
    printed = capsys.readouterr().out
    assert "0  XOR 1 = 1" in printed and "1  XOR 1 = 0" in printed and "1 NAND 1 = 0" in printed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_xor_learns_all_four_gates_on_other_seeds(seed: int) -> None:
    assert all(load_example("xor").main(steps=600, seed=seed, verbose=False).values())


@pytest.mark.slow
def test_xor_learns_all_four_gates_on_twenty_seeds() -> None:
    xor = load_example("xor")
    failures = [seed for seed in range(20) if not all(xor.main(seed=seed, verbose=False).values())]
    assert failures == []


# ------------------------------------------------------------------------------- spiral


def test_spiral_full_run_reaches_98_percent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accuracy = load_example("spiral").main(out_dir=str(tmp_path))
    assert accuracy >= 0.98
    printed = capsys.readouterr().out
    assert "step   500   loss" in printed and "accuracy" in printed
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in printed
    else:
        assert (tmp_path / "spiral_boundary.png").stat().st_size > 0
        assert (tmp_path / "spiral_loss.png").stat().st_size > 0
        assert str(tmp_path / "spiral_boundary.png") in printed


def test_spiral_loss_falls_in_a_short_run() -> None:
    _, losses, accuracy = load_example("spiral").train(steps=100, seed=3, verbose=False)
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_spiral_reaches_98_percent_on_other_seeds(seed: int) -> None:
    assert load_example("spiral").train(seed=seed, verbose=False)[2] >= 0.98


def test_spiral_captured_trains_exactly_as_eager() -> None:
    """``--capture``: the same losses, bit for bit, and the same accuracy."""
    spiral = load_example("spiral")
    _, eager_losses, eager_accuracy = spiral.train(steps=60, seed=1, verbose=False)
    _, captured_losses, captured_accuracy = spiral.train(steps=60, seed=1, verbose=False, capture=True)
    assert captured_losses == eager_losses and captured_accuracy == eager_accuracy


def test_spiral_runs_as_a_script_without_pictures(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "spiral.py"), "--steps", "20", "--no-plots"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"})
    assert result.returncode == 0, result.stderr
    assert "training accuracy" in result.stdout
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- digits


def test_digits_full_run_reaches_97_percent_and_reloads_identically(tmp_path: Path) -> None:
    result = load_example("digits").main(out_dir=str(tmp_path), verbose=False)
    assert result["test_accuracy"] >= 0.97
    assert result["reload_identical"] is True
    assert (tmp_path / "digits_mlp.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_digits_reaches_97_percent_on_other_seeds(tmp_path: Path, seed: int) -> None:
    assert load_example("digits").main(seed=seed, out_dir=str(tmp_path), verbose=False)["test_accuracy"] >= 0.97


# ------------------------------------------------------------------------- from_scratch


def test_from_scratch_gradients_equal_the_hand_written_ones(capsys: pytest.CaptureFixture[str]) -> None:
    result = load_example("from_scratch").main(steps=300, show_every=100)
    assert result["largest_difference"] < 1e-12
    printed = capsys.readouterr().out
    assert "d loss / d w1" in printed and "never differed by more than" in printed


def test_from_scratch_full_run_learns_xor() -> None:
    result = load_example("from_scratch").main(verbose=False)
    assert result["largest_difference"] < 1e-12
    assert result["autograd_loss"] < 0.01  # 1/2 sum of squares over 4 rows: every row within 0.07
    assert abs(result["autograd_loss"] - result["hand_loss"]) < 1e-12


# ------------------------------------------------------------------- the same examples on each device


def test_spiral_trains_on_every_device(device: str) -> None:
    _, losses, accuracy = load_example("spiral").train(steps=100, seed=3, verbose=False, device=device)
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.9


def test_xor_learns_every_gate_on_every_device(device: str) -> None:
    assert all(load_example("xor").main(steps=600, seed=1, verbose=False, device=device).values())
