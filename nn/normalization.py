"""LayerNorm."""

import numpy as np

from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.module import Module, check_size, factory_dtype
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.tensor import Tensor


class LayerNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the last
    len(normalized_shape) dims, with the biased variance (divided by n), as in PyTorch.

    Parameters (if elementwise_affine): weight = 1 and bias = 0 (unless bias=False), both of
    shape normalized_shape. Shape: x (*, *normalized_shape) -> the same.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        dt = factory_dtype("LayerNorm", device, dtype)
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        for n in self.normalized_shape:
            check_size("LayerNorm", "normalized_shape", n)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = self.bias = None
        if elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dt))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, dt))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
