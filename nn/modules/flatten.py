"""torch.nn.modules.flatten: the classes live in tinygrad_lstm/nn/flatten.py."""

from tinygrad_lstm.nn.flatten import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
