"""The function forms of Tensor methods, as PyTorch's `torch.sin(x)` beside `x.sin()`: each is
the method, called on its first argument. `einsum` has no method form.
"""

from __future__ import annotations  # the names abs, max, min, round, pow shadow the builtins

import warnings

import numpy as np

from . import ops
from .autograd.grad_mode import is_grad_enabled
from .tensor import Tensor

# ---------------------------------------------------------------- elementwise


def abs(input: Tensor, *, out=None) -> Tensor: return _out("abs", input.abs(), out)
def absolute(input: Tensor, *, out=None) -> Tensor: return _out("absolute", input.abs(), out)
def sqrt(input: Tensor, *, out=None) -> Tensor: return _out("sqrt", input.sqrt(), out)
def rsqrt(input: Tensor, *, out=None) -> Tensor: return _out("rsqrt", input.rsqrt(), out)
def square(input: Tensor, *, out=None) -> Tensor: return _out("square", input.square(), out)
def neg(input: Tensor, *, out=None) -> Tensor: return _out("neg", input.neg(), out)
def negative(input: Tensor, *, out=None) -> Tensor: return _out("negative", input.neg(), out)
def sign(input: Tensor, *, out=None) -> Tensor: return _out("sign", input.sign(), out)
def exp(input: Tensor, *, out=None) -> Tensor: return _out("exp", input.exp(), out)
def log(input: Tensor, *, out=None) -> Tensor: return _out("log", input.log(), out)
def log1p(input: Tensor, *, out=None) -> Tensor: return _out("log1p", input.log1p(), out)
def expm1(input: Tensor, *, out=None) -> Tensor: return _out("expm1", input.expm1(), out)
def sin(input: Tensor, *, out=None) -> Tensor: return _out("sin", input.sin(), out)
def cos(input: Tensor, *, out=None) -> Tensor: return _out("cos", input.cos(), out)
def tanh(input: Tensor, *, out=None) -> Tensor: return _out("tanh", input.tanh(), out)
def sigmoid(input: Tensor, *, out=None) -> Tensor: return _out("sigmoid", input.sigmoid(), out)
def relu(input: Tensor) -> Tensor: return input.relu()
def erf(input: Tensor, *, out=None) -> Tensor: return _out("erf", input.erf(), out)
def floor(input: Tensor, *, out=None) -> Tensor: return _out("floor", input.floor(), out)
def ceil(input: Tensor, *, out=None) -> Tensor: return _out("ceil", input.ceil(), out)
def trunc(input: Tensor, *, out=None) -> Tensor: return _out("trunc", input.trunc(), out)
def round(input: Tensor, *, decimals: int = 0) -> Tensor: return input.round(decimals)


def reciprocal(input: Tensor, *, out=None) -> Tensor:
    return _out("reciprocal", input.reciprocal(), out)


def pow(input, exponent, *, out=None) -> Tensor:
    """input ** exponent; either may be a number (torch.pow(2, x))."""
    result = input.pow(exponent) if isinstance(input, Tensor) else exponent.__rpow__(input)
    return _out("pow", result, out)


def add(input: Tensor, other, *, alpha: float = 1, out=None) -> Tensor:
    return _out("add", input.add(other, alpha=alpha), out)


def sub(input: Tensor, other, *, alpha: float = 1, out=None) -> Tensor:
    return _out("sub", input.sub(other, alpha=alpha), out)


def mul(input: Tensor, other, *, out=None) -> Tensor: return _out("mul", input.mul(other), out)


def multiply(input: Tensor, other, *, out=None) -> Tensor:
    return _out("multiply", input.mul(other), out)


def true_divide(input: Tensor, other, *, out=None) -> Tensor:
    return _out("true_divide", input.true_divide(other), out)


def floor_divide(input: Tensor, other, *, out=None) -> Tensor:
    return _out("floor_divide", input.floor_divide(other), out)


def remainder(input: Tensor, other, *, out=None) -> Tensor:
    return _out("remainder", input.remainder(other), out)


def fmod(input: Tensor, other, *, out=None) -> Tensor:
    return _out("fmod", input.fmod(other), out)


def maximum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    return _out("maximum", input.maximum(other), out)


def minimum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    return _out("minimum", input.minimum(other), out)


def div(input: Tensor, other, *, rounding_mode: str | None = None, out=None) -> Tensor:
    return _out("div", input.div(other, rounding_mode=rounding_mode), out)


divide = div


def clamp(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    return _out("clamp", input.clamp(min, max), out)


clip = clamp


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    return input.addcmul(tensor1, tensor2, value=value)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor: return input.masked_fill(mask, value)

# ---------------------------------------------------------------- comparisons


def eq(input: Tensor, other) -> Tensor: return input.eq(other)
def ne(input: Tensor, other) -> Tensor: return input.ne(other)
def lt(input: Tensor, other) -> Tensor: return input.lt(other)
def le(input: Tensor, other) -> Tensor: return input.le(other)
def gt(input: Tensor, other) -> Tensor: return input.gt(other)
def ge(input: Tensor, other) -> Tensor: return input.ge(other)
def isnan(input: Tensor) -> Tensor: return input.isnan()
def isinf(input: Tensor) -> Tensor: return input.isinf()
def isfinite(input: Tensor) -> Tensor: return input.isfinite()
def equal(input: Tensor, other: Tensor) -> bool: return input.equal(other)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    return input.allclose(other, rtol, atol, equal_nan)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor: return input.any(dim, keepdim)
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor: return input.all(dim, keepdim)

# ---------------------------------------------------------------- reductions


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return input.sum(dim, keepdim, dtype=dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return input.mean(dim, keepdim, dtype=dtype)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return input.prod(dim, keepdim, dtype=dtype)


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    return input.std(dim, unbiased, keepdim, correction=correction)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    return input.norm(p, dim, keepdim, dtype)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    return input.logsumexp(dim, keepdim)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor: return input.amax(dim, keepdim)
def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor: return input.amin(dim, keepdim)
def max(input: Tensor, dim=None, keepdim: bool = False): return input.max(dim, keepdim)
def min(input: Tensor, dim=None, keepdim: bool = False): return input.min(dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return input.argmax(dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return input.argmin(dim, keepdim)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    return input.sort(dim, descending, stable=stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    return input.argsort(dim, descending, stable)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    return input.topk(k, dim, largest, sorted)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    return input.kthvalue(k, dim, keepdim)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor: return input.softmax(dim, dtype)
def log_softmax(input: Tensor, dim: int) -> Tensor: return input.log_softmax(dim)

# ---------------------------------------------------------------- matrices


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    return _out("matmul", input.matmul(other), out)


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor: return _out("mm", input.mm(mat2), out)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    return _out("bmm", input.bmm(mat2), out)


def t(input: Tensor) -> Tensor: return input.t()
def tril(input: Tensor, diagonal: int = 0) -> Tensor: return input.tril(diagonal)
def triu(input: Tensor, diagonal: int = 0) -> Tensor: return input.triu(diagonal)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1,
          out=None) -> Tensor:
    return _out("addmm", input.addmm(mat1, mat2, beta=beta, alpha=alpha), out)


def einsum(equation: str, *operands) -> Tensor:
    """Sum of products over the letters of `equation` ('ij,jk->ik', 'bij,bjk', '...ii->...i'),
    with '...' and the implicit output (the letters used once, sorted) as in PyTorch.
    Operands as arguments or as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): expected the equation as a str, got "
                        f"{type(equation).__name__}")
    shapes = [getattr(x, "shape", ()) for x in operands]
    ins, out = ops.einsum_subscripts(equation, shapes)
    return ops.Einsum.apply(ins, out, *operands)

# ---------------------------------------------------------------- shape and indexing


def clone(input: Tensor, *, memory_format=None) -> Tensor: return input.clone()


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    return input.narrow(dim, start, length)


def squeeze(input: Tensor, dim: int | None = None) -> Tensor: return input.squeeze(dim)
def unsqueeze(input: Tensor, dim: int) -> Tensor: return input.unsqueeze(dim)
def reshape(input: Tensor, shape) -> Tensor: return input.reshape(shape)
def permute(input: Tensor, dims) -> Tensor: return input.permute(dims)
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor: return input.transpose(dim0, dim1)
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple: return input.chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    return tensor.split(split_size_or_sections, dim)


def unbind(input: Tensor, dim: int = 0) -> tuple: return input.unbind(dim)
def select(input: Tensor, dim: int, index: int) -> Tensor: return input.select(dim, index)
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor: return input.gather(dim, index)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return input.scatter_add(dim, index, src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    return input.index_select(dim, index)


def _out(op: str, result: Tensor, out: Tensor | None) -> Tensor:
    """PyTorch's `out=`: the result written into `out` (resized to its shape if need be, cast to
    its dtype where PyTorch casts), and `out` returned. Not recorded for autograd, as in PyTorch."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if not np.can_cast(result.dtype.dtype, out.dtype.dtype, "same_kind"):
        raise RuntimeError(f"{op}(): result type {result.dtype} can't be cast to the desired "
                           f"output type {out.dtype}")
    if out.shape != result.shape:
        if out.numel() != 0:
            warnings.warn(f"{op}(): an output with one or more elements was resized since it had "
                          f"shape {list(out.shape)}, which does not match the required output "
                          f"shape {list(result.shape)}", UserWarning, stacklevel=3)
        out.data = Tensor(np.empty(result.shape, out.dtype))
    return out.copy_(result)
