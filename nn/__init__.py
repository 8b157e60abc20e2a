"""Neural-network modules built only from Tensor ops (imported as tinygrad_lstm.nn)."""

from tinygrad_lstm.nn import functional, init, utils
from tinygrad_lstm.nn.activation import (ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU,
                                         Sigmoid, SiLU, Softmax, Softplus, Tanh)
from tinygrad_lstm.nn.attention import MultiheadAttention
from tinygrad_lstm.nn.container import ModuleDict, ModuleList, Sequential
from tinygrad_lstm.nn.dropout import Dropout, Dropout1d, Dropout2d
from tinygrad_lstm.nn.flatten import Flatten, Unflatten
from tinygrad_lstm.nn.linear import Identity, Linear
from tinygrad_lstm.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                   KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.nn.normalization import BatchNorm1d, LayerNorm
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_lstm.nn.sparse import Embedding
from tinygrad_lstm.nn.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                                          TransformerEncoder, TransformerEncoderLayer)

# last: the PyTorch-path aliases (nn.modules.rnn.LSTM, ...) re-export the classes above
from tinygrad_lstm.nn import modules  # noqa: E402

__all__ = ["ELU", "GELU", "GRU", "LSTM", "RNN", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "CrossEntropyLoss", "Dropout", "Dropout1d", "Dropout2d", "Embedding", "Flatten",
           "GRUCell", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LSTMCell", "LayerNorm", "LeakyReLU", "Linear",
           "LogSigmoid", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "MultiheadAttention", "NLLLoss", "Parameter", "RNNCell", "ReLU", "Sequential", "SiLU",
           "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Transformer",
           "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer", "Unflatten", "functional", "init", "modules", "utils"]
