"""torch.autograd.functional: jacobian, hessian, vjp, jvp, vhp and hvp of a Python function.

Each is a few calls of `autograd.grad`. A Tensor argument gives a Tensor result, a tuple gives a
tuple (and jacobian/hessian nest one tuple per side). jvp and hvp use the double-vjp trick, as
PyTorch documents for them: the VJP u -> J^T u is linear in u, so differentiating <J^T u, w>
with respect to a dummy u (zeros that require grad) gives J w, with reverse mode only.
Every function takes PyTorch's `create_graph` (results recorded, so they can be differentiated
again) and `strict` (an output independent of an input raises PyTorch's RuntimeError instead of
giving zeros).
"""

from collections.abc import Callable

import numpy as np

from ..tensor import Tensor, stack
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from .gradients import grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

Tensors = Tensor | tuple[Tensor, ...]

# PyTorch's strict-mode errors: what was found to need no gradient, by the stage that found it
_NO_GRAD = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when running "
               "in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the "
                   "user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
}
_UNUSED = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} "
                         "in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward mode "
                         "AD.",
}
_CONSTANT = "The {what} of the user-provided function is independent of input {i}. This is " \
            "not allowed in strict mode when create_graph=True."


# ---------------------------------------------------------------- tuples in, tuples out


def _as_tuple(x, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether x was a tuple, x as a tuple of Tensors)."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the {where} has type {type(t)}.")
    return is_tuple, items


def _unpack(result: tuple, is_tuple: bool):
    return result if is_tuple else result[0]


def _unpack2(result: tuple, outer: bool, inner: bool):
    """A tuple (per output) of tuples (per input), unpacked where a side was one Tensor."""
    return _unpack(tuple(_unpack(row, inner) for row in result), outer)


def _fresh(xs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """New Tensor objects for the arguments (so func's own captures of them are told apart):
    recorded views where create_graph keeps the caller's graph, else detached leaves."""
    return tuple(x.view_as(x) if create_graph and x.requires_grad else
                 x.detach().requires_grad_(need_graph) for x in xs)


def _finish(xs, create_graph: bool):
    """Results without history unless create_graph asked for it (nested tuples too)."""
    if isinstance(xs, Tensor):
        return xs if create_graph else xs.detach()
    return tuple(_finish(x, create_graph) for x in xs)


def _check_v(v: tuple, like: tuple, is_tuple: bool) -> None:
    if len(v) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got "
                           f"{len(v)}." if is_tuple else "The given v should contain a single "
                           "Tensor.")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            entry = f"Entry {i} in " if is_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {b.size()} but got "
                               f"{a.size()}.")


def _v_or_none(v, like: tuple, is_tuple: bool, fn: str, create_graph: bool, none_msg: str):
    """v checked against `like` (the inputs or the outputs), or None where v may be left out
    (a single one-element Tensor)."""
    if v is not None:
        _, v = _as_tuple(v, "v", fn)
        v = _fresh(v, create_graph, need_graph=False)
        _check_v(v, like, is_tuple)
        return v
    if len(like) != 1 or like[0].numel() != 1:
        raise RuntimeError(none_msg)
    return None


# ---------------------------------------------------------------- strict mode


def _require_grad(xs: tuple, stage: str, strict: bool) -> None:
    """In strict mode, refuse None or a Tensor that needs no gradient."""
    if not strict:
        return
    for i, x in enumerate(xs):
        if x is None:
            raise RuntimeError(_UNUSED["back"].format(i=i))
        if not x.requires_grad:
            raise RuntimeError(_NO_GRAD[stage].format(i=i))


def _zeros_for_unused(grads: tuple, like: tuple, strict: bool, create_graph: bool,
                      stage: str) -> tuple:
    """None (no path from the input) becomes zeros of `like`'s shape; strict mode raises."""
    out = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_UNUSED[stage].format(i=i))
            g = like[i].new_zeros(like[i].shape)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(_CONSTANT.format(what=what, i=i))
        out.append(g)
    return tuple(out)


def _grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
          create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """autograd.grad over the outputs that need a gradient (None for an input none reaches)."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gs = zip(*pairs)
    return grad(outs, inputs, gs, retain_graph=retain_graph, create_graph=create_graph,
                allow_unused=True)


def _refuse(fn: str, vectorize: bool, strategy: str, name: str) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'{fn}: Expected {name} to be either "forward-mode" or "reverse-mode", '
                         f"got {strategy!r}")
    if strategy == "forward-mode":
        raise NotImplementedError(f'{fn}: {name}="forward-mode" is not supported (there is no '
                                  f'forward-mode AD here); use "reverse-mode"')
    if vectorize:
        raise NotImplementedError(f"{fn}: vectorize=True is not supported (there is no vmap "
                                  f"here); use vectorize=False")


def _call(func: Callable, inputs: tuple, fn: str, strict: bool) -> tuple[bool, tuple]:
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn)
    _require_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _scalar_output(outputs: tuple, is_tuple: bool, fn: str) -> None:
    if is_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain a "
                           f"single element")


def _final_grad(create_graph: bool):
    """The last grad runs with recording on when create_graph asks for it, else in the
    caller's mode."""
    return set_grad_enabled(create_graph or is_grad_enabled())


# ---------------------------------------------------------------- public


def vjp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), v^T J): the vector-Jacobian product, one reverse pass.

    Shape: inputs x_j: S_j, outputs y_i: T_i, v: like the outputs -> vjp: like the inputs.
    v may be None when func returns a single one-element Tensor.
    """
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        is_out_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _v_or_none(v, outputs, is_out_tuple, "vjp", create_graph,
                       "The vector v can only be None if the user-provided function returns a "
                       "single Tensor with a single element.")
    with _final_grad(create_graph):
        result = _grad(outputs, inputs, v, create_graph=create_graph)
        result = _zeros_for_unused(result, inputs, strict, create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), is_out_tuple),
            _unpack(_finish(result, create_graph), is_in_tuple))


def jvp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product by the double-vjp trick.

    With u zeros of the outputs' shapes that require grad, g(u) = J^T u is recorded; it is
    linear in u, so d<g(u), v>/du = J v.
    Shape: inputs x_j: S_j, v: like the inputs -> outputs y_i: T_i, jvp: like the outputs.
    v may be None when the input is a single one-element Tensor.
    """
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        v = _v_or_none(v, inputs, is_in_tuple, "jvp", create_graph,
                       "The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
        is_out_tuple, outputs = _call(func, inputs, "jvp", strict)
        # any finite u will do: J^T u is linear in u, so u's value never reaches the result
        u = tuple(out.new_zeros(out.shape).requires_grad_() for out in outputs)
        grad_inputs = _grad(outputs, inputs, u, create_graph=True)
        _require_grad(grad_inputs, "grad_inputs", strict)
    with _final_grad(create_graph):
        result = _grad(grad_inputs, u, v, create_graph=create_graph)
        result = _zeros_for_unused(result, outputs, strict, create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), is_out_tuple),
            _unpack(_finish(result, create_graph), is_out_tuple))


def jacobian(func: Callable, inputs: Tensors, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of func at inputs: one reverse pass per output element.

    Shape: inputs x_j: S_j, outputs y_i: T_i -> J[i][j]: (*T_i, *S_j), in x_j's dtype; a
    Tensor where func's input (output) was one Tensor, else a tuple over inputs (outputs).
    """
    _refuse("jacobian", vectorize, strategy, "strategy")
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        is_out_tuple, outputs = _call(func, inputs, "jacobian", strict)
        result = tuple(_jacobian_of(i, out, inputs, create_graph, strict)
                       for i, out in enumerate(outputs))
    return _unpack2(_finish(result, create_graph), is_out_tuple, is_in_tuple)


def _jacobian_of(i: int, out: Tensor, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """d(out)/d(x_j) for every input x_j, each (*out.shape, *x_j.shape), row by row."""
    rows = [[] for _ in inputs]
    for k in range(out.numel()):
        seed = np.zeros(out.shape, out._array.dtype)
        seed.flat[k] = 1  # row k of the Jacobian is e_k^T J
        row = _grad((out,), inputs, (Tensor(seed),), create_graph=create_graph,
                    retain_graph=True)
        for j, (g, x) in enumerate(zip(row, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                       f"of input {j}. This is not allowed in strict mode.")
                g = x.new_zeros(x.shape)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(_CONSTANT.format(what="jacobian", i=j))
            rows[j].append(g)
    return tuple(stack(r).reshape(out.shape + x.shape) if r else x.new_zeros(out.shape + x.shape)
                 for r, x in zip(rows, inputs))


def hessian(func: Callable, inputs: Tensors, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a function with one output element: the Jacobian of its gradient.

    Shape: inputs x_j: S_j -> H[i][j]: (*S_i, *S_j) = d^2 f / dx_i dx_j, in x_i's dtype; a
    Tensor for one input Tensor, else a tuple of tuples.
    """
    _refuse("hessian", vectorize, outer_jacobian_strategy, "outer_jacobian_strategy")
    is_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*xs: Tensor) -> Tensor:
        is_out_tuple, outputs = _call(func, xs, "hessian", strict)
        _scalar_output(outputs, is_out_tuple, "hessian")
        return outputs[0].reshape(())

    def gradient(*xs: Tensor) -> tuple:
        g = jacobian(scalar, xs, create_graph=True)
        _require_grad(g, "jacobian", strict)
        return g

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return _unpack2(result, is_tuple, is_tuple)


def _gradient(func: Callable, inputs, v, create_graph: bool, strict: bool, fn: str):
    """What vhp and hvp share: fresh inputs, checked v, func's output and its recorded
    gradient."""
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _fresh(inputs, create_graph, need_graph=True)
    v = _v_or_none(v, inputs, is_in_tuple, fn, create_graph,
                   "The vector v can only be None if the input to the user-provided function is "
                   "a single Tensor with a single element.")
    is_out_tuple, outputs = _call(func, inputs, fn, strict)
    _scalar_output(outputs, is_out_tuple, fn)
    jac = _grad(outputs, inputs, create_graph=True)
    _require_grad(jac, "jacobian", strict)
    return is_in_tuple, inputs, v, outputs, jac


def vhp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), v^T H): the vector-Hessian product, the vjp of the gradient.

    Shape: inputs x_j: S_j, v: like the inputs -> output: (), vhp: like the inputs.
    """
    with enable_grad():
        is_in_tuple, inputs, v, outputs, jac = _gradient(func, inputs, v, create_graph, strict,
                                                         "vhp")
    with _final_grad(create_graph):
        result = _grad(jac, inputs, v, create_graph=create_graph)
        result = _zeros_for_unused(result, inputs, strict, create_graph, "double_back")
    return (_finish(outputs, create_graph)[0],
            _unpack(_finish(result, create_graph), is_in_tuple))


def hvp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), H v): the Hessian-vector product by the double-vjp trick on the gradient.

    With u zeros of the inputs' shapes that require grad, w(u) = H^T u is recorded; it is
    linear in u, so d<w(u), v>/du = H v. (For f twice continuously differentiable H is
    symmetric and vhp gives the same numbers in one pass fewer.)
    Shape: inputs x_j: S_j, v: like the inputs -> output: (), hvp: like the inputs.
    """
    with enable_grad():
        is_in_tuple, inputs, v, outputs, jac = _gradient(func, inputs, v, create_graph, strict,
                                                         "hvp")
        u = tuple(x.new_zeros(x.shape).requires_grad_() for x in inputs)
        double_back = _grad(jac, inputs, u, create_graph=True)
    with _final_grad(create_graph):
        result = _grad(double_back, u, v, create_graph=create_graph)
        result = _zeros_for_unused(result, inputs, strict, create_graph, "double_back_trick")
    return (_finish(outputs, create_graph)[0],
            _unpack(_finish(result, create_graph), is_in_tuple))
