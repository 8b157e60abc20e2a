"""The tape: run the recorded nodes' VJPs in reverse order of creation.

    run_backward(seeds):
        grads = {root: seed}
        for node in every node reachable from the roots, newest first:
            g = grads.pop(node)                  # the sum of what reached node's output
            for (input key, gradient) in zip(node.edges, node.backward(g)):
                grads[key] += gradient           # summed back to the input's shape and dtype
        what is left in grads belongs to the leaves: their .grad

Iterative, never recursive, so a chain of any length backpropagates. A gradient is keyed by
a node (its single output), a (node, output index) pair, or a leaf Tensor.

Two invariants make the sums cheap:
- Only this pass writes into a gradient buffer, and only into one it allocated itself (the
  `owned` keys). A VJP may return its incoming gradient, or a view of it, as it is (add,
  reshape and expand do), so any other buffer may be shared with another key, a saved array
  or the user.
- A weight's gradient stays lazy (outer_sum.py) while everything added to its key is an
  OuterSum; it is made dense when an array meets it, when its node's VJP runs, or at the leaf.

The rare paths (several outputs, hooks, sums that need care) are named helpers; the loop
itself is the hot path, run once per node.
"""

from operator import attrgetter

import numpy as np

from ..tensor import Tensor
from .grad_mode import _state
from .outer_sum import OuterSum, dense
from ..recording import _modified_since
from .primitive import _check_finite, fresh


def unbroadcast(grad: np.ndarray, shape: tuple, op: str) -> np.ndarray:
    """Sum `grad` back to `shape`: over the leading axes NumPy added, then over the size-1 axes
    it stretched. np.sum, not the method: a recorded gradient (a Tensor) takes this path too."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = np.sum(grad, axis=tuple(range(extra)))
    if extra >= 0:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if axes:
            grad = np.sum(grad, axis=axes, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(f"{op}: backward returned a gradient of shape {grad.shape} for an "
                           f"input of shape {shape}")
    return grad


def _conform(grad: np.ndarray, shape: tuple, dtype: np.dtype, op: str) -> np.ndarray:
    """`grad` summed back to `shape` and cast to `dtype`, where it differs."""
    if grad.shape != shape:
        grad = unbroadcast(grad, shape, op)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _reachable(roots: list) -> list:
    """Every node reachable from the root nodes, in decreasing sequence number (reverse tape
    order)."""
    seen = set(roots)
    nodes = list(seen)
    for node in nodes:  # a worklist: the loop also visits the nodes appended while it runs
        if node.saved_tensors is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time: the saved arrays of "
                f"{node.name()} were freed by the first backward. Pass retain_graph=True to the "
                f"first backward() if you need to do this.")
        for edge in node.edges:
            if edge is not None and edge[0] is not None and edge[0] not in seen:
                seen.add(edge[0])
                nodes.append(edge[0])
    nodes.sort(key=attrgetter("seq"), reverse=True)  # mostly in order already: few comparisons
    return nodes


def _run_hooks(hooks, grad, where: str):
    """The hooks in order of registration, then retain_grad's: `.grad` sees every hook (PyTorch
    2's order). `grad` is an array, or a Tensor in a recorded backward; the result is the same
    kind, and a hook must keep its shape and dtype."""
    recorded = isinstance(grad, Tensor)
    t = grad if recorded else Tensor._make(grad)
    for fn in sorted(hooks, key=_retains_grad):  # stable: the others keep their order
        out = fn(t)
        if out is not None:
            out = out if isinstance(out, Tensor) else Tensor._make(np.asarray(out))
            if out.shape != t.shape or out.dtype != t.dtype:
                raise RuntimeError(f"hook on {where} returned a gradient of shape "
                                   f"{tuple(out.shape)} and dtype {out.dtype}, expected "
                                   f"{tuple(t.shape)} {t.dtype}")
            t = out
    return t if recorded else t._array


def _retains_grad(hook) -> bool:
    return getattr(hook, "retains_grad", False)


def _check_saved(node) -> None:
    """Refuse to run a VJP whose saved arrays were changed in place after it was recorded."""
    for a in node.saved_tensors:
        if isinstance(a, np.ndarray) and _modified_since(a, node.seq):
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: an array of shape {a.shape} saved by {node.name()} was "
                f"changed after the op was recorded. Use out-of-place ops (x = x + y, not "
                f"x.add_(y)) on tensors the graph still needs.")


def seed_gradient(root: Tensor, gradient, op: str = "backward") -> np.ndarray:
    """The gradient that starts backward at `root`: ones for a one-element root, else
    `gradient`, which must have root's shape."""
    if not fresh(root).requires_grad:
        raise RuntimeError(f"{op}: element 0 of tensors does not require grad and does not have "
                           f"a grad_fn")
    if gradient is None:
        if root._array.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs, "
                               f"got shape {root.shape}; pass the gradient")
        return np.ones_like(root._array)
    grad = np.asarray(gradient._array if isinstance(gradient, Tensor) else gradient,
                      dtype=root._array.dtype)
    if grad.shape != root.shape:
        raise RuntimeError(f"{op}: gradient has shape {grad.shape}, expected the tensor's shape "
                           f"{root.shape}")
    return grad


def backward(root: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf), weighted by `gradient`, into every leaf's `.grad`."""
    run_backward([(root, seed_gradient(root, gradient))], retain_graph, _accumulate_leaves)


def run_backward(seeds: list, retain_graph: bool, leaves_done) -> None:
    """Backpropagate from each (tensor, gradient) seed; `leaves_done(grads, owned)` receives what
    reaches the leaves (a dict leaf -> gradient, and the keys whose buffers this call made)."""
    grads, owned = {}, set()
    for root, grad in seeds:
        key = root._key or root
        if key in grads:  # the same tensor twice: its gradients add up
            grads[key] = grads[key] + grad
            owned.add(key)
        else:
            grads[key] = grad
    roots = [root._ctx for root, _ in seeds if root._ctx is not None]

    tracer = _state.tracer
    if tracer is not None:  # tl.compile is writing this run down (jit/capture.py)
        tracer.backward_begins(retain_graph)
        leaves_done = tracer.leaves_done(leaves_done)
    anomaly = _state.anomaly
    pop, get = grads.pop, grads.get  # the loop runs once per node: keep it lean
    for node in _reachable(roots) if roots else ():
        if tracer is not None:
            tracer.at_node(node)
        g = pop(node, None)  # a single-output node's key; never a multi-output node's
        if g is not None:
            if type(g) is OuterSum and (node.hooks or not node.takes_outer_sum):
                g = g.materialize()
            if node.hooks:
                g = _run_hooks(node.hooks[0], g, f"the output of {node.name()}")
            grad_outputs = None
        else:
            grad_outputs = _output_grads(node, grads)
            if grad_outputs is None:
                continue  # no gradient reached this node
        if _state.last_inplace > node.seq:
            _check_saved(node)
        try:
            input_grads = node.backward(node, g) if grad_outputs is None else \
                node.backward(node, *grad_outputs)
        except Exception as e:  # chained: the traceback shows the VJP's own line
            raise RuntimeError(f"{node.name()} failed: {type(e).__name__}: {e}; the op was "
                               f"created at {node.trace}") from e
        if not retain_graph and node.saved_tensors:
            node.saved_tensors = None  # a node that saved nothing may be walked again
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        edges = node.edges
        if len(input_grads) != len(edges):
            raise RuntimeError(f"{node.name()} returned {len(input_grads)} gradients, expected "
                               f"{len(edges)} (one per forward argument)")
        if anomaly:
            _check_finite(node, input_grads, "gradient for input")
        for edge, g in zip(edges, input_grads):
            if edge is None or g is None:
                continue
            _, key, shape, dtype = edge
            prev = get(key)
            if type(g) is OuterSum:  # a weight's gradient: kept lazy while only sums meet it
                if g.shape == shape and g.dtype == dtype and (prev is None or
                                                              type(prev) is OuterSum):
                    if prev is None:
                        grads[key] = g
                    else:
                        prev.extend(g)
                    continue
                g = g.materialize()
            if type(g) is not np.ndarray or g.shape != shape or g.dtype is not dtype:
                g = _conform(np.asarray(g), shape, dtype, node.name())
            if prev is None:
                grads[key] = g
            elif key in owned:
                np.add(prev, g, out=prev)
            else:  # the key's second gradient: into a new buffer, which this pass owns
                if type(prev) is OuterSum:
                    total = prev.materialize()  # a new array already
                    total += g
                else:  # `prev` may be shared with another key or the user: not in place
                    total = prev + g
                grads[key] = total if type(total) is np.ndarray else np.asarray(total)  # 0-d
                owned.add(key)
    leaves_done(grads, owned)


def _output_grads(node, grads: dict) -> list | None:
    """The gradients of a multi-output node's outputs (zeros, or None, where none arrived), or
    None when none did. A plain loop, no comprehensions: Split and Unbind come here at every
    step of an LSTM."""
    grad_outputs = []
    found = missing = False
    for i in range(len(node.outputs)) if node.outputs is not None else ():
        g = grads.pop((node, i), None)
        if g is None:
            missing = True
        else:
            found = True
            if type(g) is OuterSum:
                g = g.materialize()
        grad_outputs.append(g)
    if not found:
        return None
    if missing and node.materialize_grads:
        grad_outputs = [np.zeros(s, d) if g is None else g
                        for g, (s, d) in zip(grad_outputs, node.outputs)]
    if node.hooks:
        grad_outputs = [_run_hooks(node.hooks[i], g, f"output {i} of {node.name()}")
                        if i in node.hooks else g for i, g in enumerate(grad_outputs)]
    return grad_outputs


def _accumulate_leaves(grads: dict, owned: set) -> None:
    """What is left in `grads` belongs to leaves: run their hooks, then add into `.grad`."""
    for leaf, g in grads.items():
        fresh = leaf in owned or type(g) is OuterSum  # a buffer nobody else holds needs no copy
        g = dense(g)
        if leaf._hooks:
            hooked = _run_hooks(leaf._hooks, g, f"a leaf of shape {leaf.shape}")
            fresh, g = fresh and hooked is g, hooked
        if leaf._grad is None:  # C-ordered, as in PyTorch (a sum of transposes is F-ordered)
            leaf._grad = Tensor._make(g if fresh and g.flags.c_contiguous else g.copy())
        elif leaf._grad.requires_grad:  # a recorded gradient (create_graph): out of place
            leaf._grad = leaf._grad + Tensor._make(g)
        else:
            leaf._grad._array += g
