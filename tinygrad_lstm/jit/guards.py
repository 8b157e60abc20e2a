"""What a program assumes beyond its inputs' shapes, and the checks that it still holds.

A traced call reads Python values the tape only keeps as constants: a closure's float, a global
list turned into a tensor, a global tensor or module, a trainer's `self.alpha`. `PythonReads`
lists them while tracing (the globals the code of fn and of the user's functions it calls
loads, the attributes the user's methods load from `self`, and fn's closure cells) and checks
at each replay that they are the same: numbers and strings by value, small arrays by their
bytes, short lists, tuples and dicts by their items, anything else by identity. Not seen:
values read through other objects (`config.lr` where `config` is no `self`), changes inside a
global array of more than 4096 elements. Under a profiler (sys.setprofile is taken) the calls
are followed with sys.settrace; when that is taken too, only the functions fn names are read,
without running them. Module attributes assigned are covered by
`recording.model_changed` too.
"""

from __future__ import annotations

import dis
import functools
import struct
import sys
import sysconfig
import types

import numpy as np

from ..tensor import Tensor

_SCALARS = (int, float, bool, str, complex, type(None))
_ARRAY_BY_VALUE = 4096  # elements: a larger global array is guarded by identity only
_MISSING = object()


def number_bits(v):
    """A Python number as compared: a float or complex by its bits (-0.0 is not 0.0, and a NaN's
    sign and payload count, which float.hex() and == both lose), anything else as it is."""
    if type(v) is float:
        return struct.pack("<d", v)
    if type(v) is complex:
        return struct.pack("<dd", v.real, v.imag)
    return v


def same_answer(a, b) -> bool:
    """A guard's answer again: numbers and arrays to the bit (-0.0 is not 0.0, a NaN is
    itself), through lists, tuples and dicts; an answer that cannot be compared is another."""
    if type(a) is not type(b):
        return False
    if type(a) in (float, complex):
        return number_bits(a) == number_bits(b)
    if isinstance(a, Tensor):
        a, b = a._array, b._array
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_answer(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_answer(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 (an answer of a kind == does not decide: not the same)
        return False


def _value(v):
    """What is compared: a number by type and bits (-0.0 is not 0.0, nan is nan), a small array
    by its bytes, a short list, tuple or dict by its items (and identity), anything else by
    identity."""
    if type(v) in _SCALARS:
        return (type(v), number_bits(v))
    if isinstance(v, np.generic) and v.ndim == 0:
        return (type(v), v.tobytes())
    if type(v) is np.ndarray and v.size <= _ARRAY_BY_VALUE:  # a small global array: the
        return (None, v, v.dtype, v.shape, v.tobytes())  # program may hold its values
    if type(v) in (list, tuple) and len(v) <= 64:  # a list of modules grown in place (a
        # tuple, which cannot be, by its items alone: `self.shape = tuple(x.shape)` again)
        return (type(v), id(v) if type(v) is list else None, None, tuple(_value(x) for x in v))
    if type(v) is dict and len(v) <= 64:  # a config dict
        return (dict, id(v), tuple(v), tuple(_value(x) for x in v.values()))
    return (None, v)


def _unchanged(a, b) -> bool:
    """An attribute assigned again: the same object, or an equal number, string, or tuple of
    them (`self.batch_size = len(x)` at every call is no change, as for a module)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in _SCALARS:
        return number_bits(a) == number_bits(b)
    return type(a) is tuple and len(a) == len(b) and all(map(_unchanged, a, b))


def _same(a, b) -> bool:
    if a[0] is None or b[0] is None:
        return a[1] is b[1] and a[2:] == b[2:]
    if a[0] in (list, tuple, dict):
        return a[:3] == b[:3] and len(a[3]) == len(b[3]) and \
            all(_same(x, y) for x, y in zip(a[3], b[3]))
    return a == b


class PythonReads:
    """The globals and closure cells a traced call could read, with their values then."""

    def __init__(self, fn, mark_module=None) -> None:
        self._codes: set = set()
        self._selves: set = set()
        self._places: list = []  # (dict or cell, name or None)
        self._skip = _library_dirs()
        self._mark_module = mark_module  # a module whose method ran: its attributes are guarded
        self._before: dict = {}  # id(obj) -> (obj, its attributes when its method first ran)
        self._closures(fn, depth=3)
        self.values: list = []
        self.assigned: list[tuple] = []  # (obj, name): attributes the call assigned

    def _closures(self, fn, depth: int) -> None:
        """fn's closure cells, and those of the functions in them (a decorator's wrapper
        holds the function it wraps in a cell)."""
        fn = getattr(fn, "__func__", fn)
        code = getattr(fn, "__code__", None)
        if code is None or code in self._codes:
            return
        self._see(code, fn.__globals__)
        for cell in fn.__closure__ or ():
            self._places.append((cell, None))
            inner = _read((cell, None))
            if depth > 1 and callable(inner):
                self._closures(inner, depth - 1)

    def _see(self, code, namespace: dict) -> None:
        if code in self._codes:
            return
        self._codes.add(code)
        if code.co_filename.startswith(self._skip):
            return
        self._places += [(namespace, n) for n in _globals_loaded(code) if n in namespace]

    def _hook(self, frame, event: str, arg) -> None:
        # (inside a replayed call too, a user's optimizer step: what it reads may flow back into
        # the function, through its result or a global it sets)
        if event != "call":
            return
        code = frame.f_code
        self._see(code, frame.f_globals)
        if code.co_argcount and code.co_varnames[0] == "self" and \
                not code.co_filename.startswith(self._skip):
            self._see_self(frame.f_locals.get("self"), code)

    def _see_self(self, obj, code) -> None:
        """A method of the user's object ran (a trainer's step, a model's own loss): the
        attributes its code loads are guarded as globals are."""
        try:
            attributes = getattr(obj, "__dict__", None)
        except Exception:  # noqa: BLE001 (a __getattr__ that raises KeyError: no attributes)
            return
        if attributes is None or (id(obj), code) in self._selves:
            return
        self._selves.add((id(obj), code))
        self._places += [(attributes, n) for n in _attributes_loaded(code) if n in attributes]
        if self._mark_module is not None and "training" in attributes and self._mark_module(obj):
            return  # a module: its assignments are seen as they are made (Module._changed)
        if id(obj) not in self._before and code.co_name != "__init__":  # (one made in the call)
            self._before[id(obj)] = (obj, dict(attributes))  # to see what the call assigns

    def _static(self, depth: int = 3) -> None:
        """Under a profiler and a debugger (sys.setprofile and sys.settrace taken): the
        functions the places found so far name, found without running them, `depth` deep."""
        for where, name in list(self._places):
            value = _read((where, name)) if name is not None else None
            if depth > 0 and isinstance(value, types.FunctionType) and \
                    value.__code__ not in self._codes:
                self._closures(value, depth=1)
                self._static(depth - 1)

    def _trace_hook(self, frame, event: str, arg):
        self._hook(frame, event, arg)  # no local tracing: None

    def __enter__(self) -> PythonReads:
        # a profiler (cProfile) owns sys.setprofile: then sys.settrace, unless a debugger or
        # coverage owns that too, and then only what fn names, without running it
        self._via = "profile" if sys.getprofile() is None else \
            "trace" if sys.gettrace() is None else "static"
        if self._via == "profile":
            sys.setprofile(self._hook)
        elif self._via == "trace":
            sys.settrace(self._trace_hook)
        else:
            self._static()
        return self

    def __exit__(self, *exc) -> None:
        if self._via == "profile":
            sys.setprofile(None)
        elif self._via == "trace":
            sys.settrace(None)
        self._seen = [_read(place) for place in self._places]
        self.values = [_value(v) for v in self._seen]
        for obj, before in self._before.values():  # `self.last = loss`: a replay would not
            now = vars(obj)
            self.assigned += [(obj, name) for name in sorted({*before, *now})
                              if not _unchanged(before.get(name, _MISSING),
                                                now.get(name, _MISSING))]

    def hold(self) -> bool:
        """The same values as at the end of the traced call."""
        for place, seen, value in zip(self._places, self._seen, self.values):
            now = _read(place)
            # perf: the same object, unless its contents may have changed
            if now is seen and type(now) not in (list, tuple, dict, np.ndarray):
                continue
            if not _same(_value(now), value):
                return False
        return True

    def difference(self, other: PythonReads) -> str | None:
        """The first value two traced calls saw differently (a global the function changes)."""
        seen = {(id(w), n): v for (w, n), v in zip(other._places, other.values)}
        for (where, name), a in zip(self._places, self.values):
            b = seen.get((id(where), name), a)
            if not _same(a, b):
                return f"the Python value {name or 'of a closure variable'!r} differs"
        return None


_LOADS = {"LOAD_GLOBAL", "LOAD_NAME", "DELETE_GLOBAL", "STORE_GLOBAL"}


@functools.lru_cache(maxsize=1024)
def _globals_loaded(code) -> tuple[str, ...]:
    """The global names code reads (not its attribute names, which co_names has too: a loop
    variable `step` is not `opt.step`), with those of the functions and classes defined in it."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in _LOADS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_globals_loaded(const))
    return tuple(sorted(names))


@functools.lru_cache(maxsize=1024)
def _attributes_loaded(code) -> tuple[str, ...]:
    """The attribute names code loads (`self.beta`, `self.opt.step`)."""
    return tuple(sorted({i.argval for i in dis.get_instructions(code)
                         if i.opname in ("LOAD_ATTR", "LOAD_METHOD")}))


def _read(place):
    where, name = place
    if name is None:
        try:
            return where.cell_contents
        except ValueError:  # an empty cell
            return _MISSING
    return where.get(name, _MISSING)


def _library_dirs() -> tuple[str, ...]:
    """Code whose globals are not the user's: this package, NumPy, the standard library."""
    import tinygrad_lstm as package
    dirs = [m.__file__.rsplit("/", 1)[0] + "/" for m in (package, package.nn, package.optim, np)]
    dirs += [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    return (*dirs, "<frozen")

