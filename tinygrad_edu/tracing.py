"""Recording a step's NumPy calls: the array stand-in behind ``tinygrad_edu.jit.capture``.

While :func:`tinygrad_edu.jit.capture` records a step, the tensors made inside it hold
:class:`Traced` arrays instead of NumPy arrays. A ``Traced`` holds the real NumPy array
(``.value``), so everything computes as usual, and it has a *name* (``v12``) in the
program being written. Every NumPy call that takes a ``Traced`` comes here first, through
NumPy's own hooks for array-like classes (``__array_ufunc__`` for ``np.add`` and
``a + b``, ``__array_function__`` for ``np.sum``, ``np.where``...), and through the
methods below (``a.sum()``, ``a.T``, ``a[index]``). Each call is run and written down as
one line of Python:

    v12 = np.matmul(v11, x3.T)

so the step becomes a straight-line NumPy program: what the hand-written "floor" of the
benchmarks is, written by the framework. ``jit.py`` compiles that program and runs it on
later calls, with no Tensor, no graph and no backward bookkeeping left in it.

Python code cannot be written down this way: a decision taken on a *value* (``if
loss.item() > 1``) would be frozen into the program. So reading a value marks the
recording as not replayable, with the reason (``jit.capture`` then runs the step eagerly,
as plain code, and says why), except for ``bool()`` and ``int()`` of a value, which become
*checks* in the program: when a later call reads a different value, that call is run
eagerly instead.

This module knows nothing of tensors; ``jit.py`` decides what the lines mean.
"""
from __future__ import annotations

import builtins
import functools
import re
from typing import Any, Callable, NamedTuple

import numpy as np


class Line(NamedTuple):
    """One line of the program: ``targets = expression`` (no targets: ``expression``).

    ``kind`` tells :func:`simplify` what it may do with the line: ``"pure"`` (computes its
    targets from its arguments and nothing else), ``"fresh"`` (a new array, e.g. zeros, that
    may be written into later), ``"write"`` (writes into the arrays named in ``writes``),
    ``"draw"`` (random numbers), ``"effect"`` (a call run for real), ``"settle"`` (an effect
    that may run twice, such as ``zero_grad``) or ``"check"``.
    """

    kind: str
    targets: tuple[str, ...]
    expression: str
    writes: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.targets:
            return self.expression
        return (self.targets[0] if len(self.targets) == 1 else ", ".join(self.targets) + ",") + f" = {self.expression}"


class Recording:
    """The program being written while a step runs: its lines, and the Python objects the
    lines refer to (``namespace``). ``jit.py`` subclasses it with what tensors need."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.namespace: dict[str, Any] = {"np": np}
        self.paused = 0  # > 0 inside an effect: Traced arrays then act as plain arrays
        self.not_replayable: str | None = None  # the first reason the program cannot be replayed
        self._names: dict[int, str] = {}  # id(object) -> its name in namespace
        self._counter = 0
        self.state_changed = False  # an effect or a write into a parameter happened already
        self.sizes: dict[str, int] = {}  # name -> bytes of the array it held when recorded
        self.fresh: set[str] = set()  # arrays that are certainly no view of another (ufunc results, makers)
        self.name_of_array: dict[int, str] = {}  # id(real array) -> its name, to find what a view looks into

    # -- names ----------------------------------------------------------------------------

    def new_name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, value: Any, prefix: str = "c") -> str:
        """The name under which the program refers to ``value`` itself (not a copy)."""
        name = self._names.get(id(value))
        if name is None:
            name = self._names[id(value)] = self.new_name(prefix)
            self.namespace[name] = value
        return name

    def refuse(self, reason: str) -> None:
        """Mark the program as not replayable (the first reason is the one reported)."""
        if self.not_replayable is None:
            self.not_replayable = reason

    # -- writing lines --------------------------------------------------------------------

    def source(self, value: Any) -> str:
        """Python source for an argument of a recorded call."""
        if type(value) is Traced:
            return value.name if value.recording is self else self.constant(value.value)
        if value is None or value is Ellipsis or type(value) in (builtins.bool, builtins.int, builtins.str):
            return repr(value)
        if type(value) is builtins.float and value == value and abs(value) != float("inf"):
            return repr(value)
        if type(value) is tuple:
            return "(" + "".join(self.source(item) + ", " for item in value) + ")"
        if type(value) is list:
            return "[" + ", ".join(self.source(item) for item in value) + "]"
        if type(value) is slice:
            return f"slice({self.source(value.start)}, {self.source(value.stop)}, {self.source(value.step)})"
        if type(value) is dict:
            return "{" + ", ".join(f"{key!r}: {self.source(item)}" for key, item in value.items()) + "}"
        if isinstance(value, np.ndarray):
            return self.array_source(value)
        return self.constant(value)

    def array_source(self, array: np.ndarray) -> str:
        """A NumPy array that was not made by the program: referred to as it is (``jit.py``
        names parameters' arrays and guards them)."""
        return self.constant(array, "c")

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        parts = [self.source(arg) for arg in args] + [f"{key}={self.source(value)}" for key, value in kwargs.items()]
        return ", ".join(parts)

    def emit(self, expression: str, result: Any, kind: str = "pure") -> Any:
        """Write ``v = expression`` for a result (arrays and NumPy scalars become Traced;
        tuples of them too); other results are returned as they are, with no line."""
        if isinstance(result, (np.ndarray, np.generic)):
            traced = Traced(result, self.new_name("v"), self)
            self.lines.append(Line(kind, (traced.name,), expression))
            self.sizes[traced.name] = result.nbytes
            self.name_of_array[id(result)] = traced.name
            return traced
        if type(result) is tuple and result and all(isinstance(item, (np.ndarray, np.generic)) for item in result):
            items = tuple(Traced(item, self.new_name("v"), self) for item in result)
            self.lines.append(Line(kind, tuple(item.name for item in items), expression))
            self.name_of_array.update((id(item.value), item.name) for item in items)
            return items
        self.refuse(f"a NumPy call returned a {type(result).__name__} computed from the values ({expression})")
        return result

    def call(self, function: Callable[..., Any], function_source: str, args: tuple[Any, ...],
             kwargs: dict[str, Any], kind: str = "pure") -> Any:
        """Run ``function`` on the real arrays and write the call down."""
        result = function(*plain(args), **plain(kwargs))
        if "out" in kwargs:
            self.write(f"{function_source}({self.arguments(args, kwargs)})", kwargs["out"])
            return kwargs["out"][0] if type(kwargs["out"]) is tuple and len(kwargs["out"]) == 1 else kwargs["out"]
        return self.emit(f"{function_source}({self.arguments(args, kwargs)})", result, kind)

    def write(self, statement: str, targets: Any) -> None:
        """An in-place write into ``targets``: into the program's own arrays it is a line
        like any other; into an array from outside, jit.py decides (parameters: yes;
        anything else: no)."""
        names = []
        for target in targets if type(targets) is tuple else (targets,):
            if type(target) is Traced:
                names.append(self.source(target))
                if self.is_outside(target):
                    self.write_outside(target.value)
                if target.name not in self.fresh:  # it may be (a view of) an input: writing it is a change
                    self.state_changed = True
                base = getattr(target.value, "base", None)
                while base is not None:  # writing a view writes the arrays it looks into
                    if id(base) in self.name_of_array:
                        names.append(self.name_of_array[id(base)])
                    base = base.base
            elif isinstance(target, np.ndarray):
                self.write_outside(target)
                names.append(self.source(target))
        self.lines.append(Line("write", (), statement, tuple(names)))

    def rebinding(self, tensor: Any, what: str) -> None:
        """Python gave a tensor a new array or ``.grad`` (refused for tensors from outside)."""
        self.refuse(f"the step {what} (a Python assignment, which a replay would not repeat)")

    def is_outside(self, traced: Traced) -> bool:
        """Whether ``traced`` stands for the array of a tensor from outside the step."""
        return False

    def write_outside(self, array: np.ndarray) -> None:
        self.refuse("a step wrote into an array that was made outside it and is not a tensor's")

    def read_value(self, traced: Traced, kind: str) -> None:
        """A value was read into Python (``float(x)``, ``x.item()``, ``print(x)``...)."""
        self.refuse(f"the step reads a tensor's value with {kind} (shape {traced.value.shape}); "
                    f"a replay could not follow what Python decided from it")

    # -- what the package tells a recording (jit.StepRecording does something with it) ---

    def tensor_made(self, tensor: Any) -> None:
        """A Tensor was made while recording."""

    def grad_read(self, tensor: Any) -> None:
        """A tensor's ``.grad`` was read while recording."""

    def check_inputs(self, args: tuple[Any, ...]) -> None:
        """An op is about to run on ``args`` while recording."""

    def module_called(self, module: Any) -> None:
        """A Module was called while recording."""

    def draws(self, generator: Any) -> Any:
        """Random draws from ``generator`` while recording (None: the generator's own)."""
        return None

    def effect(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               repeatable: bool = False, settles: Callable[..., list[Any]] | None = None) -> Any:
        self.refuse(f"{function.__qualname__} changes Python state")
        return function(*args, **kwargs)

    def store_grad(self, leaf: Any, gradient: Any, owned: bool) -> None:
        raise NotImplementedError

    def check(self, traced: Traced, convert: Callable[[Any], Any], value: Any) -> None:
        """``bool(x)``/``int(x)`` of a value: a check line, so that a later call whose value
        differs stops and runs eagerly (see ``jit.Diverged``)."""
        if self.state_changed:
            self.refuse(f"the step reads a value with {convert.__name__}() after it changed parameters or "
                        f"gradients, so a replay could not stop cleanly there")
            return
        self.lines.append(Line("check", (), f"if {convert.__name__}({traced.name}) != {value!r}: raise Diverged()"))


class _Holder:
    """The recording in progress, or None (the usual case: then nothing here runs)."""

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: Recording | None = None


RECORDING = _Holder()


def active(value: Any) -> Recording | None:
    """The recording that ``value`` belongs to, if it is a Traced of the recording in
    progress and no effect is running; else None (then it acts as a plain array)."""
    recording = RECORDING.current
    if recording is not None and type(value) is Traced and value.recording is recording and not recording.paused:
        return recording
    return None


def plain(value: Any) -> Any:
    """Traced arrays replaced by their real arrays, inside tuples, lists and dicts too."""
    kind = type(value)
    if kind is Traced:
        return value.value
    if kind is tuple:
        return tuple(plain(item) for item in value)
    if kind is list:
        return [plain(item) for item in value]
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}
    return value


def _recording_of(values: Any) -> Recording | None:
    for value in values:
        if type(value) is Traced:
            found = active(value)
            if found is not None:
                return found
        elif type(value) in (tuple, list):
            found = _recording_of(value)
            if found is not None:
                return found
    return None


_METADATA = ("shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags", "base")
_VALUE_READS = ("item", "tolist", "tobytes", "tofile", "dump", "dumps", "__array_interface__", "ctypes", "data")
_ARRAY_ATTRIBUTES = ("T", "mT", "real", "imag", "flat")


class Traced:
    """A NumPy array in a step being recorded: its value, and its name in the program.

    Not a subclass of ``np.ndarray`` (NumPy would unwrap a subclass without asking), so
    NumPy hands every call that involves it to the two protocol methods below.
    """

    __slots__ = ("value", "name", "recording")
    __hash__ = None  # type: ignore[assignment]  # == is elementwise

    def __init__(self, value: Any, name: str, recording: Recording) -> None:
        self.value, self.name, self.recording = value, name, recording

    # -- NumPy's protocols ----------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        recording = _recording_of(inputs) or _recording_of(kwargs.get("out", ()))
        function = getattr(ufunc, method)
        if recording is None:
            result = function(*plain(inputs), **plain(kwargs))
            return kwargs["out"][0] if "out" in kwargs and len(kwargs["out"]) == 1 else result
        name = f"np.{ufunc.__name__}" if getattr(np, ufunc.__name__, None) is ufunc else recording.constant(ufunc, "f")
        if method != "__call__":
            name += f".{method}"
        elif "out" not in kwargs:
            result = recording.call(function, name, inputs, kwargs)
            for item in result if type(result) is tuple else (result,):
                if type(item) is Traced:
                    recording.fresh.add(item.name)
            return result
        if method == "at":  # np.add.at(a, index, b): in place into a
            function(*plain(inputs), **plain(kwargs))
            recording.write(f"{name}({recording.arguments(inputs, kwargs)})", inputs[0])
            return None
        return recording.call(function, name, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        recording = _recording_of(args) or _recording_of(kwargs.values())
        if recording is None:
            return func(*plain(args), **plain(kwargs))
        if func.__name__ in ("shape", "ndim", "size", "result_type", "may_share_memory", "shares_memory"):
            return func(*plain(args), **plain(kwargs))  # about the arrays, not their values
        if func is np.copyto:  # copyto(target, values): in place into target
            func(*plain(args), **plain(kwargs))
            recording.write(f"np.copyto({recording.arguments(args, kwargs)})", args[0])
            return None
        name = f"np.{func.__name__}" if getattr(np, func.__name__, None) is func else recording.constant(func, "f")
        return recording.call(func, name, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        recording = active(self)
        if recording is not None:
            recording.read_value(self, "np.asarray()")
        value = np.asarray(self.value)
        return value if dtype is None else value.astype(dtype, copy=False)

    # -- attributes and methods -----------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # NumPy's __array_struct__ & co.: no, so that np.asarray() comes to __array__
            raise AttributeError(name)
        attribute = getattr(self.value, name)
        recording = active(self)
        if recording is None or name in _METADATA:
            return attribute
        if name in _VALUE_READS:
            recording.read_value(self, f".{name}")
            return attribute
        if name in _ARRAY_ATTRIBUTES:
            return recording.emit(f"{self.name}.{name}", attribute)
        if not callable(attribute):
            return attribute

        def method(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*plain(args), **plain(kwargs))
            if kwargs.get("out") is not None:  # x.clip(0, None, out=x): a write
                recording.write(f"{self.name}.{name}({recording.arguments(args, kwargs)})", kwargs["out"])
                return kwargs["out"]
            if result is self.value:  # astype(same dtype, copy=False) and the like: no new array
                return self
            return recording.emit(f"{self.name}.{name}({recording.arguments(args, kwargs)})", result)
        return method

    def __getitem__(self, index: Any) -> Any:
        recording = active(self)
        if recording is None:
            return self.value[plain(index)]
        parts = index if type(index) is tuple else (index,)
        if any(type(part) is Traced and part.value.dtype == np.bool_ for part in parts):
            recording.refuse("the step indexes with a boolean mask, so a result's shape depends on the values")
        return recording.emit(f"{self.name}[{recording.source(index)}]", self.value[plain(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        recording = active(self)
        self.value[plain(index)] = plain(value)
        if recording is not None:
            recording.write(f"{self.name}[{recording.source(index)}] = {recording.source(value)}", self)

    # -- values read into Python ----------------------------------------------------------

    def _checked(self, convert: Callable[[Any], Any]) -> Any:
        value = convert(self.value)
        recording = active(self)
        if recording is not None:
            recording.check(self, convert, value)
        return value

    def __bool__(self) -> bool:
        return self._checked(builtins.bool)

    def __int__(self) -> int:
        return self._checked(builtins.int)

    def __index__(self) -> int:
        return self._checked(builtins.int)

    def _read(self, kind: str, convert: Callable[[Any], Any]) -> Any:
        recording = active(self)
        if recording is not None:
            recording.read_value(self, kind)
        return convert(self.value)

    def __float__(self) -> float:
        return self._read("float()", builtins.float)

    def __complex__(self) -> complex:
        return self._read("complex()", builtins.complex)

    def __repr__(self) -> str:
        return self._read("repr()", repr)

    def __str__(self) -> str:
        return self._read("str()", str)

    def __format__(self, spec: str) -> str:
        return self._read("format()", lambda value: format(value, spec))

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Any:
        return (self[index] for index in range(len(self.value)))

    def __copy__(self) -> Any:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> Any:
        return self.copy()


def _operator(ufunc: np.ufunc, swap: bool = False, inplace: bool = False) -> Callable[[Traced, Any], Any]:
    def operator(self: Traced, other: Any) -> Any:
        if not isinstance(other, (Traced, np.ndarray, np.generic, builtins.bool, builtins.int, builtins.float,
                                  builtins.complex)):
            return NotImplemented  # e.g. a Tensor, whose reflected operator then runs
        if inplace:
            return ufunc(self, other, out=(self,))
        return ufunc(other, self) if swap else ufunc(self, other)
    return operator


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide, "mod": np.remainder,
           "floordiv": np.floor_divide, "pow": np.power, "matmul": np.matmul, "and": np.bitwise_and,
           "or": np.bitwise_or, "xor": np.bitwise_xor, "lshift": np.left_shift, "rshift": np.right_shift}
for _name, _ufunc in _BINARY.items():
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
    setattr(Traced, f"__r{_name}__", _operator(_ufunc, swap=True))
    setattr(Traced, f"__i{_name}__", _operator(_ufunc, inplace=True))
for _name, _ufunc in {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                      "eq": np.equal, "ne": np.not_equal}.items():
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in {"neg": np.negative, "pos": np.positive, "abs": np.absolute, "invert": np.invert}.items():
    setattr(Traced, f"__{_name}__", lambda self, _ufunc=_ufunc: _ufunc(self))


class TracingNumPy:
    """``array_namespace(x)`` for a Traced ``x``: NumPy, except that the functions which
    make a new array from nothing but a shape (``zeros``, ``ones``, ``arange``...) are
    written down too, so the program makes a fresh one on every call (ops may write into
    them, as the fused cross-entropy's one-hot matrix)."""

    _MAKERS = ("zeros", "ones", "empty", "full", "arange", "eye", "identity", "linspace")

    def __init__(self, recording: Recording) -> None:
        self._recording = recording

    def asarray(self, value: Any, dtype: Any = None) -> Any:
        """A Traced stays itself (or is cast, in the program); anything else is a constant."""
        if type(value) is Traced:
            return value if dtype is None or value.dtype == dtype else value.astype(dtype)
        return np.asarray(value, dtype=dtype)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(np, name)
        if name not in self._MAKERS:
            return attribute
        recording = self._recording

        def make(*args: Any, **kwargs: Any) -> Any:
            if recording.paused:
                return attribute(*plain(args), **plain(kwargs))
            made = recording.call(attribute, f"np.{name}", args, kwargs, kind="fresh")
            recording.fresh.add(made.name)
            return made
        return make


def recording_now() -> Recording | None:
    """The recording in progress, unless an effect is running (then: None)."""
    recording = RECORDING.current
    return None if recording is None or recording.paused else recording


def effect(function: Callable[..., Any] | None = None, *, repeatable: bool = False,
           settles: Callable[..., list[Any]] | None = None) -> Any:
    """Mark a method that changes Python objects rather than arrays (``optimizer.step``,
    ``zero_grad``): while a step is being recorded, a call to it is run for real and written
    into the program as a call, so that every replay runs it for real too.

    ``repeatable=True`` says that running it twice does what running it once does
    (``zero_grad``), so a replay that stops at a later check may run the step again.
    ``settles(*args)`` lists the objects whose mode it sets (``train()``: the modules), whose
    guards then need not hold when a replay starts."""
    if function is None:
        return functools.partial(effect, repeatable=repeatable, settles=settles)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        recording = recording_now()
        if recording is None:
            return function(*args, **kwargs)
        return recording.effect(function, args, kwargs, repeatable, settles)
    run.is_effect = True  # type: ignore[attr-defined]
    return run


def call_function(function: Callable[..., Any], name: str, *args: Any) -> Any:
    """``function(*args)`` for a function that NumPy's hooks do not see (``np.vectorize``'s
    loop in ``backend.erf``): written into the program as a call to it, when recording."""
    recording = _recording_of(args)
    if recording is None:
        return function(*plain(args))
    return recording.call(function, recording.constant(function, name), args, {})


def namespace(*arrays: Any) -> Any:
    """NumPy, or a :class:`TracingNumPy` when one of ``arrays`` is being recorded."""
    for array in arrays:
        recording = active(array)
        if recording is not None:
            return TracingNumPy(recording)
    return np


# ----------------------------------------------------------------------------------------
# simplifying the program
# ----------------------------------------------------------------------------------------

_NAME = re.compile(r"\b[a-z]+[0-9]+\b")


def simplify(lines: list[Line], result: str) -> tuple[list[Line], str]:
    """Two classic compiler passes over the recorded program, which keep its results bit
    for bit (the same NumPy calls on the same arrays, just not repeated or wasted):

    1. **Common subexpressions.** Eager code often computes one thing twice (the backward
       rule of ``y * y`` multiplies the gradient by ``y`` once per input). A pure line whose
       expression appeared before gets the earlier line's name instead. Not across a write
       or an effect (the arrays may have changed), and never for an array that is written
       in place or leaves the program (returned, or stored into a ``.grad``): two of those
       must stay two arrays, as in eager mode.
    2. **Dead code.** A pure or fresh line whose result nothing reads is dropped, from the
       end backwards. Writes, draws, effects and checks are always kept.

    Returns the lines and the result expression, renamed.
    """
    written = {name for line in lines for name in line.writes}
    leaving = set(_NAME.findall(result))
    leaving.update(name for line in lines if line.kind in ("effect", "settle")
                   for name in _NAME.findall(line.expression))
    protected = written | leaving
    renamed: dict[str, str] = {}
    seen: dict[str, tuple[str, ...]] = {}
    merged = []
    for line in lines:
        expression = _NAME.sub(lambda match: renamed.get(match.group(0), match.group(0)), line.expression)
        line = line._replace(expression=expression)
        if line.kind in ("write", "effect", "settle"):
            seen.clear()
        elif line.kind == "pure" and not protected.intersection(line.targets):
            earlier = seen.get(expression)
            if earlier is not None and len(earlier) == len(line.targets):
                renamed.update(zip(line.targets, earlier))
                continue
            seen[expression] = line.targets
        merged.append(line)
    result = _NAME.sub(lambda match: renamed.get(match.group(0), match.group(0)), result)

    used = set(_NAME.findall(result))
    kept: list[Line] = []
    for line in reversed(merged):
        if line.kind in ("pure", "fresh") and not used.intersection(line.targets):
            continue
        used.update(_NAME.findall(line.expression))
        used.update(line.writes)
        kept.append(line)
    kept.reverse()
    return kept, result


def free_early(lines: list[Line], result: str, sizes: dict[str, int], threshold: int = 4096) -> list[Line]:
    """``del`` each big array right after the line that reads it last. A function's local
    names live until it returns, so without this every activation and gradient of a step
    would be held at once; eager mode frees them as the backward pass goes (what the
    benchmarks' peak memory of W3 measures). Small arrays are not worth a ``del``."""
    last_use: dict[str, int] = {}
    for position, line in enumerate(lines):
        for name in (*_NAME.findall(line.expression), *line.targets, *line.writes):
            last_use[name] = position
    returned = set(_NAME.findall(result))
    dead_after: dict[int, list[str]] = {}
    for name, position in last_use.items():
        if name not in returned and sizes.get(name, 0) >= threshold:
            dead_after.setdefault(position, []).append(name)
    freed = []
    for position, line in enumerate(lines):
        freed.append(line)
        if position in dead_after:
            freed.append(Line("free", (), "del " + ", ".join(sorted(dead_after[position]))))
    return freed
