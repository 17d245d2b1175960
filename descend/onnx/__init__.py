"""`descend.onnx.export`: a model's forward pass as an ONNX graph, as `torch.onnx.export` writes it.

The model runs once on the example input in eval mode with the graph recorded (tracing, like
`torch.jit.trace`): every op it applies becomes one or a few ONNX nodes (descend/onnx/convert.py), parameters
and other constants become initializers. Python control flow is fixed at the traced input, as in PyTorch's
tracer. The graph is checked with `onnx.checker`; the tests run it in onnxruntime against descend's forward.

>>> import io, descend
>>> from descend import nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
>>> buf = io.BytesIO()
>>> descend.onnx.export(model, descend.randn(2, 4), buf, input_names=["x"], output_names=["y"],
...                     dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
>>> len(buf.getvalue()) > 0
True
"""

from __future__ import annotations

from typing import Any

from descend.onnx.export import ExportError, export

__all__ = ["export", "ExportError"]
