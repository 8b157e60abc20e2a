"""Utilities for modules (torch.nn.utils): gradient clipping and variable-length sequences."""

from tinygrad_lstm.nn.utils import rnn
from tinygrad_lstm.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]
