"""Hand-derived forward and BPTT of a multi-layer Elman RNN, PyTorch's nn.RNN (test oracle).

Layer k at step t reads x_t (k = 0) or the output h_t of layer k-1 (k > 0):

    h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh),   act = tanh or relu

Backward, min-char-rnn style, from the top layer down and t = T-1 .. 0, dhnext = dh_n:

    dh = dy_t + dhnext;  dhraw = dh * (1 - h_t**2) (tanh)  or  dh * (h_t > 0) (relu)
    dW_ih += dhraw.T @ x_t;  dW_hh += dhraw.T @ h_{t-1};  db_ih, db_hh += dhraw.sum(0)
    dx_t = dhraw @ W_ih;  dhnext = dhraw @ W_hh

Shape: x: (T, B, I), or (B, T, I) if batch_first; h0: (L, B, H)
    -> output: (T, B, H), or (B, T, H) if batch_first; h_n: (L, B, H)
    weight_ih_l{k}: (H, I if k == 0 else H), weight_hh_l{k}: (H, H), bias_*_l{k}: (H,)
Everything is computed in float64.
"""

import numpy as np

_NAMES = ("weight_ih_l{}", "weight_hh_l{}", "bias_ih_l{}", "bias_hh_l{}")


def read_params(
    name: str, params: dict[str, np.ndarray], num_layers: int, num_chunks: int
) -> tuple[dict[str, np.ndarray], int, int, bool]:
    """Check params against PyTorch's layout; return (float64 copies, H, I, bias)."""
    if "weight_ih_l0" not in params or "weight_hh_l0" not in params:
        raise ValueError(f"{name}: params need weight_ih_l0 and weight_hh_l0, got {sorted(params)}")
    H = np.shape(params["weight_hh_l0"])[1]
    I = np.shape(params["weight_ih_l0"])[1]
    bias = "bias_ih_l0" in params
    expected = {}
    for k in range(num_layers):
        expected[f"weight_ih_l{k}"] = (num_chunks * H, I if k == 0 else H)
        expected[f"weight_hh_l{k}"] = (num_chunks * H, H)
        if bias:
            expected[f"bias_ih_l{k}"] = (num_chunks * H,)
            expected[f"bias_hh_l{k}"] = (num_chunks * H,)
    if set(params) != set(expected):
        raise ValueError(f"{name}: expected parameters {sorted(expected)}, got {sorted(params)}")
    for key, shape in expected.items():
        if np.shape(params[key]) != shape:
            raise ValueError(
                f"{name}: {key} should have shape {shape}, got {np.shape(params[key])}"
            )
    return {key: np.asarray(params[key], dtype=np.float64) for key in expected}, H, I, bias


def read_input(name: str, label: str, x: np.ndarray, batch_first: bool, size: int) -> np.ndarray:
    """x as a float64 time-first (T, B, size) array."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != size:
        layout = "(B, T, {})" if batch_first else "(T, B, {})"
        raise ValueError(f"{name}: expected {label} of shape {layout.format(size)}, got {x.shape}")
    return x.transpose(1, 0, 2) if batch_first else x


def read_state(name: str, label: str, state: np.ndarray | None, shape: tuple) -> np.ndarray:
    """A float64 state of the given shape; zeros when state is None."""
    if state is None:
        return np.zeros(shape)
    state = np.asarray(state, dtype=np.float64)
    if state.shape != shape:
        raise ValueError(f"{name}: expected {label} of shape {shape}, got {state.shape}")
    return state


def layer_names(k: int, bias: bool) -> tuple[str, ...]:
    """PyTorch's parameter names of layer k, as built in RNNBase."""
    return tuple(n.format(k) for n in (_NAMES if bias else _NAMES[:2]))


def forward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    *,
    num_layers: int = 1,
    nonlinearity: str = "tanh",
    batch_first: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """nn.RNN forward; returns (output, h_n, cache), cache being what backward needs."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_bptt.forward: unknown nonlinearity '{nonlinearity}'")
    p, H, I, bias = read_params("rnn_bptt.forward", params, num_layers, 1)
    x = read_input("rnn_bptt.forward", "input", x, batch_first, I)
    T, B, _ = x.shape
    h0 = read_state("rnn_bptt.forward", "h0", h0, (num_layers, B, H))
    act = np.tanh if nonlinearity == "tanh" else lambda a: np.maximum(a, 0.0)
    xs, hs = [], []
    inp = x
    for k in range(num_layers):
        names = layer_names(k, bias)
        w_ih, w_hh = p[names[0]], p[names[1]]
        b = p[names[2]] + p[names[3]] if bias else 0.0
        h = np.empty((T + 1, B, H))  # h[0] = h0, h[t + 1] = h_t
        h[0] = h0[k]
        for t in range(T):
            h[t + 1] = act(inp[t] @ w_ih.T + h[t] @ w_hh.T + b)  # (B, H)
        xs.append(inp)
        hs.append(h)
        inp = h[1:]
    output = inp.transpose(1, 0, 2) if batch_first else inp
    h_n = np.stack([h[-1] for h in hs])
    cache = {
        "xs": xs,
        "hs": hs,
        "nonlinearity": nonlinearity,
        "batch_first": batch_first,
        "num_layers": num_layers,
    }
    return output, h_n, cache


def backward(
    params: dict[str, np.ndarray],
    cache: dict,
    d_output: np.ndarray,
    d_h_n: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """BPTT through forward's cache; returns (grads by parameter name, dx, dh0)."""
    num_layers = cache["num_layers"]
    p, H, _, bias = read_params("rnn_bptt.backward", params, num_layers, 1)
    T, B, _ = cache["xs"][0].shape
    dy = read_input("rnn_bptt.backward", "d_output", d_output, cache["batch_first"], H)
    if dy.shape[:2] != (T, B):
        raise ValueError(
            f"rnn_bptt.backward: d_output has T, B = {dy.shape[:2]}, the output has {(T, B)}"
        )
    d_h_n = read_state("rnn_bptt.backward", "d_h_n", d_h_n, (num_layers, B, H))
    grads = {}
    dh0 = np.empty((num_layers, B, H))
    for k in reversed(range(num_layers)):
        names = layer_names(k, bias)
        w_ih, w_hh = p[names[0]], p[names[1]]
        x, h = cache["xs"][k], cache["hs"][k]
        dW_ih, dW_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(H)
        dx = np.empty_like(x)
        dhnext = d_h_n[k]
        for t in reversed(range(T)):
            dh = dy[t] + dhnext  # from the output at t and from step t + 1
            if cache["nonlinearity"] == "tanh":
                dhraw = dh * (1.0 - h[t + 1] ** 2)
            else:
                dhraw = dh * (h[t + 1] > 0)  # relu'(0) = 0, as in PyTorch
            dW_ih += dhraw.T @ x[t]
            dW_hh += dhraw.T @ h[t]
            db += dhraw.sum(axis=0)
            dx[t] = dhraw @ w_ih
            dhnext = dhraw @ w_hh
        grads[names[0]], grads[names[1]] = dW_ih, dW_hh
        if bias:
            grads[names[2]], grads[names[3]] = db, db.copy()
        dh0[k] = dhnext
        dy = dx  # the layer below gets the gradient of its output
    dx = dy.transpose(1, 0, 2) if cache["batch_first"] else dy
    return grads, dx, dh0
