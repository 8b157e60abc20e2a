"""NumPy's functions on Tensors (NumPy's dispatch protocols, NEP 13 and NEP 18).

This is what lets a derivative be differentiated again with one formula per op. Every VJP is
written with NumPy (`np.dot(g, w.T)`, `np.where(c, g, 0)`, `g * out`); the first-order backward
runs it on arrays at NumPy's speed, and `backward(create_graph=True)` runs the same code on
Tensors, where NumPy hands each call back to us and it becomes a recorded op. HIPS autograd
does the same with a wrapped NumPy; here NumPy's own protocols do the wrapping.

- A ufunc on a Tensor (`np.exp(t)`, and `ndarray * t`, which NumPy turns into np.multiply) is
  the Tensor op, always, as PyTorch's Tensors answer ufuncs with Tensors. Comparisons and
  other piecewise-constant ufuncs give a Tensor that needs no gradient.
- A NumPy function (`np.dot`, `np.where`, `np.concatenate`, ...) on Tensors that need no
  gradient sees the arrays inside, as with PyTorch (the result is an array). Where a gradient
  flows (an argument requires grad, or a recorded backward runs the VJPs) the functions in
  the table below are the Tensor ops.
- Anything else that would drop a gradient raises, naming the function, where PyTorch raises
  too ("Can't call numpy() on Tensor that requires grad"): nothing is silently cut from the
  graph.
"""

import numpy as np

from . import ops
from .autograd.grad_mode import _state
from .tensor import Tensor


def _array(x):
    return x._array if isinstance(x, Tensor) else x


def _arrays(x):
    """x with every Tensor inside (also in lists and tuples) replaced by its array."""
    if isinstance(x, Tensor):
        return x._array
    if type(x) in (list, tuple):
        return type(x)(_arrays(v) for v in x)
    return x


def _needs_grad(x) -> bool:
    if isinstance(x, Tensor):
        return x.requires_grad
    return type(x) in (list, tuple) and any(_needs_grad(v) for v in x)


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


def _constant(fn):
    """A ufunc whose gradient is zero almost everywhere: computed on the arrays, no graph."""
    return lambda *xs, **kw: Tensor._make(np.asarray(fn(*map(_array, xs), **kw)))


_UFUNCS = {
    np.add: ops.Add.apply,
    np.subtract: ops.Sub.apply,
    np.multiply: ops.Mul.apply,
    np.true_divide: ops.Div.apply,
    np.power: ops.Pow.apply,
    np.matmul: ops.Matmul.apply,
    np.maximum: ops.Maximum.apply,
    np.minimum: ops.Minimum.apply,
    np.negative: ops.Neg.apply,
    np.exp: ops.Exp.apply,
    np.log: ops.Log.apply,
    np.tanh: ops.Tanh.apply,
    np.sin: ops.Sin.apply,
    np.cos: ops.Cos.apply,
    np.log1p: ops.Log1p.apply,
    np.expm1: ops.Expm1.apply,
    np.sqrt: lambda x: _tensor(x).sqrt(),
    np.absolute: lambda x: _tensor(x).abs(),
    np.square: lambda x: _tensor(x) * x,
    np.reciprocal: lambda x: 1 / _tensor(x),
    np.remainder: lambda x, y: ops.Remainder.apply(x, y, False),
    np.fmod: lambda x, y: ops.Remainder.apply(x, y, True),
}
for _f in (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
           np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.bitwise_and,
           np.bitwise_or, np.bitwise_xor, np.invert, np.isnan, np.isinf, np.isfinite,
           np.signbit, np.sign, np.floor, np.ceil, np.trunc, np.rint, np.floor_divide):
    _UFUNCS[_f] = _constant(_f)


def _add_at(x: Tensor, index, values) -> None:
    """np.add.at(x, index, values) on Tensors: recorded when a gradient flows."""
    from .inplace import update  # inplace imports this module's Tensor: import it late
    index = _arrays(index)
    update(x, "add.at", lambda t, v: ops.AddAt.apply(t, index, v), (values,))


def ufunc(fn: np.ufunc, method: str, inputs: tuple, kwargs: dict):
    if method == "__call__" and not kwargs and fn in _UFUNCS:
        return _UFUNCS[fn](*inputs)
    if method == "reduce" and fn is np.add and isinstance(inputs[0], Tensor) and \
            set(kwargs) <= {"axis", "keepdims"}:
        axis, keepdims = kwargs.get("axis", 0), kwargs.get("keepdims", False)
        return inputs[0].sum(axis, keepdims) if axis is not None else inputs[0].sum()
    if method == "at" and fn is np.add and isinstance(inputs[0], Tensor):
        return _add_at(*inputs)
    name = f"np.{fn.__name__}{'' if method == '__call__' else '.' + method}"
    if _state.grad_enabled and _needs_grad(inputs):
        if "out" in kwargs:  # `array += tensor`
            raise TypeError(f"{name}: cannot write a tensor that requires grad into a NumPy "
                            f"array (out=, as in `array += tensor`): its graph would be lost; "
                            f"use Tensor ops, or .detach() first")
        raise TypeError(f"{name} has no Tensor version here (or not with these arguments) and "
                        f"would drop the graph of a tensor that requires grad; use a Tensor "
                        f"op, or .detach() first")
    result = getattr(fn, method)(*_arrays(inputs), **_arrays(kwargs))
    if "out" in kwargs:  # into the arrays given, as NumPy (and PyTorch's `array += tensor`)
        return result
    if isinstance(result, tuple):  # np.divmod, np.modf
        return tuple(Tensor._make(np.asarray(r)) for r in result)
    return Tensor._make(np.asarray(result))


# ---------------------------------------------------------------- functions, in a VJP


def _split(x, indices, axis=0):
    n = x.shape[axis]
    cuts = [0, *(min(int(i), n) for i in indices), n]
    return list(ops.Split.apply(x, tuple(zip(cuts[:-1], cuts[1:])), axis % x.ndim))


def _moveaxis(x, source, destination):
    order = [d for d in range(x.ndim) if d != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return ops.Permute.apply(x, tuple(order))


def _swapaxes(x, a, b):
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return ops.Permute.apply(x, tuple(order))


def _transpose(x, axes=None):
    return ops.Permute.apply(x, tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


def _expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shape = list(x.shape)
    for a in sorted(a % (len(shape) + len(axes)) for a in axes):
        shape.insert(a, 1)
    return ops.Reshape.apply(x, tuple(shape))


def _sum(x, axis=None, dtype=None, out=None, keepdims=False):
    if dtype is not None or out is not None:
        raise TypeError("np.sum: dtype= and out= on a Tensor are not supported in a VJP")
    axes = None if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    return ops.Sum.apply(x, None if axes is None else tuple(a % x.ndim for a in axes), keepdims)


def _filled_like(fill):
    """np.zeros_like / np.ones_like: a constant Tensor (it needs no gradient)."""
    def like(x, dtype=None, shape=None):
        x = _array(x)
        return Tensor._make(np.full(x.shape if shape is None else shape, fill, dtype or x.dtype))
    return like


def _cumprod(x, axis):
    """Running products along axis, one multiply per element: a recorded backward's only
    (prod's VJP); first-order backward takes NumPy's cumprod."""
    axis %= x.ndim
    if x.shape[axis] == 0:
        return ops.Clone.apply(x)
    products = list(ops.Unbind.apply(x, axis))
    for k in range(1, len(products)):
        products[k] = products[k - 1] * products[k]
    return ops.Stack.apply(axis, *products)


def _einsum(equation, *xs):
    from .functions import einsum
    return einsum(equation, *xs)


def _dot(x, y):
    if np.ndim(_array(x)) > 2 or np.ndim(_array(y)) > 2:  # np.dot's N-D rule: not matmul's
        raise NotImplementedError("np.dot of arrays with more than 2 dims on Tensors: use "
                                  "np.matmul or @")
    return ops.Matmul.apply(x, y)


_FUNCTIONS = {
    np.dot: _dot,
    np.matmul: ops.Matmul.apply,
    np.where: lambda c, x, y: ops.Where.apply(_array(c), x, y),
    np.broadcast_to: lambda x, shape: ops.Expand.apply(x, tuple(shape)),
    np.reshape: lambda x, shape: ops.Reshape.apply(x, tuple(shape)),
    np.expand_dims: _expand_dims,
    np.transpose: _transpose,
    np.swapaxes: _swapaxes,
    np.moveaxis: _moveaxis,
    np.sum: _sum,
    np.concatenate: lambda xs, axis=0: ops.Cat.apply(axis, *xs),
    np.stack: lambda xs, axis=0: ops.Stack.apply(axis, *xs),
    np.split: _split,
    np.copy: lambda x: ops.Clone.apply(x),
    np.zeros_like: _filled_like(0),
    np.ones_like: _filled_like(1),
    np.einsum: _einsum,
    np.cumprod: _cumprod,
}


# what a function reads of its arguments without their values: no graph to lose
_METADATA = {np.ndim, np.shape, np.size, np.result_type, np.iscomplexobj, np.isrealobj}


def function(fn, args: tuple, kwargs: dict):
    needs_grad = fn not in _METADATA and (_needs_grad(args) or
                                          _needs_grad(tuple(kwargs.values())))
    if _state.differentiating or _state.grad_enabled and needs_grad:
        if fn in _FUNCTIONS:
            return _FUNCTIONS[fn](*args, **kwargs)
        if needs_grad:
            raise TypeError(f"np.{fn.__name__} has no Tensor version here and would drop the "
                            f"graph of a tensor that requires grad; use a Tensor op, or "
                            f".detach() first")
    return fn(*_arrays(args), **_arrays(kwargs))
