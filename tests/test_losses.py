"""Losses and their nn.functional twins against PyTorch's documented formulas, written here in
float64 NumPy; gradients against central differences; reductions, buffers and errors."""

import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn import functional as F

REDUCTIONS = ["none", "mean", "sum"]


def reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------- regression losses


def np_smooth_l1(d, beta):
    return np.where(np.abs(d) < beta, 0.5 * d**2 / beta, np.abs(d) - 0.5 * beta)


def np_huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))


# (module, functional call, NumPy formula of d = input - target)
REGRESSION = [
    (nn.L1Loss, F.l1_loss, {}, np.abs),
    (nn.MSELoss, F.mse_loss, {}, np.square),
    (nn.SmoothL1Loss, F.smooth_l1_loss, {}, lambda d: np_smooth_l1(d, 1.0)),
    (nn.SmoothL1Loss, F.smooth_l1_loss, {"beta": 0.5}, lambda d: np_smooth_l1(d, 0.5)),
    (nn.SmoothL1Loss, F.smooth_l1_loss, {"beta": 0.0}, np.abs),
    (nn.HuberLoss, F.huber_loss, {}, lambda d: np_huber(d, 1.0)),
    (nn.HuberLoss, F.huber_loss, {"delta": 2.0}, lambda d: np_huber(d, 2.0)),
]
IDS = ["l1", "mse", "smooth_l1", "smooth_l1_beta", "smooth_l1_beta0", "huber", "huber_delta"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls, fn, kw, ref", REGRESSION, ids=IDS)
def test_regression_losses_match_formulas_and_gradcheck(cls, fn, kw, ref, reduction):
    rng = np.random.default_rng(0)
    # |d| spread over (0.1, 3.9), clear of the switch points 0.5, 1 and 2
    d = np.array([[0.1, -0.3, 0.7, -1.3], [1.6, -2.4, 3.9, -0.8]])
    b_np = rng.standard_normal(d.shape)
    a, b = Tensor(b_np + d, requires_grad=True), Tensor(b_np, requires_grad=True)
    expected = reduce(ref(d), reduction)
    for loss in (fn(a, b, reduction=reduction, **kw), cls(reduction=reduction, **kw)(a, b),
                 fn(a, b_np, reduction=reduction, **kw)):
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), (a, b))
    assert cls(**kw)(Tensor(d.astype(np.float32)), np.zeros((2, 4), np.float32)).dtype \
        == np.float32


def test_huber_is_delta_times_smooth_l1_with_beta_delta():
    rng = np.random.default_rng(1)
    a, b = Tensor(rng.standard_normal(10) * 3), Tensor(rng.standard_normal(10))
    np.testing.assert_allclose(F.huber_loss(a, b, delta=1.5).numpy(),
                               1.5 * F.smooth_l1_loss(a, b, beta=1.5).numpy(), rtol=1e-12)


def test_regression_loss_errors():
    with pytest.raises(ValueError, match=r"l1_loss: target size \(3,\) differs from input size "
                       r"\(3, 1\)"):
        F.l1_loss(tl.ones(3, 1), tl.ones(3))
    with pytest.raises(ValueError, match="huber_loss: target size"):
        nn.HuberLoss()(tl.ones(2), tl.ones(2, 1))
    with pytest.raises(RuntimeError, match="negative values for beta"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(tl.ones(2), tl.ones(2), beta=-0.5)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.L1Loss(reduction="batchmean")
    with pytest.raises(TypeError, match="Tensor"):
        F.l1_loss(np.ones(2), tl.ones(2))


# ---------------------------------------------------------------- binary cross-entropy


def np_bce(x, y, w=1.0):
    """PyTorch's documented formula with its log clamp at -100."""
    with np.errstate(divide="ignore"):
        return -w * (y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))


def np_bce_logits(x, y, w=1.0, p=1.0):
    """-w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], the plain (unstable) form."""
    s = np_sigmoid(x)
    return -w * (p * y * np.log(s) + (1 - y) * np.log(1 - s))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_formula_with_weight_and_gradcheck(reduction):
    rng = np.random.default_rng(2)
    x_np, y_np = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    w_np = rng.uniform(0.5, 2, 4)  # broadcast over rows
    x, y, w = (Tensor(a, requires_grad=True) for a in (x_np, y_np, w_np))
    expected = reduce(np_bce(x_np, y_np, w_np), reduction)
    for loss in (F.binary_cross_entropy(x, y, w, reduction=reduction),
                 nn.BCELoss(w, reduction=reduction)(x, y)):
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x, y, w: F.binary_cross_entropy(x, y, w, reduction=reduction),
                     (x, y, w))


def test_bce_clamps_the_log_at_minus_100_with_finite_gradients():
    x = Tensor(np.array([0.0, 1.0, 0.0, 1.0, 1e-50]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0, 0.0, 0.0, 100.0])
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert F.binary_cross_entropy(Tensor(np.float32([0.0])), np.float32([1.0])).item() == 100.0


def test_bce_errors():
    with pytest.raises(ValueError, match=r"target size \(3,\) that is different to the input "
                       r"size \(3, 1\)"):
        F.binary_cross_entropy(tl.full((3, 1), 0.5), tl.ones(3))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        nn.BCELoss()(Tensor([0.5, 1.5]), Tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match=r"weight of shape \(3,\) does not broadcast"):
        F.binary_cross_entropy(tl.full((2, 2), 0.5), tl.ones(2, 2), tl.ones(3))
    with pytest.raises(ValueError, match=r"Target size \(2,\) must be the same as input size "
                       r"\(2, 1\)"):
        nn.BCEWithLogitsLoss()(tl.ones(2, 1), tl.ones(2))
    with pytest.raises(TypeError, match="cannot assign 'ndarray' object to buffer"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_formula_with_weights_and_gradcheck(reduction):
    rng = np.random.default_rng(3)
    x_np, y_np = rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    w_np, p_np = rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 3, 4)  # p: one per class
    x, y, w, p = (Tensor(a, requires_grad=True) for a in (x_np, y_np, w_np, p_np))
    expected = reduce(np_bce_logits(x_np, y_np, w_np, p_np), reduction)
    for loss in (F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=p),
                 nn.BCEWithLogitsLoss(w, reduction=reduction, pos_weight=p)(x, y)):
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    no_weights = F.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    np.testing.assert_allclose(no_weights.numpy(), reduce(np_bce_logits(x_np, y_np), reduction),
                               rtol=1e-12)
    assert gradcheck(lambda x, y, w, p: F.binary_cross_entropy_with_logits(
        x, y, w, reduction=reduction, pos_weight=p), (x, y, w, p))


def test_bce_with_logits_is_stable_and_has_the_right_slope_at_zero():
    # huge logits: the exact limits, where sigmoid then log would give inf or nan
    x = Tensor(np.array([100.0, -100.0, 1000.0, -1000.0], np.float32), requires_grad=True)
    y = np.array([0.0, 1.0, 1.0, 0.0], np.float32)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, 0.0, 0.0], atol=1e-30)
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.0, 0.0])  # sigmoid(x) - y
    # at x = 0: d/dx = w [(1 + (p - 1) y) sigmoid(0) - p y], sigmoid(0) = 1/2
    z = Tensor(np.zeros(2), requires_grad=True)
    F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.25]), reduction="sum",
                                       pos_weight=Tensor(np.array([3.0, 3.0]))).backward()
    np.testing.assert_allclose(z.grad.numpy(), [(1 + 2 * 1.0) / 2 - 3 * 1.0,
                                                (1 + 2 * 0.25) / 2 - 3 * 0.25], rtol=1e-15)


def test_bce_with_logits_equals_bce_of_sigmoid():
    rng = np.random.default_rng(4)
    x, y = Tensor(rng.standard_normal(6)), Tensor(rng.uniform(0, 1, 6))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y).numpy(),
                               F.binary_cross_entropy(x.sigmoid(), y).numpy(), rtol=1e-12)


# ---------------------------------------------------------------- KL divergence


def np_kl_div(logq, p):
    """Every reduction of p (log p - log q), with 0 log 0 = 0."""
    pointwise = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * logq
    return {"none": pointwise, "sum": pointwise.sum(), "batchmean": pointwise.sum() / 3,
            "mean": pointwise.mean()}


def test_kl_div_matches_formula_for_every_reduction():
    rng = np.random.default_rng(5)
    logq = np.log(rng.dirichlet(np.ones(4), size=3))  # input: log-probabilities (3, 4)
    p = rng.dirichlet(np.ones(4), size=3)
    with_zero = p.copy()
    with_zero[0, 1] = 0.0  # 0 log 0 = 0
    expected, expected_zero = np_kl_div(logq, p), np_kl_div(logq, with_zero)
    for reduction in expected:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'mean' warns
            for loss, value in (
                    (F.kl_div(Tensor(logq), Tensor(with_zero), reduction=reduction),
                     expected_zero[reduction]),
                    (nn.KLDivLoss(reduction=reduction)(Tensor(logq), with_zero),
                     expected_zero[reduction]),
                    (F.kl_div(Tensor(logq), Tensor(np.log(p)), reduction=reduction,
                              log_target=True), expected[reduction])):
                np.testing.assert_allclose(loss.numpy(), value, rtol=1e-12, atol=1e-15)
    # batchmean is the KL divergence of each row, averaged over the batch
    kl_rows = [sum(pi * np.log(pi / qi) for pi, qi in zip(p[n], np.exp(logq[n])) if pi > 0)
               for n in range(3)]
    np.testing.assert_allclose(expected["batchmean"], np.mean(kl_rows), rtol=1e-12)


def test_kl_div_gradcheck_and_mean_warning():
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = Tensor(rng.uniform(0.1, 1.0, (2, 3)), requires_grad=True)
    assert gradcheck(lambda x, y: F.kl_div(x, y, reduction="batchmean"), (x, y))
    assert gradcheck(lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True), (x, y))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size") as record:
        F.kl_div(x, y)
    assert record[0].filename == __file__
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.kl_div(x, y, reduction="batch")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"


# ---------------------------------------------------------------- class weights


def np_log_softmax(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


def np_cross_entropy(x, t, w=None, reduction="mean", ignore_index=-100, eps=0.0, logp=None):
    """PyTorch's documented formula, one row at a time:
    l_n = (1 - eps) w[t_n] (-logp[n, t_n]) + eps/C sum_c w[c] (-logp[n, c]),
    'mean' divides by the sum of w[t_n] over the non-ignored rows."""
    logp = np_log_softmax(x) if logp is None else logp
    n_classes = logp.shape[1]
    w = np.ones(n_classes) if w is None else w
    losses, total_weight = [], 0.0
    for n, target in enumerate(t):
        if target == ignore_index:
            losses.append(0.0)
            continue
        nll = -w[target] * logp[n, target]
        smooth = -(w * logp[n]).sum()
        losses.append((1 - eps) * nll + eps / n_classes * smooth)
        total_weight += w[target]
    losses = np.array(losses)
    return {"none": losses, "sum": losses.sum(), "mean": losses.sum() / total_weight}[reduction]


W = np.array([0.5, 2.0, 1.0, 3.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_with_class_weights_matches_formula_and_gradcheck(reduction, eps):
    rng = np.random.default_rng(7)
    x_np, t = rng.standard_normal((5, 4)), np.array([1, 3, -100, 0, 3])
    x = Tensor(x_np, requires_grad=True)
    expected = np_cross_entropy(x_np, t, W, reduction, eps=eps)
    for loss in (F.cross_entropy(x, t, Tensor(W), reduction=reduction, label_smoothing=eps),
                 nn.CrossEntropyLoss(Tensor(W), reduction=reduction, label_smoothing=eps)(x, t)):
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, t, Tensor(W), reduction=reduction,
                                               label_smoothing=eps), (x,))
    # the weighted mean's denominator: 2 + 3 + 0.5 + 3, not the 4 kept rows
    if reduction == "mean" and eps == 0.0:
        total = np_cross_entropy(x_np, t, W, "sum")
        np.testing.assert_allclose(loss.item(), total / 8.5, rtol=1e-12)


def test_unweighted_formula_agrees_with_the_fused_op():
    # the same NumPy formula checks the fused path, so both paths are held to one truth
    rng = np.random.default_rng(8)
    x_np, t = rng.standard_normal((4, 3)), np.array([2, 0, -100, 1])
    for eps in (0.0, 0.3):
        np.testing.assert_allclose(F.cross_entropy(Tensor(x_np), t, label_smoothing=eps).numpy(),
                                   np_cross_entropy(x_np, t, eps=eps), rtol=1e-12)
        # ones as weights take the composite path and agree with the fused op
        np.testing.assert_allclose(
            F.cross_entropy(Tensor(x_np), t, Tensor(np.ones(3)), label_smoothing=eps).numpy(),
            F.cross_entropy(Tensor(x_np), t, label_smoothing=eps).numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_with_class_weights_spatial(reduction):
    rng = np.random.default_rng(9)
    x_np = np_log_softmax(rng.standard_normal((6, 4))).reshape(2, 3, 4).transpose(0, 2, 1)
    t = np.array([[3, 0, 1], [-100, 2, 3]])  # (N, d1), input (N, C, d1)
    x = Tensor(x_np.copy(), requires_grad=True)
    rows = x_np.transpose(0, 2, 1).reshape(6, 4)
    expected = np_cross_entropy(None, t.ravel(), W, reduction, logp=rows)
    if reduction == "none":
        expected = expected.reshape(2, 3)
    for loss in (F.nll_loss(x, t, Tensor(W), reduction=reduction),
                 nn.NLLLoss(Tensor(W), reduction=reduction)(x, Tensor(t))):
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.nll_loss(x, t, Tensor(W), reduction=reduction), (x,))
    # cross_entropy over (N, C, d1) logits with weights: the same rows
    logits = rng.standard_normal((2, 4, 3))
    ce = F.cross_entropy(Tensor(logits), t, Tensor(W), reduction=reduction)
    ref = np_cross_entropy(logits.transpose(0, 2, 1).reshape(6, 4), t.ravel(), W, reduction)
    np.testing.assert_allclose(ce.numpy(), ref.reshape(2, 3) if reduction == "none" else ref,
                               rtol=1e-12)


def test_class_weights_that_sum_to_zero_give_nan_with_zero_gradient():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, -100]), Tensor(np.array([0.0, 1.0, 1.0])))
    assert np.isnan(loss.item())  # 0 / 0, as in PyTorch
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_class_weight_errors():
    x, t = Tensor(np.zeros((2, 3))), np.array([0, 1])
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 3 "
                       r"classes or no classes but got weight tensor of shape: \[2\]"):
        F.cross_entropy(x, t, Tensor(np.ones(2)))
    with pytest.raises(RuntimeError, match="for all 3 classes"):
        nn.NLLLoss(Tensor(np.ones((3, 1))))(x, t)
    with pytest.raises(RuntimeError, match="weight has dtype float32, but the input is float64"):
        F.nll_loss(x, t, tl.ones(3))
    with pytest.raises(TypeError, match="expected weight to be a Tensor, got ndarray"):
        F.cross_entropy(x, t, np.ones(3))
    with pytest.raises(RuntimeError, match="derivative for 'weight' is not implemented"):
        F.cross_entropy(x, t, Tensor(np.ones(3), requires_grad=True))
    with pytest.raises(TypeError, match="buffer 'weight'"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])


def test_loss_weights_are_buffers_in_the_state_dict():
    ce = nn.CrossEntropyLoss(weight=tl.ones(3))
    assert list(ce.state_dict()) == ["weight"] and list(ce.parameters()) == []
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(tl.ones(2), pos_weight=tl.full((2,), 3.0))
    assert list(bce.state_dict()) == ["weight", "pos_weight"]
    bce.double()  # buffers follow the module's dtype, so float64 inputs work after .double()
    assert bce.pos_weight.dtype == np.float64
    loss = bce(Tensor(np.zeros((1, 2))), Tensor(np.ones((1, 2))))
    np.testing.assert_allclose(loss.item(), 3 * np.log(2), rtol=1e-15)
    assert repr(ce) == "CrossEntropyLoss()"


# ---------------------------------------------------------------- class probabilities


def np_soft_cross_entropy(x, y, w=None, reduction="mean", eps=0.0):
    """PyTorch's documented formula for probability targets, rows (N, C):
    l_n = -sum_c w[c] y'[n, c] log softmax(x)[n, c] with y' = (1 - eps) y + eps / C,
    'mean' divides the sum by N."""
    n_classes = x.shape[1]
    w = np.ones(n_classes) if w is None else w
    y = (1 - eps) * y + eps / n_classes
    losses = -(w * y * np_log_softmax(x)).sum(1)
    return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_class_probabilities(reduction, weighted):
    rng = np.random.default_rng(10)
    x_np, y_np = rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), size=5)
    w = Tensor(W) if weighted else None
    x, y = Tensor(x_np, requires_grad=True), Tensor(y_np, requires_grad=True)
    for eps in (0.0, 0.1):
        expected = np_soft_cross_entropy(x_np, y_np, W if weighted else None, reduction, eps)
        for loss in (F.cross_entropy(x, y, w, reduction=reduction, label_smoothing=eps),
                     nn.CrossEntropyLoss(w, reduction=reduction, label_smoothing=eps)(x, y)):
            np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x, y: F.cross_entropy(x, y, w, reduction=reduction,
                                                  label_smoothing=0.1), (x, y))


def test_probability_targets_spatial_unbatched_and_one_hot():
    rng = np.random.default_rng(11)
    x_np = rng.standard_normal((2, 4, 3))  # (N, C, d1): probabilities along dim 1
    y_np = rng.dirichlet(np.ones(4), size=(2, 3)).transpose(0, 2, 1)
    rows = np_soft_cross_entropy(x_np.transpose(0, 2, 1).reshape(6, 4),
                                 y_np.transpose(0, 2, 1).reshape(6, 4), reduction="none")
    np.testing.assert_allclose(F.cross_entropy(Tensor(x_np), Tensor(y_np), reduction="none")
                               .numpy(), rows.reshape(2, 3), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(Tensor(x_np[0, :, 0]), Tensor(y_np[0, :, 0]))
                               .numpy(), rows[0], rtol=1e-12)  # (C,) input and target
    # one-hot probabilities give the class-index loss, smoothing included
    t = np.array([2, 0, 3])
    logits = Tensor(rng.standard_normal((3, 4)))
    for eps in (0.0, 0.25):
        np.testing.assert_allclose(
            F.cross_entropy(logits, Tensor(np.eye(4)[t]), label_smoothing=eps).numpy(),
            F.cross_entropy(logits, t, label_smoothing=eps).numpy(), rtol=1e-12)


def test_probability_target_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="floating point type for target with class "
                       "probabilities, got int64"):
        F.cross_entropy(x, np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        F.cross_entropy(x, Tensor(np.full((2, 3), 1 / 3)), ignore_index=0)
    assert np.isnan(F.cross_entropy(Tensor(np.zeros((0, 3))), Tensor(np.zeros((0, 3)))).item())
