"""Learning-rate schedulers: lr sequences against the closed forms in PyTorch's docs."""

import math

import numpy as np
import pytest

from tinygrad_lstm import Tensor, optim
from tinygrad_lstm.optim import lr_scheduler

BASE_LRS = [0.1, 0.02]
EPOCHS = 40


def make_optimizer(lrs=BASE_LRS):
    params = [Tensor(np.zeros(2), requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])


def run(scheduler, epochs=EPOCHS):
    """lrs of every group at epochs 0..epochs-1 (one scheduler.step() per epoch)."""
    lrs = [scheduler.get_last_lr()]
    for _ in range(epochs - 1):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
    return np.array(lrs)  # (epochs, groups)


def closed_form(fn, epochs=EPOCHS):
    return np.array([[fn(base, t) for base in BASE_LRS] for t in range(epochs)])


@pytest.mark.parametrize("make, fn", [
    (lambda o: lr_scheduler.StepLR(o, step_size=3),
     lambda base, t: base * 0.1 ** (t // 3)),
    (lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
     lambda base, t: base * 0.5 ** (t // 7)),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
     lambda base, t: base * 0.9**t),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10),
     lambda base, t: base * (1 + math.cos(math.pi * t / 10)) / 2),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
     lambda base, t: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * t / 7)) / 2),
    (lambda o: lr_scheduler.LambdaLR(o, lambda t: 1 / (t + 1)),
     lambda base, t: base / (t + 1)),
], ids=["StepLR", "StepLR-gamma", "ExponentialLR", "Cosine", "Cosine-eta_min", "LambdaLR"])
def test_lr_sequence_matches_closed_form(make, fn):
    # CosineAnnealingLR runs PyTorch's recursion; 40 epochs cover several periods of 2 T_max
    opt = make_optimizer()
    scheduler = make(opt)
    assert [g["initial_lr"] for g in opt.param_groups] == BASE_LRS
    assert scheduler.base_lrs == BASE_LRS
    np.testing.assert_allclose(run(scheduler), closed_form(fn), rtol=1e-12, atol=1e-15)
    assert scheduler.last_epoch == EPOCHS - 1


def test_cosine_hits_eta_min_and_climbs_back():
    opt = make_optimizer()
    lrs = run(lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.01), epochs=11)
    np.testing.assert_allclose(lrs[5], [0.01, 0.01], rtol=1e-12)
    np.testing.assert_allclose(lrs[10], BASE_LRS, rtol=1e-12)


def test_lambda_lr_one_function_per_group():
    opt = make_optimizer()
    scheduler = lr_scheduler.LambdaLR(opt, [lambda t: 0.5**t, lambda t: t + 1])
    lrs = run(scheduler, epochs=6)
    expected = [[0.1 * 0.5**t, 0.02 * (t + 1)] for t in range(6)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(make_optimizer(), [lambda t: 1.0])


def test_schedules_chain_with_manual_lr_changes():
    # PyTorch computes StepLR/ExponentialLR from the group's current lr, not from base_lrs
    opt = make_optimizer()
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    scheduler.step()
    opt.param_groups[0]["lr"] = 1.0
    scheduler.step()
    assert scheduler.get_last_lr() == [0.5, 0.01]


def test_state_dict_round_trip():
    opt = make_optimizer()
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
    for _ in range(4):
        scheduler.step()
    sd = scheduler.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4 and sd["base_lrs"] == BASE_LRS

    opt2 = make_optimizer()
    opt2.load_state_dict(opt.state_dict())  # carries lr and initial_lr
    scheduler2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=6)
    scheduler2.load_state_dict(sd)
    assert scheduler2.eta_min == 0.001 and scheduler2.base_lrs == BASE_LRS
    np.testing.assert_array_equal(run(scheduler2, epochs=15), run(scheduler, epochs=15))


def test_resume_with_last_epoch_uses_closed_form():
    opt = make_optimizer()
    for group in opt.param_groups:
        group["initial_lr"], group["lr"] = group["lr"], 123.0  # lr must not be recursed from
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001, last_epoch=3)
    assert scheduler.last_epoch == 4
    expected = [0.001 + (base - 0.001) * (1 + math.cos(math.pi * 4 / 6)) / 2 for base in BASE_LRS]
    np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12)


def test_lambda_lr_state_dict_keeps_callable_objects_not_functions():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, t):
            return min(1.0, (t + 1) / self.steps)

    opt = make_optimizer()
    scheduler = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda t: 1.0])
    sd = scheduler.state_dict()
    assert sd["lr_lambdas"] == [{"steps": 4}, None]
    restored = lr_scheduler.LambdaLR(make_optimizer(), [Warmup(10), lambda t: 1.0])
    restored.load_state_dict(sd)
    assert restored.lr_lambdas[0].steps == 4


def test_errors():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.ExponentialLR(make_optimizer(), gamma=0.9, last_epoch=3)
    with pytest.raises(ValueError, match="StepLR: expected step_size to be a positive int, got 0"):
        lr_scheduler.StepLR(make_optimizer(), step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: expected T_max to be a positive"):
        lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=0)
    with pytest.raises(NotImplementedError):
        lr_scheduler.LRScheduler(make_optimizer())
