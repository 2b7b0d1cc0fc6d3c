"""``Module``: the base class of every layer and model.

A module is a tree. Each node keeps three ordered dicts, filled by ``__setattr__``:

- ``_parameters``: the Parameters assigned to it (``self.weight = Parameter(...)``);
- ``_buffers``: tensors that are state but not trained (``register_buffer``);
- ``_modules``: its child modules (``self.fc1 = Linear(2, 10)``).

Everything else walks that tree: ``named_parameters()`` yields each parameter with its
dotted path (``"fc1.weight"``, ``"layers.0.bias"``), which is also its ``state_dict()`` key,
exactly as PyTorch names it. Plain Python lists, tuples and dicts of modules or
parameters held in an attribute are walked too (PyTorch would miss them and needs
``ModuleList``), named as ``ModuleList`` would name them: ``"layers.0.weight"``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.nn.parameter import Parameter
from tinygrad_edu.tensor import HookHandle, Tensor, to_arguments


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it could not match (empty when all did)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


class Module:
    """Base class for layers and models: subclass it, assign parts in ``__init__`` and
    write ``forward``. Call the module (``model(x)``), not ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(): define forward(self, ...) in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # One quiet-float-errors context for the whole forward: the ops inside then skip
        # their own (an np.errstate each, about 1 microsecond per op otherwise).
        if tracing.RECORDING.current is not None:  # jit.capture: replay only while train()/eval() is unchanged
            tracing.RECORDING.current.module_called(self)
        with backend.quiet_float_errors():
            output = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        return output

    def register_forward_hook(self, hook: Callable[[Module, tuple[Any, ...], Any], Any]) -> HookHandle:
        """``hook(module, inputs, output)`` runs after every forward; a non-None result replaces
        the output. ``summary`` uses this to see each layer's output shape."""
        self._forward_hooks.append(hook)
        return HookHandle(self._forward_hooks, hook)

    # ------------------------------------------------------------------------------------
    # registration: how assigning an attribute builds the tree
    # ------------------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__ and isinstance(value, (Parameter, Module)):
            raise AttributeError(
                f"cannot assign {type(value).__name__} {name!r} before Module.__init__() is called: "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        if isinstance(value, Parameter):
            if name not in self._parameters:  # a new name goes last; a known one keeps its place
                self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            if name not in self._modules:
                self._forget(name)
            self._modules[name] = value
        elif name in self.__dict__.get("_parameters", {}):
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of {type(self).__name__} "
                    f"(a Parameter or None is expected; wrap a tensor as nn.Parameter(tensor))"
                )
            self._parameters[name] = None
        elif name in self.__dict__.get("_buffers", {}):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} (a Tensor or None is expected)")
            self._buffers[name] = value
        elif name in self.__dict__.get("_modules", {}):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to child module {name!r} (a Module or None)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: parameters, buffers and children live in the dicts.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if not self._forget(name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _forget(self, name: str) -> bool:
        """Remove ``name`` from every registry and from plain attributes; True if it was there."""
        found = False
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                found = True
        self._non_persistent.discard(name)
        if name in self.__dict__:
            del self.__dict__[name]
            found = True
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        if name not in self._parameters:
            self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that belongs to the module's state (in ``state_dict`` unless
        ``persistent=False``) but is not a parameter: optimizers never see it."""
        if "." in name or name == "":
            raise KeyError(f"register_buffer: buffer name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name not in self._buffers:
            self._forget(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        if name not in self._modules:
            self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------------------------
    # walking the tree
    # ------------------------------------------------------------------------------------

    def _containers(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of plain lists, tuples and dicts held in attributes, element by element."""
        for attribute, value in self.__dict__.items():
            if attribute.startswith("_"):
                continue
            if isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    yield f"{attribute}.{index}", item
            elif isinstance(value, dict):
                for key, item in value.items():
                    yield f"{attribute}.{key}", item

    def _all_children(self) -> list[tuple[str, Module]]:
        """Every child under every name it has (a module held twice appears twice)."""
        registered = [(name, module) for name, module in self._modules.items() if module is not None]
        return registered + [(name, value) for name, value in self._containers() if isinstance(value, Module)]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Each child once, under its first name."""
        seen: set[int] = set()
        for name, module in self._all_children():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, ``""`` at the top) and every descendant, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        yield from ((name, p) for name, p in self._parameters.items() if p is not None)
        yield from ((name, p) for name, p in self._containers() if isinstance(p, Parameter))

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted path, each shared parameter once (first name wins)."""
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._own_parameters():
                if remove_duplicate and id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None and id(buffer) not in seen:
                    seen.add(id(buffer))
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------------------------------
    # modes, gradients, conversions
    # ------------------------------------------------------------------------------------

    @tracing.effect(repeatable=True, settles=lambda self, mode=True: list(self.modules()))  # see jit.capture
    def train(self, mode: bool = True) -> Module:
        """Training mode (the default): ``Dropout`` drops. Applies to every descendant."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``Dropout`` passes its input through. Same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    @tracing.effect(repeatable=True)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to ``None`` by default, as PyTorch 2 does)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                with no_grad():
                    param.grad.detach_().zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on this module; e.g. custom init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(device)`` and/or ``to(dtype)`` for every parameter and buffer, in place.
        Only floating-point tensors change dtype, as in PyTorch."""
        target, device_spec = to_arguments("Module.to", args, kwargs)
        if device_spec is not None:  # moved in place: an optimizer made before .to() keeps working
            where = backend.check_available(device_spec)
            for tensor in list(self.parameters()) + list(self.buffers()):
                tensor.array = backend.to_device(tensor.array, where)
                if tensor.grad is not None:
                    tensor.grad.array = backend.to_device(tensor.grad.array, where)
        if target is not None:
            dtype = backend.to_dtype(target)
            if not dtype.is_floating_point:
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
            for tensor in list(self.parameters()) + list(self.buffers()):
                if tensor.dtype.is_floating_point:
                    tensor.array = tensor.array.astype(dtype.numpy_dtype)
                    if tensor.grad is not None:
                        tensor.grad = tensor.grad.to(dtype)
        return self

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to("cuda" if device is None else device if isinstance(device, (str, backend.device)) else f"cuda:{device}")

    # ------------------------------------------------------------------------------------
    # state_dict: the module's tensors by name, for saving and loading
    # ------------------------------------------------------------------------------------

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, in the order PyTorch gives:
        each module's own parameters, then its buffers, then its children's, depth first.
        Values are detached tensors sharing memory with the module (``keep_vars`` keeps
        the Parameters themselves)."""
        result: OrderedDict[str, Tensor] = OrderedDict()
        pending = [(prefix, self)]  # depth first; a shared (tied) module is saved under every name
        while pending:
            path, module = pending.pop()
            entries = list(module._own_parameters()) + [
                (name, buffer) for name, buffer in module._buffers.items()
                if buffer is not None and name not in module._non_persistent
            ]
            for name, tensor in entries:
                result[path + name] = tensor if keep_vars else tensor.detach()
            pending.extend((f"{path}{name}.", child) for name, child in reversed(module._all_children()))
        return result

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s values into this module's parameters and buffers.

        With ``strict=True`` (the default) a missing or unexpected key is an error, as in
        PyTorch. A shape mismatch is always an error. Values are copied, not shared.
        """
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            source = value if isinstance(value, Tensor) else Tensor(value)
            if source.shape != target.shape:
                problems.append(
                    f'size mismatch for {key}: copying a param with shape {tuple(source.shape)} from checkpoint, '
                    f"the shape in current model is {tuple(target.shape)}."
                )
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{key}"' for key in unexpected) + ". ")
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{key}"' for key in missing) + ". ")
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems)
            )
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    value = state_dict[key]
                    target.copy_(value if isinstance(value, Tensor) else Tensor(value))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------------
    # printing
    # ------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses, e.g. ``in_features=2, out_features=3``."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._all_children()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_size: Any, **kwargs: Any) -> Any:
        """A Keras-style table of layers, output shapes and parameter counts (``nn.summary``)."""
        from tinygrad_edu.nn.summary import summary

        return summary(self, input_size, **kwargs)
