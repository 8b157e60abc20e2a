"""A pickle reader that never runs code from the file (PyTorch's `weights_only=True` loader).

It interprets the opcodes of plain data itself (protocols 0-5, without INST, OBJ, EXT and
out-of-band buffers) and resolves a global only by looking its full name up in two tables:
the defaults its caller passes (PyTorch's rebuild functions mapped to ours, containers) and
the objects the user allowlisted with `add_safe_globals` / `safe_globals`, as in PyTorch.
Nothing is imported by name. Only allowlisted callables are called (REDUCE), only
allowlisted classes instantiated (NEWOBJ) and given state (BUILD).

Hostile input gets `UnpicklingError` (both `pickle.UnpicklingError`, as PyTorch raises, and
`ValueError`): every length is checked against the bytes left before anything is allocated,
MARKs nest at most `MAX_DEPTH` deep and so do the containers of the result.
"""

import _compat_pickle
import pickle
import pickletools
import struct
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 1000  # containers nested deeper than this are refused (a RecursionError waiting)


class UnpicklingError(pickle.UnpicklingError, ValueError):
    """A pickle the restricted loader refuses: corrupt, or asking for a global not allowed."""


# ---------------------------------------------------------------- the user's allowlist
# PyTorch's API (torch.serialization.add_safe_globals ...): objects, or (object, "mod.name")

_marked_safe_globals: list = []


def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes/functions in files loaded with `weights_only=True` (trusted only)."""
    for g in _checked(safe_globals):
        if not any(g is h or g == h for h in _marked_safe_globals):
            _marked_safe_globals.append(g)


def get_safe_globals() -> list:
    """The objects added with `add_safe_globals` (and active `safe_globals` blocks)."""
    return list(_marked_safe_globals)


def clear_safe_globals() -> None:
    """Forget every object added with `add_safe_globals`."""
    _marked_safe_globals.clear()


class safe_globals:
    """Context manager: `with safe_globals([MyNet, nn.Linear]): load(f)` allows them inside."""

    def __init__(self, safe_globals: list) -> None:
        self.safe_globals = _checked(safe_globals)

    def __enter__(self) -> None:
        self._added = [g for g in self.safe_globals if g not in get_safe_globals()]
        add_safe_globals(self._added)

    def __exit__(self, *exc) -> None:
        for g in self._added:
            _marked_safe_globals[:] = [h for h in _marked_safe_globals if h is not g]


def _checked(safe_globals) -> list:
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError(f"safe_globals: expected a list of classes/functions, got "
                        f"{type(safe_globals).__name__}")
    for g in safe_globals:
        if isinstance(g, tuple) and (len(g) != 2 or not isinstance(g[1], str)):
            raise ValueError(f"safe_globals: expected (global, 'module.qualname') tuples, "
                             f"got {g!r}")
        if not isinstance(g, tuple) and not (isinstance(getattr(g, "__module__", None), str)
                                             and hasattr(g, "__qualname__")):
            raise TypeError(f"safe_globals: {g!r:.60} has no module and qualname to be named "
                            f"by; pass (obj, 'module.qualname')")
    return list(safe_globals)


def user_allowed_globals() -> dict[str, Any]:
    """Full name -> object for the user's allowlist, named as pickle names it."""
    out = {}
    for g in _marked_safe_globals:
        if isinstance(g, tuple):
            out[g[1]] = g[0]
        else:
            out[f"{g.__module__}.{g.__qualname__}"] = g
    return out


def _how_to_allow(name: str) -> str:
    short = name.rsplit(".", 1)[-1]
    return (f"Unsupported global: GLOBAL {name} was not an allowed global by default. Please use "
            f"`tinygrad_lstm.serialization.add_safe_globals([{short}])` or the "
            f"`tinygrad_lstm.serialization.safe_globals([{short}])` context manager to allowlist "
            f"this global if you trust this class/function (or, for a file you trust, "
            f"load(f, weights_only=False), which can run arbitrary code)")


# ---------------------------------------------------------------- the interpreter

_P = pickle  # opcode constants, one byte each


class RestrictedUnpickler:
    """`RestrictedUnpickler(data, allowed, persistent_load).load()`: the object in `data`.

    allowed: full name ("collections.OrderedDict") -> object, the defaults; the user's
    allowlist is read at `load()`. persistent_load(pid) resolves BINPERSID ids (storages).
    """

    def __init__(self, data: bytes, allowed: dict[str, Any],
                 persistent_load: Callable[[Any], Any] | None = None) -> None:
        self.data, self.pos = bytes(data), 0
        self.allowed = allowed
        self.persistent_load = persistent_load

    def error(self, msg: str) -> UnpicklingError:
        return UnpicklingError(f"{msg} (pickle byte {self.pos})")

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.error(f"truncated pickle: {n} bytes wanted, {len(self.data) - self.pos} "
                             f"left")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def readline(self) -> bytes:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise self.error("truncated pickle: unterminated line")
        line, self.pos = self.data[self.pos:end], end + 1
        return line

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def load(self) -> Any:
        user = user_allowed_globals()
        self.globals = {**self.allowed, **user}
        self.callables = list(self.globals.values())
        self.classes = [g for g in self.callables if isinstance(g, type)]
        self.stack, self.marks, self.memo, self.proto = [], [], {}, 0
        self.standin_keys: dict[int, list] = {}  # id(stand-in) -> its memo keys
        try:
            while True:
                op = self.read(1)
                if op == _P.STOP:
                    break
                self.step(op)
        except UnpicklingError:
            raise
        except (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
                UnicodeDecodeError, struct.error) as e:
            raise self.error(f"corrupt pickle ({type(e).__name__}: {e})") from e
        if len(self.stack) != 1 or self.marks:
            raise self.error("corrupt pickle: STOP with a stack of "
                             f"{len(self.stack)} items and {len(self.marks)} open MARKs")
        result = self.stack[0]
        check_depth(result, MAX_DEPTH)
        return result

    def pop_mark(self) -> list:
        items, self.stack = self.stack, self.marks.pop()
        return items

    def step(self, op: bytes) -> None:  # noqa: C901 (one branch per opcode, as in pickle.py)
        stack, push = self.stack, self.stack.append
        # ---- framing and marks
        if op == _P.PROTO:
            self.proto = self.read(1)[0]
            if self.proto > pickle.HIGHEST_PROTOCOL:
                raise self.error(f"unsupported pickle protocol {self.proto}")
        elif op == _P.FRAME:
            self.read(8)  # frames only batch reads
        elif op == _P.MARK:
            if len(self.marks) >= MAX_DEPTH:
                raise self.error(f"pickle nested deeper than {MAX_DEPTH} levels")
            self.marks.append(stack)
            self.stack = []
        elif op == _P.POP:
            if stack:
                stack.pop()
            else:
                self.pop_mark()
        elif op == _P.POP_MARK:
            self.pop_mark()
        elif op == _P.DUP:
            push(stack[-1])
        # ---- plain values
        elif op == _P.NONE:
            push(None)
        elif op in (_P.NEWTRUE, _P.NEWFALSE):
            push(op == _P.NEWTRUE)
        elif op == _P.BININT:
            push(self.unpack("<i"))
        elif op == _P.BININT1:
            push(self.read(1)[0])
        elif op == _P.BININT2:
            push(self.unpack("<H"))
        elif op == _P.LONG1:
            push(int.from_bytes(self.read(self.read(1)[0]), "little", signed=True))
        elif op == _P.LONG4:
            n = self.unpack("<i")
            push(int.from_bytes(self.read(n), "little", signed=True))
        elif op == _P.INT:
            line = self.readline()
            push(True if line == b"01" else False if line == b"00" else int(line))
        elif op == _P.LONG:
            push(int(self.readline().rstrip(b"L")))
        elif op == _P.BINFLOAT:
            push(self.unpack(">d"))
        elif op == _P.FLOAT:
            push(float(self.readline()))
        elif op in (_P.BINUNICODE, _P.SHORT_BINUNICODE, _P.BINUNICODE8):
            n = self.read(1)[0] if op == _P.SHORT_BINUNICODE else self.unpack(
                "<I" if op == _P.BINUNICODE else "<Q")
            push(str(self.read(n), "utf-8", "surrogatepass"))
        elif op == _P.UNICODE:
            push(str(self.readline(), "raw-unicode-escape"))
        elif op in (_P.BINBYTES, _P.SHORT_BINBYTES, _P.BINBYTES8, _P.BYTEARRAY8):
            n = self.read(1)[0] if op == _P.SHORT_BINBYTES else self.unpack(
                "<I" if op == _P.BINBYTES else "<Q")
            push(bytearray(self.read(n)) if op == _P.BYTEARRAY8 else self.read(n))
        elif op in (_P.SHORT_BINSTRING, _P.BINSTRING):  # Python 2 str, read as PyTorch does
            n = self.read(1)[0] if op == _P.SHORT_BINSTRING else self.unpack("<i")
            push(str(self.read(n), "latin1"))
        # ---- containers
        elif op == _P.EMPTY_TUPLE:
            push(())
        elif op in (_P.TUPLE1, _P.TUPLE2, _P.TUPLE3):
            n = {_P.TUPLE1: 1, _P.TUPLE2: 2, _P.TUPLE3: 3}[op]
            if len(stack) < n:
                raise self.error("corrupt pickle: stack underflow")
            items = tuple(stack[-n:])
            del stack[-n:]
            push(items)
        elif op == _P.TUPLE:
            items = tuple(self.pop_mark())  # first: pop_mark swaps self.stack
            self.stack.append(items)
        elif op == _P.EMPTY_LIST:
            push([])
        elif op == _P.LIST:
            items = self.pop_mark()
            self.stack.append(items)
        elif op == _P.EMPTY_DICT:
            push({})
        elif op == _P.DICT:
            items = self.pop_mark()
            self.stack.append(dict(zip(items[::2], items[1::2], strict=True)))
        elif op == _P.EMPTY_SET:
            push(set())
        elif op == _P.FROZENSET:
            items = frozenset(self.pop_mark())
            self.stack.append(items)
        elif op in (_P.APPEND, _P.APPENDS):
            items = [stack.pop()] if op == _P.APPEND else self.pop_mark()
            target = self.stack[-1]
            if not isinstance(target, list):
                raise self.error(f"can only APPEND to a list, got {type(target).__name__}")
            target.extend(items)
        elif op in (_P.SETITEM, _P.SETITEMS):
            if op == _P.SETITEM:
                value, key = stack.pop(), stack.pop()
                items = [key, value]
            else:
                items = self.pop_mark()
            target = self.stack[-1]
            if not isinstance(target, dict) or len(items) % 2:
                raise self.error(f"can only SETITEM key/value pairs into a dict, got "
                                 f"{type(target).__name__}")
            for k, v in zip(items[::2], items[1::2], strict=True):
                target[k] = v
        elif op == _P.ADDITEMS:
            items = self.pop_mark()
            target = self.stack[-1]
            if not isinstance(target, set):
                raise self.error(f"can only ADDITEMS to a set, got {type(target).__name__}")
            target.update(items)
        # ---- memo
        elif op in (_P.BINPUT, _P.LONG_BINPUT, _P.PUT, _P.MEMOIZE):
            i = self.read(1)[0] if op == _P.BINPUT else (
                self.unpack("<I") if op == _P.LONG_BINPUT else
                len(self.memo) if op == _P.MEMOIZE else int(self.readline()))
            self.memo[i] = stack[-1]
            if getattr(type(stack[-1]), "_pickle_standin", False):
                self.standin_keys.setdefault(id(stack[-1]), []).append(i)
        elif op in (_P.BINGET, _P.LONG_BINGET, _P.GET):
            i = self.read(1)[0] if op == _P.BINGET else (
                self.unpack("<I") if op == _P.LONG_BINGET else int(self.readline()))
            if i not in self.memo:
                raise self.error(f"corrupt pickle: memo key {i} is not defined")
            push(self.memo[i])
        # ---- the risky ones: every object that can act went through the allowlist
        elif op in (_P.GLOBAL, _P.STACK_GLOBAL):
            if op == _P.GLOBAL:
                module, name = (str(self.readline(), "utf-8") for _ in range(2))
            else:
                name, module = stack.pop(), stack.pop()
                if not isinstance(module, str) or not isinstance(name, str):
                    raise self.error("STACK_GLOBAL needs two str")
            push(self.find_class(module, name))
        elif op == _P.REDUCE:
            args, func = stack.pop(), stack.pop()
            if not any(func is g for g in self.callables) or not callable(func):
                raise self.error(f"REDUCE of {func!r:.80} which is not an allowed global")
            if not isinstance(args, tuple):
                raise self.error("REDUCE needs a tuple of arguments")
            push(func(*args))
        elif op in (_P.NEWOBJ, _P.NEWOBJ_EX):
            kwargs = stack.pop() if op == _P.NEWOBJ_EX else {}
            args, cls = stack.pop(), stack.pop()
            if not any(cls is c for c in self.classes) or not isinstance(args, tuple) or \
                    not isinstance(kwargs, dict):
                raise self.error(f"NEWOBJ of {cls!r:.80} which is not an allowed class")
            push(cls.__new__(cls, *args, **kwargs))
        elif op == _P.BUILD:
            state, inst = stack.pop(), stack[-1]
            if getattr(type(inst), "_pickle_standin", False):
                # our own stand-in (for a NumPy array, say) checks the state and returns the
                # real object, which takes its place on the stack and in the memo
                stack[-1] = inst.__setstate__(state)
                for i in self.standin_keys.pop(id(inst), ()):
                    self.memo[i] = stack[-1]
            else:
                self.build(inst, state)
        elif op in (_P.BINPERSID, _P.PERSID):
            pid = stack.pop() if op == _P.BINPERSID else str(self.readline(), "ascii")
            if self.persistent_load is None:
                raise self.error("persistent id in a pickle that has no storages")
            push(self.persistent_load(pid))
        else:
            raise self.error(f"unsupported pickle opcode {op!r}")

    def find_class(self, module: str, name: str) -> Any:
        full = full_name(module, name, self.proto)
        if full not in self.globals:
            raise UnpicklingError(_how_to_allow(full[:200]))
        return self.globals[full]

    def build(self, inst: Any, state: Any) -> None:
        """BUILD on an instance of an allowed class: __setstate__, or set its attributes."""
        setstate = getattr(type(inst), "__setstate__", None)
        if setstate is not None and any(type(inst) is c for c in self.classes):
            setstate(inst, state)
            return
        if not (type(inst) is OrderedDict or type(inst) is Counter or
                any(type(inst) is c for c in self.classes)):
            raise self.error(f"BUILD of {type(inst).__name__}, which is not an allowed class")
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if state:
            if not isinstance(state, dict):
                raise self.error(f"BUILD state of {type(inst).__name__} is not a dict")
            inst.__dict__.update(state)
        if slotstate:
            for k, v in slotstate.items():
                setattr(inst, k, v)


def full_name(module: str, name: str, proto: int) -> str:
    """"module.name" as Python 3 spells it (protocol 2 streams use Python 2's names)."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


def globals_in(data: bytes) -> list[str]:
    """The full names of the globals a pickle names, in order, read without running it."""
    names, strings, proto = [], [], 0
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "PROTO":
                proto = arg
            elif op.name == "GLOBAL":
                names.append(full_name(*arg.split(" ", 1), proto))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(full_name(strings[-2], strings[-1], proto))
            if isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except ValueError as e:
        raise UnpicklingError(f"corrupt pickle: {e}") from e
    return list(dict.fromkeys(names))


def check_depth(obj: Any, limit: int) -> None:
    """Raise UnpicklingError if containers nest deeper than `limit`: the longest chain of
    containers, found iteratively (a memo can share and cycle containers, so the depth
    seen while loading is not enough)."""
    height: dict[int, int] = {}  # id -> containers on the longest chain down from it
    on_path: set[int] = set()  # a cycle back to one of these adds no depth
    todo = [(obj, None)]
    while todo:
        x, kids = todo.pop()
        if kids is not None:  # all of x's children are done
            on_path.discard(id(x))
            height[id(x)] = 1 + max((height.get(id(c), 0) for c in kids), default=0)
            if height[id(x)] > limit:
                raise UnpicklingError(f"pickle nested deeper than {limit} levels")
            continue
        if id(x) in height or id(x) in on_path:
            continue
        kids = _children(x)
        if kids:
            on_path.add(id(x))
            todo.append((x, kids))  # keeps x alive, so ids stay unique
            todo.extend((c, None) for c in kids)


_ATOMS = (type(None), bool, int, float, complex, str, bytes)


def _children(x: Any) -> list:
    if isinstance(x, _ATOMS):
        return []
    if isinstance(x, dict):
        return [*x.keys(), *x.values()]
    if isinstance(x, (list, tuple, set, frozenset)):
        return [c for c in x if not isinstance(c, _ATOMS)]
    d = getattr(x, "__dict__", None)
    return list(d.values()) if isinstance(d, dict) else []
