"""Fused nn primitives, for numerical stability: log_softmax and cross_entropy."""

import numpy as np

from ..autograd.primitive import Primitive, recorded_after
from ..recording import replayed_as_call


class LogSoftmax(Primitive):
    """x - logsumexp(x, axis). VJP: g - exp(out) * sum(g, axis)."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        if x.size == 0:  # nothing to normalize, over any axis (also an empty one), as in PyTorch
            ctx.save_for_backward(x)
            return x.copy()
        shifted = x - x.max(axis=axis, keepdims=True)  # subtract the max so exp cannot overflow
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - np.exp(out) * np.sum(g, axis=ctx.axis, keepdims=True), None


def class_targets(target: np.ndarray, ignore_index: int, n_classes: int, op: str) -> tuple:
    """(targets with ignored ones set to class 0, mask of the kept ones); raises IndexError
    naming the first target outside [0, n_classes)."""
    valid = target != ignore_index
    t = np.where(valid, target, 0)
    check_classes(t, n_classes, op)
    return t, valid


def first_out_of_range(indices: np.ndarray, n: int):
    """The first of the indices outside [0, n), or None."""
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        return indices[(indices < 0) | (indices >= n)].flat[0]
    return None


@replayed_as_call  # a check on values: tl.compile's program makes it at every call
def check_classes(t: np.ndarray, n_classes: int, op: str) -> None:
    """Raise IndexError naming the first target outside [0, n_classes)."""
    bad = first_out_of_range(t, n_classes)
    if bad is not None:
        raise IndexError(f"{op}: target {bad} is out of bounds for {n_classes} classes")


def _log_softmax_of_input(ctx, logp: np.ndarray):
    """The saved log-probabilities as the output of a log_softmax node over the input (which
    forward fused away), for backward(create_graph=True)."""
    return recorded_after(LogSoftmax, logp, [ctx.edges[0], None], (logp,), axis=1)


class CrossEntropy(Primitive):
    """Mean/sum/per-row -log softmax(x)[target] over rows of x: (N, C), target: (N,) ints,
    with label smoothing and an ignored class. VJP: (softmax(x) - smoothed onehot) * g / n."""
    saved_roles = (_log_softmax_of_input, None, None, None)

    @staticmethod
    def forward(ctx, x, target, ignore_index, label_smoothing, reduction):
        n, c = x.shape
        t, valid = class_targets(target, ignore_index, c, "cross_entropy")
        # the ufuncs' reduce, not x.max() and .sum(): those go through a Python wrapper each
        logp = x - np.maximum.reduce(x, axis=1, keepdims=True)  # exp(x - max) cannot overflow
        lse = np.add.reduce(np.exp(logp), axis=1, keepdims=True)
        logp -= np.log(lse, out=lse)
        rows = np.arange(n)
        loss = -logp[rows, t]
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * logp.mean(axis=1)
        loss *= valid
        n_valid = np.add.reduce(valid, dtype=x.dtype)  # the mean's divisor, in x's dtype
        ctx.save_for_backward(logp, t, valid, rows)
        ctx.args = (label_smoothing, reduction, n_valid)
        if reduction == "none":
            return loss
        total = np.add.reduce(loss, dtype=x.dtype)
        if reduction == "sum":
            return np.asarray(total)
        # every target ignored: the mean is 0/0 = nan (as in PyTorch), the gradient 0; no
        # Python branch on the count, so that a tl.compile program computes it the same way
        return np.divide(total, n_valid, out=np.full((), np.nan, x.dtype), where=n_valid != 0)

    @staticmethod
    def backward(ctx, g):
        logp, t, valid, rows = ctx.saved_tensors
        label_smoothing, reduction, n_valid = ctx.args
        # a new array to write into (not exp's own output: a recorded exp saved it)
        dx = np.exp(logp) - label_smoothing / logp.shape[1]
        dx[rows, t] -= 1 - label_smoothing
        if reduction == "mean":
            g = g / np.maximum(n_valid, 1)
        dx *= (valid * g)[:, None]
        return dx, None, None, None, None
