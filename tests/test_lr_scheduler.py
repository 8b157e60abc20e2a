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


def _sgdr(t, T_0, T_mult):
    """(T_cur, T_i) at epoch t: periods T_0, T_0 T_mult, T_0 T_mult^2, ... laid end to end."""
    T_i = T_0
    while t >= T_i:
        t, T_i = t - T_i, T_i * T_mult
    return t, T_i


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
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.5),
     lambda base, t: base * 0.5 ** ((t >= 3) + 2 * (t >= 10) + (t >= 25))),
    (lambda o: lr_scheduler.ConstantLR(o, factor=0.25, total_iters=6),
     lambda base, t: base * (0.25 if t < 6 else 1.0)),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=12),
     lambda base, t: base * (0.2 + 0.7 * min(t, 12) / 12)),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.001),
     lambda base, t: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * _sgdr(t, 4, 2)[0]
                                                            / _sgdr(t, 4, 2)[1])) / 2),
], ids=["StepLR", "StepLR-gamma", "ExponentialLR", "Cosine", "Cosine-eta_min", "LambdaLR",
        "MultiStepLR", "ConstantLR", "LinearLR", "WarmRestarts"])
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


# ---------------------------------------------------------------- schedules added for issue 13


def lrs_of(scheduler, epochs, group=0):
    """Group `group`'s lr at epochs 0..epochs-1."""
    return run(scheduler, epochs)[:, group].tolist()


def test_multistep_linear_constant_values_written_out():
    # base lr 0.1 (group 0); each value below is worked out by hand from PyTorch's docs
    np.testing.assert_allclose(
        lrs_of(lr_scheduler.MultiStepLR(make_optimizer(), milestones=[2, 5, 5]), 8),
        [0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4], rtol=1e-12)
    np.testing.assert_allclose(
        lrs_of(lr_scheduler.LinearLR(make_optimizer(), start_factor=0.5, total_iters=4), 7),
        [0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1, 0.1], rtol=1e-12)
    np.testing.assert_allclose(
        lrs_of(lr_scheduler.LinearLR(make_optimizer(), start_factor=1.0, end_factor=0.5,
                                     total_iters=2), 4),
        [0.1, 0.075, 0.05, 0.05], rtol=1e-12)
    np.testing.assert_allclose(
        lrs_of(lr_scheduler.ConstantLR(make_optimizer(), factor=0.5, total_iters=3), 5),
        [0.05, 0.05, 0.05, 0.1, 0.1], rtol=1e-12)


def test_sequential_lr_pytorch_doc_example():
    # PyTorch's docstring: ConstantLR(factor=0.1) until the milestone, then ExponentialLR(0.9)
    opt = make_optimizer([0.05])
    warmup = lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    scheduler = lr_scheduler.SequentialLR(opt, schedulers=[warmup, decay], milestones=[2])
    np.testing.assert_allclose(run(scheduler, 6)[:, 0],
                               [0.005, 0.005, 0.05, 0.045, 0.0405, 0.03645], rtol=1e-12)


def test_sequential_lr_warmup_then_cosine():
    # LinearLR warm-up for 3 epochs, then CosineAnnealingLR(T_max=4) restarted at epoch 3
    opt = make_optimizer()
    scheduler = lr_scheduler.SequentialLR(
        opt, [lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3),
              lr_scheduler.CosineAnnealingLR(opt, T_max=4)], milestones=[3])
    expected = closed_form(lambda base, t: base * (0.25 + 0.75 * t / 3) if t < 3 else
                           base * (1 + math.cos(math.pi * (t - 3) / 4)) / 2, epochs=8)
    np.testing.assert_allclose(run(scheduler, 8), expected, rtol=1e-12, atol=1e-15)
    assert scheduler.last_epoch == 7


def test_sequential_lr_errors():
    opt = make_optimizer()
    step = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.raises(ValueError, match="number of schedulers 1 and the number of milestones "
                                         "to be equal to 1"):
        lr_scheduler.SequentialLR(opt, [step], milestones=[3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        lr_scheduler.SequentialLR(opt, [step, lr_scheduler.ReduceLROnPlateau(opt)], [3])
    with pytest.raises(ValueError, match="to belong to the same optimizer"):
        lr_scheduler.SequentialLR(opt, [step, lr_scheduler.StepLR(make_optimizer(), 2)], [3])
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        lr_scheduler.SequentialLR(opt, [], [])


def test_cosine_warm_restarts_values_and_fractional_epochs():
    opt = make_optimizer()
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
    np.testing.assert_allclose(run(scheduler, 5)[:, 0], [0.1, 0.05, 0.1, 0.05, 0.1], rtol=1e-12)
    # step(epoch) with a fraction, T_0=3, T_mult=2: periods [0, 3), [3, 9): at 3.5, T_cur = 0.5
    opt = make_optimizer()
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    scheduler.step(3.5)
    assert (scheduler.T_cur, scheduler.T_i, scheduler.last_epoch) == (0.5, 6, 3)
    np.testing.assert_allclose(scheduler.get_last_lr(),
                               [b * (1 + math.cos(math.pi * 0.5 / 6)) / 2 for b in BASE_LRS])
    scheduler.step(1.25)  # back inside the first period
    assert (scheduler.T_cur, scheduler.T_i) == (1.25, 3)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 1.5"):
        lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, T_mult=1.5)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        scheduler.step(-1)


def _one_cycle_expected(t, three_phase=False, strategy="cos"):
    """max_lr 1, 10 steps, pct_start 0.3: initial 0.04, min 4e-6; momentum 0.95 <-> 0.85."""
    def anneal(a, b, p):
        return b + (a - b) * (1 + math.cos(math.pi * p)) / 2 if strategy == "cos" else \
            a + (b - a) * p
    if t <= 2:  # phase 1 ends at step 0.3 * 10 - 1 = 2
        return anneal(0.04, 1.0, t / 2), anneal(0.95, 0.85, t / 2)
    if not three_phase:
        return anneal(1.0, 4e-6, (t - 2) / 7), anneal(0.85, 0.95, (t - 2) / 7)
    if t <= 4:  # phase 2 ends at 2 * 0.3 * 10 - 2 = 4
        return anneal(1.0, 0.04, (t - 2) / 2), anneal(0.85, 0.95, (t - 2) / 2)
    return anneal(0.04, 4e-6, (t - 4) / 5), 0.95


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_lr_and_momentum(three_phase, strategy):
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10,
                                        anneal_strategy=strategy, three_phase=three_phase)
    group = opt.param_groups[0]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.04, 1.0, 4e-6)
    got = []
    for t in range(10):
        if t:
            opt.step()
            scheduler.step()
        got.append((group["lr"], group["momentum"]))
    expected = [_one_cycle_expected(t, three_phase, strategy) for t in range(10)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # by hand: step 1 is half way up; the last step reaches min_lr (two-phase) and momentum 0.95
    np.testing.assert_allclose(got[1], (0.52, 0.90), rtol=1e-12)
    np.testing.assert_allclose(got[9], (4e-6, 0.95), rtol=1e-9)
    scheduler.step()  # step 10 == total_steps is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of "
                                         "total steps is 10"):
        scheduler.step()


def test_one_cycle_cycles_adam_beta1_and_takes_epochs():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.Adam([p], lr=0.5, betas=(0.8, 0.99))
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=[1.0], epochs=2, steps_per_epoch=5)
    assert scheduler.total_steps == 10 and opt.param_groups[0]["betas"] == (0.95, 0.99)
    scheduler.step()
    assert opt.param_groups[0]["betas"][1] == 0.99
    np.testing.assert_allclose(opt.param_groups[0]["betas"][0], 0.90, rtol=1e-12)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=2)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([p]), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start, but got 1"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=1)
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer"):
        lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=5)


def plateau_lrs(metrics, **kwargs):
    opt = make_optimizer([1.0])
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    lrs = []
    for m in metrics:
        scheduler.step(m)
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


def test_reduce_lr_on_plateau_values_written_out():
    # rel threshold 0.1: improving means < 0.9 * best. 9.5, 9.2, 9.1 are 3 bad epochs > patience
    metrics = [10, 9.5, 9.2, 9.1, 8.0, 8.0, 8.0, 8.0]
    assert plateau_lrs(metrics, patience=2, factor=0.5, threshold=0.1) == \
        [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    # patience 0 on a flat metric: cut every epoch after the first, or every third in cooldown
    assert plateau_lrs([5] * 5, patience=0, factor=0.5) == [1, 0.5, 0.25, 0.125, 0.0625]
    assert plateau_lrs([5] * 5, patience=0, factor=0.5, cooldown=2) == [1, 0.5, 0.5, 0.5, 0.25]
    # min_lr floors the lr; a cut smaller than eps is skipped
    assert plateau_lrs([5] * 4, patience=0, factor=0.5, min_lr=0.3) == [1, 0.5, 0.3, 0.3]
    assert plateau_lrs([5] * 3, patience=0, factor=0.5, min_lr=0.9, eps=0.2) == [1, 1, 1]
    # 'max' with an absolute threshold: +0.05 is not an improvement over 0.5 (needs > 0.6)
    assert plateau_lrs([0.5, 0.55, 0.7, 0.65], mode="max", threshold=0.1, threshold_mode="abs",
                       patience=0, factor=0.1) == [1, 0.1, 0.1, 0.010000000000000002]


def test_reduce_lr_on_plateau_state_and_errors():
    opt = make_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=1, min_lr=[0.05, 0.0])
    scheduler.step(Tensor(3.0))  # a one-element Tensor, as PyTorch takes a 0-d tensor
    assert scheduler.best == 3.0 and scheduler.last_epoch == 1
    scheduler.step(4.0)
    scheduler.step(4.0)
    assert scheduler.get_last_lr() == [0.05, 0.002]
    sd = scheduler.state_dict()
    restored = lr_scheduler.ReduceLROnPlateau(make_optimizer(), mode="max")
    restored.load_state_dict(sd)
    assert (restored.mode, restored.best, restored.mode_worse) == ("min", 3.0, math.inf)
    with pytest.raises(ValueError, match=r"Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown!"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="foo")
    with pytest.raises(ValueError, match="threshold mode bar is unknown!"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="bar")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])


def test_old_base_class_name_for_custom_schedulers():
    class Halving(lr_scheduler._LRScheduler):
        def get_lr(self):
            return [base_lr * 0.5**self.last_epoch for base_lr in self.base_lrs]

    np.testing.assert_allclose(run(Halving(make_optimizer()), 3)[:, 0], [0.1, 0.05, 0.025])


def test_step_with_epoch_uses_closed_form_and_warns():
    scheduler = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[2, 4])
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(5)
    np.testing.assert_allclose(scheduler.get_last_lr(), [b * 0.01 for b in BASE_LRS])
