"""Optimizers against their documented update rules, replayed independently in float64 NumPy.

Each `ref_*` below is the pseudo-code of the matching torch.optim class written out for one
parameter; the reference state uses PyTorch's state keys so the optimizer's buffers can be
compared too. Gradients are drawn from a seeded rng and set directly on `.grad`.
"""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, optim
from tinygrad_lstm.serialization import load, save

# ---------------------------------------------------------------- references (one parameter)


def ref_sgd(theta, g, s, t, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * theta
    if momentum != 0:
        if t > 1:
            s["momentum_buffer"] = momentum * s["momentum_buffer"] + (1 - dampening) * g
        else:
            s["momentum_buffer"] = g
        g = g + momentum * s["momentum_buffer"] if nesterov else s["momentum_buffer"]
    return theta - lr * g


def ref_adagrad(theta, g, s, t, lr, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    if maximize:
        g = -g
    clr = lr / (1 + (t - 1) * lr_decay)
    if weight_decay != 0:
        g = g + weight_decay * theta
    s["sum"] = s.get("sum", initial_accumulator_value) + g**2
    return theta - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_adadelta(theta, g, s, t, lr, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * theta
    s["square_avg"] = rho * s.get("square_avg", 0) + (1 - rho) * g**2
    delta = np.sqrt(s.get("acc_delta", 0) + eps) / np.sqrt(s["square_avg"] + eps) * g
    s["acc_delta"] = rho * s.get("acc_delta", 0) + (1 - rho) * delta**2
    return theta - lr * delta


def ref_rmsprop(theta, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * theta
    s["square_avg"] = alpha * s.get("square_avg", 0) + (1 - alpha) * g**2
    v_tilde = s["square_avg"]
    if centered:
        s["grad_avg"] = alpha * s.get("grad_avg", 0) + (1 - alpha) * g
        v_tilde = v_tilde - s["grad_avg"] ** 2
    if momentum > 0:
        s["momentum_buffer"] = momentum * s.get("momentum_buffer", 0) + g / (np.sqrt(v_tilde) + eps)
        return theta - lr * s["momentum_buffer"]
    return theta - lr * g / (np.sqrt(v_tilde) + eps)


def _ref_adam(theta, g, s, t, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    beta1, beta2 = betas
    if maximize:
        g = -g
    if decoupled:
        theta = theta - lr * weight_decay * theta
    elif weight_decay != 0:
        g = g + weight_decay * theta
    s["exp_avg"] = beta1 * s.get("exp_avg", 0) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", 0) + (1 - beta2) * g**2
    m_hat = s["exp_avg"] / (1 - beta1**t)
    if amsgrad:
        s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", 0), s["exp_avg_sq"])
        v_hat = s["max_exp_avg_sq"] / (1 - beta2**t)
    else:
        v_hat = s["exp_avg_sq"] / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adam(theta, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False):
    return _ref_adam(theta, g, s, t, lr, betas, eps, weight_decay, amsgrad, maximize, False)


def ref_adamw(theta, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
              amsgrad=False, maximize=False):
    return _ref_adam(theta, g, s, t, lr, betas, eps, weight_decay, amsgrad, maximize, True)


REFS = {optim.SGD: ref_sgd, optim.Adagrad: ref_adagrad, optim.Adadelta: ref_adadelta,
        optim.RMSprop: ref_rmsprop,
        optim.Adam: ref_adam, optim.AdamW: ref_adamw}

# (optimizer, options shared by both groups); every case runs >= 20 steps
CASES = [
    (optim.SGD, {}),
    (optim.SGD, {"momentum": 0.9, "weight_decay": 0.01}),
    (optim.SGD, {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    (optim.SGD, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.SGD, {"momentum": 0.5, "maximize": True}),
    (optim.Adagrad, {}),
    (optim.Adagrad, {"lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    (optim.Adagrad, {"maximize": True, "eps": 1e-6}),
    (optim.Adadelta, {}),
    (optim.Adadelta, {"rho": 0.5, "weight_decay": 0.01, "eps": 1e-4}),
    (optim.Adadelta, {"maximize": True}),
    (optim.RMSprop, {}),
    (optim.RMSprop, {"momentum": 0.9, "weight_decay": 0.01}),
    (optim.RMSprop, {"centered": True, "alpha": 0.9}),
    (optim.RMSprop, {"centered": True, "momentum": 0.8, "weight_decay": 0.01, "maximize": True}),
    (optim.Adam, {}),
    (optim.Adam, {"weight_decay": 0.01, "betas": (0.8, 0.99)}),
    (optim.Adam, {"amsgrad": True}),
    (optim.Adam, {"amsgrad": True, "weight_decay": 0.01, "maximize": True}),
    (optim.AdamW, {}),
    (optim.AdamW, {"weight_decay": 0.1, "betas": (0.8, 0.99)}),
    (optim.AdamW, {"amsgrad": True, "weight_decay": 0.05}),
    (optim.AdamW, {"amsgrad": True, "maximize": True}),
]
SHAPES = [(3, 4), (5,)]
LRS = [0.05, 0.01]
STEPS = 25


def case_id(case):
    cls, opts = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in opts.items())


def make_params(rng, dtype):
    inits = [rng.standard_normal(shape) for shape in SHAPES]
    return inits, [Tensor(x.astype(dtype), requires_grad=True) for x in inits]


def two_groups(cls, params, opts):
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS, strict=True)]
    return cls(groups, **opts)


def draw_grads(rng, params, dtype):
    """Set fresh gradients on params; returns them as float64 (what the reference sees)."""
    grads = []
    for p in params:
        g = rng.standard_normal(p.shape).astype(dtype)
        p.grad = Tensor(g)
        grads.append(g.astype(np.float64))
    return grads


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_update_rule_matches_reference(case):
    cls, opts = case
    ref = REFS[cls]
    rng = np.random.default_rng(0)
    inits, params = make_params(rng, np.float64)
    opt = two_groups(cls, params, opts)
    thetas, states = [x.copy() for x in inits], [{}, {}]
    for t in range(1, STEPS + 1):
        grads = draw_grads(rng, params, np.float64)
        opt.step()
        for i, p in enumerate(params):
            thetas[i] = ref(thetas[i], grads[i], states[i], t, lr=LRS[i], **opts)
            np.testing.assert_allclose(p.numpy(), thetas[i], rtol=1e-10, atol=1e-12)
    for i, p in enumerate(params):  # the buffers too, under PyTorch's keys
        state = opt.state[p]
        expected_keys = set(states[i]) | ({"step"} if cls is not optim.SGD else set())
        assert set(state) == expected_keys
        for key, value in states[i].items():
            np.testing.assert_allclose(state[key], value, rtol=1e-10, atol=1e-12)
        if "step" in state:
            assert state["step"] == STEPS


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_0d_parameter_steps_as_a_one_element_one(case):
    # NumPy returns scalars, not arrays, from ufuncs on 0-d arrays: no update may rely on them
    cls, opts = case
    rng = np.random.default_rng(3)
    values = rng.standard_normal(STEPS + 1)
    scalar, vector = Tensor(values[0], requires_grad=True), Tensor(values[:1], requires_grad=True)
    opt_scalar, opt_vector = cls([scalar], **opts), cls([vector], **opts)
    for g in values[1:]:
        scalar.grad, vector.grad = Tensor(np.float64(g)), Tensor(np.array([g]))
        opt_scalar.step()
        opt_vector.step()
        assert scalar.shape == () and type(scalar.numpy()) is np.ndarray
        np.testing.assert_array_equal(scalar.numpy().reshape(1), vector.numpy())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_stays_float32_and_updates_in_place(case):
    cls, opts = case
    rng = np.random.default_rng(0)
    inits, params = make_params(rng, np.float32)
    arrays = [p.numpy() for p in params]
    opt = two_groups(cls, params, opts)
    thetas, states = [x.astype(np.float32).astype(np.float64) for x in inits], [{}, {}]
    for t in range(1, 21):
        grads = draw_grads(rng, params, np.float32)
        opt.step()
        for i in range(2):
            thetas[i] = REFS[cls](thetas[i], grads[i], states[i], t, lr=LRS[i], **opts)
    for i, p in enumerate(params):
        assert p.numpy() is arrays[i]
        assert p.numpy().dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values()
                   if isinstance(v, np.ndarray))
        np.testing.assert_allclose(p.numpy(), thetas[i], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- defaults and validation

DEFAULTS = [
    (optim.SGD, dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                     maximize=False, foreach=None, differentiable=False, fused=None)),
    (optim.Adagrad, dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                         eps=1e-10, foreach=None, maximize=False, differentiable=False,
                         fused=None)),
    (optim.Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False,
                          capturable=False, foreach=None, differentiable=False)),
    (optim.RMSprop, dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                         centered=False, capturable=False, foreach=None, maximize=False,
                         differentiable=False)),
    (optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                      foreach=None, maximize=False, capturable=False, differentiable=False,
                      fused=None, decoupled_weight_decay=False)),
    (optim.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                       amsgrad=False, maximize=False, foreach=None, capturable=False,
                       differentiable=False, fused=None, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("cls, defaults", DEFAULTS, ids=lambda x: getattr(x, "__name__", ""))
def test_defaults_match_pytorch(cls, defaults):
    p = Tensor(np.zeros(3), requires_grad=True)
    opt = cls([p])
    assert opt.defaults == defaults
    group = opt.param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == defaults
    assert group["params"][0] is p


def test_export_order():
    assert optim.__all__ == ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam",
                             "AdamW", "LBFGS", "lr_scheduler"]
    assert all(issubclass(cls, optim.Optimizer) for cls, _ in DEFAULTS)


@pytest.mark.parametrize("cls", [c for c, _ in DEFAULTS], ids=lambda c: c.__name__)
def test_invalid_learning_rate(cls):
    p = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0\.1"):
        cls([p], lr=-0.1)


@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    (optim.SGD, {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    (optim.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "Nesterov momentum requires a momentum and zero dampening"),
    (optim.Adagrad, {"lr_decay": -1}, "Invalid lr_decay value: -1"),
    (optim.Adagrad, {"initial_accumulator_value": -1}, "Invalid initial_accumulator_value"),
    (optim.Adagrad, {"eps": -1}, "Invalid epsilon value: -1"),
    (optim.Adadelta, {"rho": 1.5}, "Invalid rho value: 1.5"),
    (optim.Adadelta, {"rho": -0.1}, "Invalid rho value: -0.1"),
    (optim.Adadelta, {"eps": -1}, "Invalid epsilon value: -1"),
    (optim.Adadelta, {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    (optim.RMSprop, {"alpha": -1}, "Invalid alpha value: -1"),
    (optim.RMSprop, {"momentum": -1}, "Invalid momentum value: -1"),
    (optim.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, {"eps": -1}, "Invalid epsilon value: -1"),
    (optim.AdamW, {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    (optim.AdamW, {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
])
def test_invalid_hyperparameters(cls, kwargs, message):
    p = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        cls([p], **kwargs)


def test_bad_params():
    a = Tensor(np.zeros(3), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(a)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is ndarray"):
        optim.SGD([a, np.zeros(3)])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {a, b}}])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([a * 2])
    with pytest.raises(ValueError, match=r"duplicate parameters.*params\[0\] and params\[2\]"):
        optim.SGD([a, b, a])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter"):
        optim.SGD([{"params": [a]}, {"params": [b, a]}])


def test_any_leaf_tensor_can_be_optimised_and_param_groups_take_options():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([{"params": a}, {"params": (x for x in [b]), "momentum": 0.9}], lr=0.1)
    assert [g["params"] for g in opt.param_groups] == [[a], [b]]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]
    c = Tensor(np.ones(4), requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 0.5})
    assert opt.param_groups[2]["lr"] == 0.5 and opt.param_groups[2]["nesterov"] is False
    for p in (a, b, c):
        p.grad = Tensor(np.ones(p.shape))
    opt.step()
    np.testing.assert_allclose(a.numpy(), 0.9)
    np.testing.assert_allclose(b.numpy(), 0.9)
    np.testing.assert_allclose(c.numpy(), 0.5)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [b]})


# ---------------------------------------------------------------- zero_grad, skipping, closure


def test_zero_grad_to_none_and_in_place():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b])
    a.grad = Tensor(np.full(3, 2.0))
    grad_array = a.grad.numpy()
    opt.zero_grad(set_to_none=False)
    assert a.grad.numpy() is grad_array
    np.testing.assert_array_equal(grad_array, np.zeros(3))
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("cls", [c for c, _ in DEFAULTS], ids=lambda c: c.__name__)
def test_params_without_grad_are_skipped(cls):
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(3), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    b_before = b.numpy().copy()
    opt = cls([a, b], lr=0.1, weight_decay=0.1)
    for _ in range(3):
        a.grad = Tensor(rng.standard_normal(3))
        opt.step()
    np.testing.assert_array_equal(b.numpy(), b_before)  # weight decay does not touch it either
    assert b not in opt.state
    assert (a in opt.state) == (cls is not optim.SGD)  # plain SGD keeps no state


def test_step_runs_closure_with_grad_enabled_and_returns_its_loss():
    a = Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    seen = []

    def closure():
        seen.append(tl.is_grad_enabled())
        a.grad = Tensor(np.ones(3))
        return 1.5

    with tl.no_grad():
        assert opt.step(closure) == 1.5
    assert seen == [True]
    np.testing.assert_allclose(a.numpy(), 0.9)  # Adam's first step moves by lr
    assert opt.step() is None
    assert tl.is_grad_enabled()


@pytest.mark.parametrize("cls", [c for c, _ in DEFAULTS], ids=lambda c: c.__name__)
def test_step_invalidates_graphs_that_saved_the_old_parameter(cls):
    w = Tensor(np.ones(3), requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    cls([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_repr_lists_groups():
    a = Tensor(np.ones(3), requires_grad=True)
    text = repr(optim.AdamW([a], lr=0.5))
    assert text.startswith("AdamW (\nParameter Group 0\n")
    assert "    lr: 0.5\n" in text and "    betas: (0.9, 0.999)\n" in text


# ---------------------------------------------------------------- state_dict


@pytest.mark.parametrize("case", [CASES[3], CASES[6], CASES[11], CASES[15], CASES[18]],
                         ids=case_id)
def test_state_dict_round_trip_continues_exactly(case):
    cls, opts = case
    rng = np.random.default_rng(0)
    _, params = make_params(rng, np.float32)
    opt = two_groups(cls, params, opts)
    for _ in range(5):
        draw_grads(rng, params, np.float32)
        opt.step()
    sd = opt.state_dict()

    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == LRS
    assert sorted(sd["state"]) == [0, 1]
    for index, p in enumerate(params):
        for key, value in sd["state"][index].items():
            if key == "step":
                assert value == 5 and isinstance(value, int)
            else:
                assert isinstance(value, np.ndarray) and value is not opt.state[p][key]
                np.testing.assert_array_equal(value, opt.state[p][key])

    clones = [Tensor(p.numpy().copy(), requires_grad=True) for p in params]
    other = cls([{"params": [c]} for c in clones], lr=0.5)  # options come from the state dict
    other.load_state_dict(sd)
    assert [g["lr"] for g in other.param_groups] == LRS
    assert [g["params"][0] for g in other.param_groups] == clones
    for value in sd["state"][0].values():  # loading copied the arrays
        if isinstance(value, np.ndarray):
            value += 100.0
    for _ in range(10):
        grads = draw_grads(rng, params, np.float32)
        for c, g in zip(clones, grads, strict=True):
            c.grad = Tensor(g.astype(np.float32))
        opt.step()
        other.step()
    for p, c in zip(params, clones, strict=True):
        np.testing.assert_array_equal(c.numpy(), p.numpy())
        assert c.numpy().dtype == np.float32


def test_state_dict_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    _, params = make_params(rng, np.float32)
    opt = two_groups(optim.Adam, params, {"amsgrad": True})
    for _ in range(3):
        draw_grads(rng, params, np.float32)
        opt.step()
    save(opt.state_dict(), tmp_path / "opt.npz")
    clones = [Tensor(p.numpy().copy(), requires_grad=True) for p in params]
    other = optim.Adam([{"params": [c]} for c in clones])
    other.load_state_dict(load(tmp_path / "opt.npz"))
    assert other.param_groups[0]["betas"] == (0.9, 0.999)
    for _ in range(3):
        grads = draw_grads(rng, params, np.float32)
        for c, g in zip(clones, grads, strict=True):
            c.grad = Tensor(g.astype(np.float32))
        opt.step()
        other.step()
    for p, c in zip(params, clones, strict=True):
        np.testing.assert_array_equal(c.numpy(), p.numpy())


def test_load_state_dict_rejects_mismatched_layout():
    rng = np.random.default_rng(0)
    _, params = make_params(rng, np.float64)
    opt = two_groups(optim.SGD, params, {"momentum": 0.9})
    draw_grads(rng, params, np.float64)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups: 2 in the "
                                         "state dict, 1 in the optimizer"):
        optim.SGD(params).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group: group 0 "
                                         "has 1 parameters in the state dict, 2 in"):
        extra = Tensor(np.zeros(5), requires_grad=True)
        optim.SGD([{"params": [params[0], extra]}, {"params": [params[1]]}]).load_state_dict(sd)
    swapped = [{"params": [params[1]]}, {"params": [params[0]]}]
    with pytest.raises(ValueError, match=r"'momentum_buffer' of shape \(3, 4\) for a parameter "
                                         r"of shape \(5,\)"):
        optim.SGD(swapped).load_state_dict(sd)


def test_adam_betas_must_be_a_pair():
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=0.9)
