"""The primitive ops: each forward beside its vector-Jacobian product.

Every op sees NumPy arrays. A VJP returns one gradient per forward argument (None where none
is needed) in the shape of the broadcast result: the engine sums it back to the input's shape.
A VJP never writes into `grad_output`, which other nodes may share.
"""

import functools
import math
import warnings

import numpy as np

from .autograd.primitive import OuterSum, Primitive, View
from .dtypes import array_result_type, default_float

# exp overflows to inf for large arguments, which is the right value (sigmoid's exp(-x) for
# x < -88 in float32 gives the exact limit 0; exp and log_softmax's exp give inf / 0 as they
# should): silence only that warning, only for this module. np.errstate around each call would
# cost more than the op on small arrays.
warnings.filterwarnings("ignore", "overflow encountered in exp", RuntimeWarning, __name__)

# ---------------------------------------------------------------- unary


# 1 as a 0-d array of each float type, for tanh's and sigmoid's `1 - out`: NumPy converts a Python
# scalar operand at every call, which costs more than the arithmetic on an LSTM step's (1, H)
_ONE = {t: np.ones((), t) for t in (np.float16, np.float32, np.float64, np.longdouble)}


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

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        dx = _ONE[out.dtype.type] - out * out
        dx *= g  # in place: one temporary fewer
        return dx


class Sigmoid(Primitive):
    """1 / (1 + exp(-x)). VJP: g * out * (1 - out)."""

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = np.negative(x)
        if type(out) is np.ndarray:  # in place: one temporary; a 0-d x gives a NumPy scalar
            np.exp(out, out=out)  # overflows to inf for very negative x: the exact limit 0
            out += _ONE[out.dtype.type]
            np.reciprocal(out, out=out)
        else:
            out = np.asarray(1 / (1 + np.exp(out)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        dx = _ONE[out.dtype.type] - out
        dx *= out  # in place: two temporaries fewer
        dx *= g
        return dx


class Relu(Primitive):
    """max(x, 0). VJP: g * (out > 0)."""

    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out > 0)


_ERF = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is exact to the last bit


class Erf(Primitive):
    """erf(x), elementwise. VJP: g * 2/sqrt(pi) * exp(-x**2).
    A primitive because no composite of exp, log and tanh gives erf (exact GELU needs it)."""

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.asarray(_ERF(x), dtype=x.dtype)

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


# ---------------------------------------------------------------- binary (broadcasting)


_ND = np.ndarray


def _same(out, x, y) -> bool:
    """True when NumPy's result dtype for op(x, y) is PyTorch's: when it is the dtype of each
    array operand (NumPy treats Python scalars as PyTorch does, unless their category is higher,
    and then it promotes the array). Identity tests only: every binary op of the LSTM passes."""
    d = out.dtype
    return (x.dtype is d if type(x) is _ND else type(y) is _ND) and (type(y) is not _ND or
                                                                    y.dtype is d)


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


# ---------------------------------------------------------------- matmul


class Matmul(Primitive):
    """x @ y for 1-D, 2-D and batched operands. VJP: (g @ y^T, x^T @ g)."""

    @staticmethod
    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"matmul: both arguments to matmul need to be at least 1D, but they "
                             f"are {x.ndim}D and {y.ndim}D: {x.shape} @ {y.shape}")
        if x.dtype is not y.dtype:  # PyTorch raises; promote, for `ndarray @ Tensor` constants
            dtype = array_result_type(x, y)
            x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
        k_y = y.shape[0] if y.ndim == 1 else y.shape[-2]
        if x.shape[-1] != k_y:
            raise ValueError(f"matmul: {x.shape} @ {y.shape}: inner dimensions "
                             f"{x.shape[-1]} and {k_y} differ")
        needs_x, needs_y = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_y else None, y if needs_x else None)
        ctx.x_shape, ctx.y_shape = x.shape, y.shape
        if x.ndim > 2 and y.ndim == 2:  # one large GEMM beats NumPy's loop over the batch
            rows = math.prod(x.shape[:-1])  # not -1: with k_y = 0 the row count is ambiguous
            out = np.dot(x.reshape(rows, k_y), y).reshape(*x.shape[:-1], y.shape[1])
        else:  # np.dot always reaches BLAS; np.matmul does not for some 2-D layouts (10x slower)
            out = np.dot(x, y) if x.ndim <= 2 and y.ndim <= 2 else np.matmul(x, y)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors  # x is kept only when dy is needed, y only when dx is
        x_ndim, y_ndim = len(ctx.x_shape), len(ctx.y_shape)
        if x_ndim == 2 and y_ndim == 2:  # the common case first: no reshapes, a call each
            dx = None if y is None else np.dot(g, y.T)
            dy = None if x is None else OuterSum(x, g)  # lazy x^T g
            return dx, dy
        if x_ndim == 1 and y_ndim == 1:
            return (None if y is None else g * y), (None if x is None else g * x)
        if x_ndim >= 2 and y_ndim == 2:  # fold any batch into rows: dy is one GEMM, no batch sum
            rows = math.prod(ctx.x_shape[:-1])  # not -1: a size may be 0
            g2 = g.reshape(rows, g.shape[-1])
            dx = None if y is None else np.dot(g2, y.T).reshape(ctx.x_shape)
            dy = None if x is None else OuterSum(x.reshape(rows, x.shape[-1]), g2)  # lazy x^T g
            return dx, dy
        # treat a 1-D operand as a matrix with a size-1 axis, then drop that axis again
        if x_ndim == 1:
            g = np.expand_dims(g, -2)
        if y_ndim == 1:
            g = np.expand_dims(g, -1)
        dx = dy = None
        if y is not None:
            dx = np.matmul(g, np.swapaxes(y[:, None] if y_ndim == 1 else y, -1, -2))
            dx = dx[..., 0, :] if x_ndim == 1 else dx
        if x is not None:
            dy = np.matmul(np.swapaxes(x[None, :] if x_ndim == 1 else x, -1, -2), g)
            dy = dy[..., 0] if y_ndim == 1 else dy
        return dx, dy


class Addmm(Primitive):
    """input + x @ w for matrices x: (N, K), w: (K, M), PyTorch's addmm (beta = alpha = 1).
    VJP: (g, g @ w^T, x^T @ g). One node where `input + x @ w` records two (the LSTM step)."""

    @staticmethod
    def forward(ctx, input, x, w):
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
            raise ValueError(f"addmm: expected matrices (N, K) @ (K, M), got {x.shape} @ "
                             f"{w.shape}")
        product = np.dot(x, w)
        if input.dtype != product.dtype:  # the sum would promote silently
            raise TypeError(f"addmm: input has dtype {input.dtype}, the product {product.dtype}")
        if input.shape != product.shape and \
                np.broadcast_shapes(input.shape, product.shape) != product.shape:
            raise ValueError(f"addmm: input of shape {input.shape} does not broadcast to the "
                             f"product's shape {product.shape}")
        _, needs_x, needs_w = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_w else None, w if needs_x else None)
        # a new array, as `input + x @ w` makes. Adding in place would save an (N, M) temporary,
        # but then an LSTM's activations sit packed at the top of the heap: backward frees them
        # all, glibc returns that memory to the OS and the next forward faults it back in
        # (measured: 300-6,500 page faults per step and 5-20% slower, at every (B, H) tried)
        return np.add(input, product)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return (g, None if w is None else np.dot(g, w.T),
                None if x is None else OuterSum(x, g))  # lazy x^T g, as Matmul's


class Linear(Primitive):
    """x @ w^T + b for x: (*, K), w: (M, K), b: (M,) (or (1,)) or None, PyTorch's F.linear.
    VJP: (g @ w, g^T x, g summed over rows). A primitive for measured speed: one node where
    the composite records three (w.T, the matmul, the bias add), and for (T, N, K) input no
    reshapes around a 2-D addmm (tiny LSTM benchmark: 5 nodes fewer per training step)."""

    @staticmethod
    def forward(ctx, x, w, b):
        if b is not None and b.shape[0] not in (1, w.shape[0]):
            raise ValueError(f"linear: bias of shape {b.shape} does not broadcast to the "
                             f"{w.shape[0]} output features of weight {w.shape}")
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # leading dims folded: one GEMM
        out = np.dot(x2, w.T)  # (N, M)
        if b is not None:
            out += b  # in place: one temporary fewer than x @ w.T + b
        needs_x, needs_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x2 if needs_w else None, w if needs_x else None)
        ctx.x_shape = x.shape
        return out.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x2, w = ctx.saved_tensors
        g2 = g.reshape(math.prod(g.shape[:-1]), g.shape[-1])  # not -1: a size may be 0
        dx = None if w is None else np.dot(g2, w).reshape(ctx.x_shape)
        dw = None if x2 is None else OuterSum(g2, x2)  # lazy g^T x, as Matmul's
        db = g2.sum(axis=0) if ctx.needs_input_grad[2] else None  # b was added to every row
        return dx, dw, db


# ---------------------------------------------------------------- reduce


def _unreduce(g: np.ndarray, axes: tuple | None, keepdim: bool, shape: tuple) -> np.ndarray:
    """The reduced gradient as a view broadcast over the input's shape."""
    if not keepdim and axes is not None:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


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


# ---------------------------------------------------------------- movement


class Reshape(View):
    """x.reshape(shape). VJP: g.reshape(x.shape)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.x_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.x_shape), None


class Permute(View):
    """x.transpose(axes). VJP: g transposed by the inverse permutation."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        # the inverse permutation in Python: np.argsort of a short tuple costs more than the op
        axes = ctx.axes
        return g.transpose(sorted(range(len(axes)), key=axes.__getitem__)), None


def _is_basic(index) -> bool:
    """True for slices, ints, None and Ellipsis only: such an index picks each element once."""
    for i in index if type(index) is tuple else (index,):  # a loop: each LSTM step slices g
        if not (type(i) in (slice, int) or i is None or i is Ellipsis
                or isinstance(i, np.integer)):
            return False
    return True


class Getitem(View):
    """x[index]. VJP: g scattered into zeros at index (added up where an index repeats)."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.args = (x.shape, x.dtype, index)
        try:
            out = x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape})") from None
        if type(out) is not np.ndarray:  # one element: NumPy copies it out, PyTorch gives a view
            out = x[(index if type(index) is tuple else (index,)) + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, g):
        shape, dtype, index = ctx.args
        dx = np.zeros(shape, dtype)
        if _is_basic(index):
            dx[index] = g
        else:
            np.add.at(dx, index, g)
        return dx, None


class Cat(Primitive):
    """concatenate(xs, axis), where a 1-D empty x beside others is left out (PyTorch's legacy
    rule). VJP: g split back into the inputs' sizes along axis (empty for a left-out x)."""

    @staticmethod
    def forward(ctx, axis, *xs):
        skip = [np.shape(x) == (0,) for x in xs]
        ctx.skip = skip if any(skip) and not all(skip) else None
        kept = xs if ctx.skip is None else [x for x, s in zip(xs, skip) if not s]
        ctx.args = (axis, np.cumsum([np.shape(x)[axis] for x in kept])[:-1])
        return np.concatenate(kept, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis, offsets = ctx.args
        pieces = np.split(g, offsets, axis=axis)
        if ctx.skip is not None:  # a left-out input's gradient is empty, as the input is
            kept = iter(pieces)
            pieces = [np.zeros(0, g.dtype) if s else next(kept) for s in ctx.skip]
        return (None, *pieces)


def _stack0(xs) -> np.ndarray:
    """np.stack(xs) for arrays of one shape: np.array copies them in C, several times faster
    than np.stack's Python-level checks on the small arrays of a recurrence."""
    return np.array(xs)


class Stack(Primitive):
    """stack(xs, axis). VJP: g unstacked along axis."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        shape = np.shape(xs[0])  # an argument may also be a list or a number
        if axis == 0 and all([type(x) is np.ndarray and x.shape == shape for x in xs]):
            return _stack0(xs)
        return np.stack(xs, axis=axis)  # other axes, and unequal shapes (NumPy names them)

    @staticmethod
    def backward(ctx, g):
        return (None, *(g if ctx.axis == 0 else np.moveaxis(g, ctx.axis, 0)))


@functools.lru_cache(maxsize=256)  # every LSTM step splits its gates the same way
def _slices(bounds: tuple, axis: int) -> tuple:
    """The index x[..., a:b] along axis for each (a, b) in bounds."""
    lead = (slice(None),) * axis
    return tuple([lead + (slice(a, b),) for a, b in bounds])


# Split and Unbind are primitives, not getitem composites, for measured speed: as one node with
# many outputs, their VJP is one concatenate, where n getitems would scatter n full-size
# zero arrays (quadratic in T when an LSTM unbinds its hoisted input projection).


class Split(View):
    """Views x[..., a:b, ...] along axis for each (a, b) in bounds (multi-output).
    VJP: concatenate(gs, axis)."""

    @staticmethod
    def forward(ctx, x, bounds, axis):
        ctx.axis = axis
        return tuple([x[index] for index in _slices(bounds, axis)])

    @staticmethod
    def backward(ctx, *gs):
        return np.concatenate(gs, axis=ctx.axis), None, None


class Unbind(View):
    """The slices x[..., i, ...] along axis (multi-output). VJP: stack(gs, axis)."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return tuple(x if axis == 0 else np.moveaxis(x, axis, 0))  # views, one per index

    @staticmethod
    def backward(ctx, *gs):  # the gradients have one shape: the engine zero-fills missing ones
        return (_stack0(gs) if ctx.axis == 0 else np.stack(gs, axis=ctx.axis)), None


class Expand(View):
    """x broadcast to shape, a read-only view. VJP: g (the engine sums it back to x's shape)."""

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None


class Clone(Primitive):
    """A C-ordered copy of x (clone, contiguous). VJP: g."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


def view_of(array: np.ndarray, steps: tuple) -> np.ndarray:
    """Replay view steps ((op, args, output index), ...) on an array."""
    for op, rest, i in steps:
        array = op.forward(op(), array, *rest)
        if i is not None:
            array = array[i]
    return array


def write_region(array: np.ndarray, steps: tuple, value) -> None:
    """array's region picked by the view steps := value (the last step may be any index)."""
    *lead, (op, rest, i) = steps
    target = view_of(array, tuple(lead))
    if op is Getitem:  # also an advanced index, which picks a copy to read but writes in place
        target[rest[0]] = value
    else:
        view_of(target, ((op, rest, i),))[...] = value


class CopySlices(Primitive):
    """base with the region picked by view steps replaced by src, written into base's memory:
    the write of `base[index] = src` and of an in-place op on a view of base.
    VJP: (g with the region zeroed, g's region, None)."""

    @staticmethod
    def forward(ctx, base, src, steps):
        write_region(base, steps, src)
        ctx.steps = steps
        return base

    @staticmethod
    def backward(ctx, g):
        needs_base, needs_src, _ = ctx.needs_input_grad
        g_base = g_src = None
        if needs_base:
            g_base = np.array(g)
            write_region(g_base, ctx.steps, 0)
        if needs_src:
            g_src = view_of(g, ctx.steps)
        return g_base, g_src, None


class Where(Primitive):
    """where(cond, x, y). VJP: (None, g where cond, g where not cond)."""

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        out = np.where(cond, x, y)
        return out if _same(out, x, y) else _promoted(lambda a, b: np.where(cond, a, b), out, x, y)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, dx, dy = ctx.needs_input_grad
        return None, (np.where(cond, g, 0) if dx else None), (np.where(cond, 0, g) if dy else None)


# ---------------------------------------------------------------- fused nn (for stability)


class LogSoftmax(Primitive):
    """x - logsumexp(x, axis). VJP: g - exp(out) * sum(g, axis)."""

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
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True), None


def class_targets(target: np.ndarray, ignore_index: int, n_classes: int, op: str) -> tuple:
    """(targets with ignored ones set to class 0, mask of the kept ones); raises IndexError
    naming the first target outside [0, n_classes)."""
    valid = target != ignore_index
    t = np.where(valid, target, 0)
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = t[(t < 0) | (t >= n_classes)]
        raise IndexError(f"{op}: target {bad[0]} is out of bounds for {n_classes} classes")
    return t, valid


class CrossEntropy(Primitive):
    """Mean/sum/per-row -log softmax(x)[target] over rows of x: (N, C), target: (N,) ints,
    with label smoothing and an ignored class. VJP: (softmax(x) - smoothed onehot) * g / n."""

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
        n_valid = np.count_nonzero(valid)
        ctx.save_for_backward(logp, t, valid, rows)
        ctx.args = (label_smoothing, reduction, n_valid)
        if reduction == "none":
            return loss
        total = np.add.reduce(loss, dtype=x.dtype)
        if reduction == "sum":
            return np.asarray(total)
        # every target ignored: the mean is 0/0 = nan (as in PyTorch), the gradient 0
        return np.asarray(total / x.dtype.type(n_valid) if n_valid else x.dtype.type(np.nan))

    @staticmethod
    def backward(ctx, g):
        logp, t, valid, rows = ctx.saved_tensors
        label_smoothing, reduction, n_valid = ctx.args
        dx = np.exp(logp)
        dx[rows, t] -= 1 - label_smoothing
        if label_smoothing:
            dx -= label_smoothing / logp.shape[1]
        if reduction == "mean":
            g = g / max(n_valid, 1)
        scale = valid * g
        dx *= scale.astype(dx.dtype, copy=False)[:, None]
        return dx, None, None, None, None
