"""Flatten and Unflatten: reshapes of a range of dims, as modules."""

import math

from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.tensor import Tensor


class Flatten(Module):
    """Merge dims start_dim..end_dim into one. Shape: (N, *) -> (N, prod(*)) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim into unflattened_size (one entry may be -1, inferred).
    Shape: (*, S, *) -> (*, U1, U2, ..., *) with prod(U) = S."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, n in enumerate(unflattened_size):
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of "
                                f"type {type(n).__name__} at pos {i}")
        if sum(n == -1 for n in unflattened_size) > 1:
            raise RuntimeError(f"Unflatten: only one dimension can be inferred, got "
                               f"{unflattened_size}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim + input.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < input.ndim:
            raise IndexError(f"unflatten: dimension out of range (expected to be in range of "
                             f"[{-input.ndim}, {input.ndim - 1}], but got {self.dim})")
        n, sizes = input.shape[dim], list(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        if -1 in sizes and known and n % known == 0:
            sizes[sizes.index(-1)] = n // known
        if math.prod(sizes) != n or -1 in sizes:
            raise RuntimeError(f"unflatten: Provided sizes {list(self.unflattened_size)} don't "
                               f"multiply up to the size of dim {self.dim} ({n}) in the input "
                               f"tensor of shape {input.shape}")
        return input.reshape(input.shape[:dim] + tuple(sizes) + input.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
