"""``tinygrad_edu.cuda``: the questions PyTorch scripts ask about the GPU.

The GPU backend runs on CuPy (``pip install "tinygrad_edu[cuda]"``). Without CuPy or
without a GPU, ``is_available()`` is False and ``device_count()`` is 0, so scripts written as

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

run unchanged on the CPU.
"""
from __future__ import annotations

from tinygrad_edu import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one NVIDIA GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    return backend.cuda_device_count()


def current_device() -> int:
    """The index of the GPU that ``"cuda"`` (without an index) means: always 0 here."""
    backend.check_available("cuda")
    return 0


def get_device_name(device: int = 0) -> str:
    cupy = backend.namespace_of(backend.check_available(f"cuda:{int(device)}"))
    name = cupy.cuda.runtime.getDeviceProperties(int(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated(device: int = 0) -> int:
    """Bytes of GPU memory held by tensors now (CuPy's memory pool, in use); 0 without a GPU."""
    if not backend.cuda_is_available():
        return 0
    return int(backend.namespace_of(backend.device("cuda", device)).get_default_memory_pool().used_bytes())


def memory_reserved(device: int = 0) -> int:
    """Bytes of GPU memory CuPy's pool holds, in use or kept for reuse; 0 without a GPU."""
    if not backend.cuda_is_available():
        return 0
    return int(backend.namespace_of(backend.device("cuda", device)).get_default_memory_pool().total_bytes())


def empty_cache() -> None:
    """Give the GPU memory that CuPy's pool keeps for reuse back to the driver."""
    if backend.cuda_is_available():
        backend.namespace_of(backend.device("cuda")).get_default_memory_pool().free_all_blocks()


def synchronize() -> None:
    """Wait until the GPU has finished all queued work (kernels run asynchronously: time
    GPU code only after this)."""
    if backend.cuda_is_available():
        backend.namespace_of(backend.device("cuda")).cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    """Seed the GPU draws of the default generator (``tinygrad_edu.manual_seed`` seeds
    the CPU and the GPU draws together, as PyTorch's does)."""
    backend.DEFAULT_GENERATOR.seed_gpu(seed)


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)
