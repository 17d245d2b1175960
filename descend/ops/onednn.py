"""oneDNN's direct convolutions, optional, through its C API (ctypes): the compiled kernel library the 2-D
float32 convolutions take when it is installed (`pip install onednn-cpu-gomp`, declared by descend).

OpenBLAS runs the thin products of an im2col lowering (16-64 channels: K = 48-576, N = 16-64) at 80-180
GFLOP/s; oneDNN's direct kernels read the channels-last input in place, with no im2col copy, and run the same
layers 2-2.5x faster (bench/README.md). descend's graph, autograd, layouts and every other op stay its own: a
convolution hands oneDNN the NumPy buffers of its input, weight and gradient, as it hands GEMMs to the BLAS.

Only float32 NumPy arrays, 2-D convolutions without groups, and large enough layers take this path; float64
(gradchecks), CuPy arrays, other shapes, `DESCEND_ONEDNN=0` or a missing library keep the NumPy lowering in
descend/ops/conv.py, and tests/test_onednn.py checks the two paths against each other and PyTorch. Once
oneDNN runs with several threads, NumPy's OpenBLAS is given one (see `_hand_over_threads`); a forked child
goes back to the NumPy lowering (GNU OpenMP does not survive a fork).

>>> from descend.ops import onednn
>>> with onednn.forced(False):
...     onednn.conv_plan((64, 16, 28, 28), (16, 16, 3, 3), (28, 28), (1, 1), ((1, 1), (1, 1)), (1, 1), True) is None
True
"""

from __future__ import annotations

import ctypes as C
import functools
import os
import sys
import threading
from collections import OrderedDict
from typing import Any, Optional

import numpy as np

from descend.ops import kernels

# Elements (of the input or the output, whichever is larger) below which a convolution keeps the NumPy path:
# loading the library costs ~0.1 s once, and MNIST-1D's and other small models never need it.
MIN_SIZE = 32_768
_CACHE_SIZE = 128  # plans kept; the least recently used leaves the cache (freed once no graph holds it)

# oneDNN v3 C API constants (dnnl_types.h / dnnl_common_types.h).
_CPU, _IN_ORDER, _F32, _ANY = 1, 1, 3, 1
_FWD_TRAINING, _DIRECT, _EXEC_ARG_MD, _IMPL_INFO = 0x40, 1, 255, 8
_JIT_CHANNELS, _STRIDED_JIT, _STRIDED_GEMM = 16, 32, 4  # channel counts of ConvPlan._preferred's rules
_SRC, _DST, _WEIGHTS, _BIAS = 1, 17, 33, 41
_DIFF_SRC, _DIFF_DST, _DIFF_WEIGHTS, _DIFF_BIAS = 129, 145, 161, 169

_P = C.c_void_p
_Dims = C.c_int64 * 12
_state: dict = {"lib": None, "forced": None, "plans": OrderedDict()}


class _Arg(C.Structure):
    _fields_ = [("arg", C.c_int), ("memory", _P)]


def _library_paths() -> list[str]:
    """Where the onednn-cpu-gomp wheel puts libdnnl (its data files go under the environment's prefix)."""
    names = ("libdnnl.so.3", "libdnnl.so")
    return [os.path.join(root, "lib", name) for root in dict.fromkeys((sys.prefix, sys.base_prefix))
            for name in names]


def _lib() -> Any:
    """The loaded library with its engine and stream, or False when oneDNN is unavailable or switched off."""
    if _state["lib"] is None:
        _state["lib"] = False
        if os.environ.get("DESCEND_ONEDNN", "1") == "0":
            return False
        for path in _library_paths():
            if os.path.exists(path):
                try:
                    lib = C.CDLL(path)
                    _declare(lib)
                    engine, stream = _P(), _P()
                    _check(lib.dnnl_engine_create(C.byref(engine), _CPU, C.c_size_t(0)), "engine")
                    _check(lib.dnnl_stream_create(C.byref(stream), engine, C.c_uint(_IN_ORDER)), "stream")
                except (OSError, AttributeError, RuntimeError):  # another build or ABI: the NumPy path serves
                    continue
                lib.engine, lib.stream = engine, stream
                _state["lib"] = lib
                _hand_over_threads()
                break
    return _state["lib"]


def _forked() -> None:
    """In a forked child the parent's OpenMP team is gone and GNU OpenMP hangs on its next parallel region:
    the child's convolutions take the NumPy lowering (a DataLoader worker, a user's multiprocessing fork)."""
    _state["lib"] = False
    _state["plans"] = OrderedDict()  # the parent's primitives belong to its threads: dropped, never freed


os.register_at_fork(after_in_child=_forked)


def _openblas() -> Optional[tuple]:
    """(get, set) of NumPy's OpenBLAS thread count, or None for another BLAS (found once, by its symbols)."""
    if "blas" not in _state:
        _state["blas"] = None
        import glob
        libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        for path in glob.glob(os.path.join(libs, "*openblas*.so*")):
            try:
                blas = C.CDLL(path)
            except OSError:
                continue
            for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
                get = getattr(blas, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(blas, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    _state["blas"] = (get, put)
                    return _state["blas"]
    return _state["blas"]


def _omp() -> Any:
    """GNU OpenMP (loaded with libdnnl), or None."""
    try:
        return C.CDLL("libgomp.so.1")
    except OSError:
        return None


def _hand_over_threads() -> None:
    """OpenBLAS's idle workers spin for ~2^28 cycles after every threaded product, and oneDNN's OpenMP team
    needs the same cores right after: on 2 cores a U-Net step took 2.5x longer with both pools at 2 threads
    than with OpenBLAS at 1 and oneDNN at 2. So once oneDNN runs with several threads, NumPy's OpenBLAS gets
    one and the convolutions (the bulk of a conv model's products) get the cores (bench/README.md)."""
    omp, blas = _omp(), _openblas()
    if _state.get("threads") is not None and omp is not None:
        omp.omp_set_num_threads(_state["threads"])  # descend.set_num_threads ran before the library loaded
    if omp is not None and blas is not None and omp.omp_get_max_threads() > 1 and blas[0]() > 1:
        blas[1](1)
    if omp is not None:  # the compiled kernels share the team (descend/ops/kernels.py)
        kernels.use_threads(omp.omp_get_max_threads())


def set_threads(n: int) -> None:
    """descend.set_num_threads: n threads for oneDNN's convolutions (plans made from now on) and, while
    oneDNN is not running several threads, for OpenBLAS; with oneDNN at n > 1, OpenBLAS keeps one (above)."""
    _state["threads"] = n
    blas = _openblas()
    lib = _state["lib"]
    if lib:
        omp = _omp()
        if omp is not None:
            omp.omp_set_num_threads(n)
        _state["plans"] = OrderedDict()  # primitives fix their thread count when made; held ones stay valid
        kernels.use_threads(n)
    if blas is not None:
        blas[1](1 if lib and n > 1 else n)


def threads() -> int:
    """The thread count set by set_threads, else oneDNN's OpenMP team's once it runs, else NumPy's OpenBLAS's."""
    if _state.get("threads") is not None:
        return _state["threads"]
    if _state["lib"]:
        omp = _omp()
        if omp is not None:
            return int(omp.omp_get_max_threads())  # oneDNN's team: OpenBLAS may have been handed one
    blas = _openblas()
    return int(blas[0]()) if blas is not None else len(os.sched_getaffinity(0))


def _declare(lib: Any) -> None:
    lib.dnnl_primitive_desc_query_md.restype = _P
    lib.dnnl_memory_desc_get_size.restype = C.c_size_t
    lib.dnnl_memory_set_data_handle.argtypes = [_P, _P]


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"oneDNN {what}: status {status}")


def available() -> bool:
    """Whether oneDNN's convolutions can run here (library found and not switched off)."""
    return _state["forced"] is not False and bool(_lib())


def forced(on: Optional[bool]):
    """Within the block, convolutions take oneDNN at any size (True), never (False), or as usual (None)."""
    return kernels.setting(_state, "forced", on)


def _dims(values) -> Any:
    d = _Dims()
    for i, v in enumerate(values):
        d[i] = int(v)
    return d


def _desc(lib: Any, shape: tuple, strides: Optional[tuple]) -> Any:
    """A float32 memory descriptor: given element strides, or format `any` (the primitive picks)."""
    md = _P()
    if strides is None:
        _check(lib.dnnl_memory_desc_create_with_tag(C.byref(md), len(shape), _dims(shape), _F32, _ANY), "desc")
    else:
        _check(lib.dnnl_memory_desc_create_with_strides(C.byref(md), len(shape), _dims(shape), _F32,
                                                        _dims(strides)), "desc")
    return md


def _nhwc(shape: tuple) -> tuple:
    """Element strides of (N, C, H, W) held in channels-last memory."""
    n, c, h, w = shape
    return (h * w * c, 1, w * c, c)


def _contiguous(shape: tuple) -> tuple:
    out, step = [], 1
    for size in reversed(shape):
        out.append(step)
        step *= size
    return tuple(reversed(out))


class _Primitive:
    """One primitive with a memory object per argument; each call points the memories at NumPy buffers."""

    def __init__(self, lib: Any, pd: Any, args: dict) -> None:
        self.lib, self.pd = lib, pd
        self.prim = _P()
        _check(lib.dnnl_primitive_create(C.byref(self.prim), pd), "primitive")
        self.mems = {}
        for arg, md in args.items():
            mem = _P()
            _check(lib.dnnl_memory_create(C.byref(mem), md, lib.engine, None), "memory")
            self.mems[arg] = mem
        self.args = (_Arg * len(args))(*[_Arg(a, m) for a, m in self.mems.items()])

    def __call__(self, **buffers: np.ndarray) -> None:
        lib = self.lib
        for name, arr in buffers.items():
            _check(lib.dnnl_memory_set_data_handle(self.mems[_ARGS[name]], arr.ctypes.data), "handle")
        _check(lib.dnnl_primitive_execute(self.prim, lib.stream, len(self.mems), self.args), "execute")
        _check(lib.dnnl_stream_wait(lib.stream), "wait")

    def free(self) -> None:
        for mem in self.mems.values():
            self.lib.dnnl_memory_destroy(mem)
        self.lib.dnnl_primitive_destroy(self.prim)
        self.lib.dnnl_primitive_desc_destroy(self.pd)


_ARGS = {"src": _SRC, "dst": _DST, "weights": _WEIGHTS, "bias": _BIAS, "diff_src": _DIFF_SRC,
         "diff_dst": _DIFF_DST, "diff_weights": _DIFF_WEIGHTS, "diff_bias": _DIFF_BIAS}


def _reorder(lib: Any, src_md: Any, dst_md: Any) -> _Primitive:
    pd = _P()
    _check(lib.dnnl_reorder_primitive_desc_create(C.byref(pd), src_md, lib.engine, dst_md, lib.engine, None),
           "reorder")
    return _Primitive(lib, pd, {_SRC: src_md, _DST: dst_md})


_LOCK = threading.Lock()


def _serialized(method):
    """One plan call at a time in the process: a plan's memory objects and weight buffers, and the one stream,
    are shared, and ctypes releases the GIL while oneDNN runs (threads had run on each other's buffers)."""
    @functools.wraps(method)
    def run(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)
    return run


class ConvPlan:
    """One convolution geometry: forward, input gradient and weight gradient as oneDNN primitives.

    Arrays in and out: the input x and the output gradient g as contiguous channels-last (N, H, W, C) memory,
    the weight as contiguous (O, C, kh, kw); results come back in the same layouts. The weight is reordered
    into the layout each primitive chose, on every call (weights are small beside activations).
    """

    def __init__(self, lib: Any, x_shape: tuple, w_shape: tuple, out_shape: tuple, stride: tuple,
                 padding: tuple, dilation: tuple, bias: bool) -> None:
        self.lib, self.bias, self.strided = lib, bias, any(s > 1 for s in stride)
        self.x_shape, self.w_shape, self.y_shape = x_shape, w_shape, out_shape
        self.geometry = (_dims(stride), _dims([d - 1 for d in dilation]), _dims([lo for lo, _ in padding]),
                         _dims([hi for _, hi in padding]))
        self.descs = []
        self.src = self._keep(_desc(lib, x_shape, _nhwc(x_shape)))
        self.dst = self._keep(_desc(lib, out_shape, _nhwc(out_shape)))
        self.w_plain = self._keep(_desc(lib, w_shape, _contiguous(w_shape)))
        self.w_any = self._keep(_desc(lib, w_shape, None))
        self.b_md = self._keep(_desc(lib, (w_shape[0],), (1,))) if bias else None

        def make() -> Any:
            pd = _P()
            _check(lib.dnnl_convolution_forward_primitive_desc_create(
                C.byref(pd), lib.engine, _FWD_TRAINING, _DIRECT, self.src, self.w_any, self.b_md, self.dst,
                *self.geometry, None), "convolution forward")
            return pd

        pd = self._choose(make, "forward")
        args = {_SRC: self.src, _DST: self.dst}
        if bias:
            args[_BIAS] = self.b_md
        self.fwd_pd = pd
        self.fwd = self._with_weights(pd, args, _WEIGHTS)
        self.bwd_data = self.bwd_weights = None

    def _choose(self, make, kind: str) -> Any:
        """A primitive descriptor from make(), at oneDNN's first-ranked implementation unless _preferred names
        another that oneDNN offers for it."""
        pd = make()
        want = self._preferred(kind)
        if want is None:
            return pd
        while True:
            name = C.c_char_p()
            self.lib.dnnl_primitive_desc_query(pd, _IMPL_INFO, 0, C.byref(name))
            if (name.value or b"") == want:
                return pd
            if self.lib.dnnl_primitive_desc_next_impl(pd) != 0:  # not offered: back to the first
                self.lib.dnnl_primitive_desc_destroy(pd)
                return make()

    def _preferred(self, kind: str) -> Optional[bytes]:
        """Fixed rules, not timings, so that every run computes with the same kernels; each from timing every
        implementation oneDNN offers on the bench models' layers (bench/README.md):
        - a strided convolution's input gradient: brgconv_strided, ranked first, ran 1.15-2.8x slower than the
          direct JIT kernel for 16-32 input channels, and 4-5.7x slower than oneDNN's im2col GEMM for one (a
          DCGAN's image layer, forward of its generator's last transposed convolution included);
        - layers of at most 16 channels each way: the direct JIT kernel, 10-20 % faster than brgemm."""
        c_in = self.x_shape[1]
        if kind == "backward_data" and self.strided:
            if c_in <= _STRIDED_GEMM:
                return b"x64:gemm:jit"
            if c_in <= _STRIDED_JIT:
                return b"jit:avx512_core"
        if max(c_in, self.w_shape[0]) <= _JIT_CHANNELS:
            return b"jit:avx512_core"
        return None

    def _keep(self, md: Any) -> Any:
        self.descs.append(md)
        return md

    def _with_weights(self, pd: Any, args: dict, arg: int) -> tuple:
        """The primitive, its weight layout's reorder from (or to) the plain weight, and a buffer for it."""
        md = _P(self.lib.dnnl_primitive_desc_query_md(pd, _EXEC_ARG_MD, arg))
        prim = _Primitive(self.lib, pd, {**args, arg: md})
        if arg == _WEIGHTS:
            reorder = _reorder(self.lib, self.w_plain, md)
        else:
            reorder = _reorder(self.lib, md, self.w_plain)
        buf = np.empty(self.lib.dnnl_memory_desc_get_size(md) // 4, np.float32)
        return prim, reorder, buf

    @_serialized
    def forward(self, x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
        prim, reorder, wbuf = self.fwd
        reorder(src=w, dst=wbuf)
        y = np.empty(_cl(self.y_shape), np.float32)
        if self.bias:
            prim(src=x, weights=wbuf, bias=b, dst=y)
        else:
            prim(src=x, weights=wbuf, dst=y)
        return y

    @_serialized
    def backward_data(self, g: np.ndarray, w: np.ndarray) -> np.ndarray:
        if self.bwd_data is None:
            def make() -> Any:
                pd = _P()
                _check(self.lib.dnnl_convolution_backward_data_primitive_desc_create(
                    C.byref(pd), self.lib.engine, _DIRECT, self.src, self.w_any, self.dst, *self.geometry,
                    self.fwd_pd, None), "convolution backward data")
                return pd

            pd = self._choose(make, "backward_data")
            self.bwd_data = self._with_weights(pd, {_DIFF_SRC: self.src, _DIFF_DST: self.dst}, _WEIGHTS)
        prim, reorder, wbuf = self.bwd_data
        reorder(src=w, dst=wbuf)
        gx = np.empty(_cl(self.x_shape), np.float32)
        prim(diff_dst=g, weights=wbuf, diff_src=gx)
        return gx

    @_serialized
    def backward_weights(self, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        if self.bwd_weights is None:
            pd = _P()
            _check(self.lib.dnnl_convolution_backward_weights_primitive_desc_create(
                C.byref(pd), self.lib.engine, _DIRECT, self.src, self.w_any, self.b_md, self.dst,
                *self.geometry, self.fwd_pd, None), "convolution backward weights")
            args = {_SRC: self.src, _DIFF_DST: self.dst}
            if self.bias:
                args[_DIFF_BIAS] = self.b_md
            self.bwd_weights = self._with_weights(pd, args, _DIFF_WEIGHTS)
        prim, reorder, wbuf = self.bwd_weights
        gw = np.empty(self.w_shape, np.float32)
        if self.bias:
            gb = np.empty(self.w_shape[0], np.float32)
            prim(src=x, diff_dst=g, diff_weights=wbuf, diff_bias=gb)
        else:
            gb = None
            prim(src=x, diff_dst=g, diff_weights=wbuf)
        reorder(src=wbuf, dst=gw)
        return gw, gb

    def __del__(self) -> None:
        try:
            if _state["lib"] is self.lib:  # not in a forked child, nor after the library was switched off
                self.free()
        except Exception:  # a plan that failed half-built, or interpreter shutdown (module globals gone)
            pass

    def free(self) -> None:
        for part in (self.fwd, self.bwd_data, self.bwd_weights):
            if part is not None:
                part[0].free()
                part[1].free()
        for md in self.descs:
            self.lib.dnnl_memory_desc_destroy(md)


def _cl(shape: tuple) -> tuple:
    n, c, h, w = shape
    return (n, h, w, c)


def conv_plan(x_shape: tuple, w_shape: tuple, out: tuple, stride: tuple, padding: tuple, dilation: tuple,
              bias: bool) -> Optional[ConvPlan]:
    """The cached plan for a 2-D float32 convolution of this geometry (`out`: the output's spatial size), or
    None when oneDNN does not serve it (unavailable, switched off, too small, or a geometry oneDNN refuses)."""
    forced = _state["forced"]
    if forced is False or len(x_shape) != 4:
        return None
    # A first layer's input is small beside its output (ResNet's 1 -> 16 channels): either side counts.
    if forced is None and max(_prod(x_shape), x_shape[0] * w_shape[0] * _prod(out)) < MIN_SIZE:
        return None
    key = (x_shape, w_shape, tuple(stride), tuple(map(tuple, padding)), tuple(dilation), bias)
    return cached(key, lambda lib: ConvPlan(lib, x_shape, w_shape, (x_shape[0], w_shape[0]) + out, stride,
                                            padding, dilation, bias))


def cached(key: tuple, make) -> Any:
    """The process's plan for key (a convolution's geometry, an element-wise op's size), made by make(lib) on
    first use; None when the library is missing or oneDNN refused the plan (remembered, so the NumPy path is
    taken without asking again)."""
    plans = _state["plans"]
    if key in plans:
        plans.move_to_end(key)
        return plans[key]
    lib = _lib()
    if not lib:
        return None
    try:
        plan = make(lib)
    except RuntimeError:
        plan = None
    plans[key] = plan
    if len(plans) > _CACHE_SIZE:
        # Only the cache's reference goes: a graph recorded earlier may still hold the plan for its backward,
        # and the plan frees its primitives when the last holder lets go (its __del__).
        plans.popitem(last=False)
    return plan


def channels_last(a: np.ndarray) -> np.ndarray:
    """(N, C, H, W) as contiguous float32 (N, H, W, C) memory: a view when it is already laid out so (an
    upstream gradient of another dtype is cast, as PyTorch casts it to the output's dtype)."""
    cl = a.transpose(0, 2, 3, 1)
    if a.dtype != np.float32:
        return cl.astype(np.float32, order="C")
    return cl if cl.flags.c_contiguous else np.ascontiguousarray(cl)


def _prod(t: tuple) -> int:
    out = 1
    for v in t:
        out *= v
    return out
