"""The classic gradient-checking experiment: how exact is a finite difference?

Part 1. The central difference  (f(x + eps) - f(x - eps)) / (2 eps)  estimates f'(x) with
two errors that pull in opposite directions:

- truncation: by Taylor, f(x +- eps) = f(x) +- eps f'(x) + eps^2/2 f''(x) +- eps^3/6 f'''(x) + ...,
  so the estimate is off by about eps^2 |f'''(x)| / 6, which falls as eps shrinks;
- round-off: f(x +- eps) are each rounded, an error of about u |f(x)| (u: the dtype's
  machine epsilon, 2.2e-16 in float64, 1.2e-7 in float32), then divided by 2 eps, which
  grows like u / eps as eps shrinks.

On a log-log plot the total error is a V: a line of slope 2 falling, a line of slope -1
rising, meeting near eps ~ u^(1/3) (about 6e-6 in float64, 5e-3 in float32). That is why
``gradcheck`` copies everything to float64 and uses eps = 1e-6. (Once eps is below u times
x, x + eps rounds to x itself: the difference is 0 and the error is all of |f'(x)|.)

Part 2. A deliberately wrong ``Function`` (a sigmoid whose backward forgets a factor) and
the ``gradcheck`` that catches it, element by element and by a random direction.

Run:  python examples/gradcheck_experiment.py [--out DIR]   (plots when matplotlib is installed)
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import tinygrad_edu as te
from tinygrad_edu.autograd import Function, GradcheckError, gradcheck

POINT = 0.5  # where every derivative is taken (inside log's domain)
STEPS = [10.0**-power for power in range(1, 13)]  # eps = 1e-1, 1e-2, ..., 1e-12

#: The gap between 1 and the next number the dtype can represent.
MACHINE_EPSILON = {te.float32: 2.0**-23, te.float64: 2.0**-52}


def exact_sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


#: name -> (the op on tensors, its exact derivative in closed form, computed in Python floats)
OPS = {
    "exp": (lambda x: x.exp(), lambda x: math.exp(x)),
    "tanh": (lambda x: x.tanh(), lambda x: 1.0 - math.tanh(x) ** 2),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: exact_sigmoid(x) * (1.0 - exact_sigmoid(x))),
    "x**3": (lambda x: x**3, lambda x: 3.0 * x**2),
    "log": (lambda x: x.log(), lambda x: 1.0 / x),
}


# --------------------------------------------------------------------------- part 1: the V
def central_difference(op, x: float, eps: float, dtype: te.DType) -> float:
    """(f(x + eps) - f(x - eps)) / (2 eps), with x +- eps and f evaluated in ``dtype``."""
    plus = op(te.tensor(x + eps, dtype=dtype)).item()
    minus = op(te.tensor(x - eps, dtype=dtype)).item()
    return (plus - minus) / (2 * eps)


def error_table(dtype: te.DType, steps: list[float] = STEPS, x: float = POINT) -> dict[str, list[float]]:
    """For each op, |central difference - exact derivative| at every step in ``steps``."""
    table = {}
    for name, (op, derivative) in OPS.items():
        table[name] = [abs(central_difference(op, x, eps, dtype) - derivative(x)) for eps in steps]
    return table


def print_table(dtype: te.DType, table: dict[str, list[float]], steps: list[float]) -> None:
    epsilon = MACHINE_EPSILON[dtype]
    print(f"\n{dtype.name}: machine epsilon {epsilon:.1e}, so the best eps should be near "
          f"epsilon^(1/3) = {epsilon ** (1 / 3):.0e}")
    print("    eps " + "".join(f"{name:>10}" for name in table))
    for row, eps in enumerate(steps):
        print(f"  {eps:.0e}" + "".join(f"{errors[row]:10.1e}" for errors in table.values()))
    best = [steps[errors.index(min(errors))] for errors in table.values()]
    print("best eps" + "".join(f"{eps:10.0e}" for eps in best))


def plot(tables: dict[te.DType, dict[str, list[float]]], steps: list[float], out: Path) -> Path | None:
    """A log-log plot of every table, side by side; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # draw to a file, no window
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 4), sharey=True)
    for axis, (dtype, table) in zip(axes, tables.items()):
        for name, errors in table.items():
            axis.loglog(steps, errors, marker="o", label=name)
        epsilon = MACHINE_EPSILON[dtype]
        theory = [eps**2 / 6 + epsilon / eps for eps in steps]  # truncation + round-off, f ~ 1
        axis.loglog(steps, theory, "k--", label="eps^2/6 + u/eps")
        axis.set_title(f"{dtype.name}: |central difference - f'(x)|")
        axis.set_xlabel("eps")
    axes[0].set_ylabel("error")
    axes[0].legend()
    path = out / "gradcheck_eps.png"
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


# --------------------------------------------------------------------------- part 2: a wrong gradient
class ForgetfulSigmoid(Function):
    """y = 1 / (1 + e^-x). The right backward is grad * y * (1 - y); this one forgets (1 - y)."""

    @staticmethod
    def forward(ctx, x: te.Tensor) -> te.Tensor:
        y = 1.0 / (1.0 + (-x).exp())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: te.Tensor) -> te.Tensor:
        (y,) = ctx.saved_tensors
        return grad * y  # the bug: should be grad * y * (1 - y)


def catch_the_wrong_gradient(big_side: int) -> None:
    x = te.tensor([[-1.0, 0.0, 2.0], [0.5, 1.5, -3.0]], dtype=te.float64, requires_grad=True)
    print("\ngradcheck of the built-in sigmoid:", gradcheck(te.sigmoid, (x,)))
    try:
        gradcheck(ForgetfulSigmoid.apply, (x,))
        print("gradcheck of ForgetfulSigmoid passed: it should not have!")
    except GradcheckError as error:
        print("gradcheck of ForgetfulSigmoid failed, as it should:\n ", error)

    # Every element of a big input would take one backward pass per output element; one
    # random direction takes one backward pass and two forward passes.
    te.manual_seed(0)
    big = te.randn(big_side, big_side, dtype=te.float64, requires_grad=True)
    try:
        gradcheck(ForgetfulSigmoid.apply, (big,), fast_mode=True)
        print(f"random-direction gradcheck on {big_side}x{big_side} passed: it should not have!")
    except GradcheckError as error:
        print(f"random-direction gradcheck on a {big_side}x{big_side} input failed, as it should:\n ", error)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the plot (default: here)")
    parser.add_argument("--big-side", type=int, default=300, help="side of the big input of part 2")
    args = parser.parse_args(argv)

    print(f"|(f(x + eps) - f(x - eps)) / (2 eps) - f'(x)| at x = {POINT}")
    tables = {dtype: error_table(dtype) for dtype in (te.float32, te.float64)}
    for dtype, table in tables.items():
        print_table(dtype, table, STEPS)
    args.out.mkdir(parents=True, exist_ok=True)
    path = plot(tables, STEPS, args.out)
    print(f"\nplot written to {path}" if path is not None else "\nmatplotlib is not installed: no plot")
    catch_the_wrong_gradient(args.big_side)


if __name__ == "__main__":
    main()
