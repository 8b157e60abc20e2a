"""gradcheck: the engine's gradients against central finite differences, in float64."""

from collections.abc import Callable

import numpy as np

from ..tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _flat_outputs(fn, inputs) -> list:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got "
                            f"{type(o).__name__}")
    return outs


def _numerical_outputs(fn, inputs, which: list) -> np.ndarray:
    outs = _flat_outputs(fn, inputs)
    return np.concatenate([outs[k]._array.ravel() for k in which])


def _empty_output_backward(fn, inputs, checked: list, k: int) -> str | None:
    """Backward from the empty output k; a message when an input's gradient is not zeros of
    the input's shape, else None."""
    for i in checked:
        inputs[i].grad = None
    out = _flat_outputs(fn, inputs)[k]
    out.backward(np.zeros(out.shape, out.dtype))
    try:
        for i in checked:
            g = inputs[i].grad
            if g is not None and (g.shape != inputs[i].shape or g._array.any()):
                return (f"gradcheck: backward from the empty output {k} (shape {out.shape}) gave "
                        f"input {i} (shape {inputs[i].shape}) a gradient of shape {g.shape} "
                        f"that is not all zeros")
        return None
    finally:
        for i in checked:
            inputs[i].grad = None


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare every d(output)/d(input) the engine computes with (f(x+eps) - f(x-eps)) / 2eps.

    inputs: a Tensor or a tuple of them (and other arguments); every Tensor that requires grad
    must be float64. Returns True, or raises GradcheckError naming the input, the worst element
    and both values (returns False instead when raise_exception=False).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences "
                             f"need float64 inputs")
    first = _flat_outputs(fn, inputs)
    differentiable = [k for k, o in enumerate(first) if o.requires_grad]
    sizes = [first[k]._array.size for k in differentiable]

    # analytical Jacobian: one backward per output element, rows of d(out)/d(input)
    analytical = {i: np.zeros((sum(sizes), inputs[i]._array.size)) for i in checked}
    row = 0
    for o_index, size in enumerate(sizes):
        for j in range(size):
            for i in checked:
                inputs[i].grad = None
            out = _flat_outputs(fn, inputs)[differentiable[o_index]]
            seed = np.zeros(out.shape, out.dtype)
            seed.flat[j] = 1
            out.backward(seed)
            for i in checked:
                g = inputs[i].grad
                analytical[i][row] = 0 if g is None else g._array.ravel()
            row += 1
    for i in checked:
        inputs[i].grad = None
    # an empty output has no Jacobian rows, so the loop above never ran its backward: run it
    # once with an empty seed, which must give every input zeros (or no gradient) of its shape
    for k in differentiable:
        if first[k]._array.size == 0:
            msg = _empty_output_backward(fn, inputs, checked, k)
            if msg is not None:
                if raise_exception:
                    raise GradcheckError(msg)
                return False

    # numerical Jacobian: columns by central differences, with recording on as in
    # PyTorch: fn may take gradients itself (a gradient penalty, gradgradcheck)
    for i in checked:
        x = inputs[i]._array
        for k in range(x.size):
            orig = x.flat[k]
            x.flat[k] = orig + eps
            plus = _numerical_outputs(fn, inputs, differentiable)
            x.flat[k] = orig - eps
            minus = _numerical_outputs(fn, inputs, differentiable)
            x.flat[k] = orig
            numerical = (plus - minus) / (2 * eps)
            column = analytical[i][:, k]
            err = np.abs(column - numerical) - (atol + rtol * np.abs(numerical))
            if (err > 0).any() or not np.isfinite(column).all():
                r = int(np.argmax(np.where(np.isfinite(err), err, np.inf)))
                msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {x.shape}) at "
                       f"element {np.unravel_index(k, x.shape)} and output element {r}: "
                       f"numerical {numerical[r]:.10g}, analytical {column[r]:.10g}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func: Callable, inputs, grad_outputs=None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  **unsupported) -> bool:
    """gradcheck of the gradients: the derivatives of d(func)/d(inputs) . grad_outputs, which
    backward(create_graph=True) records, against central differences of them, in float64.

    grad_outputs: one Tensor per output of func; random normal ones (which are checked too)
    when None, as in PyTorch.
    """
    from .gradients import grad

    for name, value in unsupported.items():
        if value not in (None, False, 0, 0.0):
            raise NotImplementedError(f"gradgradcheck: {name}={value!r} is not supported")
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = [o for o in _flat_outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True)
                             for o in outs)
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else \
            tuple(grad_outputs)
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        ys = [o for o in _flat_outputs(func, xs) if o.requires_grad]
        gs = grad(ys, [xs[i] for i in checked], vs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
