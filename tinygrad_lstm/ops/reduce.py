"""Reductions over axes: sum and max."""

import numpy as np

from ..autograd.primitive import Primitive


def _unreduce(g: np.ndarray, axes: tuple | None, keepdim: bool, shape: tuple) -> np.ndarray:
    """The reduced gradient as a view broadcast over the input's shape."""
    if not keepdim and axes is not None:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Primitive):
    """x.sum(axes). VJP: g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.args = (axes, keepdim, x.shape)
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        axes, keepdim, shape = ctx.args
        return _unreduce(g, axes, keepdim, shape), None, None


class Max(Primitive):
    """x.max(axes). VJP: g shared equally among the elements equal to the max."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        # an empty x reduces only over non-empty axes: Tensor.amax raises PyTorch's errors first
        out = np.asarray(x.max(axis=axes, keepdims=True))
        ctx.save_for_backward(x, out)
        ctx.args = (axes, keepdim)
        return out if keepdim else np.squeeze(out, axes)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.args
        mask = x == out
        share = mask / mask.sum(axis=axes, keepdims=True)
        return _unreduce(g, axes, keepdim, x.shape) * share, None, None
