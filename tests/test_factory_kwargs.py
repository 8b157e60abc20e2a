"""Layers take PyTorch's factory keywords device= and dtype=: parameters are made in dtype
(drawn from the same init), the CPU is the only device, a non-floating dtype is refused."""

import math

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import nn

LAYERS = {
    "Linear": lambda **kw: nn.Linear(3, 4, **kw),
    "Embedding": lambda **kw: nn.Embedding(5, 4, padding_idx=0, **kw),
    "LayerNorm": lambda **kw: nn.LayerNorm(4, **kw),
    "RNNCell": lambda **kw: nn.RNNCell(3, 4, **kw),
    "LSTMCell": lambda **kw: nn.LSTMCell(3, 4, **kw),
    "GRUCell": lambda **kw: nn.GRUCell(3, 4, **kw),
    "RNN": lambda **kw: nn.RNN(3, 4, num_layers=2, **kw),
    "LSTM": lambda **kw: nn.LSTM(3, 4, bidirectional=True, **kw),
    "GRU": lambda **kw: nn.GRU(3, 4, batch_first=True, **kw),
}


@pytest.mark.parametrize("name", LAYERS)
def test_dtype_makes_the_parameters_in_that_dtype(name):
    for dtype, device in [(tl.float64, "cpu"), (tl.double, tl.device("cpu")),
                          (np.float64, None)]:
        layer = LAYERS[name](device=device, dtype=dtype)
        assert {p.dtype for p in layer.parameters()} == {tl.float64}
    assert {p.dtype for p in LAYERS[name](dtype=None).parameters()} == {tl.float32}
    tl.set_default_dtype(tl.float64)
    try:  # dtype=None: the default dtype, as in PyTorch
        assert {p.dtype for p in LAYERS[name]().parameters()} == {tl.float64}
    finally:
        tl.set_default_dtype(tl.float32)


def test_the_layers_compute_in_their_dtype_and_draw_their_usual_init():
    lstm = nn.LSTM(3, 4, dtype=tl.float64)
    out, (h, c) = lstm(tl.randn(5, 2, 3, dtype=tl.float64))
    assert out.dtype == h.dtype == c.dtype == tl.float64
    linear = nn.Linear(100, 50, dtype=tl.float64)
    w = linear.weight.numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(100) and w.std() > 0.5 / math.sqrt(300)
    emb = nn.Embedding(5, 4, padding_idx=0, dtype=tl.float64)
    np.testing.assert_array_equal(emb.weight.numpy()[0], 0.0)
    ln = nn.LayerNorm(4, dtype=tl.float64)
    np.testing.assert_array_equal(ln.weight.numpy(), 1.0)


@pytest.mark.parametrize("name", LAYERS)
def test_other_devices_and_non_floating_dtypes_are_refused(name):
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        LAYERS[name](device="cuda")
    with pytest.raises(TypeError, match=f"{name}: parameters need a floating point dtype, "
                                        "got dtype=tinygrad_lstm.int64"):
        LAYERS[name](dtype=tl.int64)


def test_proj_size_is_refused_clearly_and_positional_arguments_keep_pytorchs_order():
    with pytest.raises(NotImplementedError, match="LSTM: proj_size=2 .* not supported"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="only supported for LSTM, not RNN or GRU"):
        nn.GRU(3, 4, proj_size=2)
    # (input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
    #  proj_size, device, dtype), as torch.nn.LSTM
    lstm = nn.LSTM(3, 4, 1, True, True, 0.0, True, 0, "cpu", tl.float64)
    assert lstm.batch_first and lstm.bidirectional and lstm.weight_ih_l0.dtype == tl.float64
