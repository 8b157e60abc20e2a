"""The function forms of Tensor methods, as PyTorch's `torch.sin(x)` beside `x.sin()`: each is
the method, called on its first argument. `einsum` has no method form.
"""

from __future__ import annotations  # the names abs, max, min, round, pow shadow the builtins

from . import ops
from .tensor import Tensor

# ---------------------------------------------------------------- elementwise


def abs(input: Tensor) -> Tensor: return input.abs()
def absolute(input: Tensor) -> Tensor: return input.abs()
def sqrt(input: Tensor) -> Tensor: return input.sqrt()
def rsqrt(input: Tensor) -> Tensor: return input.rsqrt()
def square(input: Tensor) -> Tensor: return input.square()
def reciprocal(input: Tensor) -> Tensor: return input.reciprocal()
def neg(input: Tensor) -> Tensor: return input.neg()
def negative(input: Tensor) -> Tensor: return input.neg()
def sign(input: Tensor) -> Tensor: return input.sign()
def exp(input: Tensor) -> Tensor: return input.exp()
def log(input: Tensor) -> Tensor: return input.log()
def log1p(input: Tensor) -> Tensor: return input.log1p()
def expm1(input: Tensor) -> Tensor: return input.expm1()
def sin(input: Tensor) -> Tensor: return input.sin()
def cos(input: Tensor) -> Tensor: return input.cos()
def tanh(input: Tensor) -> Tensor: return input.tanh()
def sigmoid(input: Tensor) -> Tensor: return input.sigmoid()
def relu(input: Tensor) -> Tensor: return input.relu()
def erf(input: Tensor) -> Tensor: return input.erf()
def floor(input: Tensor) -> Tensor: return input.floor()
def ceil(input: Tensor) -> Tensor: return input.ceil()
def trunc(input: Tensor) -> Tensor: return input.trunc()
def round(input: Tensor, *, decimals: int = 0) -> Tensor: return input.round(decimals)


def pow(input, exponent) -> Tensor:
    """input ** exponent; either may be a number (torch.pow(2, x))."""
    return input.pow(exponent) if isinstance(input, Tensor) else exponent.__rpow__(input)


def add(input: Tensor, other, *, alpha: float = 1) -> Tensor: return input.add(other, alpha=alpha)
def sub(input: Tensor, other, *, alpha: float = 1) -> Tensor: return input.sub(other, alpha=alpha)
def mul(input: Tensor, other) -> Tensor: return input.mul(other)
def multiply(input: Tensor, other) -> Tensor: return input.mul(other)
def true_divide(input: Tensor, other) -> Tensor: return input.true_divide(other)
def floor_divide(input: Tensor, other) -> Tensor: return input.floor_divide(other)
def remainder(input: Tensor, other) -> Tensor: return input.remainder(other)
def fmod(input: Tensor, other) -> Tensor: return input.fmod(other)
def maximum(input: Tensor, other: Tensor) -> Tensor: return input.maximum(other)
def minimum(input: Tensor, other: Tensor) -> Tensor: return input.minimum(other)


def div(input: Tensor, other, *, rounding_mode: str | None = None) -> Tensor:
    return input.div(other, rounding_mode=rounding_mode)


divide = div


def clamp(input: Tensor, min=None, max=None) -> Tensor: return input.clamp(min, max)


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


def matmul(input: Tensor, other: Tensor) -> Tensor: return input.matmul(other)
def mm(input: Tensor, mat2: Tensor) -> Tensor: return input.mm(mat2)
def bmm(input: Tensor, mat2: Tensor) -> Tensor: return input.bmm(mat2)
def t(input: Tensor) -> Tensor: return input.t()
def tril(input: Tensor, diagonal: int = 0) -> Tensor: return input.tril(diagonal)
def triu(input: Tensor, diagonal: int = 0) -> Tensor: return input.triu(diagonal)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1,
          alpha: float = 1) -> Tensor:
    return input.addmm(mat1, mat2, beta=beta, alpha=alpha)


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
