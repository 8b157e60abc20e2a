"""SGD: stochastic gradient descent, optionally with (Nesterov) momentum."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.optim.optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as torch.optim.SGD.

        input: γ (lr), θ_0 (params), f(θ) (objective), λ (weight decay),
               μ (momentum), τ (dampening), nesterov, maximize
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            if λ ≠ 0:     g_t ← g_t + λ θ_{t-1}
            if μ ≠ 0:
                if t > 1:  b_t ← μ b_{t-1} + (1 - τ) g_t
                else:      b_t ← g_t
                if nesterov:  g_t ← g_t + μ b_t
                else:         g_t ← b_t
            θ_t ← θ_{t-1} - γ g_t
        return θ_t

    State per parameter: 'momentum_buffer' (b_t), kept only when μ ≠ 0.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure()'s loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            mu, tau = group["momentum"], group["dampening"]
            for p, g in self._params_with_grad(group):
                if wd != 0:
                    g = g + wd * p._array
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        # np.array, not g.copy(): g is a NumPy scalar where p is 0-d
                        b = state["momentum_buffer"] = np.array(g)
                    else:
                        b = state["momentum_buffer"]
                        b *= mu
                        b += (1 - tau) * g
                    g = g + mu * b if group["nesterov"] else b
                p.sub_(lr * g)
        return loss
