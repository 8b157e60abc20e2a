"""Linear and Identity."""

import math

import numpy as np

from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.module import Module, check_size, factory_dtype
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.tensor import Tensor


class Identity(Module):
    """Returns its input unchanged (any arguments are ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b, with W and b drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Parameters: weight (out_features, in_features), bias (out_features,).
    Shape: x (*, in_features) -> (*, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        dt = factory_dtype("Linear", device, dtype)
        check_size("Linear", "in_features", in_features)
        check_size("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dt))
        self.bias = Parameter(np.empty(out_features, dt)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention.out_proj (the name only matters to
    PyTorch's quantization; here it is a Linear)."""
