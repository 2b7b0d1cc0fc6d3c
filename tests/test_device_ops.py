"""Every op of the op table on each accelerator device, checked against the CPU.

The CPU (NumPy) is the reference: ``tests/test_gradients.py`` checks its values and
gradients against finite differences. This module checks that the GPU backend computes the
same thing. For every row of ``tests/op_table.py`` and every non-CPU device, hypothesis
draws a case exactly as ``test_gradients.py`` does, and

- the op on device copies of the inputs gives the CPU's output: values within 1e-10
  (float64), the same dtype and shape, and the output lives on the device;
- backward with one random upstream gradient (drawn on the host, then moved) leaves every
  input's ``.grad`` on the device, equal to the CPU gradient;
- ``gradcheck`` passes on the device tensors themselves (small shapes);
- a graph that crosses devices (a CPU leaf, moved to the device, the op there, the result
  moved back) gives the CPU leaf its all-CPU gradient, on the CPU: every backward rule
  returns its gradient on the device of its input.

Where there is no GPU (CI) the device cases are skipped with the reason. With
``TINYGRAD_EDU_FAKE_CUDA=1`` they run on ``tests/fake_cupy.py``, which computes on the host
but refuses any host array handed to the "GPU": that checks the plumbing, not the GPU's
arithmetic, which only a real GPU run checks.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import tinygrad_edu as te
from hypothesis import given, settings
from hypothesis import strategies as st
from tinygrad_edu.autograd import gradcheck

from conftest import DEVICES
from op_table import OP_TABLE, SPECS_BY_NAME, OpSpec
from strategies import arrays
from test_gradients import FIRST_ORDER, SECOND_ORDER, Case, as_outputs, cases, leaf_tensors

#: The devices to compare with the CPU: all of conftest's but the CPU itself (the
#: "cuda" entry carries its skip mark, so it shows as skipped, with the reason, on CI).
ACCELERATORS = [device for device in DEVICES if device != "cpu"]
ALL_NAMES = [spec.name for spec in OP_TABLE]

TOLERANCE = dict(rtol=1e-10, atol=1e-10)  # float64 on both sides: only rounding may differ


# --------------------------------------------------------------------------- helpers
def device_function(spec: OpSpec, case: Case, device: str) -> Callable[..., object]:
    """The row's op as a function of tensors, for inputs on ``device``.

    Two rows build a tensor from their drawn data inside their form: ``where`` calls
    ``te.tensor(condition)`` and ``gather`` calls ``te.tensor(index)``, CPU tensors. PyTorch
    refuses a CPU condition with GPU values and a CPU gather index for a GPU input, and so
    does tinygrad_edu, so here those tensors are made on the device. Every other row runs
    as the table spells it (a CPU index tensor may index a GPU tensor, as in PyTorch).
    """
    if spec.name == "where":
        return lambda a, b: te.where(te.tensor(case.params["condition"], device=device), a, b)
    if spec.name == "gather":
        return lambda x: x.gather(case.params["dim"], te.tensor(case.params["index"], device=device))
    return case.function(spec)


def on_device(leaves: tuple[te.Tensor, ...], device: str) -> tuple[te.Tensor, ...]:
    """Leaf copies of CPU leaves on ``device``, requiring grad."""
    return tuple(leaf.detach().to(device).requires_grad_() for leaf in leaves)


def host(tensor: te.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def draw_upstream(data: st.DataObject, outputs: tuple[te.Tensor, ...]) -> list[np.ndarray]:
    """One random upstream gradient per output, as host (NumPy) arrays."""
    return [data.draw(arrays(tuple(out.shape), low=-1.0, high=1.0), label="upstream gradient") for out in outputs]


def run_backward(outputs: tuple[te.Tensor, ...], upstream: list[np.ndarray], device: object) -> None:
    """Back-propagate ``upstream`` (moved to ``device``) from the outputs that have a graph."""
    pairs = [(out, te.tensor(grad).to(device)) for out, grad in zip(outputs, upstream) if out.requires_grad]
    if pairs:
        te.autograd.backward([out for out, _ in pairs], [grad for _, grad in pairs])


def assert_gradients_equal(expected: tuple[te.Tensor, ...], actual: tuple[te.Tensor, ...], device: object) -> None:
    """Each leaf of ``actual`` has the gradient of its twin in ``expected``, on ``device``."""
    for index, (reference, leaf) in enumerate(zip(expected, actual)):
        if reference.grad is None:
            assert leaf.grad is None, f"input {index}: a gradient where the CPU has none"
            continue
        assert leaf.grad is not None, f"input {index}: no gradient, the CPU has one"
        assert leaf.grad.device == device, f"input {index}: gradient on {leaf.grad.device}, not {device}"
        assert leaf.grad.dtype == reference.grad.dtype and leaf.grad.shape == reference.grad.shape
        np.testing.assert_allclose(host(leaf.grad), host(reference.grad), **TOLERANCE,
                                   err_msg=f"gradient of input {index}")


# --------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", ALL_NAMES)
@given(data=st.data())
def test_op_and_gradient_match_the_cpu(name: str, device: str, data: st.DataObject) -> None:
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, FIRST_ORDER), label="case")
    cpu_inputs = leaf_tensors(case.values)
    device_inputs = on_device(cpu_inputs, device)
    target = device_inputs[0].device  # the full name: .to("cuda") puts a tensor on cuda:0
    assert target.type == te.device(device).type

    expected = as_outputs(case.function(spec)(*cpu_inputs))
    actual = as_outputs(device_function(spec, case, device)(*device_inputs))
    assert len(actual) == len(expected)
    for index, (reference, out) in enumerate(zip(expected, actual)):
        assert out.device == target, f"output {index} on {out.device}, not {target}"
        assert (out.dtype, out.shape) == (reference.dtype, reference.shape), f"output {index}"
        assert out.requires_grad == reference.requires_grad, f"output {index}"
        np.testing.assert_allclose(host(out), host(reference), **TOLERANCE, err_msg=f"output {index}")

    upstream = draw_upstream(data, expected)
    run_backward(expected, upstream, "cpu")
    run_backward(actual, upstream, target)
    assert_gradients_equal(cpu_inputs, device_inputs, target)


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", ALL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_gradcheck_on_device(name: str, device: str, data: st.DataObject) -> None:
    """Analytic gradients of the device tensors against finite differences (small shapes:
    gradcheck runs one backward pass per output element)."""
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, SECOND_ORDER), label="case")
    inputs = on_device(leaf_tensors(case.values), device)
    assert gradcheck(device_function(spec, case, device), inputs) is True


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", ALL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_gradient_crosses_back_to_the_cpu(name: str, device: str, data: st.DataObject) -> None:
    """``x (CPU leaf) -> x.to(device) -> op -> .cpu()``, then backward on the CPU: the
    gradient goes through the op's rule on the device and back through both moves, and
    arrives in ``x.grad`` on the CPU, equal to the gradient of the all-CPU graph."""
    spec = SPECS_BY_NAME[name]
    case = data.draw(cases(spec, FIRST_ORDER), label="case")
    reference_inputs = leaf_tensors(case.values)
    expected = as_outputs(case.function(spec)(*reference_inputs))

    cpu_leaves = leaf_tensors(case.values)
    moved = [leaf.to(device) for leaf in cpu_leaves]  # on the graph: ToCopyBackward0
    assert all(not tensor.is_leaf for tensor in moved)
    returned = tuple(out.cpu() for out in as_outputs(device_function(spec, case, device)(*moved)))
    assert all(out.device == "cpu" for out in returned)

    upstream = draw_upstream(data, expected)
    run_backward(expected, upstream, "cpu")
    run_backward(returned, upstream, "cpu")
    assert_gradients_equal(reference_inputs, cpu_leaves, te.device("cpu"))
