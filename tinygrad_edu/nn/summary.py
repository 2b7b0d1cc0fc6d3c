"""``summary(model, input_size)``: a Keras-style table of a model's layers.

It runs one forward pass on zeros of shape ``(batch_size, *input_size)`` with a forward
hook on every leaf module (one with no children), records each one's output shape and
its own parameter count, and prints::

    Layer (type)               Output Shape         Param #
    ==========================================================
    0 (Linear)                 [-1, 10]             30
    ...
    Total params: 151

A 2-10-10-1 MLP has 2*10+10 + 10*10+10 + 10*1+1 = 151 parameters, as Keras counts them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tinygrad_edu import backend
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: list[int]
    params: int


@dataclass
class ModelSummary:
    """The table's contents; ``str()`` gives the table itself."""

    layers: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        header = f"{'Layer (type)':<32}{'Output Shape':<24}{'Param #':>12}"
        rule = "=" * len(header)
        lines = [rule, header, rule]
        for row in self.layers:
            lines.append(f"{row.name + ' (' + row.kind + ')':<32}{str(row.output_shape):<24}{row.params:>12,}")
        lines += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            rule,
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ModelSummary(layers={len(self.layers)}, total_params={self.total_params})"


def _shape_of(output: Any, batch_size: int) -> list[int]:
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        output = output[0]
    shape = list(output.shape) if isinstance(output, Tensor) else []
    if shape and batch_size == -1:
        shape[0] = -1
    return shape


def summary(model: Module, input_size: Any, batch_size: int = -1, dtype: Any = None,
            print_fn: Callable[[str], Any] | None = print) -> ModelSummary:
    """Print (with ``print_fn``; ``None`` prints nothing) and return the model's summary.

    ``input_size`` is one sample's shape, without the batch dimension: ``(2,)`` for an MLP
    on 2 features. ``batch_size=-1`` shows the batch dimension as -1 (any size).
    """
    input_size = (input_size,) if isinstance(input_size, int) else tuple(input_size)
    result = ModelSummary()
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue  # containers: their leaves are listed instead

        def record(layer: Module, inputs: tuple[Any, ...], output: Any, name: str = name) -> None:
            params = sum(p.numel() for p in layer.parameters(recurse=False))
            result.layers.append(LayerRow(name or type(layer).__name__, type(layer).__name__,
                                          _shape_of(output, batch_size), params))

        handles.append(module.register_forward_hook(record))
    modes = [(module, module.training) for module in model.modules()]
    model.eval()  # no dropout during the probe pass
    try:
        where = next((param.device for param in model.parameters()), None)  # the model's device
        sample = Tensor._wrap(backend.zeros((max(batch_size, 1),) + input_size,
                                            backend.DEFAULT_FLOAT if dtype is None else backend.to_dtype(dtype), where))
        with no_grad():
            model(sample)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
    result.total_params = sum(p.numel() for p in model.parameters())
    result.trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if print_fn is not None:
        print_fn(str(result))
    return result
