"""In-place ops: `x.add_(y)`, `x += y`, `x[i] = v`, as PyTorch does them.

Where no gradient flows (inside `no_grad()`, or nothing requires grad) an in-place op is one
NumPy call into the tensor's memory; where one flows it is recorded:

1. the op runs out of place on a snapshot of `x` that stands for x's current history;
2. the result is written into x's memory (through a view, into its base's memory);
3. x takes the result's history. For a view, its base takes a `CopySlices` node (the region
   replaced by the result) and the view becomes a view of that new base again.

Either way the version counter of the memory is bumped, so a node that saved the old values
refuses to run its backward. A leaf that requires grad, or a view of one, refuses in-place
ops outside `no_grad()`, as in PyTorch.
"""

from collections.abc import Callable

import numpy as np

from . import ops
from .autograd.grad_mode import _state, no_grad
from .autograd.primitive import fresh, refresh_view, set_history, view_base
from .recording import note_inplace
from .tensor import Tensor, _array_of, _unwrap_index


def needs_recording(x: Tensor, args) -> bool:
    return _state.grad_enabled and (x.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))


def update(x: Tensor, op: str, compute: Callable, args: tuple, in_place: Callable | None = None,
           cast: str = "same_kind") -> Tensor:
    """x := compute(x, *args), in x's memory. `in_place(array, *arrays)` does it with NumPy when
    nothing is recorded (the optimizers' path); without it, compute runs under no_grad and its
    result is copied in. `cast` is the NumPy casting rule from the result's dtype to x's."""
    if _state.tracer is not None:  # tl.compile: the NumPy write below is a call of the program
        _state.tracer.writes_into(op, (x, *args))
    if needs_recording(fresh(x), args):
        _check_allowed(x, op)
        source = Tensor._make(x._array.copy(), x._ctx, x._key)  # x's history, the old values
        result = _conform(compute(source, *args), x, op, cast)
        _write(x, result, ())
        return x
    try:
        if in_place is not None:
            in_place(x._array, *map(_array_of, args))
        else:
            with no_grad():
                np.copyto(x._array, _conform(compute(x, *args), x, op, cast)._array)
    except (TypeError, ValueError) as e:
        raise _error(op, x, args, e) from None
    note_inplace(x._array)
    return x


def setitem(x: Tensor, index, value) -> None:
    """x[index] = value, recorded as CopySlices when value (or x) carries a gradient."""
    index = _unwrap_index(index)
    if _state.tracer is not None:
        _state.tracer.writes_into("__setitem__", (x, value))
    if not needs_recording(fresh(x), (value,)):
        try:
            x._array[index] = _array_of(value)
        except (TypeError, ValueError, IndexError) as e:
            raise _error("__setitem__", x, (value,), e) from None
        note_inplace(x._array)
        return
    _check_allowed(x, "__setitem__")
    src = value if isinstance(value, Tensor) else Tensor(np.asarray(value, x._array.dtype))
    if src._array.dtype != x._array.dtype:
        src = src.to(x._array.dtype)
    _write(x, src, ((ops.Getitem, (index,), None),))


def _check_allowed(x: Tensor, op: str) -> None:
    base = view_base(x)[0]
    if base._ctx is None and base.requires_grad:
        what = "a leaf Variable" if base is x else "a view of a leaf Variable"
        raise RuntimeError(f"{op}: {what} that requires grad is being used in an in-place "
                           f"operation. Update parameters inside torch.no_grad() (here "
                           f"tinygrad_lstm.no_grad()), or use the out-of-place op.")


def _conform(result, x: Tensor, op: str, cast: str) -> Tensor:
    """The result of an in-place op in x's shape and dtype, or PyTorch's error."""
    result = result if isinstance(result, Tensor) else Tensor(np.asarray(result))
    if result.shape != x.shape:
        raise RuntimeError(f"{op}: output with shape {list(x.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")
    have, want = result._array.dtype, x._array.dtype
    if have != want:
        if not np.can_cast(have, want, cast):
            raise RuntimeError(f"{op}: result type {have} can't be cast to the desired output "
                               f"type {want}")
        result = result.to(want)
    return result


def _write(x: Tensor, src: Tensor, steps: tuple) -> None:
    """Write src into x's region picked by steps (all of x for none), bump the version and
    give x (and its base, for a view) the history of the write."""
    _state.rebased = True  # from now on, ops check their view inputs for a stale history
    if x._view is None and not steps:
        try:
            np.copyto(x._array, src._array)
        except ValueError as e:
            raise _error("in-place op", x, (src,), e) from None
        note_inplace(x._array)
        set_history(x, src)
        return
    base, base_steps = view_base(x)
    try:
        written = ops.CopySlices.apply(base, src, base_steps + steps)
    except ValueError as e:  # a broadcast (expanded) view is read-only
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.") from e
    note_inplace(base._array)
    set_history(base, written)
    if x is not base:  # x is a view of the new base again
        refresh_view(x)


def _error(op: str, x: Tensor, args, e: Exception) -> Exception:
    expanded = any(st == 0 and n > 1 for st, n in zip(x._array.strides, x.shape))
    if isinstance(e, ValueError) and "read-only" in str(e) and not expanded:
        return RuntimeError(f"{op}: the tensor's memory is read-only (a NumPy array that is not "
                            f"writeable, given to from_numpy?). Please clone() the tensor before "
                            f"performing the operation.")
    if isinstance(e, ValueError) and "read-only" in str(e):
        return RuntimeError(f"{op}: unsupported operation: more than one element of the "
                            f"written-to tensor refers to a single memory location (an "
                            f"expanded tensor). Please clone() the tensor before performing "
                            f"the operation.")
    if isinstance(e, IndexError):
        return IndexError(f"{op}: {e} (tensor of shape {x.shape})")
    shapes = ", ".join(str(np.shape(_array_of(a))) for a in args)
    return RuntimeError(f"{op}: cannot update a tensor of shape {x.shape} and dtype "
                        f"{x._array.dtype} in place with ({shapes}): {e}")
