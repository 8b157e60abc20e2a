"""Recurrent layers against independent truths.

Gradients: the hand-derived BPTT of tests/reference (RNN, LSTM) to 1e-10 in float64, and
gradcheck (every cell, GRU, bidirectional and multi-layer modules). Forward: the published
equations written out gate by gate below. Layout: PyTorch's parameter lists written out.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.reference import lstm_bptt, rnn_bptt  # noqa: E402

# ---------------------------------------------------------------- the published equations


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm_step(x, state, p):
    """PyTorch's LSTMCell equations, gate by gate."""
    h, c = state
    W_ii, W_if, W_ig, W_io = np.split(p["weight_ih"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(p["weight_hh"], 4)
    b_ii, b_if, b_ig, b_io = np.split(p["bias_ih"], 4)
    b_hi, b_hf, b_hg, b_ho = np.split(p["bias_hh"], 4)
    i = sigmoid(x @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
    f = sigmoid(x @ W_if.T + b_if + h @ W_hf.T + b_hf)
    g = np.tanh(x @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
    o = sigmoid(x @ W_io.T + b_io + h @ W_ho.T + b_ho)
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(x, state, p):
    """PyTorch's GRUCell equations, gate by gate."""
    (h,) = state
    W_ir, W_iz, W_in = np.split(p["weight_ih"], 3)
    W_hr, W_hz, W_hn = np.split(p["weight_hh"], 3)
    b_ir, b_iz, b_in = np.split(p["bias_ih"], 3)
    b_hr, b_hz, b_hn = np.split(p["bias_hh"], 3)
    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    return ((1 - z) * n + z * h,)


def rnn_step(x, state, p, nonlinearity="tanh"):
    """PyTorch's RNNCell equation."""
    a = x @ p["weight_ih"].T + p["bias_ih"] + state[0] @ p["weight_hh"].T + p["bias_hh"]
    return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0),)


STEPS = {"RNN_TANH": rnn_step, "RNN_RELU": lambda x, s, p: rnn_step(x, s, p, "relu"),
         "LSTM": lstm_step, "GRU": gru_step}


def cell_params(params, suffix, gate_size):
    """The cell-named parameters of one layer and direction; zero biases when there are none."""
    p = {name: params.get(name + suffix, np.zeros(gate_size)) for name in
         ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    return p


def ref_sequence(mode, params, x, hx, num_layers=1, bidirectional=False, batch_first=False):
    """The sequence modules written as loops over the equations; hx: tuple of (L*D, N, H)."""
    step = STEPS[mode]
    x = x.transpose(1, 0, 2) if batch_first else x
    T, N, _ = x.shape
    H = hx[0].shape[2]
    D = 2 if bidirectional else 1
    finals, inp = [], x
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            gate_size = params[f"weight_hh_l{layer}"].shape[0]
            p = cell_params(params, f"_l{layer}" + ("_reverse" if d else ""), gate_size)
            state = tuple(s[layer * D + d] for s in hx)
            out = np.empty((T, N, H))
            for t in (reversed(range(T)) if d else range(T)):
                state = step(inp[t], state, p)
                out[t] = state[0]
            outs.append(out)
            finals.append(state)
        inp = np.concatenate(outs, axis=2)
    output = inp.transpose(1, 0, 2) if batch_first else inp
    return output, tuple(np.stack(s) for s in zip(*finals))


# ---------------------------------------------------------------- helpers

NUM_STATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 2, "GRU": 1}


def make_module(mode, *args, **kwargs):
    if mode.startswith("RNN"):
        return RNN(*args, nonlinearity=mode[4:].lower(), **kwargs)
    return {"LSTM": LSTM, "GRU": GRU}[mode](*args, **kwargs)


def load_random(module, rng, scale=0.5):
    """Float64 parameters drawn from U(-scale, scale); returns them by name as arrays."""
    module.double()
    params = {name: rng.uniform(-scale, scale, p.shape)
              for name, p in module.named_parameters()}
    module.load_state_dict(params)
    return params


def t64(a, requires_grad=True):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def call(module, mode, x, hx):
    """Run a sequence module; return (output, tuple of final states)."""
    if mode == "LSTM":
        out, state = module(x, hx)
        return out, state
    out, h_n = module(x, None if hx is None else hx[0])
    return out, (h_n,)


# ---------------------------------------------------------------- gradients vs the BPTT oracle

# (T, num_layers, batch_first, with_state, bias); N, I, H are drawn per case
ORACLE_CASES = [(1, 1, False, True, True), (50, 2, True, False, True),
                (17, 2, False, True, False), (8, 1, True, True, False), (33, 2, True, True, True)]


def oracle_case(index, T, num_layers, mode, batch_first, bias):
    rng = np.random.default_rng(index)
    N, I, H = (int(n) for n in rng.integers(1, 5, size=3))
    module = make_module(mode, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first)
    params = load_random(module, rng)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    states = [rng.standard_normal((num_layers, N, H)) for _ in range(NUM_STATES[mode])]
    d_out = rng.standard_normal((N, T, H) if batch_first else (T, N, H))
    d_states = [rng.standard_normal((num_layers, N, H)) for _ in states]
    return module, params, x, states, d_out, d_states


def engine_grads(module, mode, x, states, with_state, d_out, d_states):
    """Forward, then backward of sum(output * d_out) + sum(state * d_state)."""
    xt = t64(x)
    hx = tuple(t64(s) for s in states) if with_state else None
    out, finals = call(module, mode, xt, hx)
    loss = (out * Tensor(d_out)).sum()
    for s, d in zip(finals, d_states):
        loss = loss + (s * Tensor(d)).sum()
    loss.backward()
    return out, finals, xt, hx


def assert_close(actual, desired, err_msg=""):
    np.testing.assert_allclose(actual, desired, rtol=1e-10, atol=1e-12, err_msg=err_msg)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("index, case", list(enumerate(ORACLE_CASES)))
def test_rnn_gradients_match_bptt(index, case, nonlinearity):
    T, num_layers, batch_first, with_state, bias = case
    mode = "RNN_" + nonlinearity.upper()
    module, params, x, states, d_out, d_states = oracle_case(index, T, num_layers, mode,
                                                             batch_first, bias)
    out, (h_n,), xt, hx = engine_grads(module, mode, x, states, with_state, d_out, d_states)
    h0 = states[0] if with_state else None
    ref_out, ref_h_n, cache = rnn_bptt.forward(params, x, h0, num_layers=num_layers,
                                               nonlinearity=nonlinearity,
                                               batch_first=batch_first)
    grads, dx, dh0 = rnn_bptt.backward(params, cache, d_out, d_states[0])
    assert_close(out.numpy(), ref_out)
    assert_close(h_n.numpy(), ref_h_n)
    for name, p in module.named_parameters():
        assert_close(p.grad.numpy(), grads[name], err_msg=name)
    assert_close(xt.grad.numpy(), dx)
    if with_state:
        assert_close(hx[0].grad.numpy(), dh0)


@pytest.mark.parametrize("index, case", list(enumerate(ORACLE_CASES)))
def test_lstm_gradients_match_bptt(index, case):
    T, num_layers, batch_first, with_state, bias = case
    module, params, x, states, d_out, d_states = oracle_case(index, T, num_layers, "LSTM",
                                                             batch_first, bias)
    out, (h_n, c_n), xt, hx = engine_grads(module, "LSTM", x, states, with_state, d_out,
                                           d_states)
    h0, c0 = states if with_state else (None, None)
    ref_out, ref_h_n, ref_c_n, cache = lstm_bptt.forward(params, x, h0, c0, num_layers=num_layers,
                                                         batch_first=batch_first)
    grads, dx, dh0, dc0 = lstm_bptt.backward(params, cache, d_out, *d_states)
    assert_close(out.numpy(), ref_out)
    assert_close(h_n.numpy(), ref_h_n)
    assert_close(c_n.numpy(), ref_c_n)
    for name, p in module.named_parameters():
        assert_close(p.grad.numpy(), grads[name], err_msg=name)
    assert_close(xt.grad.numpy(), dx)
    if with_state:
        assert_close(hx[0].grad.numpy(), dh0)
        assert_close(hx[1].grad.numpy(), dc0)


# ---------------------------------------------------------------- forward vs the equations


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
def test_cells_match_published_equations(mode):
    rng = np.random.default_rng(0)
    cell = {"RNN_TANH": lambda: RNNCell(3, 5), "RNN_RELU": lambda: RNNCell(3, 5, True, "relu"),
            "LSTM": lambda: LSTMCell(3, 5), "GRU": lambda: GRUCell(3, 5)}[mode]()
    p = load_random(cell, rng, scale=1.0)
    x = rng.standard_normal((4, 3))
    state = tuple(rng.standard_normal((4, 5)) for _ in range(NUM_STATES[mode]))
    expected = STEPS[mode](x, state, p)
    hx = tuple(t64(s) for s in state)
    got = cell(t64(x), hx if mode == "LSTM" else hx[0])
    got = got if mode == "LSTM" else (got,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-12, atol=1e-14)


def test_lstm_one_step_matches_published_equations():
    rng = np.random.default_rng(1)
    lstm = LSTM(3, 4)
    p = load_random(lstm, rng, scale=1.0)
    x, h0, c0 = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 4)), \
        rng.standard_normal((1, 2, 4))
    h, c = lstm_step(x[0], (h0[0], c0[0]), cell_params(p, "_l0", 16))
    out, (h_n, c_n) = lstm(t64(x), (t64(h0), t64(c0)))
    np.testing.assert_allclose(out.numpy()[0], h, rtol=1e-12)
    np.testing.assert_allclose(h_n.numpy()[0], h, rtol=1e-12)
    np.testing.assert_allclose(c_n.numpy()[0], c, rtol=1e-12)


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias",
                         [(1, True, False, True), (2, True, True, True), (2, False, True, False),
                          (3, True, False, False)])
def test_sequence_forward_matches_equations(mode, num_layers, bidirectional, batch_first, bias):
    rng = np.random.default_rng(2)
    T, N, I, H = 6, 3, 4, 5
    D = 2 if bidirectional else 1
    module = make_module(mode, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional)
    params = load_random(module, rng)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    hx = tuple(rng.standard_normal((num_layers * D, N, H)) for _ in range(NUM_STATES[mode]))
    out, finals = call(module, mode, t64(x), tuple(t64(s) for s in hx))
    ref_out, ref_finals = ref_sequence(mode, params, x, hx, num_layers, bidirectional,
                                       batch_first)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-12, atol=1e-14)
    for s, r in zip(finals, ref_finals):
        np.testing.assert_allclose(s.numpy(), r, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("make", [lambda: RNNCell(2, 3), lambda: RNNCell(2, 3, False, "relu"),
                                  lambda: LSTMCell(2, 3), lambda: LSTMCell(2, 3, bias=False),
                                  lambda: GRUCell(2, 3), lambda: GRUCell(2, 3, bias=False)])
def test_cells_gradcheck(make):
    rng = np.random.default_rng(3)
    cell = make()
    load_random(cell, rng, scale=1.0)
    x = t64(rng.standard_normal((2, 2)))
    states = [t64(rng.standard_normal((2, 3)))
              for _ in range(2 if isinstance(cell, LSTMCell) else 1)]
    if isinstance(cell, LSTMCell):
        def fn(x, h, c, *params):
            return cell(x, (h, c))
    else:
        def fn(x, h, *params):
            return cell(x, h)
    assert gradcheck(fn, [x, *states, *cell.parameters()])


@pytest.mark.parametrize("mode, kwargs", [
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"bidirectional": True}),
    ("LSTM", {"num_layers": 2, "batch_first": True, "bias": False}),
    ("RNN_RELU", {"num_layers": 2, "bidirectional": True}),
])
def test_sequence_modules_gradcheck(mode, kwargs):
    rng = np.random.default_rng(4)
    module = make_module(mode, 2, 2, **kwargs)
    load_random(module, rng, scale=1.0)
    L, D = kwargs.get("num_layers", 1), 1 + kwargs.get("bidirectional", False)
    x = t64(rng.standard_normal((2, 3, 2) if kwargs.get("batch_first") else (3, 2, 2)))
    states = [t64(rng.standard_normal((L * D, 2, 2))) for _ in range(NUM_STATES[mode])]

    def fn(x, *states_and_params):
        out, finals = call(module, mode, x, tuple(states_and_params[:len(states)]))
        return (out, *finals)

    assert gradcheck(fn, [x, *states, *module.parameters()])


# ---------------------------------------------------------------- unbatched input


@pytest.mark.parametrize("mode", ["RNN_TANH", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_sequence_equals_batch_of_one(mode, batch_first, with_state):
    rng = np.random.default_rng(5)
    module = make_module(mode, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    load_random(module, rng)
    x = rng.standard_normal((6, 3))
    hx = tuple(rng.standard_normal((4, 4)) for _ in range(NUM_STATES[mode]))
    out, finals = call(module, mode, t64(x), tuple(t64(s) for s in hx) if with_state else None)
    x1 = x[None] if batch_first else x[:, None]
    out1, finals1 = call(module, mode, t64(x1),
                         tuple(t64(s[:, None]) for s in hx) if with_state else None)
    assert out.shape == (6, 8)
    np.testing.assert_array_equal(out.numpy(),
                                  out1.numpy()[0] if batch_first else out1.numpy()[:, 0])
    for s, s1 in zip(finals, finals1):
        assert s.shape == (4, 4)
        np.testing.assert_array_equal(s.numpy(), s1.numpy()[:, 0])


@pytest.mark.parametrize("cell", [RNNCell(3, 4), LSTMCell(3, 4), GRUCell(3, 4)])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_cell_equals_batch_of_one(cell, with_state):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(3).astype(np.float32)
    states = [rng.standard_normal(4).astype(np.float32)
              for _ in range(2 if isinstance(cell, LSTMCell) else 1)]

    def run(x, states):
        if not with_state:
            out = cell(Tensor(x))
        else:
            out = cell(Tensor(x), tuple(map(Tensor, states)) if len(states) == 2
                       else Tensor(states[0]))
        return out if isinstance(out, tuple) else (out,)

    for s, s1 in zip(run(x, states), run(x[None], [s[None] for s in states])):
        assert s.shape == (4,)
        np.testing.assert_array_equal(s.numpy(), s1.numpy()[0])


# ---------------------------------------------------------------- layout, init, repr


def test_parameter_names_shapes_and_order_match_pytorch():
    # [(n, tuple(p.shape)) for n, p in torch.nn.LSTM(10, 20, 2, bidirectional=True)
    #  .named_parameters()], and likewise for the others
    lstm = [("weight_ih_l0", (80, 10)), ("weight_hh_l0", (80, 20)), ("bias_ih_l0", (80,)),
            ("bias_hh_l0", (80,)), ("weight_ih_l0_reverse", (80, 10)),
            ("weight_hh_l0_reverse", (80, 20)), ("bias_ih_l0_reverse", (80,)),
            ("bias_hh_l0_reverse", (80,)), ("weight_ih_l1", (80, 40)),
            ("weight_hh_l1", (80, 20)), ("bias_ih_l1", (80,)), ("bias_hh_l1", (80,)),
            ("weight_ih_l1_reverse", (80, 40)), ("weight_hh_l1_reverse", (80, 20)),
            ("bias_ih_l1_reverse", (80,)), ("bias_hh_l1_reverse", (80,))]
    gru = [("weight_ih_l0", (18, 5)), ("weight_hh_l0", (18, 6)), ("weight_ih_l1", (18, 6)),
           ("weight_hh_l1", (18, 6))]
    rnn = [("weight_ih_l0", (6, 4)), ("weight_hh_l0", (6, 6)), ("bias_ih_l0", (6,)),
           ("bias_hh_l0", (6,))]
    lstm_cell = [("weight_ih", (80, 10)), ("weight_hh", (80, 20)), ("bias_ih", (80,)),
                 ("bias_hh", (80,))]
    gru_cell = [("weight_ih", (18, 5)), ("weight_hh", (18, 6))]
    rnn_cell = [("weight_ih", (6, 4)), ("weight_hh", (6, 6)), ("bias_ih", (6,)),
                ("bias_hh", (6,))]
    for module, expected in [(LSTM(10, 20, 2, bidirectional=True), lstm),
                             (GRU(5, 6, num_layers=2, bias=False), gru),
                             (RNN(4, 6, nonlinearity="relu"), rnn),
                             (LSTMCell(10, 20), lstm_cell), (GRUCell(5, 6, bias=False), gru_cell),
                             (RNNCell(4, 6), rnn_cell)]:
        assert [(n, p.shape) for n, p in module.named_parameters()] == expected
        assert list(module.state_dict()) == [n for n, _ in expected]
        assert all(p.dtype == np.float32 for p in module.parameters())


@pytest.mark.parametrize("make", [lambda: RNNCell(7, 16), lambda: LSTMCell(7, 16),
                                  lambda: GRUCell(7, 16), lambda: RNN(7, 16, 2),
                                  lambda: LSTM(7, 16, bidirectional=True), lambda: GRU(7, 16)])
def test_init_is_uniform_within_one_over_sqrt_hidden_size(make):
    tl.manual_seed(0)
    module = make()
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.numpy().ravel() for p in module.parameters()])
    assert np.abs(values).max() <= bound
    assert values.max() > 0.98 * bound and values.min() < -0.98 * bound
    np.testing.assert_allclose(values.std(), bound / np.sqrt(3), rtol=0.05)  # std of U(-k, k)
    for p in module.parameters():  # no parameter (biases included) is left at zero
        assert np.abs(p.numpy()).max() > 0.5 * bound
    tl.manual_seed(0)
    again = np.concatenate([p.numpy().ravel() for p in make().parameters()])
    np.testing.assert_array_equal(values, again)


def test_repr_matches_pytorch():
    assert repr(LSTM(10, 20, num_layers=2)) == "LSTM(10, 20, num_layers=2)"
    assert repr(GRU(3, 4, bias=False, batch_first=True, bidirectional=True)) == \
        "GRU(3, 4, bias=False, batch_first=True, bidirectional=True)"
    assert repr(LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert repr(RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        "RNNCell(3, 4, bias=False, nonlinearity=relu)"


# ---------------------------------------------------------------- dropout


def test_dropout_only_between_layers_and_only_in_training():
    rng = np.random.default_rng(7)
    lstm = LSTM(3, 4, num_layers=2, dropout=0.5)
    params = load_random(lstm, rng)
    plain = LSTM(3, 4, num_layers=2).double()
    plain.load_state_dict(params)
    x = t64(rng.standard_normal((5, 2, 3)), requires_grad=False)
    ref_out, (ref_h, ref_c) = plain(x)
    lstm.eval()
    out, (h, c) = lstm(x)
    np.testing.assert_array_equal(out.numpy(), ref_out.numpy())
    lstm.train()
    out, (h, c) = lstm(x)
    assert not np.allclose(out.numpy(), ref_out.numpy())
    np.testing.assert_array_equal(h.numpy()[0], ref_h.numpy()[0])  # layer 0 sees no dropout
    np.testing.assert_array_equal(c.numpy()[0], ref_c.numpy()[0])
    assert (out.numpy() != 0).all()  # nothing dropped after the last layer


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_zeroes_and_scales_the_layer_input(p):
    # layer 1 = relu(identity @ x_t): its output is exactly its (dropped-out) input
    rng = np.random.default_rng(8)
    rnn = RNN(4, 8, num_layers=2, nonlinearity="relu", dropout=p)
    params = load_random(rnn, rng)
    params.update(weight_ih_l1=np.eye(8), weight_hh_l1=np.zeros((8, 8)),
                  bias_ih_l1=np.zeros(8), bias_hh_l1=np.zeros(8))
    rnn.load_state_dict(params)
    x = t64(rng.standard_normal((30, 20, 4)), requires_grad=False)
    layer0 = RNN(4, 8, nonlinearity="relu").double()
    layer0.load_state_dict({k: v for k, v in params.items() if k.endswith("l0")})
    y0 = layer0(x)[0].numpy()
    out = rnn(x)[0].numpy()
    live = y0 > 0
    ratio = out[live] / y0[live]
    if p == 1.0:
        np.testing.assert_array_equal(out, 0)
    else:
        dropped = np.isclose(ratio, 0)
        np.testing.assert_allclose(ratio[~dropped], 1 / (1 - p), rtol=1e-12)
        assert abs(dropped.mean() - p) < 0.05


# ---------------------------------------------------------------- state dicts from NumPy


def test_numpy_state_dict_with_pytorch_names_loads_and_gives_the_equations():
    rng = np.random.default_rng(9)
    T, N, I, H = 4, 2, 3, 5
    state = {}
    for layer in range(2):
        for suffix in ("", "_reverse"):
            state[f"weight_ih_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, (3 * H, I if layer == 0
                                                                             else 2 * H))
            state[f"weight_hh_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, (3 * H, H))
            state[f"bias_ih_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, 3 * H)
            state[f"bias_hh_l{layer}{suffix}"] = rng.uniform(-0.5, 0.5, 3 * H)
    gru = GRU(I, H, num_layers=2, bidirectional=True)
    gru.load_state_dict(state)
    x = rng.standard_normal((T, N, I))
    out, h_n = gru(Tensor(x.astype(np.float32)))
    ref_out, (ref_h_n,) = ref_sequence("GRU", state, x, (np.zeros((4, N, H)),), 2, True)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_n.numpy(), ref_h_n, rtol=1e-5, atol=1e-6)

    lstm_state = {f"{w}_l0": rng.uniform(-0.5, 0.5, shape) for w, shape in
                  (("weight_ih", (4 * H, I)), ("weight_hh", (4 * H, H)), ("bias_ih", (4 * H,)),
                   ("bias_hh", (4 * H,)))}
    lstm = LSTM(I, H)
    lstm.load_state_dict(lstm_state)
    out, (h_n, c_n) = lstm(Tensor(x.astype(np.float32)))
    ref_out, ref_h_n, ref_c_n, _ = lstm_bptt.forward(lstm_state, x)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_n.numpy(), ref_c_n, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- graph grouping


def test_each_time_step_is_recorded_in_its_own_graph_scope():
    rnn = RNN(2, 3, bidirectional=True)
    out, _ = rnn(Tensor(np.ones((4, 1, 2), np.float32)))
    forward, backward = out.grad_fn.edges[1:]  # Cat of the two directions' stacked outputs
    for stacked in (forward[0], backward[0]):
        assert [edge[0].scope[-1] for edge in stacked.edges[1:]] == [0, 1, 2, 3]


# ---------------------------------------------------------------- errors


def zeros(*shape, dtype=np.float32):
    return Tensor(np.zeros(shape, dtype))


def with_param(module, name: str, array: np.ndarray):
    setattr(module, name, Parameter(array))
    return module


@pytest.mark.parametrize("fn, error, match", [
    (lambda: LSTMCell(3, 4)(zeros(2, 2, 3)), ValueError,
     "LSTMCell: expected input of 1 or 2 dims, got 3"),
    (lambda: LSTMCell(3, 4)(zeros(2, 5)), RuntimeError, r"LSTMCell: .*\(2, 5\).* input_size 3"),
    (lambda: LSTMCell(3, 4)(zeros(2, 3), (zeros(2, 4), zeros(3, 4))), RuntimeError,
     r"LSTMCell: expected c_0 of shape \(2, 4\), got \(3, 4\)"),
    (lambda: LSTMCell(3, 4)(zeros(2, 3), zeros(2, 4)), TypeError, r"LSTMCell: .*\(h_0, c_0\)"),
    (lambda: GRUCell(3, 4)(zeros(3), zeros(1, 4)), RuntimeError,
     r"GRUCell: expected hx of shape \(4,\), got \(1, 4\)"),
    (lambda: RNNCell(3, 4)(np.zeros((2, 3))), TypeError, "RNNCell: expected input to be a Tensor"),
    (lambda: LSTM(3, 4)(zeros(2, 3, 4, 5)), ValueError,
     "LSTM: expected input of 2 or 3 dims, got 4"),
    (lambda: GRU(3, 4)(zeros(5, 2, 4)), RuntimeError, r"GRU: input of shape \(5, 2, 4\).*3"),
    (lambda: RNN(3, 4, num_layers=2)(zeros(5, 2, 3), zeros(1, 2, 4)), RuntimeError,
     r"RNN: expected h_0 of shape \(2, 2, 4\), got \(1, 2, 4\)"),
    (lambda: LSTM(3, 4, bidirectional=True)(zeros(5, 3), (zeros(2, 4), zeros(1, 4))),
     RuntimeError, r"LSTM: expected c_0 of shape \(2, 4\), got \(1, 4\)"),
    (lambda: LSTM(3, 4)(zeros(5, 2, 3, dtype=np.float64)), RuntimeError,
     "LSTM: input has dtype float64, but the parameters are float32"),
    (lambda: LSTM(3, 4)(zeros(0, 2, 3)), RuntimeError, "LSTM: expected a sequence length"),
    (lambda: with_param(LSTM(3, 4), "weight_hh_l0", np.zeros((16, 4)))(zeros(5, 2, 3)),
     RuntimeError, "LSTM: parameters of mixed dtypes .weight_ih_l0 float32, weight_hh_l0 "
                   "float64, bias_ih_l0 float32, bias_hh_l0 float32.; convert the whole module"),
    (lambda: with_param(LSTM(3, 4), "weight_ih_l0", np.zeros((16, 3)))(zeros(5, 2, 3)),
     RuntimeError, "LSTM: parameters of mixed dtypes .weight_ih_l0 float64, weight_hh_l0 float32"),
    (lambda: with_param(RNN(3, 4, num_layers=2), "bias_hh_l1", np.zeros(4))(zeros(5, 2, 3)),
     RuntimeError, "RNN: parameters of mixed dtypes .*bias_hh_l1 float64"),
    (lambda: with_param(GRUCell(3, 4), "weight_ih", np.zeros((12, 3)))(zeros(2, 3)),
     RuntimeError, "GRUCell: parameters of mixed dtypes .weight_ih float64, weight_hh float32"),
    (lambda: RNN(3, 4, nonlinearity="sigmoid"), ValueError, "RNN: unknown nonlinearity"),
    (lambda: RNNCell(3, 4, nonlinearity="gelu"), ValueError, "RNNCell: unknown nonlinearity"),
    (lambda: LSTM(3, 4, num_layers=2, dropout=1.5), ValueError, "LSTM: dropout should be"),
    (lambda: GRU(3, 0), ValueError, "GRU: hidden_size must be greater than zero"),
    (lambda: LSTMCell(3, 4.0), TypeError, "LSTMCell: hidden_size should be of type int"),
    (lambda: LSTM(3, 4, num_layers=0), ValueError, "LSTM: num_layers must be"),
])
def test_errors_name_the_module_and_shapes(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(3, 4, dropout=0.5)


# ---------------------------------------------------------------- PyTorch itself, if installed


@pytest.mark.parametrize("mode", ["RNN_RELU", "LSTM", "GRU"])
def test_matches_torch(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": True}
    module = make_module(mode, 3, 4, **kwargs)
    params = load_random(module, rng)
    theirs = {"RNN_RELU": lambda: torch.nn.RNN(3, 4, nonlinearity="relu", **kwargs),
              "LSTM": lambda: torch.nn.LSTM(3, 4, **kwargs),
              "GRU": lambda: torch.nn.GRU(3, 4, **kwargs)}[mode]().double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    x = rng.standard_normal((2, 5, 3))
    hx = [rng.standard_normal((4, 2, 4)) for _ in range(NUM_STATES[mode])]
    d_out = rng.standard_normal((2, 5, 8))

    xt = t64(x)
    out, finals = call(module, mode, xt, tuple(t64(s) for s in hx))
    (out * Tensor(d_out)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ths = [torch.tensor(s) for s in hx]
    t_out, t_finals = theirs(tx, tuple(ths) if mode == "LSTM" else ths[0])
    (t_out * torch.from_numpy(d_out)).sum().backward()
    t_finals = t_finals if mode == "LSTM" else (t_finals,)

    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for s, t in zip(finals, t_finals):
        np.testing.assert_allclose(s.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), (t_name, t_p) in zip(module.named_parameters(), theirs.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(p.grad.numpy(), t_p.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
