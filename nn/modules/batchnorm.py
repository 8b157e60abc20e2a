"""torch.nn.modules.batchnorm: the class lives in tinygrad_lstm/nn/normalization.py."""

from tinygrad_lstm.nn.normalization import BatchNorm1d

__all__ = ["BatchNorm1d"]
