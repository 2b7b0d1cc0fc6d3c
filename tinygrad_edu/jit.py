"""``capture``: record a training step once as a NumPy program, then replay the program.

An eager step pays, for every op, a Python ``Tensor``, a graph ``Node``, dtype promotion,
and in ``backward()`` a topological sort and a rule made of more ops: about 13
microseconds per op beyond its arithmetic (``docs/performance.md``). On small tensors that
is most of the time. ``capture`` removes it the way the hand-written NumPy of the
benchmarks does, by not doing it at all on later calls::

    @tinygrad_edu.jit.capture
    def train_step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for x, y in batches:
        loss = train_step(x, y)      # the first call records, the next ones replay

The first call runs the step as usual, but on :class:`~tinygrad_edu.tracing.Traced`
arrays, which write every NumPy call of the forward *and* of the backward pass down as a
line of a Python function (``step.code`` shows it). Later calls with tensors of the same
shapes and dtypes run that function: only the NumPy calls are left.

What a replay cannot see, it must not get wrong, so a recording is replayed only when
nothing it depended on has changed (the *guards*), and a step that does what a program of
NumPy calls cannot repeat is run eagerly instead, with a warning that says why:

- **Arguments.** Tensors are inputs of the program; a new shape, dtype or
  ``requires_grad``, or a different non-tensor argument, records again (up to 8 versions).
  Tensor arguments that require grad run eagerly.
- **Parameters and other tensors from outside** are read by reference: an optimizer that
  updates them in place is seen by the next replay. If a tensor's array is replaced
  (``p.data = ...``, ``model.double()``) or its ``requires_grad`` changes, the step records
  again. So it does when a module it called switches between ``train()`` and ``eval()``.
- **Effects.** ``optimizer.zero_grad()``, ``optimizer.step()``, ``model.zero_grad()``, a
  scheduler's ``step()`` and the storing of gradients into ``.grad`` change Python objects,
  not arrays. They are written down as calls and run for real on every replay, so that
  Adam's step counter, a scheduler's learning rate or ``.grad`` accumulating across calls
  behave exactly as in eager mode. Random numbers (dropout) are drawn afresh on every
  replay, from the same generator, in the same order: a replay gives the numbers eager
  mode would.
- **Values read into Python** (``loss.item()``, ``print(x)``, ``float(x)``) make a step
  run eagerly: what Python decided from them cannot be replayed. ``bool()`` and ``int()``
  of a value are kept as checks: a later call whose value differs is run eagerly.
- **Tensors the step keeps** (``self.last = x``) make it run eagerly: a replay would not
  update them. So do hooks, ``retain_grad``, ``create_graph=True``, anomaly mode, GPU
  tensors (the CPU only, for now) and steps that call another captured step.

Return values are detached tensors (the backward pass happened inside the step). A
replay gives the same numbers as eager mode, bit for bit: it makes the same NumPy calls
on the same arrays, in the same order (``tests/test_jit.py`` checks this on every kind of
step it covers).

Python code that only changes Python objects (``count += 1``, appending to a list) runs
on the first call only. Keep it outside the captured function.
"""
from __future__ import annotations

import functools
import gc
import warnings
import weakref
from typing import Any, Callable

import numpy as np

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd.anomaly import ANOMALY_MODE
from tinygrad_edu.autograd.engine import BACKWARD_OBSERVER, accumulate_grad
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tracing import RECORDING, Traced

MAX_RECORDINGS = 8  # per captured function and argument shapes


class Diverged(Exception):
    """Raised inside a replay when a value that Python read during the recording differs."""


def _store_grad(leaf: Tensor, array: Any, owned: bool) -> Any:
    """The replay's way of doing what ``backward()`` does at its end for one leaf: add the
    gradient into ``leaf.grad`` (engine's ``accumulate_grad``, run for real). The common
    case, a fresh array into an empty ``.grad``, skips the checks of the ``grad`` setter:
    the recording made sure the array fits."""
    if owned and leaf._grad is None:
        leaf._grad = Tensor._wrap(array)
        return array
    accumulate_grad(leaf, Tensor._wrap(array), False, owned)
    return leaf._grad.array


class StepRecording(tracing.Recording):
    """A :class:`~tinygrad_edu.tracing.Recording` that knows about tensors: which arrays
    belong to tensors from outside (and their guards), the effects, the ``.grad`` stores."""

    def __init__(self) -> None:
        super().__init__()
        self.guards: list[str] = []
        self.lifted: dict[int, Tensor] = {}  # id(outside tensor) -> its stand-in for forward()
        self.outside_arrays: dict[int, str] = {}  # id(outside tensor's array) -> its name
        self.modules: set[int] = set()
        self.leaves: list[Tensor] = []
        self.created: list[weakref.ref[Tensor]] = []
        self.generators: list[Any] = []
        self.drew = False
        self.checks_after_draws = False
        self.namespace.update(Diverged=Diverged, wrap=Tensor._wrap)

    # -- tensors from outside the step (parameters, constants) ----------------------------

    def lift(self, tensor: Tensor) -> Tensor:
        """The tensor as an op's ``forward`` sees it while recording: a tensor from outside
        the step gets a stand-in whose array is a Traced *named after the tensor's array*,
        so the program reads that very array (and sees in-place updates), under a guard
        that the tensor still holds it."""
        array = tensor.array
        if type(array) is Traced:
            return tensor
        stand_in = self.lifted.get(id(tensor))
        if stand_in is not None:
            return stand_in
        if not isinstance(array, np.ndarray):
            self.refuse(f"a tensor on {tensor.device} is used; capture replays CPU steps only")
            return tensor
        if tensor.grad_fn is not None:
            self.refuse("the step uses a tensor computed outside it with a graph, whose backward a replay would miss")
        name = self.name_outside(tensor)
        stand_in = Tensor._wrap(Traced(array, name, self), tensor._requires_grad)
        stand_in._version = tensor._version
        self.lifted[id(tensor)] = stand_in
        return stand_in

    def name_outside(self, tensor: Tensor) -> str:
        array_name = self.outside_arrays.get(id(tensor.array))
        if array_name is None:
            tensor_name = self.constant(tensor, "t")
            array_name = self.constant(tensor.array, "x")
            self.outside_arrays[id(tensor.array)] = array_name
            self.guards.append(f"{tensor_name}.array is {array_name}")
            self.guards.append(f"{tensor_name}._requires_grad is {tensor._requires_grad}")
        return array_name

    def array_source(self, array: np.ndarray) -> str:
        return self.outside_arrays.get(id(array)) or self.constant(array, "c")

    def write_outside(self, array: np.ndarray) -> None:
        if id(array) in self.outside_arrays:  # a parameter updated in place (e.g. SGD by hand)
            self.state_changed = True
            return
        super().write_outside(array)

    def check(self, traced: Traced, convert: Callable[[Any], Any], value: Any) -> None:
        if self.drew:
            self.checks_after_draws = True
        super().check(traced, convert, value)

    # -- what the package tells the recording ---------------------------------------------

    def module_called(self, module: Any) -> None:
        if id(module) not in self.modules:
            self.modules.add(id(module))
            self.guards.append(f"{self.constant(module, 'm')}.training is {module.training}")
        if module._forward_hooks:
            self.refuse(f"{type(module).__name__} has forward hooks, which a replay would not run")

    def effect(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               repeatable: bool = False) -> Any:
        """Run ``function`` for real now, and write a call to it into the program."""
        if any(isinstance(arg, Tensor) or callable(arg) for arg in (*args[1:], *kwargs.values())):
            self.refuse(f"{function.__qualname__} is given a tensor or a function (a closure) inside the step")
        self.lines.append(tracing.Line("effect", (), f"{self.constant(function, 'e')}({self.arguments(args, kwargs)})"))
        self.state_changed = self.state_changed or not repeatable
        self.paused += 1
        try:
            return function(*args, **kwargs)
        finally:
            self.paused -= 1

    def store_grad(self, leaf: Tensor, gradient: Tensor, owned: bool) -> None:
        """``backward()``'s last act for one leaf, written as a call to :func:`_store_grad`.
        The stored gradient stays a Traced until the recording ends, so that what the step
        does with ``.grad`` afterwards (clipping, a hand-written update) is recorded too."""
        source = self.source(gradient.array)
        self.paused += 1
        try:
            accumulate_grad(leaf, gradient, False, owned)
        finally:
            self.paused -= 1
        stored = tracing.plain(leaf._grad.array)
        traced = Traced(stored, self.new_name("v"), self)
        self.lines.append(tracing.Line("effect", (traced.name,), f"{self.constant(_store_grad, 'e')}("
                                       f"{self.constant(leaf, 't')}, {source}, {owned})"))
        leaf._grad.array = traced
        self.leaves.append(leaf)
        self.state_changed = True

    def draw(self, generator: Any, method: str, args: tuple[Any, ...]) -> Any:
        """Random numbers: drawn now, and on every replay from the same generator."""
        self.drew = True
        name = self.constant(generator, "g")
        if generator not in self.generators:
            self.generators.append(generator)
        return self.call(getattr(generator.rng, method), f"{name}.rng.{method}", args, {}, kind="draw")

    def tensor_made(self, tensor: Tensor) -> None:
        self.created.append(weakref.ref(tensor))

    def draws(self, generator: Any) -> Any:
        return _RecordingDraws(self, generator)


class _RecordingDraws:
    """A generator's draws while a step is recorded: NumPy's generator methods, each draw
    written into the program (drawn afresh on every replay, from the same generator)."""

    def __init__(self, recording: StepRecording, generator: Any) -> None:
        self._recording, self._generator = recording, generator

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return lambda *args: self._recording.draw(self._generator, method, args)


class Replay:
    """One recording of a step: the compiled program, its guards and its source."""

    def __init__(self, recording: StepRecording, inputs: list[str], output_source: str) -> None:
        lines = tracing.free_early(tracing.simplify(recording.lines, output_source), output_source,
                                   recording.sizes)
        body = "\n".join("    " + line.text() for line in lines) or "    pass"
        self.code = (f"def step({', '.join(inputs)}):\n{body}\n    return {output_source}\n")
        guards = " and ".join(recording.guards) or "True"
        namespace = dict(recording.namespace)
        exec(compile(f"def guard():\n    return {guards}\n", "<capture guard>", "exec"), namespace)  # noqa: S102
        exec(compile(self.code, "<captured step>", "exec"), namespace)  # noqa: S102
        self.guard: Callable[[], bool] = namespace["guard"]
        self.run: Callable[..., Any] = namespace["step"]
        self.guard_source = guards
        self.generators = recording.generators if recording.checks_after_draws else []
        self.recorded_lines, self.lines = len(recording.lines), len(lines)


class CapturedStep:
    """A function captured by :func:`capture`. Call it as the function itself.

    ``.code`` is the NumPy program of the latest recording; ``.eager_reason`` says why the
    step runs eagerly, if it does; ``.replays`` and ``.recordings`` count calls of each kind.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.replays_by_key: dict[Any, list[Replay]] = {}
        self.eager_reason: str | None = None
        self.replays = 0
        self.recordings = 0
        self.latest: Replay | None = None

    @property
    def code(self) -> str:
        if self.latest is None:
            return f"# {self.function.__name__}: not recorded yet" + (
                f" (runs eagerly: {self.eager_reason})" if self.eager_reason else "")
        return self.latest.code

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.eager_reason is not None or RECORDING.current is not None:
            return self.function(*args, **kwargs)  # eager (or inside another recording: part of it)
        if ANOMALY_MODE.enabled or BACKWARD_OBSERVER.callback is not None:
            return self.function(*args, **kwargs)
        inputs: list[Tensor] = []
        key = _key((args, kwargs) if kwargs else args, inputs)
        if key is None:
            return self.function(*args, **kwargs)
        key = (key, GRAD_MODE.enabled)
        for replay in self.replays_by_key.get(key, ()):
            if replay.guard():
                states = [generator.rng.bit_generator.state for generator in replay.generators]
                try:
                    with backend.quiet_float_errors():
                        result = replay.run(*[tensor.array for tensor in inputs])
                except Diverged:
                    for generator, state in zip(replay.generators, states):
                        generator.rng.bit_generator.state = state
                    continue
                self.replays += 1
                return result
        return self._record(key, args, kwargs, inputs)

    def _record(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], inputs: list[Tensor]) -> Any:
        recording = StepRecording()
        names = [f"in{index}" for index in range(len(inputs))]
        stand_ins = {id(tensor): Tensor._wrap(Traced(tensor.array, name, recording))
                     for tensor, name in zip(inputs, names)}
        recorded_args, recorded_kwargs = _replace((args, kwargs), stand_ins)
        RECORDING.current = recording
        try:
            result = self.function(*recorded_args, **recorded_kwargs)
            output_source = _output_source(result, recording)
        except BaseException:
            RECORDING.current = None
            self._finish(recording)  # no Traced array may outlive the recording, in .grad or elsewhere
            raise
        finally:
            RECORDING.current = None
        self.recordings += 1
        real_result = _materialized(result)
        del result, recorded_args, recorded_kwargs, stand_ins
        self._finish(recording)
        if recording.not_replayable is not None:
            self.eager_reason = recording.not_replayable
            warnings.warn(f"capture: {self.function.__name__} will run eagerly: {recording.not_replayable}",
                          RuntimeWarning, stacklevel=3)
            return real_result
        replays = self.replays_by_key.setdefault(key, [])
        if len(replays) >= MAX_RECORDINGS:
            self.eager_reason = (f"it was recorded {MAX_RECORDINGS} times for the same argument shapes "
                                 f"(its guards or checks keep failing)")
            warnings.warn(f"capture: {self.function.__name__} will run eagerly: {self.eager_reason}",
                          RuntimeWarning, stacklevel=3)
            return real_result
        self.latest = Replay(recording, names, output_source)
        replays.append(self.latest)
        return real_result

    @staticmethod
    def _finish(recording: StepRecording) -> None:
        """Give back real arrays to everything the recording leaves behind, and refuse to
        replay a step that kept a tensor it computed (a replay would not update it)."""
        recording.lifted.clear()  # the stand-ins of outside tensors, made by the recording itself
        for leaf in recording.leaves:
            if leaf._grad is not None:
                leaf._grad.array = tracing.plain(leaf._grad.array)
        kept = _kept_tensors(recording)
        if kept:
            gc.collect()  # reference cycles the step left may hold some of them
            kept = _kept_tensors(recording)
        for tensor in kept:
            tensor.array = tensor.array.value
        if kept:
            recording.refuse(f"the step keeps {len(kept)} tensor(s) it computed after it returns (one of shape "
                             f"{tuple(kept[0].shape)}), e.g. in an attribute or a list; a replay would not update them")


def _kept_tensors(recording: StepRecording) -> list[Tensor]:
    kept = []
    for ref in recording.created:
        tensor = ref()
        if tensor is not None and type(tensor.array) is Traced and tensor.array.recording is recording:
            kept.append(tensor)
    return kept


def capture(function: Callable[..., Any]) -> CapturedStep:
    """Record ``function`` (a training or evaluation step) as a NumPy program on its first
    call and replay the program on later calls; see the module docstring for what is
    replayed, what is guarded, and what makes a step run eagerly instead."""
    return CapturedStep(function)


# -- arguments and results ---------------------------------------------------------------


def _key(value: Any, inputs: list[Tensor]) -> Any:
    """What the recording depends on in the arguments (None: run eagerly). Tensors are
    appended to ``inputs`` in order."""
    if type(value) is tuple and all(type(item) is Tensor for item in value):  # the common case, made quick
        if any(item._requires_grad or type(item.array) is not np.ndarray for item in value):
            return None
        inputs.extend(value)
        return tuple([(item.array.shape, item.array.dtype) for item in value])
    if isinstance(value, Tensor):
        if value.requires_grad or not isinstance(value.array, np.ndarray):
            return None
        inputs.append(value)
        return ("tensor", value.array.shape, value.array.dtype)
    if type(value) in (tuple, list):
        keys = [_key(item, inputs) for item in value]
        return None if any(key is None for key in keys) else (type(value), tuple(keys))
    if type(value) is dict:
        keys = [(name, _key(item, inputs)) for name, item in value.items()]
        return None if any(key is None for _, key in keys) else (dict, tuple(keys))
    if isinstance(value, np.ndarray):
        return None
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


def _replace(value: Any, stand_ins: dict[int, Tensor]) -> Any:
    if isinstance(value, Tensor):
        return stand_ins[id(value)]
    if type(value) in (tuple, list):
        return type(value)(_replace(item, stand_ins) for item in value)
    if type(value) is dict:
        return {name: _replace(item, stand_ins) for name, item in value.items()}
    return value


def _output_source(value: Any, recording: StepRecording) -> str:
    """How the program builds the step's return value (tensors: detached, new)."""
    if isinstance(value, Tensor):
        if type(value.array) is Traced and value.array.recording is recording:
            return f"wrap({value.array.name})"
        return recording.constant(value, "r")
    if type(value) in (tuple, list):
        items = "".join(_output_source(item, recording) + ", " for item in value)
        return f"({items})" if type(value) is tuple else f"[{items}]"
    if type(value) is dict:
        return "{" + ", ".join(f"{name!r}: {_output_source(item, recording)}" for name, item in value.items()) + "}"
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    recording.refuse(f"the step returns a {type(value).__name__}; return tensors (or tuples, lists, dicts of them)")
    return "None"


def _materialized(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor._wrap(value.array.value) if type(value.array) is Traced else value
    if type(value) in (tuple, list):
        return type(value)(_materialized(item) for item in value)
    if type(value) is dict:
        return {name: _materialized(item) for name, item in value.items()}
    return value
