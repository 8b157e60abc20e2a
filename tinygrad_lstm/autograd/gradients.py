"""`autograd.grad`, `autograd.backward` and `Tensor.backward(inputs=...)`, as PyTorch's.

Both run the one backward pass of engine.py. A leaf's gradient is taken where the pass hands
over the leaves; a non-leaf's by a hook on it for the length of the call, so the pass itself
has no extra work.
"""

from collections.abc import Sequence

import numpy as np

from .. import ops
from ..tensor import Tensor
from .create_graph import as_tensor, run_backward_graph
from .engine import _accumulate_leaves, _run_hooks, run_backward, seed_gradient
from .primitive import fresh


def _tensors(x, what: str) -> tuple:
    items = (x,) if isinstance(x, Tensor) else tuple(x)
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: {what} must be Tensors, got {type(t).__name__}")
        fresh(t)  # a view whose base was written since takes its new history first
    return items


def _seeds(outputs: tuple, grad_outputs, op: str, create_graph: bool) -> list:
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else \
            tuple(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise RuntimeError(f"{op}: grad_outputs has {len(grad_outputs)} elements, outputs "
                               f"has {len(outputs)}")
    seeds = []
    for o, g in zip(outputs, grad_outputs):
        seed = seed_gradient(o, g, op)
        if create_graph:  # a gradient that requires grad is differentiated through too
            if isinstance(g, Tensor) and g.requires_grad:
                seed = g if g.dtype == seed.dtype else ops.Cast.apply(g, seed.dtype)
            else:
                seed = Tensor._make(seed)
        seeds.append((o, seed))
    return seeds


def _run(seeds: list, retain_graph, create_graph: bool, leaves_done) -> None:
    """One backward pass: recorded (create_graph.py) or not (engine.py). retain_graph defaults
    to create_graph, as in PyTorch: a recorded gradient still needs the graph."""
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    if create_graph:
        run_backward_graph(seeds, retain_graph, leaves_done)
    else:
        run_backward(seeds, retain_graph, leaves_done)


def _capture(tensors: Sequence[Tensor], store) -> list:
    """Hooks that hand each non-leaf's gradient (a Tensor) to store(index, grad); returns their
    removers."""
    removers = []
    for i, t in enumerate(tensors):
        if t._ctx is not None:
            def hook(g, i=i):
                store(i, g)
            removers.append(t.register_hook(hook).remove)
    return removers


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` (weighted by `grad_outputs`) with respect to each of `inputs`,
    as a tuple; `.grad` attributes are left alone. With create_graph=True the gradients are
    recorded, so they can be differentiated again."""
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    outputs, inputs = _tensors(outputs, "outputs"), _tensors(inputs, "inputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: One of the differentiated Tensors does not require grad")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and not allow_unused:
        raise ValueError("grad: Expected allow_unused to be True or not passed when "
                         "materialize_grads=True")
    found = [None] * len(inputs)

    def store(i, g):
        found[i] = g if found[i] is None else found[i] + g

    def leaves_done(grads: dict, owned: set) -> None:
        for i, t in enumerate(inputs):
            if t._ctx is None and t in grads:
                store(i, as_tensor(grads[t]))

    removers = _capture(inputs, store)
    try:
        _run(_seeds(outputs, grad_outputs, "grad", create_graph), retain_graph, create_graph,
             leaves_done)
    finally:
        for remove in removers:
            remove()
    result = []
    for t, g in zip(inputs, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: One of the differentiated Tensors appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
            result.append(Tensor._make(np.zeros_like(t._array)) if materialize_grads else None)
        elif create_graph:
            result.append(g)
        else:  # a fresh buffer of the input's dtype
            result.append(Tensor._make(np.array(g._array, dtype=t._array.dtype)))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of `tensors` (weighted by `grad_tensors`) into the leaves'
    `.grad`, or, with `inputs`, into those tensors' `.grad` only (leaves or not). With
    create_graph=True the gradients are recorded, so `.grad` can be differentiated again."""
    seeds = _seeds(_tensors(tensors, "tensors"), grad_tensors, "backward", create_graph)
    if inputs is None:
        _run(seeds, retain_graph, create_graph, _accumulator(create_graph))
        return
    inputs = _tensors(inputs, "inputs")
    if not inputs:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("backward: One of the differentiated Tensors does not require "
                               "grad")
    wanted = {t for t in inputs if t._ctx is None}

    def store(i, g):
        _add_to_grad(inputs[i], g, create_graph)

    accumulate = _accumulator(create_graph)

    def leaves_done(grads: dict, owned: set) -> None:
        accumulate({t: g for t, g in grads.items() if t in wanted}, owned)

    removers = _capture(inputs, store)
    try:
        _run(seeds, retain_graph, create_graph, leaves_done)
    finally:
        for remove in removers:
            remove()


def _add_to_grad(t: Tensor, g: Tensor, create_graph: bool) -> None:
    """t.grad += g: out of place and recorded when create_graph (PyTorch's rule), else into
    a fresh buffer."""
    if create_graph:  # a copy: g may be another key's gradient, a seed or a read-only view
        t._grad = g.clone() if t._grad is None else t._grad + g
    else:
        t._grad = Tensor._make(g._array.copy() if t._grad is None else t._grad._array + g._array)


def _accumulator(create_graph: bool):
    """What backward does with the gradients that reach the leaves."""
    if not create_graph:
        return _accumulate_leaves

    def accumulate(grads: dict, owned: set) -> None:
        for leaf, g in grads.items():
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g, f"a leaf of shape {leaf.shape}")
            _add_to_grad(leaf, g, True)

    return accumulate
