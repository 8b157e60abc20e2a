"""Tensor's composite ops: methods built from other Tensor methods only, with no backward of
their own (autograd differentiates the methods they call). A base class of Tensor, kept apart
from tensor.py, which holds the primitive wrappers these build on.
"""

from __future__ import annotations  # the method names min/max/round/abs shadow the builtins

import builtins
import math
from typing import TYPE_CHECKING

import numpy as np

from .dims import (_bounds, _check_empty_arg, _check_empty_reduction, _is_int, _normalize_dim,
                   _normalize_dims, _sizes, check_indices)
from .dtypes import array_result_type, check_random_float
from .random import rng
from .recording import read_array

if TYPE_CHECKING:
    from .tensor import Tensor


class ValuesIndices(tuple):
    """(values, indices), like torch.return_types.max / sort / topk."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))


def _arr(x):
    return read_array(x) if hasattr(x, "_array") else x


def _keep_ints(fn):
    """fn for floats; integer and bool tensors pass through (floor of an int is the int)."""
    return lambda x: x.copy() if x.dtype.kind in "biu" else fn(x)


def _div_rounded(x, y, mode):
    """x / y rounded toward zero ('trunc') or down ('floor'), in x and y's promoted dtype."""
    dtype = array_result_type(x, y)
    x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    if dtype.kind in "biu":
        if np.any(np.equal(y, 0)):
            raise RuntimeError("div: ZeroDivisionError")
        q = np.floor_divide(x, y)
        # floor and trunc differ where the exact quotient is negative and not whole
        return q + ((q < 0) & (q * y != x)) if mode == "trunc" else q
    return np.trunc(np.true_divide(x, y)) if mode == "trunc" else np.floor_divide(x, y)


class Composites:
    """The composite methods of Tensor (which holds the array in `_array`)."""

    __slots__ = ()

    # ------------------------------------------------------------ elementwise

    def __abs__(self): return self.abs()
    def abs(self) -> Tensor: return self * np.sign(read_array(self))  # d|x|/dx: sign, 0 at 0
    def absolute(self) -> Tensor: return self.abs()
    def sqrt(self) -> Tensor: return self ** 0.5
    def rsqrt(self) -> Tensor: return self ** -0.5
    def square(self) -> Tensor: return self * self
    def reciprocal(self) -> Tensor: return 1 / self  # ints give the default float, as PyTorch
    def neg(self) -> Tensor: return -self
    def negative(self) -> Tensor: return -self
    def pow(self, exponent) -> Tensor: return self ** exponent
    def sign(self) -> Tensor: return self._stepwise(np.sign)  # gradient 0
    def floor(self) -> Tensor: return self._stepwise(_keep_ints(np.floor))
    def ceil(self) -> Tensor: return self._stepwise(_keep_ints(np.ceil))
    def trunc(self) -> Tensor: return self._stepwise(_keep_ints(np.trunc))

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even (NumPy's and PyTorch's rule); gradient 0."""
        return self._stepwise(_keep_ints(lambda x: np.round(x, decimals)))

    def div(self, other, *, rounding_mode: str | None = None) -> Tensor:
        """self / other; rounding_mode 'trunc' or 'floor' rounds the quotient (then integer
        inputs give an integer result, and the gradient is 0)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or "
                             f"'floor' but found '{rounding_mode}'")
        return self._stepwise(lambda x, y: _div_rounded(x, y, rounding_mode), other)

    divide = div

    def floor_divide(self, other) -> Tensor: return self.div(other, rounding_mode="floor")
    def mul(self, other) -> Tensor: return self * other
    def multiply(self, other) -> Tensor: return self * other

    def add(self, other, *, alpha: float = 1) -> Tensor:
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha: float = 1) -> Tensor:
        return self - (other if alpha == 1 else other * alpha)

    def clamp(self, min=None, max=None) -> Tensor:
        """Clip to [min, max]; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        out = self
        if min is not None:
            out = out.where(~(read_array(out) < _arr(min)), min)
        if max is not None:  # applied last, so min > max gives max everywhere (as PyTorch)
            out = out.where(~(read_array(out) > _arr(max)), max)
        return out

    clip = clamp

    def masked_fill(self, mask, value) -> Tensor:
        """value where the bool mask (broadcast to self's shape) holds, else self."""
        m = _arr(mask)
        if np.asarray(m).dtype != np.bool_:
            raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype "
                               f"{np.asarray(m).dtype}")
        if np.broadcast_shapes(np.shape(m), self.shape) != self.shape:
            raise RuntimeError(f"masked_fill: the mask of shape {np.shape(m)} does not broadcast "
                               f"to the tensor's shape {self.shape}")
        return self.where(~np.asarray(m), value)

    def softmax(self, dim: int, dtype=None) -> Tensor:
        return (self if dtype is None else self.to(dtype)).log_softmax(dim).exp()

    # ------------------------------------------------------------ comparisons (bool results)

    def eq(self, other) -> Tensor: return self == other
    def ne(self, other) -> Tensor: return self != other
    def lt(self, other) -> Tensor: return self < other
    def le(self, other) -> Tensor: return self <= other
    def gt(self, other) -> Tensor: return self > other
    def ge(self, other) -> Tensor: return self >= other
    def isnan(self) -> Tensor: return self._make(np.isnan(read_array(self)))
    def isinf(self) -> Tensor: return self._make(np.isinf(read_array(self)))
    def isfinite(self) -> Tensor: return self._make(np.isfinite(read_array(self)))

    def equal(self, other) -> builtins.bool:
        """True when the shapes and all elements agree."""
        return self.shape == other.shape and \
            builtins.bool((read_array(self) == read_array(other)).all())

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8,
                 equal_nan: builtins.bool = False) -> builtins.bool:
        return builtins.bool(np.allclose(read_array(self), read_array(other), rtol, atol,
                                         equal_nan))

    def any(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        axes = _normalize_dims(dim, self.ndim, "any")
        return self._make(np.asarray(read_array(self).any(axes, keepdims=keepdim)))

    def all(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        axes = _normalize_dims(dim, self.ndim, "all")
        return self._make(np.asarray(read_array(self).all(axes, keepdims=keepdim)))

    # ------------------------------------------------------------ reductions

    def mean(self, dim=None, keepdim: builtins.bool = False, *, dtype=None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x._array.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {x.dtype}")
        axes = _normalize_dims(dim, x.ndim, "mean")
        count = x._array.size if axes is None else math.prod([x.shape[a] for a in axes])
        if count == 0:  # 0 / 0: nan, as in PyTorch, without NumPy's warning
            return x.sum(axes, keepdim) * float("nan")
        return x.sum(axes, keepdim) / count

    def var(self, dim=None, unbiased=None, keepdim: builtins.bool = False, *,
            correction=None) -> Tensor:
        """sum((x - mean)^2) / (N - correction) over dim; correction 1 (Bessel's) unless
        `unbiased=False` or `correction=` says otherwise. `var(False)` is var(unbiased=False)."""
        if isinstance(dim, builtins.bool):  # the old form var(unbiased)
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise RuntimeError("var: give unbiased or correction, not both")
        correction = (1 if unbiased is None or unbiased else 0) if correction is None \
            else correction
        axes = _normalize_dims(dim, self.ndim, "var")
        count = self._array.size if axes is None else math.prod([self.shape[a] for a in axes])
        centered = self - self.mean(axes, keepdim=True)
        return (centered * centered).sum(axes, keepdim) / builtins.max(count - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim: builtins.bool = False, *,
            correction=None) -> Tensor:
        """sqrt(var(...)), with var's arguments."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def logsumexp(self, dim, keepdim: builtins.bool = False) -> Tensor:
        """log(sum(exp(x))) over dim, stable: the max is taken out before exp."""
        axes = _normalize_dims(dim, self.ndim, "logsumexp")
        x = self if self._array.dtype.kind == "f" else self.float()
        if x._array.size == 0:
            return x.exp().sum(axes, keepdim).log()
        m = np.max(read_array(x), axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or an inf) in a slice: no shift
        out = (x - m).exp().sum(axes, keepdim=True).log() + m
        return out if keepdim else out.reshape([n for i, n in enumerate(out.shape)
                                                if axes is not None and i not in axes])

    def norm(self, p="fro", dim=None, keepdim: builtins.bool = False, dtype=None) -> Tensor:
        """The vector p-norm over dim (all elements by default): p a number, inf, -inf or
        'fro' (2). PyTorch's matrix norms ('nuc', p with a 2-tuple dim) are not here."""
        x = self if dtype is None else self.to(dtype)
        if p == "fro" or p is None:
            p = 2
        if isinstance(p, str):
            raise NotImplementedError(f"norm: p={p!r} is not supported (numbers, inf and 'fro' "
                                      f"are)")
        axes = _normalize_dims(dim, x.ndim, "norm")
        if p == math.inf:
            return x.abs().amax(axes, keepdim)
        if p == -math.inf:
            return x.abs().amin(axes, keepdim)
        if p == 0:  # the count of nonzeros, with gradient 0
            return x.sign().abs().sum(axes, keepdim)
        if p == 1:
            return x.abs().sum(axes, keepdim)
        return x._norm(float(p), axes, keepdim)

    def amin(self, dim=None, keepdim: builtins.bool = False) -> Tensor:
        axes = _normalize_dims(dim, self.ndim, "amin")
        if self._array.size == 0:
            _check_empty_reduction(self.shape, dim, "amin()")
        return -((-self).amax(axes, keepdim))

    def max(self, dim=None, keepdim: builtins.bool = False) -> Tensor | ValuesIndices:
        """The largest element; with `dim`, the pair (values, indices) as in PyTorch, whose
        gradient goes to the returned index only (amax shares it among ties); with a tensor,
        maximum(self, other)."""
        if hasattr(dim, "_array"):
            return self.maximum(dim)
        if dim is None:
            if self._array.size == 0:
                _check_empty_reduction(self.shape, None, "max()")
            return self.amax()
        return self._pick(np.argmax, dim, keepdim, "max")

    def min(self, dim=None, keepdim: builtins.bool = False) -> Tensor | ValuesIndices:
        """The smallest element; with `dim`, (values, indices) as `max` gives them."""
        if hasattr(dim, "_array"):
            return self.minimum(dim)
        if dim is None:
            if self._array.size == 0:
                _check_empty_reduction(self.shape, None, "min()")
            return self.amin()
        return self._pick(np.argmin, dim, keepdim, "min")

    def _pick(self, arg, dim: int, keepdim: builtins.bool, op: str) -> ValuesIndices:
        """(values, indices) at arg(x, dim): values gathered by index, so ties do not share."""
        dim = _normalize_dim(dim, self.ndim, op)
        if self.ndim == 0:
            return ValuesIndices(self, self._make(np.zeros((), np.int64)))
        if self._array.size == 0:
            _check_empty_reduction(self.shape, dim, op + "()")
        index = self._make(arg(read_array(self), axis=dim, keepdims=True))
        values = self.gather(dim, index)
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        return ValuesIndices(values, index)

    def argmax(self, dim: int | None = None, keepdim: builtins.bool = False) -> Tensor:
        axis = None if dim is None or self.ndim == 0 else _normalize_dim(dim, self.ndim, "argmax")
        if self._array.size == 0:
            _check_empty_arg(self.shape, axis, "argmax()")
        return self._make(np.asarray(read_array(self).argmax(axis, keepdims=keepdim)))

    def argmin(self, dim: int | None = None, keepdim: builtins.bool = False) -> Tensor:
        axis = None if dim is None or self.ndim == 0 else _normalize_dim(dim, self.ndim, "argmin")
        if self._array.size == 0:
            _check_empty_arg(self.shape, axis, "argmin()")
        return self._make(np.asarray(read_array(self).argmin(axis, keepdims=keepdim)))

    def argsort(self, dim: int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:
        return self.sort(dim, descending, stable=stable).indices

    def sort(self, dim: int = -1, descending: builtins.bool = False, *,
             stable: builtins.bool = False) -> ValuesIndices:
        """(values, indices) sorted along dim; equal elements keep their order (always stable
        here), NaN sorts as the largest value."""
        if self.ndim == 0:
            return ValuesIndices(self * 1, self._make(np.zeros((), np.int64)))
        d = _normalize_dim(dim, self.ndim, "sort")
        x = read_array(self)
        if descending:  # flip, sort stably ascending, flip back: ties keep their order
            n = x.shape[d]
            index = n - 1 - np.flip(np.argsort(np.flip(x, d), d, kind="stable"), d)
        else:
            index = np.argsort(x, d, kind="stable")
        index = self._make(index.astype(np.int64))
        return ValuesIndices(self.gather(d, index), index)

    def topk(self, k: int, dim: int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> ValuesIndices:
        """The k largest (or smallest) elements along dim and their indices, largest first
        (always sorted here)."""
        d = _normalize_dim(dim, self.ndim, "topk")
        n = self.shape[d] if self.ndim else 1
        if not _is_int(k) or not 0 <= k <= n:
            raise RuntimeError(f"topk: selected index k out of range (k = {k}, the dimension "
                               f"has size {n})")
        values, index = self.sort(d, descending=largest, stable=True)
        if self.ndim == 0:
            return ValuesIndices(values, index)
        return ValuesIndices(values.narrow(d, 0, k), index.narrow(d, 0, k))

    def kthvalue(self, k: int, dim: int = -1, keepdim: builtins.bool = False) -> ValuesIndices:
        """The k-th smallest element along dim (k from 1) and its index."""
        d = _normalize_dim(dim, self.ndim, "kthvalue")
        n = self.shape[d] if self.ndim else 1
        if not _is_int(k) or not 1 <= k <= n:
            raise IndexError(f"kthvalue(): selected number k out of range for dimension {d} "
                             f"(k = {k}, size {n})")
        values, index = self.sort(d, stable=True)
        if self.ndim == 0:
            return ValuesIndices(values, index)
        values, index = values.narrow(d, k - 1, 1), index.narrow(d, k - 1, 1)
        return ValuesIndices(values, index) if keepdim else ValuesIndices(values.squeeze(d),
                                                                          index.squeeze(d))

    # ------------------------------------------------------------ matrices

    def mm(self, mat2) -> Tensor:
        """self @ mat2 for matrices (N, K) @ (K, M) only."""
        if self.ndim != 2:
            raise RuntimeError(f"mm: self must be a matrix, got a {self.ndim}-D tensor")
        if mat2.ndim != 2:
            raise RuntimeError(f"mm: mat2 must be a matrix, got a {mat2.ndim}-D tensor")
        if self.shape[1] != mat2.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({self.shape[0]}x"
                               f"{self.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
        return self.matmul(mat2)

    def bmm(self, mat2) -> Tensor:
        """Batched self @ mat2 for (B, N, K) @ (B, K, M) only."""
        if self.ndim != 3:
            raise RuntimeError(f"bmm: batch1 must be a 3D tensor, got {self.ndim}-D")
        if mat2.ndim != 3:
            raise RuntimeError(f"bmm: batch2 must be a 3D tensor, got {mat2.ndim}-D")
        b, _, k = self.shape
        if mat2.shape[:2] != (b, k):
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{b}, {k}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
        return self.matmul(mat2)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle (j - i <= diagonal) of the last two dims, zeros elsewhere."""
        if self.ndim < 2:
            raise RuntimeError("tril: input tensor must have at least 2 dimensions")
        return self.where(np.tri(*self.shape[-2:], diagonal, dtype=bool), 0)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle (j - i >= diagonal) of the last two dims, zeros elsewhere."""
        if self.ndim < 2:
            raise RuntimeError("triu: input tensor must have at least 2 dimensions")
        return self.where(~np.tri(*self.shape[-2:], diagonal - 1, dtype=bool), 0)

    # ------------------------------------------------------------ random draws

    def bernoulli(self, p: float | None = None, *, generator=None) -> Tensor:
        """1 with probability self (or p) elementwise, else 0, in self's dtype."""
        probs = read_array(self) if p is None else np.full(self.shape, p)
        if probs.size and not (probs.min() >= 0 and probs.max() <= 1):
            raise RuntimeError("bernoulli: Expected p_in >= 0 && p_in <= 1 to be true")
        draw = rng(generator).random(self.shape) < probs
        return self._make(draw.astype(self._array.dtype))

    def multinomial(self, num_samples: int, replacement: builtins.bool = False, *,
                    generator=None) -> Tensor:
        """num_samples category indices per row, drawn with the weights in the last dim
        (1-D: (num_samples,); 2-D: (rows, num_samples)), int64."""
        w = read_array(self)
        if w.ndim not in (1, 2):
            raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {w.ndim}")
        if not _is_int(num_samples) or num_samples <= 0:
            raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples, got "
                               f"{num_samples}")
        rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
        if not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(1) <= 0).any():
            raise RuntimeError("multinomial: invalid multinomial distribution (encountering "
                               "probability entry < 0, inf or nan, or a row summing to 0)")
        if not replacement and num_samples > builtins.min((rows > 0).sum(1)):
            raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) "
                               f"samples without replacement (n_sample {num_samples}, "
                               f"{builtins.min((rows > 0).sum(1))} categories of nonzero weight)")
        gen = rng(generator)
        draws = np.stack([gen.choice(len(r), num_samples, replace=replacement, p=r / r.sum())
                          for r in rows]).astype(np.int64)
        return self._make(draws.reshape(w.shape[:-1] + (num_samples,)))

    # in place, as copy_ writes (refused on a leaf that requires grad, outside no_grad)
    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        check_random_float("uniform_", self._array.dtype)
        return self.copy_(self._make(rng(generator).uniform(a, b, self.shape)))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        check_random_float("normal_", self._array.dtype)
        return self.copy_(self._make(rng(generator).normal(mean, std, self.shape)))

    def bernoulli_(self, p: float = 0.5, *, generator=None) -> Tensor:
        return self.copy_(self._make(rng(generator).random(self.shape) < _arr(p)))

    # ------------------------------------------------------------ shape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:  # dims 0 and -1 are valid here too; the result has one element
            for d in (start_dim, end_dim):
                _normalize_dim(d, 0, "flatten")
            return self.reshape(1)
        s, e = _normalize_dim(start_dim, self.ndim, "flatten"), _normalize_dim(end_dim, self.ndim,
                                                                               "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None or self.ndim == 0:
            if dim is not None:
                _normalize_dim(dim, 0, "squeeze")  # a 0-d tensor takes dims 0 and -1
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = _normalize_dim(dim, self.ndim, "squeeze")
        return self.reshape(self.shape[:d] + self.shape[d + 1:] if self.shape[d] == 1 else
                            self.shape)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Pieces of `split_size` (the last may be smaller) or of the given sizes along dim."""
        if self.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        dim = _normalize_dim(dim, self.ndim, "split")
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections < 0:
                raise ValueError(f"split: split expects split_size be non-negative, but got "
                                 f"split_size={split_size_or_sections}")
            if split_size_or_sections == 0 and n:
                raise ValueError(f"split: split_size can only be 0 if dimension size is 0, but "
                                 f"got dimension size of {n} (split_size 0, tensor of shape "
                                 f"{self.shape})")
            bounds = _bounds(n, split_size_or_sections) if n else ((0, 0),)  # one empty piece
        else:
            if not isinstance(split_size_or_sections, (list, tuple)) or not all(
                    _is_int(s) for s in split_size_or_sections):
                raise TypeError(f"split: split_size_or_sections must be an int or a list of "
                                f"ints, got {split_size_or_sections!r}")
            sizes = list(split_size_or_sections)
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the size of dim "
                                 f"{dim} of a tensor of shape {self.shape}")
            ends = np.cumsum(sizes).tolist()
            bounds = tuple(zip([0] + ends[:-1], ends))
        return self._split(bounds, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        d = _normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def view(self, *shape) -> Tensor:
        """reshape that never copies: PyTorch's error where the memory layout does not allow it."""
        out = self.reshape(*shape)
        if out._view is None and self._array.size:
            raise RuntimeError(f"view: view size {list(out.shape)} is not compatible with input "
                               f"tensor's size and stride (shape {list(self.shape)}); use "
                               f".reshape(...) instead.")
        return out

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """A view of `length` elements from `start` along dim."""
        d = _normalize_dim(dim, self.ndim, "narrow")
        n = self.shape[d]
        start = int(_arr(start))  # PyTorch takes a 0-d tensor too
        start = start + n if start < 0 else start
        if not (0 <= start and length >= 0 and start + length <= n):
            raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                             f"size ({n})")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def select(self, dim: int, index: int) -> Tensor:
        d = _normalize_dim(dim, self.ndim, "select")
        if not -self.shape[d] <= index < self.shape[d]:
            raise IndexError(f"select: index {index} out of range for tensor of size "
                             f"{tuple(self.shape)} at dimension {dim}")
        return self[(slice(None),) * d + (index,)]

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """The slices at `index` (a 1-D or 0-d int tensor) along dim."""
        d = _normalize_dim(dim, self.ndim, "index_select")
        i = np.asarray(_arr(index))
        if i.ndim > 1 or i.dtype.kind not in "iu":
            raise IndexError(f"index_select(): Index is supposed to be a vector of ints, got "
                             f"{i.ndim}-D {i.dtype}")
        n = self.shape[d] if self.ndim else 1
        check_indices(i, -n, n, IndexError, f"index_select(): index out of range in self (size "
                                            f"{n} at dim {d})")
        return self[(slice(None),) * d + (i.reshape(-1),)] if self.ndim else self.reshape(1)[i]

    def repeat(self, *sizes) -> Tensor:
        """The tensor tiled sizes[i] times along dim i (leading sizes add dims)."""
        sizes = _sizes(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can "
                               f"not be smaller than number of dimensions of tensor ({self.ndim})")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        pairs = [(r, n) for r, n in zip(sizes, shape)]
        x = self.reshape([m for _, n in pairs for m in (1, n)])  # (1, n0, 1, n1, ...)
        x = x.expand([m for pair in pairs for m in pair])  # (r0, n0, r1, n1, ...)
        return x.reshape([r * n for r, n in pairs])
