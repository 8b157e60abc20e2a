"""Learning-rate schedules that rewrite each param_group's 'lr' (torch.optim.lr_scheduler).

Call `scheduler.step()` once per epoch, after `optimizer.step()`. Like PyTorch, StepLR,
ExponentialLR and CosineAnnealingLR compute the new lr from the group's current lr (so they
chain with manual lr changes); for an unmodified run the numbers equal the closed forms given
in their docstrings up to rounding.
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from collections.abc import Callable
from typing import Any

from tinygrad_lstm.optim.optimizer import Optimizer


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class: tracks `last_epoch` and sets each group's lr to `get_lr()` on `step()`.

    A fresh start (last_epoch=-1) records each group's lr as group['initial_lr'] (the
    `base_lrs`); resuming (last_epoch >= 0) needs 'initial_lr' already in every group. The
    constructor takes the first step, so the epoch-0 lrs are in place right away.
    """

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
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """The lrs for epoch `self.last_epoch`, one per group; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__}.get_lr is not implemented")

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last step(), one per group."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch and write the new lrs into the optimizer's groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (which has its own state_dict)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


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
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas, strict=True):
            if saved is not None:
                fn.__dict__.update(saved)
