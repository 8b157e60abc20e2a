"""Neural-network modules built only from Tensor ops (imported as tinygrad_lstm.nn)."""

from tinygrad_lstm.nn import functional, init, utils
from tinygrad_lstm.nn.container import ModuleDict, ModuleList, Sequential
from tinygrad_lstm.nn.dropout import Dropout
from tinygrad_lstm.nn.linear import Identity, Linear
from tinygrad_lstm.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_lstm.nn.sparse import Embedding

__all__ = ["GRU", "LSTM", "RNN", "CrossEntropyLoss", "Dropout", "Embedding", "GRUCell",
           "Identity", "LSTMCell", "Linear", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "NLLLoss", "Parameter", "RNNCell", "Sequential", "functional", "init", "utils"]
