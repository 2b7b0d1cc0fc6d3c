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

- **Arguments.** Tensors are inputs of the program; a new shape or dtype, or a different
  non-tensor argument, records again (up to 8 kinds of arguments, and 8 recordings of
  each). Tensor arguments that require grad run eagerly.
- **Parameters and other tensors from outside** are read by reference: an optimizer that
  updates them in place is seen by the next replay. If a tensor's array is replaced
  (``p.data = ...``, ``model.double()``), its ``requires_grad`` changes or it gets a hook,
  the step records again. So it does when a module it called changes: ``train()`` and
  ``eval()``, a setting such as a dropout probability, a parameter, buffer or submodule
  replaced, added or removed.
- **Effects.** ``optimizer.zero_grad()``, ``optimizer.step()``, ``model.zero_grad()``,
  ``model.train()``/``eval()``, ``requires_grad_()``, a scheduler's ``step()``,
  ``manual_seed()`` and the storing of gradients into ``.grad`` change Python objects, not
  arrays. They are written down as calls and run for real on every replay, so that Adam's
  step counter, a scheduler's learning rate or ``.grad`` accumulating across calls behave
  exactly as in eager mode. Random numbers (dropout) are drawn afresh on every replay, from
  the same generator, in the same order: a replay gives the numbers eager mode would.
- **Values read into Python** (``loss.item()``, ``print(x)``, ``float(x)``) make a step
  run eagerly: what Python decided from them cannot be replayed. ``bool()`` and ``int()``
  of a value are kept as checks: a later call whose value differs is run eagerly.
- **Tensors the step keeps** (``self.last = x``) make it run eagerly: a replay would not
  update them. So do hooks, ``retain_grad``, ``create_graph=True``, anomaly mode and GPU
  tensors (the CPU only, for now). A captured function called inside another one's
  recording is simply part of that recording.
- **Globals and closure variables** that the step function's own code names are guarded
  (the same object, or the same number or string): rebinding one (``target =
  deepcopy(net)``, ``loss_fn = F.l1_loss``) records again. What the functions it calls read
  from their own globals is not seen, and neither are numbers read from Python objects
  (``optimizer.param_groups[0]["lr"]`` used by hand inside the step is frozen).
- **Bad input on a replayed call** (a class index out of range) raises eager mode's error:
  a replay that fails before it changed anything outside the program reruns the call
  eagerly.

Return values are detached tensors (the backward pass happened inside the step). A
replay gives the same numbers as eager mode, bit for bit: it makes the same NumPy calls
on the same arrays, in the same order (``tests/test_jit.py`` and ``tests/test_jit_more.py``
check this on every kind of step they cover).

Python code that only changes Python objects (``count += 1``, appending to a list) runs
on the first call only. Keep it outside the captured function.
"""
from __future__ import annotations

import dis
import functools
import gc
import random
import types
import warnings
import weakref
from typing import Any, Callable

import numpy as np

from tinygrad_edu import backend, tracing
from tinygrad_edu.autograd.anomaly import ANOMALY_MODE
from tinygrad_edu.autograd.engine import BACKWARD_OBSERVER, accumulate_grad
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.nn.module import Module
from tinygrad_edu.optim.optimizer import Optimizer
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tracing import RECORDING, Traced

MAX_RECORDINGS = 8  # per captured function and argument shapes
MAX_SIGNATURES = 8  # argument shapes, dtypes and values per captured function


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
        self.outside_traced: dict[int, Traced] = {}  # id(outside tensor's array) -> the Traced for it
        self.outside_arrays: dict[int, str] = {}  # id(outside tensor's array) -> its name
        self.outside_set: set[str] = set()  # those names
        self.rebound: list[Tensor] = []  # outside tensors given a Traced array (refused; undone at the end)
        self.guarded: set[int] = set()  # ids of the outside tensors that have guards
        self.made: set[int] = set()  # ids of the tensors made while recording (kept alive by `created`)
        self.stored: set[int] = set()  # ids of the leaves whose .grad the step stored
        self.grad_guarded: set[int] = set()
        self.settled: set[int] = set()  # modules and tensors whose mode an effect set (train(), requires_grad_())
        self.modules: set[int] = set()
        self.leaves: list[Tensor] = []
        self.created: list[weakref.ref[Tensor]] = []
        self.generators: list[Any] = []
        self.argument_of: dict[int, int] = {}  # id(stand-in tensor of an argument) -> its position
        self.drew = False
        self.checks_after_draws = False
        self.namespace.update(Diverged=Diverged, wrap=Tensor._wrap)

    # -- tensors from outside the step (parameters, constants) ----------------------------

    def check_inputs(self, args: tuple[Any, ...]) -> None:
        """An op's input tensors, checked: the program can replay CPU arrays only, and not
        the backward pass of a graph recorded before the step. (Their arrays, read while
        recording, are Traced: see :class:`_RecordedArray`.)"""
        if self.paused:
            return
        for tensor in args:
            if not isinstance(tensor, Tensor):
                continue
            array = _real_array(tensor)
            if type(array) is not Traced and not isinstance(array, np.ndarray):
                self.refuse(f"a tensor on {tensor.device} is used; capture replays CPU steps only")
            elif tensor.grad_fn is not None and id(tensor) not in self.made:
                self.refuse("the step uses a tensor computed outside it with a graph, whose backward a replay "
                            "would miss")

    def outside(self, tensor: Tensor, array: np.ndarray) -> Traced:
        """The Traced that stands for the array of a tensor from outside the step, named
        after that array (``x7``), so that the program reads that very array and sees
        in-place updates, under guards that the tensor still holds it and still does (or
        does not) require grad."""
        traced = self.outside_traced.get(id(array))
        if traced is None:
            traced = Traced(array, self.constant(array, "x"), self)
            self.outside_traced[id(array)] = traced
            self.outside_arrays[id(array)] = traced.name
            self.outside_set.add(traced.name)
        self.guard_tensor(tensor)
        return traced

    def is_outside(self, traced: Traced) -> bool:
        return traced.name in self.outside_set

    def rebinding(self, tensor: Tensor, what: str) -> None:
        if what == "assigns .grad" or id(tensor) not in self.made:  # a tensor made in the step may change
            super().rebinding(tensor, what)

    def guard_tensor(self, tensor: Tensor) -> None:
        if id(tensor) not in self.guarded and id(tensor) not in self.made:
            self.guarded.add(id(tensor))
            name, array_name = self.constant(tensor, "t"), self.outside_arrays[id(_real_array(tensor))]
            self.guards.append(f"{name}.array is {array_name}")
            if id(tensor) not in self.settled:
                self.guards.append(f"{name}._requires_grad is {tensor._requires_grad}")
            if tensor._requires_grad:  # a gradient hook added later must not be skipped
                self.guards.append(f"not {name}._hooks")

    def guard_free_variables(self, variables: list[tuple[str, Any, str]]) -> None:
        """Guards that the step function's globals and closure variables still hold the
        same modules, tensors and optimizers (``target_net = copy.deepcopy(net)`` between
        calls), the same functions (``loss_fn = F.l1_loss``) and the same numbers."""
        for where, holder, key in variables:
            try:
                value = holder[key] if where == "global" else holder.cell_contents
            except (KeyError, ValueError):
                continue
            source = f"{self.constant(holder, 'h')}[{key!r}]" if where == "global" else \
                f"{self.constant(holder, 'h')}.cell_contents"
            if isinstance(value, types.ModuleType):
                continue  # np, te, F...: rebinding a module name is not something scripts do
            if type(value) in (int, float, str) and value == value:
                self.guards.append(f"{source} == {self.source(value)}")
            else:  # a module, tensor, optimizer, function, None, True...: the very same object
                self.guards.append(f"{source} is {self.constant(value, 'o')}")

    def array_source(self, array: np.ndarray) -> str:
        return self.outside_arrays.get(id(array)) or self.constant(array, "c")

    def write_outside(self, array: np.ndarray) -> None:
        if id(array) in self.outside_arrays:  # a parameter updated in place (e.g. SGD by hand)
            self.state_changed = True
            return
        super().write_outside(array)

    def check(self, traced: Traced, convert: Callable[[Any], Any], value: Any) -> None:
        if traced.name in self.outside_set:
            self.guard_value(traced)
            return
        if self.drew:
            self.checks_after_draws = True
        super().check(traced, convert, value)

    def read_value(self, traced: Traced, kind: str) -> None:
        """A value of a small array from outside the step (the 2 of ``x ** 2``, a constant)
        may be read: a guard then checks, before each replay, that it is still the same.
        A value the step computed may not (see ``tracing.Recording.read_value``)."""
        if traced.name in self.outside_set and traced.value.size <= 64:
            self.guard_value(traced)
            return
        super().read_value(traced, kind)

    def guard_value(self, traced: Traced) -> None:
        self.guards.append(f"np.array_equal({traced.name}, {self.constant(traced.value.copy(), 'k')})")

    # -- what the package tells the recording ---------------------------------------------

    def module_called(self, module: Any) -> None:
        """Guards that the module is as it was: its parameters the same tensors (not
        replaced by new ``Parameter`` objects), and its plain settings the same values
        (``training``, ``Dropout.p``, ``LeakyReLU.negative_slope``, a loss's ``reduction``):
        the step's Python code read them, and the program holds what it decided."""
        if id(module) not in self.modules:
            self.modules.add(id(module))
            name = self.constant(module, "m")
            for key, value in module.__dict__.items():
                if not key.isidentifier() or (key == "training" and id(module) in self.settled):
                    continue  # (training set by model.train()/eval() inside the step: run on every replay)
                if value is None or type(value) is bool:
                    self.guards.append(f"{name}.{key} is {value}")
                elif type(value) in (int, float, str) and value == value:
                    self.guards.append(f"{name}.{key} == {self.source(value)}")
                elif isinstance(value, Tensor):
                    self.guards.append(f"{name}.{key} is {self.constant(value, 't')}")
            self.guards.append(f"not {name}._forward_hooks")  # hooks added later must not be skipped
            for table in ("_parameters", "_buffers", "_modules"):  # no part replaced, added or removed
                entries = getattr(module, table)
                self.guards.append(f"len({name}.{table}) == {len(entries)}")
                for key, part in entries.items():
                    held = "None" if part is None else self.constant(part, "t" if isinstance(part, Tensor) else "m")
                    self.guards.append(f"{name}.{table}[{key!r}] is {held}")
        if module._forward_hooks:
            self.refuse(f"{type(module).__name__} has forward hooks, which a replay would not run")

    def effect(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               repeatable: bool = False, settles: Callable[..., list[Any]] | None = None) -> Any:
        """Run ``function`` for real now, and write a call to it into the program."""
        if any(isinstance(arg, Tensor) or callable(arg) for arg in (*args[1:], *kwargs.values())):
            self.refuse(f"{function.__qualname__} is given a tensor or a function (a closure) inside the step")
        if settles is not None:  # what it sets, which guards then need not check
            self.settled.update(id(item) for item in settles(*args, **kwargs))
        self.lines.append(tracing.Line("settle" if repeatable else "effect", (),
                                       f"{self.constant(function, 'e')}({self.arguments(args, kwargs)})"))
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
        if id(leaf) in self.made:
            self.refuse(f"the step makes a leaf tensor (shape {tuple(leaf.shape)}) that requires grad; a replay "
                        f"would keep storing into the .grad of the first call's leaf")
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
        self.stored.add(id(leaf))
        self.state_changed = True

    def draw(self, generator: Any, method: str, args: tuple[Any, ...]) -> Any:
        """Random numbers: drawn now, and on every replay from the same generator."""
        self.drew = True
        name = self.constant(generator, "g")
        if generator not in self.generators:
            self.generators.append(generator)
        return self.call(getattr(generator.rng, method), f"{name}.rng.{method}", args, {}, kind="draw")

    def grad_read(self, tensor: Tensor) -> None:
        """Python looked at ``.grad`` of a tensor from outside (``if p.grad is not None:
        p.grad.zero_()``) before this step stored one: what it found must be found again."""
        if self.paused or id(tensor) in self.made or id(tensor) in self.stored or id(tensor) in self.grad_guarded:
            return
        self.grad_guarded.add(id(tensor))
        held = "None" if tensor._grad is None else self.constant(tensor._grad, "t")
        self.guards.append(f"{self.constant(tensor, 't')}._grad is {held}")

    def tensor_made(self, tensor: Tensor) -> None:
        self.created.append(weakref.ref(tensor))
        self.made.add(id(tensor))

    def draws(self, generator: Any) -> Any:
        return _RecordingDraws(self, generator)


_ARRAY_SLOT = Tensor.__dict__["array"]  # the slot that holds a tensor's array


def _real_array(tensor: Tensor) -> Any:
    """The array a tensor holds, even while a recording has replaced ``Tensor.array``."""
    return _ARRAY_SLOT.__get__(tensor, Tensor)


class _RecordedArray:
    """``Tensor.array`` while a step is recorded (the class attribute, put back afterwards,
    so that eager mode pays nothing for it).

    Reading the array of a tensor from outside the step (a parameter, a buffer, a tensor a
    closure holds) gives the Traced named after it, whatever reads it: an op's forward, a
    comparison, ``clamp``'s mask, ``item()``. So nothing computed from an outside tensor
    can become a constant of the program; and what Python reads from one is guarded (small
    values) or refused."""

    def __init__(self, recording: StepRecording) -> None:
        self.recording = recording

    def __get__(self, tensor: Tensor | None, owner: Any = None) -> Any:
        if tensor is None:
            return self
        array = _ARRAY_SLOT.__get__(tensor, owner)
        recording = self.recording
        if type(array) is np.ndarray and not recording.paused and id(tensor) not in recording.made:
            return recording.outside(tensor, array)
        return array

    def __set__(self, tensor: Tensor, array: Any) -> None:
        _ARRAY_SLOT.__set__(tensor, array)
        if type(array) is Traced and id(tensor) not in self.recording.made:
            self.recording.rebound.append(tensor)


class _RecordingDraws:
    """A generator's draws while a step is recorded: NumPy's generator methods, each draw
    written into the program (drawn afresh on every replay, from the same generator)."""

    def __init__(self, recording: StepRecording, generator: Any) -> None:
        self._recording, self._generator = recording, generator

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return lambda *args: self._recording.draw(self._generator, method, args)


def _mark_progress(lines: list[tracing.Line], fresh: set[str]) -> list[tracing.Line]:
    """``progress[0] = True`` at the first line that changes something outside the
    program's own arrays (an effect, a random draw, a write into a parameter, an input or a
    view of one). A replay that fails before it has changed nothing, so the call can be run
    eagerly instead, which raises eager mode's own error (an index out of range, say). A
    draw or a write that fails has changed nothing either (NumPy checks indices before it
    writes), so the mark goes after them; an effect may fail half-way, so it goes before."""
    for position, line in enumerate(lines):
        if line.kind in ("effect", "draw") or (line.kind == "write" and not fresh.issuperset(line.writes)):
            after = position + (line.kind != "effect")
            return [tracing.Line("mark", (), "progress[0] = False"), *lines[:after],
                    tracing.Line("mark", (), "progress[0] = True"), *lines[after:]]
    return lines


class Replay:
    """One recording of a step: the compiled program, its guards and its source."""

    def __init__(self, recording: StepRecording, inputs: list[str], output_source: str) -> None:
        lines, output_source = tracing.simplify(recording.lines, output_source)
        lines = tracing.free_early(lines, output_source, recording.sizes)
        lines = _mark_progress(lines, recording.fresh)
        arrays = "".join(f"    {name} = a{index}.array\n" for index, name in enumerate(inputs))
        body = "\n".join("    " + line.text() for line in lines) or "    pass"
        arguments = ", ".join(f"a{index}" for index in range(len(inputs)))
        self.code = f"def step({arguments}):\n{arrays}{body}\n    return {output_source}\n"
        guards = " and ".join(recording.guards) or "True"
        namespace = dict(recording.namespace)
        self.progress = namespace["progress"] = [False]
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
        self.free_variables = _free_variables(function)
        self.replays_by_key: dict[Any, list[Replay]] = {}
        self.eager_reason: str | None = None
        self.replays = 0
        self.recordings = 0
        self.latest: Replay | None = None

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """``@capture`` on a method: ``obj.step(x)`` calls the captured step with ``obj``."""
        return self if instance is None else functools.partial(self, instance)

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
        try:
            key = (_key((args, kwargs) if kwargs else args, inputs), GRAD_MODE.enabled)
        except _Eager as reason:
            return self._run_eagerly(str(reason), args, kwargs)
        if len(inputs) > 1 and len({id(tensor) for tensor in inputs}) < len(inputs):
            # one tensor passed for two arguments: a program recorded so may only replay so
            key = (key, tuple(next(i for i, other in enumerate(inputs) if other is tensor) for tensor in inputs))
        if key not in self.replays_by_key and len(self.replays_by_key) >= MAX_SIGNATURES:
            return self._run_eagerly(f"it was called with {MAX_SIGNATURES} different kinds of arguments (a number that "
                                     f"changes on every call, say: pass it as a tensor)", args, kwargs)
        for replay in self.replays_by_key.get(key, ()):
            if replay.guard():
                states = [generator.rng.bit_generator.state for generator in replay.generators]
                try:
                    with backend.quiet_float_errors():
                        result = replay.run(*inputs)
                except Diverged:
                    for generator, state in zip(replay.generators, states):
                        generator.rng.bit_generator.state = state
                    continue
                except Exception:  # bad input (an index out of range): eager mode's own, clear error
                    if replay.progress[0]:
                        raise
                    return self.function(*args, **kwargs)
                self.replays += 1
                return result
        return self._record(key, args, kwargs, inputs)

    def _record(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], inputs: list[Tensor]) -> Any:
        recording = StepRecording()
        names = [f"in{index}" for index in range(len(inputs))]
        RECORDING.current = recording
        Tensor.array = _RecordedArray(recording)  # type: ignore[assignment,misc]
        stand_ins = [Tensor._wrap(Traced(_real_array(tensor), name, recording)) for tensor, name in zip(inputs, names)]
        recording.argument_of.update((id(stand_in), index) for index, stand_in in enumerate(stand_ins))
        recorded_args, recorded_kwargs = _replace((args, kwargs), iter(stand_ins))
        grad_mode, numpy_random, python_random = GRAD_MODE.enabled, np.random.get_state(), random.getstate()
        try:
            result = self.function(*recorded_args, **recorded_kwargs)
            if GRAD_MODE.enabled != grad_mode:  # set_grad_enabled(flag) called as a plain function in the step
                recording.lines.append(tracing.Line("settle", (), f"{recording.constant(_set_grad_mode, 'e')}("
                                                                  f"{GRAD_MODE.enabled})"))
            if not _same_random_state(numpy_random, np.random.get_state()) or random.getstate() != python_random:
                recording.refuse("the step draws from NumPy's or Python's global random numbers (np.random, "
                                 "random), which a replay would not draw again; use tinygrad_edu's (randn, rand_like)")
            output_source = _output_source(result, recording)
            recording.guard_free_variables(self.free_variables)
        except BaseException:
            RECORDING.current = None
            Tensor.array = _ARRAY_SLOT  # type: ignore[misc]
            self._finish(recording)  # no Traced array may outlive the recording, in .grad or elsewhere
            raise
        finally:
            RECORDING.current = None
            Tensor.array = _ARRAY_SLOT  # type: ignore[misc]
        self.recordings += 1
        real_result = _materialized(result, recording, inputs)
        del result, recorded_args, recorded_kwargs, stand_ins
        self._finish(recording)
        if recording.not_replayable is not None:
            self._give_up(recording.not_replayable)
            return real_result
        replays = self.replays_by_key.setdefault(key, [])
        if len(replays) >= MAX_RECORDINGS:
            self._give_up(f"it was recorded {MAX_RECORDINGS} times for the same argument shapes "
                          f"(its guards or checks keep failing)")
            return real_result
        self.latest = Replay(recording, names, output_source)
        replays.append(self.latest)
        return real_result

    def _give_up(self, reason: str) -> None:
        """From now on, run eagerly; say why, once."""
        self.eager_reason = reason
        warnings.warn(f"capture: {self.function.__name__} will run eagerly: {reason}", RuntimeWarning, stacklevel=4)

    def _run_eagerly(self, reason: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._give_up(reason)
        return self.function(*args, **kwargs)

    @staticmethod
    def _finish(recording: StepRecording) -> None:
        """Give back real arrays to everything the recording leaves behind, and refuse to
        replay a step that kept a tensor it computed (a replay would not update it)."""
        for tensor in recording.rebound:
            _ARRAY_SLOT.__set__(tensor, tracing.plain(_ARRAY_SLOT.__get__(tensor, Tensor)))
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


def _free_variables(function: Callable[..., Any]) -> list[tuple[str, Any, str]]:
    """The globals the function's own code names, and its closure cells: (kind, holder, key)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    names: list[str] = []
    codes = [code]
    while codes:  # the function's code, and the code of its comprehensions and lambdas
        current = codes.pop()
        names += [instruction.argval for instruction in dis.get_instructions(current)
                  if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval not in names]
        codes += [constant for constant in current.co_consts if isinstance(constant, types.CodeType)]
    found: list[tuple[str, Any, str]] = [("global", function.__globals__, name) for name in names
                                         if name in function.__globals__]
    for name, cell in zip(code.co_freevars, function.__closure__ or ()):
        found.append(("closure", cell, name))
    return found


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


class _Eager(Exception):
    """An argument that a recording cannot be keyed on; the message says which."""


def _key(value: Any, inputs: list[Tensor]) -> Any:
    """What the recording depends on in the arguments: the shapes and dtypes of tensors, the
    values of the rest. Tensors are appended to ``inputs`` in order."""
    if type(value) is tuple:  # the common case, positional CPU tensors, in one quick loop
        quick = []
        for item in value:
            if type(item) is not Tensor or item._requires_grad or type(item.array) is not np.ndarray:
                break
            quick.append((item.array.shape, item.array.dtype))
        else:
            inputs.extend(value)
            return tuple(quick)
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise _Eager(f"a tensor argument of shape {tuple(value.shape)} requires grad: its gradient would "
                         f"belong to the argument of each call (pass such tensors eagerly)")
        if not isinstance(value.array, np.ndarray):
            raise _Eager(f"a tensor argument is on {value.device}; capture replays CPU steps only")
        inputs.append(value)
        return ("tensor", value.array.shape, value.array.dtype)
    if isinstance(value, (tuple, list)):  # named tuples (a batch) too
        return (type(value), tuple(_key(item, inputs) for item in value))
    if type(value) is dict:
        return (dict, tuple((name, _key(item, inputs)) for name, item in value.items()))
    if isinstance(value, np.ndarray):
        raise _Eager("a NumPy array is passed as an argument; pass a tensor (from_numpy) instead")
    try:
        hash(value)
    except TypeError:
        raise _Eager(f"an argument of type {type(value).__name__} is neither a tensor nor hashable") from None
    return (type(value), value)


def _replace(value: Any, stand_ins: Any) -> Any:
    """The arguments with each tensor replaced by the next stand-in (the order of _key)."""
    if isinstance(value, Tensor):
        return next(stand_ins)
    if isinstance(value, (tuple, list)):
        return _rebuilt(value, [_replace(item, stand_ins) for item in value])
    if type(value) is dict:
        return {name: _replace(item, stand_ins) for name, item in value.items()}
    return value


def _set_grad_mode(enabled: bool) -> None:
    """What ``set_grad_enabled(flag)``, called as a plain function, left behind."""
    GRAD_MODE.enabled = enabled


def _same_random_state(before: Any, after: Any) -> bool:
    """``np.random.get_state()`` twice: the same (it holds an array, so no plain ==)."""
    return all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b for a, b in zip(before, after))


def _rebuilt(container: Any, items: list[Any]) -> Any:
    """A tuple, named tuple or list like ``container``, holding ``items``."""
    return type(container)(*items) if hasattr(container, "_fields") else type(container)(items)


def _output_source(value: Any, recording: StepRecording) -> str:
    """How the program builds the step's return value (tensors: detached, new)."""
    if isinstance(value, Tensor):
        if id(value) in recording.argument_of:
            return f"a{recording.argument_of[id(value)]}"  # an argument, returned as itself
        if id(value) not in recording.made:
            return recording.constant(value, "r")  # a tensor from outside, returned as itself
        array = _real_array(value)
        if type(array) is Traced and array.recording is recording:
            return f"wrap({array.name})"
        return f"wrap({recording.constant(array, 'c')}.copy())"  # made from Python data: new on every call
    if isinstance(value, (tuple, list)):
        items = "".join(_output_source(item, recording) + ", " for item in value)
        if hasattr(value, "_fields"):  # a named tuple, such as max(dim=...)'s (values, indices)
            return f"{recording.constant(type(value), 'n')}({items})"
        return f"({items})" if type(value) is tuple else f"[{items}]"
    if type(value) is dict:
        return "{" + ", ".join(f"{recording.source(name)}: {_output_source(item, recording)}"
                               for name, item in value.items()) + "}"
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    recording.refuse(f"the step returns a {type(value).__name__}; return tensors (or tuples, lists, dicts of them)")
    return "None"


def _materialized(value: Any, recording: StepRecording, inputs: list[Tensor]) -> Any:
    """The recording call's return value: real arrays, the arguments themselves, and tensors
    made from Python data in the step copied (the program keeps the original for replays)."""
    if isinstance(value, Tensor):
        if id(value) in recording.argument_of:
            return inputs[recording.argument_of[id(value)]]
        if type(value.array) is Traced:
            return Tensor._wrap(value.array.value)
        return Tensor._wrap(value.array.copy()) if id(value) in recording.made else value
    if isinstance(value, (tuple, list)):
        return _rebuilt(value, [_materialized(item, recording, inputs) for item in value])
    if type(value) is dict:
        return {name: _materialized(item, recording, inputs) for name, item in value.items()}
    return value
