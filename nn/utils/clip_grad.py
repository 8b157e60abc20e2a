"""Gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_)."""

from collections.abc import Iterable

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.recording import replayed_as_call
from tinygrad_lstm.tensor import Tensor


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


@replayed_as_call  # under tl.compile: reads the norm into Python at every replay
def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most max_norm.

    total = ||(||g_1||, ..., ||g_k||)||_p over the parameters that have a grad;
    g *= max_norm / (total + 1e-6) when that is below 1. Returns total as a 0-d Tensor.
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    params = _with_grads(parameters)
    if not params:
        return Tensor(0.0)
    norms = [np.linalg.norm(p.grad._array.ravel(), norm_type) for p in params]
    dtype = np.result_type(*[p.grad._array.dtype for p in params])
    total = np.asarray(np.linalg.norm(np.array(norms, dtype), norm_type), dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    clip_coef = max_norm / (float(total) + 1e-6)
    if not clip_coef >= 1.0:  # also when NaN: PyTorch then scales by NaN too
        with no_grad():
            for p in params:
                p.grad.mul_(clip_coef)
    return Tensor(total)


@replayed_as_call
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _with_grads(parameters):
            p.grad.clamp_(-clip_value, clip_value)
