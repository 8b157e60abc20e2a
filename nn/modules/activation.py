"""torch.nn.modules.activation: the classes live in tinygrad_lstm/nn/activation.py (and
MultiheadAttention in tinygrad_lstm/nn/attention.py)."""

from tinygrad_lstm.nn.activation import (ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU,
                                         Sigmoid, SiLU, Softmax, Softplus, Tanh)
from tinygrad_lstm.nn.attention import MultiheadAttention

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSigmoid", "LogSoftmax", "MultiheadAttention", "ReLU",
           "Sigmoid", "SiLU", "Softmax", "Softplus", "Tanh"]
