"""Probe registry and comparison: each probe is one PyTorch idiom, run under torch and under descend.

A probe is a function of the library module (`torch` or `descend`, passed in as `torch`). It returns
something comparable (tensors, dtypes, devices, numbers, strings, containers of them) or raises. The
harness runs it under both libraries and compares the results recursively:

- tensors by values (allclose, NaN equal to NaN, per-probe tolerances), dtype name, shape and
  requires_grad; NumPy arrays by values, dtype and shape;
- dtypes by name without the library prefix, devices by str();
- Python scalars by exact type (int, float, bool, str, None) and value (floats within tolerance);
- tuples (torch.Size and structseqs count as tuples), lists, dicts (with their key order) structurally;
- classes by name, any other object by its class name;
- when torch raises, descend must raise an instance of the nearest built-in class in the MRO of
  torch's exception (RuntimeError, TypeError, ValueError, IndexError, ...).

A probe declared with `raises=True` must raise under torch; one without must not (otherwise the probe
itself is wrong and its test fails with "probe bug").
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import math
import os
import signal
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

try:
    import resource
except ImportError:  # not POSIX: no caps
    resource = None

REGISTRY: dict[str, "Probe"] = {}
MEMORY_HEADROOM = 2 << 30  # bytes of new address space a probe may take under descend
TIME_LIMIT_S = 60

PROBE_MODULES = [
    "tests.probes.probes_tensor_basics",
    "tests.probes.probes_tensor_dtypes",
    "tests.probes.probes_tensor_inplace",
    "tests.probes.probes_tensor_inplace_grad",
    "tests.probes.probes_tensor_autograd",
    "tests.probes.probes_tensor_hooks",
    "tests.probes.probes_tensor_ops",
    "tests.probes.probes_tensor_reduce",
    "tests.probes.probes_tensor_shape",
    "tests.probes.probes_tensor_errors",
    "tests.probes.probes_tensor_edge",
    "tests.probes.probes_nn_layers",
    "tests.probes.probes_nn_module",
    "tests.probes.probes_nn_losses",
    "tests.probes.probes_optim",
    "tests.probes.probes_sched",
    "tests.probes.probes_data",
    "tests.probes.probes_save",
    "tests.probes.probes_scripts",
    "tests.probes.probes_scripts2",
    "tests.probes.probes_scripts3",
    "tests.probes.probes_layers2",
]


@dataclass
class Probe:
    """One idiom: the function, its area and how to compare its result."""

    name: str
    area: str
    func: Callable[[Any], Any]
    rtol: float = 1e-4
    atol: float = 1e-5
    raises: bool = False


def probe(area: str, rtol: float = 1e-4, atol: float = 1e-5, raises: bool = False):
    """Register the decorated function as a probe named `<area>.<function name>`."""
    def register(func):
        name = f"{area}.{func.__name__}"
        if name in REGISTRY:
            raise ValueError(f"duplicate probe name {name!r}")
        REGISTRY[name] = Probe(name, area, func, rtol, atol, raises)
        return func
    return register


def probes(area: str, table: dict[str, Callable[[Any], Any]], rtol: float = 1e-4, atol: float = 1e-5,
           raises: bool = False) -> None:
    """Register a table of one-line probes {name: lambda torch: ...} under one area."""
    for name, func in table.items():
        func.__name__ = name
        probe(area, rtol=rtol, atol=atol, raises=raises)(func)


def load_all() -> dict[str, Probe]:
    """Import every probe module (registering its probes) and return the registry."""
    for module in PROBE_MODULES:
        importlib.import_module(module)
    return REGISTRY


# ---- deterministic inputs (NumPy, so both libraries see the same numbers) ----

def arr(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """A float32 array of the given shape, uniform in [low, high), the same for every run."""
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def grad(fn: Callable[[Any], Any], x):
    """Backpropagate the sum of fn(x) and return x.grad (x: a leaf that requires grad)."""
    fn(x).sum().backward()
    return x.grad


def fill(torch, module, seed: int = 0, scale: float = 0.5):
    """Set every parameter of `module` to fixed values (the same under both libraries); return it.

    Under descend this writes the raw arrays, so a probe about a layer does not also depend on
    the in-place tensor API that PyTorch's version of this helper uses.
    """
    for i, (_, p) in enumerate(module.named_parameters()):
        values = arr(*tuple(p.shape), seed=seed + i, low=-scale, high=scale)
        if torch.__name__ == "torch":
            with torch.no_grad():
                p.copy_(torch.from_numpy(values).to(p.dtype))
        else:
            p._data[...] = values.astype(p._data.dtype)
    return module


def reset(torch) -> None:
    """Undo global state a probe may have changed (default dtype, grad mode)."""
    for call in (lambda: torch.set_default_dtype(torch.float32),
                 lambda: torch.set_grad_enabled(True)):
        try:
            call()
        except Exception:  # noqa: BLE001 — a library lacking the setter has nothing to reset
            pass


# ---- running and canonicalising results ----

@dataclass
class Raised:
    """A probe's exception, by its nearest built-in class."""

    builtin: type
    exc: BaseException


class Threw(Raised):
    """The probe itself raised (as opposed to returning a `raised(...)` result)."""


def nearest_builtin(exc_type: type) -> type:
    for cls in exc_type.__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls
    return Exception


@contextlib.contextmanager
def _guarded(lib):
    """Under the library being tested, cap new address space and time, so that a probe of
    e.g. a sampler that draws 1e10 indices eagerly fails with MemoryError instead of taking
    the machine down, and a hang fails the probe instead of the suite."""
    main = threading.current_thread() is threading.main_thread()
    if lib.__name__ == "torch" or resource is None or not main:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * page
    cap = in_use + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    previous = signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(TIME_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _timed_out(signum, frame):
    raise TimeoutError(f"probe ran over {TIME_LIMIT_S} s")


def run(p: Probe, lib) -> Any:
    """Run probe `p` with library module `lib`; return its canonical result or a Raised."""
    reset(lib)
    try:
        with warnings.catch_warnings(), _guarded(lib):
            warnings.simplefilter("ignore")
            out = p.func(lib)
        return canon(out, lib)
    except Exception as exc:  # noqa: BLE001 — an exception is a result to compare
        return Threw(nearest_builtin(type(exc)), exc)
    finally:
        reset(lib)


def _is_tensor(obj, lib) -> bool:
    return isinstance(obj, lib.Tensor) if hasattr(lib, "Tensor") else False


def _tensor_array(obj, lib) -> np.ndarray:
    if lib.__name__ == "torch":
        t = obj.detach().cpu()
        if t.dtype == lib.bfloat16:
            t = t.float()
        return t.resolve_conj().resolve_neg().numpy()
    raw = obj._data
    return raw.get() if hasattr(raw, "get") else np.asarray(raw)


def dtype_name(d) -> str:
    s = str(d)
    for prefix in ("torch.", "descend."):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s


def _is_dtype(obj, lib) -> bool:
    if lib.__name__ == "torch":
        return isinstance(obj, lib.dtype)
    return isinstance(obj, np.dtype) or (type(obj).__name__.lower() == "dtype"
                                         and not isinstance(obj, str))


def raised(fn: Callable[[], Any]) -> Any:
    """Run fn; its exception as a comparable result (same built-in class needed), or 'no error'."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 — an exception is a result to compare
        return Raised(nearest_builtin(type(exc)), exc)
    return "no error"


def canon(obj, lib):
    """Turn a probe's result into plain comparable values."""
    if isinstance(obj, Raised):
        return obj
    if _is_tensor(obj, lib):
        return ("tensor", _tensor_array(obj, lib), dtype_name(obj.dtype), tuple(obj.shape),
                bool(obj.requires_grad))
    if isinstance(obj, (bool, int, float, str, type(None))):
        return obj
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj, str(obj.dtype), obj.shape)
    if isinstance(obj, np.generic):
        return ("npscalar", str(obj.dtype), obj.item())
    if _is_dtype(obj, lib):
        return ("dtype", dtype_name(obj))
    if type(obj).__name__ == "device":
        return ("device", str(obj))
    if isinstance(obj, tuple) or type(obj).__module__ == "torch.return_types":
        return tuple(canon(o, lib) for o in obj)
    if isinstance(obj, list):
        return [canon(o, lib) for o in obj]
    if isinstance(obj, dict):
        return ("dict", [(canon(k, lib), canon(v, lib)) for k, v in obj.items()])
    if isinstance(obj, (set, frozenset)):
        return ("set", sorted(repr(canon(o, lib)) for o in obj))
    if isinstance(obj, type):
        return ("class", obj.__name__)
    return ("object", type(obj).__name__)


def compare(ref, got, rtol: float, atol: float, path: str = "result") -> str | None:
    """None when `got` (descend) matches `ref` (torch), else a one-line account of the difference."""
    if isinstance(ref, Raised):
        if not isinstance(got, Raised):
            return (f"{path}: torch raises {ref.builtin.__name__} ({str(ref.exc)[:80]}), "
                    f"descend returns {_short(got)}")
        if not isinstance(got.exc, ref.builtin):
            return (f"{path}: torch raises {ref.builtin.__name__}, descend raises "
                    f"{type(got.exc).__name__}: {str(got.exc)[:100]}")
        return None
    if isinstance(got, Raised):
        return f"{path}: descend raises {type(got.exc).__name__}: {str(got.exc)[:160]}"
    if isinstance(ref, tuple) and ref and ref[0] in ("tensor", "ndarray"):
        if not (isinstance(got, tuple) and got and got[0] == ref[0]):
            return f"{path}: torch gives a {ref[0]}, descend {_short(got)}"
        names = ("kind", "values", "dtype", "shape", "requires_grad")
        for name, a, b in list(zip(names, ref, got))[2:]:
            if a != b:
                return f"{path}: {name} torch {a}, descend {b}"
        return _compare_values(ref[1], got[1], rtol, atol, path)
    if type(ref) is not type(got):
        return (f"{path}: torch gives {type(ref).__name__} {_short(ref)}, "
                f"descend {type(got).__name__} {_short(got)}")
    if isinstance(ref, float):
        if math.isnan(ref) and math.isnan(got):
            return None
        if not math.isclose(ref, got, rel_tol=rtol, abs_tol=atol) and ref != got:
            return f"{path}: torch {ref!r}, descend {got!r}"
        return None
    if isinstance(ref, (tuple, list)):
        if len(ref) != len(got):
            return (f"{path}: length torch {len(ref)}, descend {len(got)} "
                    f"({_short(ref)} vs {_short(got)})")
        if ref and ref[0] == "dict" and len(ref) == 2 and isinstance(ref[1], list):
            keys_ref = [k for k, _ in ref[1]]
            keys_got = [k for k, _ in got[1]]
            if keys_ref != keys_got:
                return f"{path}: dict keys torch {keys_ref}, descend {keys_got}"
            for (k, a), (_, b) in zip(ref[1], got[1]):
                diff = compare(a, b, rtol, atol, f"{path}[{k!r}]")
                if diff:
                    return diff
            return None
        for i, (a, b) in enumerate(zip(ref, got)):
            diff = compare(a, b, rtol, atol, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if ref != got:
        return f"{path}: torch {_short(ref)}, descend {_short(got)}"
    return None


def _compare_values(a: np.ndarray, b: np.ndarray, rtol: float, atol: float, path: str) -> str | None:
    if a.shape != b.shape:
        return f"{path}: shape torch {a.shape}, descend {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        # complex values compare as complex (a cast to float64 would drop the imaginary parts)
        wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
        ok = np.allclose(a.astype(wide), b.astype(wide), rtol=rtol, atol=atol, equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    if not ok:
        return f"{path}: values torch {_short(a)}, descend {_short(b)}"
    return None


def _short(x) -> str:
    if isinstance(x, Raised):
        return f"raise {type(x.exc).__name__}"
    s = np.array2string(x, precision=5, threshold=8) if isinstance(x, np.ndarray) else repr(x)
    return s if len(s) <= 120 else s[:117] + "..."


_CACHE: dict[str, str | None] = {}


def check(name: str, torch_lib, descend_lib) -> str | None:
    """Run probe `name` under both libraries (once per session); None if they agree, else why not."""
    if name not in _CACHE:
        p = REGISTRY[name]
        ref = run(p, torch_lib)
        if p.raises != isinstance(ref, Threw):
            threw = isinstance(ref, Threw)
            what = f"raises {type(ref.exc).__name__}: {ref.exc}" if threw else "does not raise"
            _CACHE[name] = f"probe bug: under torch it {what}"
        else:
            _CACHE[name] = compare(ref, run(p, descend_lib), p.rtol, p.atol)
    return _CACHE[name]
