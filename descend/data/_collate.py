"""default_collate and default_convert: samples to batches of Tensors, by PyTorch's rules, type by type."""

from __future__ import annotations

import collections.abc
import copy
import re
from typing import Any, Sequence

import numpy as np

from descend import backend
from descend._tensor import Tensor

# NumPy arrays of strings, bytes, unicode or objects cannot become tensors (torch's np_str_obj_array_pattern).
_STRING_OR_OBJECT = re.compile(r"[SaUO]")
_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


class CollateError(ValueError, RuntimeError):
    """Samples that cannot be stacked into one batch (a RuntimeError, as torch.stack's, and a ValueError)."""


# True in DataLoader worker processes: they build host tensors (a forked process must not touch CUDA) and
# the main process moves each batch to the device.
_HOST_ONLY = False


def _to_tensor(batch: Any) -> Tensor:
    """A Tensor on the current backend (batches move to the GPU when the backend is CuPy)."""
    return Tensor(backend.to_numpy(batch) if _HOST_ONLY else backend.xp.asarray(batch))


def _is_numpy(x: Any) -> bool:
    """A NumPy array or scalar (np.str_ and np.bytes_ are strings, as in PyTorch)."""
    return type(x).__module__ == "numpy" and not isinstance(x, (np.str_, np.bytes_))


def _stack(arrays: list, what: str) -> Tensor:
    """Stack host/device arrays of equal shape into one Tensor; a clear error naming the shapes otherwise."""
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise CollateError(f"collate: cannot stack samples of shapes {sorted(shapes)} into one batch "
                           f"(each {what} in a batch must have the same shape)")
    xp = backend.get_array_module(*arrays)
    return _to_tensor(xp.stack(arrays))


def default_collate(batch: Sequence) -> Any:
    """Merge a list of samples into a batch, recursively, as torch.utils.data.default_collate.

    Tensors and NumPy arrays are stacked (a new first dimension), Python ints become int64, floats float64
    and bools bool tensors, strings stay a list, dicts/namedtuples keep their type with each field collated,
    tuples become lists of collated fields (PyTorch's choice), and lists keep their type.

    >>> default_collate([(1, 0.5), (2, 1.5)])[0].tolist()
    [1, 2]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t._data for t in batch], "tensor")
    if _is_numpy(elem):
        if isinstance(elem, np.ndarray):
            if _STRING_OR_OBJECT.search(elem.dtype.str) is not None:
                raise TypeError(_ERROR.format(elem.dtype))
            return _stack([np.asarray(a) for a in batch], "array")
        if elem.shape == ():  # a NumPy scalar: keeps its dtype
            return _to_tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, float):
        return _to_tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bools too: PyTorch infers the batch's dtype (a float among ints: the default float)
        if any(isinstance(v, float) for v in batch):
            return _to_tensor(np.array(batch, dtype=backend.default_dtype()))
        return _to_tensor(np.array(batch, dtype=bool if all(isinstance(v, bool) for v in batch) else np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(elem, batch)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise CollateError("default_collate: each element in list of batch should be of equal size; got "
                               f"sizes {sorted({len(s) for s in batch})}")
        # Each field is passed on as zip's tuple, so strings inside samples come back as a tuple (as PyTorch).
        fields = [default_collate(field) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # PyTorch returns a list for tuples
        return _same_sequence_type(elem, fields)
    raise TypeError(_ERROR.format(type(elem)))


def _collate_mapping(elem: Any, batch: list) -> Any:
    """A mapping of collated fields, of the samples' mapping type where it can be built."""
    fields = {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, collections.abc.MutableMapping):
        clone = copy.copy(elem)  # keeps the type and its attributes (e.g. OrderedDict, defaultdict)
        clone.update(fields)
        return clone
    try:
        return type(elem)(fields)
    except TypeError:
        return fields


def _same_sequence_type(elem: Any, fields: list) -> Any:
    """`fields` in a sequence of elem's type (a plain list when that type cannot be built from a list)."""
    if isinstance(elem, collections.abc.MutableSequence):
        try:
            clone = copy.copy(elem)
            for i, field in enumerate(fields):
                clone[i] = field
            return clone
        except TypeError:
            return fields
    try:
        return type(elem)(fields)
    except TypeError:
        return fields


def default_convert(data: Any) -> Any:
    """NumPy arrays to Tensors inside any structure, leaving everything else (used when batch_size is None)."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and _STRING_OR_OBJECT.search(data.dtype.str) is not None:
            return data
        return _to_tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(value) for key, value in data.items()}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(fields)
            return clone
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _same_sequence_type(data, [default_convert(d) for d in data])
    return data


# The name descend used before default_collate existed.
collate = default_collate
