"""``save`` and ``load``: state dicts in ``.npz`` files, with no pickle anywhere.

PyTorch's ``torch.save`` pickles, and unpickling a file can run any code its author chose.
Here a file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) holding

- ``tensor_0``, ``tensor_1``, ...: the tensors' values, plain arrays of the four dtypes;
- ``__structure__``: UTF-8 JSON describing the object around them (dicts, lists, tuples,
  numbers, strings, None), with ``{"tensor": 3}`` where ``tensor_3`` goes, and a SHA-256
  digest of every array's bytes;
- ``__format__``: the text ``tinygrad_edu.save/1``, so a foreign file is recognised.

``load`` reads arrays with ``allow_pickle=False`` and parses JSON, neither of which can run
code; it then checks every digest, dtype and reference, so a truncated, foreign or
tampered file raises a clear ``LoadError`` instead of loading wrong values.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from typing import Any

from tinygrad_edu import backend, tracing
from tinygrad_edu.tensor import Tensor

FORMAT = "tinygrad_edu.save/1"
_ALLOWED_DTYPES = {dtype.numpy_dtype: dtype for dtype in backend.ALL_DTYPES}


class LoadError(RuntimeError):
    """Raised by ``load`` for a file that is not a sound ``tinygrad_edu.save`` file."""


def _digest(array: Any) -> str:
    return hashlib.sha256(backend.to_host(array).tobytes()).hexdigest()


def _encode(value: Any, arrays: dict[str, Any], path: str) -> Any:
    """The JSON description of ``value``; tensors are moved into ``arrays``."""
    if isinstance(value, Tensor):
        name = f"tensor_{len(arrays)}"
        arrays[name] = backend.to_host(value.array)  # files always hold host arrays
        entry = {"tensor": len(arrays) - 1, "sha256": _digest(arrays[name])}
        if value.device.type != "cpu":
            entry["device"] = str(value.device)  # where load() puts it back, unless map_location says otherwise
        return entry
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} at {path}")
            items.append([key, _encode(item, arrays, f"{path}[{key!r}]")])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays, f"{path}[{index}]") for index, item in enumerate(value)]}
    raise TypeError(
        f"save: cannot store a {type(value).__name__} at {path}; only tensors, numbers, strings, None and "
        f"dicts/lists/tuples of them (state dicts) can be saved"
    )


def save(obj: Any, f: Any) -> None:
    """Write ``obj`` (a state dict: nested dicts/lists/tuples of tensors, numbers, strings)
    to ``f``, a path (used exactly as given, e.g. ``"model.pt"``) or a binary file."""
    if tracing.recording_now() is not None:
        tracing.recording_now().refuse("the step saves a file, which a replay would not do again")
    arrays: dict[str, Any] = {}
    structure = _encode(obj, arrays, "obj")
    arrays["__structure__"] = backend.bytes_to_array(json.dumps(structure).encode("utf-8"))
    arrays["__format__"] = backend.bytes_to_array(FORMAT.encode("utf-8"))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            backend.write_npz(file, arrays)
    else:
        backend.write_npz(f, arrays)


def _text(arrays: dict[str, Any], name: str, source: str) -> str:
    if name not in arrays:
        raise LoadError(f"load: {source} is not a tinygrad_edu.save file (it has no {name} entry)")
    try:
        return backend.array_to_bytes(arrays[name]).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise LoadError(f"load: {source} is damaged (its {name} entry is not text)") from None


def _decode(node: Any, arrays: dict[str, Any], source: str, used: set[str], map_location: Any) -> Any:
    if not isinstance(node, dict) or len(node) not in (1, 2, 3):
        raise LoadError(f"load: {source} is damaged (unexpected structure entry {str(node)[:80]!r})")
    if "tensor" in node:
        name = f"tensor_{node['tensor']}"
        if name not in arrays:
            raise LoadError(f"load: {source} is damaged (it refers to {name}, which is missing)")
        array = arrays[name]
        if array.dtype not in _ALLOWED_DTYPES:
            raise LoadError(f"load: {source} is damaged ({name} has dtype {array.dtype}, not a tensor dtype)")
        if _digest(array) != node.get("sha256"):
            raise LoadError(f"load: {source} has been modified or damaged ({name} does not match its checksum)")
        used.add(name)
        return _placed(Tensor._wrap(array), str(node.get("device", "cpu")), map_location)
    kind, content = next(iter(node.items()))
    if kind == "value" and (content is None or isinstance(content, (bool, int, float, str))):
        return content
    if kind in ("list", "tuple") and isinstance(content, list):
        items = [_decode(item, arrays, source, used, map_location) for item in content]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(content, list):
        result = {}
        for pair in content:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
                raise LoadError(f"load: {source} is damaged (a dict entry is malformed)")
            result[pair[0]] = _decode(pair[1], arrays, source, used, map_location)
        return result
    raise LoadError(f"load: {source} is damaged (unknown structure entry {kind!r})")


def _placed(tensor: Tensor, saved_device: str, map_location: Any) -> Tensor:
    """A loaded (host) tensor on the device that ``map_location`` and the file ask for."""
    if callable(map_location):
        placed = map_location(tensor, saved_device)
        return placed if isinstance(placed, Tensor) else tensor
    if isinstance(map_location, dict):
        target = map_location.get(saved_device, saved_device)
    else:
        target = saved_device if map_location is None else map_location
    try:
        where = backend.check_available(target)
    except RuntimeError as error:
        raise RuntimeError(f"load: a tensor was saved from {saved_device!r}, but {error}; on a machine without "
                           f"that device, pass map_location='cpu'") from None
    return Tensor._wrap(backend.to_device(tensor.array, where))


def _explain_refusal(numpy_message: str, source: str) -> str:
    """NumPy's ``ValueError`` from ``read_npz``, told the way a ``load`` user needs it."""
    if "Object arrays" in numpy_message:
        return f"load: {source} holds Python objects, which cannot be loaded safely (they would need unpickling)"
    if "single .npy" in numpy_message:
        return f"load: {source} holds a single .npy array, not a tinygrad_edu.save archive"
    # NumPy calls anything that is neither a zip nor a .npy file "pickled data".
    return (
        f"load: {source} is not a tinygrad_edu.save file (not an .npz archive of plain arrays: a pickle such as "
        f"torch.save writes, which is never unpickled here, or a truncated or damaged file)"
    )


def load(f: Any, map_location: Any = None, weights_only: bool = True, **ignored: Any) -> Any:
    """Read what ``save`` wrote. Never unpickles and never runs code from the file.

    Tensors go back to the device they were saved from, unless ``map_location`` says
    otherwise: a device (``"cpu"``, ``"cuda:0"``) for all of them, a dict from saved device
    to new one (``{"cuda:0": "cpu"}``), or a function ``(tensor, saved_device) -> tensor``.
    ``weights_only`` is accepted for PyTorch scripts and is always true in effect.
    """
    if tracing.recording_now() is not None:
        tracing.recording_now().refuse("the step loads a file, which a replay would not read again")
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        backend.check_available(map_location)
    source = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file"
    try:
        arrays = backend.read_npz(f)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise LoadError(f"load: {source} is not a tinygrad_edu.save file, or it is truncated or damaged ({error})") \
            from None
    except ValueError as error:
        raise LoadError(_explain_refusal(str(error), source)) from None
    if _text(arrays, "__format__", source) != FORMAT:
        raise LoadError(f"load: {source} is in an unknown format (expected {FORMAT})")
    try:
        structure = json.loads(_text(arrays, "__structure__", source))
    except json.JSONDecodeError:
        raise LoadError(f"load: {source} is damaged (its structure is not valid JSON)") from None
    used: set[str] = set()
    result = _decode(structure, arrays, source, used, map_location)
    extra = sorted(set(arrays) - used - {"__structure__", "__format__"})
    if extra:
        raise LoadError(f"load: {source} has entries that its structure does not mention: {extra[:5]}")
    return result
