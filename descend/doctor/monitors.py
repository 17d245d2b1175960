"""Monitors: fit-loop callbacks that collect the statistics the rules read.

Cheap things are read every step from the trainer's logs (loss, LR, global gradient norm). Costly things are
sampled every `every` steps: per-layer gradient and weight norms and the update-to-weight ratio (the weights
are copied at the end of the step before a sampled one), BatchNorm running statistics, and per activation
layer the mean, std, fraction of dead units and fraction saturated, seen through forward hooks that do
nothing on the other steps. Each sample is appended to the `History` and, when the trainer has a run,
logged to metrics.jsonl (kinds "layers" and "activations") and to TensorBoard.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from descend import backend
from descend.doctor.rules import History
from descend.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from descend.nn.normalization import _BatchNorm
from descend.ops import elementwise as _ew
from descend._tensor import NonFiniteError, Tensor, detect_anomaly, no_grad, register_op_hook
from descend.train.callbacks import Callback

ACTIVATIONS = (ReLU, LeakyReLU, GELU, Tanh, Sigmoid)
# The engine's activation ops, as the record's "type" names them (the activation modules' class names).
_OPS = {_ew.ReLU: "ReLU", _ew.LeakyReLU: "LeakyReLU", _ew.GELU: "GELU", _ew.Tanh: "Tanh", _ew.Sigmoid: "Sigmoid"}
SATURATION = 0.01  # within 0.01 of a bound: tanh |y| > 0.99, sigmoid y < 0.01 or y > 0.99


def _sumsq(a: Any) -> float:
    """Σ a² as a Python float: one dot product, redone in float64 if float16/32 overflowed."""
    v = float(np.vdot(a, a))  # vdot flattens without a reshape; CuPy arrays dispatch to cupy.vdot
    if not math.isfinite(v) and a.dtype != np.float64:
        flat = a.reshape(-1).astype(np.float64)
        v = float(flat @ flat)
    return v


def _log(trainer: Any, record: dict) -> None:
    run = getattr(trainer, "run", None)
    if run is not None:
        run.log(record)


def _tb_record(trainer: Any, record: dict) -> None:
    """Send a record's numbers to the run's TensorBoard writer, tagged as descend.report names them."""
    run = getattr(trainer, "run", None)
    tb = getattr(run, "tb", None) if run is not None else None
    if tb is None:
        return
    if hasattr(tb, "scalars_from_record"):
        tb.scalars_from_record(record)
        return
    prefix = "" if record["kind"] == "layers" else "activations/"
    for layer, stats in record["layers"].items():
        for key, v in stats.items():
            if isinstance(v, float) and math.isfinite(v):
                tb.add_scalar(f"{prefix}{key}/{layer}", v, record["step"])


def sampled(step: int, every: int, early: bool = False, dense: int | None = None) -> bool:
    """Whether a monitor samples `step`: every `every` steps and, with `early`, also twice in the first
    `every` steps (at every/5 and 2 every/5): problems present from the start (dead or saturated units, tiny
    steps, vanishing gradients) are then seen within the first steps, not only at step 2 x every. With
    `dense`, only the first `dense` x `every` steps are sampled every `every` steps, the later ones every
    2 x `every`: a long run pays for half as many samples after its start (problems that appear late develop
    slowly; the rules' checks are spaced out the same way)."""
    if step % every == 0:
        return dense is None or step <= dense * every or step % (2 * every) == 0
    k = max(1, every // 5)
    return early and 0 < step <= 2 * k and step < every and step % k == 0


def _layers(model: Any) -> list[tuple[str, Any, list]]:
    """(name, module, [own parameters]) for every module that owns parameters, in model order."""
    out = []
    for name, mod in model.named_modules():
        params = [p for _, p in mod.named_parameters(recurse=False)]
        if params:
            out.append((name or type(mod).__name__, mod, params))
    return out


class LayerMonitor(Callback):
    """Every `every` steps: per layer gradient norm and RMS, weight norm, update/weight ratio; BatchNorm stats."""

    def __init__(self, every: int = 10, history: History | None = None, early: bool = False,
                 dense: int | None = None) -> None:
        if every < 1:
            raise ValueError(f"LayerMonitor: every must be >= 1, got {every}")
        self.every, self.early, self.dense = every, early, dense
        self.history = history if history is not None else History()
        self._before: dict[str, list] | None = None

    def on_train_begin(self, trainer: Any) -> None:
        self._layers = _layers(trainer.model)
        self._info = {name: (type(mod).__name__, any(p._data.ndim >= 2 for p in params),
                             max(sum(int(p._data.size) for p in params), 1)) for name, mod, params in self._layers}
        self._bn = [(n or type(m).__name__, m) for n, m in trainer.model.named_modules()
                    if isinstance(m, _BatchNorm) and m.running_mean is not None]
        self._before = None
        if sampled(trainer.step + 1, self.every, self.early, self.dense):
            self._snapshot()

    def _snapshot(self) -> None:
        # Copies of the weights as they are before the sampled step, for its update/weight ratio.
        self._before = {name: [p._data.copy() for p in params] for name, _, params in self._layers}

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        step = trainer.step
        if sampled(step, self.every, self.early, self.dense):
            self._sample(trainer)
        if sampled(step + 1, self.every, self.early, self.dense):
            self._snapshot()

    def _sample(self, trainer: Any) -> None:
        layers: dict[str, dict] = {}
        for name, mod, params in self._layers:
            g2 = w2 = u2 = 0.0
            graded = False
            before = self._before[name] if self._before is not None else None
            for i, p in enumerate(params):
                w2 += _sumsq(p._data)
                if p.grad is not None:
                    g2 += _sumsq(p.grad._data)
                    graded = True
                if before is not None:
                    u2 += _sumsq(p._data - before[i])
            w = math.sqrt(w2)
            kind, weight, n = self._info[name]
            stats = {"type": kind, "weight": weight, "weight_norm": w}
            if graded:  # a layer without gradients (frozen) has no gradient statistics, rather than zeros
                stats["grad_norm"], stats["grad_rms"] = math.sqrt(g2), math.sqrt(g2 / n)
            if before is not None:
                # ||Δw|| / ||w|| (cs231n's update/weight ratio; before or after the step differ by the ratio)
                stats["update_ratio"] = math.sqrt(u2) / w if w > 0 else math.inf
            layers[name] = stats
        for name, mod in self._bn:
            stats = layers.setdefault(name, {"type": type(mod).__name__, "weight": False})
            mean, var = mod.running_mean._data, mod.running_var._data
            stats["running_mean"] = float(np.abs(backend.to_numpy(mean)).mean())
            stats["running_var"] = float(backend.to_numpy(var).mean())
            stats["running_var_min"] = float(backend.to_numpy(var).min())
        self._before = None
        record = {"kind": "layers", "step": trainer.step, "epoch": trainer.epoch, "layers": layers}
        self.history.layers.append(record)
        _log(trainer, record)
        _tb_record(trainer, record)


class _ActivationStats:
    """Per activation layer: a rolling window of which units fired, for the dead-unit fraction."""

    def __init__(self, window: int) -> None:
        self.fired: deque = deque(maxlen=window)
        self.samples: deque = deque(maxlen=window)


class ActivationMonitor(Callback):
    """Every `every` steps: mean, std, dead and saturated fractions per activation.

    Activations are seen two ways on a sampled training forward: activation modules (nn.ReLU, nn.Tanh, ...)
    through forward hooks, named as the module; and activations applied as functions (`x.relu()`,
    `F.sigmoid(x)`) to the output of a layer that owns parameters, named `<layer>.<op>` (e.g. `conv1.relu`),
    through the engine's per-op callback. Activations computed inside a layer (a GRU's gates) are not
    counted. A unit is a feature (dim 1: a Linear output's column, a convolution's channel). It is dead when it
    gave 0 (ReLU) or less (LeakyReLU, GELU) for every sample of the last `window` sampled batches. An
    activation whose output is the model's output is flagged `output` (a sigmoid that answers confidently
    is not saturated in the harmful sense).
    """

    def __init__(self, every: int = 10, window: int = 5, history: History | None = None,
                 early: bool = False, dense: int | None = None) -> None:
        if every < 1 or window < 1:
            raise ValueError(f"ActivationMonitor: every and window must be >= 1, got {every}, {window}")
        self.every, self.window, self.early, self.dense = every, window, early, dense
        self.history = history if history is not None else History()
        self._handles: list = []
        self._armed = False
        self._depth = 0
        self._observing = False
        self._stats: dict[str, _ActivationStats] = {}
        self._ones: dict[tuple, Any] = {}  # (size, dtype) -> a vector of ones, for sums as dot products

    def on_train_begin(self, trainer: Any) -> None:
        self.remove()
        self._model = trainer.model
        self._acts = [(n or type(m).__name__, m) for n, m in self._model.named_modules()
                      if isinstance(m, ACTIVATIONS)]
        self._names = {id(m): n for n, m in self._acts}
        # Layers whose outputs a functional activation may be applied to. Whether the model applies any is
        # learnt on the first sampled step; without any, later samples skip these hooks and the op callback.
        self._producers = [(n, m) for n, m, _ in _layers(self._model)]
        self._producer_names = {id(m): n for n, m in self._producers}
        self._functional: bool | None = None
        self._arm(trainer.step + 1)

    def _arm(self, next_step: int) -> None:
        """Hook the activations only for a sampled step, so the other steps run without any hook."""
        self._armed = sampled(next_step, self.every, self.early, self.dense)
        self._captured = False
        self._current: dict[str, dict] = {}
        if self._armed and not self._handles and (self._acts or self._functional is not False):
            for _, mod in self._acts:
                self._handles.append(mod.register_forward_hook(self._hook))
            if self._functional is not False:
                for _, mod in self._producers:
                    self._handles.append(mod.register_forward_hook(self._produced))
            self._handles.append(self._model.register_forward_pre_hook(self._root_pre))
            self._handles.append(self._model.register_forward_hook(self._root_post))
        elif not self._armed and self._handles:
            self.remove()

    def _root_pre(self, module: Any, args: tuple) -> None:
        self._depth += 1
        if self._depth > 1:
            return  # a forward inside the forward (the NaN finder's re-run): not measured
        # Only the first micro-batch of a sampled training step is measured (not evaluation, not accumulation).
        self._capturing = self._armed and not self._captured and module.training
        self._seen: list[tuple[str, str, Any]] = []  # (type, name, output array) in forward order
        self._module_outs: set[int] = set()
        self._made_by: dict[int, tuple[str, Any]] = {}  # id(output array) -> (layer name, the array)
        if self._capturing and self._functional is not False:
            self._op_hook = register_op_hook(self._observe)
            self._observing = True

    def _observe(self, cls: type, out: Any, args: tuple) -> None:
        """The engine's per-op callback during a sampled forward: keep activations of a layer's output."""
        kind = _OPS.get(cls)
        if kind is not None and self._depth == 1 and args and isinstance(args[0], Tensor):
            made = self._made_by.get(id(args[0]._data))
            if made is not None:
                self._seen.append((kind, f"{made[0]}.{kind.lower()}", out))

    def _unobserve(self) -> None:
        if self._observing:
            self._op_hook.remove()
            self._observing = False

    def _produced(self, module: Any, args: tuple, output: Any) -> None:
        if self._depth == 1 and getattr(self, "_capturing", False) and isinstance(output, Tensor):
            self._made_by[id(output._data)] = (self._producer_names[id(module)], output._data)

    def _hook(self, module: Any, args: tuple, output: Any) -> None:
        if self._depth != 1 or not getattr(self, "_capturing", False) or not isinstance(output, Tensor):
            return
        self._module_outs.add(id(output._data))
        self._seen.append((type(module).__name__, self._names[id(module)], output._data))

    def _root_post(self, module: Any, args: tuple, output: Any) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        self._unobserve()
        if not self._capturing:
            return
        self._captured = True
        final = id(output._data) if isinstance(output, Tensor) else None
        calls: dict[str, int] = {}
        functional = False
        modules = set(self._names.values())
        for kind, name, y in self._seen:
            is_module = name in modules
            if not is_module and id(y) in self._module_outs:
                continue  # the op inside an activation module: measured as the module
            functional = functional or not is_module
            count = calls.get(name, 0)
            calls[name] = count + 1
            key = name if count == 0 else f"{name}#{count + 1}"  # applied twice in one forward
            stats = self._current[key] = self._measure(kind, key, y)
            if id(y) == final:
                stats["output"] = True
        if self._functional is None:
            self._functional = functional
        self._seen, self._made_by = [], {}

    def _measure(self, kind: str, key: str, y: Any) -> dict:
        xp = backend.get_array_module(y)
        flat = y.reshape(-1)
        n = max(int(flat.size), 1)
        blas = flat.dtype in (np.float32, np.float64)
        if blas:  # the sum as a dot product with ones: a BLAS call, ~3x faster than flat.sum() for float32
            ones = self._ones.get((n, flat.dtype.char))
            if ones is None:
                ones = self._ones[(n, flat.dtype.char)] = xp.ones(n, dtype=flat.dtype)
            mean = float(flat @ ones) / n
        else:
            mean = float(flat.sum()) / n
        if blas and kind in ("ReLU", "LeakyReLU"):
            # E[y^2] - E[y]^2 in one pass: a rectified output's spread is of the order of its mean, so
            # nothing is lost to cancellation (nor is it for an all-zero, dead layer).
            std = math.sqrt(max(float(flat @ flat) / n - mean * mean, 0.0))
        else:
            # Two-pass: a saturated sigmoid's E[y^2] - E[y]^2 would lose its small variance to float32
            # cancellation.
            dev = flat - mean
            std = math.sqrt(float(dev @ dev) / n)
        stats: dict[str, Any] = {"type": kind, "mean": mean, "std": std}
        if kind in ("ReLU", "LeakyReLU", "GELU"):
            pos = y > 0
            stats["active"] = int(xp.count_nonzero(pos)) / n
            # Over the batch first (a contiguous reduction), then over the positions of each channel: the
            # same answer as any(axis=(0, 2, ...)), which NumPy reduces with strided loops ~15x slower.
            fired = pos.any(axis=0)
            if fired.ndim > 1:
                fired = fired.reshape(fired.shape[0], -1).any(axis=1)
            fired = backend.to_numpy(fired).reshape(-1)
            st = self._stats.get(key)
            if st is None or st.fired.maxlen != self.window or (st.fired and st.fired[0].shape != fired.shape):
                st = self._stats[key] = _ActivationStats(self.window)
            st.fired.append(fired)
            st.samples.append(int(y.shape[0]) if y.ndim else 1)
            if len(st.fired) == self.window:
                ever = st.fired[0].copy()
                for f in list(st.fired)[1:]:
                    ever |= f
                stats["dead"] = 1.0 - int(np.count_nonzero(ever)) / max(ever.size, 1)
                stats["window"] = int(sum(st.samples))
        elif kind == "Tanh":
            stats["saturated"] = int(xp.count_nonzero(xp.abs(y) > 1 - SATURATION)) / n
        elif kind == "Sigmoid":
            stats["saturated"] = int(xp.count_nonzero((y < SATURATION) | (y > 1 - SATURATION))) / n
        return stats

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        if self._armed:
            self._unobserve()  # the forward raised before its end: never leave the op callback behind
            self._depth = 0
            if self._current:
                record = {"kind": "activations", "step": trainer.step, "epoch": trainer.epoch,
                          "layers": self._current}
                self.history.activations.append(record)
                _log(trainer, record)
                _tb_record(trainer, record)
            self._arm(trainer.step + 1)
        elif sampled(trainer.step + 1, self.every, self.early, self.dense):
            self._arm(trainer.step + 1)

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        self.remove()

    def state_dict(self) -> dict:
        """The dead-unit windows (which units fired in each of the last `window` samples), so that a resumed
        run measures exactly what an uninterrupted one would."""
        # Each sample's mask as packed bits in hex: plain JSON, 1 character per 4 units.
        return {key: {"units": int(st.fired[0].size), "samples": list(st.samples),
                      "fired": [np.packbits(f).tobytes().hex() for f in st.fired]}
                for key, st in self._stats.items() if st.fired}

    def load_state_dict(self, state: dict) -> None:
        self._stats = {}
        for key, saved in state.items():
            st = self._stats[key] = _ActivationStats(self.window)
            n = int(saved["units"])
            st.fired.extend(np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8), count=n).astype(bool)
                            for h in saved["fired"])
            st.samples.extend(int(k) for k in saved["samples"])

    def remove(self) -> None:
        """Unregister the forward hooks (and the op callback, if a forward was cut short)."""
        self._unobserve()
        self._depth = 0
        for h in self._handles:
            h.remove()
        self._handles = []


class NonFiniteMonitor(Callback):
    """Names the op that made the first NaN/inf: the model's output is checked on every training forward
    (one isfinite over the logits); on the first non-finite output, or loss, the same batch is run again
    under `detect_anomaly()` with the same weights, random state and BatchNorm buffers.
    """

    def __init__(self, history: History | None = None) -> None:
        self.history = history if history is not None else History()
        self._handles: list = []
        self.event: dict | None = None

    def on_train_begin(self, trainer: Any) -> None:
        self.remove()
        self._trainer = trainer
        self.model = trainer.model
        self.event = self.history.event("nan")
        self._weight_norm_start = _weight_norm(self.model)
        self._rerunning = False
        self._output: Any = None
        self._stochastic = any(type(m).__name__.startswith("Dropout") for m in self.model.modules())
        if self._stochastic:
            self._handles.append(self.model.register_forward_pre_hook(self._pre))
        self._handles.append(self.model.register_forward_hook(self._post))

    def _pre(self, module: Any, args: tuple) -> None:
        # The RNG state before a forward lets a re-run draw the same dropout masks; only needed with dropout.
        if self._stochastic and module.training and self.event is None and not self._rerunning:
            self._rng = backend.get_rng_state()

    def _post(self, module: Any, args: tuple, output: Any) -> None:
        if self.event is not None or self._rerunning or not module.training or not isinstance(output, Tensor):
            return
        self._output = output
        data = output._data
        # One sum is the cheapest test (NaN and inf propagate); an overflowing sum is confirmed elementwise.
        if data.dtype.kind == "f" and not math.isfinite(data.sum()) and not _finite(data):
            self._record(self._find_in_forward(module, args))

    def _find_in_forward(self, model: Any, args: tuple) -> dict:
        for a in args:
            if isinstance(a, Tensor) and a.dtype.kind in "fc" and not _finite(a._data):
                return {"where": "input"}
        bad = [n for n, p in model.named_parameters() if not _finite(p._data)]
        if bad:
            return {"where": "weights", "detail": f"parameters already non-finite: {', '.join(bad[:3])}"}
        after = backend.get_rng_state() if self._stochastic else None
        buffers = [(b, b._data.copy()) for _, b in model.named_buffers()]
        stack: list[str] = []
        names = {id(m): (n or type(m).__name__) for n, m in model.named_modules()}
        def enter(mod: Any, a: tuple) -> None:
            stack.append(names[id(mod)])

        def leave(mod: Any, a: tuple, out: Any) -> None:  # returns None: a hook's return replaces the output
            if stack:
                stack.pop()

        hooks = []
        for m in model.modules():
            hooks.append(m.register_forward_pre_hook(enter))
            hooks.append(m.register_forward_hook(leave))
        self._rerunning = True
        try:
            if self._stochastic:
                backend.set_rng_state(self._rng)
            with no_grad(), detect_anomaly():
                model(*args)
            found: dict = {"where": "forward", "detail": "the re-run gave a finite output"}
        except NonFiniteError as e:
            found = _error_event(e, "forward", _innermost(stack, model))
        finally:
            self._rerunning = False
            for h in hooks:
                h.remove()
            for b, saved in buffers:
                b._data[...] = saved
            if after is not None:
                backend.set_rng_state(after)
        return found

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        loss = logs.get("loss")
        if self.event is not None or loss is None or math.isfinite(loss):
            return
        # The output was finite (the forward hook saw it), so the loss function made the NaN.
        found: dict = {"where": "unknown"}
        if self._output is not None and trainer.last_batch is not None:
            out = Tensor(self._output._data)
            try:
                with no_grad(), detect_anomaly():
                    trainer.loss_fn(out, trainer.last_batch[1])
                found["detail"] = "the loss of the model's output was finite when re-computed"
            except NonFiniteError as e:
                found = _error_event(e, "loss", "the loss function")
        self._record(found, weight_norm=_weight_norm(self.model))

    def _record(self, found: dict, weight_norm: float | None = None) -> None:
        step = self._trainer.step + 1 if weight_norm is None else self._trainer.step
        self.event = {"kind": "doctor", "event": "nan", "step": step, **found,
                      "weight_norm": _weight_norm(self.model) if weight_norm is None else weight_norm,
                      "weight_norm_start": self._weight_norm_start}
        self.history.events.append(self.event)
        _log(self._trainer, self.event)

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        self.remove()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def _finite(a: Any) -> bool:
    return bool(backend.get_array_module(a).isfinite(a).all())


def _weight_norm(model: Any) -> float:
    return math.sqrt(sum(_sumsq(p._data) for p in model.parameters()))


def _innermost(stack: list[str], model: Any) -> str:
    """The innermost module that was running when the error was raised (the stack is left as it was)."""
    return stack[-1] if stack else type(model).__name__


def _error_event(e: NonFiniteError, where: str, module: str) -> dict:
    return {"where": where, "op": e.op, "value": e.kind, "in_shapes": [list(s) for s in e.in_shapes],
            "out_shape": list(e.out_shape), "source": e.source, "module": module}
