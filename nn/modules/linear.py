"""torch.nn.modules.linear: the classes live in tinygrad_lstm/nn/linear.py."""

from tinygrad_lstm.nn.linear import Identity, Linear, NonDynamicallyQuantizableLinear

__all__ = ["Identity", "Linear", "NonDynamicallyQuantizableLinear"]
