"""Every op: forward against NumPy and gradient against float64 central differences, over a
shape matrix with broadcasting (one table line per op), plus hypothesis property tests of the
elementwise and reduction ops against analytic gradients computed here independently."""

import math

import numpy as np
import pytest
from helpers import (BINARY_SHAPES, UNARY_SHAPES, away_from_zero, check_op, distinct, normal,
                     positive, sum_to_shape)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, ops
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn import functional as F

ROWS = [((2,),), ((3, 2),), ((1, 2),), ((2, 1, 3),)]  # at least one dim
MATRICES = [((3, 2),), ((1, 2),), ((2, 1, 3),)]  # at least two dims
# float32 constants, so float32 tensors stay float32 and float64 ones stay float64
W2 = np.array([1.0, -2.0], np.float32)
W23 = np.arange(6, dtype=np.float32).reshape(2, 3)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_gates(a):
    """sigmoid on blocks i, f, o and tanh on block g of the last axis, written out per block."""
    i, f, g, o = np.split(a, 4, axis=-1)
    return np.concatenate([_sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)], axis=-1)


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


T, T_IGNORE = np.array([1, 0, 3]), np.array([1, -100, 3])


def _cross_entropy(x, target, label_smoothing=0.0):
    """PyTorch's per-row loss: (1 - eps) * -log p[target] + eps * mean over classes of -log p."""
    logp = _log_softmax(x, 1)
    nll = -logp[np.arange(len(target)), target]
    return (1 - label_smoothing) * nll - label_smoothing * logp.mean(1)


# (id, fn on Tensors, NumPy reference, shape matrix, sampler)
OPS = [
    # binary, with broadcasting
    ("add", lambda x, y: x + y, np.add, BINARY_SHAPES, normal),
    ("sub", lambda x, y: x - y, np.subtract, BINARY_SHAPES, normal),
    ("mul", lambda x, y: x * y, np.multiply, BINARY_SHAPES, normal),
    ("div", lambda x, y: x / y, np.divide, BINARY_SHAPES, away_from_zero),
    ("pow", lambda x, y: x**y, np.power, BINARY_SHAPES, positive),
    ("neg", lambda x: -x, np.negative, UNARY_SHAPES, normal),
    # scalar operands on either side
    ("pow_2", lambda x: x**2, lambda x: x**2, UNARY_SHAPES, normal),
    ("pow_3", lambda x: x**3, lambda x: x**3, UNARY_SHAPES, normal),
    ("pow_half", lambda x: x**0.5, np.sqrt, UNARY_SHAPES, positive),
    ("pow_neg", lambda x: x**-1.5, lambda x: x**-1.5, UNARY_SHAPES, positive),
    ("pow_neg_int", lambda x: x**-1, lambda x: 1 / x, UNARY_SHAPES, away_from_zero),
    ("rpow", lambda x: 2**x, lambda x: 2.0**x, UNARY_SHAPES, normal),
    ("rpow_float", lambda x: 0.5**x, lambda x: 0.5**x, UNARY_SHAPES, normal),
    ("rsub", lambda x: 1 - x, lambda x: 1 - x, UNARY_SHAPES, normal),
    ("rmul", lambda x: 2 * x, lambda x: 2 * x, UNARY_SHAPES, normal),
    ("radd", lambda x: 1.5 + x, lambda x: 1.5 + x, UNARY_SHAPES, normal),
    ("rdiv", lambda x: 3 / x, lambda x: 3 / x, UNARY_SHAPES, away_from_zero),
    ("sub_scalar", lambda x: x - 1, lambda x: x - 1, UNARY_SHAPES, normal),
    ("div_scalar", lambda x: x / 4, lambda x: x / 4, UNARY_SHAPES, normal),
    ("mul_ndarray", lambda x: x * W2, lambda x: x * W2, [((2,),), ((3, 2),), ((1, 2),)], normal),
    ("rmul_ndarray", lambda x: W2 * x, lambda x: W2 * x, [((2,),), ((3, 2),), ((1, 2),)], normal),
    # matmul
    ("matmul", lambda x, y: x @ y, np.matmul, [
        ((3,), (3,)),  # 1-D @ 1-D: a dot product
        ((2, 3), (3, 4)),
        ((3,), (3, 4)),  # 1-D @ 2-D
        ((2, 3), (3,)),  # 2-D @ 1-D
        ((2, 2, 3), (2, 3, 4)),  # batched
        ((2, 1, 2, 3), (3, 3, 2)),  # broadcast batch dims on both sides
        ((2, 3), (2, 3, 4)),  # matrix @ batch
        ((3,), (2, 3, 4)),  # 1-D @ batched
        ((2, 2, 3), (3,)),  # batched @ 1-D
    ], normal),
    ("matmul_method", lambda x, y: x.matmul(y), np.matmul, [((2, 3), (3, 2))], normal),
    # fused: input + product, with input broadcast to the product's shape
    ("addmm", lambda i, x, w: i.addmm(x, w), lambda i, x, w: i + x @ w,
     [((2, 4), (2, 3), (3, 4)), ((4,), (2, 3), (3, 4)), ((2, 1), (2, 3), (3, 4))], normal),
    # a transposed weight and a few rows (the LSTM step): computed as (w^T x^T)^T
    ("addmm_transposed_weight", lambda i, x, w: i.addmm(x, w.T), lambda i, x, w: i + x @ w.T,
     [((5, 4), (5, 3), (4, 3)), ((1, 4), (1, 3), (4, 3)), ((4,), (5, 3), (4, 3))], normal),
    ("linear", lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, [
        ((2, 3), (4, 3), (4,)), ((3,), (4, 3), (4,)), ((2, 2, 3), (4, 3), (1,)),
        ((2, 0), (3, 0), (3,)), ((3,), (0, 3), (0,))], normal),  # no inputs, no outputs
    ("linear_no_bias", lambda x, w: F.linear(x, w), lambda x, w: x @ w.T,
     [((2, 3), (4, 3)), ((2, 1, 3), (4, 3))], normal),
    ("addcmul", lambda i, x, y: i.addcmul(x, y), lambda i, x, y: i + x * y, [
        ((2, 3), (2, 3), (2, 3)),
        ((3,), (2, 3), (2, 1)),  # input broadcast to the product
        ((2, 3), (3,), (1, 3)),  # the product broadcast to input
        ((2, 1, 3), (4, 1), (3,)),  # both widen each other
    ], normal),
    ("rmatmul_ndarray", lambda x: W23 @ x, lambda x: W23 @ x, [((3,),), ((3, 2),)], normal),
    # unary
    ("exp", lambda x: x.exp(), np.exp, UNARY_SHAPES, normal),
    ("log", lambda x: x.log(), np.log, UNARY_SHAPES, positive),
    ("tanh", lambda x: x.tanh(), np.tanh, UNARY_SHAPES, normal),
    ("sigmoid", lambda x: x.sigmoid(), _sigmoid, UNARY_SHAPES, normal),
    ("lstm_gates", lambda a: ops.LSTMGates.apply(a), _lstm_gates,
     [((3, 8),), ((1, 4),), ((2, 3, 12),), ((8,),)], normal),
    ("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), UNARY_SHAPES, away_from_zero),
    ("sqrt", lambda x: x.sqrt(), np.sqrt, UNARY_SHAPES, positive),
    ("erf", lambda x: x.erf(), np.vectorize(math.erf), UNARY_SHAPES, normal),
    ("abs", lambda x: x.abs(), np.abs, UNARY_SHAPES, away_from_zero),
    ("abs_builtin", lambda x: abs(x), np.abs, UNARY_SHAPES, away_from_zero),
    ("clamp", lambda x: x.clamp(-1, 0.5), lambda x: np.clip(x, -1, 0.5), UNARY_SHAPES,
     away_from_zero),
    ("clamp_min", lambda x: x.clamp(min=0.3), lambda x: np.maximum(x, 0.3), UNARY_SHAPES,
     away_from_zero),
    ("clamp_max", lambda x: x.clamp(max=-0.1), lambda x: np.minimum(x, -0.1), UNARY_SHAPES,
     away_from_zero),
    # reductions
    ("sum", lambda x: x.sum(), np.sum, UNARY_SHAPES, normal),
    ("sum_dim0", lambda x: x.sum(0), lambda x: x.sum(0), ROWS, normal),
    ("sum_dim_neg", lambda x: x.sum(dim=-1), lambda x: x.sum(-1), ROWS, normal),
    ("sum_keepdim", lambda x: x.sum(-1, keepdim=True), lambda x: x.sum(-1, keepdims=True),
     ROWS, normal),
    ("sum_tuple", lambda x: x.sum((0, -1)), lambda x: x.sum((0, -1)), MATRICES, normal),
    ("sum_tuple_keepdim", lambda x: x.sum(dim=(-1, 0), keepdim=True),
     lambda x: x.sum((0, -1), keepdims=True), MATRICES, normal),
    ("mean", lambda x: x.mean(), np.mean, UNARY_SHAPES, normal),
    ("mean_dim", lambda x: x.mean(0), lambda x: x.mean(0), ROWS, normal),
    ("mean_tuple_keepdim", lambda x: x.mean((0, 1), keepdim=True),
     lambda x: x.mean((0, 1), keepdims=True), MATRICES, normal),
    ("amax", lambda x: x.amax(), np.max, UNARY_SHAPES, distinct),
    ("amax_dim", lambda x: x.amax(-1), lambda x: x.max(-1), ROWS, distinct),
    ("amax_tuple_keepdim", lambda x: x.amax((0, -1), keepdim=True),
     lambda x: x.max((0, -1), keepdims=True), MATRICES, distinct),
    ("max", lambda x: x.max(), np.max, UNARY_SHAPES, distinct),
    ("max_dim_values", lambda x: x.max(dim=0).values, lambda x: x.max(0), ROWS, distinct),
    ("max_dim_keepdim", lambda x: x.max(-1, keepdim=True)[0], lambda x: x.max(-1, keepdims=True),
     ROWS, distinct),
    ("min", lambda x: x.min(), np.min, UNARY_SHAPES, distinct),
    ("min_dim_values", lambda x: x.min(dim=-1).values, lambda x: x.min(-1), ROWS, distinct),
    ("amin_tuple", lambda x: x.amin((0, 1)), lambda x: x.min((0, 1)), MATRICES, distinct),
    # movement
    ("reshape", lambda x: x.reshape(-1), lambda x: x.reshape(-1), UNARY_SHAPES, normal),
    ("reshape_tuple", lambda x: x.reshape((1, -1, 1)), lambda x: x.reshape(1, -1, 1),
     UNARY_SHAPES, normal),
    ("view", lambda x: x.view(3, 2), lambda x: x.reshape(3, 2), [((6,),), ((2, 3),)], normal),
    ("transpose", lambda x: x.transpose(0, 1), lambda x: x.swapaxes(0, 1), MATRICES, normal),
    ("transpose_neg", lambda x: x.transpose(-1, 0), lambda x: x.swapaxes(-1, 0), MATRICES,
     normal),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1),
     [((2, 1, 3),), ((2, 3, 4),)], normal),
    ("permute_tuple", lambda x: x.permute((1, 0)), lambda x: x.T, [((3, 2),)], normal),
    ("T", lambda x: x.T, lambda x: x.T, UNARY_SHAPES, normal),
    ("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), UNARY_SHAPES, normal),
    ("flatten_range", lambda x: x.flatten(1), lambda x: x.reshape(x.shape[0], -1),
     [((2, 1, 3),), ((2, 3, 4),)], normal),
    ("squeeze", lambda x: x.squeeze(), np.squeeze, UNARY_SHAPES, normal),
    ("squeeze_dim", lambda x: x.squeeze(0), lambda x: x.reshape(x.shape[1:]), [((1, 2),)],
     normal),
    ("squeeze_dim_noop", lambda x: x.squeeze(0), lambda x: x, [((3, 2),)], normal),
    ("unsqueeze", lambda x: x.unsqueeze(0), lambda x: x[None], UNARY_SHAPES, normal),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda x: x[..., None], UNARY_SHAPES, normal),
    ("expand", lambda x: x.expand(4, 1, 2), lambda x: np.broadcast_to(x, (4, 1, 2)),
     [((),), ((2,),), ((1, 2),)], normal),
    ("expand_minus1", lambda x: x.expand(3, -1), lambda x: np.broadcast_to(x, (3, 2)),
     [((1, 2),)], normal),
    # indexing
    ("getitem_int", lambda x: x[1], lambda x: x[1], [((3, 2),), ((2, 1, 3),)], normal),
    ("getitem_neg_int", lambda x: x[-1], lambda x: x[-1], ROWS, normal),
    ("getitem_slice", lambda x: x[1:], lambda x: x[1:], ROWS, normal),
    ("getitem_neg_step", lambda x: x[::-1], lambda x: x[::-1], ROWS, normal),
    ("getitem_2d", lambda x: x[1:3, ::-2], lambda x: x[1:3, ::-2], [((4, 5),)], normal),
    ("getitem_int_slice", lambda x: x[2, 1:4], lambda x: x[2, 1:4], [((4, 5),)], normal),
    ("getitem_none", lambda x: x[:, None], lambda x: x[:, None], ROWS, normal),
    ("getitem_ellipsis", lambda x: x[..., 0], lambda x: x[..., 0], ROWS, normal),
    ("getitem_ellipsis_none", lambda x: x[None, ..., 1:], lambda x: x[None, ..., 1:], ROWS,
     normal),
    ("getitem_int_array", lambda x: x[[2, 0, 2, 2]], lambda x: x[[2, 0, 2, 2]], [((3, 2),)],
     normal),  # repeated indices accumulate
    ("getitem_ndarray", lambda x: x[np.array([[1, 1], [0, 1]])],
     lambda x: x[np.array([[1, 1], [0, 1]])], [((2,),), ((3, 2),)], normal),
    ("getitem_tensor", lambda x: x[Tensor(np.array([1, 1, 0]))], lambda x: x[[1, 1, 0]],
     [((2,),), ((3, 2),)], normal),
    ("getitem_two_arrays", lambda x: x[[0, 2, 2], [1, 0, 0]], lambda x: x[[0, 2, 2], [1, 0, 0]],
     [((3, 2),)], normal),
    ("getitem_array_slice", lambda x: x[1:, [0, 0, 1]], lambda x: x[1:, [0, 0, 1]],
     [((3, 2),)], normal),
    ("getitem_bool", lambda x: x[x.numpy() > 0], lambda x: x[x > 0], [((3, 2),), ((4, 5),)],
     normal),
    ("getitem_bool_tensor", lambda x: x[x > 0], lambda x: x[x > 0], [((3, 2),)], normal),
    ("getitem_bool_rows", lambda x: x[np.array([True, False, True])],
     lambda x: x[np.array([True, False, True])], [((3, 2),)], normal),
    # joining and splitting
    ("cat", lambda x, y: tl.cat([x, y]), lambda x, y: np.concatenate([x, y]),
     [((2, 3), (4, 3)), ((2,), (1,))], normal),
    ("cat_dim1", lambda x, y: tl.cat([x, y], dim=1), lambda x, y: np.concatenate([x, y], 1),
     [((2, 3), (2, 1))], normal),
    ("cat_dim_neg", lambda x, y, z: tl.cat((x, y, z), -1),
     lambda x, y, z: np.concatenate([x, y, z], -1), [((2, 1, 3), (2, 1, 2), (2, 1, 1))], normal),
    ("stack", lambda x, y: tl.stack([x, y]), lambda x, y: np.stack([x, y]),
     [((), ()), ((3, 2), (3, 2))], normal),
    ("stack_dim1", lambda x, y, z: tl.stack([x, y, z], dim=1),
     lambda x, y, z: np.stack([x, y, z], 1), [((2, 3),) * 3], normal),
    ("stack_dim_neg", lambda x, y: tl.stack([x, y], -1), lambda x, y: np.stack([x, y], -1),
     [((3, 2), (3, 2))], normal),
    ("chunk", lambda x: x.chunk(2), lambda x: np.split(x, [2]), [((3, 2),)], normal),
    ("chunk_dim1", lambda x: x.chunk(4, dim=1), lambda x: np.split(x, [2, 4], 1),
     [((2, 6),)], normal),  # PyTorch: 4 chunks of 6 give 3 pieces of 2
    ("split", lambda x: x.split(2, dim=-1), lambda x: np.split(x, [2, 4], -1), [((3, 5),)],
     normal),
    ("split_sizes", lambda x: x.split([1, 3, 0, 1]), lambda x: np.split(x, [1, 4, 4]),
     [((5, 2),)], normal),
    ("unbind", lambda x: x.unbind(), lambda x: list(x), [((3, 2),), ((2,),)], normal),
    ("unbind_dim1", lambda x: x.unbind(1), lambda x: list(np.moveaxis(x, 1, 0)),
     [((2, 3, 2),)], normal),
    ("where", lambda x, y: tl.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y),
     BINARY_SHAPES, away_from_zero),
    ("where_ndarray_cond", lambda x, y: tl.where(np.array([True, False, True]), x, y),
     lambda x, y: np.where([True, False, True], x, y), [((3,), (2, 3)), ((), (3,))], normal),
    ("where_scalar", lambda x: tl.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0.0),
     UNARY_SHAPES, away_from_zero),
    # softmax
    ("softmax_0", lambda x: x.softmax(0), lambda x: np.exp(_log_softmax(x, 0)), ROWS, normal),
    ("softmax_1", lambda x: x.softmax(dim=1), lambda x: np.exp(_log_softmax(x, 1)), MATRICES,
     normal),
    ("softmax_neg", lambda x: x.softmax(-1), lambda x: np.exp(_log_softmax(x, -1)), ROWS,
     normal),
    ("log_softmax_0", lambda x: x.log_softmax(0), lambda x: _log_softmax(x, 0), ROWS, normal),
    ("log_softmax_1", lambda x: x.log_softmax(1), lambda x: _log_softmax(x, 1), MATRICES, normal),
    ("log_softmax_2", lambda x: x.log_softmax(dim=2), lambda x: _log_softmax(x, 2),
     [((2, 1, 3),)], normal),
    ("log_softmax_neg", lambda x: x.log_softmax(-1), lambda x: _log_softmax(x, -1), ROWS,
     normal),
    # fused cross-entropy (the nn loss's primitive), target [1, 0, 3] or with an ignored row
    ("cross_entropy_mean", lambda x: ops.CrossEntropy.apply(x, T, -100, 0.0, "mean"),
     lambda x: _cross_entropy(x, T).mean(), [((3, 4),)], normal),
    ("cross_entropy_sum", lambda x: ops.CrossEntropy.apply(x, T, -100, 0.0, "sum"),
     lambda x: _cross_entropy(x, T).sum(), [((3, 4),)], normal),
    ("cross_entropy_none", lambda x: ops.CrossEntropy.apply(x, T, -100, 0.0, "none"),
     lambda x: _cross_entropy(x, T), [((3, 4),)], normal),
    ("cross_entropy_ignore", lambda x: ops.CrossEntropy.apply(x, T_IGNORE, -100, 0.0, "mean"),
     lambda x: _cross_entropy(x[[0, 2]], T[[0, 2]]).mean(), [((3, 4),)], normal),
    ("cross_entropy_smoothing", lambda x: ops.CrossEntropy.apply(x, T, -100, 0.2, "mean"),
     lambda x: _cross_entropy(x, T, 0.2).mean(), [((3, 4),)], normal),
    # compositions that the gradient must route through several nodes
    ("reuse", lambda x: (x + x) * x, lambda x: 2 * x * x, UNARY_SHAPES, normal),
    ("square", lambda x: x * x, lambda x: x * x, UNARY_SHAPES, normal),
    ("chain", lambda x, y: ((x * y).tanh() @ y.T).sum(-1),
     lambda x, y: (np.tanh(x * y) @ y.T).sum(-1), [((2, 3), (2, 3))], normal),
]


@pytest.mark.parametrize("fn, ref_fn, shapes, sample", [op[1:] for op in OPS],
                         ids=[op[0] for op in OPS])
def test_op(fn, ref_fn, shapes, sample):
    check_op(fn, ref_fn, shapes, sample)


# ---------------------------------------------------------------- values check_op cannot see


def test_fused_ops_name_the_op_and_shapes_at_fault():
    x, w = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"addmm: expected matrices .*\(2, 3\) @ \(4, 3\)"):
        Tensor(np.zeros((2, 4))).addmm(x, w.T)
    with pytest.raises(ValueError, match=r"addmm: input of shape \(3, 1, 4\) does not broadcast "
                                         r"to the product's shape \(2, 4\)"):
        Tensor(np.zeros((3, 1, 4))).addmm(x, w)
    with pytest.raises(ValueError, match=r"addmm: .*\(inputs: \(3, 4\), \(2, 3\), \(3, 4\)\)"):
        Tensor(np.zeros((3, 4))).addmm(x, w)
    with pytest.raises(TypeError, match="addmm: input has dtype float32, the product float64"):
        Tensor(np.zeros((2, 4), np.float32)).addmm(x, w)
    with pytest.raises(ValueError, match=r"addcmul: .*\(inputs: \(2,\), \(3,\), \(3,\)\)"):
        Tensor(np.zeros(2)).addcmul(Tensor(np.ones(3)), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\) does not broadcast to "
                                         r"the 4 output features"):
        F.linear(x, w.T, Tensor(np.ones(3)))


def test_addmm_of_a_transposed_weight_is_c_contiguous_as_pytorch_returns_it():
    """The few-rows path multiplies w's transpose and reads the product transposed: the sum
    must still come out C-ordered, or `.view` would refuse what PyTorch allows."""
    rng = np.random.default_rng(0)
    h, w = rng.standard_normal((16, 8)), rng.standard_normal((12, 8))
    xw = rng.standard_normal((16, 12))
    for input in (xw, xw[0]):  # the whole sum, and a bias broadcast over the rows
        out = Tensor(input).addmm(Tensor(h), Tensor(w).T)
        assert out.is_contiguous()
        np.testing.assert_allclose(out.view(-1).numpy(), (input + h @ w.T).ravel(), rtol=1e-13)


@pytest.mark.parametrize("x_order", ["C", "F"])
def test_addmm_of_a_transposed_weight_has_the_bits_of_input_plus_the_product(x_order):
    """Whichever product addmm takes (the few-rows path up to ops.matmul.FEW_ROWS rows, or
    np.dot), its bits are those of input + np.dot(x, w): an F-ordered x takes np.dot, whose
    sum BLAS orders like this reference (the transposed product would order it another way)."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((52, 37)).astype(np.float32)
    for rows in range(2, ops.matmul.FEW_ROWS + 2):
        x = np.asarray(rng.standard_normal((rows, 37)).astype(np.float32), order=x_order)
        i = rng.standard_normal((rows, 52)).astype(np.float32)
        out = Tensor(i).addmm(Tensor(x), Tensor(w).T).numpy()
        assert out.tobytes() == (i + np.dot(x, w.T)).tobytes(), rows


def test_max_indices_like_numpy():
    x = distinct(np.random.default_rng(0), (3, 4))
    values, indices = Tensor(x).max(dim=1)
    np.testing.assert_array_equal(indices.numpy(), x.argmax(1))
    np.testing.assert_allclose(values.numpy(), x.max(1))
    assert indices.dtype == np.int64 and not indices.requires_grad
    values, indices = Tensor(x).min(0, keepdim=True)
    np.testing.assert_array_equal(indices.numpy(), x.argmin(0)[None])
    np.testing.assert_allclose(values.numpy(), x.min(0, keepdims=True))


def test_max_ties_share_the_gradient():
    # PyTorch: max()/amax() evenly distribute the gradient between equal values
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5, 0])
    x = Tensor([[2.0, 2.0, 2.0], [0.0, 5.0, 1.0]], requires_grad=True)
    (x.amax(dim=1) * Tensor([3.0, 1.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 1, 1], [0, 1, 0]])
    x = Tensor([4.0, 1.0, 4.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1, 0])
    x = Tensor([1.0, 4.0, 1.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0, 0.5])


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.zeros(3), requires_grad=True)
    x[[0, 2, 2, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 3])
    x = Tensor(np.zeros((2, 2)), requires_grad=True)
    x[Tensor(np.array([1, 1])), Tensor(np.array([0, 0]))].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [2, 0]])


def test_kinks_follow_pytorch():
    # relu'(0) = 0, |x|'(0) = 0, clamp passes the gradient on its bounds, sqrt'(0) = inf
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1])
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1, 0, 1])
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clamp(-1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])
    x = Tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, 0.25])


def test_pow_gradient_at_zero_base_follows_pytorch():
    # PyTorch masks the 0 * inf and 0 * log(0) terms: d(x**0)/dx = 0 and d(0**y)/dy = 0 for y > 0
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0])
    y = Tensor(np.array([2.0, 0.5]), requires_grad=True)
    (Tensor(np.array([0.0, 0.0])) ** y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0, 0])


def test_clamp_min_greater_than_max_gives_max():
    # PyTorch: "If min is greater than max, clamp sets all elements to max"
    np.testing.assert_array_equal(Tensor([0.0, 1.5, 3.0]).clamp(2, 1).numpy(), [1, 1, 1])


def test_softmax_is_stable_for_large_inputs():
    x = Tensor(np.array([[1e4, 1e4, 1e4 - 1], [-1e4, 0.0, 1e4]]), requires_grad=True)
    e = np.exp(-1.0)
    np.testing.assert_allclose(x.softmax(1).numpy(),
                               [[1 / (2 + e), 1 / (2 + e), e / (2 + e)], [0, 0, 1]], atol=1e-15)
    np.testing.assert_allclose(x.log_softmax(1).numpy(),
                               [[-np.log(2 + e), -np.log(2 + e), -1 - np.log(2 + e)],
                                [-2e4, -1e4, 0]], rtol=1e-12)
    assert gradcheck(lambda t: t.log_softmax(1), x)
    assert gradcheck(lambda t: t.softmax(0), x)
    x32 = Tensor(np.array([1e4, -1e4, 3e4], np.float32), requires_grad=True)
    out = x32.softmax(0)
    (out * Tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(x32.grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), [0, 0, 1])


def test_softmax_rows_sum_to_one():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4, 5)))
    for dim in range(3):
        np.testing.assert_allclose(x.softmax(dim).sum(dim).numpy(), np.ones_like(x.sum(dim)))


def test_casts():
    x64 = Tensor(np.array([1.5, -2.25]), requires_grad=True)
    y = x64.float()
    assert y.dtype == np.float32 and y.grad_fn is not None
    (y * Tensor([2.0, 3.0])).sum().backward()
    assert x64.grad.dtype == np.float64
    np.testing.assert_array_equal(x64.grad.numpy(), [2, 3])
    x32 = Tensor([1.5, -2.25], requires_grad=True)
    for z in (x32.double(), x32.to(np.float64), x32.to("float64"), x32.to(tl.float64)):
        assert z.dtype == np.float64
        np.testing.assert_array_equal(z.numpy(), [1.5, -2.25])
    x32.double().sum().backward()
    assert x32.grad.dtype == np.float32
    assert x32.to(np.float32) is x32  # same dtype: no copy, as in PyTorch


def test_integer_cast_cuts_the_graph():
    # PyTorch: integer results are not differentiable; x.long() has requires_grad=False
    x = Tensor([1.5, 2.5], requires_grad=True)
    n = x.long()
    assert n.dtype == np.int64 and not n.requires_grad and n.grad_fn is None
    (x.long().float() * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2])  # only the path through x counts


def test_view_is_reshape():
    x = Tensor(np.arange(6.0), requires_grad=True)
    x.view(2, 3)[1].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 1, 1, 1])


# ---------------------------------------------------------------- hypothesis properties

FAST = settings(max_examples=30, deadline=None, database=None)

# op, forward in NumPy, local partials (d out/d x, d out/d y) in NumPy
BINARY_RULES = {
    "add": (lambda x, y: x + y, np.add, lambda x, y: (np.ones_like(x * y), np.ones_like(x * y))),
    "sub": (lambda x, y: x - y, np.subtract,
            lambda x, y: (np.ones_like(x * y), -np.ones_like(x * y))),
    "mul": (lambda x, y: x * y, np.multiply,
            lambda x, y: (np.broadcast_to(y, (x * y).shape), np.broadcast_to(x, (x * y).shape))),
    "div": (lambda x, y: x / y, np.divide, lambda x, y: (1 / y + 0 * x, -x / y**2)),
    "pow": (lambda x, y: x**y, np.power, lambda x, y: (y * x ** (y - 1), x**y * np.log(x))),
}


@FAST
@given(op=st.sampled_from(sorted(BINARY_RULES)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       data=st.data())
def test_binary_ops_property(op, shapes, data):
    fn, ref, partials = BINARY_RULES[op]
    sx, sy = shapes.input_shapes
    values = hnp.arrays(np.float64, st.just(sx), elements=st.floats(0.25, 3.0))
    x = data.draw(values)
    y = data.draw(hnp.arrays(np.float64, st.just(sy), elements=st.floats(0.25, 3.0)))
    g = data.draw(hnp.arrays(np.float64, st.just(shapes.result_shape),
                             elements=st.floats(-2.0, 2.0)))
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    out = fn(tx, ty)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.numpy(), ref(x, y), rtol=1e-12)
    out.backward(gradient=g)
    dx, dy = partials(x, y)
    np.testing.assert_allclose(tx.grad.numpy(), sum_to_shape(g * dx, sx), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ty.grad.numpy(), sum_to_shape(g * dy, sy), rtol=1e-9, atol=1e-12)
    assert tx.grad.shape == sx and ty.grad.shape == sy


@st.composite
def reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    if ndim == 0 or draw(st.booleans()):
        dims = None
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        # each dim either as is or negative
        dims = [a - ndim if draw(st.booleans()) else a for a in axes]
        dims = dims[0] if len(dims) == 1 and draw(st.booleans()) else tuple(dims)
    return shape, dims, draw(st.booleans())


def _axes(dims, ndim):
    if dims is None:
        return tuple(range(ndim))
    dims = dims if isinstance(dims, tuple) else (dims,)
    return tuple(sorted(d % ndim for d in dims))


@FAST
@given(op=st.sampled_from(["sum", "mean", "amax", "amin"]), case=reduction_case(),
       seed=st.integers(0, 2**16))
def test_reductions_property(op, case, seed):
    shape, dims, keepdim = case
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 1.0  # distinct: no ties
    axes = _axes(dims, len(shape))
    ref = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}[op]
    expected = ref(x, axis=axes, keepdims=keepdim)
    t = Tensor(x, requires_grad=True)
    out = getattr(t, op)(dims, keepdim=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)

    g = rng.standard_normal(np.shape(expected))
    out.backward(gradient=g)
    g_full = np.broadcast_to(np.reshape(g, ref(x, axis=axes, keepdims=True).shape), shape)
    if op == "sum":
        dx = g_full
    elif op == "mean":
        dx = g_full / (x.size // max(np.size(expected), 1))
    else:  # the gradient lands on the one extreme element of each reduced slice
        dx = g_full * (x == ref(x, axis=axes, keepdims=True))
    np.testing.assert_allclose(t.grad.numpy(), dx, rtol=1e-12)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_log_softmax_property(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(hnp.arrays(np.float64, st.just(shape), elements=st.floats(-50, 50)))
    g = data.draw(hnp.arrays(np.float64, st.just(shape), elements=st.floats(-2, 2)))
    t = Tensor(x, requires_grad=True)
    out = t.log_softmax(dim)
    np.testing.assert_allclose(out.numpy(), _log_softmax(x, dim), rtol=1e-10, atol=1e-12)
    out.backward(gradient=g)
    # the Jacobian of log_softmax is I - softmax along dim
    p = np.exp(_log_softmax(x, dim))
    np.testing.assert_allclose(t.grad.numpy(), g - p * g.sum(dim, keepdims=True), atol=1e-12)


def test_max_and_min_along_a_dim_send_the_gradient_to_the_returned_index():
    # PyTorch: max(dim)/min(dim) are gathers at their indices; only amax/amin share ties
    y = Tensor([[1.0, 1.0, 0.0], [0.0, 3.0, 3.0]], requires_grad=True)
    values, indices = y.max(1)
    values.sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [0, 1])
    np.testing.assert_array_equal(y.grad.numpy(), [[1, 0, 0], [0, 1, 0]])
    y.grad = None
    values, indices = y.min(0, keepdim=True)
    assert values.shape == indices.shape == (1, 3)
    values.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 1, 1], [1, 0, 0]])


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid"])
def test_unary_ops_on_integers_compute_in_float32(op):
    out = getattr(Tensor([1, 2]), op)()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), getattr(Tensor([1.0, 2.0]), op)().numpy())
    assert (Tensor([[1, 2]]) @ Tensor(np.ones((2, 2), np.float32))).dtype == np.float32


def test_lstm_gates_computes_the_bits_of_sigmoid_and_tanh_it_replaces():
    """nn.LSTM's step used sigmoid over all four blocks and tanh on a slice: the fused op gives
    the same float32 bits, forward and backward (its VJP rounds as their two did)."""
    rng = np.random.default_rng(0)
    a = rng.normal(0, 3, (5, 4 * 7)).astype(np.float32)
    d = rng.normal(0, 1, a.shape).astype(np.float32)
    fused = Tensor(a, requires_grad=True)
    out = ops.LSTMGates.apply(fused)
    out.backward(Tensor(d))
    apart = Tensor(a, requires_grad=True)
    s, t = apart.sigmoid(), apart[:, 14:21].tanh()
    (s[:, :14] * Tensor(d[:, :14])).sum().backward(retain_graph=True)
    (s[:, 21:] * Tensor(d[:, 21:])).sum().backward(retain_graph=True)
    (t * Tensor(d[:, 14:21])).sum().backward()
    expected = np.concatenate([s.numpy()[:, :14], t.numpy(), s.numpy()[:, 21:]], axis=1)
    assert out.numpy().tobytes() == expected.tobytes()
    assert fused.grad.numpy().tobytes() == apart.grad.numpy().tobytes()
