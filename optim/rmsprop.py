"""RMSprop: steps scaled by a running root-mean-square of the gradients (Hinton's lecture 6e)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.optim.optimizer import Optimizer, check_nonnegative


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop.

        input: α (alpha), γ (lr), θ_0 (params), f(θ) (objective), λ (weight decay),
               μ (momentum), centered, ε (eps), maximize
        initialize: v_0 ← 0 (square average), b_0 ← 0 (buffer), g^ave_0 ← 0
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            if λ ≠ 0:  g_t ← g_t + λ θ_{t-1}
            v_t ← α v_{t-1} + (1 - α) g_t²
            ṽ_t ← v_t
            if centered:
                g^ave_t ← α g^ave_{t-1} + (1 - α) g_t
                ṽ_t ← ṽ_t - (g^ave_t)²
            if μ > 0:
                b_t ← μ b_{t-1} + g_t / (√ṽ_t + ε)
                θ_t ← θ_{t-1} - γ b_t
            else:
                θ_t ← θ_{t-1} - γ g_t / (√ṽ_t + ε)
        return θ_t

    State per parameter: 'step', 'square_avg' (v_t), 'momentum_buffer' (b_t, if μ > 0),
    'grad_avg' (g^ave_t, if centered).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                          alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure()'s loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
            mu = group["momentum"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p._array)
                    if mu > 0:
                        state["momentum_buffer"] = np.zeros_like(p._array)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p._array)
                state["step"] += 1
                if wd != 0:
                    g = g + wd * p._array
                v = state["square_avg"]
                v *= alpha
                v += (1 - alpha) * g * g
                v_tilde = v
                if group["centered"]:
                    g_ave = state["grad_avg"]
                    g_ave *= alpha
                    g_ave += (1 - alpha) * g
                    v_tilde = v - g_ave * g_ave
                if mu > 0:
                    b = state["momentum_buffer"]
                    b *= mu
                    b += g / (np.sqrt(v_tilde) + eps)
                    p.sub_(lr * b)
                else:
                    p.sub_(lr * g / (np.sqrt(v_tilde) + eps))
        return loss
