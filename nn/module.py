"""Module: the base class of every layer, found by walking its attributes (tinygrad style)."""

import math
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from tinygrad_lstm import dtypes
from tinygrad_lstm.autograd import graph_scope, no_grad
from tinygrad_lstm.conversions import parse_to_args
from tinygrad_lstm.device import as_device
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.recording import (_state, model_changed, register_module_class,
                                     replayed_as_call)
from tinygrad_lstm.tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def factory_dtype(owner: str, device=None, dtype=None) -> np.dtype:
    """The NumPy dtype a layer makes its parameters in, from PyTorch's factory keywords:
    device (the CPU only; others raise) and dtype (floating; None means the default dtype)."""
    as_device(device)
    if dtype is None:
        return dtypes.default_float()
    dt = dtypes.to_numpy(dtype)
    if dt.kind != "f":
        raise TypeError(f"{owner}: parameters need a floating point dtype, got "
                        f"dtype={dtypes.by_numpy[dt]}")
    return dt


def check_size(owner: str, name: str, value, positive: bool = False) -> None:
    """A layer's size argument: an int (TypeError otherwise), >= 0, or > 0 if `positive`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} should be of type int, got {type(value).__name__}")
    if positive and value <= 0:
        raise ValueError(f"{owner}: {name} must be greater than zero, got {value}")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be non-negative, got {value}")


_UNSET = object()


class Module:
    """Base class for layers: subclass it, assign Parameters and sub-Modules as attributes in
    `__init__` (after `super().__init__()`), and define `forward`.

    Parameters, child Modules (also inside lists and tuples) and registered buffers are found
    by walking `vars(self)` in insertion order, so `self.fc = Linear(2, 3)` makes the
    parameters `fc.weight` and `fc.bias` with no registration call, as in PyTorch.
    """

    _scope_name = None  # label of the module's nodes in graph pictures, set when first assigned

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffers", {})  # buffer name -> persistent (in state_dict)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args, **kwargs):
        label = self._scope_name or type(self).__name__.lower()
        if _state.tracer is not None:  # tl.compile: the label also counts the calls
            label = _state.tracer.module_called(self, label)
        with graph_scope(label):
            return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration

    def __setattr__(self, name: str, value) -> None:
        # the first parent names a module in graph pictures; "layers.0" for list items
        module = _module_of(value)
        if module is not None or isinstance(value, Parameter):
            self._check_init(name, value)
            if module is not None:
                module._set_scope_name(name)
        elif type(value) in (list, tuple):
            for i, v in enumerate(value):
                module = _module_of(v)
                if module is not None or isinstance(v, Parameter):
                    self._check_init(name, v)
                    if module is not None:
                        module._set_scope_name(f"{name}.{i}")
        elif name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(Tensor or None expected)")
        if name != "training":  # train()/eval(): tl.compile guards the mode itself
            self._changed(name, value, "assigned")
        object.__setattr__(self, name, value)

    def _changed(self, name: str, value, how: str) -> None:
        """A module a tl.compile program called (it has a `_compiled` version) gets another
        attribute: its programs stop matching. `self.count += 1` on a tensor assigns the same
        object back, and an equal number is no change (a float to its sign: 0.0 to -0.0 is)."""
        if "_compiled" not in self.__dict__:
            return
        old = self.__dict__.get(name, _UNSET)
        if old is value or (type(old) is type(value) and type(value) in (int, float, bool, str)
                            and old == value and (type(value) is not float or
                                                  math.copysign(1.0, old) ==
                                                  math.copysign(1.0, value))):
            return
        self.__dict__["_compiled"] += 1  # its version: the programs that called it check it
        model_changed(f"{type(self).__name__}.{name} is {how}")

    def _check_init(self, name: str, value) -> None:
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"cannot assign {type(value).__name__} to '{name}' before "
                                 f"Module.__init__() call")

    def __delattr__(self, name: str) -> None:
        self._changed(name, _UNSET, "deleted")
        object.__delattr__(self, name)
        self.__dict__.get("_buffers", {}).pop(name, None)

    def _set_scope_name(self, name: str) -> None:
        if self._scope_name is None:
            self._scope_name = name

    def _check_new_name(self, name, what: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{what} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{what} name can\'t be empty string ""')

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a Tensor that is state but not a parameter (saved in state_dict if persistent)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and (not isinstance(tensor, Tensor) or isinstance(tensor,
                                                                                   Parameter)):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            f"(Tensor or None required)")
        self._buffers[name] = bool(persistent)
        self._changed(name, tensor, "replaced")
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Same as `setattr(self, name, param)`, with PyTorch's checks."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (nn.Parameter or None required)")
        setattr(self, name, param)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Same as `setattr(self, name, module)`, with PyTorch's checks."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and not isinstance(getattr(self, name), (Module, type(None))):
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module)

    def _own(self) -> tuple[list, list]:
        """([(name, Parameter)], [(name, Module)]) held directly, in attribute order."""
        params, children = [], []
        buffers = self.__dict__.get("_buffers", ())
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                if name not in buffers:
                    params.append((name, value))
            elif (module := _module_of(value)) is not None:
                children.append((name, module))
            elif type(value) in (list, tuple):
                for i, v in enumerate(value):
                    if isinstance(v, Parameter):
                        params.append((f"{name}.{i}", v))
                    elif (module := _module_of(v)) is not None:
                        children.append((f"{name}.{i}", module))
        return params, children

    # ------------------------------------------------------------ traversal

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._own()[1]:
            if id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every sub-module, depth first (pre-order), each once; `memo` is
        PyTorch's set of modules already seen (they are skipped with their sub-modules)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, m in self._own()[1]:
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                       remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter): each module's own first, then its children's, as PyTorch."""
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, m in modules:
            for name, p in m._own()[0]:
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{module_prefix}.{name}" if module_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def _own_buffers(self, persistent_only: bool = False) -> list:
        return [(name, self.__dict__[name]) for name, persistent in self._buffers.items()
                if self.__dict__[name] is not None and (persistent or not persistent_only)]

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, m in modules:
            for name, b in m._own_buffers():
                yield (f"{module_prefix}.{name}" if module_prefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call fn on every sub-module (children first), then on self, as in PyTorch."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients

    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @replayed_as_call  # tl.compile: run at every replay, as an optimizer's zero_grad
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or, with set_to_none=False, fill it with zeros)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._array[...] = 0

    def to(self, *args, **kwargs) -> "Module":
        """`to(device)`, `to(dtype)`, `to(device, dtype)` or `to(tensor)`, as in PyTorch: cast
        floating-point parameters and buffers in place (the same Parameter objects hold new
        arrays, so optimizers built on them keep working). The CPU is the only device."""
        device, dtype, _ = parse_to_args("Module.to", args, kwargs)
        as_device(device)
        if dtype is None:
            return self
        dtype = dtypes.to_numpy(dtype)
        if dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtypes.by_numpy[dtype]}")
        tensors = list(self.parameters()) + list(self.buffers())
        for t in tensors:
            if t._array.dtype.kind == "f" and t._array.dtype != dtype:
                t._array = t._array.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor(t.grad._array, dtype=dtype)
        return self

    def cpu(self) -> "Module":
        return self

    def cuda(self, device=None) -> "Module":
        as_device("cuda" if device is None else device)  # raises: this build has no CUDA
        return self

    def double(self) -> "Module":
        return self.to(dtypes.float64)

    def float(self) -> "Module":
        return self.to(dtypes.float32)

    def half(self) -> "Module":
        return self.to(dtypes.float16)

    # ------------------------------------------------------------ state dict

    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """name -> Tensor for every parameter and persistent buffer, in PyTorch's order: a
        module's parameters, then its buffers, then its children's entries. The Tensors are
        detached but share the parameters' arrays (keep_vars=True gives the Parameters)."""
        if destination is None:
            destination = OrderedDict()
        params, children = self._own()
        for name, t in params + self._own_buffers(persistent_only=True):
            destination[prefix + name] = t if keep_vars else t.detach()
        for name, m in children:
            m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors or NumPy arrays) into the parameters and buffers, cast to each
        one's dtype. Everything is checked first: on a missing or unexpected key (strict) or a
        shape mismatch it raises and changes nothing. Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, updates = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                value = value._array
            elif not isinstance(value, (np.ndarray, np.generic)):
                raise TypeError(f"While copying the parameter named \"{key}\", expected a Tensor "
                                f"or a NumPy array from checkpoint but received "
                                f"{type(value).__name__}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"While copying the parameter named \"{key}\", expected a numeric "
                                f"array but received dtype {value.dtype}")
            if value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{value.shape} from checkpoint, the shape in current model is "
                              f"{target.shape}.")
                continue
            updates.append((target, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for target, value in updates:
                target.copy_(value.astype(target._array.dtype, copy=False))  # copies, never aliases
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ repr

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (override it)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._own()[1]]
        if len(lines) == 1 and not children:
            return f"{type(self).__name__}({extra})"
        body = lines + children
        return type(self).__name__ + "(" + ("\n  " + "\n  ".join(body) + "\n" if body else "") \
            + ")"


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (PyTorch's helper for nested reprs)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


register_module_class(Module)  # for tl.compile, which is below nn


def _module_of(value) -> "Module | None":
    """value if it is a Module, the module it compiled if it is tl.compile(module), else None."""
    if isinstance(value, Module):
        return value
    compiled = getattr(value, "_orig_mod", None)
    return compiled if isinstance(compiled, Module) else None
