"""autograd.Function receives and returns Tensors, with PyTorch's ctx interface."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import Function, gradcheck


class MyReLU(Function):
    """The PyTorch tutorial's custom ReLU ("Defining new autograd functions"), unchanged."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_tutorial_relu_runs_unchanged():
    x = leaf([-2.0, -0.5, 0.5, 3.0])
    y = MyReLU.apply(x)
    assert y.grad_fn is not None and "MyReLUBackward" in repr(y)
    np.testing.assert_array_equal(y.numpy(), [0, 0, 0.5, 3])
    (y * Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 4])
    assert gradcheck(MyReLU.apply, leaf([-2.0, -0.5, 0.5, 3.0]))


def test_forward_gets_tensors_with_recording_off_and_backward_gets_tensors():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, k):
            seen["forward"] = (type(x), tl.is_grad_enabled(), ctx.needs_input_grad)
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = type(g)
            return g * ctx.k, None

    x = leaf([1.0, 2.0])
    Scale.apply(x, 3.0).sum().backward()
    assert seen["forward"] == (Tensor, False, (True, False))
    assert seen["backward"] is Tensor
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_saved_tensors_are_version_checked_and_freed():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    x = leaf([1.0, 2.0])
    h = x * 1
    y = Square.apply(h)
    with tl.no_grad():
        h.add_(1)  # changes what Square saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = Square.apply(x * 1).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_mark_dirty_makes_the_input_the_output():
    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([1.0, 2.0])
    h = x * 2
    out = AddOneInPlace.apply(h)
    assert out is h and "AddOneInPlaceBackward" in repr(h)
    np.testing.assert_array_equal(h.numpy(), [3, 5])
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12, 20])  # d(2x+1)^2/dx = 4(2x+1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        AddOneInPlace.apply(leaf([1.0]))


def test_mark_non_differentiable_and_materialize_grads():
    received = []

    class SortWithIndices(Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.numpy())
            idx = Tensor(order)
            ctx.mark_non_differentiable(idx)
            ctx.order = order
            return Tensor(x.numpy()[order]), idx

        @staticmethod
        def backward(ctx, g_values, g_idx):
            received.append(g_idx)
            grad = np.zeros(len(ctx.order))
            grad[ctx.order] = g_values.numpy()
            return Tensor(grad)

    x = leaf([3.0, 1.0, 2.0])
    values, idx = SortWithIndices.apply(x)
    assert not idx.requires_grad and values.requires_grad
    (values * Tensor(np.array([1.0, 10.0, 100.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100, 1, 10])
    assert isinstance(received[-1], Tensor) and (received[-1].numpy() == 0).all()

    class NoMaterialize(SortWithIndices):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return SortWithIndices.forward(ctx, x)

    NoMaterialize.apply(leaf([3.0, 1.0, 2.0]))[0].sum().backward()
    assert received[-1] is None


def test_errors_name_the_function():
    class ReturnsArray(Function):
        @staticmethod
        def forward(ctx, x):
            return x.numpy() * 2

    with pytest.raises(TypeError, match="ReturnsArray.forward returned a NumPy array"):
        ReturnsArray.apply(leaf([1.0]))

    class WrongType(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.numpy()

    with pytest.raises(RuntimeError, match="WrongTypeBackward.*ndarray"):
        WrongType.apply(leaf([1.0])).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward"):
        class SavesArray(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x.numpy())
                return x

        SavesArray.apply(leaf([1.0]))


def test_mark_dirty_rebases_the_views_of_the_dirty_input():
    from tinygrad_lstm.autograd.grad_mode import _state

    class DoubleInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    _state.rebased = False  # as in a fresh process: the Function alone must set it
    a = leaf([1.0, 2.0, 3.0])
    y = a * 1
    v = y[0:2]
    DoubleInPlace.apply(y)
    v.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2, 0])


def test_function_argument_and_output_rules():
    class NotReturned(Function):
        @staticmethod
        def forward(ctx, x, y):
            x.add_(1)
            ctx.mark_dirty(x)
            return y * 1

    with pytest.raises(RuntimeError, match="marked as dirty .* not returned"):
        NotReturned.apply(leaf([1.0]) * 1, leaf([2.0]))

    class MaxAndIndex(Function):
        @staticmethod
        def forward(ctx, x):
            return x.amax(), x.argmax()

        @staticmethod
        def backward(ctx, g, g_index):
            return g * Tensor(np.array([0.0, 1.0]))

    value, index = MaxAndIndex.apply(leaf([1.0, 3.0]))
    assert value.requires_grad and not index.requires_grad  # integers get no gradient

    class GradForANumber(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g.sum()

    with pytest.raises(RuntimeError, match="position 1, but the corresponding forward input"):
        GradForANumber.apply(leaf([1.0]), 2.0).sum().backward()

    class ReturnsNumber(Function):
        @staticmethod
        def forward(ctx, x):
            return 3

    assert ReturnsNumber.apply(leaf([1.0])) == 3
    with pytest.raises(TypeError, match="positionally"):
        GradForANumber.apply(x=leaf([1.0]), k=2.0)
