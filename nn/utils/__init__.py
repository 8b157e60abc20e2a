"""Utilities for modules (torch.nn.utils)."""

from tinygrad_lstm.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
