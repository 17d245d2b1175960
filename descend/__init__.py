"""descend: a deep-learning training framework written from first principles, with a training doctor."""

from descend import backend
from descend.backend import manual_seed, set_default_dtype
from descend._tensor import (Function, Tensor, as_tensor, enable_grad, from_numpy, is_grad_enabled, no_grad,
                            tensor)
from descend import autograd
from descend.autograd import inference_mode, is_inference_mode_enabled, set_grad_enabled
from descend.backend import device
from descend.dtypes import (bfloat16, complex64, complex128, dtype, finfo, float16, float32, float64, iinfo, int8,
                            int16, int32, int64, promote_types, uint8, uint16, uint32, uint64)
from descend.dtypes import bool_ as bool  # noqa: A001  (torch.bool shadows the builtin in the same way)
from descend import accelerator, backends, cuda
from descend.ops.transcendental import polygamma
from descend.ops.legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                                IntTensor, LongTensor, ShortTensor)
from descend.ops.elementwise import (Abs, Add, Clamp, Div, Exp, LeakyReLU, Log, Maximum, Minimum, Mul,
                                     Neg, Pow, ReLU, Sigmoid, Softplus, Sqrt, Sub, Tanh, Where)
from descend.ops.movement import cat, flatten, squeeze, stack, transpose, unsqueeze
from descend.ops.api import (abs, add, amax, amin, argmax, argmin, bmm, clamp, clip, div, erf, exp, log,
                             log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mm, mul, neg,
                             permute, pow, relu, reshape, sigmoid, softmax, sqrt, square, std, sub, sum, tanh,
                             var, where)
from descend.ops.creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones, ones_like,
                                  rand, rand_like, randint, randn, randn_like, randperm, zeros, zeros_like)
from descend import functional
from descend.gradcheck import gradcheck
# The user-facing subpackages, so that `import descend` then `descend.nn.Linear`, `descend.optim.Adam` work as
# in PyTorch (`torch.nn`, `torch.optim`).
from descend import io, nn, optim, data  # noqa: E402  (after the engine: they build on it)
from descend import distributed  # noqa: E402,F401  (mpi4py is imported only by distributed.init())
from descend import onnx  # noqa: E402  (descend.onnx.export; the onnx package is needed only when called)
from descend import utils  # noqa: E402  (descend.utils.data: torch.utils.data's import path)
from descend.serialization import load, save  # noqa: E402  (safetensors + a JSON skeleton; never pickle)
# Mixed precision, torch.compile and the speed switches: accepted, computing as without them (see each module).
from descend import amp, compiler, distributions, func, random, testing  # noqa: E402
from descend.func import vmap  # noqa: E402
from descend.amp import autocast  # noqa: E402
from descend.compiler import compile, get_float32_matmul_precision, set_float32_matmul_precision  # noqa: E402,A004
cuda.amp = amp  # torch.cuda.amp.GradScaler / autocast: the older spelling of torch.amp's

__version__ = "0.1.0"

# PyTorch's dtype aliases.
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128


def get_default_dtype() -> dtype:
    """The dtype tensors made from Python floats get (descend.float32 unless changed)."""
    from descend import dtypes as _dtypes

    return _dtypes.of(backend.default_dtype())


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    return input.dtype.is_floating_point


def is_complex(input: Tensor) -> bool:
    return input.dtype.is_complex


def result_type(tensor1: object, tensor2: object) -> dtype:
    """The dtype an op on the two operands gives, by PyTorch's promotion rules."""
    from descend import dtypes as _dtypes

    ops = [t._data if isinstance(t, Tensor) else t for t in (tensor1, tensor2)]
    return _dtypes.result_type_of(ops, get_default_dtype())


def can_cast(from_: dtype, to: dtype) -> bool:
    """Whether a value of dtype from_ may be written into a tensor of dtype to (no category is lowered)."""
    from descend import dtypes as _dtypes

    order = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    return order[_dtypes.as_dtype(from_).kind] <= order[_dtypes.as_dtype(to).kind]


# The op surface (issue 16): every name descend.ops.api.PUBLIC lists, linalg, special, return types.
from descend.ops import api as _api  # noqa: E402
from descend.ops import return_types  # noqa: E402,F401
from descend import linalg, special  # noqa: E402,F401

for _name in _api.PUBLIC:
    globals()[_name] = getattr(_api, _name)
del _name


def load_run(run_dir: "str | os.PathLike", checkpoint: str = "best") -> "Any":
    """A trained run's model in eval mode with its config and class names (see descend/train/loadrun.py)."""
    from descend.train.loadrun import load_run as _load_run  # the training layer is imported only when used

    return _load_run(run_dir, checkpoint)
