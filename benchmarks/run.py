"""Time tinygrad_edu against a hand-written NumPy floor and PyTorch on four workloads.

For each workload, in one process and one run: (a) the NumPy floor, (b) tinygrad_edu and
(c) PyTorch (CPU, eager; skipped with a note when ``torch`` is not installed) train from the
same initial weights. The report gives the median seconds per step, the ratios of
tinygrad_edu's time to the floor's and to PyTorch's against their targets, each
implementation's final loss (one that departs from the floor's is flagged LOSS MISMATCH: a
fast wrong answer is not a result) and peak memory. It is printed, and written to
docs/benchmarks.md with a description of the machine.

Run:  python benchmarks/run.py                      (all workloads, written to docs/benchmarks.md)
      python benchmarks/run.py --workloads W1,W3   (keys or names: xor, spiral, mlp, overhead)
      python benchmarks/run.py --quick             (a smoke run: few steps, one repeat, not written)
      python benchmarks/run.py --workloads W3 --device cuda   (tinygrad_edu and PyTorch on the GPU;
                                                   W2 and W3 only; printed, not written)

The exit status is 1 when some loss does not match, else 0; unmet targets are reported,
not failed.
"""
from __future__ import annotations

import argparse
import inspect
import sys
from functools import partial
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # run as a script: measure this checkout's package
    sys.path.insert(0, str(REPOSITORY))

import tinygrad_edu  # noqa: E402 - after the path set-up above
from benchmarks import report  # noqa: E402
from benchmarks.results import EDU, EDU_CAPTURED, NUMPY, TORCH, WorkloadResult  # noqa: E402
from benchmarks.timing import Implementation, measure_times, peak_traced_memory  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402
from benchmarks.workloads.common import Workload  # noqa: E402

DEFAULT_OUTPUT = REPOSITORY / "docs" / "benchmarks.md"
DEFAULT_REPEATS = 5
SEED = 0
#: Steps in the separate memory run: a training loop's peak is reached in its first steps.
MEMORY_STEPS = 20


def load_torch() -> ModuleType | None:
    """PyTorch if it is installed, else None (its column is then skipped)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def implementations(workload: Workload, problem: object, torch: ModuleType | None,
                    device: str = "cpu") -> dict[str, Implementation]:
    """The set-up functions to time, by name, in the order they take turns. On a device
    other than the CPU, the frameworks train there; the NumPy floor stays on the CPU.
    tinygrad_edu runs twice on the CPU: eagerly, and with its step captured
    (``tinygrad_edu.jit.capture``, which replays CPU steps only)."""
    on_device = {} if device == "cpu" else {"device": device}
    chosen = {
        NUMPY: partial(workload.numpy_floor, problem),
        EDU: partial(workload.framework, tinygrad_edu, problem, **on_device),
    }
    if device == "cpu":
        chosen[EDU_CAPTURED] = partial(workload.framework, tinygrad_edu, problem, capture=True)
    if torch is not None:
        chosen[TORCH] = partial(workload.framework, torch, problem, **on_device)
    return chosen


def supports_device(workload: Workload) -> bool:
    """Whether the workload's framework script takes ``device=`` (the ReLU MLPs, W2 and W3)."""
    return "device" in inspect.signature(workload.framework).parameters


def benchmark(workload: Workload, steps: int, repeats: int, torch: ModuleType | None, seed: int = SEED,
              memory: bool = True, device: str = "cpu") -> WorkloadResult:
    """Time every implementation of ``workload`` (and measure the NumPy-based ones' peak
    memory unless ``memory`` is False)."""
    problem = workload.make_problem(seed)
    chosen = implementations(workload, problem, torch, device)
    warmup_steps = max(1, steps // 10)
    measurements = measure_times(chosen, steps, repeats, warmup_steps)
    if memory:
        for name in (NUMPY, EDU, EDU_CAPTURED):  # tracemalloc cannot see PyTorch's allocator
            measurements[name].peak_memory_bytes = peak_traced_memory(chosen[name], min(steps, MEMORY_STEPS))
    return WorkloadResult(workload, steps, measurements)


def select_workloads(text: str) -> list[Workload]:
    """``"W1,W3"`` or ``"xor,mlp"`` (any case) -> those workloads, in the order given."""
    by_name = {workload.name: workload for workload in WORKLOADS.values()}
    chosen = []
    for word in text.split(","):
        word = word.strip()
        workload = WORKLOADS.get(word.upper()) or by_name.get(word.lower())
        if workload is None:
            known = ", ".join(f"{key} ({workload.name})" for key, workload in WORKLOADS.items())
            raise argparse.ArgumentTypeError(f"unknown workload {word!r}; the workloads are {known}")
        chosen.append(workload)
    return chosen


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=select_workloads, default=list(WORKLOADS.values()),
                        help="comma-separated keys or names, e.g. W1,W3 or xor,mlp (default: all)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed runs per implementation (default: {DEFAULT_REPEATS}; 1 with --quick)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run for every chosen workload "
                        "(default: each workload's own; a few with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: few steps, one repeat; written only if --output is given")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the data and initial weights")
    parser.add_argument("--output", type=Path, default=None, help=f"Markdown file to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    parser.add_argument("--device", default="cpu", help="where tinygrad_edu and PyTorch train: cpu (default) or "
                        "cuda (W2 and W3 only; the NumPy floor stays on the CPU; not written unless --output)")
    arguments = parser.parse_args(argv)
    if arguments.device != "cpu":
        unsupported = [workload.key for workload in arguments.workloads if not supports_device(workload)]
        if unsupported:
            parser.error(f"--device {arguments.device}: workloads {', '.join(unsupported)} run on the CPU only; "
                         f"pick from W2, W3 with --workloads")
        if arguments.output is None:
            arguments.no_write = True  # docs/benchmarks.md holds the CPU table
    if arguments.repeats is None:
        arguments.repeats = 1 if arguments.quick else DEFAULT_REPEATS
    if arguments.repeats < 1 or (arguments.steps is not None and arguments.steps < 1):
        parser.error("--repeats and --steps must be positive")
    if arguments.no_write:
        arguments.output = None
    elif arguments.output is None and not arguments.quick:
        arguments.output = DEFAULT_OUTPUT
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    torch = load_torch()
    if torch is None:
        print("PyTorch is not installed: its column is skipped.", file=sys.stderr)
    elif arguments.device != "cpu" and not torch.cuda.is_available():
        print("PyTorch does not see a GPU: its column is skipped.", file=sys.stderr)
        torch = None
    results = []
    for workload in arguments.workloads:
        steps = arguments.steps or (workload.quick_steps if arguments.quick else workload.steps)
        print(f"{workload.key} {workload.name}: {arguments.repeats} timed run(s) of {steps} steps each ...",
              file=sys.stderr, flush=True)
        results.append(benchmark(workload, steps, arguments.repeats, torch, arguments.seed,
                                 memory=arguments.device == "cpu", device=arguments.device))
    settings = report.Settings(repeats=arguments.repeats, seed=arguments.seed, quick=arguments.quick,
                               memory_steps=MEMORY_STEPS, torch_installed=torch is not None,
                               device=arguments.device)
    text = report.markdown(results, settings, report.machine_description(torch))
    print(text)
    if arguments.output is not None:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(text)
        print(f"wrote {arguments.output}", file=sys.stderr)
    mismatched = [f"{result.workload.key} {name}" for result in results for name in result.loss_mismatches()]
    if mismatched:
        print("LOSS MISMATCH: " + ", ".join(mismatched), file=sys.stderr)
    return 1 if mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
