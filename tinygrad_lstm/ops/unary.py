"""Unary primitives: elementwise functions of one array, and the dtype cast."""

import math

import numpy as np

from ..autograd.primitive import Primitive
from ..dtypes import default_float
from ..recording import one_call


# 1 as a 0-d array of each float type, for tanh's and sigmoid's `1 - out`: NumPy converts a Python
# scalar operand at every call, which costs more than the arithmetic on an LSTM step's (1, H)
# Keyed by dtype, which a Tensor's dtype also finds (backward(create_graph=True)).
_ONE = {np.dtype(t): np.ones((), t)
        for t in (np.float16, np.float32, np.float64, np.longdouble)}
# perf: sigmoid's 1 / x as np.divide(1, x), not np.reciprocal: the same bits (both correctly
# rounded), and NumPy's divide loop is SIMD where reciprocal's is not: (16, 512) float32 2.36 ->
# 1.45 us, (32, 1024) 7.06 -> 3.93 (reciprocal is faster only below ~1,000 elements, 0.2 us)


def _floating(x):
    """Integer or bool input computes in the default float dtype, as in PyTorch (NumPy would
    use float64, or float16 for int8)."""
    return x if x.dtype.kind == "f" else x.astype(default_float())


class Neg(Primitive):
    """-x. VJP: -g."""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Primitive):
    """exp(x). VJP: g * out."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Primitive):
    """log(x). VJP: g / x."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Tanh(Primitive):
    """tanh(x). VJP: g * (1 - out**2)."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        dx = _ONE[out.dtype] - out * out
        dx *= g  # in place: one temporary fewer
        return dx


def _sigmoid_of_negated(out: np.ndarray) -> np.ndarray:
    """out = -x becomes sigmoid(x) = 1 / (1 + exp(-x)), in place: one temporary."""
    np.exp(out, out=out)  # overflows to inf for very negative x: the exact limit 0
    out += _ONE[out.dtype]
    np.divide(_ONE[out.dtype], out, out=out)  # perf: at _ONE
    return out


def _sigmoid_slope(out):
    """sigmoid's derivative from its output, out * (1 - out): a new array (or Tensor, under
    create_graph), multiplied in place."""
    slope = _ONE[out.dtype] - out
    slope *= out
    return slope


class Sigmoid(Primitive):
    """1 / (1 + exp(-x)). VJP: g * out * (1 - out)."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = np.negative(x)
        if type(out) is np.ndarray:  # a 0-d x gives a NumPy scalar
            out = _sigmoid_of_negated(out)
        else:
            out = np.asarray(1 / (1 + np.exp(out)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        dx = _sigmoid_slope(out)
        dx *= g  # in place: two temporaries fewer
        return dx


class LSTMGates(Primitive):
    """An LSTM step's four gates from their pre-activations a: (N, 4H), blocks i, f, g, o:
    sigmoid on i, f and o, tanh on g, in one array (the same values as Sigmoid's and Tanh's).
    VJP: g * out * (1 - out) on the sigmoid blocks, g * (1 - out**2) on the tanh block.

    One node where sigmoid over all four blocks, a slice for g and its tanh were three, and one
    gradient where theirs were two padded with zeros and added (the slice's, and the split's for
    the discarded sigmoid of g)."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, a):
        a = _floating(a)
        hidden = a.shape[-1] // 4
        out = _sigmoid_of_negated(np.negative(a))  # over all four blocks, as Sigmoid's
        np.tanh(a[..., 2 * hidden:3 * hidden], out=out[..., 2 * hidden:3 * hidden])
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        one, hidden = _ONE[out.dtype], out.shape[-1] // 4
        local = _sigmoid_slope(out)  # then tanh's derivative in the g block
        t = out[..., 2 * hidden:3 * hidden]
        if isinstance(local, np.ndarray):
            local_g = local[..., 2 * hidden:3 * hidden]
            np.multiply(t, t, out=local_g)
            np.subtract(one, local_g, out=local_g)
        else:  # create_graph: Tensors, a recorded write
            local[..., 2 * hidden:3 * hidden] = one - t * t
        # out of place: a tl.compile program makes the gradient where it is used next (a row of
        # W_hh's gradient's concatenation), and batches the local derivatives over time steps
        return local * g


class Relu(Primitive):
    """max(x, 0). VJP: g * (out > 0)."""
    saved_roles = (None,)  # a mask

    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out > 0)


@one_call  # under tl.compile, a call of the program (its Python loop reads the values)
def _erf(x: np.ndarray) -> np.ndarray:
    """math.erf, exact to the last bit, at each element (NumPy has no erf). perf: through a
    list and np.fromiter, 0.085 s per million elements against 0.137 s for np.frompyfunc."""
    return np.fromiter(map(math.erf, x.ravel().tolist()), x.dtype, x.size).reshape(x.shape)


class Erf(Primitive):
    """erf(x), elementwise. VJP: g * 2/sqrt(pi) * exp(-x**2).
    A primitive because no composite of exp, log and tanh gives erf (exact GELU needs it)."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


class Cast(Primitive):
    """x.astype(dtype). VJP: g (the engine casts it back to x's dtype).
    A primitive because no arithmetic composite changes a dtype (float() / double())."""

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None


class Sin(Primitive):
    """sin(x). VJP: g * cos(x)."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.cos(x)


class Cos(Primitive):
    """cos(x). VJP: -g * sin(x)."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * np.sin(x)


class Log1p(Primitive):
    """log(1 + x). VJP: g / (1 + x). A primitive for accuracy: log(1 + x) loses x < eps."""
    saved_roles = (0,)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x + 1)


class Expm1(Primitive):
    """exp(x) - 1. VJP: g * (out + 1). A primitive for accuracy near 0 (no cancellation)."""
    saved_roles = ("out",)

    @staticmethod
    def forward(ctx, x):
        out = np.expm1(_floating(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out + 1)


class Stepwise(Primitive):
    """fn(*xs) for a piecewise constant fn (floor, ceil, round, trunc, sign, division with
    rounding). VJP: 0 for each x, as PyTorch's (the graph stays connected)."""

    @staticmethod
    def forward(ctx, fn, *xs):
        return np.asarray(fn(*xs))

    @staticmethod
    def backward(ctx, g):
        return (None, *(np.zeros_like(g) if needs else None for needs in ctx.needs_input_grad[1:]))
