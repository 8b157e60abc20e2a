"""torch.nn.modules.normalization: the classes live in tinygrad_lstm/nn/normalization.py."""

from tinygrad_lstm.nn.normalization import LayerNorm

__all__ = ["LayerNorm"]
