"""Dropout."""

from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.tensor import Tensor


class Dropout(Module):
    """In training, zero each element with probability p and scale the others by 1/(1-p);
    the identity in eval mode. Shape: any -> the same."""

    inplace = False  # for modules pickled before the attribute existed

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
