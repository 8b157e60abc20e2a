"""nn.functional against plainly written float64 NumPy: cross_entropy (each reduction,
ignore_index, label_smoothing, the (N, C, d...) form, logits of 1e4), nll_loss, mse_loss,
activations; gradients against closed forms and float64 finite differences."""

import numpy as np
import pytest

from tinygrad_lstm import Tensor, nn, tensor
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn import functional as F

REDUCTIONS = ["none", "mean", "sum"]


def ref_log_softmax(x):
    """Row by row: x - max - log(sum(exp(x - max)))."""
    out = np.empty_like(x)
    for n, row in enumerate(x):
        m = row.max()
        out[n] = row - m - np.log(np.sum(np.exp(row - m)))
    return out


def ref_cross_entropy(x, t, reduction, ignore_index=-100, eps=0.0):
    """PyTorch's definition for x (N, C), t (N,): the smoothed target is
    (1 - eps) * onehot + eps / C; ignored rows count 0 and 'mean' divides by the others."""
    n_rows, n_classes = x.shape
    logp = ref_log_softmax(x)
    losses = np.zeros(n_rows)
    for n in range(n_rows):
        if t[n] != ignore_index:
            q = np.full(n_classes, eps / n_classes)
            q[t[n]] += 1 - eps
            losses[n] = -(q * logp[n]).sum()
    count = np.sum(t != ignore_index)
    return {"none": losses, "sum": losses.sum(), "mean": losses.sum() / count}[reduction]


def ref_cross_entropy_grad(x, t, reduction, ignore_index=-100, eps=0.0):
    """d(sum or mean of the losses)/dx = (softmax(x) - smoothed onehot), 0 on ignored rows."""
    n_rows, n_classes = x.shape
    grad = np.exp(ref_log_softmax(x))
    for n in range(n_rows):
        if t[n] == ignore_index:
            grad[n] = 0
        else:
            grad[n] -= eps / n_classes
            grad[n, t[n]] -= 1 - eps
    return grad / np.sum(t != ignore_index) if reduction == "mean" else grad


CASES = [  # (ignore_index, label_smoothing, targets)
    (-100, 0.0, [0, 2, 1, 2, 3]),
    (-100, 0.2, [0, 2, 1, 2, 3]),
    (-100, 0.0, [0, -100, 1, -100, 3]),
    (2, 0.3, [0, 2, 1, 2, 3]),
    (-100, 1.0, [3, 1, -100, 0, 0]),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index, eps, targets", CASES)
def test_cross_entropy_matches_numpy(reduction, ignore_index, eps, targets):
    x_np = np.random.default_rng(0).standard_normal((5, 4)) * 3
    t = np.array(targets)
    x = Tensor(x_np, requires_grad=True)
    loss = F.cross_entropy(x, t, ignore_index=ignore_index, reduction=reduction,
                           label_smoothing=eps)
    expected = ref_cross_entropy(x_np, t, reduction, ignore_index, eps)
    assert loss.shape == np.shape(expected) and loss.dtype == np.float64
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12, atol=1e-14)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(),
                               ref_cross_entropy_grad(x_np, t, reduction, ignore_index, eps),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(reduction):
    x = Tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    t = np.array([0, 2, -100, 1])
    assert gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction,
                                               label_smoothing=0.1), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_form(reduction):
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((2, 3, 4, 5))
    t = rng.integers(0, 3, size=(2, 4, 5))
    t[0, 1, :2] = -100
    x = Tensor(x_np, requires_grad=True)
    loss = F.cross_entropy(x, Tensor(t), reduction=reduction, label_smoothing=0.05)
    rows = np.moveaxis(x_np, 1, -1).reshape(-1, 3)  # (N * d1 * d2, C)
    expected = ref_cross_entropy(rows, t.reshape(-1), reduction, eps=0.05)
    if reduction == "none":
        expected = expected.reshape(2, 4, 5)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    loss.sum().backward()
    grad = ref_cross_entropy_grad(rows, t.reshape(-1), reduction, eps=0.05)
    np.testing.assert_allclose(x.grad.numpy(), np.moveaxis(grad.reshape(2, 4, 5, 3), -1, 1),
                               rtol=1e-12, atol=1e-14)


def test_cross_entropy_spatial_gradcheck():
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3, 2)), requires_grad=True)
    t = np.array([[0, 2], [1, -100]])
    assert gradcheck(lambda x: F.cross_entropy(x, t), (x,))


def test_cross_entropy_unbatched():
    x_np = np.array([0.5, -1.0, 2.0])
    loss = F.cross_entropy(Tensor(x_np), np.array(2), reduction="none")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.numpy(), ref_cross_entropy(x_np[None], [2], "none")[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    x = Tensor(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype),
               requires_grad=True)
    t = np.array([0, 0, 2])
    loss = F.cross_entropy(x, t, reduction="none")
    # closed forms: logsumexp of the rows is 1e4, 1e4 + log 2 and -1e4 + log 3
    np.testing.assert_allclose(loss.numpy(), [0.0, 1e4 + np.log(2), np.log(3)], rtol=1e-6,
                               atol=1e-6)
    loss.sum().backward()
    expected = [[0, 0, 0], [-1, 0.5, 0.5], [1 / 3, 1 / 3, -2 / 3]]
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-6)
    big = np.random.default_rng(4).standard_normal((6, 5)) * 1e4
    target = np.arange(6) % 5
    np.testing.assert_allclose(F.cross_entropy(Tensor(big.astype(dtype)), target).numpy(),
                               ref_cross_entropy(big, target, "mean"), rtol=1e-5)


def test_cross_entropy_errors():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="integer dtype"):
        F.cross_entropy(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\) for input of shape "
                       r"\(4, 3\), got target of shape \(3,\)"):
        F.cross_entropy(x, np.zeros(3, int))
    with pytest.raises(ValueError, match=r"shape \(2, 5\).*\(2, 3, 5\).*\(2, 4\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3, 5))), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, np.zeros(4, int), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.zeros(4, int), label_smoothing=1.5)
    with pytest.raises(IndexError, match="3 is out of bounds for 3 classes"):
        F.cross_entropy(x, np.array([0, 3, 1, 1]))
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(Tensor(np.zeros((4, 3), int)), np.zeros(4, int))
    with pytest.raises(TypeError, match="Tensor"):
        F.cross_entropy(np.zeros((4, 3)), np.zeros(4, int))


# ---------------------------------------------------------------- nll_loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_numpy_and_gradcheck(reduction):
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((2, 4, 3))  # (N, C, d1)
    t = rng.integers(0, 4, size=(2, 3))
    t[1, 0] = -100
    x = Tensor(x_np, requires_grad=True)
    loss = F.nll_loss(x, t, reduction=reduction)
    picked = np.zeros((2, 3))
    for n in range(2):
        for d in range(3):
            if t[n, d] != -100:
                picked[n, d] = -x_np[n, t[n, d], d]
    expected = {"none": picked, "sum": picked.sum(), "mean": picked.sum() / 5}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.nll_loss(x, t, reduction=reduction), (x,))


def test_nll_loss_of_log_softmax_is_cross_entropy():
    x = Tensor(np.random.default_rng(6).standard_normal((5, 4)), requires_grad=True)
    t = np.array([1, 0, 3, 3, 2])
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, 1), t, ignore_index=3).numpy(),
                               F.cross_entropy(x, t, ignore_index=3).numpy(), rtol=1e-12)


def test_nll_loss_with_every_target_ignored_is_nan_with_zero_gradient():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.nll_loss(x, np.array([-100, -100]))
    assert np.isnan(loss.item())  # 0 / 0, as in PyTorch
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_nll_loss_errors():
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([5, 0]))
    with pytest.raises(TypeError, match="integer dtype"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0]))


# ---------------------------------------------------------------- mse_loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_numpy_and_gradcheck(reduction):
    rng = np.random.default_rng(7)
    a = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    sq = (a.numpy() - b.numpy()) ** 2
    expected = {"none": sq, "sum": sq.sum(), "mean": sq.mean()}[reduction]
    np.testing.assert_allclose(F.mse_loss(a, b, reduction=reduction).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(F.mse_loss(a, b.numpy(), reduction=reduction).numpy(), expected,
                               rtol=1e-12)
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (a, b))


def test_mse_loss_refuses_broadcasting():
    with pytest.raises(ValueError, match=r"target size \(3,\) differs from input size \(3, 1\)"):
        F.mse_loss(Tensor(np.zeros((3, 1))), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(Tensor(np.zeros(3)), Tensor(np.zeros(3)), reduction="mena")


# ---------------------------------------------------------------- layers and activations


def test_activations_match_numpy():
    x_np = np.random.default_rng(8).standard_normal((3, 4))
    x = Tensor(x_np)
    np.testing.assert_allclose(F.relu(x).numpy(), np.maximum(x_np, 0))
    np.testing.assert_allclose(F.tanh(x).numpy(), np.tanh(x_np))
    np.testing.assert_allclose(F.sigmoid(x).numpy(), 1 / (1 + np.exp(-x_np)))
    e = np.exp(x_np)
    np.testing.assert_allclose(F.softmax(x, 0).numpy(), e / e.sum(0), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, -1).numpy(),
                               np.log(e / e.sum(1, keepdims=True)), rtol=1e-12)


def test_linear_dropout_embedding_functional():
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(F.linear(Tensor(x), Tensor(w)).numpy(), x @ w.T, rtol=1e-12)
    t = Tensor(x)
    assert F.dropout(t, 0.9, training=False) is t
    idx = np.array([[2, 0]])
    np.testing.assert_array_equal(F.embedding(idx, Tensor(w)).numpy(), w[idx])


def test_the_third_positional_argument_is_the_class_weight_as_in_pytorch():
    # PyTorch's third positional argument is `weight`, not ignore_index
    x, t = Tensor(np.zeros((3, 3))), tensor([2, 0, 1])  # int64 class indices
    w = Tensor(np.array([2.0, 1.0, 1.0]))
    # uniform logits: each row's loss is log 3 times its target's weight, the mean divides by
    # the weights' sum, so the weighted mean is log 3 again, and the weighted sum is 4 log 3
    for loss in (F.cross_entropy(x, t, w, reduction="sum"), F.nll_loss(x - np.log(3), t, w,
                                                                       reduction="sum"),
                 nn.CrossEntropyLoss(w, reduction="sum")(x, t)):
        np.testing.assert_allclose(loss.item(), 4 * np.log(3), rtol=1e-12)


def test_linear_refuses_an_input_of_another_dtype():
    layer = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="linear: input has dtype float64"):
        layer(Tensor(np.ones((2, 3))))
    for x in (np.ones((2, 3)), np.ones((4, 2, 3))):  # checked before the op, for any rank
        with pytest.raises(RuntimeError, match="linear: bias has dtype float64, but the weight "
                                               "is float32"):
            F.linear(Tensor(x.astype(np.float32)), layer.weight, Tensor(np.zeros(2)))
