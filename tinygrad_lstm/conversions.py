"""Tensor's dtype and device conversions, as PyTorch's: `.to(...)`, `.float()`, `.cpu()`,
`float(t)`, `operator.index(t)`, `t.type(tl.LongTensor)`, `new_zeros`, and the legacy typed
constructors `FloatTensor`, `LongTensor`, ... A base class of Tensor, kept apart from tensor.py.
"""

from __future__ import annotations  # the method names float/int/bool shadow the builtins

import builtins
from typing import TYPE_CHECKING

import numpy as np

from . import dtypes
from .device import as_device, cpu, is_device
from .recording import read_array

if TYPE_CHECKING:
    from .tensor import Tensor


class Conversions:
    """The conversion methods of Tensor (which holds the array in `_array`)."""

    __slots__ = ()

    # ------------------------------------------------------------ device

    device = property(lambda self: cpu)
    is_cuda = property(lambda self: False)

    def cpu(self) -> Tensor:
        """The tensor itself: it is on the CPU already."""
        return self

    def cuda(self, device=None) -> Tensor:
        as_device("cuda" if device is None else device)  # raises: no CUDA here
        return self

    # ------------------------------------------------------------ dtype

    def to(self, *args, **kwargs) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)` (other's dtype), with
        `dtype=`, `device=`, `copy=False`, `non_blocking` as keywords. Returns self when nothing
        changes. A cast to a float dtype is recorded by autograd; to any other leaves the graph.
        """
        device, dtype, copy = parse_to_args("to", args, kwargs)
        as_device(device)
        np_dtype = self._array.dtype if dtype is None else dtypes.to_numpy(dtype)
        if np_dtype == self._array.dtype and not copy:
            return self
        if np_dtype.kind != "f":  # astype copies, also to the same dtype
            return self._make(self._array.astype(np_dtype))
        from .ops import Cast  # ops build on Tensor, which builds on this class

        return Cast.apply(self, np_dtype)

    def type(self, dtype=None) -> str | Tensor:
        """Without an argument, the type name ('tinygrad_lstm.FloatTensor'); with a dtype or
        a legacy type (`tl.LongTensor`, or its name), the tensor cast to it."""
        if dtype is None:
            return f"tinygrad_lstm.{_LEGACY_NAME.get(self.dtype, 'Tensor')}"
        if isinstance(dtype, str) and dtype.rpartition(".")[2] in _LEGACY_BY_NAME:
            dtype = _LEGACY_BY_NAME[dtype.rpartition(".")[2]]
        return self.to(getattr(dtype, "tensor_dtype", dtype))

    def type_as(self, other) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor: return self.to(dtypes.float32)
    def double(self) -> Tensor: return self.to(dtypes.float64)
    def half(self) -> Tensor: return self.to(dtypes.float16)
    def long(self) -> Tensor: return self.to(dtypes.int64)
    def int(self) -> Tensor: return self.to(dtypes.int32)
    def short(self) -> Tensor: return self.to(dtypes.int16)
    def byte(self) -> Tensor: return self.to(dtypes.uint8)
    def bool(self) -> Tensor: return self.to(dtypes.bool)

    def is_floating_point(self) -> builtins.bool:
        return self._array.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        return self._array.itemsize

    # ------------------------------------------------------------ Python numbers

    def _scalar(self, op: str):
        if self._array.size != 1:
            raise ValueError(f"{op}: only one element tensors can be converted to Python "
                             f"scalars, got {self._array.size} elements")
        return read_array(self).reshape(()).item()

    def __float__(self) -> builtins.float: return builtins.float(self._scalar("float"))
    def __int__(self) -> builtins.int: return builtins.int(self._scalar("int"))

    def __index__(self) -> builtins.int:
        """A one-element integer (or bool) tensor as an index: `names[t]`, `range(t)`."""
        if self._array.dtype.kind not in "biu" or self._array.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got dtype {self.dtype} with {self._array.size} elements")
        return builtins.int(read_array(self).reshape(()).item())

    # ------------------------------------------------------------ new tensors like this one

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.zeros, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.ones, size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.empty, size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
        return self._new(lambda s, d: np.full(s, fill_value, d), (size,), dtype, device,
                         requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A copy of data with this tensor's dtype unless `dtype` is given."""
        as_device(device)
        array = np.array(getattr(data, "_array", data),
                         dtype=self._array.dtype if dtype is None else dtypes.to_numpy(dtype))
        return self._make(array).requires_grad_(requires_grad)

    def _new(self, fill, size, dtype, device, requires_grad) -> Tensor:
        as_device(device)
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        array = fill(size, self._array.dtype if dtype is None else dtypes.to_numpy(dtype))
        return self._make(array).requires_grad_(requires_grad)


def parse_to_args(op: str, args: tuple, kwargs: dict) -> tuple:
    """(device, dtype, copy) from the forms `.to` takes; a tensor argument gives its dtype."""
    unknown = set(kwargs) - {"device", "dtype", "copy", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(f"{op}() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    args = list(args)
    if args and isinstance(args[0], Conversions):  # to(other): other's dtype (and device)
        dtype = args.pop(0).dtype
    elif args and (args[0] is None or is_device(args[0])):
        device = args.pop(0)
    if args and not isinstance(args[0], builtins.bool):
        dtype = args.pop(0)
    if args and isinstance(args[0], builtins.bool):  # to(dtype, non_blocking, copy)
        args = args[1:]
        if args and isinstance(args[0], builtins.bool):
            kwargs = {**kwargs, "copy": args.pop(0)}
    if args:
        raise TypeError(f"{op}() received an invalid combination of arguments: {args!r} left "
                        f"over; expected to(dtype), to(device, dtype) or to(tensor)")
    return device, dtype, builtins.bool(kwargs.get("copy", False))


class _LegacyType(type):
    """The metaclass of FloatTensor & co.: calling one makes a Tensor of its dtype
    (`LongTensor([1, 2])`, `FloatTensor(2, 3)`), and isinstance checks the dtype."""

    def __call__(cls, *args, **kwargs):
        from .tensor import Tensor

        return Tensor(*args, dtype=cls.tensor_dtype, **kwargs)

    def __instancecheck__(cls, obj) -> builtins.bool:
        return isinstance(obj, Conversions) and obj.dtype is cls.tensor_dtype

    def __repr__(cls) -> str:
        return f"<class 'tinygrad_lstm.{cls.__name__}'>"


class FloatTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.float32


class DoubleTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.float64


class HalfTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.float16


class LongTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.int64


class IntTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.int32


class ShortTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.int16


class CharTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.int8


class ByteTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.uint8


class BoolTensor(metaclass=_LegacyType):
    tensor_dtype = dtypes.bool


_LEGACY = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
           ByteTensor, BoolTensor)
_LEGACY_NAME = {cls.tensor_dtype: cls.__name__ for cls in _LEGACY}
_LEGACY_BY_NAME = {cls.__name__: cls for cls in _LEGACY}
