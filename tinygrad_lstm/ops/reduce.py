"""Reductions over axes: sum and max."""

import numpy as np

from ..autograd.primitive import Primitive, output_of


def _unreduce(g: np.ndarray, axes: tuple | None, keepdim: bool, shape: tuple) -> np.ndarray:
    """The reduced gradient as a view broadcast over the input's shape."""
    if not keepdim and axes is not None:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _keepdim_output(ctx, out: np.ndarray):
    """The output with its reduced axes kept (forward saved that shape; without keepdim the
    output is a squeezed view of it), as a Tensor in the graph."""
    _, axes, keepdim = ctx.args
    if keepdim:
        return output_of(ctx, out)
    return output_of(ctx, np.squeeze(out, axes)).reshape(out.shape)


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
    saved_roles = (None, None)  # a mask

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


class Prod(Primitive):
    """x.prod(axis) over one axis or all (None). VJP: g times the product of the other
    elements, from exclusive cumulative products on both sides (exact with zeros in x)."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save_for_backward(x)
        ctx.args = (axis, keepdim)
        return np.asarray(np.prod(x, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axis, keepdim = ctx.args
        flat = np.moveaxis(x, axis, -1) if axis is not None else x.reshape(-1)  # (..., n)
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)  # x_0 ... x_{i-1}
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        others = left * right
        others = np.moveaxis(others, -1, axis) if axis is not None else others.reshape(x.shape)
        return _unreduce(g, axis, keepdim, x.shape) * others, None, None


class Norm(Primitive):
    """(sum |x|^p)^(1/p) over axes for a finite p other than 0 (the composite covers p = 0,
    1 and inf). VJP: g * sign(x) |x|^(p-1) / out^(p-1), and 0 where out = 0 (as PyTorch).
    A primitive because the composite's sqrt has an infinite slope at a zero vector."""
    saved_roles = (0, _keepdim_output)

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        ax = np.abs(x)
        out = np.asarray(np.sqrt((ax * ax).sum(axes, keepdims=True)) if p == 2 else
                         (ax ** p).sum(axes, keepdims=True) ** (1 / p))
        ctx.save_for_backward(x, out)
        ctx.args = (p, axes, keepdim)
        return out if keepdim else np.asarray(np.squeeze(out, axes))

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p, axes, keepdim = ctx.args
        g = _unreduce(g, axes, keepdim, x.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = x / out if p == 2 else np.sign(x) * (np.abs(x) / out) ** (p - 1)
        return np.where(out == 0, 0, g * scale), None, None, None
