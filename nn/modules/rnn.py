"""torch.nn.modules.rnn: the classes live in tinygrad_lstm/nn/rnn.py."""

from tinygrad_lstm.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
