"""A model summary, as Keras prints at the start of training: each leaf layer's type, output shape and
parameter count, the input and output shapes, and the totals (from one forward pass on a zero sample)."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend._tensor import Tensor, no_grad


def summarize(model: Any, input_shape: tuple, dtype: Any = np.float32) -> dict:
    """{"input_shape", "output_shape", "layers": [{"name", "type", "output_shape", "params"}], "params",
    "trainable"}; shapes with the batch axis as None."""
    rows: list[dict] = []
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            def hook(mod: Any, args: Any, out: Any, name: str = name) -> None:
                if isinstance(out, (tuple, list)) and out:  # (output, hidden state) of recurrent layers
                    out = out[0]
                shape = [None, *out.shape[1:]] if isinstance(out, Tensor) else None
                rows.append({"name": name, "type": type(mod).__name__, "output_shape": shape,
                             "params": sum(p._data.size for p in mod.parameters(recurse=False))})
            hooks.append(module.register_forward_hook(hook))
    state = backend.get_rng_state()  # the summary must not change the run's random numbers
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(backend.xp.zeros((1, *input_shape), dtype=dtype)))
    finally:
        model.train(was_training)
        backend.set_rng_state(state)
        for h in hooks:
            h.remove()
    seen = {r["name"] for r in rows}
    for name, module in model.named_modules():  # leaf layers the forward pass did not call
        if name and not list(module.children()) and name not in seen:
            rows.append({"name": name, "type": type(module).__name__, "output_shape": None,
                         "params": sum(p._data.size for p in module.parameters(recurse=False))})
    params = list(model.parameters())
    return {"input_shape": [None, *input_shape],
            "output_shape": [None, *out.shape[1:]] if isinstance(out, Tensor) else None,
            "layers": rows, "params": int(sum(p._data.size for p in params)),
            "trainable": int(sum(p._data.size for p in params if p.requires_grad))}


def _shape(s: Any) -> str:
    return "-" if s is None else "(" + ", ".join("N" if d is None else str(d) for d in s) + ")"


def text(summary: dict) -> str:
    """The summary as a console table."""
    rows = [(r["name"], r["type"], _shape(r["output_shape"]), f"{r['params']:,}") for r in summary["layers"]]
    header = ("layer", "type", "output shape", "params")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + f"  {{:>{widths[-1]}}}"
    lines = [fmt.format(*header)] + [fmt.format(*r) for r in rows]
    lines.append(f"input {_shape(summary['input_shape'])} -> output {_shape(summary['output_shape'])}; "
                 f"{summary['params']:,} parameters ({summary['trainable']:,} trainable)")
    return "\n".join(lines)
