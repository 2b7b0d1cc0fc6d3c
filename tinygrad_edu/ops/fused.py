"""Fused primitives: compositions promoted to primitives because the benchmarks showed
that their per-op cost dominated small training steps (``benchmarks/``, W1-W3).

Each one computes in one pass what the composition computes in several ops, and its
backward is the composition's gradient worked out by hand, still written in Tensor ops so
that it can be differentiated again. The compositions they replace are in their docstrings;
``nn.functional`` uses them for the common cases and falls back to the compositions for the
rest (weights, ignored classes, label smoothing...).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.backend import array_namespace
from tinygrad_edu.tensor import Tensor


class Linear(Function):
    """y = x W^T + b;  dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over the batch.

    Replaces ``x.matmul(W.T) + b`` (three ops, a transpose among them). ``x`` may have any
    number of leading (batch) dimensions; they are flattened for the weight's gradient.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Any:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        output = x.array @ weight.array.T
        if bias is not None:
            output += bias.array
        return output

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        out_features, in_features = weight.shape
        # (batch, out) and (batch, in): every leading dim is a batch dim (no reshape for 2-D)
        rows = grad if grad.ndim == 2 else grad.reshape(-1, out_features)
        inputs = x if x.ndim == 2 else x.reshape(-1, in_features)
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_weight = rows.T @ inputs if ctx.needs_input_grad[1] else None
        if not ctx.has_bias:
            return grad_x, grad_weight
        grad_bias = rows.sum(0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


class MseLoss(Function):
    """l = reduce((x - y)^2);  dl/dx = 2 (x - y) g (divided by n for the mean), dl/dy = -dl/dx.

    Replaces ``(x - y).square().mean()`` (four ops) for inputs of the same shape.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, target: Tensor, reduction: str) -> Any:
        ctx.save_for_backward(x, target)
        ctx.reduction = reduction
        difference = x.array - target.array
        squared = difference * difference
        if reduction == "none":
            return squared
        total = squared.sum()
        return total / squared.size if reduction == "mean" else total

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, target = ctx.saved_tensors
        scale = 2.0 / x.numel() if ctx.reduction == "mean" else 2.0
        grad_x = (x - target) * (grad * scale)
        return (grad_x if ctx.needs_input_grad[0] else None), (-grad_x if ctx.needs_input_grad[1] else None), None


class CrossEntropy(Function):
    """l_i = logsumexp(x_i) - x_i[y_i];  dl_i/dx_i = softmax(x_i) - onehot(y_i).

    That is -ln softmax(x_i)[y_i] for logits x of shape (N, C) and class indices y, then the
    reduction. Replaces ``log_softmax`` followed by picking and averaging (about a dozen ops). The max
    is subtracted before exponentiating, so any logits are safe.
    """

    node_name = "NllLossBackward0"  # PyTorch's name: its cross_entropy ends in nll_loss

    @staticmethod
    def forward(ctx: Node, logits: Tensor, target: Tensor, reduction: str) -> Any:
        xp = array_namespace(logits.array)
        shifted = logits.array - logits.array.max(axis=1, keepdims=True)
        exponentials = xp.exp(shifted)
        sums = exponentials.sum(axis=1, keepdims=True)
        rows = xp.arange(len(target.array))
        losses = xp.log(sums[:, 0]) - shifted[rows, target.array]
        ctx.save_for_backward(logits)
        ctx.probabilities = exponentials / sums
        ctx.target, ctx.reduction = target.array, reduction
        if reduction == "none":
            return losses
        return losses.mean() if reduction == "mean" else losses.sum()

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, None, None]:
        (logits,) = ctx.saved_tensors
        if GRAD_MODE.enabled:
            # Differentiating this backward too (create_graph): softmax must be a function of
            # the logits, so it is rebuilt from them with Tensor ops.
            probabilities = logits.softmax(1)
        else:
            probabilities = Tensor._wrap(ctx.probabilities)
        rows = logits.shape[0]
        one_hot = Tensor._wrap(array_namespace(logits.array).zeros(logits.shape, logits.array.dtype))
        one_hot.array[array_namespace(logits.array).arange(rows), ctx.target] = 1
        if ctx.reduction == "none":
            scale = grad.reshape(rows, 1)
        else:
            scale = grad / rows if ctx.reduction == "mean" else grad
        return (probabilities - one_hot) * scale, None, None
