"""The tape, hooks, grad modes, custom Functions, gradcheck and detect_anomaly, against known
values, float64 central differences and PyTorch's documented semantics."""

import gc
import sys
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import Function, GradcheckError, gradcheck


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- the tape


def test_reused_input_accumulates():
    # tinygrad PR #119: assigning instead of adding gave d((x+x)*x)/dx = 2x instead of 4x
    x = leaf([1.0, -2.0, 3.0])
    ((x + x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, -8, 12])
    a = leaf([3.0, -1.0])
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6, -2])


def test_scalar_gradients_accumulate():
    # the same rules for 0-d tensors: three uses of x give three contributions
    x = leaf(0.5)
    ((x + x) * x).backward()
    assert x.grad.shape == () and x.grad.item() == 2.0
    x = leaf(0.5)
    (x * 1 + x * 2 + x * 3).backward()
    assert x.grad.item() == 6.0
    w = leaf(2.0)
    total = Tensor(np.float64(0.0))
    for t in range(5):
        total = total + w * float(t)
    total.backward()
    assert w.grad.item() == 10.0


def test_one_weight_used_in_10000_steps():
    xs = np.random.default_rng(0).standard_normal((10_000, 2))
    w = leaf([0.5, -0.25])
    h = Tensor(np.zeros(2))
    for x in xs:
        h = h + w * x  # w is used at every step
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), xs.sum(0), rtol=1e-10)


@pytest.mark.parametrize("transposed", [lambda w: w.T, lambda w: w.T.T.T,
                                        lambda w: w.permute(1, 0), lambda w: w.permute(0, 1).T])
@pytest.mark.parametrize("once", [True, False], ids=["one W.T", "W.T per step"])
def test_weight_used_through_a_transpose_at_every_step(transposed, once):
    # as the LSTM's W_hh.T (taken once per sequence) and an LSTMCell's (once per call): the
    # gradient reaches W transposed, summed over steps, and must come out in W's own layout
    rng = np.random.default_rng(0)
    xs, gs = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    w = leaf(rng.standard_normal((4, 3)))
    w_t = transposed(w)  # (3, 4)
    total = sum((Tensor(x) @ (w_t if once else transposed(w)) * Tensor(g)).sum()
                for x, g in zip(xs, gs))
    total.backward()
    expected = sum(g.T @ x for x, g in zip(xs, gs))  # (4, 3)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    assert w.grad.numpy().flags.c_contiguous


def test_weight_used_both_transposed_and_not():
    # W.T's gradient stays a lazy sum (transposed as factors) until it meets W's own
    rng = np.random.default_rng(2)
    x, z, g1, g2 = (rng.standard_normal((2, 3)) for _ in range(4))
    w = leaf(rng.standard_normal((3, 3)))
    ((Tensor(x) @ w.T) * Tensor(g1) + (Tensor(z) @ w) * Tensor(g2)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), g1.T @ x + z.T @ g2, rtol=1e-12)
    assert w.grad.numpy().flags.c_contiguous


def test_hook_on_a_transposed_weight_sees_its_whole_gradient():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3)), leaf(rng.standard_normal((4, 3)))
    w_t = w.T
    seen = []
    w_t.register_hook(lambda g: seen.append(g.numpy().copy()))
    (Tensor(x) @ w_t).sum().backward()
    np.testing.assert_allclose(seen[0], x.T @ np.ones((2, 4)), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), seen[0].T, rtol=1e-12)


def test_chain_of_10000_ops_backprops_without_recursion():
    limit = sys.getrecursionlimit()
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000] * 2, rtol=1e-9)
    assert sys.getrecursionlimit() == limit


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 7])
    assert x.grad is first  # accumulated in place, as in PyTorch
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) * (1 + np.array([1, 2])))


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_saved_arrays_are_released_after_backward():
    x = leaf(np.linspace(-1, 1, 5))
    y = x.exp()  # Exp saves its output, Mul saves both inputs
    saved = weakref.ref(y.numpy())
    loss = (y * y).sum()
    del y
    gc.collect()
    assert saved() is not None  # the graph still needs it
    loss.backward()
    gc.collect()
    assert saved() is None
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * np.linspace(-1, 1, 5)))


def test_retain_graph_keeps_saved_arrays_until_the_graph_is_dropped():
    x = leaf(np.linspace(-1, 1, 5))
    y = x.exp()
    saved = weakref.ref(y.numpy())
    loss = (y * y).sum()
    del y
    loss.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None
    del loss
    gc.collect()
    assert saved() is None


def test_backward_on_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"\(3,\)"):
        y.backward()
    y.backward(gradient=Tensor(np.array([1.0, 0.5, -1.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2, 1, -2])
    x.grad = None
    (x * 3).backward(np.array([1.0, 1.0, 2.0]))  # an ndarray gradient works too
    np.testing.assert_allclose(x.grad.numpy(), [3, 3, 6])


def test_backward_on_one_element_tensor_needs_no_gradient():
    x = leaf([[2.0]])
    (x * x).backward()  # shape (1, 1): implicit gradient 1, as in PyTorch
    np.testing.assert_allclose(x.grad.numpy(), [[4.0]])
    s = leaf(3.0)
    s.backward()  # a leaf as the root gets gradient 1
    assert s.grad.item() == 1.0


def test_grad_is_a_tensor_of_the_leaf_shape_and_dtype():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float32), requires_grad=True)
    (x * 2 + b).sum().backward()
    assert isinstance(x.grad, Tensor) and x.grad.shape == (2, 3) and x.grad.dtype == np.float32
    assert b.grad.shape == (3,) and not x.grad.requires_grad
    np.testing.assert_array_equal(b.grad.numpy(), [2, 2, 2])


def test_leaf_root_gradient_is_copied():
    g = np.array([1.0, 2.0])
    x = leaf([0.0, 0.0])
    x.backward(g)
    g[0] = 100.0
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2])
    y = leaf([0.0, 0.0])
    (y + 1).backward(g)
    g[1] = 100.0
    np.testing.assert_array_equal(y.grad.numpy(), [100, 2])


# ---------------------------------------------------------------- hooks, retain_grad, leaves


def test_leaf_hook_sees_and_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))  # returns None: no change
    handle = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2, 4])
    np.testing.assert_allclose(x.grad.numpy(), [20, 40])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])
    assert len(seen) == 2


def test_non_leaf_hook_replaces_the_gradient_flowing_on():
    x = leaf([1.0, 2.0])
    y = x * 3
    calls = []

    def hook(g):
        calls.append(g.numpy().copy())
        return g * 0.5

    handle = y.register_hook(hook)
    (y * y + y).sum().backward()  # the hook gets the total gradient of y, once
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], 2 * 3 * np.array([1, 2]) + 1)
    np.testing.assert_allclose(x.grad.numpy(), 3 * 0.5 * (6 * np.array([1, 2]) + 1))
    handle.remove()
    x.grad = None
    y = x * 3
    (y * y + y).sum().backward()
    assert len(calls) == 1


def test_hook_on_one_output_of_a_multi_output_op():
    x = leaf([1.0, 2.0, 3.0])
    a, b, c = x.unbind()
    b.register_hook(lambda g: g * 100)
    (a + b + c).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 100, 1])


def test_hook_needs_requires_grad():
    with pytest.raises(RuntimeError):
        Tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = x * 5
    y.retain_grad()
    (y * y + z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [4, 8])  # d(y*y)/dy = 2y
    assert z.grad is None  # non-leaves keep no grad unless asked
    np.testing.assert_allclose(x.grad.numpy(), [13, 21])
    x.retain_grad()  # a no-op on a leaf
    assert x.grad is not None


def test_requires_grad_propagation_and_is_leaf():
    x = leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    y = x * c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert not (c * c).requires_grad and (c * c).is_leaf
    assert x.is_leaf and c.is_leaf
    assert (x.sum() + c.sum()).requires_grad
    assert not x.detach().requires_grad and x.detach().is_leaf
    c.requires_grad_()
    assert c.requires_grad and (c * 2).requires_grad
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)  # only leaves may change the flag


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert d.numpy() is x.numpy() or np.shares_memory(d.numpy(), x.numpy())
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 2])  # no gradient through d


def test_unreached_leaves_get_no_grad():
    x, w = leaf([1.0]), leaf([2.0])
    (x * 3).sum().backward()
    assert w.grad is None


# ---------------------------------------------------------------- grad modes


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with tl.no_grad():
        assert not tl.is_grad_enabled()
        y = (x * 2).exp().sum()
        parts = x.split(1)
    assert tl.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert all(not p.requires_grad for p in parts)
    with pytest.raises(RuntimeError):
        y.backward()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with tl.no_grad():
        with tl.enable_grad():
            assert tl.is_grad_enabled()
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @tl.no_grad()
    def off(t):
        return t * 2

    @tl.enable_grad()
    def on(t):
        return t * 2

    @tl.set_grad_enabled(False)
    def off2(t):
        return t * 2

    assert tl.is_grad_enabled()  # decorating changes nothing by itself
    assert not off(x).requires_grad and not off2(x).requires_grad
    with tl.no_grad():
        assert on(x).requires_grad
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()


def test_set_grad_enabled_as_context_manager_and_plain_call():
    x = leaf([1.0])
    with tl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tl.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()
    try:
        tl.set_grad_enabled(False)  # a plain call switches at once, as in PyTorch
        assert not tl.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        tl.set_grad_enabled(True)
    assert tl.is_grad_enabled() and (x * 2).requires_grad


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(ValueError), tl.no_grad():
        raise ValueError("boom")
    assert tl.is_grad_enabled()


# ---------------------------------------------------------------- multi-output ops


@pytest.mark.parametrize("pieces", [
    lambda x: x.chunk(3),
    lambda x: x.split([2, 2, 2]),
    lambda x: x.split(2),
    lambda x: x.reshape(3, 2).unbind(),
], ids=["chunk", "split_sizes", "split", "unbind"])
def test_multi_output_ops_with_some_outputs_unused(pieces):
    x = leaf(np.arange(6.0))
    a, b, c = pieces(x)
    (b * 2).sum().backward()  # a and c never get a gradient
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 2, 2, 0, 0])
    x.grad = None
    a, b, c = pieces(x)
    (c * a * 3).sum().backward()  # used out of order
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([4, 5, 0, 0, 0, 1]))


def test_outputs_of_one_split_backpropagated_separately():
    # PyTorch: a node that saved no tensors can be walked again; each backward adds its part
    x = leaf(np.arange(4.0))
    a, b = x.split(2)
    (a * 2).sum().backward()
    (b * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 3, 3])
    x.grad = None
    for row in x.reshape(2, 2):  # one unbind node, one backward per row
        row.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 1, 1])


# ---------------------------------------------------------------- custom Function


class Cube(Function):
    """scale * x**3 with a non-tensor argument. VJP: 3 * scale * x**2 * g."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x**3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * ctx.scale * x**2 * grad_output, None


class HardSigmoid(Function):
    """clip(x / 6 + 1/2, 0, 1). VJP: g / 6 inside (-3, 3), else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x / 6 + 0.5).clamp(0, 1)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ((x > -3) & (x < 3)) / 6


def test_custom_function_forward_backward_and_gradcheck():
    x = leaf([-1.0, 0.5, 2.0])
    y = Cube.apply(x, 2.0)
    assert isinstance(y, Tensor) and y.requires_grad
    assert "CubeBackward" in repr(y)
    np.testing.assert_allclose(y.numpy(), 2 * np.array([-1, 0.125, 8]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1, 0.25, 4]))
    assert gradcheck(lambda t: Cube.apply(t, 0.5), leaf([-1.5, 0.3, 2.0]))
    assert gradcheck(HardSigmoid.apply, leaf([-4.0, -1.0, 0.5, 2.9, 5.0]))
    np.testing.assert_allclose(HardSigmoid.apply(leaf([-4.0, 0.0, 1.5])).numpy(), [0, 0.5, 0.75])


def test_custom_function_needs_input_grad():
    seen = []

    class Mix(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(x, y)
            return x * y + k

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            dx, dy, _ = ctx.needs_input_grad
            return (g * y if dx else None), (g * x if dy else None), None

    a, b = leaf([2.0]), Tensor(np.array([3.0]))
    Mix.apply(a, b, 1.0).sum().backward()
    assert tuple(seen[-1]) == (True, False, False)
    np.testing.assert_allclose(a.grad.numpy(), [3])
    Mix.apply(b, a, 1.0)
    assert tuple(seen[-1]) == (False, True, False)
    with tl.no_grad():
        out = Mix.apply(a, a, 1.0)
    assert tuple(seen[-1]) == (False, False, False) and not out.requires_grad


def test_custom_function_with_two_outputs():
    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return Tensor(np.sin(x.numpy())), Tensor(np.cos(x.numpy()))

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            (x,) = ctx.saved_tensors
            return g_sin * np.cos(x.numpy()) - g_cos * np.sin(x.numpy())

    x = leaf([0.3, 1.2])
    s, c = SinCos.apply(x)
    np.testing.assert_allclose(s.numpy(), np.sin([0.3, 1.2]))
    (s * 2).sum().backward()  # only one output used: the other gets zeros
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos([0.3, 1.2]))
    assert gradcheck(lambda t: SinCos.apply(t), leaf([0.3, 1.2]))


def test_custom_function_wrong_number_of_gradients():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"TooFew.*expected 2, got 1"):
        TooFew.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_custom_function_wrong_gradient_shape():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:2]

    with pytest.raises(RuntimeError) as info:
        BadShape.apply(leaf([1.0, 2.0, 3.0])).sum().backward()
    msg = str(info.value)
    assert "BadShape" in msg and "(2,)" in msg and "(3,)" in msg


def test_gradcheck_catches_a_wrong_backward():
    class WrongCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x**2 * g  # should be 3 * x**2

    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongCube.apply, x)
    msg = str(info.value)
    assert "input 0" in msg
    assert "numerical 3" in msg and "analytical 2" in msg  # d(x^3)/dx at x=1: 3, claimed 2
    assert gradcheck(WrongCube.apply, x, raise_exception=False) is False


def test_gradcheck_names_the_input_at_fault():
    class WrongSecond(Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * y  # the second should be g * x

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(WrongSecond.apply, (leaf([1.0, 2.0]), leaf([3.0, 5.0])))


def test_gradcheck_multiple_inputs_and_outputs():
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([0.5, -0.5])
    assert gradcheck(lambda x, y: (x @ y, (x * y).tanh()), (a, b))
    assert gradcheck(lambda x, y: x * y, (a, Tensor(np.array([2.0, 3.0]))))  # y is a constant


def test_gradcheck_skips_outputs_that_need_no_grad():
    # PyTorch's gradcheck checks only the differentiable outputs
    x = leaf([1.0, 2.0])
    assert gradcheck(lambda t: (t * 2, Tensor(np.array([1.0, 2.0, 3.0]))), x)


def test_gradcheck_refuses_float32_inputs():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, Tensor([1.0, 2.0], requires_grad=True))


# ---------------------------------------------------------------- in-place and the saved arrays


def test_modifying_a_saved_input_makes_backward_raise():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))  # needs no grad, but MulBackward saves it to compute dx
    y = (x * w).sum()
    w.add_(1)
    with pytest.raises(RuntimeError, match="MulBackward"):
        y.backward()


def test_modifying_a_saved_output_makes_backward_raise():
    x = leaf([1.0, 2.0])
    y = x.exp()  # ExpBackward saves its output
    loss = y.sum()
    with tl.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        loss.backward()


def test_modifying_a_saved_array_through_a_view_makes_backward_raise():
    # PyTorch: a view shares its base's version counter
    x = leaf([1.0, 2.0, 3.0])
    w = Tensor(np.array([1.0, 2.0, 3.0]))
    y = (x * w).sum()
    w[0:2].mul_(10)
    with pytest.raises(RuntimeError, match="MulBackward"):
        y.backward()


def test_modifying_an_unsaved_input_is_fine():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))
    y = (x + w).sum()  # AddBackward saves nothing
    w.mul_(10)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


def test_modifying_before_the_op_is_fine():
    x = leaf([1.0, 2.0])
    w = Tensor(np.array([3.0, 4.0]))
    w.add_(1)
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 5])


# ---------------------------------------------------------------- detect_anomaly


def test_anomaly_in_forward_names_op_and_user_line():
    x = leaf([-1.0, 1.0])
    with tl.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(RuntimeError) as info:
            x.log()
    msg = str(info.value)
    assert "Log" in msg and "nan" in msg
    assert "test_autograd.py" in msg and "x.log()" in msg


def test_anomaly_in_backward_names_op():
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * np.nan

    x = leaf([1.0, 2.0])
    with tl.detect_anomaly():
        y = NanGrad.apply(x).sum()
        with pytest.raises(RuntimeError) as info:
            y.backward()
    msg = str(info.value)
    assert "NanGradBackward" in msg and "nan" in msg and "test_autograd.py" in msg

    x = leaf([0.0, 1.0])
    with tl.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()  # finite forward, inf gradient at 0
        with pytest.raises(RuntimeError, match="inf"):
            y.backward()


def test_anomaly_checks_a_weight_gradient_kept_as_factors():
    # matmul and linear hand a weight x^T g as its two factors: finite factors, infinite product
    x, w = Tensor(np.full((1, 2), 1e200)), leaf(np.full((2, 2), 1e-300))
    for out in (lambda: x @ w, lambda: tl.nn.functional.linear(x, w)):
        with tl.detect_anomaly(), np.errstate(over="ignore"):
            with pytest.raises(RuntimeError, match="(Matmul|Linear)Backward: gradient for input 1 "
                                                   "holds inf"):
                (out().sum() * 1e200).backward()


def test_no_anomaly_checks_outside_the_context():
    assert not tl.autograd.is_anomaly_enabled()
    x = leaf([-1.0, 0.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        y = x.log()
        (y.sum() + x.sqrt().sum()).backward()
    assert np.isnan(y.numpy()[0])
    assert not np.isfinite(x.grad.numpy()).all()
