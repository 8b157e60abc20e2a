"""Utilities with PyTorch's paths: `tinygrad_lstm.utils.data` is `torch.utils.data`."""

from . import data

__all__ = ["data"]
