"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2017)."""

from __future__ import annotations

from collections.abc import Iterable

from tinygrad_lstm.optim.adam import Adam


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: the decay shrinks θ directly and never enters m_t or v_t.

        input: γ (lr), β_1, β_2 (betas), θ_0 (params), f(θ) (objective),
               λ (weight decay), ε (eps), amsgrad, maximize
        initialize: m_0 ← 0 (first moment), v_0 ← 0 (second moment), v^max_0 ← 0
        for t = 1 to ... do
            if maximize:  g_t ← -∇_θ f_t(θ_{t-1})
            else:         g_t ←  ∇_θ f_t(θ_{t-1})
            θ_t ← θ_{t-1} - γ λ θ_{t-1}
            m_t ← β_1 m_{t-1} + (1 - β_1) g_t
            v_t ← β_2 v_{t-1} + (1 - β_2) g_t²
            m̂_t ← m_t / (1 - β_1^t)
            if amsgrad:
                v^max_t ← max(v^max_{t-1}, v_t)
                v̂_t ← v^max_t / (1 - β_2^t)
            else:
                v̂_t ← v_t / (1 - β_2^t)
            θ_t ← θ_t - γ m̂_t / (√v̂_t + ε)
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
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
