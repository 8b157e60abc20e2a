"""nn.functional: stateless layer and loss functions, composed of Tensor ops."""

import math
import warnings

import numpy as np

from tinygrad_lstm import ops
from tinygrad_lstm.autograd import is_grad_enabled, no_grad
from tinygrad_lstm.inplace import update as inplace_update
from tinygrad_lstm.random import rng
from tinygrad_lstm.recording import read_array, replayed_as_call
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


@replayed_as_call  # a check on values: tl.compile's program makes it at every call
def _check_rows(idx: np.ndarray, num: int) -> None:
    bad = ops.nn.first_out_of_range(idx, num)
    if bad is not None:
        raise IndexError(f"embedding: index {bad} is out of range for an embedding with {num} "
                         f"rows")


def embedding(input, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` at the indices in `input`; the padding_idx row gets no gradient.
    With max_norm, each looked-up row whose norm_type-norm exceeds it is first rescaled in
    place to norm max_norm (weight[i] *= max_norm / (norm + 1e-7)), as in PyTorch.

    Shape: input (*) integer, weight (num_embeddings, embedding_dim) -> (*, embedding_dim).
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq=True and sparse=True are not "
                                  "supported (sparse=False gives the same gradient, dense)")
    idx = read_array(input) if isinstance(input, Tensor) else np.asarray(input)
    num = weight.shape[0]
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected indices of an integer dtype, got {idx.dtype}")
    _check_rows(idx, num)
    if max_norm is not None:
        _embedding_renorm_(weight, np.unique(idx), max_norm, norm_type)
    out = weight[idx]  # (*, D)
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += num
    # the same values, but the padding rows come from the array, outside the graph
    return where((idx == padding_idx)[..., None], read_array(weight)[padding_idx], out)


def _embedding_renorm_(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float):
    """Rescale the given rows of weight whose norm exceeds max_norm, in place, unrecorded."""
    norms = np.linalg.norm(read_array(weight)[rows].astype(np.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight._array.dtype)[:, None]
        with no_grad():  # an in-place write on the leaf, bumping its version as in PyTorch
            weight[rows[over]] = weight[rows[over]] * Tensor(scale)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """out[..., c] = 1 where tensor[...] == c, else 0: an int64 tensor without gradient.

    Shape: tensor (*) int64 -> (*, num_classes); num_classes=-1 takes tensor.max() + 1.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'input' must be Tensor, not {type(tensor).__name__}")
    idx = read_array(tensor)
    if idx.dtype != np.int64:  # PyTorch accepts int64 only
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor(np.arange(num_classes) == idx[..., None]).long()  # (*, C)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout);
    the identity when not training. inplace=True writes the result into input."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return _result(input, lambda x: _dropout(x, p), inplace, "dropout_")


def _dropout(input: Tensor, p: float, noise_shape: tuple | None = None) -> Tensor:
    """input times a mask of noise_shape (input's by default; broadcast over the other dims)."""
    noise_shape = input.shape if noise_shape is None else noise_shape
    if p == 1.0:
        return input * np.zeros(noise_shape, input._array.dtype)
    dtype = input._array.dtype
    draw = np.float32 if dtype == np.float32 else np.float64
    mask = rng().random(noise_shape, dtype=draw) >= p
    return input * (mask * dtype.type(1.0 / (1.0 - p)))


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool = True) -> Tensor:
    """Zero whole channels: one draw per (n, c) of input (N, C, *) (per c of (C, *) if not
    batched), the kept ones scaled by 1/(1-p)."""
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    noise_shape = input.shape[:lead] + (1,) * (input.ndim - lead)  # (N, C, 1, ...)
    return _result(input, lambda x: _dropout(x, p, noise_shape), inplace, "feature_dropout_")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero each channel of input (N, C, L) or (C, L) with probability p, scale the rest by
    1/(1-p); the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout "
                           f"on inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero each channel of input (N, C, H, W) with probability p, scale the rest by 1/(1-p);
    the identity when not training. As PyTorch: a 3-D input is taken as (N, C, L), and other
    ranks (deprecated, with a warning) as (N, C, *), so a 2-D one is plain dropout."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      f"deprecated and will result in an error in a future release. To retain "
                      f"the behavior and silence this warning, please use dropout instead. Note "
                      f"that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      f"spatial dimensions, a channel dimension, and an optional batch "
                      f"dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change in "
                      "a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


# ---------------------------------------------------------------- activations
# `inplace=True` writes the result into the input, as in PyTorch (recorded when a gradient flows)


def _result(input: Tensor, fn, inplace: bool, op: str) -> Tensor:
    return inplace_update(input, op, fn, ()) if inplace else fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return input.relu_() if inplace else input.relu()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's implicit dim for softmax(dim=None): 0 for 0-, 1- and 3-d input, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along dim (input cast to dtype first, if given)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return (input if dtype is None else input.to(dtype)).softmax(dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x_i - log sum_j exp(x_j) along dim (input cast to dtype first, if given)."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return (input if dtype is None else input.to(dtype)).log_softmax(dim)


def _log1p_exp(z: Tensor) -> Tensor:
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows. max and -|z| are
    chosen by one sign test, so the gradient is sigmoid(z) everywhere, 1/2 at 0 (relu and abs
    would both give slope 0 there)."""
    pos = read_array(z) > 0
    return where(pos, z, 0.0) + where(pos, -z, z).exp().log1p()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    z = input if beta == 1 else input * beta
    soft = _log1p_exp(z) if beta == 1 else _log1p_exp(z) / beta
    return where(read_array(z) > threshold, input, soft)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -log(1 + exp(-x)), stable for any x."""
    return -_log1p_exp(-input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x (that slope at 0, as in PyTorch)."""
    return _result(input, lambda x: where(read_array(x) > 0, x, x * negative_slope), inplace,
                   "leaky_relu_")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _result(input, lambda x: _elu(x, alpha), inplace, "elu_")


def _elu(x: Tensor, alpha: float) -> Tensor:
    pos = read_array(x) > 0
    negative_part = where(pos, 0.0, x)  # exp of x <= 0 only: no overflow in the unused branch
    return where(pos, x, negative_part.expm1() * alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)); with approximate='tanh',
    x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))."""
    if approximate == "none":
        return input * ((input * (1 / math.sqrt(2))).erf() + 1) * 0.5
    if approximate == "tanh":
        inner = (input + input**3 * 0.044715) * math.sqrt(2 / math.pi)
        return input * (inner.tanh() + 1) * 0.5
    raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got "
                       f"{approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return _result(input, lambda x: x * x.sigmoid(), inplace, "silu_")


# ---------------------------------------------------------------- normalization


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - E[x]) / sqrt(Var[x] + eps) * weight + bias, with mean and biased variance over the
    last len(normalized_shape) dims. Shape: input (*, *normalized_shape) -> the same."""
    _check_tensor(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    if not shape:
        raise RuntimeError("layer_norm: Expected normalized_shape to be at least 1-dimensional, "
                           "i.e., containing at least one element, but got normalized_shape = []")
    k = len(shape)
    if input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise RuntimeError(f"layer_norm: Given normalized_shape={list(shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, shape))}], but got input of "
                           f"size {list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise RuntimeError(f"layer_norm: Expected {name} to be of same shape as "
                               f"normalized_shape, but got {name} of shape {list(p.shape)} and "
                               f"normalized_shape = {list(shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - input.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)  # biased: divided by n, as PyTorch
    out = centered * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """(x - E[x]) / sqrt(Var[x] + eps) * weight + bias per channel of input (N, C, *), over N
    and *: with the batch's mean and biased variance when training (and then, if given,
    running := (1 - momentum) * running + momentum * batch, the variance unbiased), with
    running_mean and running_var otherwise. Shape: input (N, C) or (N, C, L) -> the same."""
    _check_tensor(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of at least 2 dims (N, C, *), got "
                         f"{input.ndim}D input")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # PyTorch's order
        if t is not None and t.shape != (c,):
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not "
                               f"{t.numel()} (input of size {list(input.shape)})")
    dims = (0, *range(2, input.ndim))
    channel = (1, c) + (1,) * (input.ndim - 2)  # (1, C, 1, ...): broadcasts over N and *
    if training:
        n = input.numel() // c
        if n == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {tuple(input.shape)}")
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)  # biased, to normalize
        out = centered * (var + eps) ** -0.5
        with no_grad():
            if running_mean is not None:
                running_mean.copy_(momentum * mean.reshape(c) + (1 - momentum) * running_mean)
            if running_var is not None:  # unbiased, as PyTorch keeps it
                running_var.copy_(momentum * var.reshape(c) * (n / (n - 1))
                                  + (1 - momentum) * running_var)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in "
                               "evaluation mode (training=False)")
        out = (input - running_mean.reshape(channel)) * (running_var.reshape(channel)
                                                         + eps) ** -0.5
    if weight is not None:
        out = out * weight.reshape(channel)
    return out if bias is None else out + bias.reshape(channel)


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
    t = read_array(target) if isinstance(target, Tensor) else np.asarray(target)
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


def _class_weight(weight, fn: str, input: Tensor) -> np.ndarray | None:
    """The class weights (C,) as a constant array; PyTorch has no gradient for them either."""
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        raise TypeError(f"{fn}: expected weight to be a Tensor, got {type(weight).__name__}")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(f"{fn}: weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    if weight._array.dtype != input._array.dtype:
        raise RuntimeError(f"{fn}: weight has dtype {weight._array.dtype}, but the input is "
                           f"{input._array.dtype}")
    if weight.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{fn}: the derivative for 'weight' is not implemented")
    return read_array(weight)


def _nll_rows(logp: Tensor, t: np.ndarray, w: np.ndarray | None, ignore_index: int,
              reduction: str, fn: str, label_smoothing: float = 0.0) -> Tensor:
    """Class-weighted NLL of log-probabilities logp (M, C) at targets t (M,), with PyTorch's
    smoothing term: l_n = (1 - eps) w[y_n] (-logp[n, y_n]) + eps/C sum_c w[c] (-logp[n, c]),
    0 where y_n == ignore_index. 'mean' divides the sum by sum_n w[y_n] over kept targets."""
    safe, valid = ops.class_targets(t, ignore_index, logp.shape[1], fn)
    keep = valid.astype(logp._array.dtype)
    w_rows = keep if w is None else w[safe] * keep  # (M,) each target's weight, 0 if ignored
    loss = -logp[np.arange(len(safe)), safe] * w_rows  # (M,)
    if label_smoothing:
        per_class = logp if w is None else logp * w  # (M, C)
        smooth = -per_class.sum(1) * keep  # (M,)
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / logp.shape[1])
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    # sum / total, or NaN for 0/0 as in PyTorch but with a zero gradient (ignored rows get
    # none): branch-free, so that tl.compile needs no value of it (adding -0.0 changes no bit)
    total = w_rows.sum()
    empty = total == 0
    dtype = read_array(loss).dtype
    nan_or_zero = np.where(empty, np.array(np.nan, dtype), np.array(-0.0, dtype))
    return loss.sum() / Tensor(np.where(empty, np.array(1, dtype), total)) + Tensor(nan_or_zero)


def cross_entropy(input: Tensor, target: Tensor | np.ndarray, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + NLL over class dim 1, stable for logits of any magnitude.

    Class indices: l_n = (1 - eps) w[y_n] (-log p[n, y_n]) + eps/C sum_c w[c] (-log p[n, c]),
    0 where y_n == ignore_index (w = 1 without class weights); 'mean' divides the sum by
    sum_n w[y_n] over the non-ignored targets (their count without weights), as in PyTorch.
    Class probabilities (a float target of the input's shape): see _soft_cross_entropy.
    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) integer, weight (C,)
    -> () or, with reduction='none', the target's shape.
    """
    _check_tensor(input, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim > 0 and _target_shape(target) == input.shape:  # PyTorch's test, too
        _check_reduction(reduction)
        return _soft_cross_entropy(input, target, _class_weight(weight, "cross_entropy", input),
                                   ignore_index, reduction, float(label_smoothing))
    t = _class_target("cross_entropy", input, target, reduction)
    w = _class_weight(weight, "cross_entropy", input)
    x2, t2 = _rows(input, t)
    if w is None:  # one fused node
        loss = ops.CrossEntropy.apply(x2, t2, ignore_index, float(label_smoothing), reduction)
    else:
        loss = _nll_rows(x2.log_softmax(1), t2, w, ignore_index, reduction, "cross_entropy",
                         float(label_smoothing))
    return loss.reshape(t.shape) if reduction == "none" else loss


def _soft_cross_entropy(input: Tensor, target, w: np.ndarray | None, ignore_index: int,
                        reduction: str, label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities y of the input's shape:
    l_n = -sum_c w[c] y'[n, c] log p[n, c] with y' = (1 - eps) y + eps/C; 'mean' divides the
    sum by the number of rows (N d1 ...), not by the weights, as in PyTorch."""
    dtype = target._array.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if dtype.kind != "f":
        raise TypeError(f"cross_entropy: expected floating point type for target with class "
                        f"probabilities, got {dtype}")
    if ignore_index >= 0:
        raise ValueError("cross_entropy: ignore_index is not supported for floating point "
                         "target")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    y = target if not label_smoothing else target * (1 - label_smoothing) \
        + label_smoothing / n_classes
    terms = input.log_softmax(class_dim) * y  # (N, C, d1, ...)
    if w is not None:  # along the class dim
        terms = terms * w.reshape((n_classes,) + (1,) * (input.ndim - class_dim - 1))
    if reduction == "none":
        return -terms.sum(class_dim)
    if reduction == "sum" or input.numel() == 0:  # an empty mean is 0/0: NaN
        return -terms.sum() if reduction == "sum" else -terms.sum() + float("nan")
    return -terms.sum() / (input.numel() // n_classes)


def nll_loss(input: Tensor, target: Tensor | np.ndarray, weight: Tensor | None = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities: l_n = -w[y_n] input[n, y_n] (0 where
    ignored); 'mean' divides the sum by sum_n w[y_n] over the non-ignored targets.

    Shape: input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) integer, weight (C,)
    -> () or, with reduction='none', the target's shape.
    """
    t = _class_target("nll_loss", input, target, reduction)
    w = _class_weight(weight, "nll_loss", input)
    x2, t2 = _rows(input, t)
    loss = _nll_rows(x2, t2, w, ignore_index, reduction, "nll_loss")
    return loss.reshape(t.shape) if reduction == "none" else loss


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _check_reduction(reduction: str, allowed: tuple = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _target_shape(target) -> tuple:
    return target.shape if isinstance(target, Tensor) else np.shape(target)


def _pointwise(fn: str, input: Tensor, target, reduction: str) -> Tensor:
    """Check a regression loss's arguments; return input - target."""
    _check_tensor(input, fn)
    _check_reduction(reduction)
    if _target_shape(target) != input.shape:
        raise ValueError(f"{fn}: target size {_target_shape(target)} differs from input size "
                         f"{input.shape}; broadcasting them would likely give wrong results. "
                         f"Please ensure they have the same size.")
    return input - target


def mse_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """(input - target)**2, elementwise then reduced. Shape: input and target (*) alike."""
    diff = _pointwise("mse_loss", input, target, reduction)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """|input - target|, elementwise then reduced. Shape: input and target (*) alike."""
    return _reduce(_pointwise("l1_loss", input, target, reduction).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor | np.ndarray, *, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """With d = input - target: 0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta
    (|d| itself for beta = 0). Shape: input and target (*) alike."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    diff = _pointwise("smooth_l1_loss", input, target, reduction)
    if beta == 0:
        return _reduce(diff.abs(), reduction)
    small = np.abs(read_array(diff)) < beta
    return _reduce(where(small, diff * diff * (0.5 / beta), diff.abs() - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """With d = input - target: 0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta).
    Shape: input and target (*) alike."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = _pointwise("huber_loss", input, target, reduction)
    small = np.abs(read_array(diff)) < delta
    return _reduce(where(small, diff * diff * 0.5, (diff.abs() - 0.5 * delta) * delta),
                   reduction)


def _clamped_log(x: Tensor) -> Tensor:
    """max(log x, -100), binary_cross_entropy's guard in PyTorch; slope 0 where clamped."""
    with np.errstate(divide="ignore"):
        keep = np.log(read_array(x)) >= -100
    # log of 1 in the clamped places: their gradient is 0, never 0 * (1/0)
    return where(keep, where(keep, x, 1.0).log(), -100.0)


def _check_loss_weight(fn: str, name: str, weight, shape: tuple) -> None:
    if weight is None:
        return
    _check_tensor(weight, fn, name)
    try:
        ok = np.broadcast_shapes(weight.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{fn}: {name} of shape {weight.shape} does not broadcast to the "
                           f"input's shape {shape}")


def binary_cross_entropy(input: Tensor, target: Tensor | np.ndarray,
                         weight: Tensor | None = None, *, reduction: str = "mean") -> Tensor:
    """l_n = -w_n [y_n log x_n + (1 - y_n) log(1 - x_n)] for probabilities x, each log
    clamped to >= -100 as in PyTorch. Shape: input, target (*) alike; weight broadcasts."""
    fn = "binary_cross_entropy"
    _check_tensor(input, fn)
    _check_reduction(reduction)
    if _target_shape(target) != input.shape:
        raise ValueError(f"{fn}: Using a target size {_target_shape(target)} that is different "
                         f"to the input size {input.shape} is deprecated. Please ensure they "
                         f"have the same size.")
    _check_loss_weight(fn, "weight", weight, input.shape)
    x = read_array(input)
    if not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError(f"{fn}: all elements of input should be between 0 and 1")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor | np.ndarray,
                                     weight: Tensor | None = None, *, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(x), in the stable form that needs no sigmoid:
    l_n = w_n [(1 - y_n) x_n + (1 + (p - 1) y_n) log(1 + exp(-x_n))], where the positive-class
    weight p (pos_weight) broadcasts along the last (class) dim.
    Shape: input, target (*) alike; weight and pos_weight broadcast."""
    fn = "binary_cross_entropy_with_logits"
    _check_tensor(input, fn)
    _check_reduction(reduction)
    if _target_shape(target) != input.shape:
        raise ValueError(f"{fn}: Target size {_target_shape(target)} must be the same as input "
                         f"size {input.shape}")
    _check_loss_weight(fn, "weight", weight, input.shape)
    _check_loss_weight(fn, "pos_weight", pos_weight, input.shape)
    neg_log_sigmoid = _log1p_exp(-input)  # -log sigmoid(x)
    if pos_weight is not None:
        neg_log_sigmoid = neg_log_sigmoid * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + neg_log_sigmoid
    return _reduce(loss if weight is None else loss * weight, reduction)


def kl_div(input: Tensor, target: Tensor | np.ndarray, *, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise KL divergence of input log-probabilities x from target y:
    l = y (log y - x), 0 where y = 0; with log_target, l = exp(y) (y - x).
    'batchmean' divides the sum by input.size(0) (the KL divergence of a batch); 'mean' divides
    by the number of elements (PyTorch warns about it). Shape: input and target broadcast."""
    _check_tensor(input, "kl_div")
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    y = target if isinstance(target, Tensor) else Tensor(target)
    if log_target:
        loss = y.exp() * (y - input)
    else:
        with np.errstate(invalid="ignore"):  # a negative y gives nan, as PyTorch's xlogy
            y_log_y = y * where(read_array(y) != 0, y, 1.0).log()  # 0 log 0 = 0
        loss = y_log_y - y * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)



# ---------------------------------------------------------------- attention (in its own file)

from tinygrad_lstm.nn.functional_attention import (  # noqa: E402, F401
    multi_head_attention_forward, scaled_dot_product_attention)
