"""Containers: Sequential, ModuleList, ModuleDict.

Each holds its modules as attributes named "0", "1", ... (or by key), so Module's walk over
`vars(self)` finds them and the state-dict names are PyTorch's (`layers.0.weight`).
"""

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from tinygrad_lstm.nn.module import Module


def _modules_in_order(container: Module) -> list:
    return [m for _, m in container._own()[1]]


def _as_module(module, owner: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: {type(module).__name__} is not a Module subclass")
    return module


def _index(container: Module, idx, owner: str) -> int:
    n = len(container)
    if not isinstance(idx, (int, np.integer)) or isinstance(idx, bool):
        raise TypeError(f"{owner} indices must be integers or slices, not {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{owner}: index {idx} is out of range for {n} modules")
    return int(idx) % n


class _IndexedModules(Module):
    """Modules stored under the attribute names "0", "1", ... (renumbered on insert/delete),
    or under the names of an OrderedDict."""

    _slice_keeps_names = False

    def __init__(self, modules: Iterable | None = None) -> None:
        super().__init__()
        if isinstance(modules, OrderedDict):
            for name, m in modules.items():
                self.add_module(name, _as_module(m, type(self).__name__))
        elif modules is not None:
            self.extend(modules)

    def _reset(self, modules: list) -> None:
        for key in [k for k, v in vars(self).items() if isinstance(v, Module)]:
            object.__delattr__(self, key)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._own()[1])

    def __iter__(self) -> Iterator[Module]:
        return iter(_modules_in_order(self))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            items = self._own()[1][idx]
            return type(self)(OrderedDict(items) if self._slice_keeps_names
                              else [m for _, m in items])
        return self._own()[1][_index(self, idx, type(self).__name__)][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        name = self._own()[1][_index(self, idx, type(self).__name__)][0]
        setattr(self, name, _as_module(module, type(self).__name__))

    def __delitem__(self, idx) -> None:
        modules = _modules_in_order(self)
        if isinstance(idx, slice):
            del modules[idx]
        else:
            del modules[_index(self, idx, type(self).__name__)]
        self._reset(modules)

    def append(self, module: Module):
        self.add_module(str(len(self)), _as_module(module, type(self).__name__))
        return self

    def extend(self, modules: Iterable):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = _modules_in_order(self)
        modules.insert(index, _as_module(module, type(self).__name__))
        self._reset(modules)


class ModuleList(_IndexedModules):
    """A list of modules whose parameters are registered as `0.weight`, `1.weight`, ...
    It has no forward: index it or iterate over it."""

    # A ModuleList is never called, so no graph scope of its own: its items carry its name
    # ("layers.0") in graph pictures, not a bare "0".
    def _set_scope_name(self, name: str) -> None:
        if self._scope_name is None:
            self._scope_name = name
            for i, m in enumerate(self):
                if m._scope_name == str(i):
                    m._scope_name = f"{name}.{i}"

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, Module) and self._scope_name is not None:
            value._set_scope_name(f"{self._scope_name}.{name}")
        super().__setattr__(name, value)


class Sequential(_IndexedModules):
    """Modules applied one after another: `Sequential(a, b)(x) == b(a(x))`.

    Also takes one OrderedDict of name -> module, whose names then appear in the state dict.
    """

    _slice_keeps_names = True

    def __init__(self, *args) -> None:
        super().__init__(args[0] if len(args) == 1 and isinstance(args[0], OrderedDict)
                         else args)

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered as `key.weight`, ..."""

    def __init__(self, modules: Mapping | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self:
            raise KeyError(key)
        return vars(self)[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _as_module(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key) -> bool:
        return isinstance(vars(self).get(key), Module)

    def __len__(self) -> int:
        return len(self._own()[1])

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list:
        return [name for name, _ in self._own()[1]]

    def values(self) -> list:
        return [m for _, m in self._own()[1]]

    def items(self) -> list:
        return self._own()[1]

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Mapping | Iterable) -> None:
        items = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for key, module in items:
            self[key] = module
