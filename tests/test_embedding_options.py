"""Embedding's other PyTorch arguments: max_norm / norm_type renorm the looked-up rows in place
(PyTorch's formula, written out in NumPy), _weight / _freeze, and a clear refusal of
scale_grad_by_freq and sparse."""

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F
from tinygrad_lstm import nn


def renormed(w, rows, max_norm, p):
    w = w.copy()
    for r in np.unique(rows):
        n = np.linalg.norm(w[r], ord=p)
        if n > max_norm:
            w[r] *= max_norm / (n + 1e-7)
    return w


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_rescales_only_the_rows_looked_up_and_over_the_norm(norm_type):
    w0 = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 1.0]])
    emb = nn.Embedding(4, 2, max_norm=1.5, norm_type=norm_type, dtype=tl.float64)
    with tl.no_grad():
        emb.weight.copy_(tl.tensor(w0))
    idx = tl.tensor([[0, 1], [0, 3]])
    version = emb.weight._version
    out = emb(idx)
    want = renormed(w0, [0, 1, 3], 1.5, norm_type)
    np.testing.assert_allclose(emb.weight.numpy(), want, rtol=1e-12)  # row 2 untouched
    np.testing.assert_allclose(out.detach().numpy(), want[idx.numpy()], rtol=1e-12)
    assert emb.weight._version > version  # an in-place write, as embedding_renorm_
    out.sum().backward()  # the lookup's gradient: ones summed per row
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [2, 1, 0, 1])
    assert "max_norm=1.5" in repr(emb)


def test_functional_embedding_max_norm_and_weight_arguments():
    w = tl.tensor([[3.0, 4.0], [0.0, 1.0]])
    out = F.embedding(tl.tensor([0]), w, max_norm=1.0)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8]], rtol=1e-6)
    emb = nn.Embedding(2, 2, _weight=tl.tensor([[1.0, 2.0], [3.0, 4.0]]), _freeze=True)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(tl.tensor([1])).numpy(), [[3.0, 4.0]])
    with pytest.raises(ValueError, match="Shape of weight does not match"):
        nn.Embedding(3, 2, _weight=tl.zeros(2, 2))


def test_scale_grad_by_freq_and_sparse_are_refused_clearly():
    for kw in ({"scale_grad_by_freq": True}, {"sparse": True}):
        with pytest.raises(NotImplementedError, match="not supported"):
            nn.Embedding(3, 2, **kw)
        with pytest.raises(NotImplementedError, match="not supported"):
            F.embedding(tl.tensor([0]), tl.ones(3, 2), **kw)
    assert nn.Embedding(3, 2, sparse=False).sparse is False  # the default, spelled out
