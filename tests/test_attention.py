"""F.scaled_dot_product_attention and nn.MultiheadAttention against the attention equations
written out in NumPy float64 (tests/reference/attention.py), gradients by finite differences,
PyTorch's parameter layout and state-dict keys, masks, padding and shape errors."""

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


def t64(a, requires_grad=False):
    return Tensor(np.asarray(a, np.float64), requires_grad=requires_grad)


def random_weights(module: nn.Module, rng) -> dict:
    """Load random float64 arrays under the module's own (PyTorch's) keys; return them."""
    w = {k: rng.standard_normal(v.shape) * 0.5 for k, v in module.state_dict().items()}
    module.double().load_state_dict(w)
    return w


# ---------------------------------------------------------------- scaled_dot_product_attention


def test_sdpa_matches_numpy_per_head():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), \
        rng.standard_normal((2, 3, 6, 7))
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v)).numpy()
    assert out.shape == (2, 3, 4, 7)
    for n in range(2):
        for h in range(3):
            np.testing.assert_allclose(out[n, h], ref.attention(q[n, h], k[n, h], v[n, h])[0],
                                       rtol=1e-10, atol=1e-12)


def test_sdpa_masks_scale_and_causal():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((4, 3)) for _ in range(3))
    allowed = rng.random((4, 4)) < 0.6
    allowed[:, 0] = True  # every query sees something
    # a bool mask here is True where attending is ALLOWED
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=Tensor(allowed))
    expected = ref.attention(q, k, v, np.where(allowed, 0.0, -np.inf))[0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    bias = rng.standard_normal((4, 4))
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=t64(bias), scale=0.3)
    np.testing.assert_allclose(out.numpy(), ref.attention(q, k, v, bias, scale=0.3)[0],
                               rtol=1e-10)
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), is_causal=True)
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    np.testing.assert_allclose(out.numpy(), ref.attention(q, k, v, causal)[0], rtol=1e-10)
    np.testing.assert_allclose(out.numpy()[0], v[0], rtol=1e-12)  # row 0 sees only key 0


def test_sdpa_grouped_query_heads():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((4, 3, 2)), rng.standard_normal((2, 5, 2)), \
        rng.standard_normal((2, 5, 2))
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), enable_gqa=True).numpy()
    for h in range(4):  # query heads 0, 1 share key head 0; 2, 3 share key head 1
        np.testing.assert_allclose(out[h], ref.attention(q[h], k[h // 2], v[h // 2])[0],
                                   rtol=1e-10)


def test_sdpa_dropout():
    q = k = v = Tensor(np.ones((1, 2, 3, 2), np.float32))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(out.numpy(), 0)  # every weight dropped
    tl.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    # kept weights are scaled by 2: each output is (2/3) * (number of kept keys)
    np.testing.assert_allclose(a * 1.5 % 1, 0, atol=1e-6)


def test_sdpa_gradcheck():
    rng = np.random.default_rng(3)
    q, k, v = (t64(rng.standard_normal((2, 3, 2)), True) for _ in range(3))
    bias = t64(rng.standard_normal((3, 3)), True)
    assert gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b),
                     [q, k, v, bias])
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                     [q, k, v])


def test_sdpa_errors():
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=Tensor(np.ones((3, 3), bool)),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match=r"query \(2, 3, 4\), key \(2, 3, 5\)"):
        F.scaled_dot_product_attention(x, Tensor(np.zeros((2, 3, 5), np.float32)), x)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=Tensor(np.zeros((4, 4), np.float32)))
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float or to "
                                           "match query dtype"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=Tensor(np.zeros((3, 3))))


# ---------------------------------------------------------------- MultiheadAttention: layout


def test_mha_parameters_and_init_follow_pytorch():
    m = nn.MultiheadAttention(8, 2)
    assert list(m.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                    "out_proj.bias"]
    assert m.in_proj_weight.shape == (24, 8) and m.in_proj_bias.shape == (24,)
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear) and m.head_dim == 4 and m._qkv_same_embed_dim
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0)
    bound = math.sqrt(6 / (8 + 24))  # xavier_uniform_ on (3E, E)
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    assert np.abs(m.in_proj_weight.numpy()).max() > 0.8 * bound
    m = nn.MultiheadAttention(6, 3, bias=False, add_bias_kv=True, kdim=4, vdim=5)
    assert list(m.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                    "bias_k", "bias_v", "out_proj.weight"]
    assert m.in_proj_weight is None and m.in_proj_bias is None
    assert (m.q_proj_weight.shape, m.k_proj_weight.shape, m.v_proj_weight.shape,
            m.bias_k.shape) == ((6, 6), (6, 4), (6, 5), (1, 1, 6))
    assert nn.modules.activation.MultiheadAttention is nn.MultiheadAttention


def test_mha_constructor_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)


# ---------------------------------------------------------------- MultiheadAttention: values


def run(module, q, k, v, **kw):
    out, weights = module(t64(q), t64(k), t64(v), **kw)
    return out.numpy(), None if weights is None else weights.numpy()


def test_mha_self_attention_loads_pytorch_keys_and_matches_numpy():
    rng = np.random.default_rng(4)
    m = nn.MultiheadAttention(6, 3)
    w = random_weights(m, rng)
    x = rng.standard_normal((5, 2, 6))
    xt = t64(x)
    out, weights = m(xt, xt, xt)
    expected, head_weights = ref.mha(w, x, x, x, 3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), head_weights.mean(1), rtol=1e-10)  # (N, L, S)
    _, per_head = m(xt, xt, xt, average_attn_weights=False)
    np.testing.assert_allclose(per_head.numpy(), head_weights, rtol=1e-10)
    assert m(xt, xt, xt, need_weights=False)[1] is None


def test_mha_cross_attention_with_kdim_vdim():
    rng = np.random.default_rng(5)
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5)
    w = random_weights(m, rng)
    q, k, v = rng.standard_normal((3, 2, 4)), rng.standard_normal((6, 2, 3)), \
        rng.standard_normal((6, 2, 5))
    out, weights = run(m, q, k, v)
    expected, head_weights = ref.mha(w, q, k, v, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, head_weights.mean(1), rtol=1e-10)


@pytest.mark.parametrize("kind", ["bool2d", "float2d", "bool3d", "float3d"])
@pytest.mark.parametrize("padding", [False, True])
def test_mha_masks_and_padding(kind, padding):
    rng = np.random.default_rng(6)
    L, S, N, H = 3, 4, 2, 2
    m = nn.MultiheadAttention(4, H)
    w = random_weights(m, rng)
    q, kv = rng.standard_normal((L, N, 4)), rng.standard_normal((S, N, 4))
    shape = (L, S) if kind.endswith("2d") else (N * H, L, S)
    if kind.startswith("bool"):
        mask = rng.random(shape) < 0.4  # True = may NOT attend
        mask[..., 0] = False
    else:
        mask = rng.standard_normal(shape)
    kpm = None
    if padding:
        kpm = np.zeros((N, S), bool)
        kpm[0, 3], kpm[1, 2:] = True, True  # padding at the end of each sequence
    out, weights = run(m, q, kv, kv, attn_mask=Tensor(mask),
                       key_padding_mask=None if kpm is None else Tensor(kpm))
    expected, head_weights = ref.mha(w, q, kv, kv, H, mask, kpm)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, head_weights.mean(1), rtol=1e-10, atol=1e-15)
    if padding:
        assert (weights[1, :, 2:] == 0).all()  # no weight on padded keys


def test_mha_bias_kv_and_zero_attn_grow_the_keys():
    rng = np.random.default_rng(7)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True)
    w = random_weights(m, rng)
    q, kv = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    mask = np.zeros((3, 5), bool)
    mask[0, 1] = True
    kpm = np.zeros((2, 5), bool)
    kpm[1, 4] = True
    out, weights = run(m, q, kv, kv, attn_mask=Tensor(mask), key_padding_mask=Tensor(kpm),
                       average_attn_weights=False)
    expected, head_weights = ref.mha(w, q, kv, kv, 2, mask, kpm, add_zero_attn=True)
    assert weights.shape == (2, 2, 3, 7)  # S + bias_k + zero attention
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, head_weights, rtol=1e-10, atol=1e-15)


def test_mha_batch_first_and_unbatched_agree_with_seq_first():
    rng = np.random.default_rng(8)
    m = nn.MultiheadAttention(4, 2, batch_first=True)
    random_weights(m, rng)
    x = rng.standard_normal((2, 3, 4))  # (N, L, E)
    xt = t64(x)
    out, weights = m(xt, xt, xt)
    m.batch_first = False
    seq = t64(x.transpose(1, 0, 2))
    out_seq, weights_seq = m(seq, seq, seq)
    np.testing.assert_allclose(out.numpy(), out_seq.numpy().transpose(1, 0, 2), rtol=1e-12)
    np.testing.assert_allclose(weights.numpy(), weights_seq.numpy(), rtol=1e-12)
    one = t64(x[1])  # unbatched (L, E)
    out_one, weights_one = m(one, one, one, key_padding_mask=Tensor(np.zeros(3, bool)))
    assert out_one.shape == (3, 4) and weights_one.shape == (3, 3)
    np.testing.assert_allclose(out_one.numpy(), out.numpy()[1], rtol=1e-12)


def test_mha_is_causal_hint():
    rng = np.random.default_rng(9)
    m = nn.MultiheadAttention(4, 2)
    w = random_weights(m, rng)
    x = rng.standard_normal((4, 1, 4))
    xt = t64(x)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(xt, xt, xt, is_causal=True)
    causal = nn.Transformer.generate_square_subsequent_mask(4).double()
    expected = ref.mha(w, x, x, x, 2, np.triu(np.full((4, 4), -np.inf), 1))[0]
    for need_weights in (True, False):
        out = m(xt, xt, xt, attn_mask=causal, is_causal=True, need_weights=need_weights)[0]
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


def test_mha_dropout_only_in_training():
    rng = np.random.default_rng(10)
    m = nn.MultiheadAttention(4, 2, dropout=0.5)
    random_weights(m, rng)
    x = t64(rng.standard_normal((3, 2, 4)))
    tl.manual_seed(0)
    _, w_train = m(x, x, x, average_attn_weights=False)
    assert (w_train.numpy() == 0).any()  # the returned weights are the dropped ones
    m.eval()
    _, w_eval = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w_eval.numpy().sum(-1), 1, rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(add_bias_kv=True, add_zero_attn=True),
                                dict(kdim=3, vdim=2)])
def test_mha_gradcheck(kw):
    rng = np.random.default_rng(11)
    m = nn.MultiheadAttention(4, 2, **kw)
    random_weights(m, rng)
    q = t64(rng.standard_normal((3, 2, 4)), True)
    k = t64(rng.standard_normal((2, 2, kw.get("kdim", 4))), True)
    v = t64(rng.standard_normal((2, 2, kw.get("vdim", 4))), True)
    mask = t64(rng.standard_normal((3, 2)))
    kpm = Tensor(np.array([[False, False], [False, True]]))

    def fn(q, k, v, *params):
        return m(q, k, v, attn_mask=mask, key_padding_mask=kpm)

    assert gradcheck(fn, [q, k, v, *m.parameters()])


def test_mha_shape_errors_use_pytorchs_wording():
    m = nn.MultiheadAttention(4, 2)
    x = Tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor "
                                             "but received 4-D query tensor"):
        m(x[None], x[None], x[None])
    with pytest.raises(AssertionError, match="For batched \\(3-D\\) `query`, expected `key` and "
                                             "`value` to be 3-D but found 2-D and 3-D"):
        m(x, x[0], x)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(3, 2\), but "
                                           r"should be \(3, 3\)\."):
        m(x, x, x, attn_mask=Tensor(np.zeros((3, 2), bool)))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask is \(2, 3, 3\), but "
                                           r"should be \(4, 3, 3\)\."):
        m(x, x, x, attn_mask=Tensor(np.zeros((2, 3, 3), bool)))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(2, 3\)"):
        m(x, x, x, key_padding_mask=Tensor(np.zeros((2, 4), bool)))
    with pytest.raises(RuntimeError, match="Expected key_padding_mask dtype to be bool or float"):
        m(x, x, x, key_padding_mask=Tensor(np.zeros((2, 3))))
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 4, but got 5"):
        y = Tensor(np.zeros((3, 2, 5), np.float32))
        m(y, y, y)


def test_row_with_nothing_to_attend():
    """SDPA (and MHA without weights, which calls it) gives 0 for such a row since PyTorch 2.5;
    MHA that returns its weights computes a plain softmax, so NaN, as PyTorch does."""
    rng = np.random.default_rng(12)
    q, k, v = (t64(rng.standard_normal((3, 2)), True) for _ in range(3))
    allowed = np.ones((3, 3), bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(allowed))
    np.testing.assert_array_equal(out.numpy()[1], 0)
    expected = ref.attention(q.numpy()[[0, 2]], k.numpy(), v.numpy())[0]
    np.testing.assert_allclose(out.numpy()[[0, 2]], expected, rtol=1e-10)
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all() and np.isfinite(k.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[1], 0)
    m = nn.MultiheadAttention(2, 1)
    random_weights(m, rng)
    x = t64(rng.standard_normal((3, 1, 2)))
    kpm = Tensor(np.ones((1, 3), bool))  # every key is padding
    out, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(m.out_proj.bias.numpy(), (3, 1, 2)))
    with np.errstate(invalid="ignore"):  # -inf - -inf in the softmax: NaN is the answer here
        out, weights = m(x, x, x, key_padding_mask=kpm)
    assert np.isnan(out.numpy()).all() and np.isnan(weights.numpy()).all()
