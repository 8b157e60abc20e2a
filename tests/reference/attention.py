"""Attention and Transformer layers written out in NumPy float64, one batch item and one head at a
time, from the equations of "Attention Is All You Need" and PyTorch's documentation: the oracle
for nn.MultiheadAttention, F.scaled_dot_product_attention and the Transformer modules.

Weights are passed as a dict with PyTorch's state-dict keys (NumPy arrays)."""

import math

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias=0.0, scale=None):
    """softmax(q k^T * scale + bias) v for 2-D q (L, D), k (S, D), v (S, Dv); also the weights."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    a = softmax(q @ k.T * scale + bias)
    return a @ v, a


def mha(w: dict, query, key, value, num_heads: int, attn_mask=None, key_padding_mask=None,
        add_zero_attn: bool = False):
    """nn.MultiheadAttention in (L, N, E): out (L, N, E) and per-head weights (N, H, L, S').

    attn_mask: bool (True = may NOT attend) or float (added), (L, S) or (N*H, L, S);
    key_padding_mask: bool (N, S), True = padding.
    """
    L, N, E = query.shape
    D = E // num_heads
    if "in_proj_weight" in w:
        wq, wk, wv = np.split(w["in_proj_weight"], 3)
    else:
        wq, wk, wv = w["q_proj_weight"], w["k_proj_weight"], w["v_proj_weight"]
    bq, bk, bv = np.split(w["in_proj_bias"], 3) if "in_proj_bias" in w else (0, 0, 0)
    out = np.zeros((L, N, E))
    weights = []
    for n in range(N):
        Q = query[:, n] @ wq.T + bq  # (L, E)
        K = key[:, n] @ wk.T + bk  # (S, E)
        V = value[:, n] @ wv.T + bv
        if "bias_k" in w:  # one extra key and value, learned
            K = np.vstack([K, w["bias_k"][0]])
            V = np.vstack([V, w["bias_v"][0]])
        heads, head_weights = [], []
        for h in range(num_heads):
            cols = slice(h * D, (h + 1) * D)
            Kh, Vh = K[:, cols], V[:, cols]
            if add_zero_attn:  # one extra key and value of zeros, per head
                Kh, Vh = np.vstack([Kh, np.zeros(D)]), np.vstack([Vh, np.zeros(D)])
            S = Kh.shape[0]
            bias = np.zeros((L, S))
            if attn_mask is not None:
                m = attn_mask if attn_mask.ndim == 2 else attn_mask[n * num_heads + h]
                m = np.where(m, -np.inf, 0.0) if m.dtype == bool else m
                bias[:, :m.shape[1]] += m
            if key_padding_mask is not None:
                pad = key_padding_mask[n]
                bias[:, :pad.shape[0]] += np.where(pad, -np.inf, 0.0)
            o, a = attention(Q[:, cols], Kh, Vh, bias)
            heads.append(o)
            head_weights.append(a)
        out[:, n] = np.hstack(heads) @ w["out_proj.weight"].T + w.get("out_proj.bias", 0)
        weights.append(head_weights)
    return out, np.array(weights)


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * weight + bias


def relu(x):
    return np.maximum(x, 0)


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _sub(w: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}


def _norm(w, name, x, eps):
    return layer_norm(x, w[f"{name}.weight"], w[f"{name}.bias"], eps)


def _ff(w, x, act):
    h = act(x @ w["linear1.weight"].T + w["linear1.bias"])
    return h @ w["linear2.weight"].T + w["linear2.bias"]


def encoder_layer(w: dict, x, nhead, act=relu, norm_first=False, mask=None, kpm=None, eps=1e-5):
    """TransformerEncoderLayer in eval mode (no dropout), x (S, N, E)."""
    def sa(y):
        return mha(_sub(w, "self_attn."), y, y, y, nhead, mask, kpm)[0]
    if norm_first:
        x = x + sa(_norm(w, "norm1", x, eps))
        return x + _ff(w, _norm(w, "norm2", x, eps), act)
    x = _norm(w, "norm1", x + sa(x), eps)
    return _norm(w, "norm2", x + _ff(w, x, act), eps)


def decoder_layer(w: dict, x, mem, nhead, act=relu, norm_first=False, tgt_mask=None,
                  memory_mask=None, eps=1e-5):
    """TransformerDecoderLayer in eval mode, x (T, N, E), mem (S, N, E)."""
    def sa(y):
        return mha(_sub(w, "self_attn."), y, y, y, nhead, tgt_mask)[0]

    def ca(y):
        return mha(_sub(w, "multihead_attn."), y, mem, mem, nhead, memory_mask)[0]
    if norm_first:
        x = x + sa(_norm(w, "norm1", x, eps))
        x = x + ca(_norm(w, "norm2", x, eps))
        return x + _ff(w, _norm(w, "norm3", x, eps), act)
    x = _norm(w, "norm1", x + sa(x), eps)
    x = _norm(w, "norm2", x + ca(x), eps)
    return _norm(w, "norm3", x + _ff(w, x, act), eps)
