"""A tape becomes a program: one straight-line Python function of NumPy calls.

    def step(x, y):
        # lstm, step 0: Addmm
        addmm12 = np.matmul(h3, lstm_weight_hh_l0_T)
        ...
        # lstm, step 0: SigmoidBackward
        d_sigmoid40 = np.multiply(...)

Each call of the tape is one line, in tape order; a comment names the module, time step and
op (or VJP) each block comes from. Values get names from what made them; a value is deleted
after its last use, so memory is freed where the eager run would free it. Inputs are read at
their first use: an argument's array, a parameter's `._array`, a `.grad` written earlier.
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import textwrap
import tokenize
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from .capture import AccumulateGrads, CallLabel, Draw, GradOf, Replayed
from .batch import batch_over_steps
from .memory import return_free_memory
from .passes import (common_views, concatenate_in_place, fixed_views, live_calls, plan_buffers,
                     reuse_dying_operands, scatter_in_place, typed_scalars, vars_in)
from .trace import Call, Var


# batch_over_steps, for per-step arrays up to this size. perf: where NumPy's cost per call
# (about a microsecond) is near the work itself, batching pays: bench_lstm's step 1.03x to 1.06x
# at tiny ((1, 400) float32 per step), 1.21x to 1.26x at small ((16, 128) and (16, 512)); larger
# arrays are memory-bound and batching only moves them out of cache: medium ((32, 256) and
# (32, 1024)) 0.94x with every group batched, 0.99x with only its (32, 256) ones (alternating,
# one run each). 16 KiB rather than 32: small's (16, 512) and medium's (32, 256) stay per step,
# each in a place the next step reuses: arena small 10.75 -> 6.07 MiB, medium 30.6 -> 26.5;
# against the two programs alone, small 0.99x, but in the benchmark's alternation with the
# eager and hand-written steps (which evict each other's arrays from the caches) small 1.01x
# (three runs), medium 1.01x
BATCH_MAX_BYTES = 16 * 1024


class Program:
    """The generated function, its source and what it reads."""

    def __init__(self, tape: list[Call], vars_: list[Var], arg_vars: list[Var],
                 outputs: list[Var], tensor_names: dict[int, str], calls: dict[int, int]) -> None:
        self._globals = {"np": np, "tensors": SimpleNamespace()}
        self._tensor_global: dict[int, str] = {}
        self._tensor_taken: set[str] = set()
        self._global_names: dict[int, str] = {}  # id(object) -> its name in the program
        self._names: dict[int, str] = {}  # var number -> local name
        self._tensor_names = tensor_names
        self._calls = calls  # id(module) -> number of calls in the run
        tape = concatenate_in_place(live_calls(tape, outputs), outputs)
        tape, slices = scatter_in_place(tape, outputs, len(vars_))
        tape, made = batch_over_steps(tape, outputs, len(vars_) + len(slices), BATCH_MAX_BYTES)
        tape = common_views(tape, outputs)
        vars_ = vars_ + slices + made
        # the NumPy functions it calls, by their own names (`multiply(a, b, out=C)`), imported
        # at the top of the source. perf: a global instead of np's attribute, ~50 ns a call;
        # bench_lstm's compiled step, alternating in one process: tiny 1.18 -> 1.13 ms, small
        # 13.4 -> 12.8 ms
        self._imported = {_name_of(c.fn) for c in tape} - {None}
        taken: set[str] = {"np", "tensors"} | self._imported
        for var in arg_vars:
            self._names[var.number] = _unique(_identifier(var.label), taken)
        for var in vars_:
            if var.number not in self._names and var.kind != "const":
                self._names[var.number] = _unique(self._label(var), taken, var.number)
        self._taken = taken
        tape = reuse_dying_operands(live_calls(tape, outputs), outputs)
        self._buffers: dict[int, tuple] = {}  # buffer var -> (name, piece, offset, value)
        tape, self._pieces = plan_buffers(tape, outputs, first_number=len(vars_))
        tape, views, self._fixed = fixed_views(tape)
        tape = typed_scalars(tape, 1 + max(v.number for call in tape for v in vars_in(
            (call.args, call.kwargs, call.results))))
        self._view_names: dict[int, str] = {}  # a fixed view's Var number -> its global name
        lines = self._body(tape, vars_, arg_vars, outputs)
        # (name, method, arguments, base's name) of each fixed view, in the order made
        self._views = [(self._value(c.results[0]), c.fn[1], c.args[1:], self._value(c.args[0]))
                       for c in views]
        views_source = "\n".join(self._line(call) for call in views)
        params = [self._names[v.number] for v in arg_vars]
        used = sorted(self._imported & self._globals.keys())
        header = f"from numpy import {', '.join(used)}"
        if len(header) > 99:
            header = textwrap.fill(f"from numpy import ({', '.join(used)})", 99,
                                   subsequent_indent=" " * 19)
        header = header + "\n\n" if used else ""
        self.source = header + f"def step({', '.join(params)}):\n" + \
            "\n".join("    " + line for line in lines) + "\n"
        if views:  # after the function: its line numbers are the ones errors name
            self.source += "\n\n# made once, with the arena: views of its places (the UPPERCASE " \
                "names) that every run reads\n" + views_source + "\n"
        numbers = [f"{name} = {value[()]!r}" for name, value in self._globals.items()
                   if isinstance(value, np.ndarray) and value.shape == () and
                   value.dtype.kind in "biuf"]  # np.float32(0.1)
        if numbers:
            self.source += "\n\n# the numbers it reads, as arrays of their dtype\n" + \
                "\n".join(numbers) + "\n"
        self._namespace = dict(self._globals)
        self.run = _compiled(params, lines, set(self._names.values()), self._namespace,
                             header.count("\n"))
        self.arena: list[np.ndarray] | None = None
        self.arena_bytes = sum(self._pieces)

    def allocate(self) -> None:
        """Make the arena of plan_buffers and the program's views into it (at its first run, not
        when it is built: the traced call's arrays are gone by then, their pages given back)."""
        return_free_memory()
        arena = [np.empty(size, np.uint8) for size in self._pieces]
        for name, piece, offset, value in self._buffers.values():
            dtype = np.dtype(value.dtype)
            nbytes = int(np.prod(value.shape)) * dtype.itemsize
            memory = arena[piece][offset:offset + nbytes]
            self._namespace[name] = memory.view(dtype).reshape(value.shape)
        for name, method, args, base in self._views:  # the lines after the function, run as
            array = self._namespace[base]  # such without compiling them (memory)
            self._namespace[name] = array.T if method == "T" else \
                array[args[0]] if method == "__getitem__" else getattr(array, method)(*args)
        self.arena = arena  # last: a failure above leaves it to be made at the next run

    def where(self, error: BaseException) -> str:
        """'at the program's line N, `code` (module, Op)': the innermost line of the program
        in the error's traceback, with the comment that names where it comes from."""
        tb, line = error.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<tl.compile>":
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is None:
            return "in a call of the compiled program"
        lines = self.source.splitlines()
        comments = [t.strip()[2:] for t in lines[:line] if t.strip().startswith("# ")]
        origin = f" ({comments[-1]})" if comments else ""
        return f"at the compiled program's line {line}: `{lines[line - 1].strip()}`{origin}"

    # ------------------------------------------------------------ names

    def _label(self, var: Var) -> str:
        if var.kind == "input":
            kind, obj = var.source[0], var.source[1]
            name = self._tensor_names.get(id(obj), "tensor")
            return _identifier(f"grad_{name}" if kind in ("grad", "grad0") else name)
        op = var.label or "v"
        if op.endswith("Backward"):
            return "d_" + _identifier(op[:-len("Backward")])
        return _identifier(op)

    def _global(self, obj, hint: str) -> str:
        name = self._global_names.get(id(obj))
        if name is None:
            name = _unique(_identifier(hint).upper() if isinstance(obj, np.ndarray)
                           else _identifier(hint), self._taken)
            self._global_names[id(obj)] = name
            self._globals[name] = obj
        return name

    # ------------------------------------------------------------ lines

    def _body(self, tape, vars_, arg_vars, outputs) -> list[str]:
        last_use = {}
        for i, call in enumerate(tape):
            for var in vars_in((call.args, call.kwargs)):
                last_use[var.number] = i
        for var in outputs:
            last_use[var.number] = len(tape)
        defined = {v.number for v in arg_vars}  # inputs read so far
        lines, where = [], None
        for var in vars_:  # a constant written in place: every run starts from its value
            if var.kind == "const" and var.written:
                self._names[var.number] = _unique(f"c{var.number}", self._taken)
                const = self._global(var.source, f"const{var.number}")
                lines.append(f"{self._names[var.number]} = {const}.copy()")
                defined.add(var.number)
        for var in vars_:  # a .grad as the call found it: read before anything replaces it
            if var.kind == "input" and var.source[0] == "grad0" and var.number in last_use:
                lines.append(f"{self._names[var.number]} = {self._read(var)}")
                defined.add(var.number)
        for i, call in enumerate(tape):
            if (call.scope, call.op) != where:
                where = (call.scope, call.op)
                if call.scope or call.op:
                    lines.append("# " + ", ".join([self._scope_label(s) for s in call.scope] +
                                                  ([call.op] if call.op else [])))
            for var in vars_in((call.args, call.kwargs)):
                if var.kind == "input" and var.number not in defined:
                    lines.append(f"{self._names[var.number]} = {self._read(var)}")
                    defined.add(var.number)
            lines.append(self._line(call))
            used = {v.number: v for v in vars_in((call.args, call.kwargs))}
            dead = [v for n, v in sorted(used.items()) if last_use[n] == i]
            dead += [v for v in call.results if v.number not in last_use]  # never read
            dead = [v for v in dead if v.kind not in ("const", "buffer") and
                    v.number not in self._fixed]  # the arena and its views stay
            if dead:
                lines.append("del " + ", ".join(self._names[v.number] for v in dead))
        lines.append("return " + self._value(tuple(outputs)))
        return lines

    def _scope_label(self, label) -> str:
        """`step 3` for a recurrence's step, `lstmcell call 2` for a module called in a loop."""
        if type(label) is int:
            return f"step {label}"
        if isinstance(label, CallLabel) and self._calls.get(label.module, 1) > 1:
            return f"{label} call {label.call}"
        return str(label)

    def _read(self, var: Var) -> str:
        """`tensors.fc_weight._array`: a tensor the program reads (by name, in `tensors`)."""
        kind, obj = var.source[0], var.source[1]
        return f"{self._tensor(obj)}._grad._array" if kind in ("grad", "grad0") else \
            f"{self._tensor(obj)}._array"

    def _tensor(self, obj) -> str:
        name = self._tensor_global.get(id(obj))
        if name is None:
            name = _unique(_identifier(self._tensor_names.get(id(obj), "tensor")),
                           self._tensor_taken)
            self._tensor_global[id(obj)] = name
            setattr(self._globals["tensors"], name, obj)
        return f"tensors.{name}"

    def _value(self, a, index: bool = False) -> str:
        if isinstance(a, Var):
            a = self._fixed.get(a.number, a)
            if a.number in self._fixed:  # a fixed view of the arena: a global made with it
                if a.number not in self._view_names:
                    self._view_names[a.number] = _unique(self._names[a.number].upper(),
                                                         self._taken)
                return self._view_names[a.number]
            if a.kind == "buffer":  # plan_buffers: a view into the arena, made at the first run
                if a.number not in self._buffers:
                    piece, offset, value = a.source
                    name = _unique(self._names[value.number].upper(), self._taken)
                    self._buffers[a.number] = (name, piece, offset, value)
                return self._buffers[a.number][0]
            if a.kind == "const" and not a.written:
                return self._global(a.source, _const_name(a))
            return self._names[a.number]
        if type(a) is tuple:
            if index:
                return ", ".join(self._value(x, True) for x in a) or "()"
            inner = ", ".join(self._value(x) for x in a)
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if type(a) is list:
            return "[" + ", ".join(self._value(x) for x in a) + "]"
        if type(a) is dict:
            return "{" + ", ".join(f"{k!r}: {self._value(v)}" for k, v in a.items()) + "}"
        if type(a) is slice:
            if index:
                text = ":".join("" if v is None else self._value(v)
                                for v in (a.start, a.stop, a.step))
                return text[:-1] if text.endswith(":") and a.step is None else text
            return f"slice({self._value(a.start)}, {self._value(a.stop)}, {self._value(a.step)})"
        if a is Ellipsis:
            return "..."
        # a NaN's sign and payload, and a complex's -0.0 or inf, have no text that reads back
        # as the same bits: the program reads the object itself, a global
        if isinstance(a, float) and a != a or isinstance(a, complex):
            return self._global(a, "nan" if isinstance(a, float) else "complex_number")
        if isinstance(a, float) and not np.isfinite(a):
            return f"float('{a}')"
        if isinstance(a, (bool, int, float, str, type(None))):
            return repr(a)
        if isinstance(a, np.dtype):
            return _dtype_text(a)
        if isinstance(a, type) and issubclass(a, np.generic):
            return _dtype_text(np.dtype(a))
        if isinstance(a, np.generic) and a.dtype.kind in "biuf" and not (a != a):
            value = a.item()
            if isinstance(value, float) and not np.isfinite(value):
                value = f"float('{value}')"
            return f"{_dtype_text(a.dtype)}({value!r})" if not isinstance(value, str) \
                else f"{_dtype_text(a.dtype)}({value})"
        return self._global(a, a.__name__ if isinstance(a, type) else type(a).__name__.lower())

    def _arguments(self, args, kwargs) -> str:
        parts = [self._value(a) for a in args]
        for k, v in kwargs.items():
            if k == "out" and type(v) is tuple and len(v) == 1:
                v = v[0]  # out=(x,), as NumPy passes it, is out=x
            parts.append(f"{k}={self._value(v)}")
        return ", ".join(parts)

    def _line(self, call: Call) -> str:
        if call.unpack is not None:  # np.split, np.divmod: a name (or _) per result
            names = [self._names[v.number] if v is not None else "_" for v in call.unpack]
            results = ", ".join(names) + ("," if len(names) == 1 else "")
        elif len(call.results) == 1 and call.results[0].number in self._fixed:
            results = self._value(call.results[0])  # a fixed view, or the out= array itself
            if "out" in call.kwargs:
                return self._expression(call)
        else:
            results = ", ".join(self._names[v.number] for v in call.results)
        expression = self._expression(call)
        if not results:
            return expression
        if len(call.results) == 1 and call.results[0].scalar:
            # a NumPy scalar when run, a 0-d array in the trace (which wrote into it in place)
            expression = f"np.asarray({expression})"
        return f"{results} = {expression}"

    def _expression(self, call: Call) -> str:
        fn, args = call.fn, call.args
        if type(fn) is tuple:  # an ndarray method, indexing or .T
            name = fn[1]
            this = self._value(args[0])
            if name == "T":
                return f"{this}.T"
            if name == "__getitem__":
                return f"{this}[{self._value(args[1], index=True)}]"
            if name == "__setitem__":
                return f"{this}[{self._value(args[1], index=True)}] = {self._value(args[2])}"
            return f"{this}.{name}({self._arguments(args[1:], call.kwargs)})"
        if type(fn) is AccumulateGrads:
            grads = self._global(fn, "accumulate_grads")
            return f"{grads}({self._value(args[0])})  # into each parameter's .grad"
        if type(fn) is Replayed:
            return self._replayed(call)
        if type(fn) is GradOf:
            return f"{self._tensor(fn.leaf)}._grad._array"
        if type(fn) is Draw:
            gen = "" if fn.generator is None else self._value(fn.generator)
            rng = self._global(_rng(), "rng")
            return f"{rng}({gen}).{fn.method}({self._arguments(args, call.kwargs)})"
        return f"{self._function(fn)}({self._arguments(args, call.kwargs)})"

    def _replayed(self, call: Call) -> str:
        """`adam.step()` for a method, `clip_grad_norm_(...)` for a function."""
        fn, args = call.fn.fn, call.args
        name = getattr(fn, "__name__", "call")
        suffix = "._array" if call.fn.array else ""
        method = getattr(type(args[0]), name, None) if args else None
        if method is not None and (method is fn or getattr(method, "__wrapped__", None) is fn):
            this = self._global(args[0], type(args[0]).__name__.lower())
            return f"{this}.{name}({self._arguments(args[1:], call.kwargs)}){suffix}"
        return f"{self._global(fn, name)}({self._arguments(args, call.kwargs)}){suffix}"

    def _function(self, fn) -> str:
        name = getattr(fn, "__name__", None)
        if name in self._imported and _name_of(fn) == name:
            self._globals[name] = fn
            return name
        if isinstance(fn, np.ufunc):
            return f"np.{name}" if getattr(np, name, None) is fn else self._global(fn, name)
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, np.ufunc):  # np.add.reduce, np.add.at
            return f"{self._function(owner)}.{name}"
        if name is not None and getattr(np, name, None) is fn:
            return f"np.{name}"
        if name is not None and getattr(getattr(np, name, None), "__wrapped__", None) is fn:
            return f"np.{name}"  # a creator that tl.compile's trace had replaced
        module = getattr(fn, "__module__", "") or ""
        if module.startswith("numpy.") and name is not None:
            sub = module.split(".")[1]
            if getattr(getattr(np, sub, None), name, None) is fn:
                return f"np.{sub}.{name}"
        return self._global(fn, name or "function")


# source lines per compile(): its memory (the syntax tree, the compiler's tables) grows with the
# function, 3.6 MiB of peak for the 1,150 lines of the tiny LSTM's step in one piece. perf: peak
# RSS of the benchmark's compiled run with 250 rather than 500, tiny 47.4 -> 46.6 MiB, small 62.3
# -> 61.8, medium unchanged; the step's speed unchanged
COMPILE_LINES = 250


def _compiled(params: list[str], lines: list[str], local_names: set,
              namespace: dict, before: int = 0) -> Callable:
    """`step(*params)` running `lines`, compiled in pieces of COMPILE_LINES lines: each piece a
    function that takes the values alive at its start and returns those alive at its end, at
    the line numbers of the whole source, `before` lines (the import) above the function (an
    error names the line `.code` shows). perf: peak RSS
    of the benchmark's compiled run, tiny 53.5 -> 47.6 MiB, small 64.0 -> 61.9, medium 93.1 ->
    90.4; a call between pieces costs about a microsecond."""
    if len(lines) <= COMPILE_LINES:
        source = "\n" * before + f"def step({', '.join(params)}):\n" + \
            "\n".join("    " + t for t in lines)
        exec(compile(source, "<tl.compile>", "exec"), namespace)  # noqa: S102
        return namespace.pop("step")  # its globals do not hold it: no cycle
    pieces = [lines[i:i + COMPILE_LINES] for i in range(0, len(lines), COMPILE_LINES)]
    uses = [set().union(*[_names_in(t) & local_names for t in piece]) for piece in pieces]
    later = [set().union(*uses[j + 1:]) for j in range(len(pieces))]
    alive, calls, start, functions = list(params), [], before, {}
    for j, piece in enumerate(pieces):
        taken_in = [n for n in alive if n in uses[j] or n in later[j]]
        for text in piece:
            if text.startswith("del "):
                gone = {n.strip() for n in text[4:].split(",")}
                alive = [n for n in alive if n not in gone]
            elif (target := _assigned(text)) is not None:
                alive += [n for n in target if n not in alive]
        last = j == len(pieces) - 1
        given = [n for n in alive if n in later[j]] if not last else []
        body = piece + ([] if last else [f"return ({', '.join(given)}{',' if given else ''})"])
        source = "\n" * start + f"def _piece{j}({', '.join(taken_in)}):\n" + \
            "\n".join("    " + t for t in body)
        exec(compile(source, "<tl.compile>", "exec"), namespace)  # noqa: S102
        functions[f"_piece{j}"] = namespace.pop(f"_piece{j}")  # not in its own globals: no cycle
        result = "return " if last else (f"{', '.join(given)}{',' if len(given) == 1 else ''} = "
                                         if given else "")
        calls.append(f"    {result}_piece{j}({', '.join(taken_in)})")  # locals never start with _
        start += len(piece)
    driver = f"def step({', '.join(params)}):\n" + "\n".join(calls)
    exec(compile(driver, "<tl.compile pieces>", "exec"), functions)  # noqa: S102
    return functions.pop("step")


def _names_in(line: str) -> set:
    """The names a line of the program mentions (Python's tokenizer: not attributes, not what is
    inside a string)."""
    names, after_dot = set(), False
    for token in tokenize.generate_tokens(io.StringIO(line).readline):
        if token.type == tokenize.NAME and not after_dot:
            names.add(token.string)
        after_dot = token.type == tokenize.OP and token.string == "."
    return names


def _assigned(line: str) -> list[str] | None:
    """The names a line assigns (`a, b = ...`), None for any other line."""
    match = re.match(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*,?\s*=(?!=)", line)
    return [n.strip() for n in match.group(1).split(",")] if match else None


def _rng():
    from ..random import rng
    return rng


def _name_of(fn) -> str | None:
    """The name a NumPy function or ufunc is imported by (`multiply` for np.multiply), if it is
    NumPy's own under that name and shadows no builtin (`sum`, `max`, `round` stay np.sum...)."""
    name = getattr(fn, "__name__", None)
    if type(name) is not str or getattr(np, name, None) is not fn or \
            hasattr(builtins, name) or keyword.iskeyword(name) or name in _RESERVED:
        return None
    return name


def _const_name(var: Var) -> str:
    """ONE_FLOAT32 for a 0-d one, CONST7 for anything else."""
    array = var.source
    words = {0: "zero", 1: "one", 2: "two", 0.5: "half", -1: "minus_one"}
    if array.ndim == 0 and array.dtype.kind in "fiu" and array.item() in words:
        minus = "minus_" if array.item() == 0 and np.signbit(array) else ""  # -0.0
        return f"{minus}{words[array.item()]}_{array.dtype.name}"
    return f"const{var.number}"


def _dtype_text(dtype: np.dtype) -> str:
    name = dtype.name
    return f"np.{name}" if getattr(np, name, None) is not None and \
        np.dtype(getattr(np, name)) == dtype else f"np.dtype({dtype.str!r})"


def _identifier(text: str) -> str:
    text = re.sub(r"\W+", "_", str(text)).strip("_").lower() or "v"
    return "p" + text if text[0].isdigit() else text


# names the program's own text uses: a local of that name would shadow them
_RESERVED = {"np", "tensors", "step", "float", "slice", "Ellipsis", "None", "True", "False"}


def _unique(name: str, taken: set, number: int | None = None) -> str:
    """name (with its var's number), or name_2, name_3...: not taken, no keyword."""
    if number is not None:
        name = f"{name}{number}"
    candidate, k = name, 1
    while candidate in taken or keyword.iskeyword(candidate) or candidate in _RESERVED:
        k += 1
        candidate = f"{name}_{k}"
    taken.add(candidate)
    return candidate
