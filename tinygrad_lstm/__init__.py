"""tinygrad_lstm: a small reverse-mode autograd engine on NumPy, with PyTorch-shaped nn and optim.

    import tinygrad_lstm as tl
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()   # x.grad == [2., 4.]
"""

from . import accelerator, autograd, backends, cuda, data, random, viz
from .autograd import (detect_anomaly, enable_grad, inference_mode, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .conversions import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                          HalfTensor, IntTensor, LongTensor, ShortTensor)
from .creation import (arange, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, tensor, zeros,
                       zeros_like)
from .device import device, get_default_device, set_default_device
from .dtypes import bool as bool, float as float, int as int  # PyTorch's tl.float etc.
from .dtypes import (cdouble, cfloat, complex64, complex128, double, dtype, float16, float32,
                     float64, get_default_dtype, half, int8, int16, int32, int64, long,
                     promote_types, result_type, set_default_dtype, short, uint8)
from .random import manual_seed
from .serialization import load, save
from .tensor import Tensor, cat, stack, where
from . import utils  # torch.utils.data's twin: tl.utils.data.DataLoader

# last: nn and optim build on the engine above
from . import nn, optim  # noqa: E402

__all__ = ["Tensor", "arange", "autograd", "cat", "data", "detect_anomaly", "empty", "enable_grad",
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
           "short", "uint8"]
