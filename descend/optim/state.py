"""`optimizer.state`: PyTorch's per-parameter state mapping over descend's flat buffers, persistent and
writable.

`optimizer.state[p]` is the same object on every access. Its built-in entries are live: a buffer such as
`exp_avg` is a tensor viewing the optimizer's flat buffer (in-place edits and assignments reach it) and `step`
a 0-d tensor whose edits (`state[p]["step"] += 10`, `.zero_()`) the next `step()` takes up. Other keys (a
custom optimizer's own state) are kept as given, as in PyTorch's dict; `del` and `clear()` reset the state,
so the next step starts it afresh.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from copy import deepcopy
from typing import Any, Iterator

import numpy as np

from descend import backend
from descend._tensor import Tensor


class ParamState(MutableMapping):
    """One parameter's state (see the module docstring)."""

    def __init__(self, opt: Any, flat: Any, j: int) -> None:
        self.opt, self.flat, self.j = opt, flat, j
        self.extra: dict = {}
        self._views: dict = {}  # name -> (the buffer it views, the tensor)
        self._step: Tensor | None = None
        self._step_seen = 0  # the counter value last written into the step tensor
        self._pinned = False

    def _live(self) -> bool:
        # A step the user set to 0 leaves the state in place (the counter alone would read as "no state").
        return self._pinned or self.opt._has_state(self.flat, self.j)

    def _builtin(self) -> list[str]:
        if not self._live():
            return []
        names = ["step"] + list(self.opt._scalar_state(self.flat.group, int(self.flat.count[self.j]))) \
            if self.opt._has_step else []
        return names + [n for n in self.opt._state_names if n in self.flat.state]

    def sync_step(self) -> None:
        """Reconcile the step tensor and the counter: an edit of the tensor since it was last set wins (called
        before each optimizer step and on every read); otherwise the tensor follows the counter."""
        if self._step is None or not self._live():
            return
        value = float(self._step._data)
        if value != self._step_seen:
            self.flat.count[self.j] = int(value)
            self.flat.refresh_uniform()
            self._pinned = True
        self._step_seen = int(self.flat.count[self.j])
        self._step._data[...] = self._step_seen

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key not in self._builtin():
            raise KeyError(key)
        if key in self.opt._state_names:
            buf = self.flat.state[key]
            cached = self._views.get(key)
            if cached is None or cached[0] is not buf:
                view = buf[self.flat.segment(self.j)].reshape(self.flat.views[self.j].shape)
                cached = self._views[key] = (buf, Tensor(view))
            return cached[1]
        count = int(self.flat.count[self.j])
        if key == "step":
            if self._step is None:
                self._step = Tensor(np.zeros((), dtype=backend.default_dtype()))
                self._step_seen = count
                self._step._data[...] = count
            self.sync_step()
            return self._step
        value = self.opt._scalar_state(self.flat.group, count)[key]
        return Tensor(np.asarray(value, dtype=backend.default_dtype()))

    def _builtin_rule(self) -> bool:
        """Whether the optimizer's own update runs (not a custom step() that keeps its own keys)."""
        from descend.optim.optimizer import Optimizer
        return type(self.opt)._update is not Optimizer._update

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self.opt._state_names:
            seg = self.flat.segment(self.j)
            arr = backend.to_numpy(value._data if isinstance(value, Tensor) else value)
            self.flat.buffer(key)[seg] = self.flat.xp.asarray(arr, dtype=self.flat.data.dtype).reshape(-1)
            if not self._live():  # state given to a parameter without any: it now has state
                self._pinned = True
                if not self.opt._has_step:  # (SGD's counter says whether its buffer exists)
                    self.flat.count[self.j] = max(int(self.flat.count[self.j]), 1)
                    self.flat.refresh_uniform()
        elif key == "step" and self.opt._has_step and (self._live() or self._builtin_rule()):
            if value is self._step:  # `state[p]["step"] += 1` edited the tensor itself
                self.sync_step()
                return
            self.flat.count[self.j] = int(float(backend.to_numpy(value._data if isinstance(value, Tensor)
                                                                   else value)))
            self.flat.refresh_uniform()
            self._pinned = True
            if self._step is not None:
                self._step_seen = int(self.flat.count[self.j])
                self._step._data[...] = self._step_seen
        else:
            self.extra[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self.extra:
            del self.extra[key]
        elif key in self._builtin():
            self.reset()
        else:
            raise KeyError(key)

    def reset(self) -> None:
        """No state: the next step starts it as for a new parameter (tensors handed out before keep their
        values, as PyTorch's old state tensors do)."""
        for _, view in self._views.values():
            view._data = view._data.copy()
        self._views.clear()
        self._step = None
        self.extra.clear()
        self._pinned = False
        self.opt._load_param_state(self.flat.group, self.flat, self.j, None)
        self.flat.refresh_uniform()

    def __iter__(self) -> Iterator[str]:
        return iter(self._builtin() + [k for k in self.extra if k not in self._builtin()])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class OptimizerState(MutableMapping):
    """{parameter: its state}, PyTorch's defaultdict: indexing a parameter without state gives an empty one."""

    def __init__(self, opt: Any) -> None:
        self.opt = opt
        self._per: dict = {}   # id(param) -> ParamState
        self._other: dict = {}  # id(key) -> (key, dict) for keys that are not this optimizer's parameters

    def _where(self) -> dict:
        return {id(p): (flat, j, p) for flats in self.opt._flats for flat in flats for j, p in enumerate(flat.params)}

    def __getitem__(self, key: Any) -> Any:
        found = self._per.get(id(key))
        if found is not None:
            return found
        where = self._where().get(id(key))
        if where is None:
            return self._other.setdefault(id(key), (key, {}))[1]
        found = self._per[id(key)] = ParamState(self.opt, where[0], where[1])
        return found

    def __setitem__(self, key: Any, value: dict) -> None:
        state = self[key]
        if isinstance(state, ParamState):
            state.reset()
            for k, v in dict(value).items():
                state[k] = v
        else:
            self._other[id(key)] = (key, dict(value))

    def __delitem__(self, key: Any) -> None:
        state = self[key]
        if isinstance(state, ParamState):
            state.reset()
        else:
            del self._other[id(key)]

    def __iter__(self) -> Iterator[Any]:
        for flat, j, p in self._where().values():
            st = self._per.get(id(p))  # (looked up, not created: iterating adds no entries)
            if (len(st) if st is not None else self.opt._has_state(flat, j)):
                yield p
        for key, _ in list(self._other.values()):
            yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        # As a defaultdict: a parameter once indexed is in it, even with no state yet.
        return id(key) in self._per or id(key) in self._other or any(k is key for k in self)

    def clear(self) -> None:
        for flat, j, p in self._where().values():
            self[p].reset()
        self._other.clear()

    def sync(self) -> None:
        for state in self._per.values():
            state.sync_step()

    def refresh(self) -> None:
        """After a step: the step tensors handed out show the new counts."""
        for state in self._per.values():
            if state._step is not None:
                state._step_seen = int(state.flat.count[state.j])
                state._step._data[...] = state._step_seen

    def __repr__(self) -> str:
        return repr({k: self[k] for k in self})


def extra_state(opt: Any, p: Any) -> dict:
    """The keys a custom optimizer stored in state[p] itself, copied for a state dict."""
    found = opt.__dict__.get("_state_map")
    st = found._per.get(id(p)) if found is not None else None
    if st is None:
        return {}
    return {k: (v.detach().clone() if isinstance(v, Tensor) else v) for k, v in st.extra.items()}


def load_extra(opt: Any, p: Any, saved: dict | None, known: set) -> None:
    """Put a state dict's other keys back into state[p] (a custom optimizer's own state)."""
    if not saved:
        return
    extra = {k: v for k, v in saved.items() if k not in known}
    if extra:
        state = opt.state[p]
        for k, v in extra.items():
            state.extra[k] = v.clone() if isinstance(v, Tensor) else v


def param_state(opt: Any, flat: Any, j: int, copy: bool) -> dict:
    """One parameter's state as PyTorch lays it out: step (and the scalar state) as 0-d tensors of the scalar
    dtype, and each buffer shaped like the parameter (a live view, or a copy for a state dict, so a checkpoint
    taken mid-run does not change as training continues)."""
    out: dict = {}
    if opt._has_step:
        scalars = {"step": float(flat.count[j]), **opt._scalar_state(flat.group, int(flat.count[j]))}
        dtype = backend.default_dtype()
        out.update({k: Tensor(np.asarray(v, dtype=dtype)) for k, v in scalars.items()})
    seg, shape = flat.segment(j), flat.views[j].shape
    for name in opt._state_names:
        buf = flat.state.get(name)
        if buf is not None:
            arr = buf[seg].reshape(shape)
            out[name] = Tensor(arr.copy() if copy else arr)
    return out


def copy_flat(flat: Any, memo: dict) -> Any:
    """deepcopy of an optimizer's flat buffer: the array module is shared, and the copied parameters are made
    views of the copied buffer again (a deep copy of a view is a separate array)."""
    new = type(flat).__new__(type(flat))
    memo[id(flat)] = new
    new.__dict__.update({k: v if k == "xp" else deepcopy(v, memo) for k, v in flat.__dict__.items()})
    new.views = [new.data[a:b].reshape(v.shape) for v, a, b in zip(flat.views, flat.offsets, flat.offsets[1:])]
    for p, view in zip(new.params, new.views):
        p._data = view
    return new
