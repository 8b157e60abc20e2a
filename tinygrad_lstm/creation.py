"""Factories: tensors made from shapes, values and the global generator.

`dtype=` takes a dtype object (`tl.float64`), a NumPy dtype or a name; without it floats are
the default dtype (float32 unless `set_default_dtype`). `device=` takes the CPU only.
"""

import numpy as np

from .device import as_device
from .dtypes import check_random_float, default_float, to_numpy
from .dtypes import float64 as tl_float64
from .random import rng
from .tensor import Tensor, _array_of, _as_array, _sizes


def _shape(shape) -> tuple:
    shape = _sizes(shape)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"expected a shape of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _size(op: str, shape: tuple, size) -> tuple:
    """The shape given as f(2, 3), f((2, 3)) or f(size=(2, 3)), as PyTorch's factories take it."""
    if size is None:
        return _shape(shape)
    if shape:
        raise TypeError(f"{op}() received an invalid combination of arguments: got the shape "
                        f"{shape} and size={size}")
    return _shape((size,))


def _float(dtype) -> np.dtype:
    """The NumPy dtype asked for, or the default float dtype."""
    return default_float() if dtype is None else to_numpy(dtype)


def _sample(op: str, draw, shape: tuple, dtype) -> np.ndarray:
    """draw(shape) in a floating point dtype; a complex one takes its real and imaginary parts
    from two draws. An integer or bool dtype raises, as in PyTorch (not truncated samples)."""
    dtype = _float(dtype)
    check_random_float(op, dtype)
    if dtype.kind == "c":
        return (draw(shape) + 1j * draw(shape)).astype(dtype)
    return draw(shape).astype(dtype)


def _normal(generator, dtype):
    """Standard normal draws; for a complex dtype each part has variance 1/2."""
    normal = rng(generator).standard_normal
    return normal if _float(dtype).kind != "c" else lambda shape: normal(shape) * np.sqrt(0.5)


def _make(data: np.ndarray, requires_grad: bool, device) -> Tensor:
    as_device(device)
    return Tensor._make(data).requires_grad_(requires_grad)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_size("zeros", shape, size), _float(dtype)), requires_grad, device)


def ones(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_size("ones", shape, size), _float(dtype)), requires_grad, device)


def empty(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_size("empty", shape, size), _float(dtype)), requires_grad, device)


def full(size: int | tuple, fill_value: float, *, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """The dtype follows fill_value when not given: bool, int64 or the default float dtype,
    as in PyTorch."""
    size = (size,) if isinstance(size, (int, np.integer)) else size
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        dtype = default_float() if dtype.kind == "f" else dtype
    return _make(np.full(_shape(size), fill_value, to_numpy(dtype)), requires_grad, device)


def randn(*shape, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `generator` (default: the global one); complex ones have
    unit variance, (x + iy) / sqrt(2)."""
    return _make(_sample("randn", _normal(generator, dtype), _size("randn", shape, size), dtype),
                 requires_grad, device)


def rand(*shape, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (default: the global one)."""
    return _make(_sample("rand", rng(generator).random, _size("rand", shape, size), dtype),
                 requires_grad, device)


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


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps), in the default float dtype."""
    return _make((base ** linspace(start, end, steps, dtype=tl_float64)._array).astype(
        _float(dtype)), requires_grad, device)


def randint(*args, low: int | None = None, high: int | None = None, size=None, generator=None,
            dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """randint(high, size) or randint(low, high, size) (positional or keywords): ints in
    [low, high) from `generator` (default: the global one), int64 unless `dtype` says so."""
    pos = list(args)
    size = pos.pop() if size is None and pos else size
    high = pos.pop() if high is None and pos else high
    low = (pos.pop() if pos else 0) if low is None else low
    if pos or size is None or high is None:
        raise TypeError("randint: expected (high, size) or (low, high, size)")
    if not low < high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dtype = np.int64 if dtype is None else to_numpy(dtype)
    return _make(rng(generator).integers(low, high, _shape(size)).astype(dtype), requires_grad,
                 device)


def randint_like(t: Tensor, low: int = 0, high: int | None = None, *, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
    """randint(low, high, t.shape) in t's dtype; randint_like(t, high) as in PyTorch."""
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                   requires_grad=requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1, int64 unless `dtype` says otherwise."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dtype = np.int64 if dtype is None else to_numpy(dtype)
    return _make(rng(generator).permutation(int(n)).astype(dtype), requires_grad, device)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples with the given mean and std: tensors (broadcast together; the result
    takes their shape) or numbers with `size`."""
    tensors = [a for a in (mean, std) if isinstance(a, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size is given only when mean and std are numbers")
        shape = np.broadcast_shapes(*[t.shape for t in tensors])
        dtype = tensors[0]._array.dtype if dtype is None else to_numpy(dtype)
    else:
        if size is None:
            raise TypeError("normal: expected size when mean and std are numbers")
        shape, dtype = _shape((size,) if isinstance(size, (int, np.integer)) else size), \
            _float(dtype)
    check_random_float("normal", np.dtype(dtype))
    mu, sigma = np.asarray(_array_of(mean)), np.asarray(_array_of(std))
    if np.any(sigma < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {sigma.min()}")
    draw = rng(generator).standard_normal(shape) * sigma + mu
    return _make(draw.astype(dtype), requires_grad, device)


def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """1 with probability input (or p) elementwise, else 0, in input's dtype."""
    return input.bernoulli(p, generator=generator)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """num_samples category indices drawn from the weights in input's last dim (1-D or 2-D)."""
    return input.multinomial(num_samples, replacement, generator=generator)


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
    dtype = t.dtype if dtype is None else dtype
    return _make(_sample("rand_like", rng(None).random, t.shape, dtype), requires_grad, device)


def randn_like(t: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype = t.dtype if dtype is None else dtype
    return _make(_sample("randn_like", _normal(None, dtype), t.shape, dtype), requires_grad,
                 device)


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
