"""Writing down the NumPy calls of one run: `Traced` arrays and the `Tracer` that names them.

While a Tracer is active, the arrays inside Tensors are `Traced`: an ndarray subclass whose
ufuncs, NumPy functions, methods and indexing go through `_record`, which runs the real call on
plain arrays and appends a `Call` to the tape (what was called, on which values, what came
out). Values are `Var`s: numbered, each made by one call, a tape input, or a constant. The
program a tape becomes (program.py) is these calls, in this order, on the same kinds of values.

Everything that would make a replay differ from a new run is caught here, never guessed:
a value read into Python (`bool(x)`, `x.item()`: a branch may depend on it), an array view
made by a method this module does not know, a write into an array it cannot name.
"""

from __future__ import annotations

import threading
import traceback
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..recording import same_layout, set_tracer


class NotTraceable(Exception):
    """The run cannot become a program; the message says why (shown by `explain()`)."""


@dataclass(eq=False, slots=True)  # slots: a traced step makes thousands (memory)
class Var:
    """One value of the program: made by a call of the tape, an input, or a constant."""
    number: int
    kind: str  # "op" (a call's result), "input", "const"
    source: object = None  # op: the index of its call; input: where from; const: the array
    label: str = ""  # a hint for its name in the program: an op or parameter name
    written: bool = False  # a const written in place: the program starts from a copy
    shape: tuple = ()  # of an op's result
    dtype: object = None
    c_contiguous: bool = False  # its memory layout in the trace (a replay makes the same)
    scalar: bool = False  # a NumPy scalar when run: the trace holds it as a 0-d array


@dataclass(eq=False, slots=True)
class Call:
    """fn(*args, **kwargs) -> results; args hold Vars where arrays were."""
    fn: object  # a NumPy function or ufunc, a method name ("method", name), or a Python callable
    args: tuple
    kwargs: dict
    results: tuple  # the Vars it made (empty for a call that only writes)
    scope: tuple = ()  # the module names and time steps it ran in
    op: str = ""  # the primitive (or VJP) it belongs to
    writes: tuple = field(default=())  # Vars it wrote in place (out=, x[i] = ..., fill)
    unpack: tuple | None = None  # a call that returns several: its Vars (None: not an array)


class Traced(np.ndarray):
    """An ndarray that records what is done to it while its tracer runs (and is an ordinary
    array otherwise, as after the trace)."""

    __array_priority__ = 100.0
    numpy_scalar = False  # a NumPy scalar when run eagerly: it promotes as one (dtypes.py)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return _record(fn, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _record(func, args, kwargs)

    def __getitem__(self, index):
        return _record(("method", "__getitem__"), (self, index), {})

    def __setitem__(self, index, value) -> None:
        _record(("method", "__setitem__"), (self, index, value), {})

    T = property(lambda self: _record(("method", "T"), (self,), {}))

    def __bool__(self):
        return _value_read(self, "bool")

    def __float__(self):
        return _value_read(self, "float")

    def __int__(self):
        return _value_read(self, "int")

    def __index__(self):
        return _value_read(self, "index")

    def __complex__(self):
        return _value_read(self, "complex")

    def item(self, *args):
        return _value_read(self, "item", *args)

    def tolist(self):
        return _value_read(self, "tolist")

    def tobytes(self, order="C"):
        return _value_read(self, "tobytes", order)

    def __iter__(self):  # rows, as indexing: their number is the shape's
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return _value_read(self, "__repr__")

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _value_read(self, "__format__", spec)

    def __reduce_ex__(self, protocol):  # pickled (torch.save inside the function)
        return _value_read(self, "__reduce_ex__", protocol)


def _as_method(name: str):
    def method(self, *args, **kwargs):
        return _record(("method", name), (self, *args), kwargs)
    method.__name__ = name
    return method


# the ndarray methods that make views or do not go through a ufunc or NumPy function
for _name in ("reshape", "transpose", "swapaxes", "ravel", "flatten", "squeeze", "astype",
              "copy", "view", "sum", "mean", "max", "min", "argmax", "argmin", "prod", "any",
              "all", "fill", "clip", "dot", "cumsum", "cumprod", "take", "repeat", "nonzero",
              "sort", "argsort", "round", "std", "var", "conj", "diagonal", "put",
              "__copy__", "__deepcopy__", "__array__"):
    setattr(Traced, _name, _as_method(_name))


def _plain(a):
    """The ndarray view of a Traced array (everything else as it is), through lists and tuples."""
    if isinstance(a, Traced):
        return np.ndarray.view(a, np.ndarray)
    if type(a) in (tuple, list):
        return type(a)(_plain(x) for x in a)
    return a


def _value_read(array: Traced, how: str, *args):
    """A Python value read out of an array: the run may branch on it, so no program is made."""
    tracer = active()
    if tracer is not None:
        tracer.refuse(f"a tensor's value is read into Python ({how}) at {_user_frame()}; a "
                      f"branch on it would not be replayed")
    how = {"bool": "__bool__", "float": "__float__", "int": "__int__", "index": "__index__",
           "complex": "__complex__"}.get(how, how)
    return getattr(np.ndarray, how)(np.ndarray.view(array, np.ndarray), *args)


def _user_frame() -> str:
    """'file:line: code' of the innermost frame outside the package and NumPy, and the
    innermost library function on the way there ("in layer_norm")."""
    import tinygrad_lstm as package  # its nn and optim live beside it, not inside
    package = tuple(m.__file__.rsplit("/", 1)[0] + "/"
                    for m in (package, package.nn, package.optim))
    jit, numpy_dir = __file__.rsplit("/", 1)[0], np.__file__.rsplit("/", 1)[0]
    inside = None
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not frame.filename.startswith((*package, numpy_dir)):
            where = f"{frame.filename}:{frame.lineno}: {frame.line}"
            return where if inside is None else f"{where} (in {inside})"
        if inside is None and not frame.filename.startswith((jit, numpy_dir)):
            inside = frame.name
    return "<unknown>"


_tracer = None  # the Tracer that records NumPy calls now (None while paused or not tracing)


def active() -> Tracer | None:
    """The tracer, if this thread is the one it traces (another thread's code runs untraced)."""
    tracer = _tracer
    return tracer if tracer is not None and tracer.thread == threading.get_ident() else None


def _record(fn, args: tuple, kwargs: dict):
    """Run fn on plain arrays; while tracing, append it to the tape and return Traced results."""
    if type(fn) is tuple:  # a method: the bound ndarray method of the plain view
        method = getattr(np.ndarray, fn[1])
        call = (lambda *a, **k: method.__get__(a[0])(*a[1:], **k)) if fn[1] != "T" else \
            (lambda a: a.T)
    else:
        call = fn
    plain_args, plain_kwargs = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
    tracer = active()
    if tracer is None:
        return _returned_out(call(*plain_args, **plain_kwargs), kwargs)
    if _value_shaped(fn, args):
        tracer.refuse("a boolean mask index of a value of the run (x[mask]), or nonzero, "
                      "unique and the like: the result's length depends on the values, which a "
                      "replay would not follow")
    with _inside_numpy():  # what NumPy calls to do it (np.broadcast_to's np.array) is its own
        result = call(*plain_args, **plain_kwargs)
    if type(fn) is tuple and plain_args and result is plain_args[0]:
        return args[0]  # the array itself (astype to its own dtype, copy=False): no call
    return tracer.record(fn, args, kwargs, result)


# NumPy functions whose result's shape depends on the values of their arguments
_VALUE_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress, np.extract,
                 ("method", "nonzero")}


def _value_shaped(fn, args: tuple) -> bool:
    """fn(*args) has a shape that depends on the values of a value of the run: a boolean mask
    index that is one (a constant mask is the same at every replay), np.nonzero and the like,
    np.where with one argument."""
    if fn == ("method", "__getitem__"):
        index = args[1] if type(args[1]) in (tuple, list) else (args[1],)
        return any(isinstance(i, Traced) and i.dtype == bool for i in index)
    return fn in _VALUE_SHAPED or (fn is np.where and len(args) == 1)


class _inside_numpy:
    def __enter__(self) -> None:
        global _tracer
        self.tracer, _tracer = _tracer, None

    def __exit__(self, *exc) -> None:
        global _tracer
        _tracer = self.tracer


def _returned_out(result, kwargs):
    """A ufunc given out= returns that array: hand back the caller's object, not our view."""
    out = kwargs.get("out")
    if out is None:
        return result
    out = out if type(out) is tuple else (out,)
    if type(result) is tuple:
        return tuple(o if o is not None else r for o, r in zip(out, result))
    return out[0]


class Tracer:
    """The tape of one run, and the names of its values."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()  # the one it traces (start() sets it again)
        self.tape: list[Call] = []
        self.vars: list[Var] = []
        # id(array) -> Var for every live array the tape knows; an entry goes when its array
        # does (a weakref's callback), before the id can be reused: the tracer keeps no array
        # alive, so a traced call needs no more memory than an eager one
        self._by_id: dict[int, Var] = {}
        self._refs: dict[int, _Ref] = {}
        self.refusals: list[str] = []
        self.op = ""  # the primitive (or VJP) running now, for the program's comments
        self.scope: tuple = ()

    # ------------------------------------------------------------ values

    def new_var(self, kind: str, source=None, label: str = "") -> Var:
        var = Var(len(self.vars), kind, source, label)
        self.vars.append(var)
        return var

    def name(self, array: np.ndarray, var: Var) -> None:
        key = id(array)
        self._by_id[key] = var
        self._refs[key] = _Ref(array, self._forget, key)

    def _forget(self, ref: _Ref) -> None:
        if self._refs.get(ref.key) is ref:  # not a newer array that took the id since
            del self._by_id[ref.key], self._refs[ref.key]

    def forget_arrays(self) -> None:
        """Drop the weakrefs to the arrays once the traced call is over: their callbacks hold
        the tracer, so a parameter's array would keep the whole tape alive until a garbage
        collection."""
        self._by_id.clear()
        self._refs.clear()

    def var_of(self, array: np.ndarray) -> Var | None:
        """The Var an array is, following views that cover a known array exactly (what
        np.asarray of a Traced array gives); None for an array the tape has never seen."""
        var = self._by_id.get(id(array))
        if var is not None:
            return var
        base = array.base
        while isinstance(base, np.ndarray):
            known = self._by_id.get(id(base))
            if known is not None and same_layout(array, base):
                self.name(array, known)
                return known
            base = base.base
        return None

    def traced(self, array: np.ndarray, var: Var) -> Traced:
        """`array` as a Traced view named `var`."""
        t = np.ndarray.view(array, Traced)
        self.name(t, var)
        return t

    def _describe(self, a, writing: bool = False):
        """An argument as the tape keeps it: Vars for arrays, everything else as it is."""
        if isinstance(a, np.ndarray):
            var = self.var_of(a)
            if var is None:
                if isinstance(a, Traced):
                    self.refuse(f"an array view made by an ndarray method the compiler does not "
                                f"trace, used by {self.op or 'the function'}")
                    return a
                if writing:
                    self.refuse(f"{self.op or 'the function'} writes into an array of shape "
                                f"{a.shape} that did not come from a tensor the compiler knows")
                var = self.new_var("const", a.copy())
                self.name(a, var)
            if writing:
                var.written = True
            return var
        if type(a) in (tuple, list):
            return type(a)(self._describe(x, writing) for x in a)
        if type(a) is dict:
            return {k: self._describe(v, writing) for k, v in a.items()}
        return a

    # ------------------------------------------------------------ calls

    def record(self, fn, args: tuple, kwargs: dict, result):
        """Append fn(*args, **kwargs) -> result to the tape; the results come back Traced."""
        out = kwargs.get("out")
        writes = ()
        if (fn[1] if type(fn) is tuple else getattr(fn, "__name__", None)) in _WRITE_FIRST:
            writes = (self._describe(args[0], writing=True),)
        if out is not None:
            writes = tuple(v for v in self._describe(out if type(out) is tuple else (out,),
                                                     writing=True) if isinstance(v, Var))
        described_args = tuple(self._describe(a) for a in args)
        described_kwargs = {k: self._describe(v, writing=k == "out") for k, v in kwargs.items()}
        if out is not None:
            result = _returned_out(result, kwargs)
            call = Call(fn, described_args, described_kwargs, (), self.scope, self.op, writes)
            self.tape.append(call)
            return result
        if getattr(fn, "__name__", None) in _METADATA:
            return result  # the same in every run: shapes, dtypes, memory layout
        several = type(result) in (tuple, list)  # np.split gives a list
        results, wrapped = [], []
        for r in (result if several else (result,)):
            if isinstance(r, np.ndarray):
                var = self.new_var("op", len(self.tape), self.op)
                var.shape, var.dtype, var.c_contiguous = r.shape, r.dtype, r.flags.c_contiguous
                results.append(var)
                wrapped.append(self.traced(r, var))
            elif r is None:
                wrapped.append(None)
            elif isinstance(r, np.generic):  # a reduction over everything: a 0-d array here
                var = self.new_var("op", len(self.tape), self.op)
                var.shape, var.dtype, var.c_contiguous, var.scalar = (), r.dtype, True, True
                results.append(var)
                scalar = self.traced(_originals["asarray"](r), var)
                scalar.numpy_scalar = True
                wrapped.append(scalar)
            else:  # a Python number computed from values (np.count_nonzero, np.allclose)
                self.refuse(f"{getattr(fn, '__name__', fn)} returns a Python value computed "
                            f"from the arrays, at {_user_frame()}")
                return result
        unpack = None
        if several:
            unpack = tuple(None if w is None else self._by_id[id(w)] for w in wrapped)
        self.tape.append(Call(fn, described_args, described_kwargs, tuple(results), self.scope,
                              self.op, writes, unpack))
        if result is None:
            return None
        return type(result)(wrapped) if several else wrapped[0]

    def one_call(self, fn, arrays: tuple):
        """fn(*arrays), run on plain arrays and recorded as one call (recording.one_call)."""
        return _record(fn, arrays, {})

    def refuse(self, reason: str) -> None:
        if reason not in self.refusals:
            self.refusals.append(reason)


# functions whose results depend only on shapes, dtypes and layout
_METADATA = {"shape", "ndim", "size", "result_type", "min_scalar_type", "can_cast",
             "iscomplexobj", "isrealobj", "may_share_memory", "shares_memory", "broadcast_shapes"}

# calls that write into their first argument (besides out=)
_WRITE_FIRST = {"__setitem__", "fill", "put", "sort", "at", "copyto", "place", "putmask",
                "fill_diagonal", "put_along_axis"}


class _Ref(weakref.ref):
    """A weak reference that knows the id it stands for."""

    __slots__ = ("key",)

    def __new__(cls, obj, callback, key: int):
        return super().__new__(cls, obj, callback)

    def __init__(self, obj, callback, key: int) -> None:
        super().__init__(obj, callback)
        self.key = key


# ------------------------------------------------------------ NumPy's non-dispatching functions

# These make arrays without an array argument, or convert without __array_function__, so a
# Traced argument does not see them: during a trace they are replaced by recording versions.
_CREATORS = ("empty", "zeros", "ones", "full", "arange", "eye", "identity", "array",
             "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "empty_like",
             "zeros_like", "ones_like", "full_like")
_originals = {name: getattr(np, name) for name in _CREATORS}


def _recording_creator(name: str):
    original = _originals[name]

    def create(*args, **kwargs):
        tracer = active()
        if tracer is None:
            return original(*args, **kwargs)
        with _inside_numpy():
            result = original(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        if not isinstance(result, np.ndarray):
            return result
        if name in ("asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "array") \
                and args and isinstance(args[0], np.ndarray) and tracer.var_of(args[0]) \
                is not None and _shares(result, args[0]):
            if not isinstance(args[0], Traced):
                return result
            if args[0].numpy_scalar:  # np.asarray(a NumPy scalar) is a 0-d array from here on
                return tracer.traced(_plain(args[0]), tracer.var_of(args[0]))
            return args[0]  # no copy: the same value
        return tracer.record(original, args, kwargs, result)

    create.__name__ = name
    create.__wrapped__ = original
    return create


def _shares(a: np.ndarray, b: np.ndarray) -> bool:
    return same_layout(a, b) or (a.base is not None and (a.base is b or a.base is b.base))


_recording = {name: _recording_creator(name) for name in _CREATORS}


def start(tracer: Tracer) -> None:
    global _tracer
    _tracer = tracer
    set_tracer(tracer)  # tracer.thread: this one; another thread's code runs untraced
    for name, fn in _recording.items():
        setattr(np, name, fn)


def stop() -> None:
    global _tracer
    _tracer = None
    set_tracer(None)
    for name, fn in _originals.items():
        setattr(np, name, fn)


class paused:
    """Run Python-side code (an optimizer's step) for real, unrecorded."""

    def __enter__(self) -> None:
        self.tracer = _tracer
        if self.tracer is not None:
            stop()

    def __exit__(self, *exc) -> None:
        if self.tracer is not None:
            start(self.tracer)
