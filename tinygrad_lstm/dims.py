"""Argument checks shared by Tensor and its mixins: dims, sizes, empty reductions."""

import functools

import numpy as np

from .recording import read_array, replayed_as_call


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _normalize_dim(dim: int, ndim: int, op: str) -> int:
    if type(dim) is int and 0 <= dim < ndim:  # in range already (every chunk of an LSTM step)
        return dim
    if not _is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % ndim if ndim else 0


def _sizes(args: tuple) -> tuple:
    """f(2, 3) and f((2, 3)) alike, as PyTorch's shape arguments."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _normalize_dims(dim, ndim: int, op: str) -> tuple | None:
    """None (all dims) or a sorted tuple of non-negative dims."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):  # dim=() means all dims
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({_normalize_dim(d, ndim, op) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{op}: dim {dim} repeats a dimension")
    return axes if ndim else None


def _check_empty_reduction(shape: tuple, dim, op: str) -> None:
    """PyTorch's errors for max-like reductions of an empty tensor: over all dims (no identity),
    or over a dim of size 0. `dim` as the op reports it: the user's dims (amax), or the wrapped
    one (max(dim))."""
    dims = dim if isinstance(dim, (tuple, list)) else () if dim is None else (dim,)
    if not dims:
        raise RuntimeError(f"{op}: Expected reduction dim to be specified for input.numel() == 0. "
                           f"Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{op}: Expected reduction dim {d} to have non-zero size.")


def _check_empty_arg(shape: tuple, axis: int | None, op: str) -> None:
    """argmax/argmin of an empty tensor: PyTorch raises IndexError in both cases."""
    if axis is None:
        raise IndexError(f"{op}: Expected reduction dim to be specified for input.numel() == 0.")
    _check_empty_reduction(shape, axis, op)


def _index_along(x, dim: int, index, op: str) -> tuple:
    """(dim, index array) for gather and scatter, with PyTorch's checks of index."""
    d = _normalize_dim(dim, x.ndim, op)
    # read_array: an index tensor made before the call is an input of a tl.compile program,
    # read at every run (its ._array would be a constant of it)
    i = np.asarray(read_array(index) if hasattr(index, "_array") else index)
    if i.dtype != np.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {i.dtype}")
    if i.ndim == 0 and x.ndim == 1:  # PyTorch takes a 0-d index as 1-d there
        i = i.reshape(1)
    if i.ndim != x.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input "
                           f"tensor ({op}: index {i.shape}, input {x.shape})")
    if any(n > m for k, (n, m) in enumerate(zip(i.shape, x.shape)) if k != d):
        raise RuntimeError(f"{op}: Size does not match at a dimension other than {d}: index "
                           f"{i.shape}, input {x.shape}")
    n = x.shape[d] if x.ndim else 1
    check_indices(i, 0, n, RuntimeError, f"{op}(): index {{}} is out of bounds for dimension "
                                         f"{d} with size {n}")
    return d, i


@replayed_as_call  # a check on values: tl.compile's program makes it at every call
def check_indices(i: np.ndarray, low: int, high: int, error: type, message: str) -> None:
    """Raise error(message naming the first bad index) if an index lies outside [low, high)."""
    if i.size and (i.min() < low or i.max() >= high):
        raise error(message.format(i[(i < low) | (i >= high)].flat[0]))


@functools.lru_cache(maxsize=256)  # every LSTM step chunks its gates the same way
def _bounds(n: int, size: int) -> tuple:
    """(start, stop) of consecutive pieces of `size` along a dim of length n (last may be short)."""
    return tuple([(a, min(a + size, n)) for a in range(0, n, size)]) or ((0, 0),)
