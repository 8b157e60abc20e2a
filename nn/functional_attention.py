"""Attention functions of nn.functional, composed of Tensor ops (matmul, softmax, dropout).

    scaled_dot_product_attention(q, k, v)  softmax(q k^T * scale + mask) v
    multi_head_attention_forward(...)      nn.MultiheadAttention's computation, PyTorch's form

Two mask conventions meet here, as in PyTorch: a bool `attn_mask` of scaled_dot_product_attention
is True where attending is ALLOWED, while nn.MultiheadAttention's bool masks (attn_mask and
key_padding_mask) are True where attending is NOT allowed. Float masks are added to the scores.
"""

import math

import numpy as np

from tinygrad_lstm.autograd import graph_scope
from tinygrad_lstm.nn.functional import dropout, linear
from tinygrad_lstm.recording import _state, read_array
from tinygrad_lstm.tensor import Tensor, cat, where


def _check_tensor(x, fn: str, what: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: expected {what} to be a Tensor, got {type(x).__name__}")


def _is_bool(mask) -> bool:
    return mask._array.dtype == np.bool_


def _masked_bias(masked_out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """0 where attending is allowed, -inf where it is not (a constant: masks get no gradient)."""
    return np.where(masked_out, dtype.type(-np.inf), dtype.type(0))


def _causal_bias(L: int, S: int, dtype: np.dtype) -> np.ndarray:
    """(L, S): -inf above the diagonal, so position i attends to positions j <= i."""
    return _masked_bias(np.triu(np.ones((L, S), bool), k=1), dtype)


def _check_mask_dtype(mask, fn: str, name: str, query: Tensor) -> None:
    """A mask is bool, or float of the query's dtype (it is added to the scores)."""
    _check_tensor(mask, fn, name)
    if not (_is_bool(mask) or mask.is_floating_point()):
        raise AssertionError(f"only bool and floating types of {name} are supported, got "
                             f"{mask.dtype}")
    if not _is_bool(mask) and mask.dtype is not query.dtype:
        raise RuntimeError(f"Expected {name} dtype to be bool or float or to match query dtype, "
                           f"but got {name}.dtype: {mask.dtype} and query.dtype: {query.dtype} "
                           f"instead.")


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, with rows whose every score is -inf (nothing may be attended)
    set to 0 rather than NaN, as PyTorch's SDPA does since 2.5 (its _safe_softmax). The dead
    rows are given finite scores first, so no NaN reaches the gradient either."""
    dead = np.isneginf(read_array(scores)).all(-1, keepdims=True)
    # perf: eager skips the two wheres when no row is dead; a tl.compile program cannot branch
    # on values, so it always takes them (the same values either way)
    if _state.tracer is None and not dead.any():
        return scores.softmax(-1)
    weights = where(dead, 0.0, scores).softmax(-1)
    return where(dead, 0.0, weights)


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """(..., Hk, S, E) -> (..., Hk * groups, S, E), each head repeated `groups` times in place
    (repeat_interleave on dim -3), for grouped-query attention."""
    *lead, h, s, e = x.shape
    x = x.unsqueeze(-3).expand(*lead, h, groups, s, e)
    return x.reshape(*lead, h * groups, s, e)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + bias) V, with scale = 1/sqrt(E) unless given.

    bias: a bool attn_mask is True where attending is allowed (-inf elsewhere), a float one is
    added; is_causal masks j > i. Dropout (p = dropout_p) acts on the weights, always (no
    `training` flag, as in PyTorch). Shape: Q (..., L, E), K (..., S, E), V (..., S, Ev),
    attn_mask broadcastable to (..., L, S) -> (..., L, Ev).
    """
    fn = "scaled_dot_product_attention"
    for name, x in (("query", query), ("key", key), ("value", value)):
        _check_tensor(x, fn, name)
        if x.ndim < 2:
            raise RuntimeError(f"{fn}: expected {name} to have at least 2 dims (..., L, E), got "
                               f"shape {tuple(x.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{fn}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                           f"{tuple(value.shape)} do not fit (..., L, E), (..., S, E), "
                           f"(..., S, Ev)")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3] or query.shape[-3] % value.shape[-3]:
            raise RuntimeError(f"{fn}: with enable_gqa, the number of query heads "
                               f"{query.shape[-3]} must be a multiple of the key and value "
                               f"heads ({key.shape[-3]}, {value.shape[-3]})")
        key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    dtype = query._array.dtype
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * dtype.type(scale)  # (..., L, S)
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        scores = scores + _causal_bias(L, S, dtype)
    if attn_mask is not None:
        _check_mask_dtype(attn_mask, fn, "attn_mask", query)
        try:
            np.broadcast_shapes(attn_mask.shape, scores.shape)
        except ValueError:
            raise RuntimeError(f"{fn}: attn_mask of shape {tuple(attn_mask.shape)} does not "
                               f"broadcast to the attention scores' shape "
                               f"{tuple(scores.shape)} (..., L, S)") from None
        if _is_bool(attn_mask):
            scores = scores + _masked_bias(~read_array(attn_mask), dtype)  # True = may attend
        else:
            scores = scores + attn_mask
    weights = _safe_softmax(scores)  # a row with nothing to attend gives 0
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value  # (..., L, Ev)


# ---------------------------------------------------------------- multi-head attention


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads: int) -> bool:
    """PyTorch's checks (AssertionError and its wording); True if the input is batched."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be "
                                 f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                 f"instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to "
                                 f"be 2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                     f"instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                     f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.ndim}-D query tensor")


def _in_projection(query, key, value, in_proj_weight, in_proj_bias, q_proj_weight,
                   k_proj_weight, v_proj_weight, use_separate_proj_weight: bool):
    """q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v."""
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if use_separate_proj_weight:
        return (linear(query, q_proj_weight, b_q), linear(key, k_proj_weight, b_k),
                linear(value, v_proj_weight, b_v))
    if query is key and key is value:  # self-attention: one matmul for the three
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
    w_q, w_k, w_v = in_proj_weight.chunk(3)
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def _pad_last(mask):
    """Append one column of zeros (attend) on the last dim: the mask grows with bias_k or the
    zero attention. `mask` is a float bias, a Tensor or a NumPy array."""
    if isinstance(mask, Tensor):
        return cat([mask, Tensor(np.zeros(mask.shape[:-1] + (1,), mask._array.dtype))], dim=-1)
    return np.concatenate([mask, np.zeros(mask.shape[:-1] + (1,), mask.dtype)], -1)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention in PyTorch's (L, N, E) layout (see nn.MultiheadAttention).

    head_i = softmax(Q_i K_i^T / sqrt(D) + mask) V_i with Q_i, K_i, V_i the i-th D-column block
    of the projections; out = concat(head_1..head_H) W_out^T + b_out. Bool masks are True where
    attending is NOT allowed. Shape: query (L, N, E) or (L, E), key/value (S, N, E*) ->
    out (L, N, E), weights (N, L, S) (or (N, H, L, S) without averaging) or None.
    """
    fn = "multi_head_attention_forward"
    for name, x in (("query", query), ("key", key), ("value", value)):
        _check_tensor(x, fn, name)
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{fn}: static_k and static_v are not supported here")
    for name, m in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
        if m is not None:
            _check_mask_dtype(m, fn, name, query)
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:  # run as a batch of one
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
    elif key.shape != value.shape:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    # PyTorch trusts the hint when nothing else needs the mask: the mask is then not read
    causal_only = is_causal and key_padding_mask is None and not need_weights
    if causal_only:
        attn_mask = None
    dtype = query._array.dtype

    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, q_proj_weight,
                             k_proj_weight, v_proj_weight, use_separate_proj_weight)
    # masks as one additive float bias (a bool True becomes -inf), 3-D (1 or N*H, L, S)
    mask = None
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                               f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        mask = _masked_bias(read_array(attn_mask), dtype) if _is_bool(attn_mask) else attn_mask
        if mask.ndim == 2:
            mask = mask.reshape(1, tgt_len, src_len)
    kpm = None
    if key_padding_mask is not None:
        kpm = read_array(key_padding_mask)
        kpm = _masked_bias(kpm, dtype) if kpm.dtype == np.bool_ else kpm.astype(dtype)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])  # (S+1, N, E)
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        mask = None if mask is None else _pad_last(mask)
        kpm = None if kpm is None else _pad_last(kpm)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must be given together")
    # (S, N, E) -> (N*H, S, D): batch n, head h at index n*H + h
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = Tensor(np.zeros((bsz * num_heads, 1, head_dim), dtype))
        k, v = cat([k, zeros], dim=1), cat([v, zeros], dim=1)
        mask = None if mask is None else _pad_last(mask)
        kpm = None if kpm is None else _pad_last(kpm)
    src_len = k.shape[1]
    if kpm is not None:
        if kpm.shape != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                                 f"got {kpm.shape}")
        kpm = np.repeat(kpm, num_heads, axis=0)[:, None, :]  # (N*H, 1, S)
        mask = kpm if mask is None else mask + kpm
    if not training:
        dropout_p = 0.0

    with graph_scope(f"attention ({num_heads} heads)"):
        # PyTorch computes the weights itself when they are returned (a row with nothing to
        # attend is then NaN) and calls SDPA otherwise (such a row is then 0)
        out, weights = _attend(q, k, v, mask, dropout_p, causal_only,
                               safe=not need_weights)  # (N*H, L, D)
    out = out.transpose(0, 1).reshape(tgt_len, bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)  # (L, N, E)
    if not need_weights:
        return (out if is_batched else out.squeeze(1)), None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.sum(dim=1) / dtype.type(num_heads)  # (N, L, S)
    if not is_batched:
        return out.squeeze(1), weights.squeeze(0)
    return out, weights


def _attend(q: Tensor, k: Tensor, v: Tensor, mask, dropout_p: float, is_causal: bool,
            safe: bool):
    """(softmax((q / sqrt(D)) k^T + mask) with dropout) v, and those weights (N*H, L, S)."""
    dtype = q._array.dtype
    scores = (q * dtype.type(math.sqrt(1.0 / q.shape[-1]))) @ k.transpose(1, 2)  # (N*H, L, S)
    if is_causal:
        scores = scores + _causal_bias(q.shape[1], k.shape[1], dtype)
    if mask is not None:
        scores = scores + mask
    weights = _safe_softmax(scores) if safe else scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ v, weights
