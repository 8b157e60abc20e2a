"""Self-tests of the hand-derived oracles in tests/reference and of benchmarks/hand_lstm.py.

The references are checked against central finite differences in float64 and against the
published LSTM/RNN equations written out gate by gate; HandLSTM against the references.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # tests import the benchmark; benchmarks never import tests

from benchmarks.hand_lstm import HandLSTM  # noqa: E402
from tests.reference import lstm_bptt, rnn_bptt  # noqa: E402

T, B, I, H = 3, 2, 3, 3
# (num_layers, batch_first, initial state given, bias)
CONFIGS = [
    (2, False, True, True),
    (2, True, False, True),
    (1, True, True, False),
    (2, False, False, False),
]


def make_params(rng, num_layers, num_chunks, bias, I=I, H=H):
    """Random parameters under PyTorch's names, uniform like PyTorch's init but wider."""
    params = {}
    for k in range(num_layers):
        params[f"weight_ih_l{k}"] = rng.uniform(-1, 1, (num_chunks * H, I if k == 0 else H))
        params[f"weight_hh_l{k}"] = rng.uniform(-1, 1, (num_chunks * H, H))
        if bias:
            params[f"bias_ih_l{k}"] = rng.uniform(-1, 1, num_chunks * H)
            params[f"bias_hh_l{k}"] = rng.uniform(-1, 1, num_chunks * H)
    return params


def numerical_grad(f, arr, eps=1e-6):
    """Central differences of the scalar f() wrt every entry of arr, perturbed in place."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        f_plus = f()
        arr[idx] = old - eps
        f_minus = f()
        arr[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def assert_grads(f, analytic: dict, arrays: dict):
    for name, arr in arrays.items():
        np.testing.assert_allclose(
            analytic[name], numerical_grad(f, arr), rtol=1e-6, atol=1e-8, err_msg=name
        )


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers, batch_first, with_state, bias", CONFIGS)
def test_rnn_backward_matches_finite_differences(
    num_layers, batch_first, with_state, bias, nonlinearity
):
    rng = np.random.default_rng(0)
    params = make_params(rng, num_layers, 1, bias)
    x = rng.normal(size=(B, T, I) if batch_first else (T, B, I))
    h0 = rng.normal(size=(num_layers, B, H)) if with_state else np.zeros((num_layers, B, H))
    w_out = rng.normal(size=(B, T, H) if batch_first else (T, B, H))
    w_h = rng.normal(size=(num_layers, B, H))
    kwargs = dict(num_layers=num_layers, nonlinearity=nonlinearity, batch_first=batch_first)

    def loss():
        output, h_n, _ = rnn_bptt.forward(params, x, h0, **kwargs)
        return np.sum(output * w_out) + np.sum(h_n * w_h)

    _, _, cache = rnn_bptt.forward(params, x, h0 if with_state else None, **kwargs)
    grads, dx, dh0 = rnn_bptt.backward(params, cache, w_out, w_h)
    arrays = {**params, "x": x, "h0": h0}
    if not with_state:
        del arrays["h0"]  # at h0 = 0 a relu pre-activation can sit exactly on its kink
    assert_grads(loss, {**grads, "x": dx, "h0": dh0}, arrays)


@pytest.mark.parametrize("num_layers, batch_first, with_state, bias", CONFIGS)
def test_lstm_backward_matches_finite_differences(num_layers, batch_first, with_state, bias):
    rng = np.random.default_rng(0)
    params = make_params(rng, num_layers, 4, bias)
    x = rng.normal(size=(B, T, I) if batch_first else (T, B, I))
    shape = (num_layers, B, H)
    h0 = rng.normal(size=shape) if with_state else np.zeros(shape)
    c0 = rng.normal(size=shape) if with_state else np.zeros(shape)
    w_out = rng.normal(size=(B, T, H) if batch_first else (T, B, H))
    w_h, w_c = rng.normal(size=shape), rng.normal(size=shape)
    kwargs = dict(num_layers=num_layers, batch_first=batch_first)

    def loss():
        output, h_n, c_n, _ = lstm_bptt.forward(params, x, h0, c0, **kwargs)
        return np.sum(output * w_out) + np.sum(h_n * w_h) + np.sum(c_n * w_c)

    states = (h0, c0) if with_state else (None, None)
    _, _, _, cache = lstm_bptt.forward(params, x, *states, **kwargs)
    grads, dx, dh0, dc0 = lstm_bptt.backward(params, cache, w_out, w_h, w_c)
    assert_grads(
        loss, {**grads, "x": dx, "h0": dh0, "c0": dc0}, {**params, "x": x, "h0": h0, "c0": c0}
    )


def test_lstm_one_step_matches_published_equations():
    rng = np.random.default_rng(0)
    p = make_params(rng, 1, 4, True, I=3, H=4)
    x, h, c = rng.normal(size=(1, 2, 3)), rng.normal(size=(1, 2, 4)), rng.normal(size=(1, 2, 4))
    W_ii, W_if, W_ig, W_io = np.split(p["weight_ih_l0"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(p["weight_hh_l0"], 4)
    b_ii, b_if, b_ig, b_io = np.split(p["bias_ih_l0"], 4)
    b_hi, b_hf, b_hg, b_ho = np.split(p["bias_hh_l0"], 4)

    def sigma(z):
        return 1.0 / (1.0 + np.exp(-z))

    x_t, h_prev, c_prev = x[0], h[0], c[0]
    i = sigma(x_t @ W_ii.T + b_ii + h_prev @ W_hi.T + b_hi)
    f = sigma(x_t @ W_if.T + b_if + h_prev @ W_hf.T + b_hf)
    g = np.tanh(x_t @ W_ig.T + b_ig + h_prev @ W_hg.T + b_hg)
    o = sigma(x_t @ W_io.T + b_io + h_prev @ W_ho.T + b_ho)
    c_new = f * c_prev + i * g
    h_new = o * np.tanh(c_new)

    output, h_n, c_n, _ = lstm_bptt.forward(p, x, h, c)
    np.testing.assert_allclose(output[0], h_new, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_n[0], h_new, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c_n[0], c_new, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_one_step_matches_published_equations(nonlinearity):
    rng = np.random.default_rng(0)
    p = make_params(rng, 1, 1, True, I=3, H=4)
    x, h = rng.normal(size=(1, 2, 3)), rng.normal(size=(1, 2, 4))
    a = x[0] @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h[0] @ p["weight_hh_l0"].T + p["bias_hh_l0"]
    h_new = np.tanh(a) if nonlinearity == "tanh" else np.where(a > 0, a, 0.0)
    output, h_n, _ = rnn_bptt.forward(p, x, h, nonlinearity=nonlinearity)
    np.testing.assert_allclose(output[0], h_new, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_n[0], h_new, rtol=1e-13, atol=1e-15)


def test_lstm_layers_stack_and_batch_first_transposes():
    rng = np.random.default_rng(0)
    p = make_params(rng, 2, 4, True)
    x = rng.normal(size=(T, B, I))
    h0, c0 = rng.normal(size=(2, B, H)), rng.normal(size=(2, B, H))
    output, h_n, c_n, _ = lstm_bptt.forward(p, x, h0, c0, num_layers=2)
    # layer 1 alone, fed with the output of layer 0 alone
    p0 = {n: v for n, v in p.items() if n.endswith("_l0")}
    p1 = {n.replace("_l1", "_l0"): v for n, v in p.items() if n.endswith("_l1")}
    y0, h_0, c_0, _ = lstm_bptt.forward(p0, x, h0[:1], c0[:1])
    y1, h_1, c_1, _ = lstm_bptt.forward(p1, y0, h0[1:], c0[1:])
    np.testing.assert_allclose(output, y1, rtol=1e-14)
    np.testing.assert_allclose(h_n, np.concatenate([h_0, h_1]), rtol=1e-14)
    np.testing.assert_allclose(c_n, np.concatenate([c_0, c_1]), rtol=1e-14)
    output_bf, _, _, _ = lstm_bptt.forward(
        p, x.transpose(1, 0, 2), h0, c0, num_layers=2, batch_first=True
    )
    np.testing.assert_allclose(output_bf, output.transpose(1, 0, 2), rtol=1e-14)


def test_references_reject_bad_input():
    rng = np.random.default_rng(0)
    p = make_params(rng, 1, 4, True)
    with pytest.raises(ValueError, match="expected input"):
        lstm_bptt.forward(p, np.zeros((T, I)))
    with pytest.raises(ValueError, match="h0"):
        lstm_bptt.forward(p, np.zeros((T, B, I)), np.zeros((1, B + 1, H)))
    with pytest.raises(ValueError, match="weight_ih_l1"):
        lstm_bptt.forward(p, np.zeros((T, B, I)), num_layers=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_bptt.forward(make_params(rng, 1, 1, True), np.zeros((T, B, I)), nonlinearity="gelu")


def reference_loss_and_grads(model: HandLSTM, tokens, targets, h0, c0):
    """HandLSTM's loss and gradients from the LSTM oracle plus a plain softmax cross-entropy."""
    V = model.V
    lstm = {n.removeprefix("lstm."): v for n, v in model.params.items() if n.startswith("lstm.")}
    w_fc, b_fc = model.params["fc.weight"], model.params["fc.bias"]
    x = np.eye(V)[tokens]  # (T, B, V) one-hot
    y, h_n, c_n, cache = lstm_bptt.forward(lstm, x, h0, c0)
    logits = y @ w_fc.T + b_fc  # (T, B, V)
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    onehot = np.eye(V)[targets]
    N = tokens.size
    loss = -np.sum(onehot * np.log(probs)) / N
    dlogits = (probs - onehot) / N
    grads = {"fc.weight": np.einsum("tbv,tbh->vh", dlogits, y), "fc.bias": dlogits.sum((0, 1))}
    lstm_grads, _, _, _ = lstm_bptt.backward(lstm, cache, dlogits @ w_fc)
    grads.update({"lstm." + n: g for n, g in lstm_grads.items()})
    return loss, grads, (h_n, c_n)


def test_hand_lstm_matches_reference_in_float64():
    rng = np.random.default_rng(0)
    model = HandLSTM(V=7, H=5, dtype=np.float64, seed=1)
    tokens, targets = rng.integers(0, 7, (4, 3)), rng.integers(0, 7, (4, 3))
    h0, c0 = rng.normal(size=(1, 3, 5)), rng.normal(size=(1, 3, 5))
    loss, grads, (h_n, c_n) = model.loss_and_grads(tokens, targets, h0, c0)
    ref_loss, ref_grads, (ref_h, ref_c) = reference_loss_and_grads(model, tokens, targets, h0, c0)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(h_n, ref_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n, ref_c, rtol=1e-12, atol=1e-14)
    assert set(grads) == set(model.params)
    for name, grad in grads.items():
        assert grad.shape == model.params[name].shape, name
        np.testing.assert_allclose(grad, ref_grads[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_hand_lstm_carries_state_and_steps_like_adam():
    rng = np.random.default_rng(0)
    model = HandLSTM(V=6, H=4, dtype=np.float64, seed=2)
    tokens = rng.integers(0, 6, (7, 2))
    start = {n: p.copy() for n, p in model.params.items()}
    # two windows with carried state end where one pass over the whole sequence ends
    _, _, state = model.loss_and_grads(tokens[:3], tokens[1:4])
    _, grads, (h_n, c_n) = model.loss_and_grads(tokens[3:6], tokens[4:7], *state)
    lstm = {n.removeprefix("lstm."): v for n, v in start.items() if n.startswith("lstm.")}
    _, ref_h, ref_c, _ = lstm_bptt.forward(lstm, np.eye(6)[tokens[:6]])
    np.testing.assert_allclose(h_n, ref_h, rtol=1e-12)
    np.testing.assert_allclose(c_n, ref_c, rtol=1e-12)
    # Adam as in Kingma & Ba, over two steps with the same gradients
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    model.adam_step(grads, lr)
    model.adam_step(grads, lr)
    for name, p in start.items():
        g, m, v, p = grads[name], 0.0, 0.0, p.copy()
        for t in (1, 2):
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            p = p - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        np.testing.assert_allclose(model.params[name], p, rtol=1e-12, atol=1e-15, err_msg=name)


def test_hand_lstm_init_and_train_step():
    model = HandLSTM(V=10, H=16)
    bound = 1 / np.sqrt(16)
    for name, p in model.params.items():
        assert p.dtype == np.float32, name
        assert np.abs(p).max() <= bound, name
    tokens = (np.arange(9)[:, None] + 3 * np.arange(4)) % 10  # (9, 4), next token = token + 1
    losses, state = [], None
    for _ in range(30):
        loss, state = model.train_step(tokens[:-1], tokens[1:], 1e-2, state)
        losses.append(loss)
    assert abs(losses[0] - np.log(10)) < 0.2  # near-uniform predictions at init
    assert losses[-1] < 0.5 * losses[0]
    assert state[0].shape == (1, 4, 16) and state[0].dtype == np.float32
    with pytest.raises(ValueError, match="tokens"):
        model.train_step(tokens[:-1] + 10, tokens[1:], 1e-2)
