"""The report: a description of the machine, and the Markdown tables of times, losses,
memory and targets that ``run.py`` prints and writes to docs/benchmarks.md."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import numpy as np

import tinygrad_edu
from benchmarks.results import (
    EDU, EDU_CAPTURED, JUDGED, LOSS_ABSOLUTE_TOLERANCE, LOSS_RELATIVE_TOLERANCE, NUMPY, TORCH, WorkloadResult,
)

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """How the run was made, for the report's method section."""

    repeats: int
    seed: int
    quick: bool
    memory_steps: int
    torch_installed: bool
    device: str = "cpu"


# ----------------------------------------------------------------------------------------
# the machine
# ----------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The "model name" line of /proc/cpuinfo (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def core_count() -> str:
    logical = os.cpu_count() or 0
    if hasattr(os, "sched_getaffinity"):
        return f"{logical} logical, {len(os.sched_getaffinity(0))} usable by this process"
    return f"{logical} logical"


def numpy_blas() -> str:
    """The BLAS library NumPy was built with, as ``numpy.show_config`` reports it."""
    configuration = np.show_config(mode="dicts")
    blas = configuration.get("Build Dependencies", {}).get("blas", {})
    if not blas:
        return "unknown BLAS"
    return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()


def torch_blas(torch: ModuleType) -> str:
    """The BLAS library PyTorch was built with (``BLAS_INFO`` in its build configuration)."""
    match = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return match.group(1) if match else "unknown"


def source_revision() -> str:
    """The checkout's commit, and whether it has uncommitted changes (read-only git calls)."""
    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=REPOSITORY, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    changed = git("status", "--porcelain", "--", "tinygrad_edu")
    return commit + (" with uncommitted changes to tinygrad_edu/" if changed else "")


def load_average() -> str:
    """The 1-minute load average when the report is made: above 0 means other processes
    shared the cores during the run, which makes the times noisier."""
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return f"{os.getloadavg()[0]:.2f} (1 minute, at the end of the run)"


def machine_description(torch: ModuleType | None) -> list[tuple[str, str]]:
    """(label, value) rows: CPU, cores, OS, Python, library versions, date."""
    if torch is None:
        torch_text = "not installed (its column is skipped)"
    else:
        torch_text = f"{torch.__version__}, BLAS: {torch_blas(torch)}, {torch.get_num_threads()} intra-op threads"
    return [
        ("CPU", cpu_model()),
        ("cores", core_count()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("NumPy", f"{np.__version__}, BLAS: {numpy_blas()}"),
        ("PyTorch", torch_text),
        ("tinygrad_edu", f"{tinygrad_edu.__version__}, commit {source_revision()}"),
        ("load average", load_average()),
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]


# ----------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------


def three_digits(value: float) -> str:
    """812, 81.2, 8.12: three significant digits for values from 1 to 999."""
    decimals = 0 if value >= 99.95 else 1 if value >= 9.995 else 2
    return f"{value:.{decimals}f}"


def format_seconds(seconds: float) -> str:
    """Three significant digits in a readable unit: 812 µs, 1.23 ms, 2.50 s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{three_digits(seconds / scale)} {unit}"
    return f"{three_digits(seconds / 1e-9)} ns"


def format_bytes(count: int | None) -> str:
    if count is None:
        return "n/a"
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def format_target(ratio: float | None, target: float) -> list[str]:
    """[ratio, target, met?] cells; dashes when the ratio could not be measured."""
    if ratio is None:
        return ["n/a", f"≤ {target:g}", "-"]
    shown = f"{ratio:.3g}"
    if float(shown) == target and ratio != target:  # 1.0531 against 1.05: show why it is not met
        shown = f"{ratio:.4g}"
    return [shown, f"≤ {target:g}", "yes" if ratio <= target else "**no**"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ----------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------


def results_table(results: list[WorkloadResult]) -> list[str]:
    rows = []
    for result in results:
        for name, measurement in result.measurements.items():
            if name == NUMPY:
                check = "reference"
            else:
                check = "ok" if result.loss_matches(name) else "**LOSS MISMATCH**"
            memory = format_bytes(measurement.peak_memory_bytes) + (" ¹" if name == TORCH else "")
            rows.append([
                f"{result.workload.key} {result.workload.name}" if name == NUMPY else "",
                name,
                f"{result.steps:,}",
                format_seconds(measurement.median),
                f"{format_seconds(measurement.fastest)} – {format_seconds(measurement.slowest)}",
                f"{measurement.final_loss:.6g}",
                check,
                memory,
            ])
    header = ["workload", "implementation", "steps", "median per step", "fastest – slowest run", "final loss",
              "loss check", "peak memory"]
    return table(header, rows)


def targets_table(results: list[WorkloadResult]) -> list[str]:
    """One row per workload and tinygrad_edu column (eager, and captured where it ran)."""
    rows = []
    for result in results:
        workload = result.workload
        for mine in JUDGED:
            if mine not in result.measurements:
                continue
            label = f"{workload.key} {workload.name}, {_MODES[mine]}"
            rows.append([f"{label}: time",
                         *format_target(result.time_ratio(NUMPY, mine), workload.target_vs_numpy),
                         *format_target(result.time_ratio(TORCH, mine), workload.target_vs_torch)])
            if workload.memory_target is not None:
                rows.append([f"{label}: peak memory",
                             *format_target(result.memory_ratio(mine), workload.memory_target), "", "", ""])
    header = ["", "tinygrad_edu ÷ NumPy floor", "target", "met", "tinygrad_edu ÷ PyTorch", "target", "met"]
    return table(header, rows)


_MODES = {EDU: "eager", EDU_CAPTURED: "captured"}


def method(settings: Settings) -> list[str]:
    lines = [
        (f"- Each workload trains from the same initial weights (float32, drawn from one NumPy generator "
         f"seeded {settings.seed} and copied into each library), full batch, in one process."),
        ("- Set-up (copying the weights, building the model) is not timed. Each implementation first runs a "
         "tenth of the steps as a warm-up; then the implementations take turns, "
         f"{settings.repeats} timed run(s) each of all the steps. Time per step = run time / steps; "
         "the table gives the median over the runs, and the fastest and slowest run."),
        "- Ratios are tinygrad_edu's median time per step over the other's: below 1, tinygrad_edu is faster.",
        (f"- Two tinygrad_edu columns run the same script: `{EDU}` eagerly, as any PyTorch-style script runs, "
         f"and `{EDU_CAPTURED}` with its step function wrapped in `tinygrad_edu.jit.capture`, which records the "
         "step's NumPy calls (forward, backward, the optimizer's update) on the first call and replays them "
         "afterwards (`docs/internals/10-capture.md`). PyTorch runs eagerly."),
        (f"- Final loss: the last step's loss. It must agree with the NumPy floor's within a relative "
         f"{LOSS_RELATIVE_TOLERANCE:g} (or an absolute {LOSS_ABSOLUTE_TOLERANCE:g}); a fast wrong answer is "
         "not a result."),
        (f"- Peak memory: `tracemalloc`'s peak over set-up and {settings.memory_steps} steps, in a separate "
         "untimed run: everything allocated by Python and NumPy and held at once (weights, activations, "
         "gradients, graph)."),
        ("- NumPy and PyTorch each use their own BLAS with their default thread counts (see Machine); the "
         "matrix products of W3 are mostly BLAS time, so W3's ratio to PyTorch compares BLAS libraries too."),
    ]
    if settings.device != "cpu":
        lines.append(f"- tinygrad_edu and PyTorch trained on `{settings.device}` (`--device`); the NumPy floor on "
                     "the CPU. Peak memory is not measured: `tracemalloc` cannot see GPU memory.")
    if settings.torch_installed:
        lines.append("- ¹ PyTorch allocates outside Python's and NumPy's allocators, which `tracemalloc` "
                     "cannot see, so its peak memory is not measured.")
    else:
        lines.append("- PyTorch is not installed here, so its column is skipped.")
    return lines


def markdown(results: list[WorkloadResult], settings: Settings, machine: list[tuple[str, str]]) -> str:
    """The whole report, as written to docs/benchmarks.md."""
    lines = [
        "# Benchmarks",
        "",
        ("Written by `python benchmarks/run.py`; do not edit by hand, run it again. tinygrad_edu against a "
         "hand-written NumPy forward and backward (the floor) and PyTorch's CPU eager mode, on the same "
         "workloads in the same process. The code of every workload, its three implementations side by side, "
         "is under `benchmarks/workloads/`. The timing goals live here, never in the unit tests."),
        "",
    ]
    if settings.quick:
        lines += ["**A quick smoke run (few steps, one repeat): not a measurement.**", ""]
    lines += ["## Machine", "", *table(["", ""], [[label, value] for label, value in machine]), ""]
    lines += ["## Workloads", ""]
    lines += [(f"- **{result.workload.key} {result.workload.name}**: {result.workload.description}; "
               f"{result.steps:,} steps per run.") for result in results]
    lines += ["", "## Times, losses and memory", "", *results_table(results), ""]
    lines += ["## Targets", "", *targets_table(results), ""]
    lines += ["## Method", "", *method(settings), ""]
    return "\n".join(lines)
