"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.optim.optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad.

        input: γ (lr), θ_0 (params), f(θ) (objective), λ (weight decay),
               τ (initial accumulator value), η (lr decay), ε (eps), maximize
        initialize: state_sum_0 ← τ
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            γ̃ ← γ / (1 + (t - 1) η)
            if λ ≠ 0:  g_t ← g_t + λ θ_{t-1}
            state_sum_t ← state_sum_{t-1} + g_t²
            θ_t ← θ_{t-1} - γ̃ g_t / (√state_sum_t + ε)
        return θ_t

    State per parameter: 'step' (t), 'sum' (state_sum_t).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure()'s loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            wd = group["weight_decay"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["sum"] = np.full_like(p._array, group["initial_accumulator_value"])
                state["step"] += 1
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                if wd != 0:
                    g = g + wd * p._array
                state_sum = state["sum"]
                state_sum += g * g
                p.sub_(clr * g / (np.sqrt(state_sum) + eps))
        return loss
