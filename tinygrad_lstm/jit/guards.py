"""What a program assumes beyond its inputs' shapes, and the checks that it still holds.

A traced call reads Python values the tape only keeps as constants: a closure's float, a global
list turned into a tensor, a global tensor or module. `PythonReads` lists them while tracing
(every global named by the code of fn and of the user's functions it calls, and fn's closure
cells) and checks at each replay that they are the same: numbers, strings and short
lists/tuples of them by value, anything else by identity. Values read through other objects
(`config.lr`) are not seen, nor changes inside a global array of more than 4096 elements;
module attributes are covered by `recording.model_changed`.
"""

from __future__ import annotations

import dis
import functools
import sys
import sysconfig
import types

import numpy as np

_SCALARS = (int, float, bool, str, complex, type(None))
_ARRAY_BY_VALUE = 4096  # elements: a larger global array is guarded by identity only
_MISSING = object()


def _value(v):
    """What is compared: a number by type and bits (-0.0 is not 0.0, nan is nan), a short
    list of numbers by its items, a small array by its bytes, anything else by identity."""
    if type(v) in _SCALARS:
        return (type(v), v.hex() if type(v) is float else v)
    if isinstance(v, np.generic) and v.ndim == 0:
        return (type(v), v.tobytes())
    if type(v) is np.ndarray and v.size <= _ARRAY_BY_VALUE:  # a small global array: the
        return (None, v, v.dtype, v.shape, v.tobytes())  # program may hold its values
    if type(v) in (list, tuple) and len(v) <= 64 and all(type(x) in _SCALARS for x in v):
        return (type(v), id(v), tuple(_value(x) for x in v))
    return (None, v)


def _same(a, b) -> bool:
    if a[0] is None or b[0] is None:
        return a[1] is b[1] and a[2:] == b[2:]
    return a == b


class PythonReads:
    """The globals and closure cells a traced call could read, with their values then."""

    def __init__(self, fn) -> None:
        self._codes: set = set()
        self._places: list = []  # (dict or cell, name or None)
        self._skip = _library_dirs()
        self._closures(fn, depth=3)
        self.values: list = []

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
        if event == "call":
            self._see(frame.f_code, frame.f_globals)

    def __enter__(self) -> PythonReads:
        self._outer = sys.getprofile()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(self._outer)
        self._seen = [_read(place) for place in self._places]
        self.values = [_value(v) for v in self._seen]

    def hold(self) -> bool:
        """The same values as at the end of the traced call."""
        for place, seen, value in zip(self._places, self._seen, self.values):
            now = _read(place)
            if now is seen and type(now) not in (list, np.ndarray):  # perf: the same object
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

