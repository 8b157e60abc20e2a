"""Factories: tensors made from shapes, values and the global generator."""

import numpy as np
from numpy.typing import DTypeLike

from .random import rng
from .tensor import Tensor, _sizes


def _shape(shape) -> tuple:
    shape = _sizes(shape)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"expected a shape of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor._make(data).requires_grad_(requires_grad)


def zeros(*shape, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(shape), dtype), requires_grad)


def ones(*shape, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(shape), dtype), requires_grad)


def empty(*shape, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape(shape), dtype), requires_grad)


def full(shape: int | tuple, fill_value: float, dtype: DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """The dtype follows fill_value when not given: bool, int64 or float32, as in PyTorch."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        dtype = np.float32 if dtype.kind == "f" else dtype
    return _make(np.full(_shape(shape), fill_value, dtype), requires_grad)


def randn(*shape, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator."""
    return _make(rng().standard_normal(_shape(shape)).astype(dtype), requires_grad)


def rand(*shape, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator."""
    return _make(rng().random(_shape(shape)).astype(dtype), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1,
           dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Ints give int64, any float gives float32, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = np.float32 if floats else np.int64
    return _make(np.arange(start, end, step, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros_like(t._array, dtype=dtype), requires_grad)


def ones_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones_like(t._array, dtype=dtype), requires_grad)


def tensor(data, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Copy data into a new tensor (like torch.tensor)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array` (like torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._make(array)
