"""Empty (a size-0 dim) and 0-d tensors behave as in PyTorch: shapes, values, gradients, errors.

The expected results are PyTorch's, written out from its source (aten/src/ATen/native):
matmul of a zero-size inner dim gives zeros; amax/amin/max/min reduce an empty tensor over
non-empty dims only (ReduceOpsUtils.h `zero_numel_check_dims`); softmax and log_softmax return an
empty input as it is, over any dim (SoftMax.cpp: `if (input.numel() == 0) return`); chunk of an
empty dim gives `chunks` empty pieces while split gives one (TensorShape.cpp `chunk`,
`get_num_splits`); cat leaves out a 1-D empty tensor (TensorShape.h `cat_should_skip_tensor`);
mean of nothing is 0/0 = nan. Gradients are checked by gradcheck in float64, which for an empty
output runs one backward and requires zeros of each input's shape.
"""

import re

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import GradcheckError, gradcheck
from tinygrad_lstm.nn import functional as F

NAN = float("nan")
EMPTY_INT = np.array([], np.int64)


def SAME(x):  # noqa: N802 (these read as constants in the tables)
    return x


def FIRST(a, b):  # noqa: N802
    return a


def SECOND(a, b):  # noqa: N802
    return b


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _inputs(shapes, seed=0) -> list:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


# ---------------------------------------------------------------- matmul with a zero-size dim

# (x shape, y shape, result shape): every 1-D / 2-D / batched pairing, with the zero in the
# inner dim (the result is zeros), in an outer dim, or in a (broadcast) batch dim
MATMUL = [
    ((0,), (0,), ()),  # a dot product of nothing: 0
    ((0,), (0, 4), (4,)),
    ((3,), (3, 0), (0,)),
    ((2, 0), (0,), (2,)),
    ((0, 3), (3,), (0,)),
    ((2, 0), (0, 4), (2, 4)),
    ((0, 3), (3, 4), (0, 4)),
    ((2, 3), (3, 0), (2, 0)),
    ((0, 3), (3, 0), (0, 0)),
    ((2, 3, 0), (0, 4), (2, 3, 4)),  # batched @ matrix: the folded-rows path
    ((2, 0, 3), (3, 4), (2, 0, 4)),
    ((0, 2, 3), (3, 4), (0, 2, 4)),
    ((2, 3, 4), (4, 0), (2, 3, 0)),
    ((3, 0), (2, 0, 4), (2, 3, 4)),  # matrix @ batched
    ((3, 4), (0, 4, 2), (0, 3, 2)),
    ((2, 3, 0), (2, 0, 4), (2, 3, 4)),  # batched @ batched
    ((0, 2, 3), (0, 3, 4), (0, 2, 4)),
    ((0, 2, 3), (1, 3, 4), (0, 2, 4)),  # broadcast batch dims
    ((1, 2, 0), (5, 0, 4), (5, 2, 4)),
    ((2, 1, 2, 3), (0, 3, 4), (2, 0, 2, 4)),
    ((0,), (2, 0, 4), (2, 4)),  # 1-D @ batched
    ((3,), (0, 3, 4), (0, 4)),
    ((2, 3, 0), (0,), (2, 3)),  # batched @ 1-D
    ((0, 2, 3), (3,), (0, 2)),
]


@pytest.mark.parametrize("x_shape, y_shape, out_shape", MATMUL,
                         ids=[f"{a}@{b}" for a, b, _ in MATMUL])
def test_matmul_with_a_zero_size_dim(x_shape, y_shape, out_shape):
    x, y = _inputs([x_shape, y_shape])
    out = x @ y
    assert out.shape == out_shape and out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), np.matmul(x.numpy(), y.numpy()))
    if x_shape[-1] == 0:
        assert not out.numpy().any()  # each element a sum of nothing
    out.backward(np.ones(out_shape))  # every leaf of the graph gets a gradient of its shape
    for t, seen in ((x, x_shape), (y, y_shape)):
        assert t.grad is not None and t.grad.shape == seen
    gradcheck(lambda a, b: a @ b, _inputs([x_shape, y_shape]))


@pytest.mark.parametrize("shapes, out_shape", [
    (((2, 4), (2, 0), (0, 4)), (2, 4)),  # input + (a sum of nothing)
    (((4,), (0, 3), (3, 4)), (0, 4)),  # input broadcast over no rows
])
def test_addmm_with_a_zero_size_dim(shapes, out_shape):
    i, x, w = _inputs(shapes)
    out = i.addmm(x, w)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(i.numpy(), out_shape))
    gradcheck(lambda a, b, c: a.addmm(b, c), _inputs(shapes))


def test_matmul_gradient_through_an_empty_product_is_zeros():
    # (0, 3) @ (3, 4) -> (0, 4): y's gradient is x^T g = zeros(3, 4), not None (as PyTorch)
    x, y = _inputs([(0, 3), (3, 4)])
    (x @ y).sum().backward()
    assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(y.grad.numpy(), np.zeros((3, 4)))


def test_matmul_float32_empty_stays_float32():
    out = tl.zeros(2, 0) @ tl.zeros(0, 3)
    assert out.dtype == np.float32 and out.shape == (2, 3) and not out.numpy().any()


# ---------------------------------------------------------------- forward table

# (id, fn, input shapes, expected: a list of (shape, values) per output). Values are written out,
# or a function of the input arrays where the output is an input as it was (SAME: the only
# input; FIRST, SECOND: one of two), or None where the output is empty (its shape says everything)
CASES = [
    # max-like reductions over the non-empty dims of an empty tensor
    ("amax_dim1", lambda x: x.amax(1), [(0, 3)], [((0,), None)]),
    ("amax_dim-1_keepdim", lambda x: x.amax(-1, keepdim=True), [(0, 3)], [((0, 1), None)]),
    ("amax_dims02", lambda x: x.amax((0, 2)), [(2, 0, 3)], [((0,), None)]),
    ("amin_dim1", lambda x: x.amin(1), [(0, 3)], [((0,), None)]),
    ("max_dim1", lambda x: x.max(1).values, [(0, 3)], [((0,), None)]),
    ("min_dim1_keepdim", lambda x: x.min(1, keepdim=True).values, [(0, 3)], [((0, 1), None)]),
    ("softmax_dim0", lambda x: x.softmax(0), [(0, 3)], [((0, 3), None)]),
    ("softmax_dim1", lambda x: x.softmax(1), [(0, 3)], [((0, 3), None)]),
    ("log_softmax_dim0", lambda x: x.log_softmax(0), [(0, 3)], [((0, 3), None)]),
    ("log_softmax_dim1", lambda x: x.log_softmax(1), [(2, 0)], [((2, 0), None)]),
    # sums and means of nothing: 0 and 0/0 = nan
    ("sum_all", lambda x: x.sum(), [(0,)], [((), 0.0)]),
    ("sum_dim0", lambda x: x.sum(0), [(0, 3)], [((3,), [0.0, 0.0, 0.0])]),
    ("sum_dim1", lambda x: x.sum(1), [(0, 3)], [((0,), None)]),
    ("sum_dim_empty_tuple", lambda x: x.sum(()), [(0, 3)], [((), 0.0)]),  # dim=(): all dims
    ("mean_all", lambda x: x.mean(), [(0,)], [((), NAN)]),
    ("mean_dim0", lambda x: x.mean(0), [(0, 3)], [((3,), [NAN, NAN, NAN])]),
    ("mean_dim1", lambda x: x.mean(1), [(0, 3)], [((0,), None)]),
    ("mean_dim1_keepdim", lambda x: x.mean(1, keepdim=True), [(2, 0)], [((2, 1), [[NAN], [NAN]])]),
    # losses over an empty batch: 'mean' is nan, 'sum' 0, 'none' empty
    ("cross_entropy_mean", lambda x: F.cross_entropy(x, EMPTY_INT), [(0, 3)], [((), NAN)]),
    ("cross_entropy_sum", lambda x: F.cross_entropy(x, EMPTY_INT, reduction="sum"), [(0, 3)],
     [((), 0.0)]),
    ("cross_entropy_none", lambda x: F.cross_entropy(x, EMPTY_INT, reduction="none"), [(0, 3)],
     [((0,), None)]),
    ("nll_loss_mean", lambda x: F.nll_loss(x, EMPTY_INT), [(0, 3)], [((), NAN)]),
    ("mse_mean", lambda x, y: F.mse_loss(x, y), [(0,), (0,)], [((), NAN)]),
    ("mse_sum", lambda x, y: F.mse_loss(x, y, reduction="sum"), [(0, 2), (0, 2)], [((), 0.0)]),
    ("mse_none", lambda x, y: F.mse_loss(x, y, reduction="none"), [(0,), (0,)], [((0,), None)]),
    # chunk of an empty dim: `chunks` pieces; split: one
    ("chunk_1d", lambda x: x.chunk(3), [(0,)], [((0,), None)] * 3),
    ("chunk_dim0", lambda x: x.chunk(2), [(0, 4)], [((0, 4), None)] * 2),
    ("chunk_dim1", lambda x: x.chunk(3, dim=1), [(2, 0)], [((2, 0), None)] * 3),
    ("chunk_other_dim_empty", lambda x: x.chunk(2), [(4, 0)], [((2, 0), None)] * 2),
    ("split_2", lambda x: x.split(2), [(0,)], [((0,), None)]),
    ("split_0", lambda x: x.split(0), [(0, 3)], [((0, 3), None)]),
    ("split_sizes", lambda x: x.split([0, 0]), [(0, 3)], [((0, 3), None)] * 2),
    ("split_dim1", lambda x: x.split(1, dim=1), [(2, 0)], [((2, 0), None)]),
    # cat: a 1-D empty tensor is left out beside others; stack of empties
    ("cat_legacy_1d_empty", lambda x, e: tl.cat([x, e]), [(1, 2), (0,)], [((1, 2), FIRST)]),
    ("cat_legacy_first", lambda e, x: tl.cat([e, x], dim=1), [(0,), (1, 2)], [((1, 2), SECOND)]),
    ("cat_only_1d_empties", lambda a, b: tl.cat([a, b]), [(0,), (0,)], [((0,), None)]),
    ("cat_empty_rows", lambda a, b: tl.cat([a, b]), [(0, 2), (1, 2)], [((1, 2), SECOND)]),
    ("cat_empty_cols", lambda a, b: tl.cat([a, b], dim=1), [(1, 0), (1, 2)], [((1, 2), SECOND)]),
    ("stack_empties", lambda a, b: tl.stack([a, b]), [(0,), (0,)], [((2, 0), None)]),
    ("stack_empties_dim1", lambda a, b: tl.stack([a, b], 1), [(0, 3), (0, 3)],
     [((0, 2, 3), None)]),
    ("stack_0d", lambda a, b: tl.stack([a, b]), [(), ()], [((2,), lambda a, b: np.stack([a, b]))]),
    # indexing with empty index arrays and masks
    ("index_empty_int_array", lambda x: x[EMPTY_INT], [(3, 2)], [((0, 2), None)]),
    ("index_empty_list", lambda x: x[[]], [(3, 2)], [((0, 2), None)]),
    ("index_empty_tensor", lambda x: x[Tensor(EMPTY_INT)], [(3, 2)], [((0, 2), None)]),
    ("index_cols_empty", lambda x: x[:, EMPTY_INT], [(3, 2)], [((3, 0), None)]),
    ("index_false_mask", lambda x: x[np.zeros((3, 2), bool)], [(3, 2)], [((0,), None)]),
    ("index_empty_slice", lambda x: x[1:1], [(3, 2)], [((0, 2), None)]),
    ("index_of_empty", lambda x: x[EMPTY_INT], [(0, 3)], [((0, 3), None)]),
    # a 0-d tensor: every dim argument may be 0 or -1, and the value stays as it is
    ("0d_transpose_0_-1", lambda x: x.transpose(0, -1), [()], [((), SAME)]),
    ("0d_transpose_0_0", lambda x: x.transpose(0, 0), [()], [((), SAME)]),
    ("0d_permute", lambda x: x.permute(), [()], [((), SAME)]),
    ("0d_t", lambda x: x.t(), [()], [((), SAME)]),
    ("0d_T", lambda x: x.T, [()], [((), SAME)]),
    ("0d_squeeze", lambda x: x.squeeze(), [()], [((), SAME)]),
    ("0d_squeeze_-1", lambda x: x.squeeze(-1), [()], [((), SAME)]),
    ("0d_unsqueeze_0", lambda x: x.unsqueeze(0), [()], [((1,), SAME)]),
    ("0d_unsqueeze_-1", lambda x: x.unsqueeze(-1), [()], [((1,), SAME)]),
    ("0d_flatten", lambda x: x.flatten(), [()], [((1,), SAME)]),
    ("0d_flatten_0_-1", lambda x: x.flatten(0, -1), [()], [((1,), SAME)]),
    ("0d_sum_0", lambda x: x.sum(0), [()], [((), SAME)]),
    ("0d_mean_-1", lambda x: x.mean(-1), [()], [((), SAME)]),
    ("0d_amax_0", lambda x: x.amax(0), [()], [((), SAME)]),
    ("0d_max_-1", lambda x: x.max(-1).values, [()], [((), SAME)]),
    ("0d_softmax", lambda x: x.softmax(0), [()], [((), 1.0)]),
    ("0d_log_softmax", lambda x: x.log_softmax(-1), [()], [((), 0.0)]),
    ("1d_t", lambda x: x.t(), [(3,)], [((3,), SAME)]),
    ("2d_t", lambda x: x.t(), [(2, 3)], [((3, 2), lambda x: x.T)]),
]




@pytest.mark.parametrize("name, fn, shapes, expected", CASES, ids=[c[0] for c in CASES])
def test_empty_and_0d_forward(name, fn, shapes, expected):
    xs = _inputs(shapes)
    outs = _outputs(fn(*xs))
    assert [o.shape for o in outs] == [shape for shape, _ in expected]
    for out, (_, values) in zip(outs, expected):
        assert isinstance(out, Tensor) and out.dtype == np.float64
        if callable(values):
            values = values(*[x.numpy() for x in xs])
        if values is not None:
            np.testing.assert_array_equal(out.numpy(), np.asarray(values, float), err_msg=name)


@pytest.mark.parametrize("name, fn, shapes, expected", CASES, ids=[c[0] for c in CASES])
def test_empty_and_0d_gradient(name, fn, shapes, expected):
    # an input of size 0 has no Jacobian columns: gradcheck then checks that backward runs and
    # gives it a gradient of its shape (and zeros from an empty output)
    gradcheck(fn, _inputs(shapes))


def test_max_with_dim_of_empty_gives_empty_int64_indices():
    values, indices = tl.zeros(0, 3).max(1)
    assert values.shape == indices.shape == (0,) and indices.dtype == np.int64
    values, indices = tl.zeros(2, 0, 3).min(-1, keepdim=True)
    assert values.shape == indices.shape == (2, 0, 1)


def test_chunk_pieces_of_an_empty_dim_get_gradients():
    x = tl.zeros(0, 2, requires_grad=True)
    a, b, c = x.chunk(3)
    (a.sum() + c.sum()).backward()  # b unused: the engine fills its gradient with zeros
    assert x.grad.shape == (0, 2)


def test_cat_gives_the_left_out_1d_empty_tensor_an_empty_gradient():
    x, e = _inputs([(2, 3), (0,)])
    tl.cat([x, e]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    assert e.grad.shape == (0,)  # PyTorch: tensor([]), not None


def test_empty_index_gradient_is_zeros():
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    (x[EMPTY_INT].sum() + x[np.zeros((3, 2), bool)].sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 2)))


def test_mean_of_empty_warns_nothing():
    with np.errstate(all="raise"):  # NumPy's 0/0 warning would be raised here
        assert np.isnan(tl.zeros(0).mean().item())
        assert np.isnan(F.mse_loss(tl.zeros(0), tl.zeros(0)).item())


# ---------------------------------------------------------------- gradcheck and empty outputs


def test_gradcheck_runs_backward_through_an_empty_output():
    # x[:0] has no elements, so x's gradient must be zeros; a hook that adds 1 makes it wrong,
    # which only a backward from the empty output can see (its Jacobian has no rows)
    x = Tensor(np.ones(3), requires_grad=True)
    assert gradcheck(lambda t: t[:0], x)
    x.register_hook(lambda g: g + 1)
    with pytest.raises(GradcheckError, match="empty output 0"):
        gradcheck(lambda t: t[:0], x)
    assert gradcheck(lambda t: t[:0], x, raise_exception=False) is False
    assert x.grad is None  # gradcheck leaves no gradient behind


# ---------------------------------------------------------------- errors, PyTorch's type and text

SPECIFY = ": Expected reduction dim to be specified for input.numel() == 0. Specify the " \
          "reduction dim with the 'dim' argument."
ERRORS = [
    ("amax_empty_dim", lambda: tl.zeros(0, 3).amax(0), IndexError,
     "amax(): Expected reduction dim 0 to have non-zero size."),
    ("amax_empty_dim_negative", lambda: tl.zeros(0, 3).amax((1, -2)), IndexError,
     "amax(): Expected reduction dim -2 to have non-zero size."),  # amax names the dim as given
    ("amax_all", lambda: tl.zeros(0, 3).amax(), RuntimeError, "amax()" + SPECIFY),
    ("amin_empty_dim", lambda: tl.zeros(3, 0).amin(1), IndexError,
     "amin(): Expected reduction dim 1 to have non-zero size."),
    ("amin_all", lambda: tl.zeros(0).amin(), RuntimeError, "amin()" + SPECIFY),
    ("max_all", lambda: tl.zeros(0, 3).max(), RuntimeError, "max()" + SPECIFY),
    ("min_all", lambda: tl.zeros(0).min(), RuntimeError, "min()" + SPECIFY),
    ("max_empty_dim", lambda: tl.zeros(0, 3).max(-2), IndexError,
     "max(): Expected reduction dim 0 to have non-zero size."),  # max(dim) names it wrapped
    ("min_empty_dim", lambda: tl.zeros(2, 0).min(1), IndexError,
     "min(): Expected reduction dim 1 to have non-zero size."),
    ("argmax_all", lambda: tl.zeros(0).argmax(), IndexError,
     "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
    ("argmin_empty_dim", lambda: tl.zeros(0, 3).argmin(0), IndexError,
     "argmin(): Expected reduction dim 0 to have non-zero size."),
    ("chunk_0d", lambda: tl.zeros(()).chunk(2), RuntimeError,
     "chunk expects at least a 1-dimensional tensor"),
    ("split_0d", lambda: tl.zeros(()).split(1), RuntimeError,
     "split expects at least a 1-dimensional tensor"),
    ("unbind_0d", lambda: tl.zeros(()).unbind(0), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    ("split_0_of_nonempty", lambda: tl.zeros(5).split(0), ValueError,
     "split_size can only be 0 if dimension size is 0, but got dimension size of 5"),
    ("split_negative", lambda: tl.zeros(5).split(-1), ValueError,
     "split expects split_size be non-negative, but got split_size=-1"),
    ("t_3d", lambda: tl.zeros(1, 2, 3).t(), RuntimeError,
     "t() expects a tensor with <= 2 dimensions, but self is 3D"),
    ("0d_transpose_1", lambda: tl.zeros(()).transpose(0, 1), IndexError,
     "expected to be in range of [-1, 0], but got 1"),
    ("0d_squeeze_1", lambda: tl.zeros(()).squeeze(1), IndexError,
     "expected to be in range of [-1, 0], but got 1"),
    ("0d_flatten_1", lambda: tl.zeros(()).flatten(0, 1), IndexError,
     "expected to be in range of [-1, 0], but got 1"),
    ("0d_max_1", lambda: tl.zeros(()).max(1), IndexError,
     "expected to be in range of [-1, 0], but got 1"),
    ("cat_0d", lambda: tl.cat([tl.zeros(2), tl.zeros(())]), ValueError,
     "zero-dimensional tensor (at position 1) cannot be concatenated"),
    ("matmul_0d", lambda: tl.zeros(()) @ tl.zeros(3), ValueError,
     "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
]


@pytest.mark.parametrize("name, fn, exc, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_empty_and_0d_errors(name, fn, exc, message):
    # PyTorch's type, except ValueError for a shape problem (the house rule, test_errors.py)
    with pytest.raises(exc, match=re.escape(message)):
        fn()
