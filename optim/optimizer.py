"""Optimizer: the base class holding parameter groups and per-parameter state (torch.optim)."""

from __future__ import annotations

import copy
import numbers
import operator
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import enable_grad
from tinygrad_lstm.recording import (Identity, _state, guard_on_result, replay_as_calls,
                                     replayed_as_call)
from tinygrad_lstm.tensor import Tensor


class _ParamGroups(list):
    """An optimizer's param_groups: a list of the groups' own dicts, as PyTorch's. Under
    tl.compile a group taken from it is a _GuardedGroup, so that a number the compiled function
    reads from a group itself (a hand-written update's learning rate) guards the program: after
    a scheduler or a loaded state dict has changed it, the next call traces again rather than
    replay the old number. (The optimizer's own step() runs for real at each replay.)"""

    def __init__(self, optimizer, groups=()) -> None:
        super().__init__(groups)
        self.optimizer = optimizer

    def __getitem__(self, index):
        group = list.__getitem__(self, index)
        if _state.tracer is None:
            return group
        _group_count(self.optimizer)  # a guard: another group added
        n = list.__len__(self)
        if isinstance(index, slice):
            return [_GuardedGroup(self.optimizer, i, list.__getitem__(self, i))
                    for i in range(*index.indices(n))]
        return _GuardedGroup(self.optimizer, index % n, group)

    def __iter__(self):
        if _state.tracer is None:
            return list.__iter__(self)
        _group_count(self.optimizer)
        return (_GuardedGroup(self.optimizer, i, list.__getitem__(self, i))
                for i in range(list.__len__(self)))

    def __reversed__(self):
        if _state.tracer is None:
            return list.__reversed__(self)
        _group_count(self.optimizer)
        return (_GuardedGroup(self.optimizer, i, list.__getitem__(self, i))
                for i in reversed(range(list.__len__(self))))

    def __len__(self) -> int:
        if _state.tracer is not None:
            _group_count(self.optimizer)
        return list.__len__(self)

    def copy(self) -> list:
        return list(self)


class _GuardedGroup(MutableMapping):
    """A parameter group read under tl.compile: reads and writes go to the group's dict; every
    key read, or found missing, is a guard on optimizer.param_groups[index][key] (`_group_value`),
    and so is the set of its keys when it is iterated."""

    def __init__(self, optimizer, index: int, group: dict) -> None:
        self._optimizer, self._index, self._group = optimizer, index, group

    def __getitem__(self, key):
        tracer = _state.tracer
        if tracer is not None:
            # a scheduler's step before the read may change a number (not the params' list)
            if getattr(tracer, "stepped", False) and not isinstance(self._group.get(key), list):
                tracer.refuse(f"a parameter group's {key!r} is read after a scheduler's step "
                              f"inside the function: a replay would check it before the step "
                              f"(read it before the step, or outside)")
            _group_value(self._optimizer, self._index, key)  # a guard: a missing key too
        return self._group[key]

    def __setitem__(self, key, value) -> None:
        refuse_in_trace(f"a parameter group's {key!r} written")  # (outside, or by a scheduler)
        self._group[key] = value

    def __delitem__(self, key) -> None:
        refuse_in_trace(f"a parameter group's {key!r} written")  # (outside, or by a scheduler)
        del self._group[key]

    def __iter__(self):
        if _state.tracer is not None:
            _group_keys(self._optimizer, self._index)
        return iter(self._group)

    def __len__(self) -> int:
        if _state.tracer is not None:
            _group_keys(self._optimizer, self._index)
        return len(self._group)


def refuse_in_trace(what: str) -> None:
    """Inside a function tl.compile traces: its program would not do `what` (a Python-side
    change of an optimizer or scheduler), so the function stays eager."""
    tracer = _state.tracer
    if tracer is not None:
        tracer.refuse(f"{what} inside the function: a replay would not do it")


@guard_on_result
def _group_count(optimizer) -> int:
    return list.__len__(optimizer.param_groups)


@guard_on_result
def _group_value(optimizer, index: int, key):
    """optimizer.param_groups[index][key] as it is now, in a form the guard can compare with
    the same read later (`_comparable`); _MISSING where the group or the key is not there."""
    groups = optimizer.param_groups  # read without the guards of _ParamGroups
    group = list.__getitem__(groups, index) if index < list.__len__(groups) else {}
    return _comparable(group.get(key, _MISSING))


@guard_on_result
def _group_keys(optimizer, index: int) -> tuple:
    groups = optimizer.param_groups
    return tuple(list.__getitem__(groups, index)) if index < list.__len__(groups) else ()


_MISSING = object()


class _SameItems:
    """A list of tensors in a guard's answer: the same objects in the same order (held)."""

    __slots__ = ("items",)

    def __init__(self, items) -> None:
        self.items = tuple(items)

    def __eq__(self, other) -> bool:
        return type(other) is _SameItems and len(other.items) == len(self.items) and \
            all(map(operator.is_, self.items, other.items))

    __hash__ = None


def _comparable(value):
    """A group's value for a guard (compared by type and bits, through lists, tuples and
    dicts): a number or None as it is; an array as a copy (a write into it is a change); a
    tensor (its params; a program reads the object itself) by identity."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):  # the params, by identity in one comparison (perf: 400 of them)
        return _SameItems(value) if all(isinstance(v, Tensor) for v in value) else \
            [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, (numbers.Number, np.generic, str, bytes, type(None))):
        return value
    return Identity(value)  # a tensor, or any other object


class _StateByParam(MutableMapping):
    """`optimizer.state`: one dict per parameter, keyed by identity (Tensor `==` is elementwise).

    Like PyTorch's `defaultdict(dict)`, reading a parameter that has no state yet creates it.
    """

    def __init__(self) -> None:
        self._items: dict[int, tuple[Any, dict]] = {}  # id(p) -> (p, state); p keeps id unique

    def __getitem__(self, p) -> dict:
        if id(p) not in self._items:
            self._items[id(p)] = (p, {})
        return self._items[id(p)][1]

    def __setitem__(self, p, state: dict) -> None:
        self._items[id(p)] = (p, state)

    def __delitem__(self, p) -> None:
        del self._items[id(p)]

    def __contains__(self, p) -> bool:
        return id(p) in self._items

    def __iter__(self) -> Iterator:
        return iter([p for p, _ in self._items.values()])

    def __len__(self) -> int:
        return len(self._items)

    def get(self, p, default=None):
        return self._items[id(p)][1] if id(p) in self._items else default


def check_nonnegative(**hyperparameters) -> None:
    """PyTorch's argument checks, in its words: `Invalid learning rate: -1`, ..."""
    for name, value in hyperparameters.items():
        if value < 0.0:
            label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value}")


# PyTorch's implementation switches that this library does not have, and why; `foreach` (its
# multi-tensor ops in place of a loop over parameters) gives the same numbers: any value is kept
UNSUPPORTED_IMPLEMENTATIONS = {
    "fused": "there are no fused kernels here, a step is a loop over NumPy arrays",
    "capturable": "there are no CUDA graphs to capture, the CPU is the only device",
    "differentiable": "step() updates the parameters under no_grad and records no graph",
}


def scalars(dtype: np.dtype, *values: float) -> list[np.ndarray]:
    """`values` as 0-d arrays of `dtype`, for the elementwise updates of a step: each rounded to
    the parameter's dtype once, as PyTorch rounds a scalar operand (and NumPy a Python float, at
    every call: that conversion alone doubles the cost of an update on a small parameter)."""
    return [np.array(v, dtype) for v in values]


class Optimizer:
    """Base class of all optimizers: parameter groups, per-parameter state, state_dict.

    params: an iterable of Tensors, or of dicts (parameter groups) each holding 'params' and
    any options that override `defaults` for that group, as in PyTorch:
        SGD([{'params': body_params}, {'params': head_params, 'lr': 1e-2}], lr=1e-3)
    Any leaf Tensor can be optimised; parameters whose .grad is None are skipped by step().
    step() computes on the NumPy arrays and writes each parameter with an in-place Tensor op
    (sub_/mul_), which bumps its version: a graph that saved the old values refuses backward.
    `state[p]` holds the per-parameter buffers under PyTorch's keys. PyTorch's implementation
    switches are accepted and kept in the groups: any `foreach` (same numbers), and fused,
    capturable, differentiable when None or False; True raises NotImplementedError.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        # under tl.compile a step is one call of the program, run for real at every replay: its
        # step counts and learning rates are Python values that change from call to call
        super().__init_subclass__(**kwargs)
        replay_as_calls(cls, "step", "zero_grad")

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        if _state.tracer is not None:  # (its add_param_group calls say so too, after this)
            _state.tracer.refuse("an optimizer made inside the function: its state (momentum, "
                                 "Adam's moments) would start anew at every call; make it once, "
                                 "outside")
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        self.state = _StateByParam()
        self.param_groups: list[dict[str, Any]] = _ParamGroups(self)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options; missing options take the defaults."""
        refuse_in_trace("an optimizer's add_param_group")
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        params = list(params)
        first_at: dict[int, int] = {}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}], shape {p.shape})")
            if id(p) in first_at:
                raise ValueError(
                    "optimizer contains a parameter group with duplicate parameters: the Tensor "
                    f"of shape {p.shape} is given at params[{first_at[id(p)]}] and params[{i}]"
                )
            first_at[id(p)] = i
        for group in self.param_groups:
            if any(id(p) in first_at for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self._check_implementation(param_group)
        self.param_groups.append(param_group)

    def _check_implementation(self, group: dict[str, Any], where: str = "") -> None:
        """Refuse fused=True, capturable=True or differentiable=True (constructor, added group or
        loaded state dict): a step here would not be what they ask for."""
        for name, why in UNSUPPORTED_IMPLEMENTATIONS.items():
            if group.get(name):
                raise NotImplementedError(
                    f"{type(self).__name__}: {name}={group[name]!r}{where} is not supported: "
                    f"{why} (use {name}=False)"
                )

    @replayed_as_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._array.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    @staticmethod
    def _params_with_grad(group: dict[str, Any]) -> Iterator[tuple[Tensor, np.ndarray]]:
        """(p, gradient array) for each parameter of `group` whose .grad is set; the gradient
        negated when the group maximizes."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, (-p.grad._array if group["maximize"] else p.grad._array)

    @staticmethod
    def _eval_closure(closure: Callable[[], Any] | None) -> Any:
        """Run `closure` (it recomputes the loss and calls backward) with grad enabled."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def state_dict(self) -> dict[str, Any]:
        """A snapshot in PyTorch's layout, parameters replaced by their index across groups.

        {'state': {index: {'step': int, 'exp_avg': ndarray, ...}},
         'param_groups': [{'lr': ..., ..., 'params': [index, ...]}, ...]}
        Arrays are copies, so the snapshot does not change as training goes on.
        """
        index: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index[id(p)] = len(index)
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            param_groups.append(packed)
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
        }
        return {"state": dict(sorted(state.items())), "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()` onto this optimizer's parameters, matched by index.

        The number of groups and each group's size must match. Arrays (and the tensors of a
        torch.save file) are copied into the parameter's dtype (their shapes checked); 'step'
        becomes a Python number. The saved group options (lr, betas, ...) replace the current
        ones; an option the saved group lacks (a checkpoint from before PyTorch added 'foreach'
        or 'maximize') takes this optimizer's default. fused, capturable or differentiable saved
        as True is refused, as in the constructor.
        """
        refuse_in_trace("an optimizer's load_state_dict")
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups: "
                f"{len(saved_groups)} in the state dict, {len(groups)} in the optimizer"
            )
        param_of: dict[int, Any] = {}
        for i, (group, saved) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {i} has {len(saved['params'])} parameters in "
                    f"the state dict, {len(group['params'])} in the optimizer"
                )
            param_of.update(zip((int(k) for k in saved["params"]), group["params"], strict=True))
            self._check_implementation(saved, f" in param_groups[{i}] of the state dict")
        state = _StateByParam()
        for k, saved_state in state_dict["state"].items():
            if int(k) not in param_of:
                raise ValueError(
                    f"loaded state dict has state for parameter {k}, which is in none of its "
                    f"parameter groups (indices 0..{len(param_of) - 1})"
                )
            p = param_of[int(k)]
            state[p] = {name: _load_value(name, v, p) for name, v in saved_state.items()}
        self.state = state
        self.param_groups = _ParamGroups(self, [
            {**self.defaults, **{k: _python_value(v) for k, v in saved.items() if k != "params"},
             "params": group["params"]}
            for group, saved in zip(groups, saved_groups, strict=True)
        ])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _python_value(v):
    """NumPy scalars (as a checkpoint may return them) -> Python numbers; 1-d arrays -> tuples,
    so that e.g. `lr * grad` keeps the parameter's dtype."""
    if isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0):
        return v.item()
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return tuple(v.tolist())
    return copy.deepcopy(v)


def _load_value(name: str, v, p):
    """A saved state value for parameter p: an array as a copy in p's dtype (shape checked),
    anything else as _python_value gives it."""
    if isinstance(v, Tensor):  # from a torch.save file: PyTorch keeps even 'step' in a tensor
        v = v._array
    if isinstance(v, np.ndarray) and v.ndim > 0:
        if v.shape != p._array.shape:
            raise ValueError(
                f"loaded state dict has {name!r} of shape {v.shape} for a parameter of shape "
                f"{p._array.shape}"
            )
        return np.array(v, dtype=p._array.dtype)  # a copy, in the parameter's dtype
    return _python_value(v)
