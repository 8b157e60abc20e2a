"""The primitive ops: each forward beside its vector-Jacobian product, one module per kind.

Every op sees NumPy arrays. A VJP returns one gradient per forward argument (None where none
is needed) in the shape of the broadcast result: the engine sums it back to the input's shape.
A VJP never writes into `grad_output`, which other nodes may share.
"""

import warnings

# exp overflows to inf for large arguments, which is the right value (sigmoid's exp(-x) for
# x < -88 in float32 gives the exact limit 0; exp and log_softmax's exp give inf / 0 as they
# should): silence only that warning, only for the modules of this package (the module regex
# matches names that start with it). np.errstate around each call would cost more than the op
# on small arrays.
warnings.filterwarnings("ignore", "overflow encountered in exp", RuntimeWarning, __name__)

from .unary import (Cast, Cos, Erf, Exp, Expm1, Log, Log1p, LSTMGates, Neg, Relu,  # noqa: E402
                    Sigmoid, Sin, Stepwise, Tanh)
from .binary import (Add, Addcmul, Div, Maximum, Minimum, Mul, Pow, Remainder,  # noqa: E402
                     Sub)
from .matmul import Addmm, Einsum, Linear, Matmul, einsum_subscripts  # noqa: E402
from .reduce import Max, Norm, Prod, Sum  # noqa: E402
from .movement import (AddAt, Cat, Clone, CopySlices, Expand, Gather, Getitem, Permute,  # noqa: E402
                       Reshape, Scatter, Split, Stack, Unbind, Where, view_of, write_region)
from .nn import CrossEntropy, LogSoftmax, class_targets  # noqa: E402

__all__ = ["Add", "AddAt", "Addcmul", "Addmm", "Cast", "Cat", "Clone", "CopySlices", "Cos",
           "CrossEntropy", "Div", "Einsum", "Erf", "Exp", "Expand", "Expm1", "Gather", "Getitem",
           "Linear", "Log", "Log1p", "LogSoftmax", "LSTMGates", "Matmul", "Max", "Maximum",
           "Minimum", "Mul", "Neg", "Norm", "Permute", "Pow", "Prod", "Relu", "Remainder",
           "Reshape", "Scatter", "Sigmoid", "Sin", "Split", "Stack", "Stepwise", "Sub", "Sum",
           "Tanh", "Unbind", "Where", "class_targets", "einsum_subscripts", "view_of",
           "write_region"]
