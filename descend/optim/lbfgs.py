"""L-BFGS with PyTorch's closure API, iteration rules and optional strong-Wolfe line search.

Unlike the other optimizers, a step re-evaluates the model several times, so `step(closure)` needs a
closure that zeroes the gradients, computes the loss, calls backward and returns the loss. All parameters
are handled as one flat vector (one param group, as in PyTorch).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend
from descend.optim.optimizer import Optimizer, ParamsT, _check, noop_options
from descend._tensor import enable_grad


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), kept within bounds."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = d2_square ** 0.5
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


def _strong_wolfe(obj: Callable, t: float, d: Any, f: float, g: Any, gtd: float, c1: float = 1e-4,
                  c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple:
    """Step length t along d satisfying the strong Wolfe conditions: bracket, then zoom.

    obj(t) evaluates (loss, flat grad) at x + t d. Returns (loss, grad, t, evaluations). A point of the
    search is [t, loss, grad, directional derivative].
    """
    points, done, evals, ls_iter = _bracket(obj, t, d, [0.0, f, g, gtd], c1, c2, max_ls)
    if done:
        best = points[0]
    else:
        best, evals = _zoom(obj, points, d, f, gtd, c1, c2, tolerance_change, max_ls, evals, ls_iter)
    return best[1], best[2], best[0], evals


def _bracket(obj: Callable, t: float, d: Any, start: list, c1: float, c2: float, max_ls: int) -> tuple:
    """Grow the step until an interval [t_prev, t] contains an acceptable step, or t itself is one."""
    f, gtd = start[1], start[3]
    prev = [start[0], start[1], start[2].copy(), start[3]]
    f_new, g_new = obj(t)
    evals, ls_iter = 1, 0
    new = [t, f_new, g_new, float(g_new @ d)]
    while ls_iter < max_ls:
        if new[1] > f + c1 * t * gtd or (ls_iter > 1 and new[1] >= prev[1]):
            return [prev, [t, new[1], new[2].copy(), new[3]]], False, evals, ls_iter
        if abs(new[3]) <= -c2 * gtd:
            return [new], True, evals, ls_iter
        if new[3] >= 0:
            return [prev, [t, new[1], new[2].copy(), new[3]]], False, evals, ls_iter
        min_step, max_step = t + 0.01 * (t - prev[0]), t * 10
        t = _cubic_interpolate(prev[0], prev[1], prev[3], t, new[1], new[3], bounds=(min_step, max_step))
        prev = [new[0], new[1], new[2].copy(), new[3]]
        f_new, g_new = obj(t)
        evals += 1
        ls_iter += 1
        new = [t, f_new, g_new, float(g_new @ d)]
    return [start, new], False, evals, ls_iter  # out of evaluations: the bracket is [0, t]


def _zoom(obj: Callable, points: list, d: Any, f: float, gtd: float, c1: float, c2: float,
          tolerance_change: float, max_ls: int, evals: int, ls_iter: int) -> tuple:
    """Shrink the bracket by cubic interpolation until a step satisfies the strong Wolfe conditions."""
    d_norm = float(np.abs(d).max())
    insufficient = False
    low, high = (0, 1) if points[0][1] <= points[-1][1] else (1, 0)
    while ls_iter < max_ls:
        if abs(points[1][0] - points[0][0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(points[0][0], points[0][1], points[0][3], points[1][0], points[1][1], points[1][3])
        top, bottom = max(points[0][0], points[1][0]), min(points[0][0], points[1][0])
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            # Too close to an end of the bracket: step away from it, or give it one more chance.
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = obj(t)
        evals += 1
        ls_iter += 1
        new = [t, f_new, g_new.copy(), float(g_new @ d)]
        if f_new > f + c1 * t * gtd or f_new >= points[low][1]:
            points[high] = new
            low, high = (0, 1) if points[0][1] <= points[1][1] else (1, 0)
            continue
        if abs(new[3]) <= -c2 * gtd:
            points[low] = new
            break
        if new[3] * (points[high][0] - points[low][0]) >= 0:
            points[high] = points[low]
        points[low] = new
    return points[low], evals


class LBFGS(Optimizer):
    """Limited-memory BFGS (PyTorch's torch.optim.LBFGS): up to max_iter iterations per `step(closure)`.

    line_search_fn None takes fixed steps of lr (the first one scaled by min(1, 1/|g|_1)); 'strong_wolfe'
    searches the step length. foreach, fused, capturable and differentiable change nothing.
    """

    _state_names = ()

    def __init__(self, params: ParamsT, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None, *, foreach: bool | None = None, fused: bool | None = None,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check(lr >= 0.0, f"LBFGS: invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: only line_search_fn='strong_wolfe' (or None) is supported, got "
                             f"{line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn, **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._lbfgs: dict = {"func_evals": 0, "n_iter": 0}

    # --- the parameters as one vector -------------------------------------------------------------
    def _flat_grad(self) -> Any:
        parts = []
        for p in self._params:
            g = p.grad._data if p.grad is not None else backend.get_array_module(p._data).zeros_like(p._data)
            parts.append(g.reshape(-1))
        return backend.get_array_module(parts[0]).concatenate(parts)

    def _add_to_params(self, t: float, d: Any) -> None:
        pos = 0
        for p in self._params:
            n = p._data.size
            p._data += (t * d[pos:pos + n]).reshape(p._data.shape).astype(p._data.dtype, copy=False)
            pos += n

    def _get_params(self) -> list:
        return [p._data.copy() for p in self._params]

    def _set_params(self, values: list) -> None:
        for p, v in zip(self._params, values):
            p._data[...] = v

    def _evaluate(self, closure: Callable, x: list, t: float, d: Any) -> tuple[float, Any]:
        """(loss, flat grad) at x + t d; the parameters are restored to x afterwards."""
        self._add_to_params(t, d)
        with enable_grad():
            loss = float(closure())
        g = self._flat_grad()
        self._set_params(x)
        return loss, g

    # --- the step ------------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that re-evaluates the model and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        state = self._lbfgs
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if float(np.abs(g).max()) <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -g, [], [], [], 1.0
            else:
                d, h_diag = self._direction(g, prev_g, d, t, old_dirs, old_stps, ro, h_diag,
                                            group["history_size"])
            prev_g = g.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr
            else:
                t = lr
            gtd = float(g @ d)
            if gtd > -tol_change:  # not a descent direction
                break
            loss, g, t, ls_evals, opt_cond = self._move(closure, group, loss, g, t, d, gtd,
                                                        last=n_iter == max_iter)
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if float(np.abs(d * t).max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss

    def _move(self, closure: Callable, group: dict, loss: float, g: Any, t: float, d: Any, gtd: float,
              last: bool) -> tuple:
        """Step along d (by t, or by a strong-Wolfe search); (loss, grad, t, evaluations, converged)."""
        tol_grad = group["tolerance_grad"]
        if group["line_search_fn"] == "strong_wolfe":
            x0 = self._get_params()
            loss, g, t, evals = _strong_wolfe(lambda step: self._evaluate(closure, x0, step, d), t, d, loss, g,
                                              gtd, tolerance_change=group["tolerance_change"])
            self._add_to_params(t, d)
            return loss, g, t, evals, float(np.abs(g).max()) <= tol_grad
        self._add_to_params(t, d)
        if last:  # PyTorch skips the re-evaluation after the last iteration
            return loss, g, t, 0, False
        with enable_grad():
            loss = float(closure())
        g = self._flat_grad()
        return loss, g, t, 1, float(np.abs(g).max()) <= tol_grad

    @staticmethod
    def _direction(g: Any, prev_g: Any, d: Any, t: float, old_dirs: list, old_stps: list, ro: list,
                   h_diag: float, history_size: int) -> tuple[Any, float]:
        """Update the curvature history with the last step, then the two-loop recursion: -H g."""
        y = g - prev_g
        s = d * t
        ys = float(y @ s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            h_diag = ys / float(y @ y)
        al = [0.0] * len(old_dirs)
        q = -g
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q = q - al[i] * old_dirs[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            be_i = float(old_dirs[i] @ r) * ro[i]
            r = r + (al[i] - be_i) * old_stps[i]
        return r, h_diag

    # --- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """PyTorch's layout: the whole L-BFGS state under the first parameter (index 0)."""
        st = {k: (v.copy() if isinstance(v, np.ndarray) else list(v) if isinstance(v, list) else v)
              for k, v in self._lbfgs.items()}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        return {"state": {0: st}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict["param_groups"][0]
        for k, v in saved.items():
            if k != "params":
                self.param_groups[0][k] = v
        st = dict({int(k): v for k, v in state_dict["state"].items()}.get(0, {}))
        st.setdefault("func_evals", 0)
        st.setdefault("n_iter", 0)
        self._lbfgs = st

    @property
    def state(self) -> dict:  # type: ignore[override]
        return {self._params[0]: self._lbfgs}
