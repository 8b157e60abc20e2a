"""Batch over time steps: what a person does by hand to the backward of a recurrence.

An unrolled recurrence repeats the same calls at every time step. Some of them do not depend on
the recursion: in an LSTM's backward, `1 - tanh(c_t)**2` and `sigmoid_t * (1 - sigmoid_t)` need
only forward values. Such a group of calls, one per step, becomes one call over all the steps
at once, reading the forward values from a stack that their own calls wrote into (`out=`):

    steps_tanh7 = np.empty((25, 1, 100), np.float32)     # before the forward's first step
    ...
    tanh58 = np.tanh(addcmul57, out=steps_tanh7[0])       # step 0 writes its slice
    ...
    steps_d_tanh9 = np.multiply(steps_tanh7, steps_tanh7)  # once, for steps 0-24
    d_tanh580 = steps_d_tanh9[24]                          # step 24's, where it was computed

An elementwise ufunc computes each element on its own, so the batched call gives the same bits
as the calls it replaces: the program stays bitwise equal to eager (a transcendental ufunc too:
NumPy's SIMD loops give each element the same bits at any length and alignment of a contiguous
array, which tests/test_compile.py checks on this machine). perf: at BATCH_MAX_BYTES in
program.py.
"""

from __future__ import annotations

import numpy as np

from .capture import AccumulateGrads, CallLabel, Draw, GradOf, Replayed
from .guards import number_bits
from .passes import _name, escaping, from_numpy, roots_of, uses
from .trace import Call, Var


def batch_over_steps(tape: list[Call], outputs: list[Var], first_number: int,
                     max_bytes: int) -> tuple[list[Call], list[Var]]:
    """The tape with each batchable group of per-step calls made one call (see the module's
    docstring), and the Vars it made. A group is batchable when its calls are the same
    elementwise ufunc at the same place of each step (scope, op, position in the op), each
    operand is either the same for every step or a value per step of the result's shape, every
    such value exists before the group's first call and nothing writes into it in between, and
    a step's array is at most `max_bytes` (see BATCH_MAX_BYTES in program.py)."""
    made: list[Var] = []
    numbers = iter(range(first_number, 1 << 62))
    defined, roots, reads, writes = uses(tape)
    escaped = escaping(tape, outputs, roots)  # the caller's arrays: each its own, as in eager
    barriers = [i for i, c in enumerate(tape) if type(c.fn) in (AccumulateGrads, Replayed, Draw,
                                                                 GradOf)]
    groups = _groups(tape)
    stack_of: dict[int, tuple[Var, int]] = {}  # value -> (the stack it was written into, index)
    redirect: dict[int, tuple[Var, int, Var]] = {}  # producer position -> (stack, index, value)
    stack_made_at: dict[int, int] = {}  # stack number -> position of its first producer
    hoisted: dict[int, Call] = {}  # position of a group's first call -> the batched call
    member_of: dict[int, tuple[Var, int]] = {}  # call position -> (batched result, index)
    for members in groups:
        positions = [i for i, _ in members]
        first = min(positions)
        calls = [tape[i] for i in positions]
        in_place = "out" in calls[0].kwargs  # np.multiply(d, s, out=d): the engine's VJPs
        result = _out(calls[0]) if in_place else calls[0].results[0]
        n = len(members)
        if result.dtype.itemsize * int(np.prod(result.shape)) > max_bytes:
            continue
        if any(first < b < max(positions) for b in barriers) or \
                roots_of([r for c in calls for r in c.results], roots) & escaped:
            continue
        if _name(calls[0].fn) in _CREATORS:  # np.zeros per step: one array, a slice each
            if any(c.results[0].shape != result.shape or c.results[0].dtype != result.dtype
                   for c in calls):
                continue
            out = _new(made, numbers, (n, *result.shape), result.dtype, "steps_" + result.label)
            creator = getattr(np, _CREATORS[_name(calls[0].fn)])
            hoisted[first] = Call(creator, (out.shape, out.dtype), {}, (out,),
                                  _batched_scope(calls), calls[0].op)
            for k, i in enumerate(positions):
                member_of[i] = (out, k)
                stack_of[tape[i].results[0].number] = (out, k)
                defined[tape[i].results[0].number] = first
            continue
        operands = _operands(calls, result)
        if operands is None:
            continue
        if in_place:  # into slices of a batched result, read by nothing else in between
            column = [_out(c) for c in calls]
            target = _stack_for(column, stack_of, defined, roots, writes, tape, first, positions,
                                written_by_group=True)
            if not isinstance(target, Var) or any(
                    first <= j < p for v, p in zip(column, positions)
                    for r in roots_of([v], roots) for j in reads.get(r, ())):
                continue
        batched_args, plan = [], []
        for column in operands:
            if not isinstance(column, list):  # the same value at every step
                if isinstance(column, Var) and not _still(column, first, positions, defined,
                                                          roots, writes):
                    break
                batched_args.append(column)
                continue
            if in_place and [v.number for v in column] == [_out(c).number for c in calls]:
                stack = target  # the array each call writes into
            else:
                stack = _stack_for(column, stack_of, defined, roots, writes, tape, first,
                                   positions)
            if stack is True and roots_of(column, roots) & escaped:
                stack = None  # a forward value the caller gets: not a slice of a stack
            if stack is None:
                break
            batched_args.append(stack if isinstance(stack, Var) else None)
            plan.append((len(batched_args) - 1, column, stack))
        else:
            # a value goes into one new stack, at its step's index: columns that share values
            # must be the same column (h_t beside h_{t-1} is not batched: the second stack would
            # take over the values the first one expects, leaving its slices unwritten)
            placed: dict[int, tuple] = {}  # value -> (its column, its index)
            clash = False
            for _, column, stack in plan:
                if stack is True:
                    key = tuple(v.number for v in column)
                    for k, v in enumerate(column):
                        clash = clash or placed.setdefault(v.number, (key, k)) != (key, k)
            if clash:
                continue
            # every per-step operand can be read from a stack: make the new ones
            for index, column, stack in plan:
                if isinstance(stack, Var):
                    continue
                if column[0].number in stack_of:  # a stack made for an earlier operand
                    batched_args[index] = stack_of[column[0].number][0]
                    continue
                var = _new(made, numbers, (n, *column[0].shape), column[0].dtype,
                           "steps_" + column[0].label)
                for k, value in enumerate(column):
                    stack_of[value.number] = (var, k)
                    redirect[defined[value.number]] = (var, k, value)
                stack_made_at[var.number] = min(defined[v.number] for v in column)
                batched_args[index] = var
            scope = _batched_scope(calls)
            if in_place:
                hoisted[first] = Call(calls[0].fn, tuple(batched_args), {"out": target}, (),
                                      scope, calls[0].op, (target,))
                member_of.update({i: None for i in positions})
                continue
            out = _new(made, numbers, (n, *result.shape), result.dtype, "steps_" + result.label)
            hoisted[first] = Call(calls[0].fn, tuple(batched_args), {}, (out,), scope,
                                  calls[0].op)
            for k, i in enumerate(positions):
                member_of[i] = (out, k)
                stack_of[tape[i].results[0].number] = (out, k)
                defined[tape[i].results[0].number] = first
    if not hoisted:
        return tape, made
    return _rewrite(tape, hoisted, member_of, redirect, stack_made_at, made, numbers), made


def _rewrite(tape, hoisted, member_of, redirect, stack_made_at, made, numbers) -> list[Call]:
    first_producer = {at: number for number, at in stack_made_at.items()}
    stacks = {v.number: v for v in made}
    rewritten = []
    for i, call in enumerate(tape):
        if i in first_producer:
            stack = stacks[first_producer[i]]
            rewritten.append(Call(np.empty, (stack.shape, stack.dtype), {}, (stack,), call.scope,
                                  call.op))
        if i in redirect:  # a forward value written into its slice of a stack
            stack, k, value = redirect[i]
            slot = _new(made, numbers, value.shape, value.dtype, value.label)
            rewritten.append(_getitem(stack, k, slot, call))
            call = Call(call.fn, call.args, {**call.kwargs, "out": slot}, call.results,
                        call.scope, call.op, (slot,), call.unpack)
        if i in hoisted:
            rewritten.append(hoisted[i])
        if i in member_of:
            if member_of[i] is None:  # an in-place call the batched one made
                continue
            out, k = member_of[i]  # its value is a slice of the batched result
            call = _getitem(out, k, call.results[0], call)
        rewritten.append(call)
    return rewritten


def _getitem(array: Var, k: int, result: Var, where: Call) -> Call:
    return Call(("method", "__getitem__"), (array, k), {}, (result,), where.scope, where.op)


def _new(made: list, numbers, shape: tuple, dtype, label: str) -> Var:
    var = Var(next(numbers), "op", None, label, shape=tuple(shape), dtype=np.dtype(dtype),
              c_contiguous=True)
    made.append(var)
    return var


def _step(scope: tuple) -> tuple:
    """Which repetition a call belongs to: the time steps of a recurrence (ints in its scope)
    and the call numbers of the modules it ran in (a cell called in a Python loop)."""
    return tuple(s if type(s) is int else s.call for s in scope
                 if type(s) is int or isinstance(s, CallLabel))


def _batched_scope(calls: list[Call]) -> tuple:
    """The scope with what differs between the calls as a range: `steps 0-24`, `cell calls 1-3`."""
    scope = []
    for labels in zip(*[c.scope for c in calls]):
        first = labels[0]
        if type(first) is int and len(set(labels)) > 1:
            scope.append(f"steps {min(labels)}-{max(labels)}")
        elif isinstance(first, CallLabel) and len({s.call for s in labels}) > 1:
            calls_ = [s.call for s in labels]
            scope.append(f"{first} calls {min(calls_)}-{max(calls_)}")
        else:
            scope.append(first)
    return tuple(scope)


def _groups(tape: list[Call]) -> list[list[tuple[int, int]]]:
    """Calls at the same place of different time steps: [(position, step), ...] per place,
    ordered by step, for places that a recurrence repeats in more than one step."""
    places: dict[tuple, list[tuple[int, int]]] = {}
    counts: dict[tuple, int] = {}
    for i, call in enumerate(tape):
        step = _step(call.scope)
        if not step or not _batchable_fn(call):
            continue
        scope = tuple(None if type(s) is int else str(s) for s in call.scope)
        place = (scope, call.op, call.fn, "out" in call.kwargs)
        ordinal = counts.get((step, place), 0)  # the how-manyth such call in its step
        counts[(step, place)] = ordinal + 1
        places.setdefault((*place, ordinal), []).append((i, step))
    groups = []
    for members in places.values():
        steps = [s for _, s in members]
        if len(members) > 1 and len(set(steps)) == len(steps):
            groups.append(sorted(members, key=lambda m: m[1]))
    return sorted(groups, key=lambda g: min(i for i, _ in g))


# array creators (the values of the prototype of `zeros_like` are not read) -> the function
# that makes the batched array
_CREATORS = {"zeros": "zeros", "zeros_like": "zeros", "ones": "ones", "ones_like": "ones",
             "empty": "empty", "empty_like": "empty"}


def _batchable_fn(call: Call) -> bool:
    """An elementwise ufunc making one C-ordered array, or writing into one of its operands;
    an array creator (np.zeros)."""
    fn = call.fn
    if _name(fn) in _CREATORS and from_numpy(fn):
        return len(call.results) == 1 and call.results[0].c_contiguous and \
            call.results[0].shape != () and "out" not in call.kwargs
    if not (isinstance(fn, np.ufunc) and fn.nout == 1 and fn.signature is None):
        return False
    if not call.kwargs:
        return len(call.results) == 1 and not call.results[0].scalar and \
            call.results[0].c_contiguous
    out = _out(call)
    return len(call.kwargs) == 1 and not call.results and isinstance(out, Var) and \
        any(a is out for a in call.args) and out.kind == "op" and out.c_contiguous


def _out(call: Call):
    """The array a call writes into (NumPy hands `out=` on as a 1-tuple)."""
    out = call.kwargs.get("out")
    return out[0] if type(out) is tuple and len(out) == 1 else out


def _operands(calls: list[Call], result: Var) -> list | None:
    """Per operand position: the one value all the calls share, or the list of per-step Vars
    (each of the result's shape and dtype); None if the calls differ in any other way."""
    first = calls[0]
    made = [_out(c) if "out" in c.kwargs else c.results[0] for c in calls]
    if any(c.fn is not first.fn or len(c.args) != len(first.args) or
           c.kwargs.keys() != first.kwargs.keys() or v.shape != result.shape or
           v.dtype != result.dtype for c, v in zip(calls, made)):
        return None
    columns = []
    for j, a in enumerate(first.args):
        column = [c.args[j] for c in calls]
        if all(isinstance(x, Var) for x in column):
            if all(x.number == a.number for x in column):
                columns.append(a)
            elif all(x.kind == "op" and x.shape == result.shape and x.dtype == result.dtype and
                     x.c_contiguous for x in column) and \
                    len({x.number for x in column}) == len(column):
                columns.append(column)
            else:
                return None
        elif all(_same_number(x, a) for x in column) and isinstance(a, (int, float, bool)):
            columns.append(a)
        else:
            return None
    return columns


def _same_number(x, y) -> bool:
    """x and y are the same Python number, to the bit (-0.0 is not 0.0, nor -nan nan)."""
    return type(x) is type(y) and number_bits(x) == number_bits(y)


def _stack_for(column: list[Var], stack_of, defined, roots, writes, tape, first, positions,
               written_by_group: bool = False):
    """The stack that already holds these values in this order (a batched result, unwritten
    until each step reads it); True if the calls that made them can write them into a new one
    (an elementwise ufunc or a matmul, before the group, not written from the group's first
    call on); None if neither."""
    known = [stack_of.get(v.number) for v in column]
    if all(k is not None for k in known):
        stack = known[0][0]
        if not all(s is stack and k == i for i, (s, k) in enumerate(known)):
            return None
        if any(first <= w < p + (not written_by_group) for v, p in zip(column, positions)
               for r in roots_of([v], roots) for w in writes.get(r, ())):
            return None
        return stack
    if any(k is not None for k in known):
        return None
    for v in column:
        at = defined.get(v.number)
        if at is None or at >= first or _written_from(v, first, roots, writes):
            return None
        producer = tape[at]
        if not (isinstance(producer.fn, np.ufunc) and _batchable_fn(producer) or
                _name(producer.fn) in ("dot", "matmul")) or \
                producer.kwargs or len(producer.results) != 1:
            return None
    return True


def _still(var: Var, first: int, positions: list, defined, roots, writes) -> bool:
    """var exists before `first` and nothing writes into it up to the last of `positions`."""
    if var.kind == "op" and defined.get(var.number, first) >= first:
        return False
    return not any(first <= w <= max(positions) for r in roots_of([var], roots)
                   for w in writes.get(r, ()))


def _written_from(var: Var, first: int, roots, writes) -> bool:
    """Something writes into var (or memory it shares) at or after position `first`. Writes
    before it, in place into the value its producer made (an LSTM's gates: sigmoid's steps,
    then tanh into the g block), go into its slice of the stack as well: the value is that
    slice from its producer on."""
    return any(w >= first for r in roots_of([var], roots) for w in writes.get(r, ()))
