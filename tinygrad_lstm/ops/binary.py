"""Binary primitives, broadcasting, in PyTorch's result dtype."""

import numpy as np

from ..autograd.primitive import Primitive
from ..dtypes import array_result_type, default_float


_ND = np.ndarray


def _same(out, x, y) -> bool:
    """True when NumPy's result dtype for op(x, y) is PyTorch's: when it is the dtype of each
    array operand (NumPy treats Python scalars as PyTorch does, unless their category is higher,
    and then it promotes the array). Identity tests only: every binary op of the LSTM passes."""
    # a tl.compile trace's arrays (a subclass) count as arrays, unless one stands for a NumPy
    # scalar: the trace takes eager's branch, eager's NumPy calls in eager's operand order (a
    # sum of two NaNs keeps the first one's sign)
    d = out.dtype
    x_array = type(x) is _ND or isinstance(x, _ND) and not getattr(x, "numpy_scalar", False)
    y_array = type(y) is _ND or isinstance(y, _ND) and not getattr(y, "numpy_scalar", False)
    return (x.dtype is d if x_array else y_array) and (not y_array or y.dtype is d)


def _promoted(fn, out, *operands, true_divide: bool = False):
    """fn(*operands) in PyTorch's result dtype (dtypes.array_result_type), the arrays cast to it
    first: `out` is NumPy's result, kept when it has that dtype already. True division of
    integers gives the default float dtype."""
    dtype = array_result_type(*operands)
    if true_divide and dtype.kind not in "fc":
        dtype = default_float()
    if out is not None and out.dtype == dtype:
        return out
    cast = [o.astype(dtype) if isinstance(o, np.ndarray) and o.dtype != dtype else
            o if type(o) in (bool, int, float, complex) else np.asarray(o, dtype)
            for o in operands]  # Python scalars stay weak: NumPy keeps the array's dtype
    return np.asarray(fn(*cast)).astype(dtype, copy=False)


class Add(Primitive):
    """x + y. VJP: (g, g)."""

    @staticmethod
    def forward(ctx, x, y):
        out = x + y
        return out if _same(out, x, y) else _promoted(np.add, out, x, y)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Primitive):
    """x - y. VJP: (g, -g)."""

    @staticmethod
    def forward(ctx, x, y):
        out = x - y
        return out if _same(out, x, y) else _promoted(np.subtract, out, x, y)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Primitive):
    """x * y. VJP: (g * y, g * x)."""
    saved_roles = (0, 1)

    @staticmethod
    def forward(ctx, x, y):
        dx, dy = ctx.needs_input_grad
        ctx.save_for_backward(x if dy else None, y if dx else None)
        out = x * y
        return out if _same(out, x, y) else _promoted(np.multiply, out, x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return (None if y is None else g * y), (None if x is None else g * x)


class Div(Primitive):
    """x / y. VJP: (g / y, -g * out / y)."""
    saved_roles = (1, "out")

    @staticmethod
    def forward(ctx, x, y):
        out = x / y
        if not _same(out, x, y):
            out = _promoted(np.true_divide, out, x, y, true_divide=True)
        ctx.save_for_backward(y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        y, out = ctx.saved_tensors
        dx, dy = ctx.needs_input_grad
        gx = g / y
        return (gx if dx else None), (-gx * out if dy else None)


class Pow(Primitive):
    """x ** y. VJP: (g * y * x**(y-1), g * out * log(x)), each 0 where PyTorch masks it."""
    saved_roles = (0, 1, "out")

    @staticmethod
    def forward(ctx, x, y):
        out = np.power(x, y)
        if not _same(out, x, y):
            out = _promoted(np.power, out, x, y)
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y, out = ctx.saved_tensors
        dx, dy = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            # x**0 has slope 0 even at x = 0; and a 0 base with y >= 0 gives y no gradient
            gx = np.where(np.equal(y, 0), 0, g * y * np.power(x, y - 1)) if dx else None
            gy = np.where((x == 0) & (y >= 0), 0, g * out * np.log(x)) if dy else None
        return gx, gy


class Addcmul(Primitive):
    """input + x * y (elementwise, broadcasting), PyTorch's addcmul with value = 1.
    VJP: (g, g * y, g * x). One node where `input + x * y` is two (the LSTM's c' = f*c + i*g)."""
    saved_roles = (1, 2)

    @staticmethod
    def forward(ctx, input, x, y):
        _, needs_x, needs_y = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_y else None, y if needs_x else None)
        out = np.multiply(x, y)
        if _same(out, x, y) and out.dtype is input.dtype and (
                input.shape == out.shape or
                np.broadcast_shapes(input.shape, out.shape) == out.shape):
            out += input  # in place into the fresh product: one temporary fewer
            return out
        return _promoted(lambda i, a, b: i + a * b, None, input, x, y)  # one dtype for all three

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g, (None if y is None else g * y), (None if x is None else g * x)


def _share(x, y, g, x_wins):
    """g to the winning side, halved where x == y (PyTorch's maximum/minimum rule)."""
    tie = np.equal(x, y)
    half = g * 0.5
    return np.where(tie, half, np.where(x_wins, g, 0)), np.where(tie, half, np.where(x_wins, 0, g))


class Maximum(Primitive):
    """max(x, y) elementwise (nan wins). VJP: g to the larger input, g/2 to each on a tie."""
    saved_roles = (None, None)  # masks

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return _promoted(np.maximum, None, x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _share(x, y, g, np.greater(x, y))


class Minimum(Primitive):
    """min(x, y) elementwise (nan wins). VJP: g to the smaller input, g/2 to each on a tie."""
    saved_roles = (None, None)  # masks

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return _promoted(np.minimum, None, x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _share(x, y, g, np.less(x, y))


class Remainder(Primitive):
    """x - q * y with q = x / y rounded down (remainder: the sign of y) or toward zero (fmod:
    the sign of x). VJP: (g, -g * q)."""
    saved_roles = (None, None)  # the quotient: piecewise constant

    @staticmethod
    def forward(ctx, x, y, trunc):
        out = _promoted(np.fmod if trunc else np.remainder, None, x, y)
        if out.dtype.kind in "iu" and np.any(np.equal(y, 0)):
            raise RuntimeError(f"{'fmod' if trunc else 'remainder'}: ZeroDivisionError")
        ctx.save_for_backward(x, y)
        ctx.trunc = trunc
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        q = np.trunc(x / y) if ctx.trunc else np.floor(x / y)
        return g, (-g * q if ctx.needs_input_grad[1] else None), None
