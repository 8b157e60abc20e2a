"""nn.BatchNorm1d / F.batch_norm and the channel-wise dropouts (Dropout1d, Dropout2d) against
their equations written out in NumPy, finite differences, and PyTorch's errors and warnings."""

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F
from tinygrad_lstm import nn
from tinygrad_lstm.autograd import gradcheck


def normalized(x, axes, eps=1e-5):
    return (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)


@pytest.mark.parametrize("shape, axes", [((6, 3), (0,)), ((4, 3, 5), (0, 2))])
def test_batchnorm1d_training_uses_the_batch_and_moves_the_running_estimates(shape, axes):
    x = np.random.default_rng(0).normal(2.0, 3.0, shape).astype(np.float32)
    bn = nn.BatchNorm1d(3)
    with tl.no_grad():
        bn.weight.copy_(tl.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(tl.tensor([0.0, -1.0, 3.0]))
    y = bn(tl.tensor(x))
    channel = (1, 3) + (1,) * (len(shape) - 2)
    expected = normalized(x, axes) * np.reshape([1.0, 2.0, 0.5], channel) \
        + np.reshape([0.0, -1.0, 3.0], channel)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(axes), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(),  # the unbiased variance
                               0.9 + 0.1 * x.var(axes) * n / (n - 1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1 and bn.num_batches_tracked.dtype == tl.int64
    bn.eval()  # now the running estimates, and nothing moves
    y = bn(tl.tensor(x))
    mean, var = bn.running_mean.numpy().reshape(channel), bn.running_var.numpy().reshape(channel)
    expected = (x - mean) / np.sqrt(var + 1e-5) * np.reshape([1.0, 2.0, 0.5], channel) \
        + np.reshape([0.0, -1.0, 3.0], channel)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert bn.num_batches_tracked.item() == 1


def test_batchnorm1d_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    a, b = tl.tensor([[0.0, 1.0], [2.0, 5.0]]), tl.tensor([[4.0, 0.0], [6.0, 0.0], [8.0, 3.0]])
    bn(a)
    bn(b)
    np.testing.assert_allclose(bn.running_mean.numpy(), [(1.0 + 6.0) / 2, (3.0 + 1.0) / 2])
    np.testing.assert_allclose(bn.running_var.numpy(), [(2.0 + 4.0) / 2, (8.0 + 3.0) / 2])


def test_batchnorm1d_without_running_stats_or_affine():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    assert bn.running_mean is None and bn.num_batches_tracked is None
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0]], np.float32)
    bn.eval()  # no estimates: the batch's statistics even in eval mode
    np.testing.assert_allclose(bn(tl.tensor(x)).numpy(), normalized(x, (0,)), rtol=1e-5)


def test_batchnorm1d_state_dict_and_dtype():
    bn = nn.BatchNorm1d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert repr(bn) == "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, " \
                       "track_running_stats=True)"
    bn(tl.randn(3, 4))
    other = nn.BatchNorm1d(4)
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other.running_var.numpy(), bn.running_var.numpy())
    assert other.num_batches_tracked.item() == 1
    bn.double()
    assert bn.running_mean.dtype == tl.float64 and bn.num_batches_tracked.dtype == tl.int64


def test_batchnorm1d_gradients_match_finite_differences():
    bn = nn.BatchNorm1d(3, dtype=tl.float64)
    x = tl.tensor(np.random.default_rng(1).normal(size=(4, 3, 2)), requires_grad=True)
    w = tl.tensor([0.5, 1.5, -1.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([0.1, 0.2, 0.3], dtype=tl.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b))
    bn.eval()
    assert gradcheck(bn, (x,))


def test_batchnorm1d_errors_are_pytorchs():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input\)"):
        bn(tl.ones(3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        bn(tl.ones(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 3\)"):
        bn(tl.ones(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        bn(tl.ones(2, 4))
    bn.eval()
    assert bn(tl.ones(1, 3)).shape == (1, 3)  # one sample is fine in eval mode
    with pytest.raises(TypeError, match="num_features should be of type int"):
        nn.BatchNorm1d(3.0)


# ---------------------------------------------------------------- channel-wise dropout


def test_dropout2d_zeros_whole_channels():
    tl.manual_seed(0)
    y = nn.Dropout2d(0.5)(tl.ones(40, 30, 2, 3)).numpy()
    maps = y.reshape(40, 30, 6)
    assert ((maps == 0).all(-1) | (maps == 2.0).all(-1)).all()  # one draw per (n, c) map
    assert 0.4 < (maps[..., 0] == 0).mean() < 0.6
    x = tl.ones(2, 3, 4, 4, requires_grad=True)
    y = F.dropout2d(x, 0.25)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # mask / (1 - p)
    assert F.dropout2d(x, 0.5, training=False) is x
    d = nn.Dropout2d(0.5).eval()
    assert d(x) is x


def test_dropout2d_of_other_ranks_warns_as_pytorch_and_keeps_its_behaviour():
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d, which is "
                                         "deprecated"):
        y = nn.Dropout2d(0.5)(tl.ones(200, 50)).numpy()
    assert 0.4 < (y == 0).mean() < 0.6 and set(np.unique(y)) <= {0.0, 2.0}
    assert 0 < (y == 0).sum(1).min() and (y == 0).sum(1).max() < 50  # per element
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        y = F.dropout2d(tl.ones(20, 10, 6), 0.5).numpy()
    assert ((y == 0).all(-1) | (y == 2.0).all(-1)).all()  # taken as (N, C, L)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout2d(tl.ones(2, 2, 2, 2), -0.1)


def test_dropout1d():
    y = nn.Dropout1d(0.5)(tl.ones(20, 10, 6)).numpy()
    assert ((y == 0).all(-1) | (y == 2.0).all(-1)).all()
    y = F.dropout1d(tl.ones(30, 6), 0.5).numpy()  # (C, L): one draw per channel
    assert ((y == 0).all(-1) | (y == 2.0).all(-1)).all() and 0 < (y == 0).all(-1).sum() < 30
    assert (F.dropout1d(tl.ones(3, 4), 1.0).numpy() == 0).all()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received "
                                           "a 4D input"):
        F.dropout1d(tl.ones(2, 2, 2, 2))


def test_pytorch_class_paths():
    assert nn.modules.batchnorm.BatchNorm1d is nn.BatchNorm1d
    assert nn.modules.dropout.Dropout2d is nn.Dropout2d
    assert nn.modules.dropout.Dropout1d is nn.Dropout1d
