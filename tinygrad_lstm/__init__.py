"""tinygrad_lstm: a small reverse-mode autograd engine on NumPy, with PyTorch-shaped nn and optim.

    import tinygrad_lstm as tl
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()   # x.grad == [2., 4.]
"""

from importlib import import_module as _import_module

from . import accelerator, autograd, backends, cuda, random
from .autograd import (detect_anomaly, enable_grad, inference_mode, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .conversions import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                          HalfTensor, IntTensor, LongTensor, ShortTensor)
from .creation import (arange, bernoulli, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, logspace, multinomial, normal, ones, ones_like, rand, rand_like,
                       randint, randint_like, randn, randn_like, randperm, tensor, zeros,
                       zeros_like)
from .device import device, get_default_device, set_default_device
from .dtypes import bool as bool, float as float, int as int  # PyTorch's tl.float etc.
from .dtypes import (cdouble, cfloat, complex64, complex128, double, dtype, float16, float32,
                     float64, get_default_dtype, half, int8, int16, int32, int64, long,
                     promote_types, result_type, set_default_dtype, short, uint8)
from .random import Generator, default_generator, initial_seed, manual_seed, seed
from .tensor import Tensor, cat, stack, where
from .functions import (absolute, add, addcmul, addmm, allclose, amax, amin, argmax, argmin,
                        argsort, bmm, ceil, chunk, clamp, clip, clone, cos, div, divide, einsum,
                        eq, equal, erf, exp, expm1, flatten, floor, floor_divide, fmod, gather, ge,
                        gt, index_select, isfinite, isinf, isnan, kthvalue, le, log, log1p,
                        log_softmax, logsumexp, lt, masked_fill, matmul, maximum, mean, minimum,
                        mm, mul, multiply, narrow, ne, neg, negative, norm, permute, prod,
                        reciprocal, relu, remainder, reshape, rsqrt, scatter, scatter_add, select,
                        sigmoid, sign, sin, softmax, sort, split, sqrt, square, squeeze, std, sub,
                        t, tanh, topk, transpose, tril, triu, true_divide, trunc, unbind,
                        unsqueeze, var)
# the builtins' names, as tl.dtypes' bool/int/float: importable, not in __all__
from .functions import abs as abs, all as all, any as any, max as max, min as min
from .functions import pow as pow, round as round, sum as sum
from . import utils  # torch.utils.data's twin: tl.utils.data.DataLoader

# last: nn and optim build on the engine above
from . import nn, optim  # noqa: E402
from . import jit  # noqa: E402, F401
from .jit import compile as compile  # noqa: E402  (a builtin's name: not in __all__)

# loaded at their first use, not with the engine: files and pictures (zip, pickle's opcodes,
# JSON, subprocess). perf: the tiny benchmark's compiled peak RSS 46.4 -> 45.4 MiB (47.6 -> 46.1 in
# a new venv), 1.20 -> 1.17 of the hand-written one's
_LAZY = {"data": ("data", None), "viz": ("viz", None), "load": ("serialization", "load"),
         "save": ("serialization", "save"), "distributions": ("distributions", None)}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = _import_module(f".{module}", __name__)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Tensor", "arange", "autograd", "cat", "data", "detect_anomaly", "distributions",
           "empty", "enable_grad",
           "accelerator", "inference_mode",
           "from_numpy", "full", "is_grad_enabled", "manual_seed", "nn", "no_grad", "ones",
           "load", "ones_like", "optim", "rand", "randn", "random", "save", "set_grad_enabled",
           "stack", "tensor", "utils", "viz", "where", "zeros", "zeros_like",
           # dtypes, devices, factories, legacy constructors; not the dtypes `bool int float`,
           # so that `from tinygrad_lstm import *` leaves the builtins alone
           "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
           "IntTensor", "LongTensor", "ShortTensor", "backends", "cdouble", "cfloat", "complex64",
           "complex128", "cuda", "device", "double", "dtype", "empty_like", "eye", "float16",
           "float32", "float64", "full_like", "get_default_device", "get_default_dtype", "half",
           "int8", "int16", "int32", "int64", "linspace", "long", "promote_types", "rand_like",
           "randint", "randn_like", "result_type", "set_default_device", "set_default_dtype",
           "short", "uint8",
           # tensor functions (tl.sin(x) beside x.sin()) and random factories; not the ones
           # named as builtins (abs all any max min pow round sum), for `import *`
           "Generator", "absolute", "add", "addcmul", "addmm", "allclose", "amax", "amin", "argmax",
           "argmin", "argsort", "bernoulli", "bmm", "ceil", "chunk", "clamp", "clip", "clone",
           "cos", "default_generator", "div", "divide", "einsum", "eq", "equal", "erf", "exp",
           "expm1", "flatten", "floor", "floor_divide", "fmod", "gather", "ge", "gt",
           "index_select", "initial_seed", "isfinite", "isinf", "isnan", "kthvalue", "le", "log",
           "log1p", "log_softmax", "logspace", "logsumexp", "lt", "masked_fill", "matmul",
           "maximum", "mean", "minimum", "mm", "mul", "multinomial", "multiply", "narrow", "ne",
           "neg", "negative", "norm", "normal", "permute", "prod", "randint_like", "randperm",
           "reciprocal", "relu", "remainder", "reshape", "rsqrt", "scatter", "scatter_add", "seed",
           "select", "sigmoid", "sign", "sin", "softmax", "sort", "split", "sqrt", "square",
           "squeeze", "std", "sub", "t", "tanh", "topk", "transpose", "tril", "triu", "true_divide",
           "trunc", "unbind", "unsqueeze", "var"]
