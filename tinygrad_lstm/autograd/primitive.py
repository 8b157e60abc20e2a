"""`Primitive`: the way a built-in op enters the tape.

A Primitive's `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` are static methods that
see NumPy arrays (Tensors are unwrapped on the way in and wrapped on the way out). The ctx *is*
the graph node: `apply` creates one per call and records it only when a gradient is needed.
User ops subclass the Tensor-level `autograd.Function` instead, which records through one
Primitive per call.
"""

import operator
import traceback
from collections.abc import Callable

import numpy as np

from ..tensor import Tensor
from ..recording import _sequence, _state, same_layout
from .outer_sum import dense


def _user_frame() -> str:
    """'file:line: code' of the innermost caller outside this package."""
    package = __file__.rsplit("/", 2)[0]
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not frame.filename.startswith(package):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


class Primitive:
    """Base class of every built-in differentiable op.

    Subclass it with `@staticmethod forward(ctx, *args)` returning an array (or a tuple of
    arrays) and `@staticmethod backward(ctx, *grad_outputs)` returning one gradient per
    argument of forward (None for arguments that need none), then call `MyOp.apply(*args)`.
    """

    __slots__ = ("edges", "needs_input_grad", "seq", "scope", "__dict__")
    # often or always left as they are, so class-level defaults rather than per-op assignments:
    saved_tensors = ()  # set by save_for_backward; None once backward has freed them
    outputs = None  # ((shape, dtype), ...) of a multi-output op, to zero-fill missing grads
    hooks = None  # {output index: [fn]}, set by Tensor.register_hook on a non-leaf output
    trace = "<unknown>"  # the user line that created the op, recorded under detect_anomaly
    materialize_grads = True  # zeros, not None, for outputs that got no gradient
    takes_outer_sum = False  # backward is given a weight's lazy gradient (an OuterSum) as it is
    # What each saved array is, for backward(create_graph=True), which runs the VJP on Tensors
    # that stand for them in the graph: an int i is forward's argument i, "out" the output,
    # None a constant (a mask, an index: the VJP uses it where its derivative is 0), a function
    # f(ctx, array) -> Tensor anything else; a function of ctx may give the tuple. A primitive
    # that saves arrays must say (create_graph.py checks).
    saved_roles = ()

    def register_hook(self, index: int, fn) -> "Callable[[], None]":
        """Call fn(grad) on the gradient of output `index` before this node's backward runs
        (a returned tensor replaces it); returns a function that removes the hook again."""
        try:
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"register_hook: the output index must be an int, got "
                            f"{type(index).__name__}") from None
        n_outputs = 1 if self.outputs is None else len(self.outputs)
        if not 0 <= index < n_outputs:
            raise IndexError(f"register_hook: {self.name()} has {n_outputs} output(s), got "
                             f"output index {index}")
        if self.hooks is None:
            self.hooks = {}
        hooks = self.hooks.setdefault(index, [])
        hooks.append(fn)

        def remove() -> None:
            if fn in hooks:
                hooks.remove(fn)
            if not hooks and self.hooks is not None:
                self.hooks.pop(index, None)
                if not self.hooks:
                    self.hooks = None  # the engine skips the hook pass for this node again

        return remove

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for backward; they are freed after it unless retain_graph=True."""
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("forward of a Primitive must be defined")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(f"backward of {type(ctx).__name__} not defined")

    def name(self) -> str:
        return f"{type(self).__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @classmethod
    def apply(cls, *args):
        """Run forward on the arrays inside `args`; record a node if any input needs a gradient."""
        tracer = _state.tracer
        if tracer is not None:  # tl.compile is writing this run down (jit/capture.py)
            tracer.enter(cls, args)
        ctx = cls()
        arrays = []
        needs = []
        edges = []  # per argument: None, or (producing node, gradient key, shape, dtype)
        record = False
        grad_enabled = _state.grad_enabled
        if _state.rebased:  # a recorded in-place op has happened: views may need new history
            for a in args:
                if isinstance(a, Tensor) and a._view is not None:
                    refresh_view(a)
        for a in args:
            if isinstance(a, Tensor):
                data = a._array
                arrays.append(data)
                if grad_enabled and a.requires_grad:
                    record = True
                    needs.append(True)
                    # the edge holds graph keys and shapes, never the input Tensor, so
                    # activations that backward does not need are freed when the user drops them
                    edges.append((a._ctx, a._key or a, data.shape, data.dtype))
                    continue
            else:
                arrays.append(a)
            needs.append(False)
            edges.append(None)
        ctx.needs_input_grad = tuple(needs)
        try:
            out = cls.forward(ctx, *arrays)
        except (ValueError, TypeError) as e:
            raise _op_error(cls, e, args) from None
        if not record:
            if type(out) is tuple:
                return tuple([_make(o) for o in out])
            return _make(out)
        ctx.seq = next(_sequence)
        ctx.scope = _state.scope
        ctx.edges = edges
        if type(out) is tuple:  # one plain loop: Split runs it at every LSTM step
            tensors = []
            outputs = []
            for i, o in enumerate(out):
                t = _make(o, ctx, (ctx, i))
                tensors.append(t)
                outputs.append((t._array.shape, t._array.dtype))
            out = tuple(tensors)
            ctx.outputs = tuple(outputs)
        else:
            out = _make(out, ctx, ctx)
        if _state.anomaly:
            ctx.trace = _user_frame()
            _check_finite(ctx, out if type(out) is tuple else (out,), "output")
        return out


_make = Tensor._make  # looked up once: apply runs for every op


class View(Primitive):
    """A primitive whose outputs may share its input's memory (PyTorch's view ops: reshape,
    permute, indexing, split, ...). Each output that does notes how it was made from its input,
    the input's history then and its array, so an in-place op on the view can rewrite its
    base's history (CopySlices) and a view whose base was written since can take the new
    history (`refresh_view`)."""

    @classmethod
    def apply(cls, x: Tensor, *rest):
        out = super().apply(x, *rest)
        history, array = x._key or x, x._array
        # perf: one tuple per view and no helper calls: 0.9% of a tiny LSTM step's instructions
        # (callgrind), 2.9% with a walk to the memory's owner per output
        if type(out) is tuple:  # Split, Unbind: slices, every one a view
            for i, t in enumerate(out):
                t._view = (x, cls, rest, i, history, array)
        elif out._array.base is (array if array.base is None else array.base) or (
                _state.tracer is not None and _owner(out._array) is _owner(array)):
            out._view = (x, cls, rest, None, history, array)  # NumPy: a view's base owns the
        return out  # memory (not always so for the views of a tl.compile trace)


def _owner(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def standing_for(node: Primitive, i: int, array: np.ndarray):
    """A Tensor with `array`'s values at the graph position of `node`'s argument i (the array
    itself where that argument needs no gradient): for backward(create_graph=True)."""
    edge = node.edges[i]
    if edge is None:
        return array
    producer, key, _, dtype = edge
    if array.dtype != dtype:  # forward cast the argument (matmul of mixed dtypes): cast it again
        from ..ops import Cast
        return Cast.apply(standing_for(node, i, array.astype(dtype)), array.dtype)
    return key if producer is None else Tensor._make(array, producer, key)  # a leaf is its key


def output_of(node: Primitive, array: np.ndarray, index: int | None = None) -> Tensor:
    """A Tensor with `array`'s values at the graph position of `node`'s output (of output
    `index` of a node with several)."""
    return Tensor._make(array, node, node if index is None else (node, index))


def recorded_after(cls: type, output: np.ndarray, edges: list, saved: tuple, **attrs) -> Tensor:
    """`output` as the output of a `cls` node over `edges` that forward did not record, made
    now (a fused op's intermediate, such as cross-entropy's log-probabilities)."""
    node = cls()
    node.edges, node.saved_tensors = edges, saved
    node.needs_input_grad = tuple(e is not None for e in edges)
    node.seq, node.scope = next(_sequence), _state.scope
    node.__dict__.update(attrs)
    return output_of(node, output)


def _parent(view: Tensor) -> Tensor:
    parent, array = view._view[0], view._view[5]
    if parent._array is not array and not (_state.tracer is not None and
                                           same_layout(parent._array, array)):
        raise RuntimeError("a view was taken of a tensor that has since changed its shape or "
                           "memory in place (unsqueeze_, t_, transpose_, .data = ...); take "
                           "the view again after that change")
    return parent


def view_base(t: Tensor) -> tuple:
    """(the tensor that owns t's memory, the view steps (op, args, output index) from it to t)."""
    steps = []
    while t._view is not None:
        _, cls, rest, i, _, _ = t._view
        steps.append((cls, rest, i))
        t = _parent(t)
    return t, tuple(reversed(steps))


def set_history(t: Tensor, src: Tensor) -> None:
    """t takes src's place in the graph (after an in-place write, or as a refreshed view); a
    gradient t retains follows it to its new history, as in PyTorch."""
    t._ctx, t._key, t.requires_grad = src._ctx, src._key, src.requires_grad
    if getattr(t, "_retain", None) is not None:  # an optional slot: set by retain_grad only
        t._retain()
        t._retain = None
        t.retain_grad()


def refresh_view(view: Tensor) -> None:
    """A view whose base (or a view between) was written in place with a gradient after the
    view was made takes the new history, as PyTorch regenerates a view's grad_fn. Iterative:
    from the view nearest the base down to `view`."""
    chain = []
    t = view
    while t._view is not None:
        chain.append(t)
        t = t._view[0]
    for v in reversed(chain):
        parent, cls, rest, i, history, _ = v._view
        if (_parent(v)._key or parent) is not history:
            new = cls.apply(parent, *rest)
            new = new if i is None else new[i]
            set_history(v, new)
            v._view = new._view


def fresh(t: Tensor) -> Tensor:
    """t, with its history refreshed if it is a view whose base was written since."""
    if _state.rebased and t._view is not None:
        refresh_view(t)
    return t


def _op_error(cls, e: Exception, args) -> Exception:
    """Name the op and the input shapes in an error NumPy raised inside a forward."""
    op = cls.__name__.lower()
    msg = str(e)
    if msg.startswith(op + ":"):
        return e
    shapes = ", ".join(str(tuple(a.shape)) if isinstance(a, Tensor) else type(a).__name__
                       for a in args)
    # the builtin class: NumPy's subclasses of it take other constructor arguments
    kind = ValueError if isinstance(e, ValueError) else TypeError
    return kind(f"{op}: {msg} (inputs: {shapes})")


def _check_finite(ctx: Primitive, arrays, what: str) -> None:
    for i, a in enumerate(arrays):
        a = a._array if isinstance(a, Tensor) else a
        a = dense(a)  # a weight's lazy gradient: formed twice (anomaly mode is slow)
        if a is not None and np.issubdtype(np.asarray(a).dtype, np.inexact) \
                and not np.isfinite(a).all():
            kind = "nan" if np.isnan(a).any() else "inf"
            raise RuntimeError(f"{ctx.name()}: {what} {i} holds {kind} values; the op was "
                               f"created at {ctx.trace}")
