"""Arguments PyTorch still takes that older programs use: losses' deprecated size_average /
reduce (mapped onto reduction, with PyTorch's warning), and dropout's inplace."""

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F
from tinygrad_lstm import nn

X = tl.tensor([[1.0, 2.0], [3.0, 5.0]])
Y = tl.tensor([[0.0, 2.0], [1.0, 1.0]])  # squared errors 1, 0, 4, 16


@pytest.mark.parametrize("kw, reduction, value", [
    ({"size_average": False}, "sum", 21.0),
    ({"size_average": True}, "mean", 5.25),
    ({"reduce": False}, "none", [[1.0, 0.0], [4.0, 16.0]]),
    ({"size_average": False, "reduce": True}, "sum", 21.0),
])
def test_size_average_and_reduce_map_onto_reduction_with_pytorchs_warning(kw, reduction, value):
    with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead"):
        loss_fn = nn.MSELoss(**kw)
    assert loss_fn.reduction == reduction
    np.testing.assert_allclose(loss_fn(X, Y).numpy(), value)


def test_every_loss_that_had_them_takes_them_in_pytorchs_positions():
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(None, False).reduction == "sum"
        assert nn.NLLLoss(None, None, -100, False).reduction == "none"
        assert nn.BCELoss(None, False).reduction == "sum"
        assert nn.BCEWithLogitsLoss(size_average=False).reduction == "sum"
        assert nn.L1Loss(False).reduction == "sum"
        assert nn.SmoothL1Loss(reduce=False).reduction == "none"
        assert nn.KLDivLoss(size_average=False).reduction == "sum"
    assert nn.CrossEntropyLoss(ignore_index=0).ignore_index == 0  # keywords as before


def test_dropout_inplace_writes_into_its_input_and_records_the_gradient():
    tl.manual_seed(0)
    w = tl.ones(200, requires_grad=True)
    h = w * 1.0  # a non-leaf, as a layer's output
    out = F.dropout(h, 0.5, True, True)
    assert out is h
    kept = h.detach().numpy() != 0
    np.testing.assert_array_equal(h.detach().numpy()[kept], 2.0)  # scaled by 1/(1-p)
    assert 50 < kept.sum() < 150
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.where(kept, 2.0, 0.0))


def test_dropout_module_inplace_and_pytorchs_repr():
    drop = nn.Dropout(0.2, True)
    assert drop.inplace and repr(drop) == "Dropout(p=0.2, inplace=True)"
    x = tl.ones(10)
    assert drop(x) is x
    drop.eval()
    y = tl.ones(3)
    assert drop(y) is y and y.numpy().tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError):  # in place on a leaf that requires grad, as PyTorch
        F.dropout(tl.ones(3, requires_grad=True), 0.5, True, inplace=True)
