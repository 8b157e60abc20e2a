"""Hand-derived forward and BPTT of a multi-layer LSTM, PyTorch's nn.LSTM (test oracle).

Layer k at step t reads x_t (k = 0) or the output h_t of layer k-1 (k > 0):

    i, f, g, o = chunk(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh, 4)   (gate order i, f, g, o)
    i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

Backward, min-char-rnn style, from the top layer down and t = T-1 .. 0, with
dhnext = dh_n, dc_next = dc_n:

    dh = dy_t + dhnext;  do = dh * tanh(c_t);  dc = dc_next + dh * o * (1 - tanh(c_t)**2)
    di, df, dg = dc * g, dc * c_{t-1}, dc * i;  dc_next = dc * f
    dhraw = cat(di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o))
    dW_ih += dhraw.T @ x_t;  dW_hh += dhraw.T @ h_{t-1};  db_ih, db_hh += dhraw.sum(0)
    dx_t = dhraw @ W_ih;  dhnext = dhraw @ W_hh

Shape: x: (T, B, I), or (B, T, I) if batch_first; h0, c0: (L, B, H)
    -> output: (T, B, H), or (B, T, H) if batch_first; h_n, c_n: (L, B, H)
    weight_ih_l{k}: (4H, I if k == 0 else H), weight_hh_l{k}: (4H, H), bias_*_l{k}: (4H,)
Everything is computed in float64.
"""

import numpy as np

from .rnn_bptt import layer_names, read_input, read_params, read_state


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function, in the tanh form that cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def forward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    *,
    num_layers: int = 1,
    batch_first: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """nn.LSTM forward; returns (output, h_n, c_n, cache), cache being what backward needs."""
    p, H, I, bias = read_params("lstm_bptt.forward", params, num_layers, 4)
    x = read_input("lstm_bptt.forward", "input", x, batch_first, I)
    T, B, _ = x.shape
    h0 = read_state("lstm_bptt.forward", "h0", h0, (num_layers, B, H))
    c0 = read_state("lstm_bptt.forward", "c0", c0, (num_layers, B, H))
    layers = []
    inp = x
    for k in range(num_layers):
        names = layer_names(k, bias)
        w_ih, w_hh = p[names[0]], p[names[1]]
        b = p[names[2]] + p[names[3]] if bias else 0.0
        h, c = np.empty((T + 1, B, H)), np.empty((T + 1, B, H))  # [0] = initial state
        gates = np.empty((T, B, 4 * H))  # activated i, f, g, o
        h[0], c[0] = h0[k], c0[k]
        for t in range(T):
            a = inp[t] @ w_ih.T + h[t] @ w_hh.T + b  # (B, 4H)
            a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
            i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
            c[t + 1] = f * c[t] + i * g
            h[t + 1] = o * np.tanh(c[t + 1])
            gates[t] = np.concatenate([i, f, g, o], axis=1)
        layers.append({"x": inp, "h": h, "c": c, "gates": gates})
        inp = h[1:]
    output = inp.transpose(1, 0, 2) if batch_first else inp
    h_n = np.stack([layer["h"][-1] for layer in layers])
    c_n = np.stack([layer["c"][-1] for layer in layers])
    cache = {"layers": layers, "batch_first": batch_first, "num_layers": num_layers}
    return output, h_n, c_n, cache


def backward(
    params: dict[str, np.ndarray],
    cache: dict,
    d_output: np.ndarray,
    d_h_n: np.ndarray | None = None,
    d_c_n: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """BPTT through forward's cache; returns (grads by parameter name, dx, dh0, dc0)."""
    num_layers = cache["num_layers"]
    p, H, _, bias = read_params("lstm_bptt.backward", params, num_layers, 4)
    T, B, _ = cache["layers"][0]["x"].shape
    dy = read_input("lstm_bptt.backward", "d_output", d_output, cache["batch_first"], H)
    if dy.shape[:2] != (T, B):
        raise ValueError(
            f"lstm_bptt.backward: d_output has T, B = {dy.shape[:2]}, the output has {(T, B)}"
        )
    d_h_n = read_state("lstm_bptt.backward", "d_h_n", d_h_n, (num_layers, B, H))
    d_c_n = read_state("lstm_bptt.backward", "d_c_n", d_c_n, (num_layers, B, H))
    grads = {}
    dh0, dc0 = np.empty((num_layers, B, H)), np.empty((num_layers, B, H))
    for k in reversed(range(num_layers)):
        names = layer_names(k, bias)
        w_ih, w_hh = p[names[0]], p[names[1]]
        layer = cache["layers"][k]
        x, h, c = layer["x"], layer["h"], layer["c"]
        dW_ih, dW_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(4 * H)
        dx = np.empty_like(x)
        dhnext, dc_next = d_h_n[k], d_c_n[k]
        for t in reversed(range(T)):
            i, f, g, o = np.split(layer["gates"][t], 4, axis=1)
            tanh_c = np.tanh(c[t + 1])
            dh = dy[t] + dhnext  # from the output at t and from step t + 1
            do = dh * tanh_c
            dc = dc_next + dh * o * (1.0 - tanh_c**2)
            di, df, dg = dc * g, dc * c[t], dc * i
            dc_next = dc * f
            dhraw = np.concatenate(
                [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)],
                axis=1,
            )  # (B, 4H)
            dW_ih += dhraw.T @ x[t]
            dW_hh += dhraw.T @ h[t]
            db += dhraw.sum(axis=0)
            dx[t] = dhraw @ w_ih
            dhnext = dhraw @ w_hh
        grads[names[0]], grads[names[1]] = dW_ih, dW_hh
        if bias:
            grads[names[2]], grads[names[3]] = db, db.copy()
        dh0[k], dc0[k] = dhnext, dc_next
        dy = dx  # the layer below gets the gradient of its output
    dx = dy.transpose(1, 0, 2) if cache["batch_first"] else dy
    return grads, dx, dh0, dc0
