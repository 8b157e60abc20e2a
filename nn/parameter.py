"""Parameter: a Tensor that a Module lists among its parameters."""

import numpy as np

from tinygrad_lstm.dtypes import default_float
from tinygrad_lstm.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and is found by `Module.parameters()`.

    `Parameter(data)` copies `data` (a Tensor, an array or nested lists; Python numbers become
    the default dtype, float32). Ops on a Parameter return plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        super().__init__(np.empty(0, default_float()) if data is None else data,
                         requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
