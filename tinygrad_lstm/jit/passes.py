"""Rewrites of a tape before it becomes source: what a person does by hand to their BPTT.

- `live_calls`: drop calls whose results nothing reads (an op's forward computes things its
  VJP never uses: a split's unused block).
- `reuse_dying_operands`: an elementwise op whose operand dies there writes into it
  (`np.exp(a, out=a)`), so a chain of them makes one array, not one per op.
"""

from __future__ import annotations

import numpy as np

from .capture import AccumulateGrads, Draw, Replayed
from .trace import Call, Var

# functions and methods whose result is a new array that nothing else refers to
_FRESH_FUNCTIONS = {"dot", "matmul", "concatenate", "stack", "where", "empty",
                    "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like",
                    "full_like", "arange"}
# functions and methods that neither keep their arguments nor return views of them
_NOT_ALIASING = _FRESH_FUNCTIONS | {"sum", "mean", "max", "min", "prod", "argmax", "argmin",
                                    "any", "all", "copy", "cumsum", "std", "var", "count_nonzero",
                                    "copyto", "put", "place", "putmask"}


_INDEXING = {"__getitem__", "take", "take_along_axis"}


def vars_in(a):
    """Every Var inside a call's arguments (tuples, lists, dicts, slices)."""
    if isinstance(a, Var):
        yield a
    elif type(a) in (tuple, list):
        for x in a:
            yield from vars_in(x)
    elif type(a) is dict:
        for x in a.values():
            yield from vars_in(x)
    elif type(a) is slice:
        yield from vars_in((a.start, a.stop, a.step))


def live_calls(tape: list[Call], outputs: list[Var]) -> list[Call]:
    """The calls that write, run Python (an optimizer step, a draw), can raise on the values
    (an index array out of range), or make a value that a kept call or the result reads."""
    live = {v.number for v in outputs}
    kept = []
    for call in reversed(tape):
        if call.writes or type(call.fn) in (AccumulateGrads, Replayed, Draw) or \
                any(v.number in live for v in call.results) or \
                (_name(call.fn) in _INDEXING and any(vars_in(call.args[1:]))):
            kept.append(call)
            live.update(v.number for v in vars_in((call.args, call.kwargs)))
    return kept[::-1]


def _name(fn) -> str | None:
    return fn[1] if type(fn) is tuple else getattr(fn, "__name__", None)


def _ufunc(fn) -> bool:
    """A ufunc, or one of its methods (np.add.reduce): never a view of an argument."""
    return isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc)


def _elementwise(call: Call) -> bool:
    fn = call.fn
    return isinstance(fn, np.ufunc) and fn.signature is None and "out" not in call.kwargs \
        and len(call.results) == 1 and fn.nout == 1


def reuse_dying_operands(tape: list[Call], outputs: list[Var]) -> list[Call]:
    """Give an elementwise op `out=` one of its operands where that operand is a fresh array
    (made by the program, no view of it taken, never handed to Python) read for the last
    time, of the result's shape and dtype: `d_tanh7 = np.multiply(tanh6, g, out=tanh6)`, the
    result keeps its own name. Both C-ordered, as NumPy makes a result (an F-ordered operand
    would give an F-ordered result, which a later reduction sums in another order). Not 0-d
    values: a reduction over everything gives a NumPy scalar, which is no `out=`."""
    fresh, escaped, last_use = set(), set(), {}
    for i, call in enumerate(tape):
        name = _name(call.fn)
        for var in vars_in((call.args, call.kwargs)):
            last_use[var.number] = i
            if not (_ufunc(call.fn) or name in _NOT_ALIASING):
                escaped.add(var.number)  # a view of it, or a Python object holding it
        if "out" not in call.kwargs and (isinstance(call.fn, np.ufunc) or
                                         name in _FRESH_FUNCTIONS):
            fresh.update(v.number for v in call.results)
    for var in outputs:
        last_use[var.number] = len(tape)
    rewritten = []
    for i, call in enumerate(tape):
        if _elementwise(call):
            result = call.results[0]
            for var in vars_in(call.args):
                if var.kind == "op" and var.number in fresh and var.number not in escaped \
                        and last_use.get(var.number) == i and var.shape == result.shape != () \
                        and var.dtype == result.dtype and var.c_contiguous and \
                        result.c_contiguous:
                    call = Call(call.fn, call.args, {**call.kwargs, "out": var}, call.results,
                                call.scope, call.op, (var,))
                    break
        rewritten.append(call)
    return rewritten
