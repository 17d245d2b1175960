"""Tracing a model and assembling the ONNX graph; the per-op conversions are in convert.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from descend.autograd.grad_mode import enable_grad
from descend._tensor import Tensor, _toposort


class ExportError(RuntimeError):
    """The model uses something that has no ONNX form (named in the message), or the arguments are wrong."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ExportError("descend.onnx.export needs the onnx package: pip install onnx") from None
    return onnx


class Graph:
    """Nodes, initializers and names under construction."""

    def __init__(self, onnx: Any, opset: int, batch: int | None) -> None:
        self.onnx, self.opset, self.batch = onnx, opset, batch
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}   # id(Tensor) -> value name
        self.arrays: dict[int, str] = {}  # id(raw array) -> value name (kwargs that hold a traced tensor's array)
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def node(self, op: str, inputs: list, attrs: dict | None = None, outputs: int = 1, name: str | None = None) -> Any:
        outs = [self.fresh(op.lower()) for _ in range(outputs)] if name is None else [name]
        self.nodes.append(self.onnx.helper.make_node(op, [i if i is not None else "" for i in inputs], outs,
                                                     **(attrs or {})))
        return outs[0] if outputs == 1 else outs

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """An initializer holding `value` (an array or a Python number)."""
        arr = np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def value(self, x: Any, like: Any = None) -> str:
        """The name of an op input: a traced tensor, a tensor not traced (a constant) or a Python number
        (given `like`'s dtype, as the op promotes it)."""
        if isinstance(x, Tensor):
            name = self.names.get(id(x))
            if name is not None:
                return name
            name = self.arrays.get(id(x._data))
            if name is not None:
                return name
            return self.const(np.asarray(x._data), hint="tensor")
        if isinstance(x, np.ndarray):
            name = self.arrays.get(id(x))
            return name if name is not None else self.const(x, hint="array")
        dtype = like._data.dtype if isinstance(like, Tensor) else np.float32
        return self.const(np.asarray(x, dtype=dtype), hint="scalar")


def _elem_type(onnx: Any, dtype: np.dtype) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _value_info(onnx: Any, name: str, t: Tensor, dynamic: dict) -> Any:
    shape = [dynamic.get(i, n) for i, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, _elem_type(onnx, t._data.dtype), shape)


def _flatten(args: Any) -> list:
    """The tensors of a (nested) tuple/list of example inputs, in order: the graph's inputs."""
    if isinstance(args, Tensor):
        return [args]
    if isinstance(args, (tuple, list)):
        return [t for a in args for t in _flatten(a)]
    raise ExportError(f"export: example inputs must be Tensors or (nested) tuples of Tensors, got "
                      f"{type(args).__name__}")


def _rebuild(args: Any, tensors: Any) -> Any:
    """args with its tensors replaced, in order, by those of the iterator `tensors`."""
    if isinstance(args, Tensor):
        return next(tensors)
    return type(args)(_rebuild(a, tensors) for a in args)


def _trace(model: Any, args: tuple, inputs: list) -> tuple[list, list]:
    """Run the model with every floating input and parameter recording the graph; (traced inputs, outputs)."""
    traced = []
    for x in inputs:
        t = Tensor(x._data.copy())
        if t.dtype.is_floating_point:
            t.requires_grad_(True)
        traced.append(t)
    params = [p for p in model.parameters()] if hasattr(model, "parameters") else []
    flags = [p.requires_grad for p in params]
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        for p in params:
            if p.dtype.is_floating_point:
                p.requires_grad = True
        with enable_grad():
            out = model(*_rebuild(args, iter(traced)))
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f
        if was_training and hasattr(model, "train"):
            model.train()
    outputs = _flatten(out)
    return traced, outputs


def export(model: Any, args: Any, f: str | os.PathLike | BinaryIO, export_params: bool = True,
           verbose: bool = False, input_names: list[str] | None = None, output_names: list[str] | None = None,
           opset_version: int | None = None, dynamic_axes: dict | None = None, do_constant_folding: bool = True,
           **kwargs: Any) -> None:
    """Write the model's forward pass on `args` to `f` (a path or a binary file) as an ONNX model.

    dynamic_axes: {name: {axis: "symbol"}} (or {name: [axis, ...]}) marks sizes that may change, as in
    PyTorch; the batch axis of the built-in models is one. opset_version defaults to 17.
    """
    onnx = _onnx()
    from descend.onnx import convert

    opset = 17 if opset_version is None else int(opset_version)
    if opset < 17:
        raise ExportError(f"export: opset_version {opset} is not supported (17 or later)")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    inputs = _flatten(args)
    if not inputs:
        raise ExportError("export: args must hold at least one Tensor (the example input)")
    traced, outputs = _trace(model, args, inputs)
    # Fewer names than values: the rest get default names (as PyTorch does).
    in_names = list(input_names or [])[:len(inputs)] + [f"input_{i}" for i in range(len(input_names or []),
                                                                                    len(inputs))]
    out_names = list(output_names or [])[:len(outputs)] + [f"output_{i}" for i in range(len(output_names or []),
                                                                                       len(outputs))]
    if len(input_names or []) > len(inputs) or len(output_names or []) > len(outputs):
        raise ExportError(f"export: {len(in_names)} input names for {len(inputs)} inputs, {len(out_names)} output "
                          f"names for {len(outputs)} outputs")
    dyn = {k: (dict(v) if isinstance(v, dict) else {a: f"{k}_dim{a}" for a in v}) for k, v in
           (dynamic_axes or {}).items()}
    batch = inputs[0].shape[0] if any(0 in dyn.get(n, {}) for n in in_names) and inputs[0].ndim else None
    g = Graph(onnx, opset, batch)
    for t, name in zip(traced, in_names):
        g.names[id(t)] = name
        g.arrays[id(t._data)] = name
    for node in _toposort(outputs):  # every tensor after the ones it is computed from
        if node._ctx is None or id(node) in g.names:
            continue
        name = convert.convert(g, node._ctx, node)
        g.names[id(node)] = name
        g.arrays[id(node._data)] = name
    for o, name in zip(outputs, out_names):
        src = g.names.get(id(o)) or g.value(o)
        g.nodes.append(onnx.helper.make_node("Identity", [src], [name]))
    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__, [_value_info(onnx, n, t, dyn.get(n, {})) for n, t in zip(in_names, inputs)],
        [_value_info(onnx, n, t, dyn.get(n, {})) for n, t in zip(out_names, outputs)], g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="descend")
    proto.ir_version = min(proto.ir_version, 10)  # readable by the onnxruntime releases of the last two years
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        Path(f).write_bytes(data)
    else:
        f.write(data)
    if verbose:
        print(onnx.helper.printable_graph(graph))
