"""descend.save / descend.load: tensors and plain nested values in one safetensors file, never pickle.

A file holds every tensor under a name (a flat state dict keeps its keys, so `safetensors.torch.load_file`
reads it straight into a PyTorch model; nested values get dotted paths) and, in the header's `__metadata__`,
a JSON skeleton of the saved structure in which each tensor is a reference {"__tensor__": name}. Python ints,
floats (NaN and infinities included), strings, bools and None are stored in the skeleton itself.

Pickle is not used because loading a pickle runs whatever code the file names; so whole Modules and arbitrary
objects cannot be saved: save `model.state_dict()` and load it into a newly built model instead.
One tensor saved under two keys (tied weights) is stored under both (so other safetensors readers see every key)
and loads as one tensor, as PyTorch's; distinct tensors that are views of one another come back unshared.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, io
from descend._tensor import Tensor

FORMAT = "descend-save-1"
_CHECKPOINT_FORMAT = "descend-checkpoint-1"  # the Trainer's checkpoints (same skeleton tags) load too
_TAGS = ("__tensor__", "__ndarray__", "__scalar__", "__float__", "__tuple__", "__items__", "__ordered__")

# Tensor subclasses that keep their class through save/load, registered by the layer that defines them
# (descend.nn registers Parameter), so this module need not import the layers above it.
_KINDS: dict[str, type] = {}


def register_tensor_kind(cls: type) -> None:
    """Save instances of the Tensor subclass `cls` with its name, and load them back as `cls(tensor,
    requires_grad)` (as PyTorch loads a saved nn.Parameter as a Parameter)."""
    _KINDS[cls.__name__] = cls


_WHY = ("descend.save writes only tensors and plain values (dicts, lists, tuples, int, float, str, bool, "
        "None), in safetensors, and never pickles, because loading a pickle runs arbitrary code")


def _unsupported(obj: Any, where: str) -> TypeError:
    """The error for a value descend.save cannot store, saying why and what to save instead."""
    what = type(obj).__name__
    if callable(getattr(obj, "state_dict", None)):
        name = "model" if hasattr(obj, "parameters") else "optimizer" if hasattr(obj, "param_groups") else "obj"
        advice = (f"save its state instead: descend.save({name}.state_dict(), f), then rebuild the {what} and "
                  f"call {name}.load_state_dict(descend.load(f))")
    else:
        advice = "convert it to tensors and plain values first"
    return TypeError(f"descend.save: cannot save a {what} at {where or 'the top level'}: {_WHY}; {advice}")


def _pack(obj: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """(JSON skeleton, {tensor name: host array}) for a nested value."""
    tensors: dict[str, np.ndarray] = {}
    seen: dict[int, tuple] = {}  # id(tensor) -> (tensor, its first reference): a tensor saved twice is tied on load

    def name_for(path: str) -> str:
        name, n = path or "tensor", 1
        # e.g. {"a.b": x, "a": {"b": y}}: the skeleton keeps them apart; "__metadata__" is the header's.
        while name in tensors or name == "__metadata__":
            name, n = f"{path}#{n}", n + 1
        return name

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, Tensor):
            name = name_for(path)
            tensors[name] = _host(value._data)  # under every key, so safetensors readers see each key
            ref: dict = {"__tensor__": name}
            if value.requires_grad:
                ref["requires_grad"] = True
            if type(value) is not Tensor and _KINDS.get(type(value).__name__) is type(value):
                ref["kind"] = type(value).__name__
            if id(value) in seen:  # the same tensor under two keys (tied weights): loads as one tensor again
                ref["same_as"] = seen[id(value)][1]["__tensor__"]
            else:
                seen[id(value)] = (value, ref)
            return ref
        if isinstance(value, np.ndarray) or backend.is_device_array(value):
            name = name_for(path)
            tensors[name] = _host(value)
            return {"__ndarray__": name}
        if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
            name = name_for(path)
            tensors[name] = _host(np.asarray(value))
            return {"__scalar__": name}
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}  # JSON has no nan/inf
        if isinstance(value, dict) and type(value) in (dict, OrderedDict):
            if all(isinstance(k, str) for k in value) and not any(k in _TAGS for k in value) \
                    and type(value) is dict:
                return {k: walk(v, _join(path, k)) for k, v in value.items()}
            items = [[walk(k, _join(path, f"key{i}")), walk(v, _join(path, k))] for i, (k, v) in
                     enumerate(value.items())]
            return {"__ordered__" if type(value) is OrderedDict else "__items__": items}
        if type(value) is tuple:
            return {"__tuple__": [walk(v, _join(path, i)) for i, v in enumerate(value)]}
        if type(value) is list:
            return [walk(v, _join(path, i)) for i, v in enumerate(value)]
        raise _unsupported(value, f"'{path}'" if path else "")

    return walk(obj, ""), tensors


def _host(a: Any) -> np.ndarray:
    # np.array(order="C") keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d).
    return np.array(backend.to_numpy(a), order="C")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _unpack(skeleton: Any, arrays: dict[str, np.ndarray], place: Any, made: dict | None = None) -> Any:
    """The nested value back from a skeleton, tensors made by `place(array, name)`; a name referenced twice
    (one tensor saved under two keys) gives the same tensor both times."""
    made = {} if made is None else made
    if isinstance(skeleton, list):
        return [_unpack(v, arrays, place, made) for v in skeleton]
    if not isinstance(skeleton, dict):
        return skeleton
    if "__tensor__" in skeleton:
        name = skeleton["__tensor__"]
        first = skeleton.get("same_as")
        if isinstance(first, str) and first in made:
            return made[first]
        if name not in made:
            t = place(arrays[name])
            kind = _KINDS.get(skeleton.get("kind")) if isinstance(skeleton.get("kind"), str) else None
            if kind is not None:  # e.g. a Parameter: shares the loaded tensor's memory
                t = kind(t, requires_grad=bool(skeleton.get("requires_grad")))
            elif skeleton.get("requires_grad"):
                t.requires_grad_(True)
            made[name] = t
        return made[name]
    if "__ndarray__" in skeleton:
        return np.array(arrays[skeleton["__ndarray__"]])
    if "__scalar__" in skeleton:
        return arrays[skeleton["__scalar__"]][()]
    if "__float__" in skeleton:
        return float(skeleton["__float__"])
    if "__tuple__" in skeleton:
        return tuple(_unpack(v, arrays, place, made) for v in skeleton["__tuple__"])
    if "__items__" in skeleton or "__ordered__" in skeleton:
        kind = dict if "__items__" in skeleton else OrderedDict
        pairs = skeleton.get("__items__", skeleton.get("__ordered__"))
        return kind((_hashable(_unpack(k, arrays, place, made)), _unpack(v, arrays, place, made))
                    for k, v in pairs)
    return {k: _unpack(v, arrays, place, made) for k, v in skeleton.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def save(obj: Any, f: Any, pickle_module: Any = None, pickle_protocol: Any = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save tensors and plain nested values (a state dict, a checkpoint dict) to a path or binary file.

    >>> import descend, io
    >>> buffer = io.BytesIO()
    >>> descend.save({"w": descend.ones(2), "epoch": 3}, buffer)
    >>> _ = buffer.seek(0)
    >>> descend.load(buffer)["epoch"]
    3
    """
    if pickle_module is not None:
        raise ValueError(f"descend.save: pickle_module is not supported: {_WHY}")
    skeleton, tensors = _pack(obj)
    metadata = {"format": FORMAT, "skeleton": json.dumps(skeleton, allow_nan=False)}
    if isinstance(f, (str, os.PathLike)):
        io.save_safetensors(f, tensors, metadata=metadata)
        return
    if not hasattr(f, "write"):
        raise TypeError(f"descend.save: f must be a path or a binary file object, got {type(f).__name__}")
    with tempfile.TemporaryDirectory(prefix="descend-save-") as tmp:
        path = Path(tmp) / "obj.safetensors"
        io.save_safetensors(path, tensors, metadata=metadata)
        f.write(path.read_bytes())


def load(f: Any, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool | None = True,
         mmap: Any = None, **pickle_load_args: Any) -> Any:
    """Load what `save` wrote (from a path or binary file object); Tensors go to `map_location`.

    `weights_only=False` is refused: it means unpickling, which runs code from the file. A safetensors file
    written by another program (e.g. safetensors.torch.save_file) loads as a dict of name -> Tensor.
    """
    if weights_only is False or pickle_module is not None:
        raise ValueError("descend.load: weights_only=False (or a pickle_module) would unpickle, and unpickling "
                         "runs arbitrary code from the file; descend files hold only tensors and plain values, so "
                         "load them with weights_only=True (the default). To restore a model, build it and call "
                         "model.load_state_dict(descend.load(f))")
    if pickle_load_args:
        raise TypeError(f"descend.load: unexpected arguments {sorted(pickle_load_args)}")
    place = _placer(map_location)
    if isinstance(f, (str, os.PathLike)):
        arrays, metadata = io.load_safetensors(f, with_metadata=True)
        name = str(f)
    else:
        if not hasattr(f, "read"):
            raise TypeError(f"descend.load: f must be a path or a binary file object, got {type(f).__name__}")
        data = f.read()
        if isinstance(data, str):
            raise TypeError("descend.load: the file object must be opened in binary mode ('rb')")
        name = getattr(f, "name", type(f).__name__)
        with tempfile.TemporaryDirectory(prefix="descend-load-") as tmp:
            path = Path(tmp) / "obj.safetensors"
            path.write_bytes(data)
            try:
                arrays, metadata = io.load_safetensors(path, with_metadata=True)
            except ValueError as e:
                raise ValueError(str(e).replace(str(path), str(name))) from None
    if metadata.get("format") == FORMAT:
        text = metadata.get("skeleton")
    elif metadata.get("format") == _CHECKPOINT_FORMAT:
        text = metadata.get("state")
    else:  # a plain safetensors file: its tensors by name
        return {k: place(v) for k, v in arrays.items()}
    try:
        skeleton = json.loads(text)
    except (TypeError, ValueError) as e:
        raise ValueError(f"descend.load: {name}: corrupt skeleton metadata ({e})") from None
    try:
        return _unpack(skeleton, arrays, place)
    except KeyError as e:
        raise ValueError(f"descend.load: {name}: corrupt file: the skeleton names tensor {e} that the file "
                         f"does not hold") from None


def _placer(map_location: Any) -> Any:
    """array -> Tensor on the device `map_location` names (None: the current backend's).

    A dict (PyTorch's saved-device -> device remapping) has nothing to remap, since files record no device;
    a callable gets (tensor, "cpu") as PyTorch's gets (storage, location), and its Tensor result is kept.
    """
    if isinstance(map_location, dict):
        map_location = None
    if callable(map_location) and not hasattr(map_location, "type"):
        fn = map_location

        def place(a: np.ndarray) -> Tensor:
            t = Tensor(np.asarray(a))
            out = fn(t, "cpu")
            return out if isinstance(out, Tensor) else t

        return place
    if map_location is None:
        return lambda a: Tensor(backend.xp.asarray(a))
    device = str(getattr(map_location, "type", map_location)).split(":")[0]
    if device == "cpu":
        return lambda a: Tensor(np.asarray(a))
    if device == "cuda":
        if backend.xp is np:
            raise RuntimeError("descend.load: map_location='cuda' but CUDA is not available (no CuPy backend); "
                               "use map_location='cpu'")
        return lambda a: Tensor(backend.xp.asarray(a))
    raise ValueError(f"descend.load: unknown map_location {map_location!r} (use 'cpu' or 'cuda')")
