"""Grad-mode forms PyTorch 2 programs use: `@no_grad` / `@enable_grad` without parentheses,
and `torch.inference_mode` (a context manager and a decorator, bare or called, mode=False)."""

import tinygrad_lstm as tl


def test_no_grad_and_enable_grad_decorate_without_parentheses():
    @tl.no_grad
    def double(x):
        return x * 2

    @tl.enable_grad
    def triple(x):
        return x * 3

    x = tl.ones(2, requires_grad=True)
    assert double(x).requires_grad is False and double.__name__ == "double"
    with tl.no_grad():
        assert triple(x).requires_grad is True
        assert tl.is_grad_enabled() is False
    assert tl.is_grad_enabled() is True


def test_inference_mode_records_nothing_inside_in_every_form():
    x = tl.ones(2, requires_grad=True)
    with tl.inference_mode():
        assert (x * 2).requires_grad is False and not tl.is_grad_enabled()
    assert tl.is_grad_enabled()

    @tl.inference_mode()
    def called(t):
        return t * 2

    @tl.inference_mode
    def bare(t):
        return t * 2

    assert called(x).requires_grad is False and bare(x).requires_grad is False
    assert (x * 2).requires_grad is True  # restored after the calls
    assert tl.autograd.inference_mode is tl.inference_mode


def test_inference_mode_false_leaves_the_grad_mode_as_it_was():
    x = tl.ones(2, requires_grad=True)
    with tl.inference_mode(mode=False):
        assert (x * 2).requires_grad is True
    with tl.no_grad(), tl.inference_mode(False):
        assert (x * 2).requires_grad is False  # it does not turn recording on

    @tl.inference_mode(False)
    def f(t):
        return t * 2

    assert f(x).requires_grad is True
