"""Derivatives of derivatives: backward(create_graph=True), autograd.grad and gradgradcheck.

Every second derivative is checked against central differences of the first (gradgradcheck,
float64), and the first four derivatives of tanh against their closed forms."""

import math

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import Function, grad, gradgradcheck
from tinygrad_lstm.nn import functional as F

from test_ops import OPS
from test_tensor_functions import EINSUM_CASES, FUNCTION_OPS


def _inputs(sample, in_shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(sample(rng, s), requires_grad=True) for s in in_shapes]


TABLE = OPS + FUNCTION_OPS


@pytest.mark.parametrize("fn, shapes, sample", [(op[1], op[3], op[4]) for op in TABLE],
                         ids=[op[0] for op in TABLE])
def test_every_op_is_differentiable_twice(fn, shapes, sample):
    for in_shapes in shapes:
        assert gradgradcheck(fn, _inputs(sample, in_shapes)), in_shapes


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_is_differentiable_twice(equation, shapes):
    xs = _inputs(lambda rng, s: rng.standard_normal(s), shapes)
    assert gradgradcheck(lambda *a: tl.einsum(equation, *a), xs)


def test_gradgradcheck_fails_on_a_wrong_second_derivative(monkeypatch):
    """The check can fail: treat Div's saved output as a constant and the second derivative
    with respect to the divisor goes wrong."""
    x, y = _inputs(lambda rng, s: rng.uniform(0.5, 2, s), [(3,), (3,)])
    monkeypatch.setattr(tl.ops.Div, "saved_roles", (1, None))
    assert not gradgradcheck(lambda a, b: a / b, (x, y), raise_exception=False)


def test_tanh_derivatives_one_to_four_match_closed_forms():
    x = Tensor(np.linspace(-3, 3, 13), requires_grad=True)
    t = np.tanh(x.numpy())
    s = 1 - t * t  # sech^2
    closed = [s, -2 * t * s, -2 * s * s + 4 * t * t * s, 16 * t * s * s - 8 * t ** 3 * s]
    y = x.tanh()
    for k, expected in enumerate(closed):
        (y,) = grad(y.sum(), x, create_graph=True)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"derivative {k + 1}")


def test_backward_create_graph_gives_a_grad_that_can_be_differentiated():
    x = Tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=tl.float64)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_create_graph_accumulates_out_of_place_into_grad():
    x = Tensor([1.0, 2.0], requires_grad=True, dtype=tl.float64)
    (x * x).sum().backward(create_graph=True)
    first = x.grad
    (x * x).sum().backward(create_graph=True)
    assert x.grad is not first and first.numpy().tolist() == [2.0, 4.0]
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_hessian_of_a_small_mlp_loss_matches_finite_differences():
    rng = np.random.default_rng(1)
    data, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    w1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))
    n = w1.size

    def loss_and_grad(flat: np.ndarray, create_graph: bool):
        p = Tensor(flat, requires_grad=True)
        a, b = p[:n].reshape(3, 4), p[n:].reshape(4, 1)
        loss = (((Tensor(data) @ a).tanh() @ b - Tensor(target)) ** 2).mean()
        (g,) = grad(loss, p, create_graph=create_graph)
        return p, g

    flat = np.concatenate([w1.ravel(), w2.ravel()])
    p, g = loss_and_grad(flat, True)
    hessian = np.stack([grad(g[i], p, retain_graph=True)[0].numpy() for i in range(flat.size)])
    eps = 1e-6
    numerical = np.stack([
        (loss_and_grad(flat + eps * e, False)[1].numpy() -
         loss_and_grad(flat - eps * e, False)[1].numpy()) / (2 * eps)
        for e in np.eye(flat.size)])
    np.testing.assert_allclose(hessian, numerical, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_double_backward_through_recurrent_layers(cls):
    tl.manual_seed(0)
    layer = cls(2, 3).double()
    x = Tensor(np.random.default_rng(2).standard_normal((4, 2, 2)), requires_grad=True)
    weight = layer.weight_hh_l0

    def fn(x, w):
        layer.weight_hh_l0 = w  # the parameter as an input, so gradgradcheck perturbs it
        return layer(x)[0]

    try:
        assert gradgradcheck(fn, (x, Tensor(weight.numpy().copy(), requires_grad=True)))
    finally:
        layer.weight_hh_l0 = weight


@pytest.mark.parametrize("make, inputs", [
    (lambda: nn.Linear(3, 2), lambda rng: rng.standard_normal((4, 3))),
    (lambda: nn.LSTMCell(3, 2), lambda rng: rng.standard_normal((4, 3))),
    (lambda: nn.GRUCell(3, 2), lambda rng: rng.standard_normal((4, 3))),
    (lambda: nn.RNNCell(3, 2), lambda rng: rng.standard_normal((4, 3))),
    (lambda: nn.LayerNorm(3), lambda rng: rng.standard_normal((4, 3))),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2), nn.Softmax(-1)),
     lambda rng: rng.standard_normal((4, 3))),
], ids=["linear", "lstm_cell", "gru_cell", "rnn_cell", "layer_norm", "mlp"])
def test_double_backward_through_modules(make, inputs):
    tl.manual_seed(0)
    module = make().double()
    x = Tensor(inputs(np.random.default_rng(3)), requires_grad=True)
    assert gradgradcheck(lambda t: module(t), x)


def test_gradient_penalty_reaches_the_weights():
    """WGAN-GP: the norm of d(critic)/d(input) is a loss whose gradient reaches the critic's
    weights through the recorded first derivative; checked against finite differences."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2))
    w = Tensor(rng.standard_normal((2, 1)), requires_grad=True)

    def penalty(w):
        inp = Tensor(x, requires_grad=True)
        (g,) = grad((inp @ w).tanh().sum(), inp, create_graph=True)
        return ((g.norm(dim=1) - 1) ** 2).mean()

    assert tl.autograd.gradcheck(penalty, w)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_are_differentiable_twice(reduction):
    rng = np.random.default_rng(5)
    logits = Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    target = Tensor(np.array([1, 0, 4, -100]))
    assert gradgradcheck(lambda t: F.cross_entropy(t, target, reduction=reduction,
                                                   label_smoothing=0.1), logits)
    y = Tensor(rng.standard_normal((4, 5)))
    assert gradgradcheck(lambda t: F.mse_loss(t, y, reduction=reduction), logits)
    assert gradgradcheck(lambda t: F.nll_loss(t.log_softmax(1), target, reduction=reduction),
                         logits)
    probs = Tensor(rng.uniform(0.1, 0.9, (4, 5)))
    assert gradgradcheck(lambda t: F.binary_cross_entropy_with_logits(t, probs,
                                                                       reduction=reduction), logits)
    assert gradgradcheck(lambda t: F.huber_loss(t, y, reduction=reduction, delta=0.5), logits)


def test_embedding_is_differentiable_twice_in_its_weight():
    tl.manual_seed(0)
    emb = nn.Embedding(5, 3).double()
    ids = Tensor(np.array([[0, 2], [2, 4]]))
    w = Tensor(emb.weight.numpy().copy(), requires_grad=True)
    assert gradgradcheck(lambda w: F.embedding(ids, w).tanh(), w)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x  # Tensor ops: recorded under create_graph


def test_custom_function_with_a_tensor_backward_is_differentiable_twice():
    x = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert gradgradcheck(Cube.apply, x)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


class ExpSavingItsOutput(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)  # the output: a recorded backward sees it in the graph
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class NumpyBackward(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Tensor(2 * x.numpy() * g.numpy())  # arrays: no graph to differentiate


def test_custom_function_output_saved_for_backward_is_tracked_in_the_second_derivative():
    x = Tensor(np.array([0.3, -0.2]), requires_grad=True)
    assert gradgradcheck(ExpSavingItsOutput.apply, x)


def test_custom_backward_on_arrays_refuses_create_graph_rather_than_cut_the_graph():
    x = Tensor(np.array([0.3, -0.2]), requires_grad=True)
    NumpyBackward.apply(x).sum().backward()  # first order: fine
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    with pytest.raises(RuntimeError, match="cut the graph"):
        grad(NumpyBackward.apply(x).sum(), x, create_graph=True)


def test_grad_error_cases_with_create_graph():
    x, unused = (Tensor([1.0], requires_grad=True) for _ in range(2))
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        grad(y, (x, unused), create_graph=True)
    gx, gu = grad(y, (x, unused), create_graph=True, allow_unused=True)
    assert gu is None and gx.requires_grad
    (gx,) = grad(y, x, create_graph=True)  # retain_graph defaulted to True: the graph is kept
    (h,) = grad(gx.sum(), x)
    assert h.numpy().tolist() == [2.0]
    (c,) = grad((x * 2).sum(), x, create_graph=True)  # a constant gradient: no graph to extend
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(c.sum(), x)


def test_grad_outputs_that_require_grad_are_differentiated_through():
    """A vector-Jacobian product is linear in the vector: d(v . J)/dv = J."""
    x = Tensor(np.array([0.3, 0.7]), requires_grad=True)
    v = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (vjp,) = grad(x.exp(), x, v, create_graph=True)
    (dv,) = grad(vjp.sum(), v)
    np.testing.assert_allclose(dv.numpy(), np.exp(x.numpy()))


def test_numpy_on_tensors_records_where_a_gradient_flows_and_never_drops_it():
    t = Tensor([1.0, 2.0], requires_grad=True)
    d = t.detach()
    assert type(np.dot(d, d)) is not Tensor and float(np.dot(d, d)) == 5.0  # arrays, as PyTorch
    assert np.shape(t) == (2,) and np.ndim(t) == 1
    for recorded in (np.exp(t), np.dot(t, t), np.sum(t), np.where(d > 1, t, 0)):
        assert isinstance(recorded, Tensor) and recorded.grad_fn is not None
    np.testing.assert_allclose(np.exp(t).numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(TypeError, match="np.arctan has no Tensor version"):
        np.arctan(t)
    with pytest.raises(TypeError, match="np.median has no Tensor version"):
        np.median(t)
    assert isinstance(np.arctan(d), Tensor)
    q, r = np.divmod(d, 2)  # a ufunc of two outputs gives two tensors
    assert q.numpy().tolist() == [0, 1] and r.numpy().tolist() == [1, 0]
    assert (np.ones(2) // t).numpy().tolist() == [1, 0]
    array = np.zeros(2)
    array += d  # into the array, as with PyTorch
    assert array.tolist() == [1, 2]
    with pytest.raises(TypeError, match="cannot write a tensor that requires grad into a NumPy"):
        array += t


def test_grad_of_a_create_graph_backward_is_its_own_buffer():
    """Review finding: .grad was the very gradient tensor (shared by x and y, and the user's
    seed); zeroing one zeroed them all."""
    x, y = (Tensor([1.0, 2.0], requires_grad=True) for _ in range(2))
    v = Tensor([1.0, 1.0])
    (x + y).backward(v, create_graph=True)
    assert x.grad is not y.grad and x.grad is not v
    with tl.no_grad():
        x.grad.zero_()
    assert y.grad.numpy().tolist() == [1, 1] and v.numpy().tolist() == [1, 1]


def test_plain_backward_after_a_create_graph_one_adds_out_of_place():
    """Review finding: a first-order backward added into the recorded .grad in place, so a
    penalty built on it before then had a wrong derivative."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    penalty = (x.grad * x.grad).sum()  # 9 x^4: derivative 36 x^3
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2 + 1)
    (d,) = grad(penalty, x)
    np.testing.assert_allclose(d.numpy(), 36 * x.numpy() ** 3)


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g.sum(0, keepdim=True)  # (1, 3) for a (2, 3) input


def test_wrong_shapes_are_refused_under_create_graph_too():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    for create_graph in (False, True):
        with pytest.raises(RuntimeError, match=r"gradient of shape \(1, 3\) for an input of shape"):
            grad(WrongShape.apply(x).sum(), x, create_graph=create_graph)
    y = x * 2
    y.register_hook(lambda g: Tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="hook on the output of MulBackward returned"):
        grad(y.sum(), x, create_graph=True)


def test_grad_outputs_of_another_dtype_keep_their_graph():
    x = Tensor(np.array([0.3, 0.7]), requires_grad=True)  # float64
    v = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    (vjp,) = grad(x.exp(), x, v, create_graph=True)
    (dv,) = grad(vjp.sum(), v)
    np.testing.assert_allclose(dv.numpy(), np.exp(x.numpy()), rtol=1e-6)


def test_matmul_of_mixed_dtypes_is_differentiable_twice():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    (gw,) = grad((x @ w).sum(), w, create_graph=True)
    (gx,) = grad((gw * gw).sum(), x)  # gw = x^T 1: d/dx sum(gw^2) = 2 * 1 gw^T
    assert gx.dtype == tl.float32
    np.testing.assert_allclose(gx.numpy(), 2 * np.ones((2, 2)) @ gw.numpy().T)


def test_memory_of_a_double_backward_through_a_long_lstm_grows_with_the_steps():
    """200 steps: the recorded backward runs (iteratively, no recursion limit) and its gradient
    matches one of a shorter sequence's where the two must agree: the first step alone."""
    tl.manual_seed(0)
    lstm = nn.LSTM(2, 3).double()
    x = Tensor(np.random.default_rng(6).standard_normal((200, 1, 2)), requires_grad=True)
    out = lstm(x)[0]
    (g,) = grad(out[0].sum(), x, create_graph=True)
    (h,) = grad((g * g).sum(), x)
    assert h.shape == x.shape and np.isfinite(h.numpy()).all()
    assert not h.numpy()[1:].any()  # out[0] depends on x[0] only
    assert math.isfinite(float(h.numpy()[0].sum()))


def test_retain_grad_keeps_the_graph_of_a_recorded_gradient():
    """b = a * a; L = sum(b * a): dL/db = a, recorded, so d(sum(b.grad))/da = 1 (PyTorch keeps
    b.grad's graph: its retain_grad hook clones with recording on)."""
    a = Tensor([1.0, 2.0], requires_grad=True, dtype=tl.float64)
    b = a * a
    b.retain_grad()
    (b * a).sum().backward(create_graph=True)
    assert b.grad.requires_grad
    np.testing.assert_allclose(b.grad.numpy(), a.numpy())
    (g,) = grad(b.grad.sum(), a, retain_graph=True)
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0])
    (b * a).sum().backward(create_graph=True)  # accumulates, still recorded
    (g,) = grad(b.grad.sum(), a)
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])
