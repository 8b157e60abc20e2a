"""Movement primitives: views (reshape, permute, getitem, split, ...), copies, the write
behind in-place ops on views, and where."""

import functools

import numpy as np

from ..autograd.outer_sum import OuterSum
from ..autograd.primitive import Primitive, View
from .binary import _promoted, _same


def _zeros(g, shape: tuple):
    """Zeros of g's dtype to scatter g into: an array, or a Tensor when g is one (the VJP runs
    recorded, under create_graph). perf: np.zeros_like(g, shape=...) would do both, but costs
    2.5 us against 0.9, and a tiny LSTM step runs 25 getitem VJPs (callgrind: 18.15M
    instructions per step with it, 17.91M with this)."""
    if isinstance(g, np.ndarray):  # a tl.compile trace's arrays too: the same C-ordered zeros
        return np.zeros(shape, g.dtype)
    return np.zeros_like(g, shape=shape)


class ShapeError(RuntimeError, ValueError):
    """A shape that does not fit the tensor: PyTorch's RuntimeError, and a ValueError as
    NumPy's own (code written for either catches it)."""


class Reshape(View):
    """x.reshape(shape). VJP: g.reshape(x.shape)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.x_shape = x.shape
        try:
            if isinstance(shape, tuple) and shape and min(shape) < -1:  # NumPy infers it
                raise ValueError
            return x.reshape(shape)
        except ValueError:  # PyTorch's words, and its exception type
            sizes = list(shape) if isinstance(shape, tuple) else [shape]
            bad = next((s for s in sizes if s < -1), None)
            what = f"invalid shape dimension {bad}" if bad is not None else \
                "only one dimension can be inferred" if sizes.count(-1) > 1 else \
                f"shape '{sizes}' is invalid for input of size {x.size}"
            raise ShapeError(f"reshape: {what} (a tensor of shape {tuple(x.shape)}, to "
                             f"{tuple(sizes)})") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.x_shape), None


class Permute(View):
    """x.transpose(axes). VJP: g transposed by the inverse permutation."""
    takes_outer_sum = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        # the inverse permutation in Python: np.argsort of a short tuple costs more than the op
        axes = ctx.axes
        if type(g) is OuterSum:  # W.T's gradient in `x @ W.T`, still a sum of products
            # perf: formed in W's layout, not W.T's: W.grad is then a plain copy of it, not a
            # transposing one (4H x H float32: 2 against 74 us at H = 128, 66 against 2,025 us
            # at 512); formed here, where its factors die (formed at the leaf, bench_lstm's
            # large run peaked 9% higher eager, 18% compiled)
            if axes == (1, 0):
                return g.transposed().materialize(), None
            g = g.materialize()
        return np.transpose(g, sorted(range(len(axes)), key=axes.__getitem__)), None


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
        ctx.args = (x.shape, index)
        try:
            out = x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape})") from None
        if type(out) is not np.ndarray:  # one element: NumPy copies it out, PyTorch gives a view
            index = index if type(index) is tuple else (index,)
            if not any(i is Ellipsis for i in index):  # (tl.compile's arrays are a subclass)
                out = x[index + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, g):
        shape, index = ctx.args
        dx = _zeros(g, shape)
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
            pieces = [_zeros(g, (0,)) if s else next(kept) for s in ctx.skip]
        return (None, *pieces)


def _stack0(xs) -> np.ndarray:
    """np.stack(xs) along a new first axis, C-ordered, for arrays of one shape. np.array copies
    them in C, several times faster than np.stack's Python-level checks on the small arrays of a
    recurrence; a tl.compile trace's arrays take np.stack (its passes write the parts into its
    result), made C-ordered where np.stack keeps the parts' F order, so that the program sums
    the result in eager's order."""
    if type(xs[0]) is np.ndarray:
        return np.array(xs)
    stacked = np.stack(xs)
    return stacked if stacked.flags.c_contiguous else np.ascontiguousarray(stacked)


class Stack(Primitive):
    """stack(xs, axis). VJP: g unstacked along axis."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        shape = np.shape(xs[0])  # an argument may also be a list or a number
        if axis == 0 and all([isinstance(x, np.ndarray) and x.shape == shape for x in xs]):
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
        arrays = ctx.axis == 0 and all([isinstance(g, np.ndarray) for g in gs])  # not Tensors
        return (_stack0(gs) if arrays else np.stack(gs, axis=ctx.axis)), None


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


def view_of(array, steps: tuple):
    """Replay view steps ((op, args, output index), ...) on an array (or, recorded, on a
    Tensor)."""
    for op, rest, i in steps:
        array = op.forward(op(), array, *rest) if isinstance(array, np.ndarray) else \
            op.apply(array, *rest)
        if i is not None:
            array = array[i]
    return array


def write_region(array, steps: tuple, value) -> None:
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
            g_base = np.copy(g)
            write_region(g_base, ctx.steps, 0)
        if needs_src:
            g_src = view_of(g, ctx.steps)
        return g_base, g_src, None


class AddAt(Primitive):
    """x with src added at index, repeated positions adding up (np.add.at, out of place): the
    write of getitem's and gather's VJPs, recorded under create_graph. VJP: (g, None, g[index])."""

    @staticmethod
    def forward(ctx, x, index, src):
        out = x.copy()
        np.add.at(out, index, src)
        ctx.index = index
        return out

    @staticmethod
    def backward(ctx, g):
        return g, None, (g[ctx.index] if ctx.needs_input_grad[2] else None)


class Where(Primitive):
    """where(cond, x, y). VJP: (None, g where cond, g where not cond)."""
    saved_roles = (None,)  # the condition

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


def _along(index: np.ndarray, dim: int) -> tuple:
    """The full index picking x[i_0, ..., index[i], ..., i_n] for each position i of index."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


class Gather(Primitive):
    """out[i] = x[i with i[dim] replaced by index[i]], out of index's shape (PyTorch's gather).
    VJP: g added into zeros at those positions."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.args = (x.shape, dim, index)
        return x[_along(index, dim)]

    @staticmethod
    def backward(ctx, g):
        shape, dim, index = ctx.args
        dx = _zeros(g, shape)
        np.add.at(dx, _along(index, dim), g)
        return dx, None, None


class Scatter(Primitive):
    """x with x[i with i[dim] replaced by index[i]] = src[i] (or += with `add`) for each
    position i of index (PyTorch's scatter and scatter_add, out of place).
    VJP: (g, with the written positions zeroed unless `add`; g gathered there for src)."""

    @staticmethod
    def forward(ctx, x, dim, index, src, add):
        where_, part = _along(index, dim), tuple(slice(0, n) for n in index.shape)
        out = x.copy()
        values = src[part] if np.ndim(src) else src  # src may be larger than index
        if add:
            np.add.at(out, where_, values)  # a repeated index adds every value
        else:
            out[where_] = values
        ctx.args = (where_, part, np.shape(src), add)
        return out

    @staticmethod
    def backward(ctx, g):
        where_, part, src_shape, add = ctx.args
        needs_x, _, _, needs_src, _ = ctx.needs_input_grad
        dx = dsrc = None
        if needs_x:
            dx = g
            if not add:  # the written positions took src's values: their old ones get nothing
                dx = np.copy(g)
                dx[where_] = 0
        if needs_src:
            dsrc = _zeros(g, src_shape)
            dsrc[part] = g[where_]
        return dx, None, None, dsrc, None
