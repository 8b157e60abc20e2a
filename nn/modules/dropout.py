"""torch.nn.modules.dropout: the classes live in tinygrad_lstm/nn/dropout.py."""

from tinygrad_lstm.nn.dropout import Dropout

__all__ = ["Dropout"]
