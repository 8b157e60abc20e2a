"""Transformer encoder/decoder layers, their stacks and nn.Transformer: PyTorch's submodule names
and state-dict keys, outputs against the layers written out in NumPy float64
(tests/reference/attention.py), gradients by finite differences, and a word-language-model
program written the way pytorch/examples writes it (subclassing nn.Transformer)."""

import copy
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn import functional as F

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.reference import attention as ref  # noqa: E402

ENCODER_LAYER_KEYS = ["self_attn.in_proj_weight", "self_attn.in_proj_bias",
                      "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                      "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight",
                      "norm1.bias", "norm2.weight", "norm2.bias"]
DECODER_LAYER_KEYS = ["self_attn.in_proj_weight", "self_attn.in_proj_bias",
                      "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                      "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
                      "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
                      "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                      "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight",
                      "norm3.bias"]


def t64(a, requires_grad=False):
    return Tensor(np.asarray(a, np.float64), requires_grad=requires_grad)


def random_weights(module: nn.Module, rng) -> dict:
    w = {k: rng.standard_normal(v.shape) * 0.5 for k, v in module.state_dict().items()}
    module.double().load_state_dict(w)
    return w


def sub(w: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}


CAUSAL4 = np.triu(np.full((4, 4), -np.inf), 1)


# ---------------------------------------------------------------- layers


def test_layer_defaults_and_names():
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2)
    assert list(layer.state_dict()) == ENCODER_LAYER_KEYS
    assert [n for n, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1
    assert layer.norm1.eps == 1e-5 and layer.activation is F.relu and not layer.norm_first
    assert not layer.self_attn.batch_first and layer.self_attn.dropout == 0.1
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, bias=False)
    assert list(dec.state_dict()) == [k for k in DECODER_LAYER_KEYS if not k.endswith("bias")]
    assert nn.modules.transformer.TransformerEncoderLayer is nn.TransformerEncoderLayer
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
def test_encoder_layer_matches_numpy(norm_first, activation):
    rng = np.random.default_rng(0)
    act = {"relu": "relu", "gelu": "gelu", "callable": nn.Tanh()}[activation]
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, activation=act,
                                       norm_first=norm_first, layer_norm_eps=1e-6).eval()
    w = random_weights(layer, rng)
    x = rng.standard_normal((4, 2, 4))
    kpm = np.array([[False] * 4, [False, False, False, True]])
    out = layer(t64(x), src_mask=t64(CAUSAL4), src_key_padding_mask=Tensor(kpm))
    np_act = {"relu": ref.relu, "gelu": ref.gelu, "callable": np.tanh}[activation]
    expected = ref.encoder_layer(w, x, 2, np_act, norm_first, CAUSAL4, kpm, eps=1e-6)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_numpy(norm_first):
    rng = np.random.default_rng(1)
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, norm_first=norm_first).eval()
    w = random_weights(layer, rng)
    tgt, mem = rng.standard_normal((4, 2, 4)), rng.standard_normal((3, 2, 4))
    memory_mask = rng.standard_normal((4, 3))
    out = layer(t64(tgt), t64(mem), tgt_mask=t64(CAUSAL4), memory_mask=t64(memory_mask))
    expected = ref.decoder_layer(w, tgt, mem, 2, norm_first=norm_first, tgt_mask=CAUSAL4,
                                 memory_mask=memory_mask)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)


def test_layers_gradcheck():
    rng = np.random.default_rng(2)
    enc = nn.TransformerEncoderLayer(4, 2, dim_feedforward=3, dropout=0.0, activation="gelu")
    random_weights(enc, rng)
    x = t64(rng.standard_normal((3, 2, 4)), True)
    mask = t64(CAUSAL4[:3, :3])
    assert gradcheck(lambda x, *p: enc(x, src_mask=mask), [x, *enc.parameters()])
    dec = nn.TransformerDecoderLayer(4, 2, dim_feedforward=3, dropout=0.0, norm_first=True)
    random_weights(dec, rng)
    mem = t64(rng.standard_normal((2, 2, 4)), True)
    assert gradcheck(lambda x, m, *p: dec(x, m, tgt_mask=mask), [x, mem, *dec.parameters()])


def test_dropout_acts_in_training_only():
    rng = np.random.default_rng(3)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.5)
    random_weights(layer, rng)
    x = t64(rng.standard_normal((3, 2, 4)))
    tl.manual_seed(0)
    a = layer(x).numpy()
    b = layer(x).numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())


# ---------------------------------------------------------------- stacks and nn.Transformer


def test_module_deepcopy_gives_independent_parameters():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    twin = copy.deepcopy(layer)
    for (name, p), (name2, q) in zip(layer.named_parameters(), twin.named_parameters()):
        assert name == name2 and p is not q and isinstance(q, nn.Parameter)
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    with tl.no_grad():
        twin.linear1.weight.zero_()
    assert np.abs(layer.linear1.weight.numpy()).sum() > 0


def test_encoder_stack_copies_the_layer_and_matches_numpy():
    rng = np.random.default_rng(4)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    enc = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(4),
                                enable_nested_tensor=False).eval()
    keys = [f"layers.{i}.{k}" for i in range(3) for k in ENCODER_LAYER_KEYS]
    assert list(enc.state_dict()) == keys + ["norm.weight", "norm.bias"]
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(enc.layers[0].linear1.weight.numpy(),
                                  enc.layers[2].linear1.weight.numpy())  # deep copies
    w = random_weights(enc, rng)
    x = rng.standard_normal((4, 2, 4))
    expected = x
    for i in range(3):
        expected = ref.encoder_layer(sub(w, f"layers.{i}."), expected, 2, mask=CAUSAL4)
    expected = ref.layer_norm(expected, w["norm.weight"], w["norm.bias"])
    mask = nn.Transformer.generate_square_subsequent_mask(4).double()
    np.testing.assert_allclose(enc(t64(x), mask=mask).numpy(), expected, rtol=1e-9, atol=1e-10)
    # a bool mask (True = not allowed) and the is_causal flag say the same
    bool_mask = Tensor(np.triu(np.ones((4, 4), bool), 1))
    np.testing.assert_allclose(enc(t64(x), mask=bool_mask, is_causal=True).numpy(), expected,
                               rtol=1e-9, atol=1e-10)


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == tl.float32
    np.testing.assert_array_equal(m.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                              [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=tl.float64).dtype \
        == tl.float64


def test_transformer_keys_defaults_and_values():
    t = nn.Transformer()
    assert (t.d_model, t.nhead, len(t.encoder.layers), len(t.decoder.layers)) == (512, 8, 6, 6)
    assert t.encoder.layers[0].linear1.out_features == 2048
    rng = np.random.default_rng(5)
    t = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                       dim_feedforward=6, norm_first=True).eval()
    keys = ([f"encoder.layers.{i}.{k}" for i in range(2) for k in ENCODER_LAYER_KEYS]
            + ["encoder.norm.weight", "encoder.norm.bias"]
            + [f"decoder.layers.0.{k}" for k in DECODER_LAYER_KEYS]
            + ["decoder.norm.weight", "decoder.norm.bias"])
    assert list(t.state_dict()) == keys
    for name, p in t.named_parameters():  # Glorot-uniform on every matrix
        if p.ndim > 1:
            bound = math.sqrt(6 / sum(p.shape))
            assert np.abs(p.numpy()).max() <= bound, name
    w = random_weights(t, rng)
    src, tgt = rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 2, 4))
    mem = src
    for i in range(2):
        mem = ref.encoder_layer(sub(w, f"encoder.layers.{i}."), mem, 2, norm_first=True)
    mem = ref.layer_norm(mem, w["encoder.norm.weight"], w["encoder.norm.bias"])
    expected = ref.decoder_layer(sub(w, "decoder.layers.0."), tgt, mem, 2, norm_first=True,
                                 tgt_mask=CAUSAL4)
    expected = ref.layer_norm(expected, w["decoder.norm.weight"], w["decoder.norm.bias"])
    out = t(t64(src), t64(tgt), tgt_mask=t.generate_square_subsequent_mask(4).double())
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)
    t.batch_first = True
    for m in t.modules():
        if isinstance(m, nn.MultiheadAttention):
            m.batch_first = True
    out_bf = t(t64(src.transpose(1, 0, 2)), t64(tgt.transpose(1, 0, 2)),
               tgt_mask=t.generate_square_subsequent_mask(4).double())
    np.testing.assert_allclose(out_bf.numpy().transpose(1, 0, 2), expected, rtol=1e-9,
                               atol=1e-10)


def test_transformer_errors():
    t = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                       dim_feedforward=4)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        t(tl.zeros(3, 2, 4), tl.zeros(3, 1, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal "
                                           "to d_model"):
        t(tl.zeros(3, 2, 5), tl.zeros(3, 2, 5))


# ---------------------------------------------------------------- pytorch/examples style program


class PositionalEncoding(nn.Module):
    """Sinusoidal positions, as in the word_language_model example (written here anew)."""

    def __init__(self, d_model, dropout=0.1, max_len=50):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = np.arange(max_len, dtype=np.float32)[:, None]
        div_term = np.exp(np.arange(0, d_model, 2, dtype=np.float32)
                          * (-math.log(10000.0) / d_model))
        pe = tl.zeros(max_len, d_model)
        pe[:, 0::2] = Tensor(np.sin(position * div_term))
        pe[:, 1::2] = Tensor(np.cos(position * div_term))
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)


class TransformerModel(nn.Transformer):
    """A language model that subclasses nn.Transformer and uses only its encoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                         num_encoder_layers=nlayers)
        self.model_type = "Transformer"
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)  # replaces the TransformerDecoder
        nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, src, has_mask=True):
        if has_mask:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = self.generate_square_subsequent_mask(len(src))
        else:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


def test_word_language_model_style_subclass_trains():
    tl.manual_seed(0)
    model = TransformerModel(ntoken=11, ninp=8, nhead=2, nhid=16, nlayers=2, dropout=0.2)
    assert "decoder.weight" in model.state_dict() and "pos_encoder.pe" in model.state_dict()
    assert not any(k.startswith("decoder.layers") for k in model.state_dict())
    rng = np.random.default_rng(6)
    data = Tensor(rng.integers(0, 11, (7, 3)))  # (T, N) token ids
    targets = Tensor(rng.integers(0, 11, (7 * 3,)))
    opt = tl.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        output = model(data)
        assert output.shape == (7, 3, 11)
        loss = F.nll_loss(output.view(-1, 11), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        losses.append(loss.item())
    assert model.encoder.layers[1].self_attn.in_proj_weight.grad is not None
    assert losses[-1] < losses[0]
    model.eval()
    # causal: the first position's prediction does not depend on later tokens
    a = model(data).numpy()
    data2 = data.numpy().copy()
    data2[3:] = (data2[3:] + 1) % 11
    b = model(Tensor(data2)).numpy()
    np.testing.assert_allclose(a[:3], b[:3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[3:], b[3:])


def test_encoder_nested_tensor_path_zeroes_padding_like_pytorch():
    """In eval mode without gradients, PyTorch runs a batch_first encoder with a padding mask
    on nested tensors: valid positions as usual, padded ones 0, cut to the longest sequence."""
    rng = np.random.default_rng(7)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).eval()
    w = random_weights(enc, rng)
    x = rng.standard_normal((2, 5, 4))  # (N, S, E)
    kpm = np.array([[False, False, False, True, True], [False, False, True, True, True]])
    seq = x.transpose(1, 0, 2)
    for i in range(2):
        seq = ref.encoder_layer(sub(w, f"layers.{i}."), seq, 2, kpm=kpm)
    expected = seq.transpose(1, 0, 2)
    with tl.no_grad():
        out = enc(t64(x), src_key_padding_mask=Tensor(kpm)).numpy()
    assert out.shape == (2, 3, 4)  # the longest sequence has 3 tokens
    np.testing.assert_allclose(out[0], expected[0, :3], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(out[1, :2], expected[1, :2], rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(out[1, 2], 0)
    out = enc(t64(x), src_key_padding_mask=Tensor(kpm))  # gradients wanted: the plain path
    assert out.shape == (2, 5, 4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)
    kpm_middle = np.array([[False, True, False, False, False]] * 2)  # not at the end
    with tl.no_grad():
        assert enc(t64(x), src_key_padding_mask=Tensor(kpm_middle)).shape == (2, 5, 4)
