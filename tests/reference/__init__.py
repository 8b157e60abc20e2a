"""Hand-derived NumPy forward and BPTT for nn.RNN and nn.LSTM: the oracle for the engine."""
