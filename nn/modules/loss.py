"""torch.nn.modules.loss: the classes live in tinygrad_lstm/nn/loss.py."""

from tinygrad_lstm.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                   KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss",
           "MSELoss", "NLLLoss", "SmoothL1Loss"]
