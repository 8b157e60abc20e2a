"""Linear, Embedding, Dropout and the loss modules: outputs against NumPy, gradients against
float64 finite differences."""

import math

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import gradcheck


def f64(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---------------------------------------------------------------- Linear


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_numpy(shape, bias):
    lin = nn.Linear(3, 4, bias=bias)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = x @ lin.weight.numpy().T + (lin.bias.numpy() if bias else 0)
    out = lin(Tensor(x))
    assert out.shape == shape[:-1] + (4,) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_linear_parameters_and_init_bounds():
    tl.manual_seed(0)
    lin = nn.Linear(400, 300)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32 and np.abs(p.numpy()).max() <= bound
    # U(-b, b): std b / sqrt(3); 120,000 draws give it to well under 1%
    np.testing.assert_allclose(lin.weight.numpy().std(), bound / math.sqrt(3), rtol=0.01)
    assert lin.bias.numpy().max() > 0.9 * bound and lin.bias.numpy().min() < -0.9 * bound


def test_linear_is_reproducible_under_manual_seed():
    tl.manual_seed(3)
    a = nn.Linear(4, 5)
    tl.manual_seed(3)
    b = nn.Linear(4, 5)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_linear_gradcheck(shape):
    lin = nn.Linear(4, 2).double()
    x = f64(*shape)
    assert gradcheck(lambda x, w, b: lin(x), (x, lin.weight, lin.bias))


def test_linear_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\).*\(2, 3\)"):
        lin(tl.ones(4, 5))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)


def test_identity():
    x = tl.ones(2)
    assert nn.Identity(54, unused="x")(x) is x


# ---------------------------------------------------------------- Embedding


def test_embedding_matches_numpy_and_init():
    tl.manual_seed(0)
    emb = nn.Embedding(200, 50)
    assert emb.weight.shape == (200, 50) and emb.weight.dtype == np.float32
    np.testing.assert_allclose(emb.weight.numpy().std(), 1.0, rtol=0.02)
    np.testing.assert_allclose(emb.weight.numpy().mean(), 0.0, atol=0.02)
    idx = np.random.default_rng(0).integers(0, 200, size=(3, 4))
    out = emb(Tensor(idx))
    assert out.shape == (3, 4, 50)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[idx])
    np.testing.assert_array_equal(emb(idx[0, 0]).numpy(), emb.weight.numpy()[idx[0, 0]])


def test_embedding_gradient_adds_up_repeated_indices():
    emb = nn.Embedding(5, 3)
    idx = np.array([[0, 2], [2, 4]])
    upstream = np.random.default_rng(1).standard_normal((2, 2, 3)).astype(np.float32)
    emb(idx).backward(upstream)
    expected = np.zeros((5, 3), np.float32)
    for (i, j), row in np.ndenumerate(idx):
        expected[row] += upstream[i, j]
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-6)


def test_embedding_padding_idx_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(6, 4, padding_idx=-1)
    assert emb.padding_idx == 5
    np.testing.assert_array_equal(emb.weight.numpy()[5], np.zeros(4))
    with tl.no_grad():
        emb.weight.numpy()[5] = 7.0  # like PyTorch, a changed padding row is still looked up
    idx = np.array([5, 1, 5, 2])
    out = emb(idx)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[idx])
    out.sum().backward()
    expected = np.zeros((6, 4), np.float32)
    expected[[1, 2]] = 1.0
    np.testing.assert_array_equal(emb.weight.grad.numpy(), expected)
    assert repr(emb) == "Embedding(6, 4, padding_idx=5)"


def test_embedding_gradcheck():
    # without padding_idx: its row is looked up but, by design, gets no gradient
    emb = nn.Embedding(4, 3).double()
    idx = np.array([[1, 0], [3, 1]])
    assert gradcheck(lambda w: emb(idx), (emb.weight,))


def test_embedding_errors():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range for an embedding with 4 rows"):
        emb(np.array([1, 4]))
    with pytest.raises(IndexError, match="index -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integer"):
        emb(Tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)


def test_embedding_from_pretrained():
    table = np.arange(6.0).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.numpy() is not table
    np.testing.assert_array_equal(emb(np.array([2])).numpy(), table[[2]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


# ---------------------------------------------------------------- Dropout


def test_dropout_statistics_and_scaling():
    tl.manual_seed(0)
    p, n = 0.3, 200_000
    x = Tensor(np.full(n, 2.0, np.float32), requires_grad=True)
    out = nn.Dropout(p)(x)
    kept = out.numpy() != 0
    # the kept fraction is binomial: 4 standard deviations is about 0.004 here
    assert abs(kept.mean() - (1 - p)) < 4 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out.numpy()[kept], 2.0 / (1 - p), rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / np.float32(1 - p), rtol=1e-6)


def test_dropout_eval_is_identity_and_edge_probabilities():
    x = tl.randn(4, 5)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((4, 5)))
    assert repr(drop) == "Dropout(p=0.5, inplace=False)"  # PyTorch's repr
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)


def test_dropout_gradcheck_with_a_fixed_mask():
    drop = nn.Dropout(0.4)

    def fn(x):
        tl.manual_seed(0)  # the same mask on every call
        return drop(x)

    assert gradcheck(fn, (f64(3, 4),))


# ---------------------------------------------------------------- loss modules


def test_loss_modules_match_functional_and_gradcheck():
    rng = np.random.default_rng(0)
    logits = f64(4, 3)
    target = rng.integers(0, 3, size=4)
    target[1] = 2
    ce = nn.CrossEntropyLoss(ignore_index=2, reduction="sum", label_smoothing=0.1)
    expected = nn.functional.cross_entropy(logits, target, ignore_index=2, reduction="sum",
                                           label_smoothing=0.1)
    np.testing.assert_array_equal(ce(logits, target).numpy(), expected.numpy())
    assert gradcheck(lambda x: ce(x, target), (logits,))

    logp = logits.log_softmax(1)
    nll = nn.NLLLoss()
    np.testing.assert_allclose(nll(logp, target).numpy(),
                               -logp.numpy()[np.arange(4), target].mean())
    assert gradcheck(lambda x: nll(x, target), (logits,))

    y = f64(4, 3, seed=1)
    mse = nn.MSELoss(reduction="none")
    np.testing.assert_allclose(mse(logits, y).numpy(), (logits.numpy() - y.numpy()) ** 2)
    assert gradcheck(lambda a, b: nn.MSELoss()(a, b), (logits, y))

    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
