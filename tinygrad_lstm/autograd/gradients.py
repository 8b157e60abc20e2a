"""`autograd.grad`, `autograd.backward` and `Tensor.backward(inputs=...)`, as PyTorch's.

Both run the one backward pass of engine.py. A leaf's gradient is taken where the pass hands
over the leaves; a non-leaf's by a hook on it for the length of the call, so the pass itself
has no extra work.
"""

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from .engine import _accumulate_leaves, _dense, run_backward, seed_gradient
from .primitive import fresh


def _tensors(x, what: str) -> tuple:
    items = (x,) if isinstance(x, Tensor) else tuple(x)
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: {what} must be Tensors, got {type(t).__name__}")
        fresh(t)  # a view whose base was written since takes its new history first
    return items


def _seeds(outputs: tuple, grad_outputs, op: str) -> list:
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else \
            tuple(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise RuntimeError(f"{op}: grad_outputs has {len(grad_outputs)} elements, outputs "
                               f"has {len(outputs)}")
    return [(o, seed_gradient(o, g, op)) for o, g in zip(outputs, grad_outputs)]


def _capture(tensors: Sequence[Tensor], store) -> list:
    """Hooks that hand each non-leaf's gradient to store(index, grad); returns their removers."""
    removers = []
    for i, t in enumerate(tensors):
        if t._ctx is not None:
            def hook(g, i=i):
                store(i, g._array)
            removers.append(t.register_hook(hook).remove)
    return removers


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` (weighted by `grad_outputs`) with respect to each of `inputs`,
    as a tuple; `.grad` attributes are left alone."""
    if create_graph:
        raise NotImplementedError("grad: create_graph=True (derivatives of derivatives) is not "
                                  "supported yet")
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
                store(i, _dense(grads[t]))

    removers = _capture(inputs, store)
    try:
        run_backward(_seeds(outputs, grad_outputs, "grad"), bool(retain_graph), leaves_done)
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
        else:
            result.append(Tensor._make(np.array(g, dtype=t._array.dtype)))  # a fresh buffer
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of `tensors` (weighted by `grad_tensors`) into the leaves'
    `.grad`, or, with `inputs`, into those tensors' `.grad` only (leaves or not)."""
    if create_graph:
        raise NotImplementedError("backward: create_graph=True (derivatives of derivatives) is "
                                  "not supported yet")
    seeds = _seeds(_tensors(tensors, "tensors"), grad_tensors, "backward")
    if inputs is None:
        run_backward(seeds, bool(retain_graph), _accumulate_leaves)
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
        t = inputs[i]
        t._grad = Tensor._make(g.copy()) if t._grad is None else Tensor._make(t._grad._array + g)

    def leaves_done(grads: dict, owned: set) -> None:
        _accumulate_leaves({t: g for t, g in grads.items() if t in wanted}, owned)

    removers = _capture(inputs, store)
    try:
        run_backward(seeds, bool(retain_graph), leaves_done)
    finally:
        for remove in removers:
            remove()
