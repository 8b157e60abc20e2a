"""tinygrad_lstm: a small reverse-mode autograd engine on NumPy, with PyTorch-shaped nn and optim.

    import tinygrad_lstm as tl
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()   # x.grad == [2., 4.]
"""

from . import autograd, data, random, viz
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, from_numpy, full, ones, ones_like, rand, randn, tensor,
                       zeros, zeros_like)
from .random import manual_seed
from .serialization import load, save
from .tensor import Tensor, cat, stack, where
from . import utils  # torch.utils.data's twin: tl.utils.data.DataLoader

float32, float64, int64, int32, bool_ = "float32", "float64", "int64", "int32", "bool"

# last: nn and optim build on the engine above
from . import nn, optim  # noqa: E402

__all__ = ["Tensor", "arange", "autograd", "cat", "data", "detect_anomaly", "empty", "enable_grad",
           "from_numpy", "full", "is_grad_enabled", "manual_seed", "nn", "no_grad", "ones",
           "load", "ones_like", "optim", "rand", "randn", "random", "save", "set_grad_enabled",
           "stack", "tensor", "utils", "viz", "where", "zeros", "zeros_like"]
