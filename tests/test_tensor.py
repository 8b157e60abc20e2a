"""Tensor basics against PyTorch's documented semantics: dtypes and promotion, factories and
seeding, repr, conversions, comparisons, reflected NumPy operators, and in-place updates with
their version counter."""

import operator

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]

# ---------------------------------------------------------------- dtypes


def test_construction_dtypes():
    assert Tensor(1.5).dtype == np.float32  # Python floats -> float32 (the default dtype)
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor([[1, 2.5]]).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.float32  # Tensor is float, as torch.Tensor
    assert Tensor([True, False]).dtype == np.float32
    assert tl.tensor(3).dtype == np.int64  # tl.tensor infers: Python ints -> int64
    assert tl.tensor([True, False]).dtype == np.bool_
    assert Tensor(np.zeros(2)).dtype == np.float64  # NumPy float64 stays float64
    assert Tensor(np.float64(2.0)).dtype == np.float64
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(Tensor([1.0, 2.0])).dtype == np.float32
    assert tl.tensor([1.0]).dtype == np.float32


def test_construction_copies():
    a = np.zeros(3)
    t = Tensor(a)
    a[0] = 1
    assert t.numpy()[0] == 0  # Tensor(ndarray) copies, like torch.tensor
    shared = tl.from_numpy(a)
    a[1] = 2
    assert shared.numpy()[1] == 2  # from_numpy shares memory, like torch.from_numpy


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_python_scalars_keep_float32(op):
    x = Tensor([1.5, 2.0])
    for other in (2.0, 2, 0.5):
        assert op(x, other).dtype == np.float32, (op, other)
        assert op(other, x).dtype == np.float32, (op, other)
    s = Tensor(1.5)  # 0-d float32
    for other in (2.0, 3):
        assert op(s, other).dtype == np.float32 and op(other, s).dtype == np.float32
    assert op(s, x).dtype == np.float32 and op(x, s).dtype == np.float32


def test_numpy_float_scalars_keep_float32():
    # np.float64 is a Python float; PyTorch treats it as a scalar: `x / np.sqrt(d)` stays float32
    x = Tensor([1.5, 2.0])
    for op in BINARY:
        assert op(x, np.float64(2.0)).dtype == np.float32, op.__name__
    assert (x / np.sqrt(4.0)).dtype == np.float32


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_float_tensors_promote_like_numpy(op):
    a32, a64 = Tensor(np.array([1.5, 2.0], np.float32)), Tensor(np.array([1.5, 2.0]))
    assert op(a32, a64).dtype == np.float64 and op(a64, a32).dtype == np.float64
    assert op(a64, 2.0).dtype == np.float64


def test_zero_dim_tensors_do_not_promote_dimensioned_ones():
    # PyTorch: a 0-d operand of the same category does not change a dimensioned operand's dtype
    x = Tensor([1.5, 2.0])
    assert (x + Tensor(np.float64(2.0))).dtype == np.float32
    assert (Tensor(np.float64(2.0)) * x).dtype == np.float32


def test_integer_tensors_with_floats_give_float32():
    # PyTorch: int64 op float gives the default float dtype (float32); true division too
    n = tl.arange(3)
    assert n.dtype == np.int64
    assert (n * 0.5).dtype == np.float32
    assert (0.5 + n).dtype == np.float32
    assert (n / 2).dtype == np.float32
    assert (n + Tensor([1.0, 2.0, 3.0])).dtype == np.float32
    assert (n + 1).dtype == np.int64


def test_mixed_dtype_gradients_keep_each_inputs_dtype():
    a32 = Tensor([1.0, 2.0], requires_grad=True)
    a64 = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a32 * a64).sum().backward()
    assert a32.grad.dtype == np.float32 and a64.grad.dtype == np.float64
    np.testing.assert_array_equal(a32.grad.numpy(), [3, 4])
    np.testing.assert_array_equal(a64.grad.numpy(), [1, 2])


def test_where_dtypes():
    x = Tensor([1.0, -1.0])
    assert tl.where(x > 0, x, 0.0).dtype == np.float32
    assert tl.where(x > 0, 1.0, x).dtype == np.float32
    assert tl.where(x > 0, 1.0, 0.0).dtype == np.float32  # PyTorch: the default dtype


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        tl.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        tl.arange(3).requires_grad_()
    with pytest.raises(RuntimeError):
        tl.tensor([True]).requires_grad_()
    assert Tensor([1.0]).requires_grad_().requires_grad


def test_reductions_keep_float32():
    x = Tensor(np.ones((2, 3), np.float32))
    for out in (x.sum(), x.mean(), x.mean(0), x.amax(1), x.softmax(1), x.log_softmax(0),
                x.sigmoid(), x.tanh(), x.sqrt(), x.abs(), x.clamp(0, 1), x @ x.T):
        assert out.dtype == np.float32


# ---------------------------------------------------------------- factories


def test_factories():
    assert tl.zeros(2, 3).shape == (2, 3) and tl.zeros((2, 3)).shape == (2, 3)
    assert tl.zeros(2).dtype == np.float32 and not tl.zeros(2).requires_grad
    np.testing.assert_array_equal(tl.zeros(2, 3).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(tl.ones([3]).numpy(), np.ones(3))
    assert tl.ones(2, dtype=np.float64).dtype == np.float64
    assert tl.zeros(()).shape == () and tl.zeros(0, 2).shape == (0, 2)
    np.testing.assert_array_equal(tl.full((2, 2), 1.5).numpy(), np.full((2, 2), 1.5))
    assert tl.full((2,), 1.5).dtype == np.float32 and tl.full(3, 0.0).shape == (3,)
    assert tl.empty(2, 3).shape == (2, 3) and tl.empty(2).dtype == np.float32
    assert tl.randn(4, 5).shape == (4, 5) and tl.randn(4, 5).dtype == np.float32
    assert tl.rand((2, 3)).shape == (2, 3) and tl.rand(1, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(tl.arange(4).numpy(), [0, 1, 2, 3])
    assert tl.arange(4).dtype == np.int64
    np.testing.assert_array_equal(tl.arange(1, 7, 2).numpy(), [1, 3, 5])
    a = tl.arange(0, 1, 0.25)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.numpy(), [0, 0.25, 0.5, 0.75])
    w = tl.randn(3, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    x = Tensor(np.ones((2, 3)))
    z, o = tl.zeros_like(x), tl.ones_like(x)
    assert z.shape == o.shape == (2, 3) and z.dtype == o.dtype == np.float64
    assert tl.zeros_like(x, dtype=np.float32).dtype == np.float32
    assert tl.ones_like(x, requires_grad=True).requires_grad


def test_random_factories_draw_the_right_distributions():
    tl.manual_seed(0)
    u = tl.rand(20000).numpy()
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01
    n = tl.randn(20000).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03


def test_manual_seed_reproduces_randn_and_rand():
    tl.manual_seed(1234)
    a, b = tl.randn(3, 4), tl.rand(5)
    tl.manual_seed(1234)
    np.testing.assert_array_equal(tl.randn(3, 4).numpy(), a.numpy())
    np.testing.assert_array_equal(tl.rand(5).numpy(), b.numpy())
    tl.manual_seed(1235)
    assert not np.array_equal(tl.randn(3, 4).numpy(), a.numpy())


# ---------------------------------------------------------------- attributes and conversions


def test_attributes():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float64
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.numel() == 6 and x.dim() == 2
    assert x.T.shape == (3, 2)
    assert x.requires_grad is False and x.grad is None and x.is_leaf


def test_repr_shows_values_dtype_and_grad_fn():
    x = Tensor([1.5, -2.0], requires_grad=True)
    r = repr(x * 2)
    assert "1.5" not in r and "3." in r and "-4." in r
    assert "float32" in r and "grad_fn=<MulBackward>" in r
    assert "requires_grad=True" in repr(x) and "1.5" in repr(x)
    assert "grad_fn=<AddBackward>" in repr(x + 1)
    assert "grad_fn" not in repr(Tensor([1.0]) * 2)
    assert "int64" in repr(tl.tensor([1, 2]))


def test_item_numpy_tolist():
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert tl.tensor([[7]]).item() == 7 and isinstance(tl.tensor([[7]]).item(), int)
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.numpy()
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    np.testing.assert_array_equal(np.asarray(x), x.numpy())


def test_len_and_iter():
    x = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and rows[1].shape == (2,)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    (rows[0] * 2 + rows[2]).sum().backward()  # iterating keeps the graph
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [1, 1]])
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    with pytest.raises(TypeError):
        iter(Tensor(1.0))


def test_comparisons_return_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([3.0, 2.0, 1.0])
    cases = [(x < y, [1, 0, 0]), (x <= y, [1, 1, 0]), (x > y, [0, 0, 1]), (x >= y, [0, 1, 1]),
             (x == y, [0, 1, 0]), (x != y, [1, 0, 1]), (x > 1.5, [0, 1, 1]),
             (2 < x, [0, 0, 1]), ((x > 1) & (x < 3), [0, 1, 0]), ((x < 2) | (x > 2), [1, 0, 1]),
             (~(x > 1), [1, 0, 0])]
    for out, expected in cases:
        assert isinstance(out, Tensor) and out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), np.array(expected, bool))


def test_ndarray_op_tensor_returns_a_tensor():
    a = np.array([1.0, 2.0], np.float32)
    x = Tensor([3.0, 4.0], requires_grad=True)
    for out, expected in [(a * x, [3, 8]), (a + x, [4, 6]), (a - x, [-2, -2]),
                          (a / x, [1 / 3, 0.5]), (a**x, [1, 16])]:
        assert isinstance(out, Tensor) and out.requires_grad
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    (a * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)
    out = np.ones((2, 2), np.float32) @ x
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.numpy(), [7, 7])


# ---------------------------------------------------------------- in-place


INPLACE = [
    ("add_", lambda t: t.add_(Tensor([1.0, 2.0])), [2, 4]),
    ("add_alpha", lambda t: t.add_(Tensor([1.0, 2.0]), alpha=-0.5), [0.5, 1]),
    ("sub_", lambda t: t.sub_(0.5), [0.5, 1.5]),
    ("mul_", lambda t: t.mul_(Tensor([3.0, 4.0])), [3, 8]),
    ("div_", lambda t: t.div_(2), [0.5, 1]),
    ("zero_", lambda t: t.zero_(), [0, 0]),
    ("fill_", lambda t: t.fill_(7), [7, 7]),
    ("copy_", lambda t: t.copy_(Tensor([5.0, 6.0])), [5, 6]),
    ("clamp_", lambda t: t.clamp_(1.5, 3), [1.5, 2]),
    ("clamp_min", lambda t: t.clamp_(min=1.5), [1.5, 2]),
    ("setitem", lambda t: t.__setitem__(0, 9.0), [9, 2]),
    ("setitem_mask", lambda t: t.__setitem__(t > 1.5, Tensor(0.0)), [1, 0]),
]


@pytest.mark.parametrize("update, expected", [c[1:] for c in INPLACE], ids=[c[0] for c in INPLACE])
def test_inplace_under_no_grad_updates_the_array_and_bumps_the_version(update, expected):
    w = Tensor([1.0, 2.0], requires_grad=True)
    array = w.numpy()
    with tl.no_grad():
        out = update(w)
    assert out is None or out is w  # methods return self, __setitem__ None
    assert w.numpy() is array  # in place: optimizers rely on it
    np.testing.assert_allclose(w.numpy(), expected)
    assert w._version == 1 and w.requires_grad and w.is_leaf and w.dtype == np.float32


@pytest.mark.parametrize("update", [c[1] for c in INPLACE], ids=[c[0] for c in INPLACE])
def test_inplace_on_a_leaf_that_requires_grad_raises(update):
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        update(w)
    np.testing.assert_array_equal(w.numpy(), [1, 2])  # nothing changed
    assert w._version == 0


def test_inplace_on_a_tensor_without_grad_is_allowed():
    x = Tensor([1.0, 2.0])
    x.add_(1).mul_(2)
    x[1] = 0.0
    np.testing.assert_array_equal(x.numpy(), [4, 0])
    assert x._version == 3


def test_inplace_through_a_view_bumps_the_base_version():
    # PyTorch: views share their base's version counter
    w = Tensor([1.0, 2.0, 3.0])
    w[0:2].add_(10)  # basic slicing gives a view, as in PyTorch
    np.testing.assert_array_equal(w.numpy(), [11, 12, 3])
    assert w._version == 1


def test_optimizer_style_update():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with tl.no_grad():
        w.sub_(w.grad, alpha=0.1)
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), [0, 0])


def test_a_zero_d_tensor_formats_as_its_number():
    t = tl.tensor(1.23456)
    assert "{:+.2f} x^{}".format(t, 2) == "+1.23 x^2"  # noqa: UP032 (the example's own call)
    assert f"{t:.3f}" == "1.235" and f"{t}" == format(np.float32(1.23456).item(), "")
    assert f"{tl.ones(2)}" == str(tl.ones(2))
    with pytest.raises(TypeError):
        f"{tl.ones(2):.2f}"
