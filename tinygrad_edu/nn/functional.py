"""``nn.functional``: layers and losses as plain functions of tensors.

Every function here is a composition of Tensor ops, so its gradient comes from the
primitives' backward rules; none has a backward of its own except where a primitive in
``ops/special.py`` says why (``gelu``'s erf, ``binary_cross_entropy``'s clamped logs).
The modules in ``activation.py``, ``linear.py`` and ``loss.py`` call these functions.

Losses take ``reduction="mean" | "sum" | "none"``; ``_reduce`` applies it.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.ops.fused import CrossEntropy, Linear, MseLoss
from tinygrad_edu.ops.special import BinaryCrossEntropy, Erf, Softplus
from tinygrad_edu.tensor import Tensor, where

# ----------------------------------------------------------------------------------------
# activations
# ----------------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's argument names
    """max(x, 0);  gradient 1 where x > 0, else 0."""
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else negative_slope * x."""
    return where(input > 0, input, input * negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else alpha (e^x - 1). The exp sees only non-positive values, so it
    cannot overflow on the branch that ``where`` discards."""
    return where(input > 0, input, alpha * (input.clamp(max=0).exp() - 1))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2; with
    ``approximate="tanh"``: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "none":
        return input * 0.5 * (1 + Erf.apply(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """ln(1 + e^(beta x)) / beta, a smooth ReLU; x itself where beta x > threshold (as PyTorch)."""
    scaled = input * beta
    smooth = Softplus.apply(scaled) if beta == 1 else Softplus.apply(scaled) / beta
    return where(scaled > threshold, input, smooth)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (also called swish)."""
    return input * input.sigmoid()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return input.tanh()


def _implicit_softmax_dim(op: str, ndim: int) -> int:
    """PyTorch's legacy choice when ``dim`` is not given (with the same warning)."""
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning, stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim)
    return (input if dtype is None else input.to(dtype)).softmax(dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim)
    return (input if dtype is None else input.to(dtype)).log_softmax(dim)


# ----------------------------------------------------------------------------------------
# layers as functions
# ----------------------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: input of shape {tuple(input.shape)} does not fit the weight of shape {tuple(weight.shape)} "
            f"(the input's last dimension must be in_features = {weight.shape[-1]})"
        )
    if weight.ndim == 2 and input.dtype is weight.dtype and (bias is None or bias.dtype is weight.dtype):
        return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)  # one fused op
    output = input.matmul(weight.T)
    return output if bias is None else output + bias


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """In training, zero each element with probability p and scale the rest by 1/(1-p), so
    the expected value is unchanged; outside training, the identity."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = backend.generator(input.device).random(input.shape) >= p  # drawn on the input's device
    scale = Tensor._wrap(backend.asarray(keep / (1.0 - p), input.dtype))
    return input * scale


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (int64) as rows of 0/1 of length ``num_classes`` (int64, as PyTorch)."""
    if tensor.dtype is not backend.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensors (int64), got {tensor.dtype}")
    values = tensor.array
    if num_classes == -1:
        if values.size == 0:
            raise RuntimeError("one_hot: can not infer the total number of classes from an empty tensor "
                               "(pass num_classes)")
        num_classes = int(values.max()) + 1
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise RuntimeError(
            f"one_hot: class values must be in [0, {num_classes}), got values from {int(values.min())} "
            f"to {int(values.max())}"
        )
    classes = backend.array_namespace(values).arange(num_classes)
    return Tensor._wrap((values[..., None] == classes).astype(backend.int64.numpy_dtype))


# ----------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _as_target(target: Any, like: Tensor) -> Tensor:
    return target if isinstance(target, Tensor) else Tensor(target, dtype=like.dtype)


def _check_same_size(op: str, input: Tensor, target: Tensor, broadcast_allowed: bool) -> None:  # noqa: A002
    if input.shape == target.shape:
        return
    if not broadcast_allowed:
        raise ValueError(
            f"{op}: using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is not supported; please ensure they have the same size"
        )
    warnings.warn(
        f"{op}: using a target size ({tuple(target.shape)}) that is different to the input size "
        f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
        f"Please ensure they have the same size.",
        UserWarning, stacklevel=3,
    )


def _check_float_target(op: str, target: Tensor) -> None:
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"{op}: found a target of dtype {target.dtype}, expected a floating point target "
                           f"(probabilities; convert with target.float())")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(x - y)^2 per element, then the reduction."""
    target = _as_target(target, input)
    _check_reduction(reduction, "mse_loss")
    _check_same_size("mse_loss", input, target, broadcast_allowed=True)
    if input.shape == target.shape and input.dtype is target.dtype and input.dtype.is_floating_point:
        return MseLoss.apply(input, target, reduction)  # the same math as below, as one fused op
    return _reduce((input - target).square(), reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|x - y| per element, then the reduction."""
    target = _as_target(target, input)
    _check_reduction(reduction, "l1_loss")
    _check_same_size("l1_loss", input, target, broadcast_allowed=True)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - y): quadratic near 0,
    linear far out, so outliers pull less than in MSE."""
    target = _as_target(target, input)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _check_same_size("smooth_l1_loss", input, target, broadcast_allowed=True)
    distance = (input - target).abs()
    if beta == 0:
        return _reduce(distance, reduction, "smooth_l1_loss")
    loss = where(distance < beta, 0.5 * distance * distance / beta, distance - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1_loss times delta."""
    target = _as_target(target, input)
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _check_same_size("huber_loss", input, target, broadcast_allowed=True)
    distance = (input - target).abs()
    loss = where(distance <= delta, 0.5 * distance * distance, delta * (distance - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """-(y ln x + (1 - y) ln(1 - x)) for probabilities x in [0, 1], each log clamped at -100
    as PyTorch does (the primitive ``BinaryCrossEntropy`` in ``ops/special.py``)."""
    target = _as_target(target, input)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_float_target("binary_cross_entropy", target)
    _check_same_size("binary_cross_entropy", input, target, broadcast_allowed=False)
    values = input.array
    if values.size and not bool(((values >= 0) & (values <= 1)).all()):
        raise RuntimeError(
            f"binary_cross_entropy: all elements of input should be between 0 and 1 (they are probabilities; "
            f"got values from {float(values.min())} to {float(values.max())}; use binary_cross_entropy_with_logits "
            f"for raw scores)"
        )
    loss = BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """The binary cross-entropy of sigmoid(x), computed without forming sigmoid(x):

        loss = (1 - y) x + w_pos ln(1 + e^-x),   w_pos = 1 + (pos_weight - 1) y,

    with ln(1 + e^-x) the stable ``Softplus`` primitive of -x, so logits of +-1e4 give
    exact losses. Its gradient is sigmoid(x) - y (with pos_weight 1).
    """
    target = _as_target(target, input)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_float_target("binary_cross_entropy_with_logits", target)
    _check_same_size("binary_cross_entropy_with_logits", input, target, broadcast_allowed=False)
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + log_weight * Softplus.apply(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _class_dim_last(tensor: Tensor) -> Tensor:
    """(N, C, d1, d2, ...) -> (N * d1 * d2 * ..., C): one row per prediction."""
    if tensor.ndim <= 2:
        return tensor.reshape(-1, tensor.shape[-1])
    order = (0,) + tuple(range(2, tensor.ndim)) + (1,)
    return tensor.permute(*order).reshape(-1, tensor.shape[1])


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """-w[y] * input[y] per sample: the negative log-likelihood of the true class y, given
    log-probabilities ``input`` of shape (C,), (N, C) or (N, C, d1, ...). ``mean`` divides by
    the sum of the weights of the samples counted (those whose target is not ignore_index)."""
    _check_reduction(reduction, "nll_loss")
    losses, weights = _picked_log_probabilities("nll_loss", input, target, weight, ignore_index)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return _weighted_mean(losses.sum(), weights.sum())


def _weighted_mean(total: Tensor, weight: Tensor) -> Tensor:
    """total / weight; with every target ignored (weight 0), NaN with zero gradients, as PyTorch."""
    if bool(weight.array == 0):  # bool(), not .item(): jit.capture keeps it as a check
        return where(Tensor._wrap(backend.scalar(True, backend.bool, total.device)), math.nan, total)
    return total / weight


def _check_class_weight(op: str, weight: Tensor | None, classes: int) -> None:
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {classes} classes or no classes, "
                           f"but got a weight of shape {tuple(weight.shape)}")


def _plain_class_indices(target: Tensor, classes: int, ignore_index: int) -> bool:
    """All targets are valid classes and none is ignored. One reduction, so on a GPU one
    wait for its result per call (the general path below reports bad classes)."""
    indices = target.array
    if indices.size == 0:
        return False
    unusual = (indices < 0) | (indices >= classes)
    if 0 <= ignore_index < classes:
        unusual |= indices == ignore_index
    return not unusual.any()


def _check_class_indices(op: str, indices: Any, classes: int, ignore_index: int) -> None:
    bad = (indices != ignore_index) & ((indices < 0) | (indices >= classes))
    if bad.any():
        raise IndexError(f"{op}: target {int(indices[bad].ravel()[0])} is out of bounds for {classes} classes")


def _picked_log_probabilities(op: str, input: Tensor, target: Any, weight: Tensor | None,  # noqa: A002
                              ignore_index: int) -> tuple[Tensor, Tensor]:
    """Per-sample ``-w[y] * input[y]`` (target's shape) and the weights ``w[y]`` (0 where ignored)."""
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.dtype is not backend.int64:
        raise RuntimeError(f"{op}: expected class indices of dtype int64 as the target, got {target.dtype}")
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if input.ndim == 0 or target.shape != expected:
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} needs a target of shape {expected} "
            f"(class indices), got {tuple(target.shape)}"
        )
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    _check_class_weight(op, weight, classes)
    indices = target.array
    ignored = indices == ignore_index
    _check_class_indices(op, indices, classes, ignore_index)
    safe = where(Tensor._wrap(ignored), 0, target)
    rows = _class_dim_last(input.unsqueeze(0) if input.ndim == 1 else input)
    picked = rows.gather(1, safe.reshape(-1, 1)).reshape(target.shape)
    class_weight = Tensor._wrap(backend.zeros((classes,), input.dtype, input.device) + 1) if weight is None else weight
    sample_weight = where(Tensor._wrap(ignored), 0.0, class_weight[safe.reshape(-1)].reshape(target.shape))
    return -picked * sample_weight, sample_weight.to(input.dtype)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """-sum_c y_c ln softmax(x)_c: log_softmax (stable for any logits: it subtracts the
    max first) followed by the negative log-likelihood.

    ``target`` is either class indices (int64, shape (N,) or (N, d1, ...)) or class
    probabilities (float, the input's shape, e.g. one-hot rows).
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    if input.ndim == 0:
        raise ValueError("cross_entropy: the input needs a class dimension, got a 0-d tensor")
    classes = input.shape[class_dim]
    _check_class_weight("cross_entropy", weight, classes)
    target = target if isinstance(target, Tensor) else Tensor(target)
    if (input.ndim == 2 and target.dtype is backend.int64 and target.shape == input.shape[:1] and weight is None
            and label_smoothing == 0 and input.dtype.is_floating_point and _plain_class_indices(target, classes,
                                                                                                 ignore_index)):
        return CrossEntropy.apply(input, target, reduction)  # the common case, as one fused op
    log_probs = input.log_softmax(class_dim)
    weight_shape = (classes,) + (1,) * (input.ndim - class_dim - 1)
    class_weight = None if weight is None else weight.reshape(weight_shape)

    if target.dtype.is_floating_point:  # class probabilities
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: class-probability targets must have the input's shape {tuple(input.shape)}, "
                f"got {tuple(target.shape)}"
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        weighted = log_probs * target if class_weight is None else log_probs * target * class_weight
        return _reduce(-weighted.sum(class_dim), reduction, "cross_entropy")  # mean: over samples

    losses, weights = _picked_log_probabilities("cross_entropy", log_probs, target, weight, ignore_index)
    if label_smoothing == 0:
        if reduction == "mean":
            return _weighted_mean(losses.sum(), weights.sum())
        return _reduce(losses, reduction, "cross_entropy")
    # Label smoothing mixes in the uniform distribution: (1 - eps) * nll + eps / C * sum_c -w_c ln p_c.
    all_classes = log_probs if class_weight is None else log_probs * class_weight
    counted = Tensor._wrap(backend.asarray(target.array != ignore_index, input.dtype))
    smooth = -all_classes.sum(class_dim) * counted
    if reduction == "none":
        return (1 - label_smoothing) * losses + label_smoothing / classes * smooth
    if reduction == "sum":
        return (1 - label_smoothing) * losses.sum() + label_smoothing / classes * smooth.sum()
    mixed = (1 - label_smoothing) * losses.sum() + label_smoothing / classes * smooth.sum()
    return _weighted_mean(mixed, weights.sum())
