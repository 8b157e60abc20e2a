"""Shared test helpers: the table-driven op check and NumPy-only oracles.

`check_op` runs one op over a shape matrix and checks the forward against NumPy and the
gradient against float64 central differences (tinygrad `helper_test_op`, HIPS `combo_check`).
"""

import numpy as np

from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import GradcheckError, gradcheck

# one entry per call: the shapes of the op's tensor inputs
UNARY_SHAPES = [((),), ((2,),), ((3, 2),), ((1, 2),), ((2, 1, 3),)]
BINARY_SHAPES = [
    ((), ()),
    ((2,), (2,)),
    ((3, 2), (3, 2)),
    ((1, 2), (1, 2)),
    ((3,), (2, 3)),  # rank-extending: a bias added to a batch
    ((2, 3), (3,)),
    ((1, 3), (2, 3)),  # same rank, stretched size-1 axis
    ((2, 1), (1, 3)),  # both sides stretched
    ((), (3, 2)),  # a 0-d tensor against a matrix
]


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    """Values in [0.5, 2]: the domain of log, sqrt and a pow base."""
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    """|x| in [0.2, 2] with random sign: clear of the kink of relu, abs and of 1/x's pole."""
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng, shape):
    """A permutation of well separated values, so max and min have no ties."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - 0.3 * n).reshape(shape)


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check_op(fn, ref_fn, shapes, sample=normal, rtol=1e-7, atol=1e-12, grad=True):
    """For each entry of `shapes`, draw float64 inputs with `sample(rng, shape)` and check:
    fn's forward equals ref_fn's on the arrays (shape and values), float32 inputs give float32
    outputs, and fn's gradient passes gradcheck (central differences in float64).

    fn: Tensors -> Tensor or tuple of Tensors; ref_fn: the same on ndarrays with NumPy.
    """
    rng = np.random.default_rng(0)
    for in_shapes in shapes:
        arrays = [sample(rng, s) for s in in_shapes]
        xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        outs = _as_list(fn(*xs))
        expected = _as_list(ref_fn(*[a.copy() for a in arrays]))
        assert len(outs) == len(expected), f"{len(outs)} outputs, NumPy has {len(expected)}"
        for out, exp in zip(outs, expected):
            assert isinstance(out, Tensor), f"at shapes {in_shapes}: got {type(out).__name__}"
            assert out.shape == np.shape(exp), f"at shapes {in_shapes}: {out.shape} vs " \
                                               f"NumPy {np.shape(exp)}"
            assert out.dtype == np.float64, f"at shapes {in_shapes}: float64 in, {out.dtype} out"
            np.testing.assert_allclose(out.numpy(), exp, rtol=rtol, atol=atol,
                                       err_msg=f"forward at shapes {in_shapes}")
        for out in _as_list(fn(*[Tensor(a.astype(np.float32)) for a in arrays])):
            assert out.dtype == np.float32, f"at shapes {in_shapes}: float32 in, {out.dtype} out"
        if grad:
            try:
                gradcheck(fn, xs)
            except GradcheckError as e:
                raise AssertionError(f"gradient at shapes {in_shapes}: {e}") from None


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The adjoint of np.broadcast_to(x, g.shape), by scattering g onto x's flat indices.

    Written differently from the engine's unbroadcast on purpose: each element of g is added to
    the element of x it was copied from.
    """
    size = int(np.prod(shape))
    source = np.broadcast_to(np.arange(size).reshape(shape), g.shape)
    return np.bincount(source.ravel(), weights=g.ravel(), minlength=size).reshape(shape)
