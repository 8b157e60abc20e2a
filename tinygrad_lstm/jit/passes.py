"""Rewrites of a tape before it becomes source: what a person does by hand to their BPTT.

- `live_calls`: drop calls whose results nothing reads (an op's forward computes things its
  VJP never uses: a split's unused block).
- `common_views`: a view taken again of the same value in the same way is the first one.
- `concatenate_in_place`: the parts of a concatenation are written into it by the calls that
  make them (`np.multiply(d, g, out=d_split[:, 0:100])`), not copied there afterwards.
  The same parts concatenated again, in the same order, are a view of the first
  concatenation (`_concatenated_again`).
- `scatter_in_place`: `z[i] = v` where an arithmetic ufunc made v: it writes into z[i] itself.
- `reuse_dying_operands`: an elementwise op whose operand dies there writes into it
  (`np.exp(a, out=a)`), so a chain of them makes one array, not one per op.
- `plan_buffers`: every other array the program makes and keeps to itself gets a place in
  one arena allocated once, shared by values whose lifetimes do not overlap
  (`addmm12 = np.dot(h3, w, out=ADDMM12)`).
"""

from __future__ import annotations

import numpy as np

from .capture import AccumulateGrads, Draw, Replayed
from .trace import Call, Var

# NumPy functions that take out= and whose result is a new array of its own (and np.empty and
# np.zeros, which become their place in the arena, zeroed at each run for np.zeros)
_PLANNED_FUNCTIONS = {"dot", "matmul", "concatenate", "stack", "empty", "zeros", "empty_like",
                      "zeros_like"}
# become their place in the arena (a C-ordered result: np.zeros_like of a C-ordered array, or
# given the shape). perf: medium's per-step zeros_like of a getitem's VJP, 4.1 us a call (the
# step, alternating with the same program without it: medium 1.00x, small 1.01x)
_ARENA_CREATORS = {"empty", "zeros", "empty_like", "zeros_like"}

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


def common_views(tape: list[Call], outputs: list[Var]) -> list[Call]:
    """A view taken again of the same value in the same way (`w_t.T` in every step's
    AddmmBackward, the same slice twice) is the first one: one call, not one per step. Only
    views that are always views (`.T`, `transpose`, constant basic indices), and not one
    the function returns.

    perf: bench_lstm's step made T `.T` of W_hh.T, each a line and a `del`; against the same
    program without this, alternating in one process: tiny 1.00x (0.997-1.003, noise), small
    1.02x-1.05x (three runs)."""
    first: dict[tuple, Var] = {}  # (base, method, arguments) -> the view made first
    same: dict[int, Var] = {}  # a repeated view's number -> the first view
    returned = {v.number for v in outputs}
    kept = []
    for call in tape:
        if same:
            call = Call(call.fn, _with(call.args, same), _with(call.kwargs, same), call.results,
                        call.scope, call.op, _with(call.writes, same), call.unpack)
        key = _view_key(call)
        if key is not None:
            if key in first and call.results[0].number not in returned:
                same[call.results[0].number] = first[key]
                continue
            first.setdefault(key, call.results[0])
        kept.append(call)
    return kept


def _view_key(call: Call) -> tuple | None:
    """What makes a view call the same as another (None: not such a view)."""
    if type(call.fn) is not tuple or call.fn[1] not in ("T", "transpose", "__getitem__") or \
            len(call.results) != 1 or call.kwargs or call.writes or not call.args or \
            not isinstance(call.args[0], Var) or any(vars_in(call.args[1:])):
        return None
    result = call.results[0]
    if result.shape == () or result.scalar or \
            (call.fn[1] == "__getitem__" and not _basic_index(call.args[1])):
        return None
    return (call.args[0].number, call.fn[1], repr(call.args[1:]))


def _with(a, same: dict):
    """a with each Var in `same` replaced by the Var it stands for."""
    if isinstance(a, Var):
        return same.get(a.number, a)
    if type(a) in (tuple, list):
        return type(a)(_with(x, same) for x in a)
    if type(a) is dict:
        return {k: _with(v, same) for k, v in a.items()}
    if type(a) is slice:
        return slice(*(_with(v, same) for v in (a.start, a.stop, a.step)))
    return a


def concatenate_in_place(tape: list[Call], outputs: list[Var]) -> list[Call]:
    """`np.concatenate(parts)` or `np.stack(parts)` where each part is made by an arithmetic
    ufunc (exact on any memory layout, so the bits do not change) or is a fresh `np.zeros`: the
    result is made first (np.zeros, or np.empty when no part is zeros) and each ufunc writes its
    part into its slice with `out=`; the copy is gone. A part read after the concatenation as
    well must not be written, nor the concatenation: then the slice is the part. A part goes
    into one concatenation only (the first).

    perf: an LSTM step's SplitBackward loses a call and an array, its hidden states and gate
    gradients a (T, B, H) and a (T * B, 4H) copy; callgrind, tiny compiled step 8.88M -> 8.56M
    instructions."""
    defined, roots, reads, writes = uses(tape)
    last = {n: max(r) for n, r in reads.items()}  # by root: reads of its views count
    escaped = escaping(tape, outputs, roots)
    for r in escaped:
        last[r] = len(tape)
    plans: dict[int, tuple] = {}  # concatenate's position -> (first producer, slices, zeros)
    placed: set[int] = set()  # parts already in a concatenation
    for i, call in enumerate(tape):
        kind = _name(call.fn)
        if kind not in ("concatenate", "stack") or len(call.results) != 1 or \
                not from_numpy(call.fn):
            continue
        parts = call.args[0] if call.args else ()
        axis = call.args[1] if len(call.args) > 1 else call.kwargs.get("axis", 0)
        result = call.results[0]
        if type(parts) not in (tuple, list) or type(axis) is not int or \
                set(call.kwargs) - {"axis"} or len(call.args) > 2 or not result.c_contiguous or \
                not all(isinstance(p, Var) and p.kind == "op" for p in parts) or \
                len({p.number for p in parts}) != len(parts):
            continue
        axis %= len(result.shape)
        slices, zeros, offset = [], False, 0
        for k, part in enumerate(parts):
            at = defined.get(part.number)
            producer = tape[at] if at is not None else None
            if kind == "stack":
                index = (slice(None),) * axis + (k,)
                fits = part.shape == result.shape[:axis] + result.shape[axis + 1:]
            else:
                width = part.shape[axis] if len(part.shape) == len(result.shape) else 0
                index = (slice(None),) * axis + (slice(offset, offset + width),)
                offset += width
                fits = len(part.shape) == len(result.shape)
            # read later too, the part is its slice: as eager made it (C-ordered, a reduction
            # sums it in that order), unwritten, and not also the caller's (two arrays there)
            read_later = last.get(part.number) != i
            slot_contiguous = all(d == 1 for d in result.shape[:axis])
            if producer is None or not fits or part.dtype != result.dtype or \
                    part.shape == () or part.number in placed or \
                    roots.get(part.number) != {part.number} or writes.get(part.number) or \
                    (read_later and (writes.get(result.number) or part.number in escaped or
                                     result.number in escaped or
                                     not (part.c_contiguous and slot_contiguous))):
                break
            if _name(producer.fn) in ("zeros", "zeros_like") and \
                    from_numpy(producer.fn):
                zeros = True
                continue
            if producer.fn not in _EXACT_ON_ANY_LAYOUT or producer.kwargs or \
                    len(producer.results) != 1:
                break
            slices.append((at, index))
        else:
            if slices:
                plans[i] = (min(at for at, _ in slices), slices, zeros)
                placed.update(p.number for p in parts)
    if not plans:
        return tape
    again = _concatenated_again(tape, plans, writes, escaped)
    made_before, slot_of = {}, {}
    for i, (first, slices, zeros) in plans.items():
        made_before[first] = (tape[i].results[0], zeros, tape[i])
        for at, index in slices:
            slot_of[at] = (tape[i].results[0], index)
    rewritten = []
    for i, call in enumerate(tape):
        if i in plans:
            continue  # the parts are in place
        if i in again:
            call = again[i]
        if i in made_before:
            result, zeros, concat = made_before[i]
            rewritten.append(Call(np.zeros if zeros else np.empty, (result.shape, result.dtype),
                                  {}, (result,), concat.scope, concat.op))
        if i in slot_of:
            result, index = slot_of[i]
            part = call.results[0]  # the same value, now a slice of the concatenation
            rewritten.append(Call(("method", "__getitem__"), (result, index), {}, (part,),
                                  call.scope, call.op))
            call = Call(call.fn, call.args, {"out": part}, (), call.scope, call.op, (part,))
        rewritten.append(call)
    return rewritten


def _concatenated_again(tape: list[Call], plans: dict, writes: dict, escaped: set) -> dict:
    """{position: its new call} for each concatenation of the same parts, in the same order, as
    one that concatenate_in_place writes them into: the same numbers in the same order, so a
    reshape of it (an LSTM's gate gradients, stacked for the input projection's gradient and
    concatenated for W_hh's). Neither may be written or leave the program: they share memory.

    perf: a (T, B, 4H) copy less; bench_lstm's compiled step, alternating in one process with
    the program without it: small 1.04x, medium 1.06x, tiny 1.01x"""
    def flat(call: Call) -> tuple | None:  # (part numbers, dtype) of a concatenation that lays
        if _name(call.fn) not in ("concatenate", "stack") or not from_numpy(call.fn) or \
                len(call.results) != 1 or not call.results[0].c_contiguous:
            return None  # its parts' values one after the other (nothing before its axis)
        parts = call.args[0] if call.args else ()
        axis = call.args[1] if len(call.args) > 1 else call.kwargs.get("axis", 0)
        result = call.results[0]
        if type(parts) not in (tuple, list) or type(axis) is not int or len(call.args) > 2 or \
                set(call.kwargs) - {"axis"} or not all(isinstance(p, Var) for p in parts) or \
                any(d != 1 for d in result.shape[:axis % max(len(result.shape), 1)]):
            return None
        return tuple(p.number for p in parts), np.dtype(result.dtype)
    first = {flat(tape[i]): tape[i].results[0] for i in plans}
    again = {}
    for i, call in enumerate(tape):
        key = flat(call) if i not in plans else None
        base = first.get(key) if key else None
        result = call.results[0] if base is not None else None
        if base is None or base.number in escaped or result.number in escaped or \
                writes.get(base.number) or writes.get(result.number):
            continue
        again[i] = Call(("method", "reshape"), (base, *result.shape), {}, (result,), call.scope,
                        call.op)
    return again


def scatter_in_place(tape: list[Call], outputs: list[Var],
                     first_number: int) -> tuple[list[Call], list[Var]]:
    """`z[i] = v` where v is last written by an arithmetic ufunc (exact on any memory layout:
    the bits do not change) and read by nothing else: that ufunc writes into `z[i]` itself,
    `out=`, and the copy is gone (a getitem's VJP scattering an LSTM's g-gate gradient into
    the zeros of all four gates, at every step). z must be made by np.zeros or np.zeros_like,
    and nothing may read or write it between the ufunc and the copy; its creator moves up to
    the ufunc where it comes after it (np.zeros_like(v, shape=...) as the np.zeros it is).
    Returns the tape and the Vars it made (the slices).

    perf: bench_lstm's step against the same program without it, alternating in one process:
    tiny 1.03x, small 1.02x-1.03x (two runs each)."""
    defined, roots, reads, writes = uses(tape)
    escaped = escaping(tape, outputs, roots)
    numbers = iter(range(first_number, 1 << 62))
    made: list[Var] = []
    plans: dict[int, tuple] = {}  # the ufunc's position -> (z, index, slice Var, creator's)
    dropped: set[int] = set()  # the copies
    moved: set[int] = set()  # creators made before the ufunc instead
    for i, call in enumerate(tape):
        if call.fn != ("method", "__setitem__") or call.kwargs or len(call.args) != 3:
            continue
        z, index, v = call.args
        if not isinstance(z, Var) or not isinstance(v, Var) or not _basic_index(index) or \
                v.kind != "op" or v.dtype != z.dtype or v.number in escaped or \
                roots.get(v.number) != {v.number} or roots.get(z.number) != {z.number} or \
                v.shape == () or _slice_shape(z.shape, index) != v.shape:
            continue  # (z[i] of a 0-d slot is a NumPy scalar, a copy: no place to write into)
        p = max([j for j in writes.get(v.number, ()) if j < i], default=defined.get(v.number))
        z_at = defined.get(z.number)
        if p is None or z_at is None or p in plans or not _writes_only(tape[p], v):
            continue
        creator = tape[z_at]
        if _name(creator.fn) not in ("zeros", "zeros_like") or not from_numpy(creator.fn):
            continue
        if z_at > p and any(defined.get(a.number, -1) >= p
                            for a in vars_in((creator.args, creator.kwargs))):
            if _name(creator.fn) != "zeros_like" or not z.c_contiguous:
                continue  # np.zeros_like(v, shape=...) reads only v's dtype (and layout)
            creator = Call(np.zeros, (z.shape, z.dtype), {}, (z,), creator.scope, creator.op)
        if any(j > p and j not in (z_at, i) for j in reads.get(v.number, ())) or \
                any(p < j < i and j != z_at for j in (*reads.get(z.number, ()),
                                                      *writes.get(z.number, ()))):
            continue
        slot = Var(next(numbers), "op", None, v.label, shape=v.shape, dtype=v.dtype)
        made.append(slot)
        plans[p] = (z, index, slot, creator if z_at > p else None)
        dropped.add(i)
        if z_at > p:
            moved.add(z_at)
    if not plans:
        return tape, made
    rewritten = []
    for j, call in enumerate(tape):
        if j in dropped or j in moved:
            continue
        if j in plans:
            z, index, slot, creator = plans[j]
            if creator is not None:
                rewritten.append(creator)
            rewritten.append(Call(("method", "__getitem__"), (z, index), {}, (slot,), call.scope,
                                  call.op))
            call = Call(call.fn, call.args, {"out": slot}, (), call.scope, call.op, (slot,))
        rewritten.append(call)
    return rewritten, made


def _writes_only(call: Call, v: Var) -> bool:
    """call is an arithmetic ufunc that makes v, or writes it whole with out=v."""
    if call.fn not in _EXACT_ON_ANY_LAYOUT:
        return False
    if not call.kwargs:
        return len(call.results) == 1 and call.results[0] is v
    out = call.kwargs.get("out")
    out = out[0] if type(out) is tuple and len(out) == 1 else out
    return set(call.kwargs) == {"out"} and out is v and not call.results


def _slice_shape(shape: tuple, index) -> tuple | None:
    """The shape of `x[index]` for an x of this shape (None if the index does not fit it)."""
    try:
        return np.lib.stride_tricks.as_strided(np.empty(1, np.uint8), shape,
                                               (0,) * len(shape))[index].shape
    except IndexError:
        return None


# ufuncs whose every result is the correctly rounded value of its operands, whatever the memory
# layout of the output (a transcendental one may take another code path on a strided output)
_EXACT_ON_ANY_LAYOUT = {np.add, np.subtract, np.multiply, np.true_divide, np.negative,
                        np.positive, np.square, np.sqrt, np.maximum, np.minimum, np.absolute}


def _numpy_call(call: Call) -> bool:
    """A NumPy function, ufunc or ndarray method: it keeps no reference to what it is handed."""
    return type(call.fn) is tuple or _ufunc(call.fn) or from_numpy(call.fn)


def from_numpy(fn) -> bool:
    """A function of NumPy's own (np.concatenate, np.zeros), not one that shares its name."""
    return (getattr(fn, "__module__", None) or "").startswith("numpy")


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
    _, roots, _, _ = uses(tape)
    # a view of it, or a Python object holding it: not for us to write into
    shared = {r for n, rs in roots.items() for r in rs if r != n}
    shared |= escaping(tape, outputs, roots)
    fresh, last_use = set(), {}
    for i, call in enumerate(tape):
        for var in vars_in((call.args, call.kwargs)):
            last_use[var.number] = i
        if "out" not in call.kwargs and (isinstance(call.fn, np.ufunc) or
                                         _name(call.fn) in _FRESH_FUNCTIONS):
            fresh.update(v.number for v in call.results)
    for var in outputs:
        last_use[var.number] = len(tape)
    rewritten = []
    for i, call in enumerate(tape):
        if _elementwise(call):
            result = call.results[0]
            for var in vars_in(call.args):
                if var.kind == "op" and var.number in fresh and var.number not in shared \
                        and last_use.get(var.number) == i and var.shape == result.shape != () \
                        and var.dtype == result.dtype and var.c_contiguous and \
                        result.c_contiguous:
                    call = Call(call.fn, call.args, {**call.kwargs, "out": var}, call.results,
                                call.scope, call.op, (var,))
                    break
        rewritten.append(call)
    return rewritten


def plan_buffers(tape: list[Call], outputs: list[Var],
                 first_number: int) -> tuple[list[Call], list[int]]:
    """Give each array the program makes (a ufunc's, dot's, concatenate's, stack's result;
    C-ordered, not 0-d) and keeps to itself a place in one arena allocated once: the call writes
    there with `out=`, the same NumPy call into memory that is not new. Values whose lifetimes
    (until the last read of any view of them) do not overlap share bytes: largest first, each
    goes into the smallest gap between the live values placed so far that fits it, else above
    them (TFLite's greedy-by-size), so the arena is about the largest set alive at once. A value
    that leaves the program (returned, handed to Python code such as a replayed call or `.grad`,
    directly or through a view) is allocated at every run, as before. A value used slice by
    slice along its first axis frees each slice after its own last use (`_slice_ends`), and one
    made by np.empty holds nothing in a slice before its first use: later values go into such
    slices, but never across the value's ends (a piece of the arena per value, as below).
    Returns the tape and the sizes of the arena's pieces in bytes.

    perf: bench_lstm's step against the same program without it, alternating, one run: tiny
    1.56 -> 1.50 ms, small 16.3 -> 14.5, medium 84.9 -> 73.8, large 865 -> 848 (no malloc and no
    new ndarray object per result, and memory that stays in cache). Slices: arena tiny 0.27 ->
    0.25 MiB, small 6.07 -> 5.10, medium 26.5 -> 19.9, large 210 -> 156; the step against
    the same program without them, alternating in one process: small 1.00x, medium 1.01x and
    1.025x, large 1.01x (peak RSS, which the traced calls set, unchanged)."""
    defined, roots, reads, _ = uses(tape)
    escaped = escaping(tape, outputs, roots)
    end = {r: max(positions) for r, positions in reads.items()}  # the last read of it or a view
    for number, i in defined.items():  # a view made (and never read) counts too
        for r in roots[number]:
            end[r] = max(end.get(r, i), i)
    made_at = {res.number: (i, res) for i, call in enumerate(tape) if "out" not in call.kwargs
               for res in call.results if _plannable(call, res)}  # array -> (its call, its Var)

    planned = {n for n in made_at if n not in escaped}
    slices = _slice_ends(tape, roots, planned, {n for n in planned
                                                 if _name(tape[made_at[n][0]].fn) in
                                                 ("empty", "empty_like")})
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first call, last call)
    extents: set[tuple[int, int]] = set()  # (offset, size) of each value
    walls: set[int] = set()  # where the sliced values begin and end
    offsets: dict[int, int] = {}
    values = [(-_aligned(made_at[n][1].dtype, made_at[n][1].shape), made_at[n][0], n)
              for n in planned]
    for minus_size, start, number in sorted(values):
        size, stop = -minus_size, end[number]
        taken = sorted((o, s) for o, s, a, b in placed if a <= stop and start <= b)
        offset, best = 0, None  # the smallest gap between live neighbours that fits
        for o, s in (*taken, (None, 0)):
            # a gap, cut where a sliced value begins or ends: a value in its free slices stays
            # inside it, so the arena's pieces stay as small as before (see below)
            upper = o if o is not None else float("inf")
            cuts = [offset, *sorted(w for w in walls if offset < w < upper), o]
            for a, b in zip(cuts, cuts[1:]):
                if (b is None or b - a >= size) and (best is None or b is not None and (
                        best[1] is None or b - a < best[1])):
                    best = (a, None if b is None else b - a)
            offset = max(offset, o + s) if o is not None else offset
        offset = best[0]
        if number in slices:  # each slice free after its own last read
            width, spans = slices[number]
            walls.update((offset, offset + size))
            placed += [(offset + k * width, width, a, b) for k, (a, b) in enumerate(spans)]
            if size > len(spans) * width:  # the alignment's last bytes
                placed.append((offset + len(spans) * width, size - len(spans) * width, start,
                               stop))
        else:
            placed.append((offset, size, start, stop))
        extents.add((offset, size))
        offsets[number] = offset
    # the arena in pieces that no value straddles: allocated one by one, the small ones fill the
    # holes that freed arrays left in the heap, where one large block would be new memory
    # (perf: peak RSS of the medium benchmark 120 -> 95 MiB; 94 before plan_buffers)
    pieces: list[int] = []  # their sizes
    where: dict[int, tuple[int, int]] = {}  # offset -> (piece, offset in it)
    piece_start, piece_end = 0, 0
    for offset, size in sorted(extents):
        if offset >= piece_end and piece_end:
            pieces.append(piece_end - piece_start)
            piece_start = offset
        where[offset] = (len(pieces), offset - piece_start)
        piece_end = max(piece_end, offset + size)
    if extents:  # (all of them empty: one piece of 0 bytes, which their offsets name)
        pieces.append(piece_end - piece_start)
    numbers = iter(range(first_number, 1 << 62))
    rewritten = []
    for call in tape:
        for res in call.results:
            if res.number in offsets:
                out = Var(next(numbers), "buffer", (*where[offsets[res.number]], res), res.label)
                creator = _name(call.fn)
                if creator in _ARENA_CREATORS:  # the place itself (zeroed: no page faults)
                    call = Call(("method", "__getitem__"), (out, Ellipsis), {}, call.results,
                                call.scope, call.op)
                    if creator in ("zeros", "zeros_like"):
                        rewritten.append(call)
                        call = Call(("method", "fill"), (res, 0), {}, (), call.scope, call.op,
                                    (res,))
                else:
                    call = Call(call.fn, call.args, {**call.kwargs, "out": out}, call.results,
                                call.scope, call.op, call.writes, call.unpack)
        rewritten.append(call)
    return rewritten, pieces


def fixed_views(tape: list[Call]) -> tuple[list[Call], list[Call], dict[int, Var]]:
    """The arena's places are the same arrays at every run, and so is a view of one taken with
    constant indices (`d_split[:, 300:400]`, `steps_tanh[3]`, `.T`): such views are made once,
    with the arena, not at each run; a call with `out=` one of them returns that array, so its
    result is named by it. Returns the tape without the views, the calls that make them (in
    order), and for each Var that is a fixed array the Var naming it (an arena place or a view).

    perf: a view costs ~0.2 µs, and the tiny benchmark's step made 517 of them at each run;
    its compiled step against the same program without this, alternating in one process: tiny
    1.52 -> 1.33 ms (1.16x), small 13.4 -> 12.9 ms (1.03x)."""
    fixed: dict[int, Var] = {}
    c_ordered: set[int] = set()  # fixed views known to be C-ordered: reshapes of such arrays
    kept, views = [], []
    for call in tape:
        base = call.args[0] if call.args else None
        if type(call.fn) is tuple and _fixed_base(base, fixed) and \
                _constant_view(call, fixed.get(base.number, base), c_ordered):
            res = call.results[0]
            if call.fn[1] == "__getitem__" and call.args[1] is Ellipsis:  # the array itself
                fixed[res.number] = fixed.get(base.number, base)
            else:
                fixed[res.number] = res
                views.append(call)
                if call.fn[1] == "reshape":
                    c_ordered.add(res.number)
            continue
        out = call.kwargs.get("out")
        out = out[0] if type(out) is tuple and len(out) == 1 else out
        if _fixed_base(out, fixed) and len(call.results) == 1 and _returns_out(call.fn):
            fixed[call.results[0].number] = fixed.get(out.number, out)
        kept.append(call)
    return kept, views, fixed


def _fixed_base(var, fixed: dict) -> bool:
    return isinstance(var, Var) and (var.kind == "buffer" or var.number in fixed)


def _constant_view(call: Call, base: Var, c_ordered: set) -> bool:
    """`x[i, a:b]` with constant basic indices, `x.T`, `x.transpose(axes)`, `x.reshape(shape)`
    of an x known to be C-ordered (a place in the arena, or a reshape of one; not by the trace's
    layout of its value, which a part of a concatenation no longer has): always a view, never a
    copy (nor a NumPy scalar)."""
    name, res = call.fn[1], call.results[0] if len(call.results) == 1 else None
    if res is None or call.kwargs or call.writes or res.shape == () or res.scalar or \
            any(vars_in(call.args[1:])):
        return False
    if name == "__getitem__":
        return _basic_index(call.args[1])
    if name in ("T", "transpose"):
        return True
    if name == "reshape":
        return (base.kind == "buffer" or base.number in c_ordered) and \
            all(_basic_index(a) for a in call.args[1:])
    return False


def _basic_index(index) -> bool:
    if type(index) is tuple:
        return all(_basic_index(i) for i in index)
    if type(index) is slice:
        return all(v is None or type(v) is int for v in (index.start, index.stop, index.step))
    return index is None or index is Ellipsis or type(index) is int


def _returns_out(fn) -> bool:
    """A call that returns the array it was given as `out=`."""
    return (isinstance(fn, np.ufunc) and fn.nout == 1) or \
        (_name(fn) in ("dot", "matmul", "concatenate", "stack") and from_numpy(fn))


def typed_scalars(tape: list[Call], first_number: int) -> list[Call]:
    """A Python number beside arrays of one dtype in a ufunc's arguments (`add(1, s, out=s)`)
    becomes a 0-d array of that dtype, made once (`add(ONE_FLOAT32, s, out=s)`), where NumPy
    casts the number to that dtype anyway (NEP 50: a Python scalar is weak) and runs the loop on
    that dtype alone (`_loop_on`), so the loop and the bits are the same. Only where the cast is
    exact for an integer dtype and finite for a float one (else NumPy raises or warns at each
    call, and the program does too). The constants' Vars are numbered from first_number.

    perf: NumPy converts a Python number at every call, ~0.45 µs (add on a (1, 400) float32
    array: 0.91 -> 0.44 µs); bench_lstm's compiled step against the same program without this,
    alternating in one process: tiny 1.03x, small 1.04x."""
    numbers = iter(range(first_number, 1 << 62))
    made: dict[tuple, Var] = {}
    rewritten = []
    for call in tape:
        if isinstance(call.fn, np.ufunc) and call.fn.nin >= 2 and \
                any(type(a) in (int, float) for a in call.args):
            dtypes = {_dtype_of(a) for a in call.args if isinstance(a, Var)}
            dtype = dtypes.pop() if len(dtypes) == 1 and None not in dtypes and all(
                isinstance(a, Var) or type(a) in (int, float)
                for a in call.args[:call.fn.nin]) else None
            if dtype is not None and dtype.kind in "fiu" and _loop_on(call, dtype):
                args = tuple(_typed(a, dtype, made, numbers) for a in call.args)
                call = Call(call.fn, args, call.kwargs, call.results, call.scope, call.op,
                            call.writes, call.unpack)
        rewritten.append(call)
    return rewritten


def _loop_on(call: Call, dtype: np.dtype) -> bool:
    """NumPy runs the ufunc on `dtype` for every input, the Python numbers as they are (weak):
    not ldexp's (float, int) loop, nor logical_and's (bool, bool), nor one that `dtype=` or
    `signature=` picks."""
    fn = call.fn
    if "dtype" in call.kwargs or "signature" in call.kwargs:
        return False
    inputs = tuple(dtype if isinstance(a, Var) else type(a) for a in call.args[:fn.nin])
    try:
        loop = fn.resolve_dtypes(inputs + (None,) * fn.nout)
    except (TypeError, ValueError, np.exceptions.DTypePromotionError):
        return False
    return all(d == dtype for d in loop[:fn.nin])


def _dtype_of(var: Var) -> np.dtype | None:
    if var.kind == "const" and isinstance(var.source, np.ndarray):
        return var.source.dtype
    return None if var.dtype is None else np.dtype(var.dtype)


def _typed(a, dtype: np.dtype, made: dict, numbers) -> object:
    """`a`, or the 0-d array of `dtype` NumPy would make of the Python number a (its Var)."""
    if type(a) not in (int, float) or (type(a) is float and dtype.kind in "iu") or \
            (type(a) is int and dtype.kind == "f" and abs(a) > 2**53):  # one rounding, not two
        return a
    with np.errstate(all="ignore"):
        value = np.array(a).astype(dtype) if dtype.kind == "f" or \
            np.iinfo(dtype).min <= a <= np.iinfo(dtype).max else None
    if value is None or (dtype.kind == "f" and np.isfinite(a) and not np.isfinite(value)):
        return a
    key = (value.tobytes(), dtype.str)  # -0.0 is not 0.0
    if key not in made:
        made[key] = Var(next(numbers), "const", value, dtype=dtype)
    return made[key]


def _aligned(dtype, shape: tuple) -> int:
    """Bytes of an array, rounded up to 64: places in a piece of the arena start 64 bytes apart
    (the piece itself is as aligned as malloc makes it, 16 bytes)."""
    return -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64


def _slice_ends(tape: list[Call], roots: dict, planned: set,
                empty: set) -> dict[int, tuple[int, list]]:
    """For a planned value whose views are mostly slices along its first axis (of itself or
    of a reshape of it: an LSTM's input projection read one (B, 4H) step at a time, a stack of
    per-step values): the bytes of a slice and, for each slice, the first and the last call
    that uses it (a view of a slice, a value written into it with out=, count as the slice;
    anything else of the value counts as every slice's). A value made by np.empty (in `empty`)
    holds nothing until a slice is written: its making is no slice's first use. A value not
    used in slices is not in the result."""
    whole = {n: n for n in planned}  # a Var that is all of a planned value -> that value
    part: dict[int, tuple[int, int]] = {}  # a Var inside one slice -> (value, slice)
    grid: dict[int, int] = {}  # value -> its number of slices
    first: dict[int, dict] = {}  # value -> {slice (None: all of them): first call}
    last: dict[int, dict] = {}  # value -> {slice (None: all of them): last call}
    for i, call in enumerate(tape):
        view = _numpy_call(call) and not _ufunc(call.fn) and _name(call.fn) not in _NOT_ALIASING
        out = call.kwargs.get("out")
        out = out[0] if type(out) is tuple and len(out) == 1 else out
        sliced = None  # the whole this call takes a slice of: a use of that slice only
        for res in call.results:
            base = out if isinstance(out, Var) else call.args[0] if view and call.args else None
            if not isinstance(base, Var):
                continue
            if base.number in part and (base is out or _name(call.fn) in _INSIDE_VIEWS):
                part[res.number] = part[base.number]  # inside the slice: written, or viewed
            elif base.number in whole and view and not call.kwargs:
                value = whole[base.number]
                if _name(call.fn) == "reshape":  # of a C-ordered array: all of it again
                    whole[res.number] = value
                elif _name(call.fn) == "__getitem__" and base.shape:
                    k_n = _slice_of(call.args[1], base.shape[0])
                    if k_n is not None and grid.setdefault(value, k_n[1]) == k_n[1]:
                        part[res.number], sliced = (value, k_n[0]), base
        for var in (*vars_in((call.args, call.kwargs)), *call.results):
            if var is sliced:
                continue
            where = part.get(var.number)
            for r in roots.get(var.number, {var.number}) & planned:
                k = where[1] if where is not None and where[0] == r else None
                if k is not None or whole.get(var.number) != r or r not in empty or \
                        var not in call.results:  # np.empty's making is no use of a slice
                    first.setdefault(r, {}).setdefault(k, i)
                last.setdefault(r, {})[k] = i
    result = {}
    for value, n in grid.items():
        shape, dtype = next((v.shape, v.dtype) for call in tape for v in call.results
                            if v.number == value)
        width = int(np.prod(shape)) * np.dtype(dtype).itemsize // n
        if n < 2 or width % 64 or width * n != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            continue
        starts, ends = first.get(value, {}), last[value]
        every_start, every_end = starts.get(None, len(tape)), ends.get(None, 0)
        result[value] = (width, [(min(every_start, starts.get(k, len(tape))),
                                  max(every_end, ends.get(k, 0))) for k in range(n)])
    return result


# views that stay inside the memory of the array they are taken of (unlike as_strided)
_INSIDE_VIEWS = {"__getitem__", "T", "transpose", "reshape", "view", "swapaxes", "squeeze",
                 "expand_dims", "broadcast_to", "moveaxis", "diagonal", "ravel", "real", "imag"}


def _slice_of(index, length: int) -> tuple[int, int] | None:
    """(k, n) for an index that picks slice k of n equal ones along an axis of this length,
    `k` or `a:b` (with (b - a) dividing a and the length), alone or followed by constant basic
    indices (a view inside that slice); None for any other index."""
    if type(index) is tuple and index and _basic_index(index):
        index = index[0]
    if type(index) is int and -length <= index < length:
        return index % length, length
    if type(index) is slice and index.step is None and type(index.start) is int and \
            type(index.stop) is int and 0 <= index.start < index.stop <= length:
        width = index.stop - index.start
        if index.start % width == 0 and length % width == 0:
            return index.start // width, length // width
    return None


def _plannable(call: Call, result: Var) -> bool:
    fn = call.fn
    if isinstance(fn, np.ufunc):
        if fn.nout != 1 or len(call.results) != 1:
            return False
    elif _name(fn) not in _PLANNED_FUNCTIONS or not from_numpy(fn):
        return False
    return result.shape != () and not result.scalar and result.c_contiguous and \
        result.dtype is not None and np.dtype(result.dtype).kind in "biufc"


def uses(tape: list[Call]):
    """The one alias analysis of the passes: where each value is made; the fresh arrays each
    may share memory with (a view's, an `out=` result's: its roots); the positions of the calls
    that read (an operand anywhere in the call), and that write into, each root."""
    defined: dict[int, int] = {}
    roots: dict[int, set] = {}
    reads: dict[int, list[int]] = {}
    writes: dict[int, list[int]] = {}
    for i, call in enumerate(tape):
        for r in roots_of(call.writes, roots):
            writes.setdefault(r, []).append(i)
        operands = list(vars_in((call.args, call.kwargs)))
        for r in roots_of(operands, roots):
            reads.setdefault(r, []).append(i)
        numpy_call = _numpy_call(call)
        view = numpy_call and not _ufunc(call.fn) and _name(call.fn) not in _NOT_ALIASING
        for res in call.results:
            defined[res.number] = i
            if "out" in call.kwargs:  # the array it wrote into
                roots[res.number] = roots_of(vars_in(call.kwargs["out"]), roots)
            elif view:  # it may share memory with its operands
                roots[res.number] = roots_of(operands, roots)
            else:
                roots[res.number] = {res.number}
    return defined, roots, reads, writes


def roots_of(values, roots: dict) -> set:
    """The roots (see `uses`) of some Vars: an input or a constant is its own."""
    return set().union(*[roots.get(v.number, {v.number}) for v in values])


def escaping(tape: list[Call], outputs: list[Var], roots: dict) -> set:
    """The roots (see `uses`) of what leaves the program: returned, or handed to Python code
    (a replayed call, `.grad`), directly or through a view."""
    escaped = roots_of(outputs, roots)
    for call in tape:
        if not _numpy_call(call):
            escaped |= roots_of(vars_in((call.args, call.kwargs)), roots)
    return escaped
