"""nn.functional.one_hot, as PyTorch's: values written out, int64, PyTorch's errors."""

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F


def test_one_hot_values_shape_and_dtype():
    out = F.one_hot(tl.tensor([0, 2, 1]), 4)
    assert out.dtype == tl.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
    # num_classes=-1: max + 1; any leading shape
    out = F.one_hot(tl.tensor([[1], [0]]))
    assert out.shape == (2, 1, 2)
    np.testing.assert_array_equal(out.numpy(), [[[0, 1]], [[1, 0]]])
    assert F.one_hot(tl.tensor([], dtype=tl.long), 3).shape == (0, 3)
    # the char-RNN idiom
    assert F.one_hot(tl.tensor([[0, 1]]), num_classes=5).float().dtype == tl.float32


@pytest.mark.parametrize("args, message", [
    ((tl.tensor([0, 1], dtype=tl.int32), 3), "only applicable to index tensor of type LongTensor"),
    ((tl.tensor([0.0, 1.0]), 3), "only applicable to index tensor of type LongTensor"),
    ((tl.tensor([0, -1]), 3), "Class values must be non-negative"),
    ((tl.tensor([0, 3]), 3), "Class values must be smaller than num_classes"),
    ((tl.tensor([], dtype=tl.long),), "Can not infer total number of classes from empty tensor"),
])
def test_one_hot_errors_are_pytorchs(args, message):
    with pytest.raises(RuntimeError, match=message):
        F.one_hot(*args)
