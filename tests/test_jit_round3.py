"""``jit.capture``, round 3: angles the first two rounds did not cover, captured versus eager.

Every test compares a captured run with an eager run bit for bit (``test_jit.assert_equal``)
over several calls and says what the capture did: replays where a replay is expected, the
warning where a fallback is expected.

The bugs this round found are fixed (each test below failed before its fix). The families:

- arrays of tensors from outside the step (parameters, buffers, static input buffers) read
  *without* going through ``Function.apply`` (comparisons, ``clamp``'s mask,
  ``any``/``argmax``/``one_hot``/``nll_loss``'s ignore mask, ``item()``/``float()``/``bool()``),
  which used to become constants of the program: now ``Tensor.array`` itself gives their
  Traced while recording (``jit._RecordedArray``);
- ``Traced``'s methods with ``out=`` (``a.clip(0, None, out=a)``), now writes;
- global state: ``set_grad_enabled(False)`` as a plain call (now a line of the program),
  ``save``/``load`` and NumPy's or Python's global random numbers (now refused, with the
  reason);
- ``_free_variables`` took *attribute* names (``optimizer.step``) for globals;
- what a replay returns: the argument itself, a parameter's detached view.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te
import tinygrad_edu.nn.functional as F
from tinygrad_edu import jit, nn, optim
from test_jit import (
    OPTIMIZERS, SEED, assert_equal, builder, capture_warnings, class_batches, compare, mlp, no_capture_warning,
    regression_batches, snapshot, standard_step,
)
from test_jit_more import calls_match, equal_allowing_fallback, replayed, rng_batches, step_with


# --------------------------------------------------------------------------- helpers


def fallback_with_warning(build: Callable[[], dict[str, Any]], make_step: Callable[..., Any], batches: list[Any],
                          match: str) -> Any:
    """compare(), expecting the step to run eagerly, with exactly one warning that says why."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, captured = compare(build, make_step, batches)
    messages = capture_warnings(caught)
    assert len(messages) == 1 and match in messages[0], messages
    assert captured.step.eager_reason is not None and captured.step.replays == 0
    return captured


def twin_runs(run: Callable[[bool], Any]) -> Any:
    """``run(captured)`` once eagerly and once captured (each builds its own model after
    ``manual_seed(SEED)``); asserts equal results and returns the captured run's result."""
    te.manual_seed(SEED)
    eager = run(False)
    te.manual_seed(SEED)
    captured = run(True)
    assert_equal(snapshot(captured[0]), snapshot(eager[0]))
    return captured


# --------------------------------------------------------------------------- user-defined autograd Functions


class SortWithIndices(te.autograd.Function):
    """Two outputs, the second (indices) marked non-differentiable; raw-array forward and backward."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        order = np.argsort(x.array, axis=1, kind="stable")
        ctx.inverse = np.argsort(order, axis=1, kind="stable")
        indices = te.Tensor._wrap(order)
        ctx.mark_non_differentiable(indices)
        return te.Tensor._wrap(np.take_along_axis(x.array, order, axis=1)), indices

    @staticmethod
    def backward(ctx: Any, grad_values: te.Tensor, grad_indices: te.Tensor) -> te.Tensor:
        return te.Tensor._wrap(np.take_along_axis(grad_values.array, ctx.inverse, axis=1))


class Product(te.autograd.Function):
    """Gradients only for the inputs that need one (``ctx.needs_input_grad``), None for the others."""

    @staticmethod
    def forward(ctx: Any, a: te.Tensor, b: te.Tensor) -> te.Tensor:
        ctx.save_for_backward(a, b)
        return te.Tensor._wrap(a.array * b.array)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> tuple[te.Tensor | None, te.Tensor | None]:
        a, b = ctx.saved_tensors
        return (te.Tensor._wrap(grad.array * b.array) if ctx.needs_input_grad[0] else None,
                te.Tensor._wrap(grad.array * a.array) if ctx.needs_input_grad[1] else None)


class ClipTo(te.autograd.Function):
    """A Python number argument kept on ctx; a backward made of Tensor ops."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor, bound: float) -> te.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return te.Tensor._wrap(np.clip(x.array, -bound, bound))

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> tuple[te.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= ctx.bound).float(), None


class SumAndDifference(te.autograd.Function):
    """Two differentiable outputs; an *output* saved for backward next to an input."""

    @staticmethod
    def forward(ctx: Any, a: te.Tensor, b: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        total, difference = te.Tensor._wrap(a.array + b.array), te.Tensor._wrap(a.array - b.array)
        ctx.save_for_backward(total, b)
        return total, difference

    @staticmethod
    def backward(ctx: Any, grad_total: te.Tensor, grad_difference: te.Tensor) -> tuple[Any, Any]:
        total, b = ctx.saved_tensors
        grad_a = grad_total + grad_difference if ctx.needs_input_grad[0] else None
        grad_b = grad_total - grad_difference + 0 * total * b if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Transposed(te.autograd.Function):
    """forward returns a view of its input's array."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> te.Tensor:
        return te.Tensor._wrap(x.array.T)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> te.Tensor:
        return te.Tensor._wrap(grad.array.T)


class LinearNoBias(te.autograd.Function):
    """The weight kept on ctx as a tensor (not saved); backward in Tensor ops."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor, weight: te.Tensor) -> te.Tensor:
        ctx.weight = weight
        ctx.save_for_backward(x)
        return te.Tensor._wrap(x.array @ weight.array.T)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
        (x,) = ctx.saved_tensors
        return grad @ ctx.weight, grad.T @ x


class ConstantGradient(te.autograd.Function):
    """A gradient that does not depend on the upstream one: a NumPy array made from a shape."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> te.Tensor:
        ctx.shape = x.shape
        return te.Tensor._wrap(x.array * 1.0)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> te.Tensor:
        return te.Tensor._wrap(np.full(ctx.shape, 0.5, dtype=np.float32))


CUSTOM_FUNCTION_LOSSES: dict[str, Callable[[nn.Module, te.Tensor, te.Tensor], te.Tensor]] = {
    "two_outputs_one_non_differentiable": lambda m, x, y: (F.mse_loss(SortWithIndices.apply(m(x))[0], y)
                                                          + SortWithIndices.apply(m(x))[1].float().mean() * 0),
    "needs_input_grad_with_a_parameter": lambda m, x, y: (F.mse_loss(Product.apply(m(x), y), y)
                                                         + Product.apply(m[0].weight, m[0].weight).sum() * 1e-2),
    "python_number_argument": lambda m, x, y: F.mse_loss(ClipTo.apply(m(x), 0.3), y),
    "saved_output_two_gradients": lambda m, x, y: sum(t.pow(2).mean() for t in SumAndDifference.apply(m(x), y * m(x))),
    "parameter_through_two_outputs": lambda m, x, y: SumAndDifference.apply(m(x), m[4].bias.expand(6, 3))[1]
    .pow(2).mean(),
    "view_output_cloned_and_changed_in_place": lambda m, x, y: (Transposed.apply(m(x)).clone().mul_(2) - y.T)
    .pow(2).mean(),
    "view_of_a_parameter": lambda m, x, y: F.mse_loss(m(x), y) + Transposed.apply(m[0].weight).sum() * 0.01,
    "weight_kept_on_ctx": lambda m, x, y: F.mse_loss(LinearNoBias.apply(m[1](m[0](x)), m[2].weight), y.repeat(1, 3)[:, :8]),
}


@pytest.mark.parametrize("name", list(CUSTOM_FUNCTION_LOSSES))
def test_custom_autograd_functions_replay(name: str) -> None:
    replayed(builder(optimizer=OPTIMIZERS["adam"]), step_with(CUSTOM_FUNCTION_LOSSES[name]), regression_batches(5))


def test_custom_gradient_made_from_a_shape_accumulates_across_calls() -> None:
    """No zero_grad: the constant gradient is added into .grad on every call, then scaled in place;
    the program's array must not be the one that .grad holds (it is copied: a custom rule)."""
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            loss = ConstantGradient.apply(model[0].bias).sum() + F.mse_loss(model(x), y)
            loss.backward()
            model[0].bias.grad.mul_(0.5)
            optimizer.step()
            return loss
        return step
    replayed(builder(), make_step, regression_batches(6))


def test_custom_function_backward_twice_with_retain_graph() -> None:
    """Saved tensors of a custom Function (an input and an output) read by two backward passes."""
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
            optimizer.zero_grad()
            total, difference = SumAndDifference.apply(model(x), y * model(x))
            first, second = total.pow(2).mean(), difference.abs().mean()
            first.backward(retain_graph=True)
            first.backward(retain_graph=True)
            second.backward()
            optimizer.step()
            return first, second
        return step
    replayed(builder(optimizer=OPTIMIZERS["adam_amsgrad_weight_decay"]), make_step, regression_batches(5))


class ClampWithMethodOut(te.autograd.Function):
    """ReLU written with an ndarray method that writes into its own array (``out=``)."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> te.Tensor:
        y = x.array.copy()
        y.clip(0, None, out=y)
        ctx.save_for_backward(x)
        return te.Tensor._wrap(y)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> te.Tensor:
        (x,) = ctx.saved_tensors
        return te.Tensor._wrap(grad.array * (x.array > 0))


class SumIntoBuffer(te.autograd.Function):
    """A column sum written with an ndarray method into another array (``out=``)."""

    @staticmethod
    def forward(ctx: Any, x: te.Tensor) -> te.Tensor:
        total = np.zeros_like(x.array[:1])
        x.array.sum(axis=0, keepdims=True, out=total)
        ctx.shape = x.shape
        return te.Tensor._wrap(total)

    @staticmethod
    def backward(ctx: Any, grad: te.Tensor) -> te.Tensor:
        return te.Tensor._wrap(np.broadcast_to(grad.array, ctx.shape).copy())


@pytest.mark.parametrize("function", [ClampWithMethodOut, SumIntoBuffer])
def test_ndarray_method_with_out_inside_a_custom_function(function: type) -> None:
    def loss_of(m: nn.Module, x: te.Tensor, y: te.Tensor) -> te.Tensor:
        out = function.apply(m(x))
        return F.mse_loss(out, y[:out.shape[0]])
    replayed(builder(optimizer=OPTIMIZERS["adam"]), step_with(loss_of), regression_batches(5))


class SortWithPutAlongAxis(SortWithIndices):
    @staticmethod
    def backward(ctx: Any, grad_values: te.Tensor, grad_indices: te.Tensor) -> te.Tensor:
        gradient = np.zeros_like(grad_values.array)
        np.put_along_axis(gradient, np.argsort(ctx.inverse, axis=1), grad_values.array, axis=1)
        return te.Tensor._wrap(gradient)


def test_in_place_numpy_function_other_than_copyto_falls_back() -> None:
    """Needless fallback, with a misleading reason: np.put_along_axis (like np.put, np.place,
    np.fill_diagonal) writes in place and returns None; only np.copyto is known as a write, so the
    recording refuses with 'a NumPy call returned a NoneType computed from the values'."""
    fallback_with_warning(builder(), step_with(lambda m, x, y: F.mse_loss(SortWithPutAlongAxis.apply(m(x))[0], y)),
                          regression_batches(4), "returned a NoneType")


# --------------------------------------------------------------------------- grad mode


te.manual_seed(SEED)
_MODEL = mlp()
_BATCHES = [(te.tensor(x),) for x, _ in regression_batches(4)]


def _inference_mode_inside(x: te.Tensor) -> te.Tensor:
    with te.inference_mode():
        return _MODEL(x).sum(1)


@te.inference_mode()
def _inference_mode_decorated(x: te.Tensor) -> te.Tensor:
    return _MODEL(x).softmax(1)


def _set_grad_enabled_block(x: te.Tensor) -> tuple[bool, te.Tensor]:
    with te.set_grad_enabled(False):
        out = _MODEL(x)
    return out.requires_grad, out


def _set_grad_enabled_switched_back(x: te.Tensor) -> tuple[te.Tensor, bool]:
    te.set_grad_enabled(False)
    out = _MODEL(x)
    te.set_grad_enabled(True)
    return out, _MODEL(x).requires_grad


@pytest.mark.parametrize("function", [_inference_mode_inside, _inference_mode_decorated, _set_grad_enabled_block,
                                      _set_grad_enabled_switched_back])
def test_grad_mode_switched_inside_the_step_replays(function: Callable[..., Any]) -> None:
    captured = calls_match(function, _BATCHES, grad=True)
    assert (captured.recordings, captured.replays) == (1, 3)
    assert te.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call_leaves_eager_modes_grad_mode() -> None:
    def run_batch(x: te.Tensor, training: bool) -> te.Tensor:
        te.set_grad_enabled(training)
        return _MODEL(x).sum()
    captured = jit.capture(run_batch)
    try:
        for index in range(6):
            x = te.randn(3, 4)
            training = index % 2 == 0
            te.set_grad_enabled(True)
            expected, eager_mode = snapshot(run_batch(x, training)), te.is_grad_enabled()
            te.set_grad_enabled(True)
            actual, captured_mode = snapshot(captured(x, training)), te.is_grad_enabled()
            assert_equal(actual, expected, f"call {index}")
            assert captured_mode == eager_mode, f"call {index}: grad mode {captured_mode} after the call, eager {eager_mode}"
    finally:
        te.set_grad_enabled(True)


# --------------------------------------------------------------------------- dtypes


te.manual_seed(SEED)
_MODEL64 = mlp().double()


def _mixed_precision(a: te.Tensor, b: te.Tensor) -> tuple[te.Tensor, ...]:
    return (_MODEL64(a) + _MODEL64(b.double()), a * b, b + 1.5, a.float() @ b.T, _MODEL(b) * _MODEL64(a),
            (b * _MODEL64[0].weight[0, :4]).sum(), a.double().std(0, keepdim=True), b.var(1))


def test_float64_model_with_float32_and_float64_arguments() -> None:
    batches = [(te.tensor(x.astype(np.float64)), te.tensor(x)) for x, _ in regression_batches(4)]
    assert calls_match(_mixed_precision, batches).replays == 3
    assert calls_match(_mixed_precision, batches, grad=True).replays == 3


def _integer_and_bool_ops(i: te.Tensor, f: te.Tensor) -> tuple[te.Tensor, ...]:
    return (i * 2 + 1, i // 2, i % 3, i.sum(), i.max(), i > 0, (i > 0).sum(), (i == 1).any(), (i > 0) & (f > 0),
            ~(i > 0), i.float() / 3, i / 2, i.abs(), -i, i.clamp(-1, 1), i.argmax(1), i ** 2, f ** i.clamp(0, 3),
            (i > 0).float().mean(), te.where(i > 0, f, f * 0), f.masked_fill(i < 0, -1.0), (i > 0).all(),
            (i > 0).long().cumsum(1), te.maximum(i, i.flip(0)), f.double() * i)


def test_int64_and_bool_tensors_and_comparisons() -> None:
    rng = np.random.default_rng(0)
    batches = [(te.tensor(rng.integers(-5, 5, (4, 3))), te.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
               for _ in range(4)]
    assert calls_match(_integer_and_bool_ops, batches).replays == 3


# --------------------------------------------------------------------------- less common ops in a training step


OP_LOSSES: dict[str, Callable[[nn.Module, te.Tensor, te.Tensor], te.Tensor]] = {
    "sort_values": lambda m, x, y: F.mse_loss(m(x).sort(dim=1).values, y.sort(dim=1).values),
    "sort_descending_dim0": lambda m, x, y: (te.sort(m(x), dim=0, descending=True).values * y).sum(),
    "argsort_then_gather": lambda m, x, y: (m(x).gather(1, y.argsort(dim=1)) * y).mean(),
    "argsort_descending": lambda m, x, y: (m(x).gather(1, te.argsort(m(x), dim=1, descending=True)) * y).mean(),
    "topk_smallest": lambda m, x, y: m(x).topk(2, dim=0, largest=False).values.sum(),
    "cumsum_flip": lambda m, x, y: (te.flip(te.cumsum(m(x), dim=0), [0, 1]) * y).mean(),
    "repeat_expand": lambda m, x, y: m(x).repeat(2, 3).sum() + m(x)[:, :1].expand(6, 5).mean(),
    "index_select_split_chunk_rows": lambda m, x, y: (te.index_select(m(x), 1, te.tensor([2, 0, 2])).sum()
                                                     + sum(a.sum() * i for i, a in enumerate(m(x).split([1, 2], dim=1)))
                                                     + sum(c.max() for c in m(x).chunk(3, 0))
                                                     + sum(row.max() for row in m(x))),
    "outer_broadcast_n1_1m": lambda m, x, y: ((m(x)[:, :1] * y[:1, :]).mean()
                                             + (m(x).mean(1, keepdim=True) * m(x).mean(0, keepdim=True)).sum()),
    "keepdim_reductions": lambda m, x, y: (((m(x) - m(x).mean(1, keepdim=True)) / (m(x).std(1, keepdim=True) + 1e-3))
                                          .pow(2).mean() + m(x).var(0, keepdim=True).sum()
                                          + m(x).max(1, keepdim=True).values.sum() + m(x).amin(1, keepdim=True).sum()),
    "std_var_corrections": lambda m, x, y: m(x).std(1, unbiased=False).sum() + m(x).var(correction=0) + m(x).std(),
    "logsumexp_keepdim": lambda m, x, y: (m(x) - m(x).logsumexp(1, keepdim=True)).mean() + te.logsumexp(m(x), 0).sum(),
    "one_hot_of_argmax": lambda m, x, y: -(F.one_hot(y.argmax(1), 3).float() * m(x).log_softmax(1)).sum(1).mean(),
    "where_computed_condition": lambda m, x, y: te.where(m(x) > y, m(x) - y, (y - m(x)) * 2).mean(),
    "masked_fill_computed_mask": lambda m, x, y: m(x).masked_fill(m(x).abs() < 0.1, 0.0).pow(2).sum(),
    "index_by_computed_int_tensor": lambda m, x, y: m(x)[(y[:, 0] > 0).long()].sum(),
    "float64_inside": lambda m, x, y: F.mse_loss(m(x).double(), y.double()).float(),
    "prod_min_gelu": lambda m, x, y: m(x).prod(1).mean() + m(x).min(0).values.sum() + F.gelu(m(x)).sum(),
}


@pytest.mark.parametrize("name", list(OP_LOSSES))
def test_less_common_ops_in_a_training_step_replay(name: str) -> None:
    replayed(builder(optimizer=OPTIMIZERS["adam_amsgrad_weight_decay"]), step_with(OP_LOSSES[name]),
             regression_batches(5))


# --------------------------------------------------------------------------- a custom Module with Python control flow


class BagOfEmbeddings(nn.Module):
    """Embedding rows picked by an int64 argument, a branch on a shape, a bool mask argument."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(te.randn(10, 4) * 0.1)
        self.mix = nn.Linear(4, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, tokens: te.Tensor, padding: te.Tensor) -> te.Tensor:
        h = self.table[tokens]
        if h.shape[1] > 2:
            h = self.mix(h).relu() + h
        h = h.masked_fill(padding.unsqueeze(-1), 0.0)
        if h.ndim == 3:
            h = h.sum(1) / (~padding).sum(1, keepdim=True).clamp(min=1).float()
        return self.head(h)


def test_module_with_shape_branches_embedding_rows_and_a_bool_mask_argument() -> None:
    rng = np.random.default_rng(0)
    batches = []
    for index in range(8):
        length = 3 if index % 3 else 2  # two kinds of arguments: two recordings
        batches.append((rng.integers(0, 10, (5, length)), rng.random((5, length)) < 0.3,
                        rng.standard_normal((5, 3)).astype(np.float32)))

    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(tokens: te.Tensor, padding: te.Tensor, y: te.Tensor) -> te.Tensor:
            optimizer.zero_grad()
            loss = F.mse_loss(model(tokens, padding), y)
            loss.backward()
            optimizer.step()
            return loss
        return step
    replayed(builder(model=BagOfEmbeddings, optimizer=OPTIMIZERS["adam"]), make_step, batches, recordings=2)


# --------------------------------------------------------------------------- arguments: views, *args, **kwargs


def _writes_through_views_of_its_argument(x: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
    x[:, 0] += 1
    rows = x[1:]
    rows.mul_(2)
    return x[0], rows.T


def test_in_place_writes_through_views_of_an_argument_and_returned_views() -> None:
    captured = jit.capture(_writes_through_views_of_its_argument)
    for index, (x,) in enumerate(rng_batches((3, 4), 4)):
        mine, theirs = x.clone(), x.clone()
        with te.no_grad():
            expected = _writes_through_views_of_its_argument(theirs)
            actual = captured(mine)
        assert_equal(snapshot(actual), snapshot(expected), f"call {index}")
        assert_equal(mine.numpy(), theirs.numpy(), f"argument after call {index}")
        actual[0].add_(5)  # the returned views still look into the argument
        expected[0].add_(5)
        assert_equal(mine.numpy(), theirs.numpy(), f"argument after writing into the returned view {index}")
    assert captured.replays == 3


def _star_arguments(*xs: te.Tensor, scale: float = 1.0, **options: Any) -> te.Tensor:
    out = sum(_MODEL(x) for x in xs) * scale
    if options.get("extra") is not None:
        out = out + options["extra"]
    return out


def test_star_args_and_kwargs() -> None:
    captured = jit.capture(_star_arguments)
    calls = [((1,), {"scale": 2.0}), ((2,), {"scale": 2.0}), ((1,), {"scale": 2.0}),
             ((1,), {"scale": 2.0, "extra": True}), ((1,), {"scale": 2.0, "extra": True}),
             ((1,), {"extra": True, "scale": 2.0}), ((1,), {})]
    with te.no_grad():
        for index, (count, options) in enumerate(calls):
            xs = [te.randn(3, 4) for _ in range(count[0])]
            options = {key: te.randn(3, 3) if value is True else value for key, value in options.items()}
            assert_equal(snapshot(captured(*xs, **options)), snapshot(_star_arguments(*xs, **options)), f"call {index}")
    assert captured.replays == 2 and captured.eager_reason is None


def test_returning_an_argument_returns_that_tensor() -> None:
    def normalise_if_needed(x: te.Tensor, normalise: bool) -> te.Tensor:
        return x / x.norm() if normalise else x
    captured = jit.capture(normalise_if_needed)
    for index in range(3):
        x = te.randn(4)
        assert (captured(x, False) is x) == (normalise_if_needed(x, False) is x), f"call {index}"


def test_returned_detached_parameter_shares_the_parameters_memory() -> None:
    def run(captured: bool) -> Any:
        model = mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.05)
        step = standard_step(model, optimizer, F.mse_loss)

        def step_and_weight(x: te.Tensor, y: te.Tensor) -> tuple[te.Tensor, te.Tensor]:
            return step(x, y), model[4].bias.detach()
        run_step = jit.capture(step_and_weight) if captured else step_and_weight
        outputs = []
        for x, y in regression_batches(4):
            loss, bias = run_step(te.tensor(x), te.tensor(y))
            bias.mul_(0.5)  # e.g. a hand-written decay applied by the caller through the returned view
            outputs.append(snapshot(loss))
        return outputs, snapshot(list(model.parameters()))
    twin_runs(run)


# --------------------------------------------------------------------------- tensors from outside read without an op


def _clipping_step(how: str) -> Callable[..., Any]:
    """WGAN-style weight clipping after the update."""
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            with te.no_grad():
                for p in model.parameters():
                    if how == "data_clamp_":
                        p.data.clamp_(-0.05, 0.05)
                    elif how == "clamp_":
                        p.clamp_(-0.05, 0.05)
                    elif how == "where_greater":
                        p.copy_(te.where(p > 0.05, 0.05, p))
                    elif how == "maximum_of_a_made_tensor":
                        p.copy_(te.maximum(p, te.zeros_like(p) - 0.05))
                    elif how == "masked_fill_abs":
                        p.copy_(p.masked_fill(p.abs() > 0.05, 0.0))
            return loss
        return step
    return make_step


@pytest.mark.parametrize("how", ["maximum_of_a_made_tensor", "masked_fill_abs"])
def test_weight_clipping_through_an_op_replays(how: str) -> None:
    replayed(builder(optimizer=lambda p: optim.SGD(p, lr=0.5)), _clipping_step(how), regression_batches(6))


@pytest.mark.parametrize("how", ["data_clamp_", "clamp_", "where_greater"])
def test_wgan_weight_clipping_of_parameters(how: str) -> None:
    compare(builder(optimizer=lambda p: optim.SGD(p, lr=0.5)), _clipping_step(how), regression_batches(6))


class GatedNet(nn.Module):
    """A small learnable vector used through a comparison, an any(), an argmax or a Python number."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.body = mlp()
        self.how = how
        self.alpha = nn.Parameter(te.tensor([0.02, -0.01, 0.03]))
        self.temperature = nn.Parameter(te.tensor(0.3))

    def forward(self, x: te.Tensor) -> te.Tensor:
        out, a, t = self.body(x), self.alpha, self.temperature
        if self.how == "greater_than_zero":
            return out * (a > 0).float() + out * a
        if self.how == "any_positive":
            return out * (a > 0).any().float() + out * a
        if self.how == "argmax_one_hot":
            return out[:, :1] * F.one_hot(a.argmax(), 3).float() + out * a
        if self.how == "item":
            return out * t.item() + out * t
        if self.how == "float":
            return out * float(t) + out * t
        if self.how == "numpy":
            return out * float(t.detach().numpy()) + out * t
        if self.how == "tolist":
            return out * t.tolist() + out * t
        assert self.how == "bool_branch"
        return out * t if bool(t > 0.25) else out * t * 2


@pytest.mark.parametrize("how", ["relu", "sign", "abs_greater"])
def test_parameter_through_ops_in_forward_replays(how: str) -> None:
    class Net(GatedNet):
        def forward(self, x: te.Tensor) -> te.Tensor:
            out, a = self.body(x), self.alpha
            return {"relu": out * a.relu(), "sign": out * a.sign() + out * a,
                    "abs_greater": out * (a.abs() > 0.015).float() + out * a}[how]
    replayed(builder(model=lambda: Net(how), optimizer=lambda p: optim.SGD(p, lr=2.0)), standard_step,
             regression_batches(8))


@pytest.mark.parametrize("how", ["greater_than_zero", "any_positive", "argmax_one_hot", "item", "float", "numpy",
                                 "tolist", "bool_branch"])
def test_parameter_read_without_an_op_in_forward(how: str) -> None:
    equal_allowing_fallback(builder(model=lambda: GatedNet(how), optimizer=lambda p: optim.SGD(p, lr=2.0)),
                            standard_step, regression_batches(8))


def _static_buffer_run(loss_of: Callable[[te.Tensor, te.Tensor, te.Tensor], te.Tensor], ignored_at: int | None = None,
                       ) -> Callable[[bool], Any]:
    """CUDA-graph style: the step takes no argument and reads input buffers refilled in place."""
    def run(captured: bool) -> Any:
        model = mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        x_buffer, y_buffer, t_buffer = te.zeros(6, 4), te.zeros(6, dtype=te.int64), te.zeros(6, 3)

        def step() -> te.Tensor:
            optimizer.zero_grad()
            loss = loss_of(model(x_buffer), y_buffer, t_buffer)
            loss.backward()
            optimizer.step()
            return loss
        run_step = jit.capture(step) if captured else step
        rng = np.random.default_rng(1)
        outputs = []
        for index, (x, labels) in enumerate(class_batches(6)):
            labels = labels.copy()
            if index == ignored_at:
                labels[0] = -1
            with te.no_grad():
                x_buffer.copy_(te.tensor(x))
                y_buffer.copy_(te.tensor(labels))
                t_buffer.copy_(te.tensor(rng.standard_normal((6, 3)).astype(np.float32)))
            outputs.append(run_step())
        return (outputs, list(model.parameters())), run_step
    return run


STATIC_BUFFER_LOSSES: dict[str, Callable[[te.Tensor, te.Tensor, te.Tensor], te.Tensor]] = {
    "mse": lambda out, labels, target: F.mse_loss(out, target),
    "cross_entropy": lambda out, labels, target: F.cross_entropy(out, labels),
    "nll_loss": lambda out, labels, target: F.nll_loss(out.log_softmax(1), labels),
}


@pytest.mark.parametrize("name", list(STATIC_BUFFER_LOSSES))
def test_static_input_buffers_refilled_in_place_replay(name: str) -> None:
    _, step = twin_runs(_static_buffer_run(STATIC_BUFFER_LOSSES[name]))
    assert step.replays == 5


@pytest.mark.parametrize("name", ["one_hot", "mask", "nll_loss_ignore_index", "cross_entropy_ignore_index"])
def test_static_input_buffers_read_without_an_op(name: str) -> None:
    loss_of = {
        "one_hot": lambda out, labels, target: F.mse_loss(out, F.one_hot(labels, 3).float()),
        "mask": lambda out, labels, target: (out * (target > 0).float()).pow(2).mean(),
        "nll_loss_ignore_index": lambda out, labels, target: F.nll_loss(out.log_softmax(1), labels, ignore_index=-1),
        "cross_entropy_ignore_index": lambda out, labels, target: F.cross_entropy(out, labels, ignore_index=-1),
    }[name]
    twin_runs(_static_buffer_run(loss_of, ignored_at=4 if name.endswith("ignore_index") else None))


# --------------------------------------------------------------------------- files, viz, gradcheck inside the step


def test_save_inside_the_step_writes_the_latest_weights(tmp_path: Any) -> None:
    def run(captured: bool) -> Any:
        model = mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        path = os.fspath(tmp_path / f"checkpoint_{captured}.pt")
        step = standard_step(model, optimizer, F.mse_loss)

        def step_and_save(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            loss = step(x, y)
            te.save(model.state_dict(), path)
            return loss
        run_step = jit.capture(step_and_save) if captured else step_and_save
        for x, y in regression_batches(4):
            run_step(te.tensor(x), te.tensor(y))
        return (te.load(path),), run_step
    with pytest.warns(RuntimeWarning, match="saves a file"):  # runs eagerly, with the reason
        twin_runs(run)


def test_load_inside_the_step_reads_the_file_on_every_call(tmp_path: Any) -> None:
    path = os.fspath(tmp_path / "teacher.pt")

    def run(captured: bool) -> Any:
        teacher = mlp()
        te.save(teacher.state_dict(), path)

        def distil(x: te.Tensor) -> te.Tensor:
            return x @ te.load(path)["0.weight"].T
        run_step = jit.capture(distil) if captured else distil
        outputs = []
        for index, (x, _) in enumerate(regression_batches(4)):
            outputs.append(snapshot(run_step(te.tensor(x))))
            te.save({k: v * (index + 2) for k, v in teacher.state_dict().items()}, path)
        return outputs, run_step
    with pytest.warns(RuntimeWarning, match="loads a file"):  # runs eagerly, with the reason
        twin_runs(run)


def test_load_state_dict_inside_the_step_replays() -> None:
    """Reptile-style reset to a snapshot at the start of every call (copy_ is an op: recorded)."""
    def build() -> dict[str, Any]:
        net = mlp()
        return {"model": net, "optimizer": optim.SGD(net.parameters(), lr=0.1),
                "start": {k: v.clone() for k, v in net.state_dict().items()}}

    def make_step(model: nn.Module, optimizer: optim.Optimizer, start: dict[str, te.Tensor]) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            model.load_state_dict(start)
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return step
    replayed(build, make_step, regression_batches(4))


def _graph_text_inside(x: te.Tensor) -> tuple[te.Tensor, str]:
    out = _MODEL(x).sum()
    return out, te.viz.graph_text(out)


def test_viz_graph_text_inside_the_step_replays() -> None:
    """The graph's text depends on shapes only: returned as a constant string."""
    assert calls_match(_graph_text_inside, _BATCHES, grad=True).replays == 3


def test_viz_trace_backward_and_gradcheck_inside_the_step_fall_back() -> None:
    import io

    def traced(x: te.Tensor) -> te.Tensor:
        out = _MODEL(x).sum()
        te.viz.trace_backward(out, file=io.StringIO())
        return out

    def checked(x: te.Tensor) -> tuple[te.Tensor, bool]:
        return x * 2, te.autograd.gradcheck(lambda a: (a * a).sum(), (x.double().requires_grad_(),))
    for function, match in ((traced, "observe_backward"), (checked, "reads a tensor's value")):
        with pytest.warns(RuntimeWarning, match=match):
            captured = calls_match(function, _BATCHES, grad=True)
        assert captured.replays == 0 and captured.eager_reason is not None


def test_numpy_global_random_noise_inside_the_step() -> None:
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            optimizer.zero_grad()
            noise = te.from_numpy(np.random.standard_normal(x.shape).astype(np.float32))
            loss = F.mse_loss(model(x + 0.1 * noise), y)
            loss.backward()
            optimizer.step()
            return loss
        return step

    def run(captured: bool) -> Any:
        np.random.seed(0)
        parts = builder()()
        run_step = make_step(**parts)
        run_step = jit.capture(run_step) if captured else run_step
        return [snapshot(run_step(te.tensor(x), te.tensor(y))) for x, y in regression_batches(4)], run_step
    with pytest.warns(RuntimeWarning, match="global random numbers"):  # runs eagerly, with the reason
        twin_runs(run)


# --------------------------------------------------------------------------- optimizers


def _two_optimizers() -> dict[str, Any]:
    net = mlp()
    first = optim.Adam([{"params": net[0].parameters(), "lr": 0.01},
                        {"params": net[2].parameters(), "lr": 0.003, "amsgrad": True, "weight_decay": 0.1}])
    second = optim.SGD(net[4].parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return {"model": net, "optimizer": first, "second": second}


def test_two_optimizers_parameter_groups_and_a_double_step_with_state_dicts() -> None:
    def make_step(model: nn.Module, optimizer: optim.Optimizer, second: optim.Optimizer) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            optimizer.zero_grad()
            second.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            te.nn.utils.clip_grad_value_(model.parameters(), 0.05)
            optimizer.step()
            second.step()
            second.step()  # twice: momentum and the update run twice per call, in eager mode too
            return loss
        return step
    with no_capture_warning():
        eager, captured = compare(_two_optimizers, make_step, regression_batches(6))
    assert captured.step.replays == 5
    for name in ("optimizer", "second"):
        assert_equal(snapshot(captured.extra[name].state_dict()), snapshot(eager.extra[name].state_dict()), name)
    assert float(captured.extra["optimizer"].state_dict()["state"][0]["step"]) == 6


def test_optimizer_state_dict_read_and_loaded_back_between_calls() -> None:
    saved: dict[str, Any] = {}

    def between(index: int, parts: dict[str, Any]) -> None:
        if index == 3:
            saved["state"] = snapshot(parts["optimizer"].state_dict())
        if index == 5:
            state = saved["state"]
            parts["optimizer"].load_state_dict(
                {"param_groups": state["param_groups"],
                 "state": {k: {n: te.tensor(v) for n, v in s.items()} for k, s in state["state"].items()}})
    replayed(builder(optimizer=OPTIMIZERS["adam_amsgrad_weight_decay"]), standard_step, regression_batches(8), between)


def test_micro_batches_with_an_update_every_two_chunks() -> None:
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
            losses = []
            for index, (xs, ys) in enumerate(zip(x.chunk(4), y.chunk(4))):
                loss = F.mse_loss(model(xs), ys) / 2
                loss.backward()
                losses.append(loss.detach())
                if index % 2 == 1:
                    te.nn.utils.clip_grad_value_(model.parameters(), 0.1)
                    optimizer.step()
                    optimizer.zero_grad()
            return te.stack(losses)
        return step
    replayed(builder(optimizer=OPTIMIZERS["adam_amsgrad_weight_decay"]), make_step, regression_batches(5, batch=8))


def test_freezing_with_the_requires_grad_attribute_replays() -> None:
    def run(captured: bool) -> Any:
        generator = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
        critic = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        g_opt = optim.Adam(generator.parameters(), lr=1e-3)

        def set_requires_grad(flag: bool) -> None:
            for p in critic.parameters():
                p.requires_grad = flag

        def g_step(z: te.Tensor) -> te.Tensor:
            set_requires_grad(False)
            g_opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(critic(generator(z)), te.ones(z.shape[0], 1))
            loss.backward()
            g_opt.step()
            set_requires_grad(True)
            return loss
        run_step = jit.capture(g_step) if captured else g_step
        rng = np.random.default_rng(0)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            outputs = [snapshot(run_step(te.tensor(rng.standard_normal((5, 2)).astype(np.float32))))
                       for _ in range(10)]
        return (outputs, snapshot(list(generator.parameters()))), run_step
    _, step = twin_runs(run)
    assert step.replays == 9


def test_returning_model_state_dict_falls_back() -> None:
    """Needless fallback (minor): state_dict() is an OrderedDict, and only `type(value) is dict` is accepted."""
    def make_step(model: nn.Module, optimizer: optim.Optimizer, **_: Any) -> Callable[..., Any]:
        step = standard_step(model, optimizer, F.mse_loss)
        return lambda x, y: (step(x, y), model.state_dict())
    fallback_with_warning(builder(), make_step, regression_batches(3), "returns a OrderedDict")


# --------------------------------------------------------------------------- exceptions in replayed calls


def _raise_on_nan(captured: bool) -> Any:
    model = mlp()
    optimizer = optim.Adam(model.parameters(), lr=0.01)

    def step(x: te.Tensor, y: te.Tensor) -> te.Tensor:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        if bool(te.isnan(loss)):  # a check in the program: a NaN batch stops the replay and records, which raises
            raise FloatingPointError("loss is nan")
        loss.backward()
        optimizer.step()
        return loss
    run_step = jit.capture(step) if captured else step
    outputs = []
    for index, (x, y) in enumerate(regression_batches(8)):
        if index in (3, 5):
            x = x.copy()
            x[0, 0] = np.nan
        try:
            outputs.append(snapshot(run_step(te.tensor(x), te.tensor(y))))
        except FloatingPointError as error:
            outputs.append(str(error))
    return (outputs, snapshot(list(model.parameters())), [p.grad is None for p in model.parameters()],
            snapshot(optimizer.state_dict()["state"])), run_step


def test_user_code_raising_on_some_calls_leaves_eager_modes_state() -> None:
    _, step = twin_runs(_raise_on_nan)
    assert (step.recordings, step.replays) == (1, 5)


class StoppableSGD(optim.SGD):
    """An optimizer with its own step (marked as an effect automatically) that may raise."""

    stop = False

    def step(self, closure: Any = None) -> Any:
        if self.stop:
            raise RuntimeError("optimizer stopped")
        return super().step(closure)


def test_an_effect_raising_in_a_replayed_call_leaves_eager_modes_state() -> None:
    def run(captured: bool) -> Any:
        model = mlp()
        optimizer = StoppableSGD(model.parameters(), lr=0.1, momentum=0.9)
        run_step = standard_step(model, optimizer, F.mse_loss)
        run_step = jit.capture(run_step) if captured else run_step
        outputs = []
        for index, (x, y) in enumerate(regression_batches(6)):
            optimizer.stop = index == 3
            try:
                outputs.append(snapshot(run_step(te.tensor(x), te.tensor(y))))
            except RuntimeError as error:
                outputs.append(str(error))
        return (outputs, snapshot(list(model.parameters())), snapshot([p.grad for p in model.parameters()]),
                snapshot(optimizer.state_dict()["state"])), run_step
    _, step = twin_runs(run)
    assert step.replays == 4


def test_bad_index_after_the_update_raises_the_same_error_type_and_state() -> None:
    """After the update the replay cannot rerun eagerly, so NumPy's own IndexError comes out (eager mode's
    message names the op and shape; the type and the state left behind are the same)."""
    def run(captured: bool) -> Any:
        model = mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        step = standard_step(model, optimizer, F.mse_loss)

        def step_and_pick(x: te.Tensor, y: te.Tensor, index: te.Tensor) -> te.Tensor:
            step(x, y)
            return model(x)[index]
        run_step = jit.capture(step_and_pick) if captured else step_and_pick
        outputs = []
        for count, (x, y) in enumerate(regression_batches(4)):
            try:
                outputs.append(snapshot(run_step(te.tensor(x), te.tensor(y), te.tensor([0, 9 if count == 3 else 1]))))
            except IndexError as error:
                outputs.append(type(error).__name__)
        return (outputs, snapshot(list(model.parameters()))), run_step
    twin_runs(run)


# --------------------------------------------------------------------------- globals


def test_global_sharing_an_attribute_name_does_not_force_re_recording() -> None:
    namespace: dict[str, Any] = {"te": te, "F": F, "jit": jit, "optim": optim, "mlp": mlp,
                                 "regression_batches": regression_batches}
    te.manual_seed(SEED)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        exec(  # noqa: S102 - a script's module globals
            "step = -1\n"
            "model = mlp()\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.05)\n"
            "@jit.capture\n"
            "def train_step(x, y):\n"
            "    optimizer.zero_grad()\n"
            "    loss = F.mse_loss(model(x), y)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss\n"
            "for step, (x, y) in enumerate(regression_batches(10)):\n"
            "    train_step(te.tensor(x), te.tensor(y))\n", namespace)
    assert namespace["train_step"].replays == 9
