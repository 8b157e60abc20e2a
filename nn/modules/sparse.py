"""torch.nn.modules.sparse: the classes live in tinygrad_lstm/nn/sparse.py."""

from tinygrad_lstm.nn.sparse import Embedding

__all__ = ["Embedding"]
