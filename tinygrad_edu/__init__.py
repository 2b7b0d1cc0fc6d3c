"""tinygrad_edu: a small deep-learning framework on NumPy, with PyTorch's API.

Reading order for learners: ``backend`` -> ``broadcasting`` -> ``autograd`` (grad_mode,
function, engine) -> ``tensor`` -> ``ops`` -> ``creation`` / ``functional`` -> ``nn`` ->
``optim`` -> ``utils.data`` -> ``serialization`` (save/load) -> ``datasets``.

Every public name is imported here explicitly, so ``import tinygrad_edu as torch`` offers
``torch.tensor``, ``torch.float32``, ``torch.no_grad``, ``torch.exp``, ...
"""
from tinygrad_edu.tensor import Tensor  # noqa: I001 - Tensor first: the modules below need it
from tinygrad_edu import autograd
from tinygrad_edu.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_edu.backend import DType, Generator, bool, device, float32, float64, int64
from tinygrad_edu.creation import (
    arange, empty, eye, from_numpy, full, full_like, linspace, manual_seed, ones, ones_like, rand, rand_like, randint,
    randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from tinygrad_edu.functional import (
    abs, add, all, allclose, amax, amin, any, argmax, argmin, cat, chunk, clamp, clone, cos, div, eq, exp, flatten,
    gather, ge, gt, is_tensor, isfinite, isinf, isnan, le, log, log_softmax, logsumexp, lt, matmul, max, maximum, mean,
    min, minimum, mm, mul, ne, neg, norm, numel, permute, pow, prod, relu, reshape, rsqrt, sigmoid, sign, sin, softmax,
    split, sqrt, square, squeeze, stack, std, sub, sum, t, tanh, transpose, unsqueeze, var, where,
)
from tinygrad_edu.functional import argsort, bmm, ceil, cumsum, flip, floor, index_select, round, sort, topk
from tinygrad_edu.serialization import load, save
from tinygrad_edu import backends, cuda, datasets, jit, linalg, nn, optim, utils, viz  # noqa: I001 - need the names above

# PyTorch's other names for the same dtypes.
float = float32  # noqa: A001
double = float64
long = int64


def get_default_dtype() -> DType:
    """float32: the dtype of tensors made from Python floats."""
    return float32


__version__ = "0.1.0"

_DETERMINISTIC = [True]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted for PyTorch scripts: every op here runs on NumPy and is deterministic already."""
    _DETERMINISTIC[0] = mode


def are_deterministic_algorithms_enabled() -> bool:
    return _DETERMINISTIC[0]


def compile(model=None, **options):  # noqa: A001 - PyTorch's name
    """``torch.compile``, accepted for PyTorch scripts: returns ``model`` (a module or a
    function) unchanged, so the script runs eagerly, with the same results; also works as
    ``@compile`` and ``@compile(mode=...)``. To speed up a whole training step (forward,
    backward and update), wrap it in :func:`tinygrad_edu.jit.capture` instead."""
    if model is None:
        return lambda function: function
    return model


__all__ = [
    "abs", "add", "all", "allclose", "amax", "amin", "any", "arange", "are_deterministic_algorithms_enabled",
    "argmax", "argmin", "argsort", "autograd", "backends", "bmm", "bool", "cat", "ceil", "chunk", "clamp", "clone",
    "compile", "cos", "cumsum", "cuda", "datasets", "device", "div", "double", "DType", "empty", "enable_grad", "eq", "exp", "eye",
    "flatten", "flip", "float", "float32", "float64", "floor", "from_numpy", "full", "full_like", "gather", "ge",
    "Generator", "get_default_dtype", "gt", "index_select", "inference_mode", "int64", "is_grad_enabled", "is_tensor", "jit",
    "isfinite", "isinf", "isnan", "le", "linalg", "linspace", "load", "log", "log_softmax", "logsumexp", "long", "lt",
    "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul", "ne", "neg", "nn", "no_grad",
    "norm", "numel", "ones", "ones_like", "optim", "permute", "pow", "prod", "rand", "rand_like", "randint", "randn",
    "randn_like", "randperm", "relu", "reshape", "round", "rsqrt", "save", "set_grad_enabled", "sigmoid", "sign",
    "sin", "softmax", "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "t", "tanh",
    "Tensor", "tensor", "topk", "transpose", "unsqueeze", "use_deterministic_algorithms", "utils", "var", "viz",
    "where", "zeros", "zeros_like",
]
