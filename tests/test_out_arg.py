"""`out=` on the function forms (`tl.matmul(a, b, out=c)`), as PyTorch's: the result is written
into `out`, which is returned; no autograd through it; PyTorch's casts, resizes and errors."""

import numpy as np
import pytest

import tinygrad_lstm as tl


def test_out_receives_the_result_and_is_returned():
    a = tl.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = tl.rand(2, 2)
    alias = out.numpy()
    assert tl.matmul(a, a.T, out=out) is out
    np.testing.assert_array_equal(alias, [[5.0, 11.0], [11.0, 25.0]])  # in out's own memory
    assert tl.mul(a, a, out=out) is out and out.tolist() == [[1.0, 4.0], [9.0, 16.0]]
    assert tl.add(a, a, alpha=2, out=out).tolist() == [[3.0, 6.0], [9.0, 12.0]]
    assert tl.sub(a, 1, out=out).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert tl.div(a, 2, out=out).tolist() == [[0.5, 1.0], [1.5, 2.0]]
    assert tl.pow(a, 2, out=out).tolist() == [[1.0, 4.0], [9.0, 16.0]]
    assert tl.clamp(a, 2, 3, out=out).tolist() == [[2.0, 2.0], [3.0, 3.0]]
    np.testing.assert_allclose(tl.exp(a, out=out).numpy(), np.exp(a.numpy()))
    assert tl.mm(a, a, out=out).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert tl.mul(a, a, out=a) is a and a.tolist() == [[1.0, 4.0], [9.0, 16.0]]  # out is an input
    assert out._version > 0  # an in-place write, as PyTorch counts it


def test_out_casts_within_a_kind_and_refuses_float_into_int():
    out = tl.zeros(2, dtype=tl.float64)
    tl.mul(tl.tensor([1.5, 2.0]), 2, out=out)
    assert out.dtype == tl.float64 and out.tolist() == [3.0, 4.0]
    ints = tl.zeros(2, dtype=tl.long)
    with pytest.raises(RuntimeError, match=r"mul\(\): result type .*float32 can't be cast to the "
                                           r"desired output type .*int64"):
        tl.mul(tl.tensor([1.5, 2.0]), 2, out=ints)


def test_out_of_another_shape_is_resized_with_a_warning_unless_empty():
    a = tl.ones(2, 3)
    out = tl.empty(0)
    assert tl.mul(a, 2, out=out).shape == (2, 3) and out.tolist() == [[2.0] * 3] * 2
    out = tl.zeros(4)
    with pytest.warns(UserWarning, match=r"resized since it had shape \[4\].*\[3, 3\]"):
        tl.matmul(a.T, a, out=out)
    assert out.tolist() == [[2.0] * 3] * 3


def test_out_refuses_autograd_and_non_tensors():
    w = tl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul\(\): functions with out=\.\.\. arguments don't "
                                           r"support automatic differentiation"):
        tl.mul(w, 2, out=tl.zeros(2))
    with tl.no_grad():
        out = tl.zeros(2)
        tl.mul(w, 2, out=out)
    assert out.tolist() == [2.0, 2.0] and not out.requires_grad
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'out' must be Tensor, not ndarray"):
        tl.matmul(tl.ones(2, 2), tl.ones(2, 2), out=np.zeros((2, 2)))
