"""autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp) against derivatives written out
in NumPy float64, finite differences of the gradient, and each other (hvp = H v, vhp = v^T H,
jvp = J v, vjp = v^T J); PyTorch's return structure and strict-mode errors."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import functional as AF
from tinygrad_lstm.autograd import grad

rng = np.random.default_rng(0)
A = rng.standard_normal((4, 4))
W = rng.standard_normal((3, 4))


def _t(a: np.ndarray, requires_grad: bool = False) -> Tensor:
    return Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def _diag4(d: np.ndarray) -> np.ndarray:
    """d(f(x))/dx for an elementwise f with f' = d: (*S, *S), one-hot along the diagonal."""
    return np.diag(d.ravel()).reshape(d.shape + d.shape)


# name, func on Tensors, input, its Jacobian written out in NumPy
JACOBIANS = [
    ("sin_x_times_x", lambda x: x.sin() * x, rng.standard_normal((2, 3)),
     lambda x: _diag4(np.cos(x) * x + np.sin(x))),
    ("tanh_of_matvec", lambda x: (_t(W) @ x).tanh(), rng.standard_normal(4),
     lambda x: (1 - np.tanh(W @ x) ** 2)[:, None] * W),
    ("softmax", lambda x: x.softmax(0), rng.standard_normal(4),
     lambda x: (lambda p: np.diag(p) - np.outer(p, p))(np.exp(x) / np.exp(x).sum())),
    ("sum_of_squares_0d", lambda x: (x * x).sum(), rng.standard_normal(3), lambda x: 2 * x),
]

# name, scalar func on Tensors, input, its Hessian written out in NumPy
HESSIANS = [
    ("quadratic_form", lambda x: x @ _t(A) @ x, rng.standard_normal(4), lambda x: A + A.T),
    ("sum_sin_x_times_x", lambda x: (x.sin() * x).sum(), rng.standard_normal((2, 2)),
     lambda x: _diag4(2 * np.cos(x) - x * np.sin(x))),
    ("logsumexp", lambda x: x.logsumexp(0), rng.standard_normal(3),
     lambda x: (lambda p: np.diag(p) - np.outer(p, p))(np.exp(x) / np.exp(x).sum())),
]


@pytest.mark.parametrize("func, x, truth", [c[1:] for c in JACOBIANS],
                         ids=[c[0] for c in JACOBIANS])
def test_jacobian_matches_the_written_out_derivative(func, x, truth):
    J = AF.jacobian(func, _t(x))
    assert isinstance(J, Tensor) and J.dtype == tl.float64 and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), truth(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("func, x, truth", [c[1:] for c in JACOBIANS],
                         ids=[c[0] for c in JACOBIANS])
def test_jvp_is_jacobian_times_v_and_vjp_is_v_times_jacobian(func, x, truth):
    y = func(_t(x)).numpy()
    J = truth(x).reshape(y.size, x.size)
    v_in, v_out = rng.standard_normal(x.shape), rng.standard_normal(y.shape)
    out, jv = AF.jvp(func, _t(x), _t(v_in))
    np.testing.assert_allclose(out.numpy(), y, rtol=1e-12)
    np.testing.assert_allclose(jv.numpy(), (J @ v_in.ravel()).reshape(y.shape), rtol=1e-10,
                               atol=1e-12)
    out, vj = AF.vjp(func, _t(x), _t(v_out))
    np.testing.assert_allclose(vj.numpy(), (v_out.ravel() @ J).reshape(x.shape), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("func, x, truth", [c[1:] for c in HESSIANS],
                         ids=[c[0] for c in HESSIANS])
def test_hessian_hvp_and_vhp_match_the_written_out_hessian(func, x, truth):
    H = AF.hessian(func, _t(x))
    assert isinstance(H, Tensor) and H.shape == x.shape + x.shape
    np.testing.assert_allclose(H.numpy(), truth(x), rtol=1e-10, atol=1e-12)
    H = truth(x).reshape(x.size, x.size)
    v = rng.standard_normal(x.shape)
    out, hv = AF.hvp(func, _t(x), _t(v))
    np.testing.assert_allclose(out.numpy(), func(_t(x)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hv.numpy(), (H @ v.ravel()).reshape(x.shape), rtol=1e-10)
    out, vh = AF.vhp(func, _t(x), _t(v))
    np.testing.assert_allclose(vh.numpy(), (v.ravel() @ H).reshape(x.shape), rtol=1e-10)


def test_hessian_of_a_quadratic_form_is_not_symmetrised_away():
    """x^T A x with A not symmetric: H = A + A^T, hvp = (A + A^T) v, vhp the same transposed."""
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    f = HESSIANS[0][1]
    _, hv = AF.hvp(f, _t(x), _t(v))
    np.testing.assert_allclose(hv.numpy(), (A + A.T) @ v, rtol=1e-12)
    _, g = AF.vjp(f, _t(x))  # v may be left out: f has one element
    np.testing.assert_allclose(g.numpy(), (A + A.T) @ x, rtol=1e-12)


def _mlp_loss(w1: Tensor, b1: Tensor, w2: Tensor) -> Tensor:
    data, target = MLP_DATA
    h = (_t(data) @ w1 + b1).tanh()  # (5, 4)
    return ((h @ w2 - _t(target)) ** 2).mean()


MLP_DATA = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
MLP_PARAMS = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 1))


def _flat_gradient(flat: np.ndarray) -> np.ndarray:
    params, start = [], 0
    for p in MLP_PARAMS:
        params.append(_t(flat[start:start + p.size].reshape(p.shape), requires_grad=True))
        start += p.size
    return np.concatenate([g.numpy().ravel() for g in grad(_mlp_loss(*params), params)])


def test_hessian_of_a_small_mlp_loss_matches_finite_differences_of_its_gradient():
    H = AF.hessian(_mlp_loss, tuple(_t(p) for p in MLP_PARAMS))
    sizes = [p.size for p in MLP_PARAMS]
    assert isinstance(H, tuple) and all(isinstance(row, tuple) and len(row) == 3 for row in H)
    for i, p in enumerate(MLP_PARAMS):
        for j, q in enumerate(MLP_PARAMS):
            assert H[i][j].shape == p.shape + q.shape
    full = np.block([[H[i][j].numpy().reshape(sizes[i], sizes[j]) for j in range(3)]
                     for i in range(3)])
    flat, eps = np.concatenate([p.ravel() for p in MLP_PARAMS]), 1e-6
    numerical = np.stack([(_flat_gradient(flat + eps * e) - _flat_gradient(flat - eps * e)) /
                          (2 * eps) for e in np.eye(flat.size)])
    np.testing.assert_allclose(full, numerical, rtol=1e-5, atol=1e-7)
    # hvp and vhp over the same tuple of parameters
    v = tuple(rng.standard_normal(p.shape) for p in MLP_PARAMS)
    hv_truth = full @ np.concatenate([a.ravel() for a in v])
    for fn in (AF.hvp, AF.vhp):
        _, hv = fn(_mlp_loss, tuple(_t(p) for p in MLP_PARAMS), tuple(_t(a) for a in v))
        np.testing.assert_allclose(np.concatenate([h.numpy().ravel() for h in hv]), hv_truth,
                                   rtol=1e-8, atol=1e-12)


def test_tuple_inputs_and_outputs_give_jacobians_nested_by_output_then_input():
    """f(x, y) = (x * y, sum(x^2) + 2 sum(y)); x: (2,), y: (2,)."""
    x, y = rng.standard_normal(2), rng.standard_normal(2)

    def f(a, b):
        return a * b, (a * a).sum() + 2 * b.sum()

    J = AF.jacobian(f, (_t(x), _t(y)))
    truth = ((np.diag(y), np.diag(x)), (2 * x, np.full(2, 2.0)))
    assert isinstance(J, tuple) and len(J) == 2
    for row, truth_row in zip(J, truth):
        assert isinstance(row, tuple) and len(row) == 2
        for got, expected in zip(row, truth_row):
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # one tuple side, one Tensor side: a flat tuple over the tuple side
    by_output = AF.jacobian(lambda a: (a * a, a.sum()), _t(x))
    assert [j.shape for j in by_output] == [(2, 2), (2,)]
    by_input = AF.jacobian(lambda a, b: a * b, (_t(x), _t(y)))
    assert [j.shape for j in by_input] == [(2, 2), (2, 2)]
    one = AF.jacobian(lambda a: a * a, (_t(x),))  # a 1-tuple stays a tuple
    assert isinstance(one, tuple) and isinstance(one[0], Tensor)


def test_hessian_with_tuple_inputs_has_the_cross_terms():
    """f(x, y) = sum(x^2 y): H_xx = diag(2y), H_xy = H_yx = diag(2x), H_yy = 0."""
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    H = AF.hessian(lambda a, b: (a * a * b).sum(), (_t(x), _t(y)))
    truth = ((np.diag(2 * y), np.diag(2 * x)), (np.diag(2 * x), np.zeros((3, 3))))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), truth[i][j], rtol=1e-12)


@pytest.mark.parametrize("fn", [AF.vjp, AF.jvp, AF.hvp, AF.vhp])
def test_products_return_the_output_and_a_result_shaped_like_the_arguments(fn):
    x, y = _t(rng.standard_normal(3)), _t(rng.standard_normal(3))
    scalar = fn in (AF.hvp, AF.vhp)
    single = (lambda a: (a * a).sum()) if scalar else (lambda a: a * a)
    pair = (lambda a, b: (a * b).sum()) if scalar else (lambda a, b: a * b)
    out, res = fn(single, x, _t(np.ones(3)))
    assert isinstance(out, Tensor) and isinstance(res, Tensor) and res.shape == (3,)
    out, res = fn(pair, (x, y), (_t(np.ones(3)), _t(np.ones(3))) if fn is not AF.vjp
                  else _t(np.ones(() if scalar else 3)))
    assert isinstance(out, Tensor)
    if fn is AF.jvp:  # shaped like the outputs: one Tensor
        assert isinstance(res, Tensor)
        np.testing.assert_allclose(res.numpy(), x.numpy() + y.numpy())
    else:  # shaped like the inputs: a tuple
        assert isinstance(res, tuple) and [r.shape for r in res] == [(3,), (3,)]


def test_jvp_and_vjp_with_tuple_outputs():
    x = rng.standard_normal(3)
    v = rng.standard_normal(3)
    outs, jv = AF.jvp(lambda a: (a.sin(), (a * a).sum()), _t(x), _t(v))
    assert isinstance(outs, tuple) and isinstance(jv, tuple)
    np.testing.assert_allclose(jv[0].numpy(), np.cos(x) * v, rtol=1e-12)
    np.testing.assert_allclose(jv[1].numpy(), 2 * x @ v, rtol=1e-12)
    outs, vj = AF.vjp(lambda a: (a.sin(), (a * a).sum()), _t(x), (_t(v), _t(3.0)))
    assert isinstance(vj, Tensor)
    np.testing.assert_allclose(vj.numpy(), np.cos(x) * v + 6 * x, rtol=1e-12)


def test_an_input_the_function_captures_is_a_constant():
    """func sees new Tensor objects, so a capture of the caller's input is not differentiated
    (PyTorch issue 32576)."""
    x = _t(rng.standard_normal(3), requires_grad=True)
    J = AF.jacobian(lambda z: z * x, x)
    np.testing.assert_allclose(J.numpy(), np.diag(x.numpy()))
    assert x.grad is None and not J.requires_grad


def test_results_carry_no_graph_without_create_graph_even_under_no_grad():
    x = _t(rng.standard_normal(3), requires_grad=True)
    with tl.no_grad():
        out, vj = AF.vjp(lambda a: a.tanh(), x, _t(np.ones(3)))
        H = AF.hessian(lambda a: (a ** 3).sum(), x)
    for t in (out, vj, H):
        assert not t.requires_grad and t.grad_fn is None
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x.numpy()))


# ---------------------------------------------------------------- create_graph=True


def test_create_graph_results_can_be_differentiated_again():
    x_np, v_np = rng.standard_normal(3), rng.standard_normal(3)
    # d/dx of sum(v * f'(x)) for f(x) = sin(x) x: v (2 cos x - x sin x)
    second = v_np * (2 * np.cos(x_np) - x_np * np.sin(x_np))
    f = JACOBIANS[0][1]
    for fn in (AF.vjp, AF.jvp):
        x, v = _t(x_np, requires_grad=True), _t(v_np)
        _, r = fn(f, x, v, create_graph=True)
        assert r.requires_grad
        (g,) = grad(r.sum(), x)
        np.testing.assert_allclose(g.numpy(), second, rtol=1e-12, err_msg=fn.__name__)
    x = _t(x_np, requires_grad=True)
    J = AF.jacobian(f, x, create_graph=True)
    (g,) = grad(J.sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * np.cos(x_np) - x_np * np.sin(x_np), rtol=1e-12)


@pytest.mark.parametrize("fn", [AF.hvp, AF.vhp])
def test_create_graph_hvp_is_differentiable_in_the_input_and_in_v(fn):
    """f = sum(x^3): H v = 6 x v, so d sum(Hv)/dx = 6 v and d sum(Hv)/dv = 6 x."""
    x, v = _t(rng.standard_normal(3), requires_grad=True), _t(rng.standard_normal(3), True)
    _, hv = fn(lambda a: (a ** 3).sum(), x, v, create_graph=True)
    gx, gv = grad(hv.sum(), (x, v))
    np.testing.assert_allclose(gx.numpy(), 6 * v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gv.numpy(), 6 * x.numpy(), rtol=1e-12)


def test_create_graph_hessian_gives_third_derivatives():
    """f = sum(x^4 / 12): H = diag(x^2), and d trace(H)/dx = 2x."""
    x = _t(rng.standard_normal(3), requires_grad=True)
    H = AF.hessian(lambda a: (a ** 4).sum() / 12, x, create_graph=True)
    np.testing.assert_allclose(H.numpy(), np.diag(x.numpy() ** 2), rtol=1e-12)
    (g,) = grad((H * _t(np.eye(3))).sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- strict mode and bad calls

x3, y3, ones3 = _t(np.arange(1.0, 4.0)), _t(np.arange(2.0, 5.0)), _t(np.ones(3))
STRICT = [  # fn, func, inputs, v, create_graph, PyTorch's message
    (AF.vjp, lambda a, b: 2 * a, (x3, y3), ones3, False,
     "The output of the user-provided function is independent of input 1"),
    (AF.vjp, lambda a: ones3, x3, ones3, False,
     "Output 0 of the user-provided function does not require gradients"),
    (AF.vjp, lambda a: 2 * a, x3, ones3, True,
     "The jacobian of the user-provided function is independent of input 0. This is not allowed "
     "in strict mode when create_graph=True."),
    (AF.jvp, lambda a, b: 2 * a, (x3, y3), (ones3, ones3), False,
     "The output of the user-provided function is independent of input 1"),
    (AF.jacobian, lambda a, b: 2 * a, (x3, y3), None, False,
     "Output 0 of the user-provided function is independent of input 1"),
    (AF.jacobian, lambda a: 2 * a, x3, None, True,
     "The jacobian of the user-provided function is independent of input 0"),
    (AF.hessian, lambda a: a.sum(), x3, None, False,
     "While computing the hessian, found that the jacobian of the user-provided function with "
     "respect to input 0 is independent of the input"),
    (AF.hvp, lambda a, b: (a * a).sum() + b.sum(), (x3, y3), (ones3, ones3), False,
     "found that the jacobian of the user-provided function with respect to input 1"),
    (AF.vhp, lambda a: 3 * a.sum(), x3, ones3, False,
     "found that the jacobian of the user-provided function with respect to input 0"),
]


@pytest.mark.parametrize("fn, func, inputs, v, create_graph, message", STRICT,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(STRICT)])
def test_strict_mode_raises_pytorchs_error_and_otherwise_gives_zeros(fn, func, inputs, v,
                                                                     create_graph, message):
    args = (func, inputs) if v is None else (func, inputs, v)
    with pytest.raises(RuntimeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        fn(*args, create_graph=create_graph, strict=True)
    result = fn(*args, create_graph=create_graph)  # not strict: zeros where independent
    assert result is not None


def test_non_strict_gives_zeros_for_an_unused_input():
    _, (ga, gb) = AF.vjp(lambda a, b: 2 * a, (x3, y3), ones3)
    np.testing.assert_array_equal(gb.numpy(), np.zeros(3))
    np.testing.assert_array_equal(ga.numpy(), np.full(3, 2.0))
    H = AF.hessian(lambda a: a.sum(), x3)
    np.testing.assert_array_equal(H.numpy(), np.zeros((3, 3)))
    _, jv = AF.jvp(lambda a: ones3, x3, ones3)
    np.testing.assert_array_equal(jv.numpy(), np.zeros(3))


BAD_CALLS = [  # call, exception, message
    (lambda: AF.vjp(lambda a: a * a, x3), RuntimeError,
     "The vector v can only be None if the user-provided function returns a single Tensor with "
     "a single element."),
    (lambda: AF.jvp(lambda a: a * a, x3), RuntimeError,
     "The vector v can only be None if the input to the user-provided function is a single "
     "Tensor with a single element."),
    (lambda: AF.jvp(lambda a, b: a * b, (x3, y3), (ones3,)), RuntimeError,
     "v is a tuple of invalid length: should be 2 but got 1."),
    (lambda: AF.vjp(lambda a: a * a, x3, (ones3, ones3)), RuntimeError,
     "The given v should contain a single Tensor."),
    (lambda: AF.hvp(lambda a: (a * a).sum(), x3, _t(np.ones(2))), RuntimeError,
     r"v has invalid size: should be \(3,\) but got \(2,\)."),
    (lambda: AF.jvp(lambda a, b: a * b, (x3, y3), (ones3, _t(np.ones(2)))), RuntimeError,
     "Entry 1 in v has invalid size"),
    (lambda: AF.jacobian(lambda a: a, np.ones(3)), TypeError,
     "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but the given "
     "inputs has type <class 'numpy.ndarray'>."),
    (lambda: AF.vjp(lambda a: a, (x3, 1.0), ones3), TypeError,
     "but the value at index 1 has type <class 'float'>"),
    (lambda: AF.jacobian(lambda a: [a], x3), TypeError,
     "The outputs of the user-provided function given to jacobian must be either a Tensor"),
    (lambda: AF.hessian(lambda a: a * a, x3), RuntimeError,
     "The Tensor returned by the function given to hessian should contain a single element"),
    (lambda: AF.vhp(lambda a: (a.sum(), a.sum()), x3, ones3), RuntimeError,
     "The function given to vhp should return a single Tensor"),
    (lambda: AF.jacobian(lambda a: a, x3, vectorize=True), NotImplementedError,
     "jacobian: vectorize=True is not supported"),
    (lambda: AF.hessian(lambda a: a.sum(), x3, vectorize=True), NotImplementedError,
     "hessian: vectorize=True is not supported"),
    (lambda: AF.jacobian(lambda a: a, x3, strategy="forward-mode"), NotImplementedError,
     'jacobian: strategy="forward-mode" is not supported'),
    (lambda: AF.hessian(lambda a: a.sum(), x3, outer_jacobian_strategy="forward-mode"),
     NotImplementedError, 'hessian: outer_jacobian_strategy="forward-mode" is not supported'),
    (lambda: AF.jacobian(lambda a: a, x3, strategy="sideways"), ValueError,
     'Expected strategy to be either "forward-mode" or "reverse-mode"'),
]


@pytest.mark.parametrize("call, exc, message", BAD_CALLS, ids=range(len(BAD_CALLS)))
def test_bad_calls_raise_pytorchs_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_agrees_with_torch_when_installed():
    torch = pytest.importorskip("torch")
    params = tuple(_t(p) for p in MLP_PARAMS)
    ours = AF.hessian(_mlp_loss, params)
    data, target = (torch.tensor(a) for a in MLP_DATA)

    def torch_loss(w1, b1, w2):
        return (((data @ w1 + b1).tanh() @ w2 - target) ** 2).mean()

    theirs = torch.autograd.functional.hessian(torch_loss,
                                               tuple(torch.tensor(p) for p in MLP_PARAMS))
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(ours[i][j].numpy(), theirs[i][j].numpy(), rtol=1e-10,
                                       atol=1e-12)
