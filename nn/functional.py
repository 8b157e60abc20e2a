"""nn.functional: stateless layer and loss functions, composed of Tensor ops."""

import numpy as np

from tinygrad_lstm import ops
from tinygrad_lstm.random import rng
from tinygrad_lstm.tensor import Tensor, where

_REDUCTIONS = ("none", "mean", "sum")


def _check_tensor(x, fn: str, what: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: expected {what} to be a Tensor, got {type(x).__name__}")


# ---------------------------------------------------------------- layers


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.  Shape: input (*, in), weight (out, in), bias (out,) -> (*, out)."""
    _check_tensor(input, "linear")
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {input.shape} does not match weight of shape "
                         f"{weight.shape} (expected input (*, {weight.shape[-1]}))")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"linear: input has dtype {input._array.dtype}, but the weight is "
                           f"{weight._array.dtype}; convert one of them with .float() or "
                           f".double()")
    if bias is not None and bias.dtype is not weight.dtype:
        raise RuntimeError(f"linear: bias has dtype {bias._array.dtype}, but the weight is "
                           f"{weight._array.dtype}")
    if bias is None or bias.ndim == 1:
        return ops.Linear.apply(input, weight, bias)  # one node, as PyTorch's aten::linear
    return input @ weight.T + bias  # a bias of another shape broadcasts as in `+`


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` at the indices in `input`; the padding_idx row gets no gradient.

    Shape: input (*) integer, weight (num_embeddings, embedding_dim) -> (*, embedding_dim).
    """
    idx = input._array if isinstance(input, Tensor) else np.asarray(input)
    num = weight.shape[0]
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected indices of an integer dtype, got {idx.dtype}")
    bad = (idx < 0) | (idx >= num)
    if bad.any():
        raise IndexError(f"embedding: index {idx[bad].flat[0]} is out of range for an embedding "
                         f"with {num} rows")
    out = weight[idx]  # (*, D)
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += num
    # the same values, but the padding rows come from the array, outside the graph
    return where((idx == padding_idx)[..., None], weight._array[padding_idx], out)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout);
    the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * np.zeros(input.shape, input._array.dtype)
    dtype = input._array.dtype
    draw = np.float32 if dtype == np.float32 else np.float64
    mask = rng().random(input.shape, dtype=draw) >= p
    return input * (mask * dtype.type(1.0 / (1.0 - p)))


# ---------------------------------------------------------------- activations


def relu(input: Tensor) -> Tensor:
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def softmax(input: Tensor, dim: int) -> Tensor:
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    return input.log_softmax(dim)


# ---------------------------------------------------------------- losses


def _class_target(fn: str, input: Tensor, target, reduction: str) -> np.ndarray:
    """Check input (C,), (N, C) or (N, C, d1, ...) against integer target (), (N,), (N, d1, ...)
    and the reduction; return the target's array."""
    _check_tensor(input, fn)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a "
                         f"0-d tensor")
    if input._array.dtype.kind != "f":
        raise TypeError(f"{fn}: expected floating point input, got {input._array.dtype}")
    t = target._array if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: expected target of an integer dtype (class indices), got "
                        f"{t.dtype}")
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if t.shape != expected:
        raise ValueError(f"{fn}: expected target of shape {expected} for input of shape "
                         f"{input.shape}, got target of shape {t.shape}")
    return t


def _rows(input: Tensor, t: np.ndarray) -> tuple[Tensor, np.ndarray]:
    """Classes last and everything else flattened: (M, C) and (M,)."""
    if input.ndim == 1:
        return input.reshape(1, -1), t.reshape(1)
    if input.ndim == 2:
        return input, t  # rows already: no reshape node
    input = input.permute(0, *range(2, input.ndim), 1)  # (N, d1, ..., C)
    return input.reshape(-1, input.shape[-1]), t.reshape(-1)


def _no_class_weights(weight, fn: str) -> None:
    # PyTorch's third positional argument is `weight`: refuse it rather than misread it
    if weight is not None:
        raise NotImplementedError(f"{fn}: class weights are not supported; pass ignore_index, "
                                  f"reduction and label_smoothing by keyword")


def cross_entropy(input: Tensor, target: Tensor | np.ndarray, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Fused log_softmax + NLL over class dim 1, stable for logits of any magnitude.

    l_n = (1 - eps) * -log p[n, y_n] + eps * mean_c(-log p[n, c]), 0 where y_n == ignore_index;
    'mean' divides the sum by the number of non-ignored targets, as in PyTorch.
    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) integer
    -> () or, with reduction='none', the target's shape.
    """
    _no_class_weights(weight, "cross_entropy")
    t = _class_target("cross_entropy", input, target, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    x2, t2 = _rows(input, t)
    loss = ops.CrossEntropy.apply(x2, t2, ignore_index, float(label_smoothing), reduction)
    return loss.reshape(t.shape) if reduction == "none" else loss


def nll_loss(input: Tensor, target: Tensor | np.ndarray, weight: Tensor | None = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities: l_n = -input[n, y_n] (0 where ignored).

    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) integer
    -> () or, with reduction='none', the target's shape.
    """
    _no_class_weights(weight, "nll_loss")
    t = _class_target("nll_loss", input, target, reduction)
    x2, t2 = _rows(input, t)
    safe, valid = ops.class_targets(t2, ignore_index, x2.shape[1], "nll_loss")
    loss = -x2[np.arange(len(safe)), safe] * valid.astype(x2.dtype)  # (M,)
    if reduction == "none":
        return loss.reshape(t.shape)
    if reduction == "sum":
        return loss.sum()
    n_valid = int(valid.sum())
    if n_valid == 0:  # 0/0: NaN as in PyTorch, but a zero gradient (ignored rows get none)
        return loss.sum() + float("nan")
    return loss.sum() / n_valid


def mse_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """(input - target)**2, elementwise then reduced. Shape: input and target (*) alike."""
    _check_tensor(input, "mse_loss")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if np.shape(target._array if isinstance(target, Tensor) else target) != input.shape:
        raise ValueError(f"mse_loss: target size {np.shape(target)} differs from input size "
                         f"{input.shape}; broadcasting them would likely give wrong results. "
                         f"Please ensure they have the same size.")
    diff = input - target
    loss = diff * diff
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()
