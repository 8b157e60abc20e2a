"""autograd.grad, autograd.backward and Tensor.backward(inputs=...) against gradients written
out and against the .grad that a plain backward gives."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import backward, grad


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_grad_returns_gradients_and_leaves_dot_grad_alone():
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    h = x * w  # a non-leaf input too
    y = (h * h).sum()
    gx, gh = grad(y, (x, h), retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 2 * (1 * 3) * 3 * np.array([1, 0]) +
                               2 * (2 * -1) * -1 * np.array([0, 1]))
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert x.grad is None and w.grad is None and h.grad is None
    (gw,) = grad([y], [w])  # lists work too
    np.testing.assert_allclose(gw.numpy(), 2 * x.numpy() ** 2 * w.numpy())


def test_grad_with_grad_outputs_and_several_outputs():
    x = leaf([1.0, 2.0, 3.0])
    a, b = x * 2, x ** 2
    (g,) = grad((a, b), x, grad_outputs=(Tensor(np.ones(3)), Tensor(np.array([1.0, 0, 2]))))
    np.testing.assert_allclose(g.numpy(), 2 + np.array([1.0, 0, 2]) * 2 * x.numpy())


def test_grad_error_cases():
    x, unused = leaf([1.0]), leaf([2.0])
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        grad(y, (x, unused), retain_graph=True)
    gx, gu = grad(y, (x, unused), allow_unused=True, retain_graph=True)
    assert gu is None and gx.numpy().tolist() == [3.0]
    _, gu = grad(y, (x, unused), materialize_grads=True, retain_graph=True)
    assert gu.numpy().tolist() == [0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(y, Tensor(np.ones(1)), retain_graph=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        grad(x * Tensor(np.ones(2)), x)
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        grad(Tensor(np.ones(1)), x)
    (gx,) = grad(y, x, create_graph=True)  # retain_graph defaults to create_graph: kept
    assert gx.numpy().tolist() == [3.0]
    grad(y, x)  # retain_graph defaults to False: the graph is freed
    with pytest.raises(RuntimeError, match="second time"):
        grad(y, x)


def test_grad_of_a_model_equals_backward():
    tl.manual_seed(0)
    lstm = nn.LSTM(3, 4).double()
    x = Tensor(np.random.default_rng(0).normal(size=(5, 2, 3)))
    loss = (lstm(x)[0] ** 2).mean()
    grads = grad(loss, list(lstm.parameters()), retain_graph=True)
    loss.backward()
    for p, g in zip(lstm.parameters(), grads):
        np.testing.assert_array_equal(g.numpy(), p.grad.numpy())


def test_backward_inputs_accumulates_into_those_tensors_only():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * w
    y = (h * x).sum()  # dy/dx = 2 x w, dy/dw = x^2, dy/dh = x
    y.backward(inputs=[w, h], retain_graph=True)
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), [1, 4])
    np.testing.assert_allclose(h.grad.numpy(), [1, 2])
    y.backward(inputs=(w,))
    np.testing.assert_allclose(w.grad.numpy(), [2, 8])  # accumulated
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])


def test_autograd_backward_of_several_tensors():
    x = leaf([1.0, 2.0])
    backward([x * 2, (x ** 2).sum()], [Tensor(np.array([1.0, 10.0])), None])
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2, 20 + 4])
