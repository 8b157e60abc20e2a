"""Loss modules: thin wrappers around nn.functional that keep the options."""

from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in F._REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """F.cross_entropy: fused log_softmax + NLL.
    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) -> () or target's."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        F._no_class_weights(weight, "CrossEntropyLoss")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(input, target, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """F.nll_loss on log-probabilities.
    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) -> () or target's."""

    def __init__(self, weight=None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        F._no_class_weights(weight, "NLLLoss")
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(input, target, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """F.mse_loss: mean (or sum, or none) of (input - target)**2. Shape: (*) and (*) alike."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)
