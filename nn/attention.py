"""MultiheadAttention, with PyTorch's parameters, state-dict keys, masks and layouts."""

import numpy as np

from tinygrad_lstm.dtypes import default_float
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.functional_attention import multi_head_attention_forward
from tinygrad_lstm.nn.linear import NonDynamicallyQuantizableLinear
from tinygrad_lstm.nn.module import Module, check_size
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.tensor import Tensor


class MultiheadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W_i^Q,
    K W_i^K, V W_i^V), Attention(q, k, v) = softmax(q k^T / sqrt(D) + mask) v, D = E / h.

    Parameters: in_proj_weight (3E, E) and in_proj_bias (3E,) hold W^Q, W^K, W^V stacked (or,
    if kdim or vdim differ from E, q_proj_weight (E, E), k_proj_weight (E, kdim),
    v_proj_weight (E, vdim)); out_proj (Linear E -> E); bias_k, bias_v (1, 1, E) if
    add_bias_kv. Bool masks are True where attending is NOT allowed; float masks are added.
    Shape: query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ... if
    batch_first; (L, E) unbatched), key_padding_mask (N, S), attn_mask (L, S) or (N*h, L, S)
    -> output (L, N, E), weights (N, L, S) averaged over heads or (N, h, L, S), or None.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        check_size("MultiheadAttention", "embed_dim", embed_dim)
        check_size("MultiheadAttention", "num_heads", num_heads)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        f = default_float()
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), f))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), f))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), f))
            self.in_proj_weight = None
        else:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), f))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        self.in_proj_bias = Parameter(np.empty(3 * embed_dim, f)) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), f))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), f))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def _reset_parameters(self) -> None:
        # PyTorch's: Glorot-uniform projections, zero biases, Glorot-normal bias_k / bias_v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        batched = isinstance(query, Tensor) and query.ndim == 3
        if self.batch_first and batched:
            # to (L, N, E), keeping `query is key is value` for the packed projection
            query, key, value = _seq_first(query, key, value)
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)  # (N, L, E)
        return out, weights


def _seq_first(query: Tensor, key: Tensor, value: Tensor) -> tuple:
    """(N, L, E) -> (L, N, E) for each, transposing a tensor passed twice only once."""
    done = {}

    def t(x):
        if id(x) not in done:
            done[id(x)] = x.transpose(1, 0) if isinstance(x, Tensor) else x
        return done[id(x)]
    return t(query), t(key), t(value)
