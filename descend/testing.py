"""`descend.testing.assert_close`: PyTorch's closeness check for tensors (and numbers, NumPy arrays, and lists,
tuples and dicts of them), with PyTorch's default tolerances per dtype, raising AssertionError with a summary
of the mismatch.

>>> import descend
>>> descend.testing.assert_close(descend.tensor([1.0, 2.0]), descend.tensor([1.0, 2.0 + 1e-7]))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend._tensor import Tensor

__all__ = ["assert_close"]

# (rtol, atol) by dtype, as torch.testing's defaults.
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _array(x: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(x._data)) if isinstance(x, Tensor) else np.asarray(x)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: Any = None) -> None:
    """Raise AssertionError unless |actual - expected| <= atol + rtol * |expected| everywhere (same shapes, and
    the same dtypes with check_dtype); rtol and atol are given together or default by dtype."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, "")


def _compare(actual: Any, expected: Any, rtol: Any, atol: Any, equal_nan: bool, check_dtype: bool, msg: Any,
             where: str) -> None:
    if isinstance(actual, Tensor) != isinstance(expected, Tensor):  # a tensor is compared with a tensor only
        raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                        f"{type(expected)}{where}.")
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            _fail(msg, f"The keys of the mappings do not match{where}")
        for k in expected:
            _compare(actual[k], expected[k], rtol, atol, equal_nan, check_dtype, msg, f"{where}, item [{k!r}]")
        return
    if isinstance(expected, (list, tuple)) and not isinstance(expected, Tensor):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            _fail(msg, f"The length of the sequences mismatch{where}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol, atol, equal_nan, check_dtype, msg, f"{where}, item [{i}]")
        return
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        _fail(msg, f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}{where}.")
    if check_dtype and isinstance(expected, Tensor) and a.dtype != e.dtype:
        _fail(msg, f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}{where}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(str(e.dtype), (0.0, 0.0)) if e.dtype.kind in "fcV" else (0.0, 0.0)
    af, ef = a.astype(np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64), \
        e.astype(np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64)
    ok = np.isclose(af, ef, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not ok.all():
        bad = int((~ok).sum())
        diff = np.abs(af - ef)
        diff = np.where(np.isnan(diff), np.inf, diff)
        i = np.unravel_index(int(np.argmax(np.where(ok, -1, diff))), a.shape) if a.ndim else ()
        kind = "Tensor-likes" if isinstance(expected, Tensor) else "Scalars" if a.ndim == 0 else "Tensor-likes"
        _fail(msg, f"{kind} are not close!{where}\n\nMismatched elements: {bad} / {a.size} "
                   f"({100.0 * bad / max(a.size, 1):.1f}%)\nGreatest absolute difference: {float(np.abs(af - ef).max())}"
                   f" at index {tuple(int(v) for v in i)} (up to {atol} allowed)\n(rtol {rtol}, atol {atol})")


def _fail(msg: Any, default: str) -> None:
    raise AssertionError(msg(default) if callable(msg) else (msg if msg is not None else default))
