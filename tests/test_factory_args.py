"""Factories as PyTorch's take their arguments: the shape as `size=` too, and random floats only
in a floating point dtype (an integer one raises rather than truncate the draws to zeros)."""

import numpy as np
import pytest

import tinygrad_lstm as tl


def test_the_shape_as_size_keyword():
    for factory in (tl.zeros, tl.ones, tl.empty, tl.rand, tl.randn):
        assert factory(size=(2, 3)).shape == (2, 3) and factory(size=[4]).shape == (4,)
    assert tl.full(size=(2,), fill_value=3).tolist() == [3, 3]
    with pytest.raises(TypeError, match=r"zeros\(\) received an invalid combination"):
        tl.zeros(2, size=(3,))
    tl.manual_seed(0)
    a = tl.rand(size=(3,))
    tl.manual_seed(0)
    assert a.tolist() == tl.rand(3).tolist()  # the same draws either way


@pytest.mark.parametrize("make", [
    lambda: tl.rand_like(tl.tensor([1, 2])),  # the tensors tutorial's x_data is int64
    lambda: tl.randn_like(tl.tensor([1, 2])),
    lambda: tl.rand(2, dtype=tl.long),
    lambda: tl.randn(2, dtype=tl.int32),
    lambda: tl.rand(2, dtype=tl.bool),
    lambda: tl.normal(0.0, 1.0, (3,), dtype=tl.long),
    lambda: tl.normal(tl.zeros(3, dtype=tl.long), 1.0),
    lambda: tl.zeros(3, dtype=tl.long).uniform_(),
    lambda: tl.zeros(3, dtype=tl.long).normal_(),
])
def test_random_floats_in_an_integer_dtype_raise(make):
    with pytest.raises(RuntimeError, match=r"random floats cannot be drawn in dtype "
                                           r"tinygrad_lstm\.(int64|int32|bool)"):
        make()


def test_random_floats_in_float_and_complex_dtypes():
    assert tl.rand_like(tl.tensor([1, 2]), dtype=tl.float).dtype == tl.float32
    assert tl.randn_like(tl.ones(2, dtype=tl.float64)).dtype == tl.float64
    tl.manual_seed(0)
    z = tl.randn(20000, dtype=tl.cfloat).numpy()  # unit variance: (x + iy) / sqrt(2)
    assert z.dtype == np.complex64 and abs(np.mean(abs(z) ** 2) - 1) < 0.05
    assert abs(z.real.var() - 0.5) < 0.03 and abs(z.imag.var() - 0.5) < 0.03
    u = tl.rand(20000, dtype=tl.cdouble).numpy()  # both parts uniform in [0, 1)
    assert 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min() and u.imag.max() < 1
    assert abs(u.imag.mean() - 0.5) < 0.02
