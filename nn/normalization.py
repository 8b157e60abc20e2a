"""LayerNorm and BatchNorm1d."""

import numpy as np

from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.module import Module, check_size, factory_dtype
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.creation import tensor
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


class BatchNorm1d(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias per channel (feature), over the
    batch (and L), as in PyTorch.

    Training: the batch's mean and biased variance; running_mean and running_var (the
    variance unbiased) move by `momentum` (None: a cumulative average over
    num_batches_tracked). Eval: the running estimates (the batch's if track_running_stats is
    False). weight = 1, bias = 0 (if affine). Shape: x (N, C) or (N, C, L) -> the same.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        dt = factory_dtype("BatchNorm1d", device, dtype)
        check_size("BatchNorm1d", "num_features", num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = self.bias = None
        if affine:
            self.weight = Parameter(np.empty(num_features, dt))
            self.bias = Parameter(np.empty(num_features, dt))
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # eval mode normalizes with the running estimates, if there are any
        batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")
