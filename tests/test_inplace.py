"""In-place ops, views and `.data` as PyTorch has them: values against NumPy, gradients against
finite differences (gradcheck, float64), errors where PyTorch raises."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import gradcheck

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 1.5, (3, 4))  # positive: log_, sqrt_ and pow_ are defined
OTHER = RNG.uniform(0.5, 1.5, (4,))
MASK = np.array([True, False, True, False])

# name, the in-place op on a tensor t, the same map on a NumPy array
INPLACE_OPS = [
    ("add_", lambda t: t.add_(Tensor(OTHER), alpha=2), lambda a: a + 2 * OTHER),
    ("iadd", lambda t: t.__iadd__(Tensor(OTHER)), lambda a: a + OTHER),
    ("sub_", lambda t: t.sub_(0.5), lambda a: a - 0.5),
    ("isub", lambda t: t.__isub__(Tensor(OTHER)), lambda a: a - OTHER),
    ("mul_", lambda t: t.mul_(Tensor(OTHER)), lambda a: a * OTHER),
    ("imul", lambda t: t.__imul__(3.0), lambda a: a * 3),
    ("div_", lambda t: t.div_(Tensor(OTHER)), lambda a: a / OTHER),
    ("itruediv", lambda t: t.__itruediv__(2.0), lambda a: a / 2),
    ("pow_", lambda t: t.pow_(3), lambda a: a**3),
    ("ipow", lambda t: t.__ipow__(2.0), lambda a: a**2),
    ("clamp_", lambda t: t.clamp_(0.8, 1.2), lambda a: np.clip(a, 0.8, 1.2)),
    ("zero_", lambda t: t.zero_(), lambda a: np.zeros_like(a)),
    ("fill_", lambda t: t.fill_(2.5), lambda a: np.full_like(a, 2.5)),
    ("copy_", lambda t: t.copy_(Tensor(OTHER)), lambda a: np.broadcast_to(OTHER, a.shape)),
    ("masked_fill_", lambda t: t.masked_fill_(Tensor(MASK), -1.0),
     lambda a: np.where(MASK, -1.0, a)),
    ("neg_", lambda t: t.neg_(), lambda a: -a),
    ("exp_", lambda t: t.exp_(), np.exp),
    ("log_", lambda t: t.log_(), np.log),
    ("tanh_", lambda t: t.tanh_(), np.tanh),
    ("sigmoid_", lambda t: t.sigmoid_(), lambda a: 1 / (1 + np.exp(-a))),
    ("sqrt_", lambda t: t.sqrt_(), np.sqrt),
    ("setitem", lambda t: _setitem(t, (Ellipsis, 1), 7.0), lambda a: _set(a, (Ellipsis, 1), 7)),
]
IDS = [name for name, _, _ in INPLACE_OPS]
VIEW = (slice(1, 3),)  # rows 1 and 2: the view the "view of" cases work through


def _setitem(t, index, value):
    t[index] = value
    return t


def _set(a, index, value):
    a = a.copy()
    a[index] = value
    return a


def _expected_through_view(op_np):
    out = X.copy()
    out[VIEW] = op_np(X[VIEW])
    return out


@pytest.mark.parametrize("name, op, op_np", INPLACE_OPS, ids=IDS)
def test_on_a_leaf_under_no_grad_changes_values_in_place(name, op, op_np):
    p = Tensor(X.copy(), requires_grad=True)
    storage, version = p.numpy(), p._version
    with tl.no_grad():
        out = op(p)
    assert out is p and p.numpy() is storage and p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.numpy(), op_np(X), rtol=1e-12)
    assert p._version > version


@pytest.mark.parametrize("name, op, op_np", INPLACE_OPS, ids=IDS)
def test_on_a_non_leaf_is_recorded(name, op, op_np):
    def f(x):
        y = x * 1
        assert op(y) is y and y.is_leaf == (not tl.is_grad_enabled())
        return y * y  # something that uses the new values after the in-place op

    x = Tensor(X.copy(), requires_grad=True)
    np.testing.assert_allclose(f(x).numpy(), op_np(X) ** 2, rtol=1e-12)
    if name not in ("zero_", "fill_"):  # constants: no gradient reaches x, as in PyTorch
        assert gradcheck(f, x)
    else:
        f(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(X))


@pytest.mark.parametrize("name, op, op_np", INPLACE_OPS, ids=IDS)
def test_on_a_view_of_a_non_leaf_writes_through_and_is_recorded(name, op, op_np):
    def f(x):
        y = x * 1
        op(y[VIEW])
        return y * y  # the base: its history now holds the in-place op on its rows

    x = Tensor(X.copy(), requires_grad=True)
    np.testing.assert_allclose(f(x).numpy(), _expected_through_view(op_np) ** 2, rtol=1e-12)
    assert gradcheck(f, x)

    def through_the_view(x):  # the view itself, after the op, sees the base's new history
        y = x * 2
        v = y[VIEW]
        op(v)
        return v * y[VIEW]

    assert gradcheck(through_the_view, Tensor(X.copy(), requires_grad=True))


@pytest.mark.parametrize("name, op, op_np", INPLACE_OPS, ids=IDS)
def test_on_a_leaf_or_a_view_of_a_leaf_raises(name, op, op_np):
    p = Tensor(X.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        op(p)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        op(p[VIEW])
    np.testing.assert_array_equal(p.numpy(), X)  # nothing was written


@pytest.mark.parametrize("name, op, op_np", INPLACE_OPS, ids=IDS)
def test_on_a_saved_tensor_fails_at_backward(name, op, op_np):
    x = Tensor(X.copy(), requires_grad=True)
    y = x.exp()  # ExpBackward saves its output, y
    op(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x = Tensor(X.copy(), requires_grad=True)
    y = x.exp()
    op(y[VIEW])  # through a view: the same memory
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_parameter_update_with_isub_changes_the_parameter():
    lin = tl.nn.Linear(3, 2)
    w0 = lin.weight.numpy().copy()
    (lin(tl.randn(5, 3)) ** 2).sum().backward()
    with tl.no_grad():
        for p in lin.parameters():
            p -= 0.1 * p.grad
    np.testing.assert_allclose(lin.weight.numpy(), w0 - 0.1 * lin.weight.grad.numpy(), rtol=1e-6)


def test_seq2seq_outputs_filled_by_setitem():
    h = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    outputs = tl.zeros(3, 2, dtype=np.float64)
    for t in range(3):
        outputs[t] = h * (t + 1)
    assert outputs.requires_grad and not outputs.is_leaf
    (outputs * Tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [0 + 2 * 2 + 3 * 4, 1 + 2 * 3 + 3 * 5])
    assert gradcheck(lambda h: _fill_rows(h), Tensor(np.array([0.3, -0.7]), requires_grad=True))


def _fill_rows(h):
    out = tl.zeros(3, 2, dtype=np.float64)
    out[0] = h.tanh()
    out[2] = h * h
    out[:, 1] = h[0]  # overwrites part of what was written, and broadcasts
    return out


def test_setitem_with_an_advanced_index_and_a_tensor_index():
    x = Tensor(X.copy(), requires_grad=True)

    def f(x):
        y = x * 1
        y[y > 1.0] = 0.0
        y[Tensor(np.array([0, 2])), 1] = x[0, :2] * 3
        return y

    expected = np.where(X > 1.0, 0.0, X)
    expected[[0, 2], 1] = X[0, :2] * 3
    np.testing.assert_allclose(f(x).numpy(), expected)
    assert gradcheck(f, x)


def test_row_of_a_plain_tensor_writes_through():
    m = tl.zeros(2, 3)
    row = m[0]
    row += 1
    np.testing.assert_array_equal(m.numpy(), [[1, 1, 1], [0, 0, 0]])
    m[1, 2] = 5
    assert row._version == m._version == 2


VIEWS = [
    ("getitem", lambda t: t[1]),
    ("getitem 0-d", lambda t: t[1, 2]),
    ("view", lambda t: t.view(12)),
    ("view_as", lambda t: t.view_as(Tensor(np.zeros((4, 3))))),
    ("reshape", lambda t: t.reshape(2, 6)),
    ("transpose", lambda t: t.transpose(0, 1)),
    ("permute", lambda t: t.permute(1, 0)),
    ("t", lambda t: t.t()),
    ("T", lambda t: t.T),
    ("narrow", lambda t: t.narrow(1, 1, 2)),
    ("select", lambda t: t.select(1, -1)),
    ("squeeze", lambda t: t[None].squeeze(0)),
    ("unsqueeze", lambda t: t.unsqueeze(1)),
    ("chunk", lambda t: t.chunk(2, 1)[1]),
    ("split", lambda t: t.split([1, 3], 1)[1]),
    ("unbind", lambda t: t.unbind(1)[2]),
    ("flatten", lambda t: t.flatten()),
    ("detach", lambda t: t.detach()),
    ("data", lambda t: t.data),
    ("view of a view", lambda t: t[1:].T[0]),
]


@pytest.mark.parametrize("make", [m for _, m in VIEWS], ids=[n for n, _ in VIEWS])
def test_views_share_storage_and_version(make):
    base = Tensor(np.arange(12.0).reshape(3, 4))
    v = make(base)
    version = base._version
    v.add_(100)
    assert (base.numpy() >= 100).sum() == v.numel()  # written through to the base
    assert base._version == v._version == version + 1
    base.mul_(2)  # and back: the view sees the base's change
    assert (v.numpy() >= 200).all()


def test_expand_is_a_read_only_view_and_view_refuses_a_copy():
    x = Tensor(np.arange(3.0))
    e = x.expand(2, 3)
    assert np.shares_memory(e.numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="single memory location"):
        e.add_(1)
    t = Tensor(np.arange(6.0).reshape(2, 3)).T
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    with pytest.raises(RuntimeError, match=r"view size .* not compatible.*reshape"):
        t.view(6)
    np.testing.assert_array_equal(t.reshape(6).numpy(), [0, 3, 1, 4, 2, 5])  # a copy is fine


def test_inplace_view_ops_change_the_tensor_itself():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    assert y.unsqueeze_(0) is y and y.shape == (1, 2, 3)
    assert y.squeeze_(0).t_() is y and y.shape == (3, 2)
    (y * Tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


def test_data_is_a_detached_tensor_on_the_same_storage():
    p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (p * p).sum().backward()
    d = p.data
    assert isinstance(d, Tensor) and not d.requires_grad and d.is_leaf
    p.data.add_(p.grad, alpha=-0.25)  # the classic manual SGD step, outside no_grad
    np.testing.assert_allclose(p.numpy(), [0.5, 1.0])
    p.data.zero_()
    np.testing.assert_array_equal(p.numpy(), [0, 0])
    p.data = Tensor(np.array([3.0, 4.0, 5.0]))  # may change the shape, as in PyTorch
    assert p.shape == (3,) and p.requires_grad and p.is_leaf
    with pytest.raises(TypeError, match="Tensor"):
        p.data = np.zeros(2)


def test_dtype_and_shape_errors_of_inplace_ops():
    i = Tensor(np.array([1, 2], dtype=np.int64))
    with pytest.raises(RuntimeError, match="can't be cast|cannot update"):
        i += 1.5
    i //= 2
    np.testing.assert_array_equal(i.numpy(), [0, 1])
    b = Tensor(np.array([True, False]))
    b |= Tensor(np.array([False, True]))
    b &= Tensor(np.array([True, False]))
    b ^= Tensor(np.array([True, True]))
    np.testing.assert_array_equal(b.numpy(), [False, True])
    x = Tensor(np.zeros(3), requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        y.add_(Tensor(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="can't be cast"):
        Tensor(np.array([1, 2, 3])).add_(x)  # an int tensor cannot hold a float result


def test_imatmul_keeps_the_tensor():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    storage = a.numpy()
    a @= Tensor(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert a.numpy() is storage
    np.testing.assert_array_equal(a.numpy(), [[2, 1], [4, 3]])


def test_retained_grad_sees_every_hook_whenever_it_was_registered():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)  # registered after retain_grad: still seen by y.grad
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [10, 10])
    np.testing.assert_array_equal(x.grad.numpy(), [30, 30])


def test_a_view_made_before_its_base_was_written_takes_the_new_history():
    def f(x):
        y = x * 1
        row = y[0]  # made before the write below
        y[0] = x[1] * 5  # row's memory now holds 5 * x[1]: its gradient must go there
        return row * row

    x = Tensor(X.copy(), requires_grad=True)
    np.testing.assert_allclose(f(x).numpy(), (5 * X[1]) ** 2)
    assert gradcheck(f, x)

    def g(x):  # a view of a tensor that required no grad until the write
        buf = tl.zeros(2, 4, dtype=np.float64)
        first = buf[0]
        buf.copy_(x[:2] * 2)
        return first * 3

    assert g(x).requires_grad and gradcheck(g, x)


def test_in_place_through_a_view_of_a_view_and_on_a_view_made_in_place():
    def f(x):
        y = x * 1
        v = y[1:].T  # (4, 2), a view of a view
        v[2].mul_(x[0, :2])  # y[1:, 2] *= x[0, :2]
        w = y[0]
        w.unsqueeze_(0)  # still a view of y, one step more
        w.add_(x[2])
        return y * y

    x = Tensor(X.copy(), requires_grad=True)
    expected = X.copy()
    expected[1:, 2] *= X[0, :2]
    expected[0] += X[2]
    np.testing.assert_allclose(f(x).numpy(), expected**2, rtol=1e-12)
    assert gradcheck(f, x)


def test_overlapping_sibling_views_each_see_the_other_write():
    def f(a):
        y = a * 1
        v1, v2 = y[0:2], y[1:3]
        v1.mul_(2)
        v2.add_(a[2])  # v2 overlaps v1's write at y[1]
        return y * y

    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    np.testing.assert_allclose(f(a).numpy(), [4.0, 49.0, 36.0])  # y = [2, 7, 6]
    assert gradcheck(f, a)
    y = tl.zeros(3, dtype=np.float64)
    v = y[0:2]
    y.add_(a)  # y, not v, is written: v must notice before its own in-place op
    v.mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2, 1])


def test_a_view_of_a_tensor_whose_shape_changed_in_place_refuses_in_place_use():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = a * 1
    v = y[0]
    y.t_()
    with pytest.raises(RuntimeError, match="take the view again"):
        v.mul_(10)
    p = Tensor(np.zeros(3))
    w = p[1:]
    p.data = Tensor(np.ones(3))  # new memory under p: w still sees the old memory
    with pytest.raises(RuntimeError, match="take the view again"):
        w.add_(a[0, :2])


def test_a_2000_deep_chain_of_views_is_written_without_recursion():
    a = Tensor(np.ones(4), requires_grad=True)
    y = a * 1
    v = y
    for _ in range(2000):
        v = v[:]
    v.mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2, 2, 2])


def test_retain_grad_follows_the_tensor_through_in_place_ops_and_is_idempotent():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1
    y.retain_grad()
    y.retain_grad()  # a second call changes nothing
    assert y.retains_grad and not x.retains_grad
    y.mul_(3)
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1, 1])  # the gradient of y after mul_
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_detach_of_a_view_in_place_and_fill_of_ints_as_pytorch():
    y = Tensor(np.arange(4.0))
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        y[1:].detach_()
    i = Tensor(np.array([1, 2, 3]))
    i.fill_(2.7)
    np.testing.assert_array_equal(i.numpy(), [2, 2, 2])
    i.masked_fill_(Tensor(np.array([True, False, True])), 5.9)
    np.testing.assert_array_equal(i.numpy(), [5, 2, 5])


def test_a_read_only_numpy_array_refuses_in_place_ops_naming_the_cause():
    a = np.arange(3.0)
    a.flags.writeable = False
    t = tl.from_numpy(a)
    for write in (lambda: t.add_(1), lambda: t.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="memory is read-only .*from_numpy"):
            write()
    assert a.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="expanded tensor"):  # not the cause for an expand
        tl.ones(1, 3).expand(2, 3).add_(1)
