"""`Function`: a user's own differentiable op, written with Tensors as in PyTorch.

    class MyReLU(Function):
        @staticmethod
        def forward(ctx, input):           # Tensors in, grad recording off
            ctx.save_for_backward(input)
            return input.clamp(min=0)
        @staticmethod
        def backward(ctx, grad_output):    # Tensors in, Tensors (or None) out
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    y = MyReLU.apply(x)

A call records one graph node, a `Primitive` whose forward hands over the outputs the user's
forward already made and whose backward calls the user's backward.
"""

import numpy as np

from ..recording import version_of
from ..tensor import Tensor
from .grad_mode import _state, enable_grad, no_grad
from .primitive import Primitive, fresh, output_of, set_history, view_base


class FunctionCtx:
    """The `ctx` of a Function call: what forward leaves for backward."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._to_save = ()  # (tensor, its version when saved)
        self._saved = None  # the saved tensors while backward runs
        self._dirty = self._non_differentiable = ()

    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors or None, got "
                                f"{type(t).__name__}")
        self._to_save = tuple((t, None if t is None else version_of(t._array)) for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            raise RuntimeError("saved_tensors: they are read in backward, and only once unless "
                               "backward(retain_graph=True) kept them")
        for i, (t, version) in enumerate(self._saved):
            if t is not None and version_of(t._array) != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: saved tensor {i} of shape {list(t.shape)} is at "
                    f"version {version_of(t._array)}; expected version {version} instead.")
        return tuple(t for t, _ in self._saved)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """These inputs were modified in place by forward (and are returned as outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """These outputs get no gradient (indices, masks)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward receives None, not zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class Function:
    """Base class of a user-defined op: `forward(ctx, *args)` and `backward(ctx, *grads)` as
    static methods on Tensors, called through `MyOp.apply(*args)` (PyTorch's interface)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom "
                                  "autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        for k, v in kwargs.items():
            if isinstance(v, Tensor) and v.requires_grad:
                raise TypeError(f"{cls.__name__}.apply: pass tensors that need a gradient "
                                f"positionally, not as keyword argument {k!r}")
        needs = tuple(_state.grad_enabled and isinstance(a, Tensor) and fresh(a).requires_grad
                      for a in args)
        ctx = FunctionCtx(needs)
        ctx._tensor_args = tuple(isinstance(a, Tensor) for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        for o in outs:
            if isinstance(o, np.ndarray):
                raise TypeError(f"{cls.__name__}.forward returned a NumPy array: a Function's "
                                f"forward receives Tensors and returns Tensors")
        for d in ctx._dirty:
            if not any(d is o for o in outs):
                raise RuntimeError(f"{cls.__name__}: some elements marked as dirty during the "
                                   f"forward method were not returned as output. The inputs "
                                   f"that are modified inplace must all be outputs of the "
                                   f"Function.")
        if not any(needs) or not any(isinstance(o, Tensor) for o in outs):
            return out
        made_outs = Call.apply(cls, ctx, outs, *args)
        made_outs = made_outs if type(made_outs) is tuple else (made_outs,)
        _note_saved_outputs(made_outs[0]._ctx, [o for o in outs if isinstance(o, Tensor)])
        made_outs = iter(made_outs)
        result = []
        for o in outs:
            if not isinstance(o, Tensor):
                result.append(o)
                continue
            made = next(made_outs)  # o's array, as an output of the node
            if any(o is d for d in ctx._non_differentiable) or o._array.dtype.kind not in "fc":
                result.append(Tensor._make(o._array))  # integer outputs get no gradient either
            elif any(o is d for d in ctx._dirty):
                _adopt(o, made)
                result.append(o)
            else:
                result.append(made)
        ctx._dirty = ctx._non_differentiable = ()  # they hold outputs: no reference cycle
        return result[0] if single else tuple(result)


def _note_saved_outputs(node, outputs: list) -> None:
    """Which saved tensors are outputs of the call: a recorded backward (create_graph) hands
    them over as the node's outputs, so a derivative through them is tracked, as in PyTorch."""
    saved_outputs = {j: k for j, (t, _) in enumerate(node.saved_tensors) for k, o in
                     enumerate(outputs) if t is o and o._array.dtype.kind in "fc"}
    if saved_outputs:
        node.saved_outputs = saved_outputs


def _saved_in_graph(node) -> tuple:
    """node's saved (tensor, version) pairs, its own outputs among them as Tensors in the
    graph (their gradient key: the node, or (node, output index))."""
    saved = list(node.saved_tensors)
    for j, k in node.__dict__.get("saved_outputs", {}).items():
        t, version = saved[j]
        saved[j] = (output_of(node, t._array, None if node.outputs is None else k), version)
    return tuple(saved)


def _adopt(t: Tensor, made: Tensor) -> None:
    """A dirty input takes the history of the output it became."""
    base = view_base(t)[0]
    if base._ctx is None and base.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                           "operation (marked dirty in a custom Function).")
    if t._view is not None:
        raise NotImplementedError("mark_dirty: an input that is a view of another tensor is not "
                                  "supported; pass the base tensor, or clone() the view")
    _state.rebased = True  # views of t must take its new history
    set_history(t, made)


_NODE_ARGS = 3  # Call.apply(fn, ctx, outs, *the user's arguments)


class Call(Primitive):
    """One call of a user Function, as a graph node. Forward hands over the outputs the user's
    forward made (arrays of its Tensors); backward runs the user's backward on Tensors."""

    @staticmethod
    def forward(node, fn, ctx, outs, *arrays):
        node.fn, node.fn_ctx = fn, ctx
        node.saved_tensors = ctx._to_save
        node.materialize_grads = ctx.materialize_grads
        ctx._to_save = ()  # the node owns them now: backward frees them
        arrays = tuple(o._array for o in outs if isinstance(o, Tensor))
        return arrays[0] if len(outs) == 1 else arrays

    @staticmethod
    def backward(node, *grads):
        ctx = node.fn_ctx
        recorded = _state.differentiating  # backward(create_graph=True): Tensors in and out
        ctx._saved = _saved_in_graph(node) if recorded else node.saved_tensors
        try:
            with enable_grad() if recorded else no_grad():
                out = node.fn.backward(ctx, *[g if g is None or isinstance(g, Tensor) else
                                              Tensor._make(g) for g in grads])
        finally:
            ctx._saved = None
        out = out if isinstance(out, tuple) else (out,)
        n_inputs = len(node.edges) - _NODE_ARGS
        if len(out) != n_inputs:
            raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                               f"gradients (expected {n_inputs}, got {len(out)})")
        grads_in = []
        for i, g in enumerate(out):
            if g is not None and not ctx._tensor_args[i]:
                raise RuntimeError(f"function {node.name()} returned a gradient different than "
                                   f"None at position {i}, but the corresponding forward input "
                                   f"was not a Tensor")
            if g is None or not ctx.needs_input_grad[i]:
                grads_in.append(None)
            elif not isinstance(g, Tensor):
                raise TypeError(f"function {node.name()} returned a gradient of type "
                                f"{type(g).__name__} at position {i}; expected a Tensor or None")
            else:
                grads_in.append(g if recorded else g._array)
        return (*(None,) * _NODE_ARGS, *grads_in)

    def name(self) -> str:
        fn = self.__dict__.get("fn")
        return f"{fn.__name__}Backward" if fn is not None else "CallBackward"

