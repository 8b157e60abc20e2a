"""nn.init (bounds, statistics, orthogonality, fans and gains) and nn.utils gradient clipping
against the formulas written out."""

import math

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.utils import clip_grad_norm_, clip_grad_value_


def param(*shape):
    return nn.Parameter(np.zeros(shape, np.float32))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(param(7, 3)) == (3, 7)
    assert init._calculate_fan_in_and_fan_out(param(8, 4, 3, 2)) == (24, 48)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(param(5))


def test_fills_work_in_place_on_parameters():
    p = param(3, 4)
    array = p.numpy()
    assert init.ones_(p) is p and p.numpy() is array and p.dtype == np.float32
    np.testing.assert_array_equal(p.numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.zeros_(p).numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(init.constant_(p, 2.5).numpy(), np.full((3, 4), 2.5))
    assert p.grad is None and p.is_leaf and p.requires_grad


def test_uniform_and_normal_statistics():
    tl.manual_seed(0)
    p = param(400, 500)  # 200,000 draws: sample moments within about 1% of the true ones
    init.uniform_(p, -2.0, 3.0)
    assert p.numpy().min() >= -2.0 and p.numpy().max() < 3.0
    np.testing.assert_allclose(p.numpy().mean(), 0.5, atol=0.01)
    np.testing.assert_allclose(p.numpy().std(), 5 / math.sqrt(12), rtol=0.01)
    init.normal_(p, 1.0, 0.5)
    np.testing.assert_allclose(p.numpy().mean(), 1.0, atol=0.01)
    np.testing.assert_allclose(p.numpy().std(), 0.5, rtol=0.01)


def test_xavier_and_kaiming():
    tl.manual_seed(1)
    p = param(300, 700)
    fan_in, fan_out = 700, 300
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    init.xavier_uniform_(p, gain=2.0)
    assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.99 * bound
    np.testing.assert_allclose(p.numpy().std(), bound / math.sqrt(3), rtol=0.01)
    init.xavier_normal_(p)
    np.testing.assert_allclose(p.numpy().std(), math.sqrt(2 / (fan_in + fan_out)), rtol=0.01)

    init.kaiming_uniform_(p, a=math.sqrt(5))  # Linear's init: U(+-1/sqrt(fan_in))
    assert np.abs(p.numpy()).max() <= 1 / math.sqrt(fan_in)
    np.testing.assert_allclose(p.numpy().std(), 1 / math.sqrt(3 * fan_in), rtol=0.01)
    init.kaiming_uniform_(p, mode="fan_out", nonlinearity="relu")
    relu_bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    assert np.abs(p.numpy()).max() <= relu_bound and np.abs(p.numpy()).max() > 0.99 * relu_bound
    init.kaiming_normal_(p, nonlinearity="relu")
    np.testing.assert_allclose(p.numpy().std(), math.sqrt(2 / fan_in), rtol=0.01)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(p, mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (3, 2, 2)])
def test_orthogonal(shape):
    tl.manual_seed(2)
    p = param(*shape)
    init.orthogonal_(p, gain=1.5)
    w = p.numpy().reshape(shape[0], -1).astype(np.float64) / 1.5
    rows, cols = w.shape
    gram = w.T @ w if rows >= cols else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-6)


def test_orthogonal_sign_convention():
    # Q from A = QR with R's diagonal made positive: Q^T A is upper triangular, diagonal > 0
    tl.manual_seed(3)
    p = nn.Parameter(np.zeros((5, 3)))
    init.orthogonal_(p)
    a = np.random.default_rng(3).normal(0.0, 1.0, (5, 3))  # the draw orthogonal_ made
    r = p.numpy().T @ a
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-12)
    assert (np.diag(r) > 0).all()
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(4))


# ---------------------------------------------------------------- gradient clipping


def params_with_grads(*grads):
    out = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = Tensor(np.array(g))
        out.append(p)
    return out


def test_clip_grad_norm_scales_by_the_formula():
    rng = np.random.default_rng(0)
    g1, g2 = rng.standard_normal((3, 4)), rng.standard_normal(5)
    params = params_with_grads(g1, g2)
    skipped = nn.Parameter(np.zeros(2))  # no grad: skipped
    total = clip_grad_norm_(params + [skipped], max_norm=1.0)
    norm = math.sqrt((g1**2).sum() + (g2**2).sum())
    assert isinstance(total, Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), norm, rtol=1e-12)
    coef = 1.0 / (norm + 1e-6)
    np.testing.assert_allclose(params[0].grad.numpy(), g1 * coef, rtol=1e-12)
    np.testing.assert_allclose(params[1].grad.numpy(), g2 * coef, rtol=1e-12)
    assert skipped.grad is None


def test_clip_grad_norm_leaves_small_gradients_and_other_norms():
    g = np.array([3.0, -4.0])
    (p,) = params_with_grads(g)
    np.testing.assert_allclose(clip_grad_norm_(p, max_norm=10.0).item(), 5.0)
    np.testing.assert_array_equal(p.grad.numpy(), g)
    total = clip_grad_norm_([p], max_norm=2.0, norm_type="inf")
    np.testing.assert_allclose(total.item(), 4.0)
    np.testing.assert_allclose(p.grad.numpy(), g * 2.0 / (4.0 + 1e-6))
    (q,) = params_with_grads(np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(clip_grad_norm_([q], max_norm=100.0, norm_type=1).item(), 6.0)
    assert clip_grad_norm_([nn.Parameter(np.zeros(2))], max_norm=1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    (p,) = params_with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.numpy(), [np.inf, 1.0])


def test_clip_grad_norm_on_a_model_after_backward():
    tl.manual_seed(0)
    model = nn.Linear(4, 3)
    (model(tl.randn(8, 4)) * 100).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    total = clip_grad_norm_(model.parameters(), 0.5)
    np.testing.assert_allclose(total.item(), math.sqrt(sum((g.astype(np.float64)**2).sum()
                                                          for g in grads)), rtol=1e-5)
    new_norm = math.sqrt(sum((p.grad.numpy().astype(np.float64)**2).sum()
                             for p in model.parameters()))
    np.testing.assert_allclose(new_norm, 0.5, rtol=1e-5)
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_clip_grad_value():
    g = np.array([[-3.0, 0.5], [2.0, -0.1]])
    params = params_with_grads(g)
    assert clip_grad_value_(params + [nn.Parameter(np.zeros(1))], 1.0) is None
    np.testing.assert_array_equal(params[0].grad.numpy(), np.clip(g, -1.0, 1.0))
