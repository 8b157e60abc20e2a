"""Variable-length sequences: nn.utils.rnn packing and RNN/LSTM/GRU over PackedSequences.

Layout: packed and padded values written out by hand. Recurrent modules: the independent truth
is the same module run on each sequence alone (batch of 1, unpadded); the packed ragged batch
must give its outputs, final states and gradients (float64, rtol 1e-10). Also gradcheck,
PyTorch's errors, and a packed-sequence classifier written the PyTorch way.
"""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import gradcheck
from tinygrad_lstm.nn.utils.rnn import (PackedSequence, invert_permutation,
                                        pack_padded_sequence, pack_sequence,
                                        pad_packed_sequence, pad_sequence, unpack_sequence,
                                        unpad_sequence)

# ---------------------------------------------------------------- layout, written out


def test_pad_sequence_layout():
    a, b, c = Tensor([1.0, 2.0, 3.0]), Tensor([4.0, 5.0]), Tensor([6.0])
    np.testing.assert_array_equal(pad_sequence([a, b, c]).numpy(),
                                  [[1, 4, 6], [2, 5, 0], [3, 0, 0]])
    np.testing.assert_array_equal(pad_sequence([a, b, c], batch_first=True, padding_value=-1)
                                  .numpy(), [[1, 2, 3], [4, 5, -1], [6, -1, -1]])
    np.testing.assert_array_equal(pad_sequence([a, b, c], batch_first=True, padding_side="left")
                                  .numpy(), [[1, 2, 3], [0, 4, 5], [0, 0, 6]])
    # trailing dims are kept: (L_i, 2) -> (T, B, 2)
    x, y = Tensor(np.arange(6.0).reshape(3, 2)), Tensor(np.arange(2.0).reshape(1, 2) + 10)
    np.testing.assert_array_equal(pad_sequence([x, y]).numpy(),
                                  [[[0, 1], [10, 11]], [[2, 3], [0, 0]], [[4, 5], [0, 0]]])


def test_pack_sequence_sorted_layout():
    a, b, c = Tensor([1.0, 2.0, 3.0]), Tensor([4.0, 5.0]), Tensor([6.0])
    packed = pack_sequence([a, b, c])
    assert isinstance(packed, PackedSequence) and isinstance(packed, tuple)
    np.testing.assert_array_equal(packed.data.numpy(), [1, 4, 6, 2, 5, 3])
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [3, 2, 1])
    assert packed.batch_sizes.dtype == np.int64
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    data, batch_sizes, sorted_indices, unsorted_indices = packed  # a namedtuple, as PyTorch's
    assert data is packed.data and packed._fields == ("data", "batch_sizes", "sorted_indices",
                                                      "unsorted_indices")


@pytest.mark.parametrize("lengths_as", [list, tuple, Tensor, np.array])
def test_pack_padded_unsorted_layout(lengths_as):
    # batch_first rows of lengths 2, 1, 3: sorted order is rows 2, 0, 1
    x = Tensor([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0], [4.0, 5.0, 6.0]])
    packed = pack_padded_sequence(x, lengths_as([2, 1, 3]), batch_first=True,
                                  enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), [4, 1, 3, 5, 2, 6])
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [3, 2, 1])
    np.testing.assert_array_equal(packed.sorted_indices.numpy(), [2, 0, 1])
    np.testing.assert_array_equal(packed.unsorted_indices.numpy(), [1, 2, 0])
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(padded.numpy(), x.numpy())
    np.testing.assert_array_equal(lengths.numpy(), [2, 1, 3])
    assert lengths.dtype == np.int64
    # time-major out, padded to total_length with padding_value
    padded, _ = pad_packed_sequence(packed, padding_value=-1.0, total_length=4)
    np.testing.assert_array_equal(padded.numpy(), [[1, 3, 4], [2, -1, 5], [-1, -1, 6],
                                                   [-1, -1, -1]])


def test_pack_padded_ties_keep_batch_order_and_trailing_dims():
    x = Tensor(np.arange(12.0).reshape(2, 3, 2))  # (T=2, B=3, 2), time-major
    packed = pack_padded_sequence(x, [1, 2, 2], enforce_sorted=False)
    np.testing.assert_array_equal(packed.sorted_indices.numpy(), [1, 2, 0])
    np.testing.assert_array_equal(packed.data.numpy(),
                                  [[2, 3], [4, 5], [0, 1], [8, 9], [10, 11]])
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [3, 2])


def test_unpad_unpack_and_invert_permutation():
    seqs = [Tensor([1.0, 2.0]), Tensor([3.0]), Tensor([4.0, 5.0, 6.0])]
    for got, want in zip(unpack_sequence(pack_sequence(seqs, enforce_sorted=False)), seqs):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for got, want in zip(unpad_sequence(pad_sequence(seqs), [2, 1, 3]), seqs):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(invert_permutation(Tensor(np.array([2, 0, 1]))).numpy(),
                                  [1, 2, 0])
    assert invert_permutation(None) is None


def test_packed_sequence_to_and_dtype_methods():
    packed = pack_sequence([Tensor([1.0, 2.0]), Tensor([3.0])])
    assert packed.to(np.float32) is packed and packed.cpu() is packed and not packed.is_cuda
    double = packed.double()
    assert double.data.dtype == np.float64 and double.batch_sizes is packed.batch_sizes
    assert packed.to(tl.float64).data.dtype == np.float64


def test_packing_passes_gradients():
    # d/dx of sum(w * pad(pack(x))) is w on the valid cells and 0 on the padding
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)  # (B, T)
    packed = pack_padded_sequence(x, [2, 3], batch_first=True, enforce_sorted=False)
    padded, _ = pad_packed_sequence(packed, batch_first=True, padding_value=7.0)
    w = np.arange(1.0, 7.0).reshape(2, 3)
    (padded * Tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2, 0], [4, 5, 6]])
    np.testing.assert_array_equal(padded.numpy(), [[0, 1, 7], [3, 4, 5]])


# ---------------------------------------------------------------- errors, as PyTorch


def test_pack_errors():
    x = Tensor(np.zeros((3, 2)))  # (T=3, B=2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order "
                                           "when `enforce_sorted` is True. You can pass "
                                           "`enforce_sorted=False`"):
        pack_padded_sequence(x, [2, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0, "
                                           "but found an element in 'lengths' that is <= 0"):
        pack_padded_sequence(x, [3, 0])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        pack_padded_sequence(x, [0, 2], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="length 4 does not fit in the padded input"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to "
                                           r"batch_size, but got 3 \(batch_size=2\)"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors."):
        pack_padded_sequence(Tensor(np.zeros((0, 2))), [1, 1])
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D CPU int64"):
        pack_padded_sequence(x, [[3, 2]])


def test_pad_errors():
    packed = pack_sequence([Tensor([1.0, 2.0]), Tensor([3.0])])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of "
                                         "the longest sequence in input, but got "
                                         "total_length=1 and max sequence length being 2"):
        pad_packed_sequence(packed, total_length=1)
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, "
                                           "but got middle."):
        pad_sequence([Tensor([1.0])], padding_side="middle")
    with pytest.raises(RuntimeError, match=r"pad_sequence: sequence 1 is \(2, 3\)"):
        pad_sequence([Tensor(np.zeros((2, 2))), Tensor(np.zeros((2, 3)))])


def test_recurrent_module_packed_errors():
    lstm = nn.LSTM(2, 3)
    packed = pack_sequence([tl.zeros(3, 2), tl.zeros(1, 2)])
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape \(1, 2, 3\)"):
        lstm(packed, (tl.zeros(1, 3, 3), tl.zeros(1, 3, 3)))
    wrong = pack_sequence([tl.zeros(3, 4), tl.zeros(1, 4)])
    with pytest.raises(RuntimeError, match="expected input_size 2"):
        lstm(wrong)
    bad = PackedSequence(packed.data, Tensor(np.array([2, 1])))
    with pytest.raises(RuntimeError, match=r"data has 4 rows but batch_sizes \[2, 1\] add up "
                                           r"to 3"):
        lstm(bad)


# ---------------------------------------------------------------- modules vs one sequence at a time

LENGTHS = [3, 5, 1, 5, 2]  # unsorted, with a tie and a length-1 sequence
I, H = 3, 4


def make(mode, bidirectional, batch_first, rng):
    kwargs = dict(num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    module = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[mode](I, H, **kwargs)
    module.double()
    module.load_state_dict({n: rng.uniform(-0.6, 0.6, p.shape)
                            for n, p in module.named_parameters()})
    return module


def run(module, mode, x, hx):
    """(output, tuple of final states) for any of the three modules."""
    out, state = module(x, hx if mode == "LSTM" else hx[0])
    return out, (state if mode == "LSTM" else (state,))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_matches_each_sequence_alone(mode, bidirectional, batch_first, enforce_sorted):
    rng = np.random.default_rng(sum(map(ord, mode)) + 2 * bidirectional + batch_first)
    module = make(mode, bidirectional, batch_first, rng)
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    B, T, D = len(lengths), max(lengths), 2 if bidirectional else 1
    n_states = 2 if mode == "LSTM" else 1
    seqs = [rng.standard_normal((n, I)) for n in lengths]
    h0 = [rng.standard_normal((2 * D, B, H)) for _ in range(n_states)]
    # loss weights on every output step and final state, per sequence
    w_out = [rng.standard_normal((n, D * H)) for n in lengths]
    w_fin = [rng.standard_normal((2 * D, B, H)) for _ in range(n_states)]

    # truth: each sequence alone, batch of 1, no padding; loss = the sum over sequences
    module.zero_grad()
    alone_out, alone_fin, alone_dx, alone_dh = [], [], [], []
    for b, seq in enumerate(seqs):
        x = Tensor(seq[None] if batch_first else seq[:, None], requires_grad=True)
        hx = tuple(Tensor(h[:, b:b + 1], requires_grad=True) for h in h0)
        out, fin = run(module, mode, x, hx)
        loss = (out * Tensor(w_out[b][None] if batch_first else w_out[b][:, None])).sum()
        for s, w in zip(fin, w_fin):
            loss = loss + (s * Tensor(w[:, b:b + 1])).sum()
        loss.backward()
        alone_out.append(out.numpy().reshape(len(seq), D * H))
        alone_fin.append([s.numpy()[:, 0] for s in fin])
        alone_dx.append(x.grad.numpy().reshape(len(seq), I))
        alone_dh.append([h.grad.numpy()[:, 0] for h in hx])
    alone_grads = {n: p.grad.numpy().copy() for n, p in module.named_parameters()}

    # the packed ragged batch, padded with junk that must not matter
    padded = np.full((T, B, I), 9.0)
    for b, seq in enumerate(seqs):
        padded[:len(seq), b] = seq
    x = Tensor(padded.transpose(1, 0, 2) if batch_first else padded, requires_grad=True)
    hx = tuple(Tensor(h, requires_grad=True) for h in h0)
    packed = pack_padded_sequence(x, Tensor(np.array(lengths)), batch_first=batch_first,
                                  enforce_sorted=enforce_sorted)
    module.zero_grad()
    out, fin = run(module, mode, packed, hx)
    assert isinstance(out, PackedSequence) and out.data.shape == (sum(lengths), D * H)
    np.testing.assert_array_equal(out.batch_sizes.numpy(), packed.batch_sizes.numpy())
    out_padded, out_lengths = pad_packed_sequence(out, batch_first=batch_first)
    np.testing.assert_array_equal(out_lengths.numpy(), lengths)
    w_pad = np.zeros((T, B, D * H))
    for b, w in enumerate(w_out):
        w_pad[:len(w), b] = w
    loss = (out_padded * Tensor(w_pad.transpose(1, 0, 2) if batch_first else w_pad)).sum()
    for s, w in zip(fin, w_fin):
        loss = loss + (s * Tensor(w)).sum()
    loss.backward()

    got_out = out_padded.numpy() if not batch_first else out_padded.numpy().transpose(1, 0, 2)
    got_dx = x.grad.numpy() if not batch_first else x.grad.numpy().transpose(1, 0, 2)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(got_out[:n, b], alone_out[b], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(got_out[n:, b], 0.0)
        np.testing.assert_allclose(got_dx[:n, b], alone_dx[b], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(got_dx[n:, b], 0.0)  # padding gets no gradient
        for k in range(n_states):
            np.testing.assert_allclose(fin[k].numpy()[:, b], alone_fin[b][k], rtol=1e-10,
                                       atol=1e-12)
            np.testing.assert_allclose(hx[k].grad.numpy()[:, b], alone_dh[b][k], rtol=1e-10,
                                       atol=1e-12)
    for n, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), alone_grads[n], rtol=1e-10, atol=1e-12,
                                   err_msg=n)


def test_packed_equal_lengths_matches_dense_run():
    # all lengths equal: packing is a reshape, so the dense path's numbers come out
    rng = np.random.default_rng(3)
    lstm = make("LSTM", True, False, rng)
    x = Tensor(rng.standard_normal((4, 3, I)))
    dense_out, (dense_h, dense_c) = lstm(x)
    out, (h, c) = lstm(pack_padded_sequence(x, [4, 4, 4]))
    np.testing.assert_allclose(pad_packed_sequence(out)[0].numpy(), dense_out.numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), dense_h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c.numpy(), dense_c.numpy(), rtol=1e-12)


def test_gradcheck_packed_lstm_input():
    rng = np.random.default_rng(4)
    lstm = make("LSTM", True, True, rng)
    x = Tensor(rng.standard_normal((3, 4, I)), requires_grad=True)  # (B, T, I)

    def f(x):
        packed = pack_padded_sequence(x, [2, 4, 1], batch_first=True, enforce_sorted=False)
        out, (h, c) = lstm(packed)
        return out.data.sum() + (h * h).sum() + c.sum()

    assert gradcheck(f, (x,))


# ---------------------------------------------------------------- a program written the PyTorch way


def test_packed_lstm_classifier_loss_falls():
    """Classify token sequences of different lengths by whether token 1 occurs in them."""
    from tinygrad_lstm.nn.utils.rnn import pack_padded_sequence, pad_sequence

    class Classifier(nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
            self.fc = nn.Linear(hidden_size, num_classes)

        def forward(self, tokens, lengths):
            packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True,
                                          enforce_sorted=False)
            _, (h_n, _) = self.lstm(packed)
            return self.fc(h_n[-1])

    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    sentences = [rng.integers(1, 6, size=rng.integers(2, 9)) for _ in range(24)]
    labels = tl.tensor([int(1 in s) for s in sentences])
    tokens = pad_sequence([tl.tensor(s) for s in sentences], batch_first=True, padding_value=0)
    lengths = tl.tensor([len(s) for s in sentences])
    model = Classifier(6, 8, 16, 2)
    optimizer = tl.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
