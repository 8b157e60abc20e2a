"""PyTorch's class paths, for programs (and pickles) that name them: `nn.modules.rnn.LSTM`,
`nn.modules.linear.Linear`, ... Each file here re-exports classes whose code lives one level up,
in tinygrad_lstm/nn/ (nn/rnn.py, nn/linear.py, ...)."""

from tinygrad_lstm.nn.modules import (activation, batchnorm, container, dropout, flatten, linear,
                                      loss, module, normalization, rnn, sparse, transformer)
from tinygrad_lstm.nn.modules.activation import (ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax,
                                                 MultiheadAttention, ReLU, Sigmoid, SiLU, Softmax,
                                                 Softplus, Tanh)
from tinygrad_lstm.nn.modules.batchnorm import BatchNorm1d
from tinygrad_lstm.nn.modules.container import ModuleDict, ModuleList, Sequential
from tinygrad_lstm.nn.modules.dropout import Dropout, Dropout1d, Dropout2d
from tinygrad_lstm.nn.modules.flatten import Flatten, Unflatten
from tinygrad_lstm.nn.modules.linear import Identity, Linear
from tinygrad_lstm.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss,
                                           HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                                           SmoothL1Loss)
from tinygrad_lstm.nn.modules.module import Module
from tinygrad_lstm.nn.modules.normalization import LayerNorm
from tinygrad_lstm.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_lstm.nn.modules.sparse import Embedding
from tinygrad_lstm.nn.modules.transformer import (Transformer, TransformerDecoder,
                                                  TransformerDecoderLayer, TransformerEncoder,
                                                  TransformerEncoderLayer)

__all__ = ["ELU", "GELU", "GRU", "LSTM", "RNN", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "CrossEntropyLoss", "Dropout", "Dropout1d", "Dropout2d", "Embedding", "Flatten",
           "GRUCell", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LSTMCell", "LayerNorm", "LeakyReLU", "Linear",
           "LogSigmoid", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "MultiheadAttention", "NLLLoss", "RNNCell", "ReLU", "Sequential", "SiLU", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Transformer", "TransformerDecoder",
           "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer",
           "Unflatten", "activation", "batchnorm", "container", "dropout", "flatten", "linear",
           "loss", "module", "normalization", "rnn", "sparse", "transformer"]
