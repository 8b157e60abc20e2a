"""dtype objects (`tl.float32`, `tl.long`, ...), the default dtype, and PyTorch's type promotion.

A dtype wraps one NumPy dtype in its `.dtype` attribute, which is NumPy's protocol for dtype-like
objects: `np.zeros(3, tl.float32)` and `arr.astype(tl.float32)` work as they are. This module
defines PyTorch's names `bool int float`, so it reaches the builtins as `builtins.*`.
"""

import builtins

import numpy as np

from .recording import model_changed


class dtype:
    """The element type of a Tensor, as torch.dtype: one object per type, `tl.float is
    tl.float32`. It also equals the NumPy dtype it wraps (`t.dtype == np.float32`)."""

    __slots__ = ("dtype", "_name")

    def __init__(self, name: str, np_dtype) -> None:
        self._name = name
        self.dtype = np.dtype(np_dtype)  # read by NumPy wherever it takes a dtype

    is_floating_point = property(lambda self: self.dtype.kind == "f")
    is_complex = property(lambda self: self.dtype.kind == "c")
    is_signed = property(lambda self: self.dtype.kind in "ifc")
    itemsize = property(lambda self: self.dtype.itemsize)

    def __repr__(self) -> str:
        return f"tinygrad_lstm.{self._name}"

    __str__ = __repr__

    def __eq__(self, other) -> "builtins.bool":
        if other is self:
            return True
        if other is None or isinstance(other, (dtype, builtins.str)):
            return False  # names are not compared: "float" means float32 here, float64 to NumPy
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> "builtins.int":
        return hash(self.dtype)  # the NumPy dtype's, so a dict keyed by np.dtype finds it

    def __reduce__(self) -> str:
        return self._name  # pickled and copied as the module-level name: one object per type


bool = dtype("bool", np.bool_)
uint8 = dtype("uint8", np.uint8)
uint16 = dtype("uint16", np.uint16)
uint32 = dtype("uint32", np.uint32)
uint64 = dtype("uint64", np.uint64)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
complex64 = cfloat = dtype("complex64", np.complex64)
complex128 = cdouble = dtype("complex128", np.complex128)

# PyTorch's names, so "float" and "int" are float32 and int32 here (NumPy reads float64, int64)
_BY_NAME = {"bool": bool, "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
            "int8": int8, "int16": int16, "short": int16, "int32": int32, "int": int32,
            "int64": int64, "long": int64, "float16": float16, "half": float16,
            "float32": float32, "float": float32, "float64": float64, "double": float64,
            "complex64": complex64, "cfloat": complex64, "complex128": complex128,
            "cdouble": complex128}


class _ByNumpy(dict):
    """np.dtype -> dtype; a NumPy dtype without a named object (longdouble, '>f4') gets one."""

    def __missing__(self, key: np.dtype) -> dtype:
        native = key.newbyteorder("=")
        found = self[native] if native != key else dtype(builtins.str(native), native)
        self[key] = found
        return found


by_numpy = _ByNumpy((d.dtype, d) for d in set(_BY_NAME.values()))


def as_dtype(value) -> dtype:
    """A dtype object from a dtype object, a NumPy dtype or type, a Python type (float is
    float64, as in PyTorch) or a name ("float32", "long")."""
    if type(value) is dtype:
        return value
    if isinstance(value, builtins.str):
        name = value.removeprefix("torch.").removeprefix("tinygrad_lstm.")
        if name not in _BY_NAME:
            raise TypeError(f"dtype: unknown dtype name {value!r}; expected one of "
                            f"{', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[name]
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"dtype: expected a dtype such as tinygrad_lstm.float32, got "
                        f"{value!r}") from None
    if np_dtype.kind not in "biufc":
        raise TypeError(f"dtype: {np_dtype} is not a numeric dtype")
    return by_numpy[np_dtype]


def to_numpy(value) -> np.dtype:
    """The NumPy dtype of anything `as_dtype` takes; None stays None."""
    return None if value is None else as_dtype(value).dtype


def check_random_float(op: str, np_dtype: np.dtype) -> None:
    """Random floats (rand, randn, normal, uniform_, normal_) are drawn in a floating point or
    complex dtype only: PyTorch refuses an integer or bool one, which would truncate the draws."""
    if np_dtype.kind not in "fc":
        raise RuntimeError(f"{op}: random floats cannot be drawn in dtype {by_numpy[np_dtype]}; "
                           f"ask for a floating point dtype (or use randint)")


# ---------------------------------------------------------------- the default dtype

_default = [float32]  # a list: set_default_dtype changes it in place, readers index it


def get_default_dtype() -> dtype:
    """The dtype of Python floats turned into tensors (float32 unless set otherwise)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Make `d` (a floating point dtype) the default, as torch.set_default_dtype."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {d}")
    model_changed(f"set_default_dtype({d})")
    _default[0] = d


def default_float() -> np.dtype:
    """The default dtype as a NumPy dtype (what the ops compute in)."""
    return _default[0].dtype


# ---------------------------------------------------------------- type promotion

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The smallest dtype of the higher category that holds both, as torch.promote_types:
    within a category NumPy's rule; across categories the higher one's dtype (an int64 and a
    float16 give float16, where NumPy would give float64)."""
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == cb or (ca >= 2 and cb >= 2):
        return np.promote_types(a, b)
    return a if ca > cb else b


def _scalar_dtype(value) -> np.dtype:
    """A Python or NumPy scalar as PyTorch's 'wrapped number': bool, int64 or the default."""
    kind = value.dtype.kind if isinstance(value, (np.generic, np.ndarray)) else \
        "b" if isinstance(value, builtins.bool) else "i" if isinstance(value, builtins.int) else \
        "f" if isinstance(value, builtins.float) else "c" if isinstance(value, complex) else None
    if kind is None:
        raise TypeError(f"expected a Tensor or a number, got {type(value).__name__}")
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "f":
        return default_float()
    if kind == "c":
        return np.dtype(np.complex128 if default_float() == np.float64 else np.complex64)
    return np.dtype(np.bool_)


def array_result_type(*operands) -> np.dtype:
    """PyTorch's result dtype of an elementwise op on arrays and scalars.

    Three groups: dimensioned arrays, 0-d arrays, and scalars (Python or NumPy numbers). Each
    group promotes within itself; a group then decides only where its category is higher than
    that of every group before it (dimensioned, then 0-d, then scalars): a float32 (3,) with a
    0-d int64 gives float32, an int64 (3,) with 1.5 the default float dtype, an int64 (3,)
    with a 0-d float64 gives float64.
    """
    groups = [None, None, None]  # dimensioned, 0-d, scalars
    for x in operands:
        # tl.compile's trace holds a NumPy scalar as a 0-d array that says so
        if isinstance(x, np.ndarray) and (x.ndim or not getattr(x, "numpy_scalar", False)):
            d, g = x.dtype, (0 if x.ndim else 1)
        else:
            d, g = _scalar_dtype(x), 2
        groups[g] = d if groups[g] is None else _promote(groups[g], d)
    out = None
    for d in groups[::-1]:  # from the last group up: each earlier one wins at equal category
        if d is not None:
            out = d if out is None or _CATEGORY[d.kind] >= _CATEGORY[out.kind] else \
                _promote(d, out)
    if out is None:
        raise TypeError("result_type: no operands")
    return out


def promote_types(type1, type2) -> dtype:
    """torch.promote_types: the smallest dtype of the higher category that holds both."""
    return by_numpy[_promote(as_dtype(type1).dtype, as_dtype(type2).dtype)]


def result_type(tensor1, tensor2) -> dtype:
    """torch.result_type: the dtype an arithmetic op on these tensors or numbers gives."""
    return by_numpy[array_result_type(getattr(tensor1, "_array", tensor1),
                                      getattr(tensor2, "_array", tensor2))]
