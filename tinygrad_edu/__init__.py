"""tinygrad_edu: a small deep-learning framework on NumPy, with PyTorch's API.

Reading order for learners: ``backend`` -> ``broadcasting`` -> ``autograd`` (grad_mode,
function, engine) -> ``tensor`` -> ``ops`` -> ``creation`` / ``functional`` -> ``nn`` ->
``optim`` -> ``utils.data`` -> ``serialization`` (save/load) -> ``datasets``.

Every public name is imported here explicitly, so ``import tinygrad_edu as torch`` offers
``torch.tensor``, ``torch.float32``, ``torch.no_grad``, ``torch.exp``, ...
"""
from tinygrad_edu.tensor import Tensor  # noqa: I001 - Tensor first: the modules below need it
from tinygrad_edu import autograd
from tinygrad_edu.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_edu.backend import DType, Generator, bool, device, float32, float64, int64
from tinygrad_edu.creation import (
    arange, empty, eye, from_numpy, full, full_like, linspace, manual_seed, ones, ones_like, rand, rand_like, randint,
    randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from tinygrad_edu.functional import (
    abs, allclose, argmax, argmin, cat, clamp, cos, exp, is_tensor, log, log_softmax, logsumexp, matmul, max, maximum,
    mean, min, minimum, mm, numel, pow, relu, sigmoid, sin, softmax, sqrt, stack, sum, tanh, where,
)
from tinygrad_edu.serialization import load, save
from tinygrad_edu import datasets, nn, optim, utils, viz  # noqa: I001 - after the names they build on

# PyTorch's other names for the same dtypes.
float = float32  # noqa: A001
double = float64
long = int64


def get_default_dtype() -> DType:
    """float32: the dtype of tensors made from Python floats."""
    return float32


__version__ = "0.1.0"

__all__ = [
    "DType", "Generator", "Tensor", "abs", "allclose", "arange", "argmax", "argmin", "autograd", "bool", "cat", "clamp", "cos", "datasets",
    "device", "double", "empty", "enable_grad", "exp", "eye", "float", "float32", "float64", "from_numpy", "full",
    "full_like", "get_default_dtype", "int64", "is_grad_enabled", "is_tensor", "linspace", "load", "log", "log_softmax",
    "logsumexp", "long", "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "nn", "no_grad", "numel", "optim",
    "ones", "ones_like", "pow", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "relu", "save",
    "set_grad_enabled",
    "sigmoid", "sin", "softmax", "sqrt", "stack", "sum", "tanh", "tensor", "utils", "viz", "where", "zeros", "zeros_like",
]
