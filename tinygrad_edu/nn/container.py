"""Modules that hold other modules: ``Sequential``, ``ModuleList``, ``ModuleDict``.

Their children are registered under the names ``"0"``, ``"1"``, ... (or the dict's keys),
so a parameter of the first layer of ``Sequential`` is called ``"0.weight"``, as in PyTorch.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from tinygrad_edu.nn.module import Module


def _check_module(container: str, value: Any) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{container}: expected a Module, got {type(value).__name__}")
    return value


class Sequential(Module):
    """Modules called one after another: ``Sequential(Linear(2, 10), ReLU(), Linear(10, 1))``
    or ``Sequential(OrderedDict([("hidden", Linear(2, 10)), ...]))`` for named layers."""

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _check_module("Sequential", module))
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), _check_module("Sequential", module))

    def forward(self, input: Any) -> Any:  # noqa: A002 - PyTorch's name
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[_checked_index("Sequential", index, len(self))]

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[_checked_index("Sequential", index, len(self))]
        self.add_module(name, _check_module("Sequential", module))

    def __delitem__(self, index: int | slice) -> None:
        names = list(self._modules)
        if isinstance(index, slice):
            doomed = names[index]
        else:
            doomed = [names[_checked_index("Sequential", index, len(self))]]
        for name in doomed:
            del self._modules[name]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _check_module("Sequential.append", module))
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (``"layers.0.weight"``, ...).
    It has no ``forward``: the parent decides how to call its entries."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[_checked_index("ModuleList", index, len(self))]

    def __setitem__(self, index: int, module: Module) -> None:
        position = _checked_index("ModuleList", index, len(self))
        self.add_module(str(position), _check_module("ModuleList", module))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _check_module("ModuleList.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __repr__(self) -> str:
        """As PyTorch prints it: a run of identical layers is one line, ``(0-2): 3 x Linear(...)``."""
        lines, entries = [], [repr(module) for module in self._modules.values()]
        start = 0
        while start < len(entries):
            end = start
            while end + 1 < len(entries) and entries[end + 1] == entries[start]:
                end += 1
            text = entries[start].replace("\n", "\n  ")
            lines.append(f"({start}): {text}" if end == start else f"({start}-{end}): {end - start + 1} x {text}")
            start = end + 1
        name = type(self).__name__
        return f"{name}()" if not lines else f"{name}(\n  " + "\n  ".join(lines) + "\n)"

    def insert(self, index: int, module: Module) -> None:
        entries = list(self._modules.values())
        entries.insert(index, _check_module("ModuleList.insert", module))
        self._modules.clear()
        for position, entry in enumerate(entries):
            self.add_module(str(position), entry)


class ModuleDict(Module):
    """A dict of modules whose parameters the parent finds (``"heads.left.weight"``, ...)."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _check_module("ModuleDict", module))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules.keys())

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())


def _checked_index(container: str, index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"{container}: index {index} is out of range for {length} modules")
    return index % length
