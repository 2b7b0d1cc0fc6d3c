"""Devices as a PyTorch user meets them: ``device=`` on creation, ``.to``/``.cuda``/``.cpu``,
host copies, the one-device rule, modules, optimizers, random numbers, ``save``/``load``,
the errors of a machine without CuPy or without a GPU, and the examples on a device.

Tests that take the ``device`` fixture (``tests/conftest.py``) run once on "cpu" and once
on "cuda"; where values matter, the device's result is compared with the same computation
on the CPU. Tests that take the ``gpu`` fixture are about the GPU alone (mixing devices,
``.cuda()``, ``"cuda:0"`` strings). Where there is no GPU (CI) the "cuda" runs are skipped with the
reason; ``TINYGRAD_EDU_FAKE_CUDA=1`` runs them on ``tests/fake_cupy.py``, a NumPy-backed
stand-in that refuses any host array handed to the "GPU" (it checks the plumbing, not a
GPU's arithmetic). The tests of a machine without CuPy, or with CuPy and no GPU, simulate
that machine with ``monkeypatch`` and run everywhere.

Random draws on the device start from ``te.manual_seed``, so that the tests are reproducible.
"""
from __future__ import annotations

import copy
import importlib.util
import io
import math
import re
import subprocess
import sys
import types
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tinygrad_edu as te
from tinygrad_edu import backend, nn, optim

from conftest import DEVICES

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.workloads import relu_mlp  # noqa: E402 - after the path set-up above
from benchmarks.workloads.common import linear_weights  # noqa: E402

#: the devices other than the CPU: "cuda", carrying conftest's skip mark where there is no GPU
GPUS = [device for device in DEVICES if device != "cpu"]
SAME_DEVICE = "expected all tensors to be on the same device"
FLOAT32 = dict(rtol=1e-5, atol=1e-6)  # the same float32 computation, summed in another order
FLOAT64 = dict(rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- helpers
@pytest.fixture(params=GPUS)
def gpu(request: pytest.FixtureRequest) -> str:
    """The GPU, "cuda" (its tests are then named ``...[cuda]``, so ``-k cuda`` selects them)."""
    return request.param


def placed(device: str) -> te.device:
    """Where a tensor made with ``device=device`` lives: "cuda" means the current GPU, cuda:0."""
    return te.device("cuda", 0) if device == "cuda" else te.device(device)


def host(tensor: te.Tensor) -> np.ndarray:
    """A copy of the values in a NumPy array, made as a PyTorch user makes it (on the CPU,
    ``numpy()`` shares memory: the copy keeps the values from before an in-place update)."""
    return tensor.detach().cpu().numpy().copy()


def simulate_no_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, this process is a machine without CuPy: ``import cupy`` fails, and the
    package has not loaded it (``monkeypatch`` undoes all three at the end of the test)."""
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "DEVICES_IN_USE", False)


def installed_cupy(monkeypatch: pytest.MonkeyPatch, gpu_count: Callable[[], int]) -> None:
    """A machine whose CuPy is installed and whose CUDA runtime counts GPUs with ``gpu_count``
    (which may raise, as CuPy's runtime does where there is no driver)."""
    simulate_no_cupy(monkeypatch)
    runtime = types.SimpleNamespace(getDeviceCount=gpu_count)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))


def no_cuda_driver() -> int:
    raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")


# --------------------------------------------------------------------------- 1. creation
#: name -> (the call on a device, dtype, values)
CREATIONS: dict[str, tuple[Callable[[str], te.Tensor], te.DType, Any]] = {
    "tensor": (lambda d: te.tensor([[1, 2], [3, 4]], device=d), te.int64, [[1, 2], [3, 4]]),
    "tensor_float64": (lambda d: te.tensor(np.array([0.5, -1.5]), device=d), te.float64, [0.5, -1.5]),
    "zeros": (lambda d: te.zeros(2, 3, device=d), te.float32, np.zeros((2, 3))),
    "ones_int64": (lambda d: te.ones((2,), dtype=te.int64, device=d), te.int64, [1, 1]),
    "full": (lambda d: te.full((2,), 3.5, device=d), te.float32, [3.5, 3.5]),
    "full_int": (lambda d: te.full((2, 2), 7, device=d), te.int64, [[7, 7], [7, 7]]),
    "full_bool": (lambda d: te.full((3,), True, device=d), te.bool, [True, True, True]),
    "empty": (lambda d: te.empty(2, 3, device=d), te.float32, None),  # shape only: uninitialised in PyTorch
    "arange": (lambda d: te.arange(5, device=d), te.int64, [0, 1, 2, 3, 4]),
    "arange_float": (lambda d: te.arange(0, 1, 0.25, device=d), te.float32, [0, 0.25, 0.5, 0.75]),
    "linspace": (lambda d: te.linspace(0, 1, 5, device=d), te.float32, [0, 0.25, 0.5, 0.75, 1]),
    "eye": (lambda d: te.eye(2, 3, device=d), te.float32, np.eye(2, 3)),
}


@pytest.mark.parametrize("name", CREATIONS)
def test_creation_functions_make_the_tensor_on_the_device(device: str, name: str) -> None:
    make, dtype, values = CREATIONS[name]
    tensor = make(device)
    assert tensor.device == placed(device)
    assert tensor.dtype is dtype
    if values is None:
        assert tensor.shape == (2, 3)
    else:
        np.testing.assert_array_equal(host(tensor), np.asarray(values, dtype=dtype.numpy_dtype))


#: name -> (the call on a device, dtype, shape, the interval [low, high) of the values, or None: any finite value)
RANDOM_CREATIONS: dict[str, tuple[Callable[[str], te.Tensor], te.DType, tuple[int, ...], tuple[int, int] | None]] = {
    "rand": (lambda d: te.rand(4, 5, device=d), te.float32, (4, 5), (0, 1)),
    "rand_float64": (lambda d: te.rand(6, dtype=te.float64, device=d), te.float64, (6,), (0, 1)),
    "randn": (lambda d: te.randn(4, 5, device=d), te.float32, (4, 5), None),
    "randint": (lambda d: te.randint(3, 8, (50,), device=d), te.int64, (50,), (3, 8)),
    "randint_high_size": (lambda d: te.randint(4, (2, 3), device=d), te.int64, (2, 3), (0, 4)),
    "randperm": (lambda d: te.randperm(10, device=d), te.int64, (10,), (0, 10)),
}


@pytest.mark.parametrize("name", RANDOM_CREATIONS)
def test_random_creation_functions_draw_on_the_device(device: str, name: str) -> None:
    draw, dtype, shape, interval = RANDOM_CREATIONS[name]
    te.manual_seed(0)
    tensor = draw(device)
    assert tensor.device == placed(device)
    assert tensor.dtype is dtype and tensor.shape == shape
    values = host(tensor)
    if interval is None:
        assert np.isfinite(values).all()
    else:
        assert (interval[0] <= values).all() and (values < interval[1]).all()
    assert len(np.unique(values)) > 1  # not one value repeated
    if name == "randperm":
        assert sorted(values.tolist()) == list(range(10))


def test_like_functions_take_the_device_and_dtype_of_their_input(device: str) -> None:
    te.manual_seed(0)
    source = te.ones(2, 3, dtype=te.float64, device=device)
    made = {"zeros_like": te.zeros_like(source), "ones_like": te.ones_like(source),
            "full_like": te.full_like(source, 2.5), "rand_like": te.rand_like(source),
            "randn_like": te.randn_like(source)}
    for name, tensor in made.items():
        assert tensor.device == placed(device), name
        assert tensor.dtype is te.float64 and tensor.shape == (2, 3), name
    np.testing.assert_array_equal(host(made["zeros_like"]), np.zeros((2, 3)))
    np.testing.assert_array_equal(host(made["ones_like"]), np.ones((2, 3)))
    np.testing.assert_array_equal(host(made["full_like"]), np.full((2, 3), 2.5))
    assert ((0 <= host(made["rand_like"])) & (host(made["rand_like"]) < 1)).all()
    assert te.zeros_like(source, device="cpu").device == "cpu"  # an explicit device= wins


def test_creation_with_requires_grad_on_the_device(device: str) -> None:
    leaf = te.zeros(3, device=device, requires_grad=True)
    assert leaf.requires_grad and leaf.is_leaf and leaf.device == placed(device)


def test_cuda_can_be_named_by_string_index_or_device_object(gpu: str) -> None:
    for spec in (gpu, f"{gpu}:0", te.device(gpu, 0), te.device(gpu)):
        tensor = te.zeros(2, device=spec)
        assert tensor.device == te.device("cuda:0") and tensor.device == "cuda:0" and tensor.is_cuda
    assert te.tensor([1.0], device="cuda:0").to(te.device("cpu")).device == "cpu"


def test_device_objects_print_and_compare_as_in_pytorch() -> None:
    cuda0 = te.device("cuda", 0)
    assert str(cuda0) == "cuda:0" and repr(cuda0) == "device(type='cuda', index=0)"
    assert cuda0 == "cuda:0" and cuda0 == te.device("cuda:0") and cuda0 != "cpu"
    assert (cuda0.type, cuda0.index) == ("cuda", 0)
    assert te.device("cuda") != cuda0  # "cuda" without an index is another name, as in PyTorch
    assert str(te.device("cpu")) == "cpu" and repr(te.device("cpu")) == "device(type='cpu')"
    assert te.device("cpu").index is None and te.device("cpu") == "cpu" and te.device("cpu") != "nonsense"
    assert {te.device("cuda:1"): "second GPU"}[te.device("cuda", 1)] == "second GPU"  # hashable; naming is free
    with pytest.raises(RuntimeError, match="unknown device 'tpu'"):
        te.device("tpu")
    with pytest.raises(RuntimeError, match="must be a number"):
        te.device("cuda:x")


def test_tensor_device_attributes(device: str) -> None:
    tensor = te.ones(2, device=device)
    assert tensor.device == placed(device) and tensor.device == str(placed(device))
    assert str(tensor.device) == ("cpu" if device == "cpu" else "cuda:0")
    assert tensor.is_cuda is (device != "cpu")


def test_repr_names_the_device_only_off_the_cpu(device: str) -> None:
    where = "" if device == "cpu" else ", device='cuda:0'"
    assert repr(te.tensor([1.0, 2.0], device=device)) == f"tensor([1., 2.]{where})"
    assert str(te.tensor(3, device=device)) == f"tensor(3{where})"
    assert (repr(te.tensor([1.0], dtype=te.float64, device=device, requires_grad=True))
            == f"tensor([1.]{where}, dtype=tinygrad_edu.float64, requires_grad=True)")  # PyTorch's order


# --------------------------------------------------------------------------- 2. moving
def test_to_moves_to_the_device_and_back(device: str) -> None:
    cpu = te.tensor([[1.5, -2.0], [0.0, 4.0]])
    moved = cpu.to(device)
    assert moved.device == placed(device) and moved.dtype is te.float32
    np.testing.assert_array_equal(host(moved), host(cpu))
    back = moved.to("cpu")
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), cpu.numpy())
    assert moved.cpu().device == "cpu"


def test_to_other_tensor_takes_its_dtype_and_device(device: str) -> None:
    other = te.zeros(1, dtype=te.float64, device=device)
    converted = te.tensor([1, 2]).to(other)
    assert converted.device == placed(device) and converted.dtype is te.float64
    np.testing.assert_array_equal(host(converted), [1.0, 2.0])


def test_to_device_and_dtype_together(device: str) -> None:
    for converted in (te.tensor([1, 2]).to(device, te.float64), te.tensor([1, 2]).to(device=device, dtype=te.float64)):
        assert converted.device == placed(device) and converted.dtype is te.float64
        np.testing.assert_array_equal(host(converted), [1.0, 2.0])


def test_to_the_same_device_returns_the_tensor_itself(device: str) -> None:
    tensor = te.ones(3, device=device)
    assert tensor.to(device) is tensor
    assert tensor.to(tensor.device) is tensor
    assert tensor.to(device, te.float32) is tensor
    copied = tensor.to(device, copy=True)
    assert copied is not tensor and copied.device == tensor.device
    np.testing.assert_array_equal(host(copied), host(tensor))


def test_cuda_and_cpu_methods(gpu: str) -> None:
    cpu = te.tensor([1.0, 2.0])
    for moved in (cpu.cuda(), cpu.cuda(0), cpu.cuda("cuda:0"), cpu.to(gpu, non_blocking=True)):
        assert moved.device == "cuda:0"
        np.testing.assert_array_equal(host(moved), [1.0, 2.0])
    gpu = cpu.cuda()
    assert gpu.cuda() is gpu and cpu.cpu() is cpu
    assert gpu.cpu().device == "cpu"


def cpu_leaf() -> te.Tensor:
    return te.tensor([0.5, -1.0, 2.0], dtype=te.float64, requires_grad=True)


def test_moving_is_differentiable(device: str) -> None:
    """A CPU leaf, moved to the device, used there, moved back: its gradient is on the CPU and
    equals the all-CPU one."""
    def loss(x: te.Tensor, where: str) -> te.Tensor:
        on_device = x.to(where)
        return (on_device.exp() * on_device).sum().cpu() + (on_device ** 2).cpu().sum()  # two ways back

    leaf, reference = cpu_leaf(), cpu_leaf()
    loss(leaf, device).backward()
    loss(reference, "cpu").backward()
    assert leaf.grad.device == "cpu"
    np.testing.assert_allclose(leaf.grad.numpy(), reference.grad.numpy(), **FLOAT64)


def test_move_is_recorded_as_to_copy_backward(gpu: str) -> None:
    leaf = cpu_leaf()
    moved = leaf.to(gpu)
    assert moved.requires_grad and moved.grad_fn.name() == "ToCopyBackward0"
    assert moved.cpu().grad_fn.name() == "ToCopyBackward0"
    with te.no_grad():
        assert leaf.to(gpu).grad_fn is None


def test_device_leaf_used_on_the_cpu_gets_its_gradient_on_the_device(gpu: str) -> None:
    leaf = te.tensor([1.0, 2.0], device=gpu, requires_grad=True)
    (leaf.cpu() * te.tensor([3.0, 4.0])).sum().backward()
    assert leaf.grad.device == "cuda:0"
    np.testing.assert_array_equal(host(leaf.grad), [3.0, 4.0])


def test_gradients_from_both_devices_add_up_in_the_leaf(gpu: str) -> None:
    leaf = cpu_leaf()
    ((leaf * 2).sum() + (leaf.to(gpu) ** 2).sum().cpu()).backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 2 + 2 * leaf.detach().numpy(), **FLOAT64)


def test_dtype_conversion_is_recorded_as_to_copy_backward() -> None:
    assert cpu_leaf().to(te.float32).grad_fn.name() == "ToCopyBackward0"


# --------------------------------------------------------------------------- 3. host copies
def test_host_copies_of_device_tensors(device: str) -> None:
    tensor = te.tensor([[1.5, -2.0]], device=device)
    array = tensor.numpy()
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, [[1.5, -2.0]])
    as_array = np.asarray(tensor)
    assert isinstance(as_array, np.ndarray) and as_array.dtype == np.float32
    np.testing.assert_array_equal(as_array, [[1.5, -2.0]])
    assert tensor.tolist() == [[1.5, -2.0]]
    total = tensor.sum().item()
    assert type(total) is float and total == -0.5
    assert float(tensor[0, 0]) == 1.5
    assert bool(tensor[0, 0] > 0) is True and bool(tensor[0, 1] > 0) is False
    count = te.tensor(3, device=device)
    assert type(count.item()) is int and int(count) == 3 and list(range(count)) == [0, 1, 2]
    assert f"{tensor.sum():.2f}" == "-0.50"


def test_numpy_refuses_a_device_tensor_that_requires_grad(device: str) -> None:
    leaf = te.ones(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        leaf.numpy()
    np.testing.assert_array_equal(leaf.detach().numpy(), [1.0, 1.0])


# --------------------------------------------------------------------------- 4. mixing devices
#: name -> an op of two (2, 2) float32 tensors
BINARY_OPS: dict[str, Callable[[te.Tensor, te.Tensor], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "matmul": lambda a, b: a @ b,
    "maximum": te.maximum,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
    "where_values": lambda a, b: te.where(te.ones(2, 2, dtype=te.bool, device=a.device), a, b),
    "where_condition": lambda a, b: te.where(a > 0, b, b),
    "cat": lambda a, b: te.cat([a, b]),
    "stack": lambda a, b: te.stack([a, b]),
}


@pytest.mark.parametrize("gpu_first", [True, False], ids=["gpu_cpu", "cpu_gpu"])
@pytest.mark.parametrize("name", BINARY_OPS)
def test_mixing_devices_in_one_op_names_both_devices(gpu: str, name: str, gpu_first: bool) -> None:
    on_gpu, on_cpu = te.ones(2, 2, device=gpu), te.ones(2, 2)
    first, second = ("cuda:0", "cpu") if gpu_first else ("cpu", "cuda:0")
    operands = (on_gpu, on_cpu) if gpu_first else (on_cpu, on_gpu)
    with pytest.raises(RuntimeError, match=f"{SAME_DEVICE}.*{first} and {second}"):
        BINARY_OPS[name](*operands)


def test_a_device_model_refuses_a_cpu_input(gpu: str) -> None:
    te.manual_seed(0)
    model = nn.Linear(2, 2, device=gpu)
    with pytest.raises(RuntimeError, match=SAME_DEVICE):
        model(te.ones(1, 2))


#: operands that are not tensors: they join the device of the tensor they meet
HOST_OPERANDS: dict[str, Any] = {
    "int": 2, "float": 0.5, "bool": True, "numpy_scalar": np.float32(3.0), "list": [1.0, -2.0, 3.0],
    "numpy_array": np.array([1.0, -2.0, 3.0], dtype=np.float32),
}


@pytest.mark.parametrize("name", HOST_OPERANDS)
def test_numbers_lists_and_numpy_arrays_join_the_device(device: str, name: str) -> None:
    operand = HOST_OPERANDS[name]
    cpu = te.tensor([[1.0, 2.0, 4.0], [-1.0, 0.5, 3.0]])
    tensor = cpu.to(device)
    for op in (lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a / b, lambda a, b: b - a, lambda a, b: a > b):
        result, expected = op(tensor, operand), op(cpu, operand)
        assert result.device == placed(device)
        assert result.dtype is expected.dtype
        np.testing.assert_array_equal(host(result), host(expected))
    np.testing.assert_array_equal(host(te.where(tensor > 1, tensor, 0.0)), host(te.where(cpu > 1, cpu, 0.0)))


def test_where_with_two_numbers_follows_the_condition_to_the_device(gpu: str) -> None:
    condition = te.tensor([True, False], device=gpu)
    result = te.where(condition, 1.0, 0.0)
    assert result.device == "cuda:0"
    np.testing.assert_array_equal(host(result), [1.0, 0.0])


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a / b, lambda a, b: a < b,
                                te.maximum], ids=["add", "rmul", "div", "lt", "maximum"])
def test_zero_dim_cpu_tensors_act_as_scalars_with_device_tensors(gpu: str, op: Callable[[Any, Any], te.Tensor]) -> None:
    on_gpu, scalar = te.tensor([1.0, 4.0], device=gpu), te.tensor(2.0)
    result = op(on_gpu, scalar)
    assert result.device == "cuda:0"
    np.testing.assert_array_equal(host(result), host(op(on_gpu.cpu(), scalar)))


#: name -> an index a user writes for a tensor of shape (3, 2), with CPU index tensors
INDICES: dict[str, Any] = {
    "cpu_int_tensor": lambda: te.tensor([2, 0, 2]),
    "list": lambda: [2, 0, 2],
    "cpu_bool_mask": lambda: te.tensor([True, False, True]),
    "numpy_array": lambda: np.array([1, 1]),
    "two_cpu_tensors": lambda: (te.tensor([0, 2]), te.tensor([1, 0])),
}


@pytest.mark.parametrize("name", INDICES)
def test_indexing_a_device_tensor_with_cpu_indices(device: str, name: str) -> None:
    values = np.arange(6.0).reshape(3, 2)
    leaf, reference = te.tensor(values, device=device, requires_grad=True), te.tensor(values, requires_grad=True)
    picked = leaf[INDICES[name]()]
    expected = reference[INDICES[name]()]
    assert picked.device == placed(device)
    np.testing.assert_array_equal(host(picked), host(expected))
    (picked * picked).sum().backward()  # repeated indices add up their gradients
    (expected * expected).sum().backward()
    assert leaf.grad.device == placed(device)
    np.testing.assert_array_equal(host(leaf.grad), host(reference.grad))


def test_setitem_on_a_device_tensor_with_cpu_values_and_indices(device: str) -> None:
    tensor = te.zeros(3, 2, device=device)
    tensor[0] = te.tensor([1.0, 2.0])  # a CPU tensor
    tensor[te.tensor([1])] = 5.0  # a CPU index tensor
    tensor[2] = [7.0, 8.0]
    tensor[te.tensor([True, False, False]), 1] = np.array([9.0], dtype=np.float32)
    assert tensor.device == placed(device)
    np.testing.assert_array_equal(host(tensor), [[1.0, 9.0], [5.0, 5.0], [7.0, 8.0]])


def test_setitem_on_the_graph_sends_the_gradient_to_a_cpu_value(device: str) -> None:
    value = te.tensor([4.0], requires_grad=True)
    tensor = te.ones(3, device=device) * 1
    tensor[te.tensor([1])] = value
    (tensor * tensor).sum().backward()
    assert value.grad.device == "cpu"
    np.testing.assert_array_equal(value.grad.numpy(), [8.0])


# --------------------------------------------------------------------------- 5. modules
def test_linear_made_on_the_device(device: str) -> None:
    te.manual_seed(0)
    layer = nn.Linear(3, 2, device=device)
    bound = 1 / math.sqrt(3)
    for param in layer.parameters():
        assert isinstance(param, nn.Parameter) and param.requires_grad
        assert param.device == placed(device) and param.dtype is te.float32
        assert (np.abs(host(param)) <= bound).all()
    output = layer(te.ones(4, 3, device=device))
    assert output.device == placed(device) and output.shape == (4, 2)
    assert nn.Linear(3, 2, device=device, dtype=te.float64).weight.dtype is te.float64


def test_module_to_moves_the_same_parameters_and_their_gradients(device: str) -> None:
    te.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    params = list(model.parameters())
    optimizer = optim.SGD(model.parameters(), lr=0.1)  # made before .to(): must keep working
    model(te.ones(4, 3)).sum().backward()  # gradients made on the CPU
    values, grads = [host(p) for p in params], [host(p.grad) for p in params]

    assert model.to(device) is model
    for param, before, value, grad in zip(model.parameters(), params, values, grads):
        assert param is before
        assert param.device == placed(device) and param.grad.device == placed(device)
        np.testing.assert_array_equal(host(param), value)
        np.testing.assert_array_equal(host(param.grad), grad)

    optimizer.step()
    for param, value, grad in zip(params, values, grads):
        assert param.device == placed(device)
        np.testing.assert_allclose(host(param), value - 0.1 * grad, **FLOAT32)
    model.cpu()
    assert all(param.device == "cpu" and param is before for param, before in zip(model.parameters(), params))


def test_module_cuda(gpu: str) -> None:
    te.manual_seed(0)
    for model in (nn.Linear(2, 2).cuda(), nn.Linear(2, 2).cuda(0), nn.Linear(2, 2).to(gpu)):
        assert all(param.device == "cuda:0" for param in model.parameters())


def test_module_to_other_tensor_takes_its_dtype_and_device(device: str) -> None:
    model = nn.Linear(2, 2).to(te.zeros(1, dtype=te.float64, device=device))
    assert model.weight.device == placed(device) and model.weight.dtype is te.float64


#: the last layer of the network below
LAST_LAYERS = {"softmax": lambda: nn.Softmax(dim=1), "log_softmax": lambda: nn.LogSoftmax(dim=1)}


@pytest.mark.parametrize("last", LAST_LAYERS)
def test_sequential_on_the_device_matches_the_cpu(device: str, last: str) -> None:
    te.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 8), nn.GELU(),
                          nn.Linear(8, 3), LAST_LAYERS[last]()).eval()
    on_device = copy.deepcopy(model).to(device)  # the same initial weights
    rng = np.random.default_rng(1)
    inputs, weights = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)

    expected = model(te.tensor(inputs))
    (expected * te.tensor(weights)).sum().backward()
    output = on_device(te.tensor(inputs, device=device))
    (output * te.tensor(weights, device=device)).sum().backward()

    assert output.device == placed(device)
    np.testing.assert_allclose(host(output), host(expected), **FLOAT32)
    for (name, param), reference in zip(on_device.named_parameters(), model.parameters()):
        assert param.grad.device == placed(device), name
        np.testing.assert_allclose(host(param.grad), host(reference.grad), **FLOAT32, err_msg=name)


RNG = np.random.default_rng(0)
SCORES = RNG.standard_normal((5, 3))  # a batch of 5 samples, 3 outputs or classes
PROBABILITIES = 1 / (1 + np.exp(-SCORES))
BINARY = (RNG.random((5, 3)) > 0.5).astype(np.float64)
CLASSES = np.array([0, 2, 1, 2, 1])
CLASS_WEIGHTS = np.array([1.0, 2.0, 0.5])
SOFT_TARGETS = np.exp(SCORES[::-1]) / np.exp(SCORES[::-1]).sum(axis=1, keepdims=True)
LOG_PROBABILITIES = SCORES - np.log(np.exp(SCORES).sum(axis=1, keepdims=True))

#: name -> (loss module, input values, target) for a device
LOSSES: dict[str, Callable[[str], tuple[nn.Module, np.ndarray, te.Tensor]]] = {
    "mse": lambda d: (nn.MSELoss(), SCORES, te.tensor(BINARY, device=d)),
    "mse_sum": lambda d: (nn.MSELoss(reduction="sum"), SCORES, te.tensor(BINARY, device=d)),
    "l1": lambda d: (nn.L1Loss(), SCORES, te.tensor(BINARY, device=d)),
    "bce": lambda d: (nn.BCELoss(), PROBABILITIES, te.tensor(BINARY, device=d)),
    "bce_none": lambda d: (nn.BCELoss(reduction="none"), PROBABILITIES, te.tensor(BINARY, device=d)),
    "bce_with_logits": lambda d: (nn.BCEWithLogitsLoss(), SCORES, te.tensor(BINARY, device=d)),
    "bce_with_logits_pos_weight": lambda d: (nn.BCEWithLogitsLoss(pos_weight=te.tensor(CLASS_WEIGHTS, device=d)),
                                             SCORES, te.tensor(BINARY, device=d)),
    "cross_entropy": lambda d: (nn.CrossEntropyLoss(), SCORES, te.tensor(CLASSES, device=d)),
    "cross_entropy_weight": lambda d: (nn.CrossEntropyLoss(weight=te.tensor(CLASS_WEIGHTS, device=d)),
                                       SCORES, te.tensor(CLASSES, device=d)),
    "cross_entropy_weight_moved_by_to": lambda d: (nn.CrossEntropyLoss(weight=te.tensor(CLASS_WEIGHTS)).to(d),
                                                   SCORES, te.tensor(CLASSES, device=d)),
    "cross_entropy_ignore_index": lambda d: (nn.CrossEntropyLoss(ignore_index=2), SCORES, te.tensor(CLASSES, device=d)),
    "cross_entropy_label_smoothing": lambda d: (nn.CrossEntropyLoss(label_smoothing=0.1), SCORES,
                                                te.tensor(CLASSES, device=d)),
    "cross_entropy_probabilities": lambda d: (nn.CrossEntropyLoss(), SCORES, te.tensor(SOFT_TARGETS, device=d)),
    "nll": lambda d: (nn.NLLLoss(), LOG_PROBABILITIES, te.tensor(CLASSES, device=d)),
    "nll_weight_sum": lambda d: (nn.NLLLoss(weight=te.tensor(CLASS_WEIGHTS, device=d), reduction="sum"),
                                 LOG_PROBABILITIES, te.tensor(CLASSES, device=d)),
    "smooth_l1": lambda d: (nn.SmoothL1Loss(beta=0.5), SCORES, te.tensor(BINARY, device=d)),
    "huber": lambda d: (nn.HuberLoss(delta=0.5), SCORES, te.tensor(BINARY, device=d)),
}


def loss_and_gradient(name: str, device: str) -> tuple[np.ndarray, np.ndarray]:
    """The loss (float64) and its gradient with respect to the input, computed on ``device``;
    both are checked to live there."""
    loss, values, target = LOSSES[name](device)
    inputs = te.tensor(values, device=device, requires_grad=True)
    output = loss(inputs, target)
    output.sum().backward()
    assert output.device == placed(device) and inputs.grad.device == placed(device)
    return host(output), host(inputs.grad)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_on_the_device_equals_the_cpu(device: str, name: str) -> None:
    value, gradient = loss_and_gradient(name, device)
    expected_value, expected_gradient = loss_and_gradient(name, "cpu")
    np.testing.assert_allclose(value, expected_value, **FLOAT64)
    np.testing.assert_allclose(gradient, expected_gradient, **FLOAT64)


# --------------------------------------------------------------------------- 6. optimizers
OPTIMIZERS: dict[str, Callable[[Any], optim.Optimizer]] = {
    "sgd_momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "sgd_nesterov_weight_decay": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True,
                                                          weight_decay=0.01),
    "adam": lambda params: optim.Adam(params, lr=0.05),
    "adamw": lambda params: optim.AdamW(params, lr=0.05, weight_decay=0.1),
    "rmsprop": lambda params: optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
}


def initial_model() -> nn.Module:
    """The same weights every time, drawn on the CPU (then moved where needed)."""
    te.manual_seed(0)
    return nn.Linear(4, 3)


def train(model: nn.Module, optimizer: optim.Optimizer, device: str, steps: int) -> None:
    """``steps`` full-batch steps of least squares on fixed data, on ``device``."""
    rng = np.random.default_rng(0)
    inputs = te.tensor(rng.standard_normal((8, 4)), dtype=te.float32, device=device)
    targets = te.tensor(rng.standard_normal((8, 3)), dtype=te.float32, device=device)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()


def trained_on_cpu(name: str, steps: int = 5) -> nn.Module:
    model = initial_model()
    train(model, OPTIMIZERS[name](model.parameters()), "cpu", steps)
    return model


def assert_same_parameters(model: nn.Module, expected: nn.Module, device: str) -> None:
    for (name, param), reference in zip(model.named_parameters(), expected.parameters()):
        assert param.device == placed(device), name
        np.testing.assert_allclose(host(param), host(reference), **FLOAT32, err_msg=name)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_on_the_device_matches_the_cpu(device: str, name: str) -> None:
    expected = trained_on_cpu(name)
    assert not np.allclose(host(expected.weight), host(initial_model().weight))  # the steps moved the weights
    model = initial_model().to(device)
    train(model, OPTIMIZERS[name](model.parameters()), device, 5)
    assert_same_parameters(model, expected, device)


@pytest.mark.parametrize("direction", ["device_to_cpu", "cpu_to_device"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_dict_moves_between_devices(device: str, name: str, direction: str) -> None:
    """2 steps on one device, save model and optimizer, load them on the other, 3 more steps:
    the same parameters as 5 steps on the CPU."""
    before, after = (device, "cpu") if direction == "device_to_cpu" else ("cpu", device)
    model = initial_model().to(before)
    optimizer = OPTIMIZERS[name](model.parameters())
    train(model, optimizer, before, 2)
    model_file, optimizer_file = io.BytesIO(), io.BytesIO()
    te.save(model.state_dict(), model_file)
    te.save(optimizer.state_dict(), optimizer_file)
    model_file.seek(0)
    optimizer_file.seek(0)

    resumed = nn.Linear(4, 3).to(after)
    resumed.load_state_dict(te.load(model_file))
    optimizer = OPTIMIZERS[name](resumed.parameters())
    optimizer.load_state_dict(te.load(optimizer_file))
    for state in optimizer.state.values():  # the loaded state joins its parameter's device (the step count: the CPU)
        for key, value in state.items():
            if isinstance(value, te.Tensor) and key != "step":
                assert value.device == placed(after), key
    train(resumed, optimizer, after, 3)
    assert_same_parameters(resumed, trained_on_cpu(name), after)


def test_clip_grad_norm_on_device_gradients(device: str) -> None:
    def clipped(where: str) -> tuple[te.Tensor, nn.Module]:
        model = initial_model().to(where)
        model(te.ones(5, 4, device=where)).pow(2).sum().backward()
        return nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5), model

    total, model = clipped(device)
    expected_total, expected = clipped("cpu")
    assert total.device == placed(device)
    assert expected_total.item() > 0.5  # the gradients were long enough to be clipped
    np.testing.assert_allclose(total.item(), expected_total.item(), **FLOAT32)
    for param, reference in zip(model.parameters(), expected.parameters()):
        assert param.grad.device == placed(device)
        np.testing.assert_allclose(host(param.grad), host(reference.grad), **FLOAT32)


def test_assigning_a_cpu_gradient_to_a_device_parameter_is_refused(gpu: str) -> None:
    te.manual_seed(0)
    param = nn.Linear(2, 2, device=gpu).weight
    with pytest.raises(RuntimeError, match="device"):
        param.grad = te.ones(2, 2)


# --------------------------------------------------------------------------- 7. random numbers
DRAWS: dict[str, Callable[[str], te.Tensor]] = {
    "rand": lambda d: te.rand(20, device=d),
    "randn": lambda d: te.randn(20, device=d),
    "randint": lambda d: te.randint(0, 1000, (20,), device=d),
    "randperm": lambda d: te.randperm(20, device=d),
    "normal_": lambda d: te.zeros(20, device=d).normal_(),
    "uniform_": lambda d: te.zeros(20, device=d).uniform_(-1, 1),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_makes_device_draws_reproducible(device: str, name: str) -> None:
    draw = DRAWS[name]
    te.manual_seed(1234)
    first, following = draw(device), draw(device)
    te.manual_seed(1234)
    again = draw(device)
    assert again.device == placed(device)
    np.testing.assert_array_equal(host(again), host(first))
    assert not np.array_equal(host(following), host(first))  # the stream moves on


def test_a_generator_makes_device_draws_reproducible_without_the_global_seed(device: str) -> None:
    def draw() -> te.Tensor:
        return te.randn(8, generator=te.Generator(device=device).manual_seed(3), device=device)

    first = draw()
    te.manual_seed(0)  # the global seed does not matter
    assert first.device == placed(device)
    np.testing.assert_array_equal(host(draw()), host(first))


def test_dropout_in_training_on_the_device_is_reproducible(device: str) -> None:
    dropout = nn.Dropout(0.5)  # training mode
    ones = te.ones(1000, device=device)
    te.manual_seed(7)
    first = dropout(ones)
    te.manual_seed(7)
    again = dropout(ones)
    assert first.device == placed(device)
    kept = host(first)
    np.testing.assert_array_equal(host(again), kept)
    assert set(kept.tolist()) == {0.0, 2.0}  # the kept values are scaled by 1 / (1 - p)
    assert 400 < (kept == 0).sum() < 600
    assert not np.array_equal(host(dropout(ones)), kept)  # a new mask each call


def test_cuda_manual_seed_leaves_the_cpu_draws_alone() -> None:
    te.manual_seed(0)
    te.rand(3)
    expected = te.rand(3)
    te.manual_seed(0)
    te.rand(3)
    te.cuda.manual_seed(99)
    te.cuda.manual_seed_all(99)
    np.testing.assert_array_equal(te.rand(3).numpy(), expected.numpy())


def test_cuda_manual_seed_makes_gpu_draws_reproducible(gpu: str) -> None:
    te.cuda.manual_seed(5)
    first = te.randn(8, device=gpu)
    te.cuda.manual_seed(5)
    np.testing.assert_array_equal(host(te.randn(8, device=gpu)), host(first))


# --------------------------------------------------------------------------- 8. save and load
def device_state(device: str) -> dict[str, Any]:
    te.manual_seed(0)
    return {"weight": te.randn(2, 3, device=device), "counts": [te.arange(3, device=device)],
            "flags": te.tensor([True, False], device=device), "step": 5}


def on_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """``device_state``'s tensors copied to the CPU (to compare with after CuPy has "gone")."""
    return {"weight": state["weight"].cpu(), "counts": [state["counts"][0].cpu()], "flags": state["flags"].cpu(),
            "step": state["step"]}


def saved(state: dict[str, Any]) -> io.BytesIO:
    file = io.BytesIO()
    te.save(state, file)
    file.seek(0)
    return file


def assert_loaded(loaded: dict[str, Any], state: dict[str, Any], where: str) -> None:
    assert loaded["step"] == 5
    for got, expected in ((loaded["weight"], state["weight"]), (loaded["counts"][0], state["counts"][0]),
                          (loaded["flags"], state["flags"])):
        assert got.device == where and got.dtype is expected.dtype
        np.testing.assert_array_equal(host(got), host(expected))


def test_load_puts_tensors_back_on_the_device_they_were_saved_from(device: str) -> None:
    state = device_state(device)
    assert_loaded(te.load(saved(state)), state, str(placed(device)))


@pytest.mark.parametrize("map_location", ["cpu", te.device("cpu"), {"cuda:0": "cpu"}], ids=["str", "device", "dict"])
def test_load_with_map_location_cpu(device: str, map_location: Any) -> None:
    state = device_state(device)
    assert_loaded(te.load(saved(state), map_location=map_location), state, "cpu")


def test_load_with_map_location_to_the_device(device: str) -> None:
    state = device_state("cpu")
    assert_loaded(te.load(saved(state), map_location=device), state, str(placed(device)))


def test_file_saved_from_the_device_on_a_machine_without_cupy(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    state = device_state(device)
    file, expected = saved(state), on_cpu(state)
    simulate_no_cupy(monkeypatch)
    if device == "cpu":
        assert_loaded(te.load(file), expected, "cpu")
        return
    with pytest.raises(RuntimeError, match=r"saved from 'cuda:0'.*CuPy is not installed.*map_location='cpu'"):
        te.load(file)
    file.seek(0)
    assert_loaded(te.load(file, map_location="cpu"), expected, "cpu")


# --------------------------------------------------------------------------- 9. no CuPy, no GPU
NO_CUPY = r"CuPy is not installed.*tinygrad_edu\[cuda\]"
NO_GPU = "CuPy is installed, but it finds no CUDA GPU"
GPU_REQUESTS: dict[str, Callable[[], Any]] = {
    "creation": lambda: te.zeros(2, device="cuda"),
    "random_creation": lambda: te.randn(2, device="cuda"),
    "tensor_cuda": lambda: te.tensor([1.0]).cuda(),
    "tensor_to": lambda: te.tensor([1.0]).to("cuda:0"),
    "linear_device": lambda: nn.Linear(2, 2, device="cuda"),
    "module_to": lambda: nn.Linear(2, 2).to("cuda"),
    "load_map_location": lambda: te.load(saved({"a": te.ones(1)}), map_location="cuda"),
    "current_device": lambda: te.cuda.current_device(),
    "get_device_name": lambda: te.cuda.get_device_name(0),
}


@pytest.mark.parametrize("request_gpu", GPU_REQUESTS.values(), ids=GPU_REQUESTS.keys())
def test_without_cupy_asking_for_the_gpu_says_what_to_install(request_gpu: Callable[[], Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_no_cupy(monkeypatch)
    with pytest.raises(RuntimeError, match=NO_CUPY):
        request_gpu()


def test_without_cupy_cuda_is_not_available_and_cpu_scripts_run(monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_no_cupy(monkeypatch)
    assert te.cuda.is_available() is False and te.cuda.device_count() == 0
    where = te.device("cuda" if te.cuda.is_available() else "cpu")  # PyTorch's idiom picks the CPU
    model = nn.Linear(2, 1).to(where)
    assert model(te.ones(3, 2, device=where)).shape == (3, 1)
    assert te.device("cuda:0").type == "cuda"  # naming the GPU is always allowed


@pytest.mark.parametrize("gpu_count", [no_cuda_driver, lambda: 0], ids=["runtime_raises", "zero_gpus"])
def test_cupy_without_a_gpu_says_so(gpu_count: Callable[[], int], monkeypatch: pytest.MonkeyPatch) -> None:
    installed_cupy(monkeypatch, gpu_count)
    assert te.cuda.is_available() is False and te.cuda.device_count() == 0
    for request_gpu in GPU_REQUESTS.values():
        with pytest.raises(RuntimeError, match=NO_GPU):
            request_gpu()


def test_asking_for_a_gpu_number_beyond_the_count_says_how_many_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = te.ones(2)
    installed_cupy(monkeypatch, lambda: 1)
    for request_gpu in (lambda: te.zeros(2, device="cuda:3"), lambda: cpu.to("cuda:3"), lambda: cpu.cuda(3)):
        with pytest.raises(RuntimeError, match=re.escape("device 'cuda:3' is not available: CuPy sees 1 GPU(s)")):
            request_gpu()


def test_cuda_module_reports_the_gpu(gpu: str) -> None:
    assert te.cuda.is_available() is True and te.cuda.device_count() >= 1
    assert te.cuda.current_device() == 0
    name = te.cuda.get_device_name(0)
    assert isinstance(name, str) and name
    te.cuda.synchronize()  # returns once the GPU's queued work is done


def test_importing_the_package_never_imports_cupy() -> None:
    code = "import tinygrad_edu, sys; assert 'cupy' not in sys.modules, 'importing tinygrad_edu imported cupy'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --------------------------------------------------------------------------- 10. examples
def load_example(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_example_trains_on_the_device(device: str, tmp_path: Path) -> None:
    result = load_example("digits").main(epochs=2, device=device, verbose=False, out_dir=str(tmp_path))
    assert result["test_accuracy"] > 0.8 and result["train_accuracy"] > 0.8
    assert result["reload_identical"] is True
    assert (tmp_path / "digits_mlp.pt").exists()


def small_classification_problem(seed: int = 0) -> relu_mlp.ClassificationProblem:
    """``benchmarks/workloads/mlp.py``'s task at a small size: 32 random inputs, a 20-16-16-5 ReLU MLP."""
    sizes = [20, 16, 16, 5]
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((32, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], size=32, dtype=np.int64)
    weights = [linear_weights(rng, fan_in, fan_out) for fan_in, fan_out in pairwise(sizes)]
    return relu_mlp.ClassificationProblem(inputs, labels, weights, learning_rate=0.1)


def test_benchmark_workload_gives_the_same_losses_on_the_device(device: str) -> None:
    problem = small_classification_problem()
    first_loss = relu_mlp.framework(te, problem, device)(1)
    np.testing.assert_allclose(first_loss, relu_mlp.numpy_floor(problem)(1), **FLOAT32)
    np.testing.assert_allclose(first_loss, relu_mlp.framework(te, problem, "cpu")(1), **FLOAT32)
    np.testing.assert_allclose(relu_mlp.framework(te, problem, device)(4), relu_mlp.framework(te, problem, "cpu")(4),
                               **FLOAT32)


# ----------------------------------------------------------------------- more of PyTorch's names


def test_new_tensors_take_this_tensors_dtype_and_device(device: str) -> None:
    base = te.zeros(2, dtype=te.float64, device=device)
    for made in (base.new_full((2, 3), 7.0), base.new_empty(2, 3), base.new_tensor([[1, 2, 3], [4, 5, 6]])):
        assert (made.shape, made.dtype, made.device) == ((2, 3), te.float64, base.device)
    assert base.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert base.new_tensor([1, 2], dtype=te.int64, device="cpu").device == "cpu"
    assert base.get_device() == (-1 if device == "cpu" else 0)


def test_gpu_memory_questions_answer_without_a_gpu(without_cupy: None) -> None:
    assert te.cuda.memory_allocated() == 0 and te.cuda.memory_reserved() == 0
    assert te.cuda.empty_cache() is None and te.cuda.synchronize() is None


LESS_COMMON_OPS = {
    "sort": lambda x: x.sort(dim=1)[0], "sort_indices": lambda x: x.sort(dim=1, descending=True)[1],
    "argsort": lambda x: x.argsort(dim=0), "topk": lambda x: x.topk(2, dim=1)[0],
    "topk_indices": lambda x: x.topk(2, dim=1, largest=False)[1], "cumsum": lambda x: x.cumsum(1),
    "flip": lambda x: x.flip(0), "index_select": lambda x: x.index_select(1, te.tensor([2, 0, 2])),
    "round": lambda x: (x * 3).round(), "floor": lambda x: x.floor(), "ceil": lambda x: x.ceil(),
    "bmm": lambda x: te.bmm(x.reshape(1, 3, 4), x.reshape(1, 4, 3)), "norm": lambda x: x.norm(dim=1),
    "gelu": lambda x: nn.functional.gelu(x), "argmax": lambda x: x.argmax(dim=1),
    "max_dim": lambda x: x.max(dim=0)[1], "all_any": lambda x: te.stack([(x > -5).all(), (x > 1).any()]),
    "clamp": lambda x: x.clamp(-0.5, 0.5), "remainder": lambda x: x % 0.7, "floor_divide": lambda x: x // 0.7,
    "logical": lambda x: (x > 0) & (x < 1) | (x == x), "one_hot": lambda x: nn.functional.one_hot(x.argmax(1), 4),
    "masked_fill": lambda x: x.masked_fill(x > 0, 0.0), "softmax": lambda x: x.softmax(1),
    "logsumexp": lambda x: x.logsumexp(1), "var": lambda x: x.var(0), "repeat": lambda x: x.repeat(2, 1),
    "gather": lambda x: x.gather(1, te.tensor([[0], [1], [3]], device=x.device)),
    "setitem": lambda x: _set_and_return(x.clone(), (slice(None), 1), 5.0),
}


def _set_and_return(x: te.Tensor, key: object, value: float) -> te.Tensor:
    x[key] = value
    return x


@pytest.mark.parametrize("name", list(LESS_COMMON_OPS))
def test_less_common_ops_give_the_cpus_values_on_every_device(name: str, device: str) -> None:
    te.manual_seed(0)
    x = te.randn(3, 4, dtype=te.float64)
    expected = LESS_COMMON_OPS[name](x)
    result = LESS_COMMON_OPS[name](x.to(device))
    assert result.device == te.device(device) or (device == "cuda" and result.device == "cuda:0")
    assert result.dtype == expected.dtype and result.shape == expected.shape
    np.testing.assert_allclose(result.cpu().numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
