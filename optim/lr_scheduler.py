"""Learning-rate schedules that rewrite each param_group's 'lr' (torch.optim.lr_scheduler).

Call `scheduler.step()` once per epoch, after `optimizer.step()` (OneCycleLR and
CosineAnnealingWarmRestarts: once per batch; ReduceLROnPlateau: `step(val_loss)`). Like PyTorch,
StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR and CosineAnnealingLR compute the new
lr from the group's current lr (so they chain with manual lr changes); for an unmodified run the
numbers equal the closed forms given in their docstrings up to rounding.
"""

from __future__ import annotations

import copy
import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from tinygrad_lstm.optim.optimizer import Optimizer, refuse_in_trace
from tinygrad_lstm.recording import guard_on_result, replay_as_calls, replayed_as_call


EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available."
)


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class: tracks `last_epoch` and sets each group's lr to `get_lr()` on `step()`.

    A fresh start (last_epoch=-1) records each group's lr as group['initial_lr'] (the
    `base_lrs`); resuming (last_epoch >= 0) needs 'initial_lr' already in every group. The
    constructor takes the first step, so the epoch-0 lrs are in place right away.
    """

    writes_param_groups = True  # tl.compile: its step() changes the groups' numbers

    _is_initial = False  # True only during the constructor's step

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming an optimizer"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The constructor's step (last_epoch -> last_epoch + 1), with `_is_initial` set so that
        the chainable forms keep the current lrs instead of applying a change."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lrs for epoch `self.last_epoch`, one per group; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__}.get_lr is not implemented")

    @guard_on_result  # read inside a tl.compile'd function: the program holds while it holds
    def get_last_lr(self) -> list[float]:
        """The lrs set by the last step(), one per group."""
        return self._last_lr

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        replay_as_calls(cls, "step")  # under tl.compile: run for real at every replay

    @replayed_as_call
    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new lrs into the optimizer's groups.

        `step(epoch)` (deprecated in PyTorch, with its warning) jumps to `epoch` and uses the
        closed form where the scheduler has one.
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (which has its own state_dict)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        refuse_in_trace("a scheduler's load_state_dict")
        self.__dict__.update(copy.deepcopy(state_dict))


class _LRScheduler(LRScheduler):
    """The base class's old name, which older PyTorch programs subclass."""


class StepLR(LRScheduler):
    """Multiply the lr by gamma every step_size epochs: lr_t = lr_0 · γ^⌊t / step_size⌋."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepLR: expected step_size to be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone epoch: lr_t = lr_0 · γ^(number of milestones
    ≤ t). A milestone listed k times multiplies by γ^k."""

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr_t = lr_0 · factor for t < total_iters, then lr_0."""

    def __init__(
        self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from start_factor (s) to end_factor (e) over
    total_iters (T) epochs, then constant:

        lr_t = lr_0 · (s + (e - s) · min(t, T) / T)

    computed, as in PyTorch, by the ratio of consecutive factors:
        lr_t = lr_{t-1} · (1 + (e - s) / (T s + (t - 1)(e - s)))   for 1 ≤ t ≤ T
    """

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
        total_iters: int = 5, last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             "less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups, t = self.optimizer.param_groups, self.last_epoch
        s, e, T = self.start_factor, self.end_factor, self.total_iters
        if t == 0:
            return [group["lr"] * s for group in groups]
        if self._is_initial or t > T:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 + (e - s) / (T * s + (t - 1) * (e - s))) for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, T = self.start_factor, self.end_factor, self.total_iters
        return [base_lr * (s + (e - s) * min(T, self.last_epoch) / T)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every epoch: lr_t = lr_0 · γ^t."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from lr_0 (η_max) down to eta_min (η_min) over T_max epochs.

        η_t = η_min + ½ (η_max - η_min) (1 + cos(π t / T_max))

    computed, as in PyTorch, by the recursion (with an additive step right after each minimum,
    where the ratio's denominator is 0; past T_max the lr climbs back, period 2 T_max):
        η_t = η_min + (η_{t-1} - η_min) (1 + cos(π t / T_max)) / (1 + cos(π (t-1) / T_max))
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ValueError(
                f"CosineAnnealingLR: expected T_max to be a positive int, got {T_max!r}"
            )
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups, t = self.optimizer.param_groups, self.last_epoch
        T, eta_min = self.T_max, self.eta_min
        if t == 0:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:  # resumed at epoch t: nothing to recurse from
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # just past a minimum
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, groups, strict=True)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (group["lr"] - eta_min) + eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr_t = lr_0 · λ(t), with one function λ for all groups or a list of one per group.

    state_dict() keeps the __dict__ of callable objects used as λ, not plain functions.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        n_groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n_groups:
                raise ValueError(f"Expected {n_groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n_groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lambdas_and_base_lrs = zip(self.lr_lambdas, self.base_lrs, strict=True)
        return [base_lr * fn(self.last_epoch) for fn, base_lr in lambdas_and_base_lrs]

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        refuse_in_trace("a scheduler's load_state_dict")
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas, strict=True):
            if saved is not None:
                fn.__dict__.update(saved)


class SequentialLR(LRScheduler):
    """Hand over from one scheduler to the next at the milestone epochs.

    With schedulers [A, B] and milestones [m]: epochs 0..m-1 follow A; at epoch m, B restarts
    from its epoch 0 (its closed form, where it has one, so lr = B's value at 0 from base_lrs);
    later epochs step B. The constructor undoes the initial steps the schedulers took when they
    were built, and restarts A from the groups' initial_lr.
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name} at index {i} should have `optimizer` as its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{name} does not support `ReduceLROnPlateau` scheduler as it requires "
                    "additional kwargs to be specified when calling `step`, but got one at "
                    f"index {i} in the given schedulers sequence."
                )
            if optimizer is not scheduler.optimizer:
                raise ValueError(
                    f"{name} expects all schedulers to belong to the same optimizer, but got "
                    f"scheduler {type(scheduler).__name__} at index {i} has a different "
                    f"optimizer than the given {type(optimizer).__name__}."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more than "
                f"the number of milestone points, but got number of schedulers {len(schedulers)} "
                f"and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:  # undo the step each constructor took
            _undo_initial_step(scheduler)
        self._schedulers[0]._initial_step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # restart the next scheduler at its epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Own attributes, and each scheduler's state_dict under '_schedulers'."""
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        refuse_in_trace("a scheduler's load_state_dict")
        state_dict = dict(state_dict)
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(copy.deepcopy(state_dict))
        for scheduler, saved in zip(self._schedulers, schedulers, strict=True):
            scheduler.load_state_dict(saved)


def _undo_initial_step(scheduler) -> None:
    if hasattr(scheduler, "_schedulers"):
        for inner in scheduler._schedulers:
            _undo_initial_step(inner)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


# last: these modules subclass LRScheduler from above
from tinygrad_lstm.optim.lr_scheduler_cyclic import (  # noqa: E402
    CosineAnnealingWarmRestarts,
    OneCycleLR,
)
from tinygrad_lstm.optim.lr_scheduler_plateau import ReduceLROnPlateau  # noqa: E402

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
           "CosineAnnealingWarmRestarts", "OneCycleLR"]
