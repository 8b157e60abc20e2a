"""Matrix products: matmul, and the fused addmm and linear of an LSTM step."""

import collections
import math
import string

import numpy as np

from ..autograd.outer_sum import OuterSum
from ..autograd.primitive import Primitive
from ..dtypes import array_result_type


class Matmul(Primitive):
    """x @ y for 1-D, 2-D and batched operands. VJP: (g @ y^T, x^T @ g)."""
    saved_roles = (0, 1)

    @staticmethod
    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"matmul: both arguments to matmul need to be at least 1D, but they "
                             f"are {x.ndim}D and {y.ndim}D: {x.shape} @ {y.shape}")
        if x.dtype is not y.dtype:  # PyTorch raises; promote, for `ndarray @ Tensor` constants
            dtype = array_result_type(x, y)
            x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
        k_y = y.shape[0] if y.ndim == 1 else y.shape[-2]
        if x.shape[-1] != k_y:
            raise ValueError(f"matmul: {x.shape} @ {y.shape}: inner dimensions "
                             f"{x.shape[-1]} and {k_y} differ")
        needs_x, needs_y = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_y else None, y if needs_x else None)
        ctx.x_shape, ctx.y_shape = x.shape, y.shape
        if x.ndim > 2 and y.ndim == 2:  # one large GEMM beats NumPy's loop over the batch
            rows = math.prod(x.shape[:-1])  # not -1: with k_y = 0 the row count is ambiguous
            out = np.dot(x.reshape(rows, k_y), y).reshape(*x.shape[:-1], y.shape[1])
        else:  # np.dot always reaches BLAS; np.matmul does not for some 2-D layouts (10x slower)
            out = np.dot(x, y) if x.ndim <= 2 and y.ndim <= 2 else np.matmul(x, y)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors  # x is kept only when dy is needed, y only when dx is
        x_ndim, y_ndim = len(ctx.x_shape), len(ctx.y_shape)
        if x_ndim == 2 and y_ndim == 2:  # the common case first: no reshapes, a call each
            dx = None if y is None else np.dot(g, y.T)
            dy = None if x is None else OuterSum(x, g)  # lazy x^T g
            return dx, dy
        if x_ndim == 1 and y_ndim == 1:
            return (None if y is None else g * y), (None if x is None else g * x)
        if x_ndim >= 2 and y_ndim == 2:  # fold any batch into rows: dy is one GEMM, no batch sum
            rows = math.prod(ctx.x_shape[:-1])  # not -1: a size may be 0
            g2 = g.reshape(rows, g.shape[-1])
            dx = None if y is None else np.dot(g2, y.T).reshape(ctx.x_shape)
            dy = None if x is None else OuterSum(x.reshape(rows, x.shape[-1]), g2)  # lazy x^T g
            return dx, dy
        # treat a 1-D operand as a matrix with a size-1 axis, then drop that axis again
        if x_ndim == 1:
            g = np.expand_dims(g, -2)
        if y_ndim == 1:
            g = np.expand_dims(g, -1)
        dx = dy = None
        if y is not None:
            dx = np.matmul(g, np.swapaxes(y[:, None] if y_ndim == 1 else y, -1, -2))
            dx = dx[..., 0, :] if x_ndim == 1 else dx
        if x is not None:
            dy = np.matmul(np.swapaxes(x[None, :] if x_ndim == 1 else x, -1, -2), g)
            dy = dy[..., 0] if y_ndim == 1 else dy
        return dx, dy


FEW_ROWS = 64  # Addmm's transposed product: at most this many rows (perf, below)


class Addmm(Primitive):
    """input + x @ w for matrices x: (N, K), w: (K, M), PyTorch's addmm (beta = alpha = 1).
    VJP: (g, g @ w^T, x^T @ g). One node where `input + x @ w` records two (the LSTM step)."""
    saved_roles = (1, 2)

    @staticmethod
    def forward(ctx, input, x, w):
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
            raise ValueError(f"addmm: expected matrices (N, K) @ (K, M), got {x.shape} @ "
                             f"{w.shape}")
        # perf: a few rows times a transposed weight (the LSTM's h @ W_hh.T): BLAS packs all of w at
        # every call, and a transposed w slower than one in its own layout, so multiply w's
        # C-ordered transpose instead, (w^T x^T)^T, and let the sum below write the result
        # C-ordered. One call and its sum, w: (4H, H)^T, one BLAS thread: rows 16, H = 128: 43 -> 28
        # us, rows 32, H = 256: 230 -> 180 us; one row (a vector): the same. The same bits in every
        # case measured with a C-ordered x (an F-ordered one, x.T C-ordered, is summed in another
        # order by BLAS: np.dot then). bench_lstm, alternating: compiled small 1.06x, medium 1.04x;
        # eager 1.02x, 1.05x. FEW_ROWS: at 64 rows, on an Intel Xeon (AVX-512, one thread) H = 128
        # went 86 -> 109 us and the large step 0.99x; on an AMD EPYC (two threads) H = 128 and 256
        # the same, H = 512 1372 -> 1169 us, and the large step compiled 1.04x to 1.08x in four A/B
        # runs (one thread too), eager 0.97x to 1.05x; 128 rows, H = 512: 1.03x
        if 1 < x.shape[0] <= FEW_ROWS and w.flags.f_contiguous and \
                not w.flags.c_contiguous and x.flags.c_contiguous and \
                input.shape == (x.shape[0], w.shape[1]) and input.flags.c_contiguous:
            product = np.dot(w.T, x.T).T
        else:
            product = np.dot(x, w)
        if input.dtype != product.dtype:  # the sum would promote silently
            raise TypeError(f"addmm: input has dtype {input.dtype}, the product {product.dtype}")
        if input.shape != product.shape and \
                np.broadcast_shapes(input.shape, product.shape) != product.shape:
            raise ValueError(f"addmm: input of shape {input.shape} does not broadcast to the "
                             f"product's shape {product.shape}")
        _, needs_x, needs_w = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_w else None, w if needs_x else None)
        # a new array, as `input + x @ w` makes. Adding in place would save an (N, M) temporary,
        # but then an LSTM's activations sit packed at the top of the heap: backward frees them
        # all, glibc returns that memory to the OS and the next forward faults it back in
        # (measured: 300-6,500 page faults per step and 5-20% slower, at every (B, H) tried)
        return np.add(input, product)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return (g, None if w is None else np.dot(g, w.T),
                None if x is None else OuterSum(x, g))  # lazy x^T g, as Matmul's


class Linear(Primitive):
    """x @ w^T + b for x: (*, K), w: (M, K), b: (M,) (or (1,)) or None, PyTorch's F.linear.
    VJP: (g @ w, g^T x, g summed over rows). A primitive for measured speed: one node where
    the composite records three (w.T, the matmul, the bias add), and for (T, N, K) input no
    reshapes around a 2-D addmm (tiny LSTM benchmark: 5 nodes fewer per training step)."""
    saved_roles = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b):
        if b is not None and b.shape[0] not in (1, w.shape[0]):
            raise ValueError(f"linear: bias of shape {b.shape} does not broadcast to the "
                             f"{w.shape[0]} output features of weight {w.shape}")
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # leading dims folded: one GEMM
        out = np.dot(x2, w.T)  # (N, M)
        if b is not None:
            out += b  # in place: one temporary fewer than x @ w.T + b
        needs_x, needs_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_w else None, w if needs_x else None)
        ctx.x_shape = x.shape
        return out.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        rows = math.prod(g.shape[:-1])  # not -1: a size may be 0
        g2 = g.reshape(rows, g.shape[-1])
        dx = None if w is None else np.dot(g2, w).reshape(ctx.x_shape)
        dw = None if x is None else OuterSum(g2, x.reshape(rows, x.shape[-1]))  # lazy g^T x
        db = g2.sum(0) if ctx.needs_input_grad[2] else None  # b was added to every row
        return dx, dw, db


def einsum_subscripts(equation: str, shapes: list) -> tuple:
    """(input subscripts, output subscripts) of an einsum equation, with spaces removed,
    '...' spelled out in unused letters and an implicit output made explicit (the ellipsis
    dims, then the letters used once, sorted: PyTorch's and NumPy's rule)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        more = "more" if len(shapes) > len(ins) else "fewer"
        raise ValueError(f"einsum(): {more} operands were provided than specified in the "
                         f"equation {equation!r}")
    free = (c for c in string.ascii_letters if c not in eq)
    n_ell = max([len(shape) - len(s) + 3 for s, shape in zip(ins, shapes) if "..." in s],
                default=0)
    ell = "".join(next(free) for _ in range(n_ell))
    spelled = []
    for i, (s, shape) in enumerate(zip(ins, shapes)):
        if "..." in s:
            n = len(shape) - len(s) + 3
            s = s.replace("...", ell[n_ell - n:] if n > 0 else "")
        if len(s) != len(shape) or not s.isalpha() and s:
            raise ValueError(f"einsum(): the subscripts {ins[i]!r} of operand {i} do not match "
                             f"its {len(shape)} dimensions (shape {tuple(shape)})")
        spelled.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = collections.Counter("".join(ins).replace(".", ""))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return spelled, out


def _onto_diagonal(gx, letters: str, s: str, sizes: dict):
    """gx (over x's letters, each once) spread onto the diagonal of x's subscripts s, which
    repeat a letter: each repeat gets a fresh letter tied to the first by an identity matrix."""
    free = (c for c in string.ascii_letters if c not in s)
    target, ties, seen = "", [], set()
    for c in s:
        if c in seen:
            fresh = next(free)
            target += fresh
            ties.append(c + fresh)
        else:
            seen.add(c)
            target += c
    eyes = [np.eye(sizes[tie[0]], dtype=gx.dtype) for tie in ties]
    return np.einsum(",".join([letters, *ties]) + "->" + target, gx, *eyes)


class Einsum(Primitive):
    """np.einsum(equation, *xs). VJP for each x: einsum of g with the other operands into x's
    letters, broadcast over letters only x has, written on x's diagonal where x repeats a
    letter, and summed where x's size 1 was broadcast."""
    saved_roles = lambda ctx: tuple(range(2, 2 + len(ctx.saved_tensors)))  # noqa: E731

    @staticmethod
    def forward(ctx, ins, out, *xs):
        sizes = {}
        for s, x in zip(ins, xs):
            for c, n in zip(s, x.shape):
                if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                    raise ValueError(f"einsum(): subscript {c} has size {n} for one operand and "
                                     f"{sizes[c]} for another")
                sizes[c] = max(n, sizes[c])
        ctx.save_for_backward(*xs)
        ctx.args = (ins, out, sizes)
        return np.asarray(np.einsum(",".join(ins) + "->" + out, *xs))

    @staticmethod
    def backward(ctx, g):
        xs = ctx.saved_tensors
        ins, out, sizes = ctx.args
        full = [np.broadcast_to(x, [sizes[c] for c in s]) for s, x in zip(ins, xs)]
        grads = [None, None]
        for i, s in enumerate(ins):
            if not ctx.needs_input_grad[i + 2]:
                grads.append(None)
                continue
            others = [j for j in range(len(ins)) if j != i]
            known = set(out).union(*[ins[j] for j in others])
            letters = "".join(dict.fromkeys(s))  # x's letters, each once
            kept = "".join(c for c in letters if c in known)
            gx = np.einsum(",".join([out] + [ins[j] for j in others]) + "->" + kept, g,
                           *[full[j] for j in others])
            gx = np.expand_dims(gx, [k for k, c in enumerate(letters) if c not in known])
            gx = np.broadcast_to(gx, [sizes[c] for c in letters])  # letters only x sums over
            if len(letters) < len(s):  # a repeated letter: x's diagonal gets the gradient
                gx = _onto_diagonal(gx, letters, s, sizes)
            shape = xs[i].shape
            stretched = tuple(k for k, n in enumerate(shape) if n == 1 and gx.shape[k] != 1)
            grads.append(np.sum(gx, axis=stretched, keepdims=True) if stretched else gx)
        return tuple(grads)
