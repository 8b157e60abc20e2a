"""torch.nn.modules.dropout: the classes live in tinygrad_lstm/nn/dropout.py."""

from tinygrad_lstm.nn.dropout import Dropout, Dropout1d, Dropout2d

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]
