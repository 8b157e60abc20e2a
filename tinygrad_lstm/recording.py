"""What every op reads and writes while it records: the grad mode, the count that orders graph
nodes and in-place changes, and the version of each block of memory.

Below Tensor: this module imports nothing from the package, so tensor.py can import it first.
"""

import functools
import itertools
import threading
import weakref

import numpy as np


class _GradState:
    """Read by every op. An instance with slots, not class attributes: writing a class
    attribute (as scopes and in-place marks do often) would invalidate CPython's attribute
    caches for every later read."""

    __slots__ = ("grad_enabled", "anomaly", "last_inplace", "scope", "rebased",
                 "differentiating", "tracer")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.last_inplace = 0  # mark of the last in-place op; nodes recorded after it need no check
        self.scope = ()  # labels of the modules (str) and time steps (int) the current op is in
        self.rebased = False  # a recorded in-place op has happened: views may need new history
        self.differentiating = False  # backward(create_graph=True) runs VJPs on Tensors
        self.tracer = None  # tl.compile's recorder of the current run (jit/capture.py)


_state = _GradState()
_TRACER_SLOT = _GradState.tracer  # the slot's own descriptor


class _TracingState(_GradState):
    """_state's class while tl.compile traces a call: `tracer` is the tracer in the thread that
    traces, None in every other thread, whose tensor code then runs as it would untraced. (Only
    then: the property costs an op about 40 ns, which the slot does not.)"""

    __slots__ = ()

    @property
    def tracer(self):
        tracer = _TRACER_SLOT.__get__(self)
        return tracer if tracer is None or tracer.thread == threading.get_ident() else None

    @tracer.setter
    def tracer(self, value) -> None:
        _TRACER_SLOT.__set__(self, value)


def set_tracer(tracer) -> None:
    """Trace this thread's calls with `tracer` (its `thread` is set to this thread), or, with
    None, no thread's."""
    if tracer is None:
        _state.__class__ = _GradState
        _state.tracer = None
    else:
        tracer.thread = threading.get_ident()
        _state.tracer = tracer
        _state.__class__ = _TracingState


# node sequence numbers and in-place marks share one increasing count, so "recorded before this
# in-place change" is a comparison of two numbers
_sequence = itertools.count(1)

# id(root array) -> (weakref to it, seq at its last in-place change, number of changes).
# Keyed by the array that owns the memory, so every view of it shares one version counter.
_modified = {}


def same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements of the same memory (two array objects over it: a tl.compile trace puts
    its own over a tensor's memory while it runs)."""
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _entry(root: np.ndarray):
    """The entry of the array that owns the memory, or None (also when its id was reused)."""
    entry = _modified.get(id(root))
    return entry if entry is not None and entry[0]() is root else None


def note_inplace(array: np.ndarray) -> None:
    """Record an in-place change of `array`, so backward can refuse stale saved arrays."""
    mark = _state.last_inplace = next(_sequence)  # nodes with a smaller seq saw the old values
    root = _root(array)
    key, entry = id(root), _entry(root)
    if entry is not None:  # an optimizer's update: every step, the same array and weakref
        _modified[key] = (entry[0], mark, entry[2] + 1)
    else:
        _modified[key] = (weakref.ref(root, lambda _, key=key: _modified.pop(key, None)), mark, 1)


def version_of(array: np.ndarray) -> int:
    """How many in-place changes the memory of `array` has seen (PyTorch's `_version`)."""
    entry = _entry(_root(array))
    return 0 if entry is None else entry[2]


def _modified_since(array: np.ndarray, seq: int) -> bool:
    entry = _entry(_root(array))
    return entry is not None and entry[1] > seq


def replayed_as_call(fn):
    """Under tl.compile, a call of fn is kept as a call in the program and run for real at each
    replay, not traced inside: for code whose Python-side state changes every call (an
    optimizer's step count, a scheduler's learning rate, a random generator)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tracer = _state.tracer
        if tracer is None:
            return fn(*args, **kwargs)
        return tracer.call(fn, args, kwargs)
    wrapper.replayed_as_call = True
    return wrapper


def read_array(t):
    """t's array, for code that reads it outside any op (an index check, class weights):
    under tl.compile it is first made a value of the trace, so a tensor made before the call
    is an input read at every replay, not a constant of the program."""
    if _state.tracer is not None:
        _state.tracer.know(t)
    return t._array


def model_changed(what: str) -> None:
    """A module's attribute was assigned or the default dtype set: inside a call tl.compile
    traces, a Python side effect a program would not repeat, so that call stays eager. (Out
    of one, a module's own version tells its programs; the default dtype is in their key.)"""
    if _state.tracer is not None:
        _state.tracer.changes_model(what)


def one_call(fn):
    """Under tl.compile, fn (arrays in, one new array out, its values read only in Python
    inside) is one call of the program, as a NumPy function is: for elementwise maps NumPy
    lacks (math.erf)."""
    @functools.wraps(fn)
    def wrapper(*arrays):
        tracer = _state.tracer
        return fn(*arrays) if tracer is None else tracer.one_call(fn, arrays)
    return wrapper


class Identity:
    """An object compared by identity, and held, so that its id is not given to another while
    it is kept: in a tl.compile signature (an unhashable argument) or a guard's answer (a
    parameter group's tensor)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other) -> bool:
        return type(other) is Identity and other.value is self.value


# nn's Module class, which nn registers here: the engine (tl.compile) asks whether an object is
# a module without importing nn, which is built on it
_module_class: type | None = None


def register_module_class(cls: type) -> None:
    global _module_class
    _module_class = cls


def is_module(obj) -> bool:
    return _module_class is not None and isinstance(obj, _module_class)


def guard_on_result(fn):
    """Under tl.compile, fn (a Python answer about tensors made before the call: is this mask
    the causal one?) runs for real, and the program holds only while it gives the same answer
    again, checked before each replay."""
    @functools.wraps(fn)
    def wrapper(*args):
        tracer = _state.tracer
        return fn(*args) if tracer is None else tracer.guard_on_result(fn, args)
    return wrapper


def replay_as_calls(cls: type, *names: str) -> None:
    """Make the methods `names` that `cls` itself defines `replayed_as_call`."""
    for name in names:
        method = cls.__dict__.get(name)
        if method is not None and not getattr(method, "replayed_as_call", False):
            setattr(cls, name, replayed_as_call(method))
