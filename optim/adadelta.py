"""Adadelta: Adagrad's steps with running averages in place of sums, and units fixed by the
running average of the past updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.optim.optimizer import Optimizer, check_nonnegative


class Adadelta(Optimizer):
    """Adadelta, as torch.optim.Adadelta.

        input: γ (lr), θ_0 (params), f(θ) (objective), ρ (decay), λ (weight decay), maximize
        initialize: v_0 ← 0 (square avg), u_0 ← 0 (accumulate variables)
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            if λ ≠ 0:  g_t ← g_t + λ θ_{t-1}
            v_t ← v_{t-1} ρ + g_t² (1 - ρ)
            Δx_t ← √(u_{t-1} + ε) / √(v_t + ε) g_t
            u_t ← u_{t-1} ρ + Δx_t² (1 - ρ)
            θ_t ← θ_{t-1} - γ Δx_t
        return θ_t

    State per parameter: 'step' (t), 'square_avg' (v_t), 'acc_delta' (u_t).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure()'s loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p._array)
                    state["acc_delta"] = np.zeros_like(p._array)
                state["step"] += 1
                if wd != 0:
                    g = g + wd * p._array
                v, u = state["square_avg"], state["acc_delta"]
                v *= rho
                v += (1 - rho) * g * g
                delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
                u *= rho
                u += (1 - rho) * delta * delta
                p.sub_(lr * delta)
        return loss
