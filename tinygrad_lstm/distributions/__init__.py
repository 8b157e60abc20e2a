"""Probability distributions built from Tensor ops (PyTorch's torch.distributions): so far
`Categorical`, with PyTorch's argument checks (`constraints`)."""

from tinygrad_lstm.distributions import constraints
from tinygrad_lstm.distributions.categorical import Categorical
from tinygrad_lstm.distributions.distribution import Distribution

__all__ = ["Categorical", "Distribution", "constraints"]
