"""Dropout, and its channel-wise forms Dropout1d and Dropout2d."""

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


class Dropout1d(Dropout):
    """In training, zero each channel (a whole row of L values) with probability p and scale
    the others by 1/(1-p); the identity in eval mode. Shape: (N, C, L) or (C, L) -> the same."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """In training, zero each channel (a whole H x W map) with probability p and scale the
    others by 1/(1-p); the identity in eval mode. Shape: (N, C, H, W) -> the same (3-D input
    is taken as (N, C, L), other ranks as (N, C, *) with a warning, as in PyTorch)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)
