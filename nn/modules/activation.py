"""torch.nn.modules.activation: the classes live in tinygrad_lstm/nn/activation.py."""

from tinygrad_lstm.nn.activation import (ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU,
                                         Sigmoid, SiLU, Softmax, Softplus, Tanh)

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSigmoid", "LogSoftmax", "ReLU", "Sigmoid", "SiLU",
           "Softmax", "Softplus", "Tanh"]
