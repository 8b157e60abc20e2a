"""The Transformer (Vaswani et al., 2017) as PyTorch builds it: encoder and decoder layers, their
stacks, and nn.Transformer, with PyTorch's submodule names, defaults and state-dict keys."""

import copy
from collections.abc import Callable

import numpy as np

from tinygrad_lstm.autograd import is_grad_enabled
from tinygrad_lstm.dtypes import default_float, to_numpy
from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.activation import GELU, ReLU
from tinygrad_lstm.nn.attention import MultiheadAttention
from tinygrad_lstm.nn.container import ModuleList
from tinygrad_lstm.nn.dropout import Dropout
from tinygrad_lstm.nn.linear import Linear
from tinygrad_lstm.nn.module import Module
from tinygrad_lstm.nn.normalization import LayerNorm
from tinygrad_lstm.recording import guard_on_result, read_array
from tinygrad_lstm.tensor import Tensor


def _get_activation_fn(activation: str) -> Callable:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, N: int) -> ModuleList:
    """N deep copies, each named in graph pictures by its place in the list (`layers.0`)."""
    clones = [copy.deepcopy(module) for _ in range(N)]
    for m in clones:
        m._scope_name = None
    return ModuleList(clones)


def _square_subsequent_mask(sz: int, dtype=None) -> np.ndarray:
    """(sz, sz): 0 on and below the diagonal, -inf above it."""
    dtype = to_numpy(dtype) if dtype is not None else default_float()
    return np.triu(np.full((sz, sz), -np.inf, dtype), k=1)


def _padding(key_padding_mask: Tensor) -> np.ndarray:
    """(N, S) bool, True at padded positions (a float mask pads where it is not 0)."""
    m = read_array(key_padding_mask)
    return m if m.dtype == np.bool_ else m != 0


def _as_padded_tensor(output: Tensor, pad: np.ndarray) -> Tensor:
    """(N, S, E) -> (N, S', E): what PyTorch's nested tensor gives back, 0 at padded positions
    and S' the longest sequence's length."""
    longest = int((~pad).sum(1).max())
    keep = (~pad[:, :longest, None]).astype(output._array.dtype)
    return output[:, :longest] * keep


def _get_seq_len(src: Tensor, batch_first: bool) -> int:
    return src.shape[0] if src.ndim == 2 else src.shape[1 if batch_first else 0]


@guard_on_result  # tl.compile: a mask made before the call is checked again at each replay
def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: is_causal if given, else whether `mask` is the causal mask of `size`."""
    if is_causal is not None or mask is None:
        return is_causal is True
    m = read_array(mask)
    if m.dtype == np.bool_:
        m = np.where(m, -np.inf, 0.0)  # True = masked out, as nn.MultiheadAttention reads it
    causal = _square_subsequent_mask(size)
    return m.shape == causal.shape and bool((m == causal).all())


class _Layer(Module):
    """What encoder and decoder layers share: the feed-forward block and the activation."""

    def _init_ff(self, d_model: int, dim_feedforward: int, dropout: float, bias: bool) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)

    def _set_activation(self, activation) -> None:
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        # PyTorch's flag for its fused fast path (1 relu, 2 gelu, 0 other); kept for parity
        self.activation_relu_or_gelu = (1 if activation is F.relu or isinstance(activation, ReLU)
                                        else 2 if activation is F.gelu
                                        or isinstance(activation, GELU) else 0)
        self.activation = activation

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_Layer):
    """Self-attention then a feed-forward net, each with a residual connection and LayerNorm:
    x = norm1(x + SA(x)); x = norm2(x + FF(x)), or with norm_first x = x + SA(norm1(x));
    x = x + FF(norm2(x)). FF(x) = linear2(dropout(activation(linear1(x)))).

    Submodules: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
    Shape: src (S, N, E) ((N, S, E) if batch_first, (S, E) unbatched) -> the same.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: "str | Callable" = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self._init_ff(d_model, dim_feedforward, dropout, bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self._set_activation(activation)
        if dtype is not None:
            self.to(dtype)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self.dropout2(self._ff(self.norm2(x)))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self.dropout2(self._ff(x)))
        return x


class TransformerDecoderLayer(_Layer):
    """Self-attention, attention over the encoder's output (memory), then a feed-forward net,
    each with a residual connection and LayerNorm (norm1..3, after or, with norm_first,
    before each block), as in TransformerEncoderLayer.

    Submodules: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3,
    dropout1, dropout2, dropout3. Shape: tgt (T, N, E), memory (S, N, E) -> (T, N, E)
    ((N, T, E) ... if batch_first).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: "str | Callable" = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
        self._init_ff(d_model, dim_feedforward, dropout, bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self._set_activation(activation)
        if dtype is not None:
            self.to(dtype)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self.dropout3(self._ff(self.norm3(x)))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self.dropout3(self._ff(x)))
        return x


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (`layers.0`, `layers.1`, ...) applied in turn,
    then `norm` if given. A mask equal to the causal mask is detected (is_causal=None) as in
    PyTorch. Shape: src (S, N, E) -> the same, except on PyTorch's nested-tensor path (eval,
    no gradient, batch_first, src_key_padding_mask, ...): padded positions are then 0 and the
    output as long as the longest sequence, as PyTorch returns it."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        # PyTorch's nested-tensor path (eval, no gradient, padding): see _nested_fast_path
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        first = self.layers[0] if len(self.layers) else None
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal,
                         src_key_padding_mask=src_key_padding_mask)
        if self._nested_fast_path(src, mask, src_key_padding_mask):
            output = _as_padded_tensor(output, _padding(src_key_padding_mask))
        return self.norm(output) if self.norm is not None else output

    def _nested_fast_path(self, src: Tensor, mask, src_key_padding_mask) -> bool:
        """PyTorch's conditions for running the stack on nested tensors (the padding dropped),
        which change its output: zero at padded positions, cut to the longest sequence."""
        first = self.layers[0] if len(self.layers) else None
        if not isinstance(first, TransformerEncoderLayer) or first.norm_first \
                or first.training or src.ndim != 3 or not self.enable_nested_tensor \
                or src_key_padding_mask is None or mask is not None:
            return False
        attn = first.self_attn
        if not (attn.batch_first and attn._qkv_same_embed_dim and attn.in_proj_bias is not None
                and first.activation_relu_or_gelu and first.norm1.eps == first.norm2.eps
                and attn.num_heads % 2 == 0):
            return False
        pad = _padding(src_key_padding_mask)
        if self.mask_check and not (np.diff(pad.astype(np.int8), axis=1) >= 0).all():
            return False  # padding not all at the end of each sequence
        tensors = [src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                   attn.out_proj.bias, first.norm1.weight, first.norm1.bias, first.norm2.weight,
                   first.norm2.bias, first.linear1.weight, first.linear1.bias,
                   first.linear2.weight, first.linear2.bias]
        return not (is_grad_enabled() and any(t is not None and t.requires_grad
                                                for t in tensors))


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer (`layers.0`, ...) applied in turn to tgt, each
    attending to memory, then `norm` if given. Shape: tgt (T, N, E), memory (S, N, E) ->
    (T, N, E)."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        first = self.layers[0] if len(self.layers) else None
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _get_seq_len(tgt, batch_first))
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self.norm(output) if self.norm is not None else output


class Transformer(Module):
    """An encoder (num_encoder_layers layers + LayerNorm) and a decoder (num_decoder_layers
    + LayerNorm); every parameter of 2 or more dims is drawn Glorot-uniform, as in PyTorch.

    Submodules: encoder (TransformerEncoder: layers.i, norm), decoder (TransformerDecoder).
    Shape: src (S, N, E), tgt (T, N, E) -> (T, N, E) ((N, S, E) ... if batch_first).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: "str | Callable" = F.relu,
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        layer_args = dict(dim_feedforward=dim_feedforward, dropout=dropout,
                          activation=activation, layer_norm_eps=layer_norm_eps,
                          batch_first=batch_first, norm_first=norm_first, bias=bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **layer_args)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **layer_args)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        if dtype is not None:
            self.to(dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 where j <= i, -inf where j > i (position i sees only j <= i)."""
        return Tensor(_square_subsequent_mask(sz, dtype))
