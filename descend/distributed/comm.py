"""The process group: MPI's COMM_WORLD through mpi4py, imported only when a job was launched with mpirun.

Without mpi4py (or without an MPI launcher) descend runs single-process: `is_initialized()` is False,
`rank()` is 0, `world_size()` is 1 and the collectives return their input unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

import numpy as np

from descend import backend
from descend._tensor import Tensor

# Variables an MPI launcher sets in every rank (Open MPI, PMIx, MPICH/Hydra, Slurm's srun with PMI).
_LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS")
_OPS = ("sum", "avg", "max", "min", "product")

_comm: Any = None  # mpi4py's COMM_WORLD once init() ran in a job of more than one process
_MPI: Any = None


class ReduceOp:
    """Reduction names accepted by `all_reduce` (PyTorch's torch.distributed.ReduceOp members)."""

    SUM, AVG, MAX, MIN, PRODUCT = _OPS


class DistributedError(RuntimeError):
    """MPI is missing or a collective was called wrongly."""


def launched() -> bool:
    """True when this process was started by an MPI launcher (mpirun, mpiexec, srun) with more than one rank."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if var in os.environ:
            return int(os.environ[var]) > 1
    return any(var in os.environ for var in _LAUNCH_VARS)


def is_available() -> bool:
    """True when mpi4py can be imported (it needs an MPI library such as Debian's libopenmpi3)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init(abort_on_error: bool = True) -> int:
    """Join the MPI job this process was launched in; returns the world size (1 when not under mpirun).

    With `abort_on_error`, an uncaught exception on any rank prints one line naming the rank and calls
    MPI_Abort, so the other ranks end within seconds instead of waiting forever in a collective.
    """
    global _comm, _MPI
    if _comm is not None:
        return _comm.Get_size()
    if not launched():
        return 1
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:
        raise DistributedError(f"descend.distributed: launched under MPI but mpi4py cannot be imported ({e}); "
                               f"install it with: pip install 'descend[mpi]'") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return 1
    _comm, _MPI = comm, MPI
    if abort_on_error:
        _install_abort_hooks()
    from descend.nn import sync_batchnorm

    sync_batchnorm.set_all_reduce(_sum_in_place)
    return comm.Get_size()


def is_initialized() -> bool:
    """True inside a job of more than one rank after `init()`."""
    return _comm is not None


def rank() -> int:
    """This process's rank (0 when single-process)."""
    return _comm.Get_rank() if _comm is not None else 0


def world_size() -> int:
    """Number of processes in the job (1 when single-process)."""
    return _comm.Get_size() if _comm is not None else 1


get_rank = rank
get_world_size = world_size


def comm() -> Any:
    """mpi4py's communicator (None when single-process)."""
    return _comm


def _array(x: Any, name: str) -> np.ndarray:
    arr = x._data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray):
        arr = backend.to_numpy(arr)  # CuPy: MPI gets host memory (no CUDA-aware MPI assumed)
    if not arr.flags.c_contiguous:
        raise DistributedError(f"{name}: the array must be C-contiguous, got strides {arr.strides}")
    return arr


def _mpi_op(op: str, name: str) -> Any:
    if op not in _OPS:
        raise DistributedError(f"{name}: op must be one of {', '.join(_OPS)}, got {op!r}")
    return {"sum": _MPI.SUM, "avg": _MPI.SUM, "max": _MPI.MAX, "min": _MPI.MIN, "product": _MPI.PROD}[op]


def all_reduce(tensor: Any, op: str = "sum") -> Any:
    """Reduce `tensor` (a Tensor or ndarray) over all ranks in place, as torch.distributed.all_reduce."""
    if _comm is None:
        if op not in _OPS:
            raise DistributedError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
        return tensor
    arr = _array(tensor, "all_reduce")
    _comm.Allreduce(_MPI.IN_PLACE, arr, op=_mpi_op(op, "all_reduce"))
    if op == "avg":
        arr /= _comm.Get_size()
    _write_back(tensor, arr)
    return tensor


def broadcast(tensor: Any, src: int = 0) -> Any:
    """Overwrite `tensor` on every rank with rank `src`'s values, in place."""
    if _comm is None:
        return tensor
    if not 0 <= src < _comm.Get_size():
        raise DistributedError(f"broadcast: src {src} is not a rank of this job of {_comm.Get_size()}")
    arr = _array(tensor, "broadcast")
    _comm.Bcast(arr, root=src)
    _write_back(tensor, arr)
    return tensor


def _write_back(tensor: Any, arr: np.ndarray) -> None:
    """Copy a host buffer back into a CuPy-backed tensor (a no-op when the tensor's array is `arr`)."""
    if isinstance(tensor, Tensor) and tensor._data is not arr:
        tensor._data[...] = backend.xp.asarray(arr)


def barrier() -> None:
    """Wait until every rank reaches this call."""
    if _comm is not None:
        _comm.Barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank `src`'s picklable `obj` on every rank."""
    return _comm.bcast(obj, root=src) if _comm is not None else obj


def sum_floats(values: list) -> list:
    """Element-wise sums of a short list of numbers over all ranks (metrics: loss sums, counts)."""
    if _comm is None:
        return list(values)
    buf = np.asarray(values, dtype=np.float64)
    _comm.Allreduce(_MPI.IN_PLACE, buf, op=_MPI.SUM)
    return buf.tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is True on at least one (so all ranks stop training together)."""
    if _comm is None:
        return bool(flag)
    return bool(_comm.allreduce(int(bool(flag)), op=_MPI.MAX))


def _sum_in_place(arr: Any) -> Any:
    """The all-reduce that SyncBatchNorm's statistics use (installed into descend.nn by init)."""
    host = _array(arr, "SyncBatchNorm")
    _comm.Allreduce(_MPI.IN_PLACE, host, op=_MPI.SUM)
    return arr if host is arr else backend.xp.asarray(host)


# --- faults ------------------------------------------------------------------------------------------------

def abort(message: str, code: int = 1) -> None:
    """Print `message` naming this rank and end every rank of the job (MPI_Abort)."""
    sys.stderr.write(f"descend: rank {rank()} of {world_size()}: {message}; aborting all ranks\n")
    sys.stderr.flush()
    if _comm is not None:
        time.sleep(0.25)  # let mpirun forward the line before MPI_Abort kills the job (it can drop it otherwise)
        _comm.Abort(code)
    raise SystemExit(code)


def _install_abort_hooks() -> None:
    """An uncaught exception in any thread aborts the job with the rank named, instead of a hang."""
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            abort("interrupted", 130)
        if issubclass(kind, SystemExit):
            return previous(kind, value, tb)
        traceback.print_exception(kind, value, tb)
        abort(f"{kind.__name__}: {' '.join(str(value).split())}")

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
