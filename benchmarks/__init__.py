"""Side-by-side timings of tinygrad_edu against a hand-written NumPy floor and PyTorch.

Run ``python benchmarks/run.py`` (``--help`` for the options). Reading order:

- ``timing.py``: how one implementation is timed (median seconds per step over repeats,
  after a warm-up) and how its peak memory is measured (``tracemalloc``);
- ``workloads/common.py``: what a workload is, and the small NumPy helpers the floors share;
- ``workloads/xor.py``, ``workloads/relu_mlp.py`` (with ``spiral.py`` and ``mlp.py``),
  ``workloads/overhead.py``: each workload's implementations side by side;
- ``run.py``: the command line, the loss check and the targets;
- ``report.py``: the machine description and the Markdown table (``docs/benchmarks.md``).

Timing goals live here and in ``docs/benchmarks.md``, never in the unit tests.
"""
