"""Optimizer base: param groups, flat parameter/state buffers, gradient hooks, state_dict.

Each group's parameters (per dtype and device) live in ONE contiguous buffer: on construction their values are
copied in and each parameter's `._data` becomes a view of it. The optimizer's state (exp_avg, ...) is kept as
buffers of the same layout, and a step is a handful of in-place whole-buffer array ops instead of a Python loop
over parameters. PyTorch's per-parameter semantics are kept: a parameter whose `.grad` is None is skipped and
its state does not advance, and each parameter keeps its own step count.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Iterable

import numpy as np

from descend import backend
from descend._tensor import Tensor, enable_grad
import descend._tensor as _t  # the module: its in-place epoch changes at run time
from descend.ops.inplace import _bump
from descend.optim import state as _state


# Elements per block: an update touches ~6 arrays of this length, which should stay in a core's L2 cache
# (array ops over buffers larger than the cache run ~3x slower per element).
_BLOCK_BYTES = 256 * 1024


class _Flat:
    """Parameters of one group with one dtype and device, packed into one buffer, with their state beside."""

    def __init__(self, params: list[Tensor], index: list[int]) -> None:
        self.params = params
        self.index = index  # position of each parameter in its group
        self.xp = backend.get_array_module(params[0]._data)
        dtype = params[0]._data.dtype
        sizes = [int(p._data.size) for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
        self.size = self.offsets[-1]
        self.data = self.xp.empty(self.size, dtype=dtype)
        self.views = []
        for p, a, b in zip(params, self.offsets[:-1], self.offsets[1:]):
            view = self.data[a:b].reshape(p._data.shape)
            view[...] = p._data
            p._data = view
            self.views.append(view)
        # On a GPU one kernel over everything is best; on the CPU, cache-sized blocks.
        block = self.size if self.xp is not np else max(1, _BLOCK_BYTES // dtype.itemsize)
        self.block = max(1, min(self.size, block))
        self.gbuf = self.xp.empty(self.block, dtype=dtype)  # one block of gathered gradient
        self._scratch: list = []
        self.state: dict[str, Any] = {}
        # Per-parameter counter: the step count (SGD: 1 once its momentum buffer exists). Parameters with
        # equal counters and grads present are updated together.
        self.count = np.zeros(len(params), dtype=np.int64)
        self.uniform = True
        self._full_plan = self.plan(0, self.size)

    def __deepcopy__(self, memo: dict) -> "_Flat":
        return _state.copy_flat(self, memo)

    def buffer(self, name: str, fill: float = 0.0) -> Any:
        """The flat state buffer `name`, created filled with `fill` on first use."""
        buf = self.state.get(name)
        if buf is None:
            buf = self.xp.full(self.size, fill, dtype=self.data.dtype)
            self.state[name] = buf
        return buf

    def scratch(self, k: int) -> Any:
        """The k-th block-sized scratch buffer (reused every step, so the update allocates nothing)."""
        while len(self._scratch) <= k:
            self._scratch.append(self.xp.empty_like(self.gbuf))
        return self._scratch[k]

    def segment(self, j: int) -> slice:
        return slice(self.offsets[j], self.offsets[j + 1])

    def plan(self, start: int, stop: int) -> list:
        """Blocks covering elements [start, stop): (lo, hi, [(param, src_lo, src_hi, dst_lo, dst_hi)])."""
        out = []
        for lo in range(start, stop, self.block):
            hi = min(stop, lo + self.block)
            pieces = []
            j = bisect_right(self.offsets, lo) - 1
            pos = lo
            while pos < hi:
                end = min(hi, self.offsets[j + 1])
                if end > pos:
                    pieces.append((j, pos - self.offsets[j], end - self.offsets[j], pos - lo, end - lo))
                pos = end
                j += 1
            out.append((lo, hi, pieces))
        return out

    def grads(self, who: str) -> tuple[list, list[int] | None]:
        """Each parameter's grad as a flat array (None where missing), and the missing positions (or None)."""
        srcs: list = []
        missing = None
        for j, (p, view) in enumerate(zip(self.params, self.views)):
            if p._data is not view:
                self._readopt(j, who)
            g = p.grad
            if g is None:
                if missing is None:
                    missing = []
                missing.append(j)
                srcs.append(None)
                continue
            g = g._data
            if g.shape != view.shape:
                raise ValueError(f"{who}: parameter {self.index[j]} has shape {view.shape} but its grad has "
                                 f"shape {tuple(g.shape)}")
            srcs.append(g.reshape(-1))
        return srcs, missing

    def _readopt(self, j: int, who: str) -> None:
        """A parameter's `._data` was rebound (p._data = ...): take its values back into the flat buffer."""
        p, view = self.params[j], self.views[j]
        new = p._data
        if (tuple(new.shape) != view.shape or new.dtype != view.dtype
                or backend.get_array_module(new) is not self.xp):
            raise RuntimeError(
                f"{who}: parameter {self.index[j]} was replaced by an array of shape {tuple(new.shape)}, dtype "
                f"{new.dtype}; the optimizer holds it as shape {view.shape}, dtype {view.dtype}. Create the "
                f"optimizer after changing parameters' shape, dtype or device")
        view[...] = new
        p._data = view

    def runs(self, missing: list[int] | None) -> list[tuple[list, slice, int]]:
        """(block plan, parameter slice, counter) for maximal runs of parameters updated together."""
        n = len(self.params)
        if missing is None and self.uniform:
            return [(self._full_plan, slice(None), int(self.count[0]))]
        skip = set(missing or ())
        out = []
        j = 0
        while j < n:
            if j in skip:
                j += 1
                continue
            k = j + 1
            while k < n and k not in skip and self.count[k] == self.count[j]:
                k += 1
            out.append((self.plan(self.offsets[j], self.offsets[k]), slice(j, k), int(self.count[j])))
            j = k
        return out

    def refresh_uniform(self) -> None:
        self.uniform = bool((self.count == self.count[0]).all())


class _Block:
    """One block of a flat buffer as an update sees it: parameter values and state are views into the flat
    buffers; the gradient (a copy, so it may be edited) and scratch space are small reused buffers."""

    __slots__ = ("flat", "sl", "n", "p", "g")

    def __init__(self, flat: _Flat, lo: int, hi: int, pieces: list, srcs: list, borrow: bool = False) -> None:
        self.flat, self.sl, self.n = flat, slice(lo, hi), hi - lo
        self.p = flat.data[lo:hi]
        if borrow and len(pieces) == 1:
            # The block lies inside one parameter and nothing will write to the gradient: read it in place.
            j, s0, s1, _, _ = pieces[0]
            self.g = srcs[j][s0:s1]
            return
        self.g = g = flat.gbuf[:self.n]
        for j, s0, s1, d0, d1 in pieces:
            g[d0:d1] = srcs[j][s0:s1]

    def state(self, name: str, fill: float = 0.0) -> Any:
        """This block of the state buffer `name`."""
        return self.flat.buffer(name, fill)[self.sl]

    def tmp(self, k: int) -> Any:
        """The k-th scratch array of this block's length."""
        return self.flat.scratch(k)[:self.n]


def _edits_grad(group: dict) -> bool:
    """Whether the gradient hooks below will write to a block's gradient for this group."""
    return bool(group.get("maximize", False) or group.get("l1", 0) != 0
                or (group.get("weight_decay", 0) != 0 and not group.get("decoupled_weight_decay", False)))


def _maximize(group: dict, p: Any, g: Any, tmp: Any) -> None:
    if group.get("maximize", False):
        np.negative(g, out=g)


def _weight_decay(group: dict, p: Any, g: Any, tmp: Any) -> None:
    """L2 regularisation: grad += weight_decay * p (AdamW's decoupled decay is applied by its rule instead)."""
    wd = group.get("weight_decay", 0)
    if wd != 0 and not group.get("decoupled_weight_decay", False):
        np.multiply(p, wd, out=tmp)
        g += tmp


def _l1(group: dict, p: Any, g: Any, tmp: Any) -> None:
    """L1 regularisation (lasso): grad += l1 * sign(p), the gradient of l1 * sum(|p|) (sign(0) = 0)."""
    l1 = group.get("l1", 0)
    if l1 != 0:
        np.sign(p, out=tmp)
        tmp *= l1
        g += tmp


class Optimizer:
    """Base class: param groups with per-group options, flat buffers, and PyTorch's state_dict layout.

    Subclasses define `_update(group, blk, count) -> new count`: the per-parameter rule applied to one block of
    the flat buffers (every parameter in it has counter `count`), after `grad_hooks` edited the block's grad.
    """

    # Regularizers: small hooks that edit the (flat copy of the) gradient before the rule, in this order.
    grad_hooks: tuple[Callable, ...] = (_maximize, _weight_decay, _l1)
    _state_names: tuple[str, ...] = ()  # flat state buffers reported in state_dict, in order
    _has_step = True  # whether "step" is part of the per-parameter state
    _grad_read_only = False  # the rule never writes to blk.g, so a block may read a gradient in place
    _eager_state = False  # state exists before the first step (Adagrad)

    def __init__(self, params: Any, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._flats: list[list[_Flat]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or dicts, got a "
                            f"single Tensor; wrap it in a list")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- param groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with "params" and optional per-group options)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be an ordered collection (a set's order changes "
                            f"between runs); use a list")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
            if p._data.dtype.kind != "f":
                raise TypeError(f"{name}: parameters must be floating point, got dtype {p._data.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        group["params"] = params
        self.param_groups.append(group)
        # One flat buffer per (array module, dtype): a buffer holds a single dtype on a single device.
        buckets: dict = {}
        for i, p in enumerate(params):
            key = (backend.get_array_module(p._data).__name__, p._data.dtype.str)
            buckets.setdefault(key, []).append(i)
        flats = [_Flat([params[i] for i in idx], idx) for idx in buckets.values()]
        for flat in flats:
            flat.group = group
        self._flats.append(flats)
        if self._eager_state:
            for flat in flats:
                self._init_state(group, flat)

    def _init_state(self, group: dict, flat: _Flat, seg: slice = slice(None)) -> None:
        """Create the state of `flat[seg]` that exists before the first step (for `_eager_state`)."""

    # --- the step -------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set them to None (default) or to new zero arrays."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    # Grads may share memory with other arrays, so they are replaced, never zeroed in place.
                    p.grad = Tensor(backend.get_array_module(p.grad._data).zeros_like(p.grad._data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a grad; returns closure() if a closure is given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        who = type(self).__name__
        state_map = self.__dict__.get("_state_map")
        if state_map is not None:
            state_map.sync()  # edits of state[p]["step"]
        for group, flats in zip(self.param_groups, self._flats):
            # The default hooks do nothing unless the group asks for an edit: then they are skipped.
            hooks = () if self.grad_hooks is Optimizer.grad_hooks and not _edits_grad(group) \
                else self.grad_hooks
            borrow = self._grad_read_only and not hooks
            for flat in flats:
                srcs, missing = flat.grads(who)
                if missing is not None and len(missing) == len(flat.params):
                    continue
                for plan, ps, count in flat.runs(missing):
                    new = count
                    for lo, hi, pieces in plan:
                        blk = _Block(flat, lo, hi, pieces, srcs, borrow)
                        if hooks:
                            tmp = blk.tmp(0)
                            for hook in hooks:
                                hook(group, blk.p, blk.g, tmp)
                        new = self._update(group, blk, count)
                    flat.count[ps] = new
                if missing is not None:
                    flat.refresh_uniform()
                # The update wrote the parameters in place: count it, as PyTorch does, so a graph recorded before
                # step() that saved a parameter refuses to backpropagate with the new values.
                _t._epoch += 1
                stamp = _t._epoch
                for i, p in enumerate(flat.params):
                    if missing is None or i not in missing:
                        v = getattr(p, "_vc", None)
                        if type(v) is list:  # the common case after the first step: a parameter's own counter
                            v[0] = stamp
                            v[1] += 1
                        else:
                            _bump(p)
        if state_map is not None:
            state_map.refresh()  # step tensors held by the caller follow the counters
        return loss

    def _update(self, group: dict, blk: _Block, count: int) -> int:  # pragma: no cover
        raise NotImplementedError

    def _scalar_state(self, group: dict, count: int) -> dict:
        """Per-parameter scalars PyTorch keeps in the state (NAdam's mu_product, ASGD's eta and mu).

        Here they are functions of the step count, so they are derived for state_dict, not stored.
        """
        return {}

    # --- state ----------------------------------------------------------------------------------------
    def _has_state(self, flat: _Flat, j: int) -> bool:
        return self._eager_state or bool(flat.count[j] > 0)

    def _param_state(self, flat: _Flat, j: int, copy: bool) -> dict:
        """One parameter's state: step and named arrays shaped like the parameter (copies or live views)."""
        return _state.param_state(self, flat, j, copy)

    @property
    def state(self) -> Any:
        """{parameter: its state}, persistent and live as PyTorch's (optim/state.py)."""
        found = self.__dict__.get("_state_map")
        if found is None:
            found = self._state_map = _state.OptimizerState(self)
        return found

    def state_dict(self) -> dict:
        """{"state": {index: {name: Tensor}}, "param_groups": [{options..., "params": [indices]}]}, as PyTorch's.

        Tensors are copies, so a checkpoint taken mid-run does not change as training continues.
        """
        state: dict = {}
        groups = []
        start = 0
        for group, flats in zip(self.param_groups, self._flats):
            packed = {k: (list(v) if isinstance(v, list) else v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            groups.append(packed)
            for flat in flats:
                for j, i in enumerate(flat.index):
                    st = self._param_state(flat, j, copy=True) if self._has_state(flat, j) else {}
                    st.update(_state.extra_state(self, flat.params[j]))  # a custom optimizer's own keys
                    if st:
                        state[start + i] = st
            start += len(group["params"])
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by `state_dict` (copied into the flat buffers)."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {gi} has {len(saved['params'])} "
                                 f"parameters in the state dict but {len(group['params'])} in the optimizer")
        # Keys may have become strings on a trip through JSON.
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        for group, flats, saved in zip(self.param_groups, self._flats, saved_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if k == "betas" else v
            for flat in flats:
                for j, i in enumerate(flat.index):
                    st = saved_state.get(int(saved["params"][i]))
                    self._load_param_state(group, flat, j, st)
                    _state.load_extra(self, flat.params[j], st, {"step", *self._state_names,
                                                                  *self._scalar_state(group, 1)})
                flat.refresh_uniform()

    def _load_param_state(self, group: dict, flat: _Flat, j: int, st: dict | None) -> None:
        name = type(self).__name__
        seg, shape = flat.segment(j), flat.views[j].shape
        if st is None:
            flat.count[j] = 0
            for buf in flat.state.values():
                buf[seg] = 0
            if self._eager_state:
                self._init_state(group, flat, seg)
            return
        for key in self._state_names:
            if key not in st:
                if key in flat.state:
                    flat.state[key][seg] = 0
                continue
            arr = _host(st[key])
            if arr.shape != shape:
                raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {flat.index[j]} has "
                                 f"shape {arr.shape}, the parameter has shape {shape}")
            flat.buffer(key)[seg] = flat.xp.asarray(arr.reshape(-1), dtype=flat.data.dtype)
        if self._has_step:
            flat.count[j] = int(float(_host(st["step"])))
        else:
            flat.count[j] = int(any(key in st for key in self._state_names))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _lerp_(a: Any, b: Any, w: float, tmp: Any) -> None:
    """a <- a + w * (b - a) in place, with PyTorch's formula (the other form for w >= 0.5, exact at w = 1)."""
    if abs(w) < 0.5:
        np.subtract(b, a, out=tmp)
        tmp *= w
        a += tmp
    else:
        np.subtract(b, a, out=tmp)
        # PyTorch computes 1 - w in the tensor's precision.
        tmp *= a.dtype.type(1) - a.dtype.type(w)
        np.subtract(b, tmp, out=a)


def _host(value: Any) -> np.ndarray:
    """A saved state value (Tensor, NumPy or device array, number) as a NumPy array."""
    return backend.to_numpy(value._data if isinstance(value, Tensor) else value)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def scalar_f32(x: float) -> float:
    """x rounded as PyTorch stores per-parameter scalar state: in float32 unless the default is float64."""
    return x if backend.default_dtype() == np.float64 else float(np.float32(x))


def noop_options(foreach: bool | None, fused: bool | None, capturable: bool, differentiable: bool) -> dict:
    """PyTorch's implementation switches, kept in the param groups for state_dict parity.

    They select among PyTorch's kernels; descend has one implementation (whole-buffer updates), so they change
    nothing: `foreach` and `fused` are always in effect in spirit, `capturable` concerns CUDA graphs and
    `differentiable` autograd through the step, neither of which descend offers.
    """
    return dict(foreach=foreach, fused=fused, capturable=capturable, differentiable=differentiable)


ParamsT = Iterable[Tensor] | Iterable[dict]
