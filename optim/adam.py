"""Adam: steps from bias-corrected running moments of the gradient (Kingma & Ba, 2014)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.optim.optimizer import Optimizer, check_nonnegative, scalars


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay is an L2 term added to the gradient, or, with
    decoupled_weight_decay=True, AdamW's shrinking of θ: see optim.AdamW).

        input: γ (lr), β_1, β_2 (betas), θ_0 (params), f(θ) (objective),
               λ (weight decay), ε (eps), amsgrad, maximize
        initialize: m_0 ← 0 (first moment), v_0 ← 0 (second moment), v^max_0 ← 0
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            if λ ≠ 0:  g_t ← g_t + λ θ_{t-1}      (decoupled: θ_{t-1} ← θ_{t-1} - γ λ θ_{t-1})
            m_t ← β_1 m_{t-1} + (1 - β_1) g_t
            v_t ← β_2 v_{t-1} + (1 - β_2) g_t²
            m̂_t ← m_t / (1 - β_1^t)
            if amsgrad:
                v^max_t ← max(v^max_{t-1}, v_t)
                v̂_t ← v^max_t / (1 - β_2^t)
            else:
                v̂_t ← v_t / (1 - β_2^t)
            θ_t ← θ_{t-1} - γ m̂_t / (√v̂_t + ε)
        return θ_t

    State per parameter: 'step' (t), 'exp_avg' (m_t), 'exp_avg_sq' (v_t),
    'max_exp_avg_sq' (v^max_t, if amsgrad).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        check_nonnegative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure()'s loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            constants = {}  # (t, dtype) -> the update's scalars, shared by the group's params
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p._array)
                    state["exp_avg_sq"] = np.zeros_like(p._array)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p._array)
                state["step"] += 1
                t = state["step"]
                if wd != 0 and group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * wd)
                elif wd != 0:
                    g = g + wd * p._array
                dtype = p._array.dtype
                key = (t, dtype)
                if key not in constants:
                    constants[key] = scalars(dtype, beta1, 1 - beta1, beta2, 1 - beta2, eps,
                                             (1 - beta2**t) ** 0.5, lr / (1 - beta1**t))
                b1, one_minus_b1, b2, one_minus_b2, epsilon, bias_correction2_sqrt, step_size = \
                    constants[key]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                # one scratch buffer per parameter (an array even for a 0-d one); everything else
                # is updated in place
                buf = np.multiply(g, one_minus_b1, out=np.empty_like(m))
                m *= b1
                m += buf
                np.multiply(g, g, out=buf)
                buf *= one_minus_b2
                v *= b2
                v += buf
                if group["amsgrad"]:
                    v = state["max_exp_avg_sq"]
                    np.maximum(v, state["exp_avg_sq"], out=v)
                # PyTorch's arrangement: θ -= (γ / (1 - β_1^t)) m / (√v / √(1 - β_2^t) + ε)
                np.sqrt(v, out=buf)
                buf /= bias_correction2_sqrt
                buf += epsilon
                np.divide(m, buf, out=buf)
                buf *= step_size
                p.sub_(buf)
        return loss
