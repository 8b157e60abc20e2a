"""tinygrad_lstm.distributions.Categorical against closed forms, finite differences, counts of
many draws, and PyTorch's argument checks (messages as in torch.distributions)."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.distributions import Categorical, Distribution, constraints


def test_probs_are_normalized_and_logits_are_their_log():
    m = Categorical(tl.tensor([[1.0, 3.0], [2.0, 2.0]]))
    np.testing.assert_allclose(m.probs.numpy(), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(m.logits.numpy(), np.log([[0.25, 0.75], [0.5, 0.5]]), rtol=1e-6)
    assert m.batch_shape == (2,) and m.event_shape == () and m.param_shape == (2, 2)
    m = Categorical(logits=tl.tensor([1.0, 2.0, 3.0]))
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(m.probs.numpy(), p, rtol=1e-6)
    np.testing.assert_allclose(m.logits.numpy(), np.log(p), rtol=1e-6)  # normalized
    assert m.batch_shape == () and m.mode.item() == 2 and np.isnan(m.mean.item())
    assert np.isnan(m.variance.item())


def test_log_prob_picks_the_class_and_broadcasts_with_the_batch():
    m = Categorical(tl.tensor([[0.1, 0.9], [0.6, 0.4]]))
    np.testing.assert_allclose(m.log_prob(tl.tensor([1, 0])).numpy(), np.log([0.9, 0.6]),
                               rtol=1e-6)
    lp = m.log_prob(tl.tensor([[0], [1], [1]]))  # (3, 1) with batch (2,): (3, 2)
    np.testing.assert_allclose(lp.numpy(), np.log([[0.1, 0.6], [0.9, 0.4], [0.9, 0.4]]),
                               rtol=1e-6)
    assert m.log_prob(tl.tensor([1.0, 0.0])).shape == (2,)  # integral floats are classes too


def test_entropy_is_minus_sum_p_log_p_with_0_log_0_zero():
    p = np.array([[0.2, 0.3, 0.5], [0.0, 0.25, 0.75]])
    expected = -(p[0] * np.log(p[0])).sum(), -(p[1, 1:] * np.log(p[1, 1:])).sum()
    np.testing.assert_allclose(Categorical(tl.tensor(p)).entropy().numpy(), expected, rtol=1e-6)
    m = Categorical(logits=tl.tensor([0.0, float("-inf")]))  # p = (1, 0)
    assert m.entropy().item() == 0.0 and m.perplexity().item() == 1.0


def test_gradients_of_log_prob_and_entropy_match_finite_differences():
    x = tl.tensor([[0.3, -0.2, 1.0], [0.1, 0.2, -0.3]], dtype=tl.float64, requires_grad=True)
    v = tl.tensor([2, 0])
    assert gradcheck(lambda x: Categorical(x.softmax(dim=1)).log_prob(v), (x,))
    assert gradcheck(lambda x: Categorical(logits=x).log_prob(v), (x,))
    assert gradcheck(lambda x: Categorical(logits=x).entropy(), (x,))
    assert gradcheck(lambda x: Categorical(x.exp()).entropy(), (x,))  # unnormalized probs


def test_a_parameter_first_computed_under_no_grad_keeps_its_history():
    x = tl.tensor([0.5, -0.5], requires_grad=True)
    m = Categorical(logits=x)
    with tl.no_grad():
        m.sample()  # reads m.probs, computed from logits now
    assert m.probs.requires_grad
    m.log_prob(tl.tensor(0)).backward()  # d/dx log softmax(x)[0] = e0 - p
    np.testing.assert_allclose(x.grad.numpy(), [1 - m.probs[0].item(), -m.probs[1].item()],
                               rtol=1e-6)


def test_samples_follow_the_probabilities():
    tl.manual_seed(0)
    m = Categorical(tl.tensor([0.1, 0.0, 0.6, 0.3]))
    s = m.sample((20000,))
    assert s.shape == (20000,) and s.dtype == tl.int64 and not s.requires_grad
    freq = np.bincount(s.numpy(), minlength=4) / 20000
    assert freq[1] == 0  # never a class of probability 0
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.015)  # > 4 sigma
    b = Categorical(logits=tl.tensor([[0.0, -50.0], [-50.0, 0.0], [0.0, 0.0]]))
    assert b.sample().shape == (3,) and b.sample((5, 2)).shape == (5, 2, 3)
    rows = b.sample((200,)).numpy()
    assert (rows[:, 0] == 0).all() and (rows[:, 1] == 1).all() and 0 < rows[:, 2].sum() < 200


def test_enumerate_support():
    m = Categorical(tl.ones(2, 3))
    assert m.enumerate_support().tolist() == [[0, 0], [1, 1], [2, 2]]
    assert m.enumerate_support(expand=False).tolist() == [[0], [1], [2]]
    assert Categorical(tl.ones(3)).enumerate_support().tolist() == [0, 1, 2]


def test_arguments_are_checked_as_pytorch_does():
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but "
                                         "not both"):
        Categorical(tl.ones(2), tl.ones(2))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        Categorical()
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional"):
        Categorical(tl.tensor(1.0))
    with pytest.raises(ValueError, match="`logits` parameter must be at least one-dimensional"):
        Categorical(logits=tl.tensor(1.0))
    with pytest.raises(TypeError, match="`probs` must be a Tensor, got list"):
        Categorical([0.5, 0.5])
    with pytest.raises(ValueError, match=r"Expected parameter probs \(Tensor of shape \(2,\)\) "
                       r"of distribution Categorical\(probs: \(2,\)\) to satisfy the "
                       r"constraint Simplex\(\), but found invalid values"):
        Categorical(tl.tensor([-0.5, 1.5]))
    with pytest.raises(ValueError, match=r"parameter logits .* IndependentConstraint\(Real\(\), "
                                         r"1\)"):
        Categorical(logits=tl.tensor([float("nan"), 0.0]))
    Categorical(tl.tensor([-0.5, 1.5]), validate_args=False)  # not checked


def test_values_are_checked_against_the_support():
    m = Categorical(tl.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        m.log_prob(1)
    with pytest.raises(ValueError, match=r"within the support \(IntegerInterval\(lower_bound=0, "
                                         r"upper_bound=1\)\) of the distribution"):
        m.log_prob(tl.tensor(2))
    with pytest.raises(ValueError, match="within the support"):
        m.log_prob(tl.tensor(0.5))
    b = Categorical(tl.ones(3, 2))
    with pytest.raises(ValueError, match=r"Value is not broadcastable with "
                                         r"batch_shape\+event_shape: \(2,\) vs \(3,\)"):
        b.log_prob(tl.tensor([0, 1]))
    unchecked = Categorical(tl.tensor([0.5, 0.5]), validate_args=False)
    assert unchecked.log_prob(tl.tensor(1.5)).item() == pytest.approx(np.log(0.5))  # long()


def test_default_validation_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(Distribution, "_validate_args", True)
    Distribution.set_default_validate_args(False)
    Categorical(tl.tensor([-0.5, 1.5]))
    Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="Simplex"):
        Categorical(tl.tensor([-0.5, 1.5]))
    assert repr(constraints.integer_interval(0, 3)) == "IntegerInterval(lower_bound=0, " \
                                                     "upper_bound=3)"


def test_reached_as_an_attribute_of_the_package_as_torch_distributions():
    import subprocess
    import sys
    code = ("import sys, tinygrad_lstm as t; assert 'tinygrad_lstm.distributions' not in "
            "sys.modules; print(t.distributions.Categorical.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "Categorical", out.stderr
