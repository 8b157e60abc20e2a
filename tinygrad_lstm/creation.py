"""Factories: tensors made from shapes, values and the global generator.

`dtype=` takes a dtype object (`tl.float64`), a NumPy dtype or a name; without it floats are
the default dtype (float32 unless `set_default_dtype`). `device=` takes the CPU only.
"""

import numpy as np

from .device import as_device
from .dtypes import default_float, to_numpy
from .random import rng
from .tensor import Tensor, _as_array, _sizes


def _shape(shape) -> tuple:
    shape = _sizes(shape)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"expected a shape of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _float(dtype) -> np.dtype:
    """The NumPy dtype asked for, or the default float dtype."""
    return default_float() if dtype is None else to_numpy(dtype)


def _make(data: np.ndarray, requires_grad: bool, device) -> Tensor:
    as_device(device)
    return Tensor._make(data).requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(shape), _float(dtype)), requires_grad, device)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(shape), _float(dtype)), requires_grad, device)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape(shape), _float(dtype)), requires_grad, device)


def full(shape: int | tuple, fill_value: float, *, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """The dtype follows fill_value when not given: bool, int64 or the default float dtype,
    as in PyTorch."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        dtype = default_float() if dtype.kind == "f" else dtype
    return _make(np.full(_shape(shape), fill_value, to_numpy(dtype)), requires_grad, device)


def randn(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator."""
    return _make(rng().standard_normal(_shape(shape)).astype(_float(dtype)), requires_grad,
                 device)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator."""
    return _make(rng().random(_shape(shape)).astype(_float(dtype)), requires_grad, device)


def arange(start: float, end: float | None = None, step: float = 1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Ints give int64, any float gives the default float dtype, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = default_float() if floats else np.int64
    return _make(np.arange(start, end, step, dtype=to_numpy(dtype)), requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive, in the default float dtype."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m = n when not given)."""
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad, device)


def randint(*args, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """randint(high, size) or randint(low, high, size): ints in [low, high) from the global
    generator, int64 unless `dtype` says otherwise."""
    if size is None:
        *args, size = args
    if len(args) not in (1, 2):
        raise TypeError("randint: expected (high, size) or (low, high, size)")
    low, high = (0, args[0]) if len(args) == 1 else args
    dtype = np.int64 if dtype is None else to_numpy(dtype)
    return _make(rng().integers(low, high, _shape(size)).astype(dtype), requires_grad, device)


def zeros_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros_like(t._array, dtype=to_numpy(dtype)), requires_grad, device)


def ones_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones_like(t._array, dtype=to_numpy(dtype)), requires_grad, device)


def empty_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty_like(t._array, dtype=to_numpy(dtype)), requires_grad, device)


def full_like(t: Tensor, fill_value: float, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return _make(np.full_like(t._array, fill_value, dtype=to_numpy(dtype)), requires_grad,
                 device)


def rand_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return rand(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def randn_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return randn(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Copy data into a new tensor, inferring the dtype as torch.tensor: Python bools give
    bool, ints int64, floats the default dtype; a NumPy array or Tensor keeps its dtype."""
    as_device(device)
    return Tensor._make(_as_array(data, dtype, infer=True)).requires_grad_(requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array` (like torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._make(array)
