"""Activation, normalization and reshaping modules and their nn.functional twins: values against
NumPy formulas written here in float64, gradients against central differences, PyTorch's
defaults, reprs and errors; PyTorch's class paths; the first model people write trains."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn import functional as F

_erf = np.vectorize(math.erf)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


# (name, module, functional call, NumPy formula); the values below avoid each kink by >= 0.05
CASES = [
    ("ReLU", nn.ReLU(), F.relu, lambda x: np.maximum(x, 0)),
    ("Tanh", nn.Tanh(), F.tanh, np.tanh),
    ("Sigmoid", nn.Sigmoid(), F.sigmoid, np_sigmoid),
    ("Softplus", nn.Softplus(), F.softplus, np_softplus),
    ("Softplus_beta", nn.Softplus(beta=2.0, threshold=3.0),
     lambda x: F.softplus(x, 2.0, 3.0), lambda x: np_softplus(x, 2.0, 3.0)),
    ("LeakyReLU", nn.LeakyReLU(), F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    ("LeakyReLU_0.2", nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2),
     lambda x: np.where(x > 0, x, 0.2 * x)),
    ("ELU", nn.ELU(), F.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    ("ELU_alpha", nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5),
     lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ("GELU", nn.GELU(), F.gelu, lambda x: x * 0.5 * (1 + _erf(x / np.sqrt(2)))),
    ("GELU_tanh", nn.GELU(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    ("SiLU", nn.SiLU(), F.silu, lambda x: x * np_sigmoid(x)),
    ("LogSigmoid", nn.LogSigmoid(), F.logsigmoid, lambda x: -np.log1p(np.exp(-x))),
    ("Softmax", nn.Softmax(dim=1), lambda x: F.softmax(x, dim=1),
     lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    ("LogSoftmax", nn.LogSoftmax(dim=0), lambda x: F.log_softmax(x, 0),
     lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
]
X = np.array([[-25.0, -3.1, -1.2, -0.3], [0.2, 0.9, 1.7, 25.0], [-0.05, 0.05, 2.6, 4.2]])


@pytest.mark.parametrize("name, module, fn, ref", CASES, ids=[c[0] for c in CASES])
def test_activation_matches_numpy_and_gradcheck(name, module, fn, ref):
    expected = ref(X)
    for out in (module(Tensor(X)), fn(Tensor(X))):
        assert out.dtype == np.float64 and out.shape == X.shape
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13, atol=1e-15)
    out32 = module(Tensor(X.astype(np.float32)))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.numpy(), expected, rtol=2e-6, atol=1e-7)
    small = Tensor(X[:, 1:3].copy(), requires_grad=True)  # clear of the large-|x| extremes
    assert gradcheck(module, (small,))


def test_slopes_at_zero_are_pytorchs():
    # PyTorch's backward formulas at x = 0: relu 0, leaky_relu the slope, elu alpha,
    # softplus sigmoid(0) = 1/2, silu 1/2, gelu 1/2 (both forms)
    expected = {nn.ReLU(): 0.0, nn.LeakyReLU(0.1): 0.1, nn.ELU(alpha=0.7): 0.7,
                nn.Softplus(): 0.5, nn.Softplus(beta=3.0): 0.5, nn.SiLU(): 0.5, nn.GELU(): 0.5,
                nn.GELU("tanh"): 0.5, nn.LogSigmoid(): 0.5}
    for module, slope in expected.items():
        x = Tensor(np.zeros(1), requires_grad=True)
        module(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [slope], rtol=1e-15, err_msg=repr(module))


# sigmoid's exp(1000) overflows to inf, the exact limit; the ops package silences that warning, but
# pytest's per-test warning capture brings it back
@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
def test_extreme_inputs_give_exact_limits_and_finite_gradients():
    x = Tensor(np.array([-1000.0, -40.0, 40.0, 1000.0]), requires_grad=True)
    for module in (nn.Softplus(), nn.Softplus(beta=0.5, threshold=100.0), nn.ELU(), nn.GELU(),
                   nn.SiLU(), nn.Sigmoid(), nn.Tanh(), nn.LogSigmoid()):
        out = module(x)
        assert np.isfinite(out.numpy()).all(), repr(module)
        x.grad = None
        out.sum().backward()
        assert np.isfinite(x.grad.numpy()).all(), repr(module)
    # tails to full relative precision: log1p(exp(x)) for very negative x, expm1 for tiny x
    np.testing.assert_allclose(F.softplus(Tensor(np.array([-40.0, -700.0]))).numpy(),
                               np.log1p(np.exp([-40.0, -700.0])), rtol=1e-15)
    np.testing.assert_allclose(F.softplus(Tensor(np.array([-20.0], np.float32))).numpy(),
                               [np.log1p(np.exp(-20.0))], rtol=1e-6)
    np.testing.assert_allclose(F.elu(Tensor(np.array([-1e-10, -1e-300]))).numpy(),
                               np.expm1([-1e-10, -1e-300]), rtol=1e-15)
    np.testing.assert_allclose(F.logsigmoid(Tensor(np.array([40.0, -1000.0]))).numpy(),
                               [-np.exp(-40.0), -1000.0], rtol=1e-15)
    # softplus above the threshold is x itself, with slope 1
    y = Tensor(np.array([20.5, 30.0]), requires_grad=True)
    F.softplus(y).sum().backward()
    np.testing.assert_array_equal(F.softplus(y).numpy(), [20.5, 30.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_erf_at_written_values():
    x = Tensor(np.array([0.0, 0.5, 1.0, -2.0, 6.0]))
    np.testing.assert_allclose(x.erf().numpy(), [0.0, 0.5204998778130465, 0.8427007929497149,
                                                 -0.9953222650189527, 1.0], rtol=1e-15)
    assert Tensor(np.float32(1.0)).erf().dtype == np.float32


def test_softmax_without_dim_warns_and_picks_pytorchs_dim():
    rng = np.random.default_rng(0)
    for shape, dim in (((4,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)):
        x = rng.standard_normal(shape)
        pairs = ((F.softmax, nn.Softmax(dim)), (nn.Softmax(), nn.Softmax(dim)),
                 (nn.LogSoftmax(), nn.LogSoftmax(dim)), (F.log_softmax, nn.LogSoftmax(dim)))
        for call, ref in pairs:
            with pytest.warns(UserWarning, match="Implicit dimension choice") as record:
                out = call(Tensor(x))
            assert record[0].filename == __file__  # the warning points at the caller's line
            np.testing.assert_array_equal(out.numpy(), ref(Tensor(x)).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax(dim=-1)(Tensor(np.ones((2, 2))))  # an explicit dim does not warn
    out = F.softmax(Tensor(np.array([1, 2], np.float32)), 0, dtype=np.float64)
    assert out.dtype == np.float64


def test_reprs_and_defaults_are_pytorchs():
    reprs = {nn.ReLU(): "ReLU()", nn.ReLU(inplace=True): "ReLU(inplace=True)",
             nn.Tanh(): "Tanh()", nn.Sigmoid(): "Sigmoid()", nn.Softmax(): "Softmax(dim=None)",
             nn.LogSoftmax(dim=1): "LogSoftmax(dim=1)",
             nn.Softplus(): "Softplus(beta=1.0, threshold=20.0)",
             nn.LeakyReLU(): "LeakyReLU(negative_slope=0.01)",
             nn.LeakyReLU(0.2, True): "LeakyReLU(negative_slope=0.2, inplace=True)",
             nn.ELU(): "ELU(alpha=1.0)", nn.GELU(): "GELU(approximate='none')",
             nn.GELU("tanh"): "GELU(approximate='tanh')", nn.SiLU(): "SiLU()",
             nn.LogSigmoid(): "LogSigmoid()",
             nn.Flatten(): "Flatten(start_dim=1, end_dim=-1)",
             nn.Unflatten(1, (2, 3)): "Unflatten(dim=1, unflattened_size=(2, 3))",
             nn.LayerNorm(4): "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"}
    for module, text in reprs.items():
        assert repr(module) == text
    for module in reprs:
        assert list(module.parameters()) == [] or isinstance(module, nn.LayerNorm)


def test_inplace_writes_into_the_input_and_keeps_the_gradient():
    x_np = np.array([-1.0, 0.5, 2.0])
    for inplace, plain in ((nn.ReLU(True), nn.ReLU()), (nn.LeakyReLU(0.1, True), nn.LeakyReLU(0.1)),
                           (nn.ELU(inplace=True), nn.ELU()), (nn.SiLU(True), nn.SiLU())):
        x = Tensor(x_np.copy())
        out = inplace(x)
        assert out is x  # the input's own memory, as in PyTorch
        np.testing.assert_array_equal(x.numpy(), plain(Tensor(x_np)).numpy())

        def through_a_non_leaf(t, inplace=inplace):
            h = t * 1
            inplace(h)
            return h * t

        assert gradcheck(through_a_non_leaf, Tensor(x_np.copy(), requires_grad=True))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(Tensor(x_np.copy(), requires_grad=True), inplace=True)


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        nn.GELU("erf")
    with pytest.raises(RuntimeError, match="none or tanh"):
        F.gelu(Tensor(np.ones(2)), approximate="fast")


# ---------------------------------------------------------------- LayerNorm


def np_layer_norm(x, k, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axes, keepdims=True)  # biased
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def test_layer_norm_matches_numpy_and_has_pytorchs_parameters():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)) * 3 + 1
    ln = nn.LayerNorm((3, 4))
    assert [(n, p.shape, p.dtype) for n, p in ln.named_parameters()] == [
        ("weight", (3, 4), np.float32), ("bias", (3, 4), np.float32)]
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros((3, 4)))
    out = ln(Tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np_layer_norm(x, 2), rtol=1e-5, atol=1e-5)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    ln4 = nn.LayerNorm(4, eps=1e-3).double()
    ln4.load_state_dict({"weight": w, "bias": b})
    np.testing.assert_allclose(ln4(Tensor(x)).numpy(), np_layer_norm(x, 1, w, b, 1e-3),
                               rtol=1e-12)
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    no_bias = nn.LayerNorm(4, bias=False)
    assert list(no_bias.state_dict()) == ["weight"] and no_bias.bias is None


def test_layer_norm_gradcheck():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, 4, eps=0.1), (x,))


def test_layer_norm_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\], expected input with shape "
                       r"\[\*, 4\], but got input of size \[2, 3\]"):
        nn.LayerNorm(4)(tl.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"weight of shape \[3\] and normalized_shape = \[4\]"):
        F.layer_norm(tl.ones(2, 4), (4,), weight=tl.ones(3))
    with pytest.raises(RuntimeError, match="at least 1-dimensional"):
        F.layer_norm(tl.ones(2, 4), ())
    with pytest.raises(ValueError, match="non-negative"):
        nn.LayerNorm(-1)


# ---------------------------------------------------------------- Flatten, Unflatten


def test_flatten_and_unflatten():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    np.testing.assert_array_equal(nn.Flatten(0)(x).numpy(), np.arange(24.0))
    assert nn.Unflatten(1, (3, 1))(x).shape == (2, 3, 1, 4)
    y = nn.Unflatten(-1, (2, -1))(x)
    assert y.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(y.numpy(), np.arange(24.0).reshape(2, 3, 2, 2))
    assert gradcheck(nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 3))), (x,))


def test_unflatten_errors():
    with pytest.raises(RuntimeError, match=r"sizes \[2, 2\] don't multiply up to the size of "
                       r"dim 1 \(3\)"):
        nn.Unflatten(1, (2, 2))(tl.ones(2, 3))
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        nn.Unflatten(1, (-1, -1))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="at pos 1"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(IndexError, match="out of range"):
        nn.Unflatten(2, (1, 3))(tl.ones(2, 3))


# ---------------------------------------------------------------- PyTorch's class paths


def test_class_paths_programs_name():
    import tinygrad_lstm.nn.modules.rnn
    from tinygrad_lstm.nn.modules.activation import ReLU
    from tinygrad_lstm.nn.modules.container import Sequential
    from tinygrad_lstm.nn.modules.dropout import Dropout
    from tinygrad_lstm.nn.modules.linear import Linear
    from tinygrad_lstm.nn.modules.loss import CrossEntropyLoss
    from tinygrad_lstm.nn.modules.module import Module
    from tinygrad_lstm.nn.modules.normalization import LayerNorm
    from tinygrad_lstm.nn.modules.sparse import Embedding

    assert tinygrad_lstm.nn.modules.rnn.LSTM is nn.LSTM
    assert (ReLU, Sequential, Dropout, Linear, CrossEntropyLoss, Module, LayerNorm, Embedding) \
        == (nn.ReLU, nn.Sequential, nn.Dropout, nn.Linear, nn.CrossEntropyLoss, nn.Module,
            nn.LayerNorm, nn.Embedding)
    assert nn.modules.Linear is nn.Linear and nn.modules.flatten.Unflatten is nn.Unflatten
    assert isinstance(nn.GRU(2, 3), nn.modules.rnn.RNNBase)
    for name in nn.modules.__all__:  # every name the package lists is there
        assert getattr(nn.modules, name) is not None


def test_flatten_parameters_is_a_no_op():
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        rnn = cls(2, 3)
        x = Tensor(np.ones((4, 1, 2), np.float32))
        before = rnn(x)[0].numpy().copy()
        assert rnn.flatten_parameters() is None
        np.testing.assert_array_equal(rnn(x)[0].numpy(), before)


# ---------------------------------------------------------------- the first PyTorch program


def test_first_pytorch_model_trains_on_a_tiny_regression():
    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    x = Tensor(rng.uniform(-1, 1, (64, 4)).astype(np.float32))
    y = Tensor((np.sin(x.numpy().sum(1, keepdims=True)) + 0.5 * x.numpy()[:, :1]).astype(
        np.float32))
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    criterion = nn.MSELoss()
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(200):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert all(np.isfinite(losses))
