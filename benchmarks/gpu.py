"""GPU benchmark: MLP training steps per second, tinygrad_edu on CuPy against PyTorch eager
on the same GPU, and against tinygrad_edu on the CPU, in one run.

The task is the benchmark MLP (``workloads/relu_mlp.py``: Linear -> ReLU -> ... -> Linear,
softmax cross-entropy, plain SGD, full batch) at a size that fills a GPU: by default a batch
of 4096 inputs of 4096 features, two hidden layers 4096 wide, 10 classes, float32. Every
implementation starts from the same initial weights (drawn once with NumPy) and the script
flags one whose loss after the timed steps departs from the others' (LOSS MISMATCH, exit 1).

Timing: a few warm-up steps (CuPy compiles each elementwise kernel on first use, PyTorch
loads cuBLAS), then ``repeats`` timed runs of ``steps`` steps each; a run ends with
``loss.item()``, which waits for the GPU, so the time covers all the queued work. The CPU
column runs fewer steps (``--cpu-steps``): at this size a CPU step takes seconds.

Where the GPU time goes: with PyTorch installed, one step of each GPU implementation is
recorded with ``torch.profiler`` (CUPTI, which sees every kernel launched in the process,
CuPy's included): kernel launches, host-device copies and GPU busy time per step.

Run:  python benchmarks/gpu.py                       (writes docs/benchmarks-gpu.md)
      python benchmarks/gpu.py --batch 1024 --width 1024 --steps 20 --no-write
      python benchmarks/gpu.py --quick                 (a smoke run at a small size, not written)
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # run as a script: measure this checkout's package
    sys.path.insert(0, str(REPOSITORY))

import tinygrad_edu  # noqa: E402
from benchmarks.workloads import relu_mlp  # noqa: E402
from benchmarks.workloads.common import linear_weights  # noqa: E402

DEFAULT_OUTPUT = REPOSITORY / "docs" / "benchmarks-gpu.md"
TARGET_VS_TORCH = 0.7  # tinygrad_edu's throughput on the GPU at least 0.7x PyTorch eager's
LOSS_RTOL = 1e-3  # float32 sums in different orders on different libraries


def make_problem(batch: int, width: int, classes: int, seed: int) -> relu_mlp.ClassificationProblem:
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((batch, width), dtype=np.float32)
    labels = rng.integers(0, classes, size=batch, dtype=np.int64)
    sizes = [width, width, width, classes]
    weights = [linear_weights(rng, fan_in, fan_out) for fan_in, fan_out in zip(sizes, sizes[1:])]
    return relu_mlp.ClassificationProblem(inputs, labels, weights, learning_rate=0.01)


def time_runs(trainer: Callable[[int], float], steps: int, repeats: int, warmup: int) -> tuple[list[float], float]:
    """Seconds per step of each timed run, and the last run's final loss."""
    trainer(warmup)
    per_step, loss = [], math.nan
    for _ in range(repeats):
        start = time.perf_counter()
        loss = trainer(steps)  # ends with loss.item(): the GPU has finished
        per_step.append((time.perf_counter() - start) / steps)
    return per_step, loss


def profile_one_step(trainer: Callable[[int], float], torch: Any) -> dict[str, float] | str:
    """Kernel launches, host-device copies and GPU busy time of one training step, as CUPTI
    (through torch.profiler) records them; or the reason they could not be recorded."""
    try:
        from torch.autograd import DeviceType
        from torch.profiler import ProfilerActivity, profile

        trainer(1)  # nothing left queued from before
        with profile(activities=[ProfilerActivity.CUDA]) as recording:
            trainer(1)
        events = [event for event in recording.events() if event.device_type == DeviceType.CUDA]
    except Exception as error:  # no CUPTI, an old PyTorch, ...: report why, time anyway
        return f"not recorded ({type(error).__name__}: {error})"
    if not events:  # CUPTI saw nothing: say so rather than report zero kernels
        return "not recorded (the profiler saw no GPU activity in this step)"
    copies = [event for event in events if event.name.startswith("Memcpy")]
    memsets = [event for event in events if event.name.startswith("Memset")]
    kernels = [event for event in events if event not in copies and event not in memsets]
    busy = sum(event.device_time_total for event in events) / 1e3  # microseconds -> milliseconds
    return {"kernels": len(kernels), "copies": len(copies), "memsets": len(memsets), "gpu_busy_ms": busy}


def load_torch_cuda() -> tuple[Any, str]:
    """PyTorch when it is installed and sees a GPU, else None and the reason."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "PyTorch does not see a GPU"
    return torch, ""


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--width", type=int, default=4096, help="input features and hidden layer width")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed GPU run")
    parser.add_argument("--cpu-steps", type=int, default=2, help="steps per timed CPU run (0: skip the CPU column)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="the GPU device (default: cuda)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: batch and width 256, 3 steps, 1 repeat")
    parser.add_argument("--output", type=Path, default=None, help=f"Markdown file to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.batch = arguments.width = 256
        arguments.steps, arguments.cpu_steps, arguments.repeats = 3, 1, 1
    if arguments.no_write:
        arguments.output = None
    elif arguments.output is None and not arguments.quick:
        arguments.output = DEFAULT_OUTPUT
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        tinygrad_edu.zeros(1, device=arguments.device)  # says what is missing: CuPy, or a GPU
    except RuntimeError as error:
        print(f"gpu benchmark: {error}", file=sys.stderr)
        return 2
    problem = make_problem(arguments.batch, arguments.width, arguments.classes, arguments.seed)
    torch, torch_note = load_torch_cuda()
    runs: dict[str, dict[str, Any]] = {}
    chosen = [("tinygrad_edu (GPU, CuPy)", partial(relu_mlp.framework, tinygrad_edu, problem, arguments.device),
               arguments.steps)]
    if torch is not None:
        chosen.append(("PyTorch eager (GPU)", partial(relu_mlp.framework, torch, problem, "cuda"), arguments.steps))
    if arguments.cpu_steps > 0:
        chosen.append(("tinygrad_edu (CPU, NumPy)", partial(relu_mlp.framework, tinygrad_edu, problem, "cpu"),
                       arguments.cpu_steps))
    for name, make_trainer, steps in chosen:
        print(f"{name}: {arguments.repeats} run(s) of {steps} steps ...", file=sys.stderr, flush=True)
        first_loss = make_trainer()(1)  # one step from the initial weights: must agree everywhere
        per_step, loss = time_runs(make_trainer(), steps, arguments.repeats, warmup=min(2, steps))
        runs[name] = {"per_step": per_step, "loss": loss, "steps": steps, "first_loss": first_loss}
        if torch is not None and "GPU" in name:
            runs[name]["profile"] = profile_one_step(make_trainer(), torch)

    text = report(arguments, runs, torch, torch_note)
    print(text)
    if arguments.output is not None:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(text)
        print(f"wrote {arguments.output}", file=sys.stderr)
    return 1 if "LOSS MISMATCH" in text else 0


def report(arguments: argparse.Namespace, runs: dict[str, dict[str, Any]], torch: Any, torch_note: str) -> str:
    edu_gpu = runs["tinygrad_edu (GPU, CuPy)"]
    gpu_name = tinygrad_edu.cuda.get_device_name(0)
    lines = [
        "# GPU benchmark: MLP training steps per second",
        "",
        "Written by `python benchmarks/gpu.py` (see its docstring for the method).",
        "",
        f"- Task: batch {arguments.batch}, {arguments.width}-{arguments.width}-{arguments.width}-{arguments.classes}"
        f" ReLU MLP, softmax cross-entropy, SGD (lr 0.01), float32, full batch, seed {arguments.seed}.",
        f"- Machine: {gpu_name}; {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, CuPy {_version('cupy')}"
        + (f", PyTorch {torch.__version__}" if torch is not None else f" ({torch_note})") + ".",
        f"- {arguments.repeats} timed run(s) per implementation after warm-up; median shown.",
        "",
        "| implementation | steps/s | ms/step (median) | ms/step (fastest-slowest) | first-step loss | final loss |",
        "|---|---|---|---|---|---|",
    ]
    mismatch = False
    for name, run in runs.items():
        median = statistics.median(run["per_step"])
        flag = ""
        if not math.isclose(run["first_loss"], edu_gpu["first_loss"], rel_tol=LOSS_RTOL) or (
                run["steps"] == edu_gpu["steps"] and not math.isclose(run["loss"], edu_gpu["loss"], rel_tol=LOSS_RTOL)):
            flag, mismatch = " LOSS MISMATCH", True
        lines.append(f"| {name} | {1 / median:.2f} | {median * 1e3:.2f} | {min(run['per_step']) * 1e3:.2f}-"
                     f"{max(run['per_step']) * 1e3:.2f} | {run['first_loss']:.6f} | {run['loss']:.6f}{flag} |")
    lines.append("")
    torch_run = runs.get("PyTorch eager (GPU)")
    if torch_run is not None:
        ratio = statistics.median(torch_run["per_step"]) / statistics.median(edu_gpu["per_step"])
        verdict = "met" if ratio >= TARGET_VS_TORCH else "NOT met"
        lines.append(f"**tinygrad_edu's GPU throughput is {ratio:.2f}x PyTorch eager's** "
                     f"(target at least {TARGET_VS_TORCH}x: {verdict}).")
    else:
        lines.append(f"PyTorch column skipped: {torch_note}.")
    cpu_run = runs.get("tinygrad_edu (CPU, NumPy)")
    if cpu_run is not None:
        speedup = statistics.median(cpu_run["per_step"]) / statistics.median(edu_gpu["per_step"])
        lines.append(f"tinygrad_edu on the GPU is {speedup:.1f}x faster per step than on this machine's CPU "
                     f"(its final loss comes after fewer steps; its first-step loss is compared).")
    lines += ["", "## Where the GPU time goes (one step, recorded by CUPTI through torch.profiler)", ""]
    lines += ["| implementation | kernel launches | host-device copies | memsets | GPU busy ms |",
              "|---|---|---|---|---|"]
    for name, run in runs.items():
        profile = run.get("profile")
        if isinstance(profile, dict):
            lines.append(f"| {name} | {profile['kernels']} | {profile['copies']} | {profile['memsets']} | "
                         f"{profile['gpu_busy_ms']:.2f} |")
        elif profile is not None:
            lines.append(f"| {name} | {profile} | | | |")
    if mismatch:
        lines += ["", "LOSS MISMATCH: an implementation's loss departs from tinygrad_edu's on the GPU."]
    return "\n".join(lines) + "\n"


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
