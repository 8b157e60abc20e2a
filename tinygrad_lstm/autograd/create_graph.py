"""backward(create_graph=True): the gradients are recorded, so they can be differentiated again.

The walk is engine.py's; what differs is what flows. Every gradient is a Tensor, every VJP runs
with recording on, and each VJP is the op's one formula, run on Tensors: its NumPy calls reach
Tensor ops through NumPy's dispatch (array_protocol.py), and the arrays it saved in forward are
handed to it as Tensors that stand for them in the graph (`Primitive.saved_roles`): forward's
inputs and output where they are those, constants where the VJP only takes a mask or an index
from them. So d(grad)/d(x) flows back through the very nodes the first backward walked.
"""

import numpy as np

from ..tensor import Tensor
from .engine import _check_saved, _output_grads, _reachable, _run_hooks, unbroadcast
from .function import Call
from .grad_mode import _state, enable_grad
from .outer_sum import dense
from .primitive import _check_finite, output_of, standing_for


def _saved_tensors(node) -> tuple:
    roles = type(node).saved_roles
    roles = roles(node) if callable(roles) else roles
    saved = node.saved_tensors
    if roles is NotImplemented or len(roles) != len(saved):
        raise NotImplementedError(f"create_graph: {node.name()} cannot be differentiated twice "
                                  f"yet (its saved arrays have no roles)")
    tensors = []
    for array, role in zip(saved, roles):
        if array is None or role is None:
            tensors.append(array)
        elif role == "out":
            tensors.append(output_of(node, array))
        elif type(role) is int:
            tensors.append(standing_for(node, role, array))
        else:
            tensors.append(role(node, array))
    return tuple(tensors)


def _vjp(node, grad_outputs: list) -> tuple:
    """node's VJP on Tensors, recorded; one gradient per edge."""
    saved = node.saved_tensors
    if not isinstance(node, Call):  # a user's Function saved Tensors already
        node.saved_tensors = _saved_tensors(node)
    try:
        grads = node.backward(node, *grad_outputs)
    except NotImplementedError:
        raise
    except Exception as e:
        raise RuntimeError(f"{node.name()} failed in a recorded backward: {type(e).__name__}: "
                           f"{e}; the op was created at {node.trace}") from e
    finally:
        node.saved_tensors = saved
    grads = grads if type(grads) is tuple else (grads,)
    if len(grads) != len(node.edges):
        raise RuntimeError(f"{node.name()} returned {len(grads)} gradients, expected "
                           f"{len(node.edges)} (one per forward argument)")
    return grads


def as_tensor(g) -> Tensor:
    """A gradient as a Tensor: an OuterSum made dense, an array wrapped."""
    g = dense(g)
    return g if isinstance(g, Tensor) else Tensor._make(np.asarray(g))


def _conform(g: Tensor, shape: tuple, dtype: np.dtype, node) -> Tensor:
    """engine._conform on Tensors: summed back to `shape` (its error if it cannot be), cast to
    `dtype`."""
    from .. import ops
    if g.shape != shape:
        g = unbroadcast(g, shape, node.name())
    return g if g.dtype == dtype else ops.Cast.apply(g, dtype)


def _grad_outputs(node, grads: dict) -> list | None:
    """The gradients of node's outputs, or None if no gradient reached it (engine.py's
    `_output_grads` for several outputs: zeros where none arrived)."""
    if node.outputs is not None:
        return _output_grads(node, grads)
    g = grads.pop(node, None)
    if g is None:
        return None
    return [g if node.hooks is None else _run_hooks(node.hooks[0], g,
                                                    f"the output of {node.name()}")]


def run_backward_graph(seeds: list, retain_graph: bool, leaves_done) -> None:
    """engine.run_backward with recorded gradients: `seeds` are (tensor, gradient Tensor)
    pairs, and `leaves_done(grads, owned)` receives a dict leaf -> gradient Tensor (and no
    owned buffers: a recorded gradient is never written in place)."""
    grads = {}
    for root, g in seeds:
        key = root._key or root
        grads[key] = grads[key] + g if key in grads else g
    roots = [root._ctx for root, _ in seeds if root._ctx is not None]
    if _state.tracer is not None:
        _state.tracer.backward_begins(retain_graph, create_graph=True)
    with enable_grad():
        previous, _state.differentiating = _state.differentiating, True
        try:
            for node in _reachable(roots) if roots else ():
                grad_outputs = _grad_outputs(node, grads)
                if grad_outputs is None:
                    continue
                if _state.last_inplace > node.seq:
                    _check_saved(node)
                input_grads = _vjp(node, grad_outputs)
                if _state.anomaly:
                    _check_finite(node, input_grads, "gradient for input")
                if not retain_graph and node.saved_tensors:
                    node.saved_tensors = None
                for edge, g in zip(node.edges, input_grads):
                    if edge is None or g is None:
                        continue
                    _, key, shape, dtype = edge
                    g = _conform(as_tensor(g), shape, dtype, node)
                    prev = grads.get(key)
                    grads[key] = g if prev is None else prev + g
            leaves_done(grads, set())  # recorded too: .grad sums and leaf hooks
        finally:
            _state.differentiating = previous
