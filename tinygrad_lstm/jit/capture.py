"""`Capture`: the tracer of one call of a compiled function, with the engine's side of it.

The engine tells it what runs (`enter`: a primitive's forward; `at_node`: a VJP; `module_called`;
`backward_begins`), and it hands the engine Traced arrays: every tensor an op reads for the
first time is *adopted* (its array becomes a Traced view, named as an input of the program,
given back at the end). Code whose Python-side state changes from call to call (an
optimizer's step, a random draw, the gradients written into `.grad`) becomes one call in the
program, run for real at each replay (`call`, `generator`, `leaves_done`).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from types import FunctionType, MethodType

import numpy as np

from ..autograd.outer_sum import OuterSum, dense
from ..random import rng
from ..recording import _sequence, _state, is_module
from ..tensor import Tensor
from .guards import number_bits, same_answer
from .memory import return_free_memory
from .trace import Traced, Tracer, Var, _plain, _user_frame, paused


class Capture(Tracer):
    """One traced run: the tape, its inputs, and what the replay must check (module modes)."""

    def __init__(self) -> None:
        super().__init__()
        self._adopted: list = []  # (tensor, its own array, the Traced view it holds meanwhile)
        self.stepped = False  # a scheduler's step was replayed: groups' numbers may differ now
        self._grad_of: dict[int, tuple] = {}  # id(a .grad read or written) -> (it, its leaf)
        self._grads_at_start: set[int] = set()  # ids of .grad tensors the call found
        self.grads_changed = False  # a backward or a replayed call may have replaced .grad
        self.grad_guards: dict[int, tuple] = {}  # id(leaf) -> (leaf, .grad was None) at start
        self._requires_grad: dict[int, tuple] = {}  # id -> (tensor, requires_grad at start)
        self.modules: dict[int, tuple] = {}  # id -> (module, training) of each module called
        self.marked: dict[int, object] = {}  # id -> module whose version the programs check
        self.value_guards: list = []  # (fn, args, its result): the same again before a replay
        self._guards: dict = {}  # (fn, ids of its args) -> the result of its first guard
        self.calls: dict[int, int] = {}  # id(module) -> how many times it was called
        self.backwards = 0
        self.first_node = next(_sequence)  # nodes numbered below were recorded before the call

    # ------------------------------------------------------------ tensors

    def adopt(self, t: Tensor, source: tuple, label: str = "") -> Var:
        """Make t's array an input of the program, read from `source` at each replay."""
        var = self.new_var("input", source, label)
        if source[0] in ("arg", "tensor"):  # guarded: the call's signature, the tensors read
            var.dtype = t._array.dtype
        self._swap(t, self.traced(t._array, var))
        return var

    def _swap(self, t: Tensor, traced: Traced) -> None:
        self._adopted.append((t, t._array, traced))
        t._array = traced

    def release(self) -> None:
        """Give every adopted tensor its own array back."""
        for t, array, traced in reversed(self._adopted):
            if t._array is traced:
                t._array = array
            elif type(t._array) is Traced:  # rebound inside the call (the call is refused)
                t._array = np.ndarray.view(t._array, np.ndarray)
        self._adopted.clear()

    def know(self, t: Tensor) -> None:
        """A tensor an op reads: its array is a value of the tape, or becomes an input."""
        array = t._array
        if type(array) is Traced:
            return
        var = self.var_of(array)
        if var is not None:  # a plain view of a value (a .grad written from one)
            self._swap(t, self.traced(array, var))
        elif self._grad_of.get(id(t), (None,))[0] is t:
            kind = "grad0" if id(t) in self._grads_at_start else "grad"
            self.adopt(t, (kind, self._grad_of[id(t)][1]))
        else:  # a parameter, a buffer, a tensor made before the call
            self.adopt(t, ("tensor", t))

    def _made_here(self, t) -> bool:
        """t is a tensor this call computed (not one made before it)."""
        return self._kind(t) == "op"

    def _kind(self, t: Tensor) -> str | None:
        """'op', 'input' or 'const' for a tensor whose array the tape knows, else None."""
        if not isinstance(t, Tensor) or type(t._array) is not Traced:
            return None
        return self.var_of(t._array).kind

    def grad_read(self, leaf: Tensor) -> None:
        """`leaf.grad` is read: when an op reads it, it is the .grad of that leaf at each call
        (a new tensor each time), not this tensor. Read before any backward or replayed call
        could replace it, it is as the call found it: whether it was None is a guard."""
        grad = leaf._grad
        if not self.grads_changed:
            self.grad_guards.setdefault(id(leaf), (leaf, grad is None))
        if grad is not None and type(grad._array) is not Traced and id(grad) not in self._grad_of:
            self._grad_of[id(grad)] = (grad, leaf)
            if not self.grads_changed:
                self._grads_at_start.add(id(grad))

    # ------------------------------------------------------------ engine hooks

    def enter(self, cls: type, args: tuple) -> None:
        """A primitive's forward is about to run on `args`."""
        self.writes_into(cls.__name__, args)

    def writes_into(self, op: str, args: tuple) -> None:
        """Op is about to run on args; an in-place one (`x.add_(y)`, `x[i] = v`) writes into
        x, so its tensors become values of the tape first and the NumPy write is recorded even
        where no op read them yet (a counter, `p.grad.zero_()`)."""
        self.op, self.scope = op, _state.scope
        for a in args:
            if isinstance(a, Tensor):
                self.know(a)

    def changes_model(self, what: str) -> None:
        self.refuse(f"{what} inside the function, at {_user_frame()}: a program would not do "
                    f"it again")

    def at_node(self, node) -> None:
        """A VJP is about to run."""
        self.op, self.scope = node.name(), node.scope
        if node.seq < self.first_node:
            self.refuse(f"backward reaches {node.name()}, recorded before the call (an "
                        f"argument or tensor computed outside the function with a graph): the "
                        f"program would not see that graph change; detach() it or compute it "
                        f"inside")
        if node.hooks:
            self.refuse(f"a hook on an intermediate tensor (output of {node.name()}) runs "
                        f"Python inside backward")

    def backward_begins(self, retain_graph: bool, create_graph: bool = False) -> None:
        self.backwards += 1
        return_free_memory()  # what the forward freed: the backward makes other sizes
        if retain_graph or create_graph:
            self.refuse("backward(retain_graph=True or create_graph=True): the program keeps "
                        "no graph after it")

    def module_called(self, module, label: str) -> str:
        """Note the module's mode (a replay needs the same) and count its calls: the label it
        returns names the call (`lstmcell` called at each step of a Python loop)."""
        if id(module) not in self.modules:
            self.modules[id(module)] = (module, module.training)
            self.mark_module(module)
        # its own parameters and buffers become inputs now, not at the first op that reads
        # them: a forward may read `weight._array` directly
        for t in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            if self._kind(t) == "input" and self.var_of(t._array).source[0] == "arg":
                self.refuse(f"an argument of the function is a parameter or buffer of "
                            f"{type(module).__name__}: a replay would not follow another one")
            self.know(t)
        count = self.calls.get(id(module), 0)
        self.calls[id(module)] = count + 1
        return CallLabel(label, id(module), count)

    def requires_grad_changes(self, t: Tensor, value: bool, setter) -> None:
        """`t.requires_grad_(value)` on a tensor made before the call is a call of the program,
        which needs the value the call found; on one made in the call it just happens."""
        if self._made_here(t):
            setter(t, value)
            return
        self._requires_grad.setdefault(id(t), (t, t.requires_grad))
        if value != t.requires_grad:
            self.call(setter, (t, value), {})

    def requires_grad_set(self) -> list:
        """The tensors made before the call whose requires_grad_() it called."""
        return [t for t, _ in self._requires_grad.values()]

    def requires_grad_at_start(self, t: Tensor) -> bool:
        return self._requires_grad.get(id(t), (t, t.requires_grad))[1]

    def mark_module(self, module) -> bool:
        """From now on, assigning an attribute of the module or its submodules bumps its
        version (Module._changed), which the programs of this call check. Whether it is one."""
        if not is_module(module):
            return False
        for m in module.modules():
            if "_compiled" not in m.__dict__:
                object.__setattr__(m, "_compiled", 0)
            self.marked[id(m)] = m
        return True

    def leaves_done(self, write):
        """The engine's last step, writing the leaves' gradients into `.grad`, as one call of
        the program (hooks on leaves and `.grad` being None or not are handled there, for
        real, at each replay)."""
        from ..autograd.engine import _accumulate_leaves
        if write is not _accumulate_leaves:
            self.refuse("autograd.grad() inside the function (only backward() is compiled)")
            return write

        def accumulate(grads: dict, owned: set) -> None:
            self.grads_changed = True
            leaves = list(grads)
            for leaf in leaves:
                var = self.var_of(leaf._array)
                if var is None or var.kind != "input" or var.source[0] != "tensor":
                    what = f"argument {var.label!r}" if var is not None and var.kind == "input" \
                        else "a tensor made inside the function"
                    self.refuse(f"backward writes the .grad of {what}, a new leaf at each call "
                                f"(only .grad of parameters and of tensors made before the "
                                f"call is compiled)")
            fresh = [leaf in owned or type(grads[leaf]) is OuterSum for leaf in leaves]
            self.op, self.scope = "AccumulateGrad", ()
            arrays = [dense(grads[leaf]) for leaf in leaves]  # recorded: tracing is on
            self.record(AccumulateGrads(leaves, fresh), (tuple(arrays),), {}, None)
            with paused():
                AccumulateGrads(leaves, fresh)([_plain(a) for a in arrays])
            for leaf in leaves:  # each new .grad is read right here, not at its first use: a
                grad = leaf._grad  # zero_grad() may come before that
                if grad is not None and type(grad._array) is not Traced and \
                        self.var_of(grad._array) is None:
                    self._swap(grad, self.record(GradOf(leaf), (), {}, _plain(grad._array)))
        return accumulate

    def call(self, fn, args: tuple, kwargs: dict):
        """fn runs for real, unrecorded, and is one call of the program (on the same objects,
        and on the values of the arrays it was given)."""
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        if any(isinstance(a, (FunctionType, MethodType)) for a in (*args, *kwargs.values())):
            self.refuse(f"{_qualname(fn)} is given a function (optimizer.step(closure)): its "
                        f"forward and backward would run outside the program; call the "
                        f"closure's body in the function, then step() without it")
        for a in (*args, *kwargs.values()):
            if any(self._made_here(t) for t in (a if isinstance(a, (list, tuple)) else (a,))):
                self.refuse(f"{_qualname(fn)} is given a tensor computed in the function")
        self.grads_changed = True  # zero_grad(), `p.grad = None`
        if _scheduler(args):
            self.stepped = True  # a scheduler's step: a group's numbers may change
        outer = self.op, self.scope
        self.op, self.scope = _qualname(fn), _state.scope
        with paused():
            result = fn(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        if isinstance(result, Tensor):  # clip_grad_norm_'s total norm: a value of the program
            result._array = self.record(Replayed(fn, array=True), args, kwargs,
                                        _plain(result._array))
        else:
            if isinstance(result, (numbers.Number, str, np.generic)):  # a user's step that
                # says whether it stepped: the function may branch on it
                self.refuse(f"{_qualname(fn)} returns a Python value ({result!r}) to the "
                            f"function: a replay runs it, but would not give it back")
            self.record(Replayed(fn), args, kwargs, None)
        self.op, self.scope = outer
        return result

    def guard_on_result(self, fn, args: tuple):
        """fn(*args) for real; its result becomes a guard of the program, unless an argument
        was computed in the call (then it is a value read)."""
        if any(self._made_here(a) for a in args):
            self.refuse(f"{_qualname(fn)} reads the value of a tensor computed in the "
                        f"function, at {_user_frame()}")
        if self.stepped and _scheduler(args):
            self.refuse(f"{_qualname(fn)} is read after a scheduler's step inside the function: "
                        f"a replay would check it before the step")
        with paused():
            result = fn(*args)
        # an argument of the function is asked again about the argument of each later call
        # (a causal mask passed in), not about this call's tensor
        guard = (fn, tuple(self._argument_at(a) or a for a in args), result)
        # perf: the same question with the same answer again (a group's lr read for each of
        # 400 parameters) is one guard; its first arguments are held, so their ids stay theirs
        key = (fn, tuple(map(id, guard[1])))
        if key not in self._guards or not same_answer(self._guards[key], result):
            self._guards[key] = result
            self.value_guards.append(guard)
        return result

    def _argument_at(self, a) -> ArgumentAt | None:
        if self._kind(a) != "input":
            return None
        source = self.var_of(a._array).source
        return ArgumentAt(source[1]) if source[0] == "arg" else None

    def generator(self, generator):
        """A stand-in for rng(generator) whose draws are calls of the program."""
        return _Draws(self, generator)


class CallLabel(str):
    """A module's label in graph scopes (its name, as graph pictures show it) that also knows
    which call of the module it is, for the program's comments."""

    def __new__(cls, label: str, module: int, call: int) -> CallLabel:
        self = super().__new__(cls, label)
        self.module, self.call = module, call
        return self


def _qualname(fn) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


class AccumulateGrads:
    """The program's call that adds each leaf's gradient into its `.grad` (the engine's own
    `_accumulate_leaves`, with the leaves whose buffers the pass made marked fresh)."""

    def __init__(self, leaves: list, fresh: list) -> None:
        self.leaves, self.fresh = leaves, fresh
        self._owned = {leaf for leaf, f in zip(leaves, fresh) if f}

    def __call__(self, arrays) -> None:
        from ..autograd.engine import _accumulate_leaves
        _accumulate_leaves(dict(zip(self.leaves, arrays)), self._owned)

    def __eq__(self, other) -> bool:
        return type(other) is AccumulateGrads and other.fresh == self.fresh and \
            len(other.leaves) == len(self.leaves) and \
            all(a is b for a, b in zip(other.leaves, self.leaves))

    __hash__ = None


class GradOf:
    """`leaf.grad`'s array, as a call of the program: where the backward has just written it."""

    def __init__(self, leaf: Tensor) -> None:
        self.leaf = leaf
        self.__name__ = "grad"

    def __call__(self) -> np.ndarray:
        return self.leaf._grad._array

    def __eq__(self, other) -> bool:
        return type(other) is GradOf and other.leaf is self.leaf

    __hash__ = None


class Replayed:
    """A function kept whole in the program: run for real at every replay (`array`: the
    `._array` of the Tensor it returns is the program's value)."""

    def __init__(self, fn, array: bool = False) -> None:
        self.fn, self.array = fn, array
        self.__name__ = getattr(fn, "__name__", "call")

    def __call__(self, *args, **kwargs):
        result = self.fn(*args, **kwargs)
        return result._array if self.array else result

    def __eq__(self, other) -> bool:
        return type(other) is Replayed and other.fn is self.fn and other.array == self.array

    __hash__ = None


def _same_objects(a, b) -> bool:
    """Equal Python values, the same objects (tensors, modules, optimizers) where not values."""
    if type(a) is not type(b):
        return False
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same_objects(x, y) for x, y in zip(a, b))
    if type(a) in (float, complex):
        return number_bits(a) == number_bits(b)  # to the bit: -0.0 is not 0.0, nor -nan nan
    if isinstance(a, (int, float, str, bool, type(None), complex)):
        return a == b
    return a is b


def _scheduler(args: tuple) -> bool:
    """A call on a learning-rate scheduler (LRScheduler.writes_param_groups)."""
    return bool(args) and getattr(type(args[0]), "writes_param_groups", False)


class ArgumentAt:
    """A guard's argument that is the function's argument at this position of its flattened
    arguments, the current call's at each check."""

    __slots__ = ("position",)

    def __init__(self, position: int) -> None:
        self.position = position


class Draw:
    """A draw from a random generator, looked up at each call as eager code looks it up."""

    def __init__(self, generator, method: str) -> None:
        self.generator, self.method = generator, method
        self.__name__ = method

    def __call__(self, *args, **kwargs):
        return getattr(rng(self.generator), self.method)(*args, **kwargs)

    def __eq__(self, other) -> bool:
        return type(other) is Draw and other.generator is self.generator and \
            other.method == self.method

    __hash__ = None


class _Draws:
    def __init__(self, capture: Capture, generator) -> None:
        self._capture, self._generator = capture, generator

    def __getattr__(self, method: str):
        draw = Draw(self._generator, method)

        def drawn(*args, **kwargs):
            with paused():
                result = draw(*args, **kwargs)
            if not isinstance(result, np.ndarray):
                self._capture.refuse(f"a random draw of a Python value ({method})")
                return result
            return self._capture.record(draw, args, kwargs, result)
        return drawn
