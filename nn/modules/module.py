"""torch.nn.modules.module: the classes live in tinygrad_lstm/nn/module.py."""

from tinygrad_lstm.nn.module import Module

__all__ = ["Module"]
