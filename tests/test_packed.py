"""Variable-length sequences: nn.utils.rnn packing and RNN/LSTM/GRU over PackedSequences.

Layout: packed and padded values written out by hand. Recurrent modules: the independent truth
is the same module run on each sequence alone (batch of 1, unpadded); the packed ragged batch
must give its outputs, final states and gradients (float64, rtol 1e-10). Also gradcheck,
PyTorch's errors, and a packed-sequence classifier written the PyTorch way.
"""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
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
