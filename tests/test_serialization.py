"""``save``/``load``: exact round trips of state dicts, resuming training bit for bit, and a
clear ``LoadError`` (never unpickling, never running code) for every kind of bad file.
"""
from __future__ import annotations

import io
import json
import pathlib
import pickle
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu import nn, optim
from tinygrad_edu.serialization import LoadError


def assert_same(loaded: Any, original: Any, path: str = "obj") -> None:
    """Equal values, equal types (tuples stay tuples), equal tensor dtypes and shapes, same key order."""
    assert type(loaded) is type(original), f"{path}: {type(loaded).__name__} vs {type(original).__name__}"
    if isinstance(original, te.Tensor):
        assert loaded.dtype == original.dtype and tuple(loaded.shape) == tuple(original.shape), path
        np.testing.assert_array_equal(loaded.numpy(), original.detach().numpy(), err_msg=path)
        assert not loaded.requires_grad
    elif isinstance(original, dict):
        assert list(loaded) == list(original), path
        for key in original:
            assert_same(loaded[key], original[key], f"{path}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original), path
        for index, (item, expected) in enumerate(zip(loaded, original)):
            assert_same(item, expected, f"{path}[{index}]")
    else:
        assert loaded == original, path


def nested_state() -> dict[Any, Any]:
    return {
        "weights": te.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)),
        "float64": te.tensor([1e-300, -2.5, np.pi], dtype=te.float64),
        "int64": te.tensor([-(2**62), 0, 2**62]),
        "bool": te.tensor([True, False, True]),
        "zero_d": te.tensor(2.5),
        "zero_d_int": te.tensor(7),
        "empty": te.zeros(0, 3),
        "empty_int": te.tensor(np.zeros((2, 0), dtype=np.int64)),
        "requires_grad": te.tensor([1.0, 2.0], requires_grad=True),
        "state": {0: {"step": te.tensor(3.0), "momentum_buffer": te.ones(2)}, 5: {}, -1: None},
        "numbers": [0, -3, 2**70, 1.5, -0.0, 1e308, float("inf"), True, False, None],
        "strings": ["", "plain", "h\u00e9llo \u2713", "quote\" and \\ backslash"],
        "tuple": (0.9, 0.999, (te.ones(1), "x")),
        "nested": [[{"a": ({"b": []},)}], {}, ()],
    }


def test_nested_round_trip_is_exact(tmp_path: pathlib.Path) -> None:
    original = nested_state()
    te.save(original, tmp_path / "state.npz")
    assert_same(te.load(tmp_path / "state.npz"), original)


@pytest.mark.parametrize("value", [te.tensor([1.0, 2.0]), 3, "text", None, [], {}, (1,), {1: 2}])
def test_top_level_values_round_trip(value: Any) -> None:
    buffer = io.BytesIO()
    te.save(value, buffer)
    buffer.seek(0)
    assert_same(te.load(buffer), value)


@pytest.mark.parametrize("name", ["model.pt", "checkpoint", "weights.pth.tar", "state.npz"])
def test_path_is_used_exactly_as_given(tmp_path: pathlib.Path, name: str) -> None:
    te.save({"w": te.ones(2)}, tmp_path / name)
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]
    te.save({"w": te.zeros(2)}, str(tmp_path / name))  # a str path too, overwriting
    np.testing.assert_array_equal(te.load(str(tmp_path / name))["w"].numpy(), [0.0, 0.0])


def test_file_objects(tmp_path: pathlib.Path) -> None:
    buffer = io.BytesIO()
    te.save({"w": te.arange(3)}, buffer)
    loaded = te.load(io.BytesIO(buffer.getvalue()))
    assert loaded["w"].tolist() == [0, 1, 2]
    with open(tmp_path / "f.bin", "wb") as file:
        te.save([te.ones(1)], file)
    with open(tmp_path / "f.bin", "rb") as file:
        assert te.load(file, map_location="cpu", weights_only=True)[0].tolist() == [1.0]


# --------------------------------------------------------------------------- resuming training

def build_model(seed: int) -> nn.Module:
    te.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def train_step(model: nn.Module, opt: optim.Optimizer, inputs: te.Tensor, targets: te.Tensor) -> float:
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    opt.step()
    return loss.item()


def parameters(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("make_opt", [
    lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    lambda params: optim.Adam(params, lr=0.01, amsgrad=True),
    lambda params: optim.AdamW(params, lr=0.01, weight_decay=0.1),
    lambda params: optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
], ids=["SGD-momentum", "Adam", "AdamW", "RMSprop"])
def test_round_trip_resumes_training_exactly(tmp_path: pathlib.Path, make_opt: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    inputs, targets = te.tensor(rng.standard_normal((16, 4))), te.tensor(rng.standard_normal((16, 1)))
    inputs, targets = inputs.float(), targets.float()
    model = build_model(0)
    opt = make_opt(model.parameters())
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        train_step(model, opt, inputs, targets)
        scheduler.step()
    te.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": 3}, tmp_path / "checkpoint.pt")

    resumed = build_model(1)  # different initial weights: the checkpoint must overwrite them all
    resumed_opt = make_opt(resumed.parameters())
    resumed_scheduler = optim.lr_scheduler.StepLR(resumed_opt, step_size=2, gamma=0.5)
    checkpoint = te.load(tmp_path / "checkpoint.pt")
    assert checkpoint["epoch"] == 3
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    for _ in range(3):
        expected_loss = train_step(model, opt, inputs, targets)
        scheduler.step()
        assert train_step(resumed, resumed_opt, inputs, targets) == expected_loss  # bit-identical
        resumed_scheduler.step()
        for mine, reference in zip(parameters(resumed), parameters(model)):
            np.testing.assert_array_equal(mine, reference)
        assert resumed_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


# --------------------------------------------------------------------------- bad files

def saved_bytes() -> bytes:
    buffer = io.BytesIO()
    te.save({"weight": te.tensor([[1.0, 2.0], [3.0, 4.0]]), "bias": te.tensor([0.5, -0.5]), "step": 3}, buffer)
    return buffer.getvalue()


def rewritten(change: Callable[[dict[str, np.ndarray]], None]) -> bytes:
    """A saved file with its arrays changed by ``change`` and zipped again: every CRC is valid."""
    with np.load(io.BytesIO(saved_bytes())) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def edit_structure(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, np.ndarray]], None]:
    def change(arrays: dict[str, np.ndarray]) -> None:
        structure = json.loads(arrays["__structure__"].tobytes())
        edit(structure)
        arrays["__structure__"] = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)
    return change


def load_bytes(tmp_path: pathlib.Path, data: bytes) -> Any:
    path = tmp_path / "bad.pt"
    path.write_bytes(data)
    return te.load(path)


def test_missing_path_raises_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        te.load(tmp_path / "does-not-exist.pt")


def assert_clear(error: pytest.ExceptionInfo[LoadError]) -> None:
    """No advice to load the file "unsafely" with NumPy's ``allow_pickle=`` or ``pickle.load()``
    (a keyword ``load`` does not have, and the one thing to avoid with a file of unknown origin)."""
    message = str(error.value)
    assert "unsafely" not in message and "pickle.load" not in message, message


@pytest.mark.parametrize("cut", [1, 4, 10, 100, 400, -100, -22, -1])
def test_truncated_file(tmp_path: pathlib.Path, cut: int) -> None:
    data = saved_bytes()
    with pytest.raises(LoadError, match=r"bad\.pt.*truncated") as error:
        load_bytes(tmp_path, data[:cut])
    assert_clear(error)


def foreign_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, weight=np.ones((2, 2)), bias=np.zeros(2))
    return buffer.getvalue()


def single_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(5.0))
    return buffer.getvalue()


BAD_FILES = [
    pytest.param(lambda: b"", "truncated", id="empty"),
    pytest.param(lambda: np.random.default_rng(0).bytes(1000), "not a tinygrad_edu.save file", id="random"),
    pytest.param(lambda: b"weight,bias\n1.0,2.0\n", "not a tinygrad_edu.save file", id="text"),
    pytest.param(foreign_npz, "not a tinygrad_edu.save file", id="foreign-npz"),
    pytest.param(single_npy, "single .npy", id="single-npy"),
    pytest.param(lambda: rewritten(lambda a: a.update(__format__=np.frombuffer(b"other/1", np.uint8))),
                 "unknown format", id="other-format"),
    pytest.param(lambda: rewritten(lambda a: a.pop("__structure__")), "no __structure__", id="no-structure"),
    pytest.param(lambda: rewritten(lambda a: a.update(__structure__=np.frombuffer(b"{not json", np.uint8))),
                 "not valid JSON", id="bad-json"),
    pytest.param(lambda: rewritten(lambda a: a.update(__structure__=np.arange(3.0))), "not text", id="structure-floats"),
    pytest.param(lambda: rewritten(lambda a: a["tensor_0"].__setitem__((0, 0), 1.5)), "checksum", id="tampered"),
    pytest.param(lambda: rewritten(lambda a: a.update(tensor_1=a["tensor_1"][:1])), "checksum", id="tampered-shape"),
    pytest.param(lambda: rewritten(lambda a: a.pop("tensor_1")), "tensor_1, which is missing", id="missing-tensor"),
    pytest.param(lambda: rewritten(edit_structure(lambda s: s["dict"][0][1].update(tensor=9))),
                 "tensor_9, which is missing", id="reference-to-nothing"),
    pytest.param(lambda: rewritten(edit_structure(lambda s: s["dict"].append(["x", {"code": "rm -rf"}]))),
                 "unknown structure entry", id="unknown-entry"),
    pytest.param(lambda: rewritten(lambda a: a.update(tensor_0=a["tensor_0"].astype(np.int32))),
                 "not a tensor dtype", id="int32-tensor"),
    pytest.param(lambda: rewritten(lambda a: a.update(extra=np.zeros(2))), "does not mention", id="extra-entry"),
]


@pytest.mark.parametrize("make, message", BAD_FILES)
def test_bad_file_raises_a_clear_load_error(tmp_path: pathlib.Path, make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(LoadError, match=message) as error:
        load_bytes(tmp_path, make())
    assert_clear(error)


class RunsCode:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


def test_a_pickle_file_is_refused_without_running_it(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": RunsCode(marker)})
    pickle.loads(payload)  # the payload really runs code when unpickled...
    assert marker.exists()
    marker.unlink()
    with pytest.raises(LoadError, match="(?i)pickle") as error:
        load_bytes(tmp_path, payload)
    assert not marker.exists()  # ...but load never unpickles it
    assert_clear(error)


def test_an_object_array_is_refused_without_running_it(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "pwned"
    malicious = np.empty(1, dtype=object)
    malicious[0] = RunsCode(marker)
    data = rewritten(lambda arrays: arrays.update(tensor_0=malicious))
    with pytest.raises(LoadError, match="cannot be loaded safely") as error:
        load_bytes(tmp_path, data)
    assert not marker.exists()
    assert_clear(error)


def test_errors_from_file_objects_name_the_file() -> None:
    with pytest.raises(LoadError, match="the file"):
        te.load(io.BytesIO(foreign_npz()))


# --------------------------------------------------------------------------- what save refuses

@pytest.mark.parametrize("value, type_name", [
    (nn.Linear(2, 2), "Linear"),
    ({"model": nn.Sequential(nn.Linear(2, 2))}, "Sequential"),
    ({1, 2}, "set"),
    (len, "builtin_function_or_method"),
    ({"fn": lambda: None}, "function"),
    ([np.ones(2)], "ndarray"),
    ({"x": b"bytes"}, "bytes"),
    ({(1, 2): te.ones(1)}, "tuple"),
], ids=["module", "nested-module", "set", "builtin", "function", "ndarray", "bytes", "tuple-key"])
def test_save_refuses_unsupported_objects(value: Any, type_name: str) -> None:
    buffer = io.BytesIO()
    with pytest.raises(TypeError, match=type_name):
        te.save(value, buffer)


def test_save_error_names_where_the_bad_value_is() -> None:
    with pytest.raises(TypeError, match=r"obj\['layers'\]\[1\]"):
        te.save({"layers": [te.ones(1), {3}]}, io.BytesIO())
