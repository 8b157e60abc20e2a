"""torch.nn.modules.container: the classes live in tinygrad_lstm/nn/container.py."""

from tinygrad_lstm.nn.container import ModuleDict, ModuleList, Sequential

__all__ = ["ModuleDict", "ModuleList", "Sequential"]
