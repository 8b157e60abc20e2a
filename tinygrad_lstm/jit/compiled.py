"""`compile(fn)`: run fn eagerly, write down what it does, then replay that as a program.

Per guard key (the shapes, dtypes, memory layout, requires_grad and aliasing of the tensor
and array arguments, the other arguments' values, the grad mode, the default dtype):
    call 1: eager (a warm-up: optimizers make their state, lazy things happen once)
    call 2: eager, traced
    call 3: eager, traced again; if both tapes are the same program, it is built
    call 4+: the program runs while its guards hold: the modules it called are in the same
             train/eval mode, no attribute of them was assigned since (their versions), the
             tensors it reads have the same shapes, dtypes and requires_grad, and the Python
             globals and closure values it read are the same (guards.PythonReads);
             otherwise it is traced again
Tapes that differ (a tensor made from changing Python data, a Python branch that went the
other way) or a run that cannot be a program (a value read into Python, a hook inside
backward) leave that key eager for good, with the reason in `explain()`.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable

import numpy as np

from ..composites import ValuesIndices
from ..dtypes import default_float
from ..recording import Identity, _state, is_module
from ..tensor import Tensor
from .capture import ArgumentAt, Capture, _same_objects
from .guards import PythonReads, number_bits, same_answer
from .program import Program
from .trace import NotTraceable, Traced, Var, start, stop

CACHE_SIZE_LIMIT = 8  # programs per function, as torch._dynamo.config.cache_size_limit
TRACE_LIMIT = 6  # traced calls of one signature without a program before it stays eager
_VALUE_ERRORS = (IndexError, ValueError, FloatingPointError)  # a replay's, named with its line
_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: str = "inductor", mode: str | None = None, options: dict | None = None,
            disable: bool = False):
    """torch.compile's signature: `compile(fn)`, `@compile`, `@compile(fullgraph=True)`.

    The first calls of each input signature run eagerly and are traced; later ones run the
    generated NumPy program (`.code`). `fullgraph=True` raises where a fallback to eager would
    happen. Shapes are always specialised: `dynamic=True` is refused, not ignored.
    """
    if dynamic:
        raise NotImplementedError("compile: dynamic=True (shapes as symbols) is not supported; "
                                  "every new shape gets its own program (dynamic=None or False)")
    if mode not in _MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; expected one of {_MODES[1:]}")
    if backend not in ("inductor", "eager"):
        raise ValueError(f"compile: unknown backend {backend!r}: the program is NumPy code "
                         f"('inductor', the default), or 'eager' to run fn as it is")
    if options:
        raise ValueError(f"compile: options are not supported, got {sorted(options)}")

    def wrap(fn):
        return CompiledFunction(fn, fullgraph=fullgraph, disable=disable or backend == "eager")
    return wrap if model is None else wrap(model)


_TRACING = threading.Lock()  # held by the one call being traced, in any thread

# CompiledFunction's own attributes (any other is the compiled function's or module's)
_OWN = {"_fn", "fullgraph", "disable", "_entries", "_log", "_last", "_free", "_arg_names",
        "_attribute", "_bound"}


class CompiledFunction:
    """fn, compiled: call it as fn. `.code` is the program's source, `.explain()` the log."""

    def __init__(self, fn, fullgraph: bool = False, disable: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"compile: expected a function or a Module, got {type(fn).__name__}")
        self._fn, self.fullgraph, self.disable = fn, fullgraph, disable
        functools.update_wrapper(self, fn, updated=())
        self._entries: dict = {}
        self._log: list[str] = []
        self._last: _Runner | None = None
        self._free = threading.Lock()  # held while it traces or runs a program
        try:
            self._arg_names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._arg_names = []

    def __getattr__(self, name: str):  # a compiled Module still has its parameters, train()...
        if name.startswith("__") or name == "_fn":
            raise AttributeError(name)
        value = getattr(self._fn, name)
        if name in _RETURN_THE_MODULE and getattr(value, "__self__", None) is self._fn:
            return functools.wraps(value)(functools.partial(_itself, self, value))
        return value

    def __setattr__(self, name: str, value) -> None:
        """A compiled module's attributes are the module's (`net.enc.weight = ...`), as
        reading them is; the wrapper's own are its own."""
        if name in _OWN or name.startswith("__") or not is_module(self.__dict__.get("_fn")):
            object.__setattr__(self, name, value)
        else:
            setattr(self._fn, name, value)

    def __delattr__(self, name: str) -> None:
        if name in _OWN or name.startswith("__") or not is_module(self._fn):
            object.__delattr__(self, name)
        else:
            delattr(self._fn, name)

    @property
    def _orig_mod(self):
        """What was compiled (PyTorch's name): a Module holding a compiled module as an
        attribute counts this one among its submodules (parameters, state_dict, train())."""
        return self._fn

    def __set_name__(self, owner, name: str) -> None:
        self._attribute = name

    def __get__(self, instance, owner=None):
        """`@tl.compile` on a method: each instance gets its own compiled function of the
        bound method, kept in its __dict__ under a key of its own (not the method's name, which
        would hide a subclass's method from then on), so that instances neither share
        signatures nor stay alive through them."""
        if instance is None or isinstance(self._fn, staticmethod):
            return self
        name = self.__dict__.get("_attribute")
        if name is None or not hasattr(instance, "__dict__"):  # nowhere to keep it: the instance
            return functools.partial(self, instance)  # is an argument, by identity
        key = f"_tl_compiled_{name}_{id(self)}"
        bound = instance.__dict__.get(key)
        if type(bound) is not CompiledFunction or bound._bound[0] is not instance or \
                bound._bound[1] is not self:  # a shallow copy's, or a copy's stale entry
            bound = CompiledFunction(functools.partial(self._fn, instance),
                                     fullgraph=self.fullgraph, disable=self.disable)
            bound._bound = (instance, self)  # copied as this method of the copy
            instance.__dict__[key] = bound
        return bound

    def __reduce__(self):
        """Copied or pickled (a model holding a compiled submodule or method): a new compiled
        function of the copy, with no programs (they read the original's tensors)."""
        if "_bound" in self.__dict__:
            instance, descriptor = self._bound
            return _rebound, (descriptor, instance)  # the copied instance's compiled method
        module = sys.modules.get(getattr(self, "__module__", None) or "")
        if not is_module(self._fn) and _named(module, getattr(self, "__qualname__", "")) is self:
            return self.__qualname__  # a function compiled at module level: by its name
        return CompiledFunction, (self._fn, self.fullgraph, self.disable)

    @property
    def code(self) -> str:
        """The Python source of the program built last."""
        if self._last is None:
            raise RuntimeError("compile: no program has been built yet (a function is traced "
                               "at its 2nd and 3rd calls, and runs as a program from its 4th); "
                               "explain() says why" if self._log else
                               "compile: no program has been built yet: call the function "
                               "three times with the same kinds of inputs first")
        return self._last.source

    def explain(self) -> str:
        """What happened: programs built, guards that failed, why a call stays eager."""
        return "\n".join(self._log) if self._log else "nothing yet"

    def _note(self, message: str) -> None:
        """Into explain(), and to the `tinygrad_lstm.compile` logger at INFO when the logging
        module is in use: unimported, no handler could show the record. perf: importing it is
        0.25 MiB of the tiny benchmark's peak RSS (46.8 -> 46.6 MiB, the hand-written 38.7)."""
        self._log.append(message)
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.getLogger("tinygrad_lstm.compile").info(
                "%s: %s", getattr(self._fn, "__qualname__", "fn"), message)

    # ------------------------------------------------------------ calls

    def __call__(self, *args, **kwargs):
        # inside another's trace its calls are part of that program; inside its own trace or
        # program (Python that a replayed call runs calls it, or another thread) eager: the
        # program's arena is in use
        if self.disable or _state.tracer is not None or not self._free.acquire(blocking=False):
            return self._fn(*args, **kwargs)
        try:
            return self._call(args, kwargs)
        finally:
            self._free.release()

    def _call(self, args, kwargs):
        flat, key = _flatten((args, kwargs))
        key = (key, _state.grad_enabled, bool(_state.anomaly), default_float())
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= CACHE_SIZE_LIMIT:
                return self._eager(f"more than {CACHE_SIZE_LIMIT} input signatures", args,
                                   kwargs)
            entry = self._entries[key] = _Entry(_describe_key(flat))
            reason = _unfollowed_argument(flat)
            if reason is not None:
                self._refuse(entry, reason, None)
                return self._fn(*args, **kwargs)
        if entry.refused is not None:
            if self.fullgraph:
                raise NotTraceable(f"compile(fullgraph=True): {entry.key} runs eagerly: "
                                   f"{entry.refused}")
            return self._fn(*args, **kwargs)
        for program in entry.programs:
            if program.guards_hold(flat):
                if program.inputs_overlap(flat):
                    return self._eager(f"{entry.key}: {_OVERLAP}", args, kwargs)
                return program(flat)
        if entry.programs:
            self._drop_stale(entry)
            if entry.refused is not None:
                return self._fn(*args, **kwargs)
        if not entry.warm:
            entry.warm = True
            return self._fn(*args, **kwargs)
        return self._trace(entry, args, kwargs, flat)

    def _eager(self, reason: str, args, kwargs):
        if self.fullgraph:
            raise NotTraceable(f"compile(fullgraph=True): {reason}")
        if reason not in self._log:
            self._note(reason)
        return self._fn(*args, **kwargs)

    def _drop_stale(self, entry: _Entry) -> None:
        """Programs built before the model changed never hold again. One that ran fewer than
        three times was built in vain: after three such, the model changes too often (an
        attribute assigned at every step) and the signature stays eager."""
        stale = [p for p in entry.programs if p.model_changed()]
        if not stale:
            return
        entry.programs = [p for p in entry.programs if not p.model_changed()]
        entry.wasted = entry.wasted + 1 if any(p.runs < 3 for p in stale) else 0
        if entry.wasted >= 3:
            self._refuse(entry, "the model changes between calls too often to keep a program "
                                "(a module attribute assigned at every call?)", None)
        else:
            self._note(f"{entry.key}: the model changed since its program was built (a module "
                       f"attribute or parameter was assigned): tracing again")

    def _trace(self, entry: _Entry, args, kwargs, flat: list):
        if not _TRACING.acquire(blocking=False):  # another thread traces: this call is eager
            return self._fn(*args, **kwargs)
        try:
            return self._trace_alone(entry, args, kwargs, flat)
        finally:
            _TRACING.release()

    def _trace_alone(self, entry: _Entry, args, kwargs, flat: list):
        entry.traces += 1
        if entry.traces > TRACE_LIMIT:
            return self._refuse(entry, f"{TRACE_LIMIT} traced calls made no program (the "
                                f"function changes what its next call sees: a module's mode, "
                                f"a global, the model)", self._fn(*args, **kwargs))
        # before the call: it may change what is compared (a mode, a tensor's requires_grad)
        twin = entry.pending if entry.pending is not None and entry.pending.still_matches() \
            else None
        capture = Capture()
        names = iter(_arg_paths(self._arg_names, args, kwargs))
        positions = iter(range(1 << 30))

        arrays: dict[int, np.ndarray] = {}  # id(traced view) -> the caller's array

        def as_input(value):  # tensor and array arguments are the program's inputs
            i, name = next(positions), next(names)
            if isinstance(value, Tensor) and type(value._array) is not Traced:
                capture.adopt(value, ("arg", i), name)
            elif isinstance(value, np.ndarray) and type(value) is not Traced:
                var = capture.new_var("input", ("arg", i), name)
                var.dtype = value.dtype  # the signature's: a replay gets it
                traced = capture.traced(value, var)
                arrays[id(traced)] = value
                return traced
            return value
        copies: list = []
        traced_args, traced_kwargs = _map_leaves((args, kwargs), as_input, copies)
        reads = PythonReads(self._fn, capture.mark_module)
        start(capture)
        try:
            with reads:
                result = self._fn(*traced_args, **traced_kwargs)
        finally:
            stop()
            capture.release()
            if _write_back(copies, arrays):
                capture.refusals.append("the function writes into a list or dict it is "
                                        "given (`state['h'] = h`): a program would not")
        swapped = _containers_returned(result, {id(new): old for new, old, _ in copies})
        if swapped is not None:  # eager returns the caller's own: so does this call
            result = swapped
            capture.refusals.append("the function returns a list or dict it is given: a "
                                    "program returns new ones")
        if reads.assigned:  # `self.last = loss.detach()` on the user's object
            names = ", ".join(f"{type(obj).__name__}.{name}" for obj, name in reads.assigned)
            capture.refusals.append(f"the function assigns {names}: a replay would not")
            for obj, name in reads.assigned:
                _untraced(vars(obj).get(name))
        traced = _Traced(capture, result, reads)
        capture.forget_arrays()
        arguments = {id(a) for a in flat}  # (one whose requires_grad_() it called is listed)
        if _overlap(_arg_arrays(flat),
                    [t._array for t, _ in traced.requires_grad if id(t) not in arguments]):
            capture.refusals.append(_OVERLAP)
        if capture.refusals:
            return self._refuse(entry, "; ".join(capture.refusals), traced.result)
        if twin is None:
            entry.pending = traced
            return traced.result
        difference = twin.difference(traced)
        entry.pending = None
        if difference is not None:
            return self._refuse(entry, f"two calls ran different programs: {difference}",
                                traced.result)
        if sum(len(e.programs) for e in self._entries.values()) >= CACHE_SIZE_LIMIT:
            return self._refuse(entry, f"more than {CACHE_SIZE_LIMIT} programs", traced.result)
        program = traced.program(self._tensor_names(capture))
        entry.programs.append(program)
        entry.traces = 0  # the limit is on traced calls in a row that make no program
        self._last = program
        self._note(f"built a program of {len(capture.tape)} NumPy calls for {entry.key}"
                   + (f" ({program.modes})" if program.modes else ""))
        return traced.result

    def _refuse(self, entry: _Entry, reason: str, result):
        entry.refused = reason
        message = f"{entry.key} runs eagerly: {reason}"
        if self.fullgraph:
            raise NotTraceable(f"compile(fullgraph=True): {message}")
        self._note(message)
        return result

    @staticmethod
    def _tensor_names(capture: Capture) -> dict[int, str]:
        """Parameter and buffer names of the modules the run called, outermost first."""
        names: dict[int, str] = {}
        for module, _ in capture.modules.values():
            for prefix_name, t in list(module.named_parameters()) + list(module.named_buffers()):
                names.setdefault(id(t), prefix_name)
        return names


class _Entry:
    """One guard key: its programs (one per train/eval combination), a traced run waiting for
    its twin, or the reason it stays eager."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.programs: list[_Runner] = []
        self.pending: _Traced | None = None
        self.warm = False
        self.traces = 0
        self.wasted = 0  # programs in a row dropped after fewer than three runs
        self.refused: str | None = None


class _Traced:
    """A traced call: its capture, which of its values are the outputs, and the result."""

    def __init__(self, capture: Capture, result, reads: PythonReads) -> None:
        self.capture, self.reads = capture, reads
        self.versions = [(m, m.__dict__["_compiled"]) for m in capture.marked.values()]
        read = [v.source[1] for v in capture.vars if v.kind == "input" and v.source[0] == "tensor"]
        ids = {id(t) for t in read}
        toggled = [t for t in capture.requires_grad_set() if id(t) not in ids]
        self.requires_grad = [(t, capture.requires_grad_at_start(t)) for t in read + toggled]
        self.outputs: list[Var] = []
        self._output_of: dict[int, _Output] = {}  # id(tensor) -> its output: one returned twice
        self.template = self._template(result)
        self.result = result

    def _template(self, value):
        """The result with each tensor replaced by the index of its output value."""
        if isinstance(value, Tensor):
            if id(value) in self._output_of:  # (y, y): one output, one tensor again
                return self._output_of[id(value)]
            var = self.capture.var_of(value._array)
            if value.requires_grad and not self.capture.backwards:
                self.capture.refuse("the function returns a tensor that requires grad without "
                                    "calling backward() on it: the program keeps no graph")
            if isinstance(value._array, Traced):
                value._array = np.ndarray.view(value._array, np.ndarray)
            if var is None:
                self.capture.refuse("the function returns a tensor it did not compute (an "
                                    "argument, or a tensor made before the call): a program "
                                    "returns what it computes")
                return None
            self.outputs.append(var)
            output = self._output_of[id(value)] = _Output(len(self.outputs) - 1)
            return output
        if isinstance(value, np.ndarray):
            if type(value) is Traced:
                self.capture.refuse("the function returns a NumPy array")
            return None
        if type(value) in (tuple, list):
            return type(value)(self._template(v) for v in value)
        if _is_namedtuple(value):
            return type(value)(*[self._template(v) for v in value])
        if type(value) is dict:
            return {k: self._template(v) for k, v in value.items()}
        return value

    def still_matches(self) -> bool:
        """Nothing changed since this traced call (a module's mode, the model, a tensor's
        requires_grad): else the next traced call is compared with the one after it."""
        return not _model_changed(self.versions) and \
            all(m.training == training for m, training in self.capture.modules.values()) and \
            all(t.requires_grad == r for t, r in self.requires_grad)

    def difference(self, other: _Traced) -> str | None:
        a, b = self.capture, other.capture
        if len(a.tape) != len(b.tape):
            return f"{len(a.tape)} NumPy calls, then {len(b.tape)}"
        for i, (x, y) in enumerate(zip(a.tape, b.tape)):
            if not (_same_fn(x.fn, y.fn) and
                    [v.number for v in x.results] == [v.number for v in y.results] and
                    _same_values((x.args, x.kwargs), (y.args, y.kwargs))):
                return f"call {i} ({x.op or 'the function'}) differs"
        for x, y in zip(a.vars, b.vars):
            if x.kind == "input" and not (x.source[0] == y.source[0] and
                                          _same_objects(x.source[1], y.source[1])):
                return "an input tensor differs (a tensor the function reads is a new object " \
                       "at each call: pass it as an argument)"
        if [v.number for v in self.outputs] != [v.number for v in other.outputs] or \
                not _same_values(self.template, other.template):
            return "the results differ"
        if not all(_same_module(m, n) for (m, _), (n, _) in
                   zip(a.modules.values(), b.modules.values())) or len(a.modules) != len(b.modules):
            return "other modules were called"
        return self.reads.difference(other.reads)

    def program(self, tensor_names: dict) -> _Runner:
        capture, outputs = self.capture, self.outputs
        arg_vars = [v for v in capture.vars if v.kind == "input" and v.source[0] == "arg"]

        def build() -> Program:
            return Program(capture.tape, capture.vars, arg_vars, outputs, tensor_names,
                           capture.calls)
        return _Runner(build, [var.source[1] for var in arg_vars], self.template,
                       list(capture.modules.values()), self.requires_grad, self.reads,
                       capture.grad_guards, self.versions, capture.value_guards)


class _Output:
    def __init__(self, index: int) -> None:
        self.index = index

    def __eq__(self, other) -> bool:
        return type(other) is _Output and other.index == self.index

    __hash__ = None


class _Runner:
    """A program and what it needs: which flat arguments it takes, the modes it was traced in,
    the parameters whose shapes it assumed. The source is written and compiled when first
    needed (its first run, or `.code`), not in the traced call that found it: the traced call's
    arrays are freed by then, so compile() and the program's arena do not add to them."""

    def __init__(self, build: Callable[[], Program], arg_positions: list, template, modules: list,
                 requires_grad: list, reads: PythonReads, grad_guards: dict, versions: list,
                 value_guards: list) -> None:
        self._build, self._program = build, None
        self._positions = arg_positions
        self._template = template
        self._modules = modules
        self._reads = reads
        self._versions = versions  # of the modules it called, when traced
        self._answers = value_guards  # (fn, args, result): recording.guard_on_result
        self.runs = 0
        # requires_grad as the traced call found it (it may have toggled it: a replayed call)
        # and each one's layout: ops branch on it (Addmm's product of an F-ordered weight), and
        # a reshape is a view of one layout and a copy of another
        self._tensors = [(t, t._array.shape, t._array.dtype, t._array.strides, r)
                         for t, r in requires_grad]
        self._grads = list(grad_guards.values())  # (leaf, its .grad was None at the start)
        self.modes = ", ".join(f"{type(m).__name__} in {'train' if t else 'eval'}"
                               for m, t in modules[:1])

    @property
    def program(self) -> Program:
        if self._program is None:
            self._program, self._build = self._build(), None
        return self._program

    @property
    def source(self) -> str:
        return self.program.source

    def model_changed(self) -> bool:
        return _model_changed(self._versions)

    def guards_hold(self, flat: list) -> bool:
        if _model_changed(self._versions):
            return False
        for module, training in self._modules:
            if module.training != training:
                return False
        for t, shape, dtype, strides, requires_grad in self._tensors:
            a = t._array
            if a.shape != shape or a.dtype != dtype or a.strides != strides or \
                    t.requires_grad != requires_grad:
                return False
        for leaf, was_none in self._grads:
            if (leaf._grad is None) != was_none:
                return False
        for fn, args, result in self._answers:
            args = [flat[a.position] if type(a) is ArgumentAt else a for a in args]
            if not same_answer(fn(*args), result):
                return False
        return self._reads.hold()

    def inputs_overlap(self, flat: list) -> bool:
        """Arguments that share memory with each other or with a tensor the program reads (a
        view of a parameter passed in): the trace had each in memory of its own, and the
        program's rewrites rely on it (what one input's writes change, another does not see)."""
        arrays = [flat[i] for i in self._positions]
        return _overlap([a if isinstance(a, np.ndarray) else a._array for a in arrays],
                        [t._array for t, *_ in self._tensors])

    def __call__(self, flat: list):
        self.runs += 1
        arrays = [flat[i] for i in self._positions]
        if self.program.arena is None:
            self.program.allocate()
        try:
            outputs = self.program.run(*[a if isinstance(a, np.ndarray) else a._array
                                         for a in arrays])
        except _VALUE_ERRORS as e:  # caused by the values: NumPy's words, then the line
            if type(e) not in _VALUE_ERRORS:
                raise  # a subclass may take other arguments (np.exceptions.AxisError)
            raise type(e)(f"{e}, {self.program.where(e)}") from e
        return _fill(self._template, outputs)


_OVERLAP = ("an argument shares memory with another argument or with a tensor the function "
            "reads (a view of a parameter?): this call runs eagerly")


def _arg_arrays(flat: list) -> list:
    """The array of each tensor or array argument, the same object once."""
    seen, arrays = set(), []
    for a in flat:
        if isinstance(a, (Tensor, np.ndarray)) and id(a) not in seen:
            seen.add(id(a))
            arrays.append(a if isinstance(a, np.ndarray) else a._array)
    return arrays


def _overlap(arguments: list, tensors: list) -> bool:
    """An argument array that may share memory with another one, or with a tensor's array (the
    same array too: a tensor the function reads, passed in). The tensors' arrays are each their
    own input, the same array counted once. perf: owners compared first, _shares_memory only
    within one owner: a few microseconds a call for an LSTM step's four arguments and six
    parameters."""
    by_owner: dict[int, list] = {}
    for array, is_argument in [(a, True) for a in arguments] + [(t, False) for t in tensors]:
        owner = array
        while getattr(owner, "base", None) is not None:
            owner = owner.base
        same = by_owner.setdefault(id(owner), [])
        for other, other_is_argument in same:
            if other is array and not (is_argument or other_is_argument):
                break  # one tensor's array, read through two tensors: one input
            if (is_argument or other_is_argument) and _shares_memory(array, other):
                return True
        else:
            same.append((array, is_argument))
    return False


def _rebound(descriptor: CompiledFunction, instance) -> CompiledFunction:
    return descriptor.__get__(instance, type(instance))


def _named(module, qualname: str):
    for part in qualname.split(".") if module is not None and qualname else ():
        module = getattr(module, part, None)
    return module if qualname else None


# a compiled module's methods that return the module itself: chained, they return the compiled
# one (model = tl.compile(model).eval()), as PyTorch's compiled module does
_RETURN_THE_MODULE = {"train", "eval", "to", "half", "float", "double", "bfloat16", "cpu", "cuda",
                      "type", "requires_grad_", "apply", "share_memory"}


def _itself(compiled, method, *args, **kwargs):
    """method(*args, **kwargs) of the compiled module, or the compiled one where it returns
    the module itself (train(), eval(), to(): chained, as PyTorch's compiled module does)."""
    result = method(*args, **kwargs)
    return compiled if result is compiled._fn else result


def _shares_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b have an element in common (column blocks or interleaved rows of one array do
    not), or working that out is too hard: then they may."""
    if a is b:
        return True
    try:
        return bool(np.shares_memory(a, b, max_work=1000))
    except np.exceptions.TooHardError:
        return True


def _model_changed(versions: list) -> bool:
    """An attribute of a module the program called was assigned since (Module._changed)."""
    for module, version in versions:
        if module.__dict__["_compiled"] != version:
            return True
    return False


def _fill(template, outputs, made: dict | None = None):
    """The result of a run: the template with a tensor for each output (one per output: a
    tensor returned twice is one tensor again)."""
    made = {} if made is None else made
    if type(template) is _Output:
        if template.index not in made:
            made[template.index] = Tensor._make(outputs[template.index])
        return made[template.index]
    if type(template) in (tuple, list):
        return type(template)(_fill(v, outputs, made) for v in template)
    if _is_namedtuple(template):
        return type(template)(*[_fill(v, outputs, made) for v in template])
    if type(template) is dict:
        return {k: _fill(v, outputs, made) for k, v in template.items()}
    return template


def _is_namedtuple(value) -> bool:
    """A tuple subclass made again from its items, type(value)(*items): a namedtuple, or the
    (values, indices) pair max(dim) and sort return."""
    return isinstance(value, tuple) and (hasattr(type(value), "_fields") or
                                         type(value) is ValuesIndices)


def _same_module(a, b) -> bool:
    """The same module, or two of one class without parameters and with the same settings and
    buffers (`nn.CrossEntropyLoss(weight=w)` made in the step)."""
    return a is b or (type(a) is type(b) and not any(True for _ in a.parameters()) and
                      vars(a).keys() == vars(b).keys()
                      and all(_same_setting(x, vars(b)[k]) for k, x in vars(a).items()
                              if k not in ("_scope_name", "_compiled")))


def _same_setting(x, y) -> bool:
    return x is y or (type(x) is type(y) and type(x) in (dict, list, tuple, int, float, str,
                                                           bool, type(None)) and x == y)


def _same_fn(a, b) -> bool:
    return a is b or a == b


def _same_values(a, b) -> bool:
    """The same tape arguments: Vars by number and kind, constants by value."""
    if isinstance(a, Var) or isinstance(b, Var):
        if not (isinstance(a, Var) and isinstance(b, Var)):
            return False
        if a.kind == "const" and b.kind == "const":  # to the bit, as number_bits
            return a.source.dtype == b.source.dtype and a.source.shape == b.source.shape and \
                a.source.tobytes() == b.source.tobytes()
        return a.number == b.number and a.kind == b.kind
    if type(a) is not type(b):
        return False
    if type(a) in (tuple, list) or _is_namedtuple(a):
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same_values(a[k], b[k]) for k in a)
    if type(a) is slice:
        return _same_values((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    if isinstance(a, np.generic):  # to the bit, as number_bits
        return a.tobytes() == b.tobytes()
    if isinstance(a, (np.dtype, _Output)) or type(a) is type:
        return a == b or a is b
    return _same_objects(a, b)


def _flatten(tree) -> tuple[list, tuple]:
    """The leaves of nested tuples/lists/dicts, and a hashable key of their kinds: tensors and
    arrays by shape, dtype, strides (the memory layout) and requires_grad, and the first
    position of the same object (f(x, x) is not f(x, y)); other values by value (a float by
    its bits: -0.0 is not 0.0) or identity."""
    flat: list = []
    return flat, _key(tree, flat, {})


def _key(value, flat: list, first: dict):
    """`_flatten`'s key of one value, its leaves appended to flat. (A module-level function: a
    nested one that calls itself is a reference cycle, which kept every call's arguments alive
    until the garbage collector ran: 2.4 MiB a step of the benchmark's large LSTM.)"""
    kind = type(value)
    if kind is Tensor or isinstance(value, Tensor):
        a = value._array
        position = first.setdefault(id(value), len(flat))
        flat.append(value)
        return (a.shape, a.dtype, a.strides, value.requires_grad, position)
    if isinstance(value, np.ndarray):
        position = first.setdefault(id(value), len(flat))
        flat.append(value)
        return ("array", type(value), value.shape, value.dtype, value.strides, position)
    if kind is tuple or kind is list:
        return (kind, *[_key(v, flat, first) for v in value])
    if kind is dict:
        return ("dict", tuple((k, _key(v, flat, first)) for k, v in value.items()))
    flat.append(value)
    if kind is float or kind is complex:
        return ("value", kind, number_bits(value))
    if isinstance(value, np.generic):  # np.float32(-0.0) is not np.float32(0.0) either
        return ("value", kind, value.tobytes())
    try:
        hash(value)
        return ("value", kind, value)
    except TypeError:
        return ("object", Identity(value))


def _unfollowed_argument(flat: list) -> str | None:
    """Why an argument keeps the function eager, if one does: an ndarray subclass (a trace sees
    plain arrays: np.matrix's * would be lost), a list or dict subclass (its items are not part
    of the signature, and a write into it is not seen)."""
    for a in flat:
        kind = type(a)
        if isinstance(a, np.ndarray) and kind is not np.ndarray:
            return (f"an argument is a {kind.__module__}.{kind.__qualname__} (an ndarray "
                    f"subclass), which a trace would see as a plain array")
        if isinstance(a, (list, dict)) and kind not in (list, dict):
            return (f"an argument is a {kind.__module__}.{kind.__qualname__}, whose items the "
                    f"program would not follow: pass a plain {kind.__mro__[-2].__name__}")
    return None


def _map_leaves(tree, fn, copies: list | None = None, made: dict | None = None):
    """tree with each leaf replaced by fn(leaf), leaves in `_flatten`'s order. `copies` gets
    (new list or dict, the original, its items as made) for each list and dict, inner first;
    a list or dict met twice (f(x, a, a)) is copied once (`made`: id -> its copy)."""
    made = {} if made is None else made
    if type(tree) in (list, dict) and id(tree) in made:
        return made[id(tree)]
    if type(tree) in (tuple, list):
        new = type(tree)(_map_leaves(v, fn, copies, made) for v in tree)
    elif type(tree) is dict:
        new = {k: _map_leaves(v, fn, copies, made) for k, v in tree.items()}
    else:
        return fn(tree)
    if copies is not None and type(tree) is not tuple:
        made[id(tree)] = new
        copies.append((new, tree, _items(new)))
    return new


def _untraced(value) -> None:
    """The tensors in value (through tuples, lists and dicts) hold plain arrays again."""
    if isinstance(value, Tensor):
        if type(value._array) is Traced:
            value._array = np.ndarray.view(value._array, np.ndarray)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _untraced(v)
    elif isinstance(value, dict):
        for v in value.values():
            _untraced(v)


def _containers_returned(result, originals: dict):
    """The result with the caller's lists and dicts in place of the traced call's copies of
    them, or None if it holds none of them."""
    found = []

    def swap(v):
        if id(v) in originals:
            found.append(v)
            return originals[id(v)]
        if type(v) in (tuple, list):
            return type(v)(swap(x) for x in v)
        if type(v) is dict:
            return {k: swap(x) for k, x in v.items()}
        return v
    swapped = swap(result)
    return swapped if found else None


def _items(container) -> list:
    return list(container.items()) if type(container) is dict else list(container)


def _write_back(copies: list, arrays: dict) -> bool:
    """The traced call got copies of the caller's lists and dicts (with its arrays traced):
    where the function wrote into one, the caller's gets the same contents (its own arrays and
    containers again, as eager would leave it). Whether any was written."""
    originals = {id(new): original for new, original, _ in copies}

    def back(v):
        v = originals.get(id(v), arrays.get(id(v), v))
        _untraced(v)  # what the function made: tensors, and tensors in its tuples and lists
        return v.view(np.ndarray) if type(v) is Traced else v
    written = False
    for new, original, items in copies:
        now = _items(new)
        if len(now) == len(items) and all(
                (a[0] == b[0] and a[1] is b[1]) if type(new) is dict else a is b
                for a, b in zip(now, items)):
            continue
        written = True
        if type(new) is dict:
            original.clear()
            original.update((k, back(v)) for k, v in new.items())
        else:
            original[:] = [back(v) for v in new]
    return written


def _arg_paths(names: list, args: tuple, kwargs: dict) -> list[str]:
    """A readable name per flat argument: the parameter's name, with an index inside lists."""
    paths: list[str] = []

    def walk(value, path):
        if isinstance(value, (Tensor, np.ndarray)):
            paths.append(path)
        elif type(value) in (tuple, list):
            for i, v in enumerate(value):
                walk(v, f"{path}_{i}")
        elif type(value) is dict:
            for k, v in value.items():
                walk(v, f"{path}_{k}")
        else:
            paths.append(path)
    for i, a in enumerate(args):
        walk(a, names[i] if i < len(names) and not names[i].startswith("*") else f"arg{i}")
    for k, v in kwargs.items():
        walk(v, k)
    return paths


def _describe_key(flat: list) -> str:
    shapes = [f"{(a._array if isinstance(a, Tensor) else a).dtype.name}{list(a.shape)}"
              for a in flat if isinstance(a, (Tensor, np.ndarray))]
    return "inputs " + (", ".join(shapes) if shapes else "(no tensors)")
