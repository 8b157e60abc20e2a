"""PyTorch's implementation switches (foreach, fused, capturable, differentiable) in optim.

The signatures and param_groups keys below are PyTorch 2.7+'s (torch/optim/*.py), written out.
`foreach` only chooses how PyTorch loops over tensors, so any value gives the same numbers here;
fused, capturable and differentiable set to True would ask for something this library does not
do, so they raise NotImplementedError wherever they can enter a group.
"""

import inspect
import io

import numpy as np
import pytest
from torch_files import Storage, TorchTensor, zip_file

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, optim

SIGNATURES = {
    optim.SGD: "params, lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, "
               "maximize=False, foreach=None, differentiable=False, fused=None",
    optim.Adagrad: "params, lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, "
                   "eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None",
    optim.Adadelta: "params, lr=1.0, rho=0.9, eps=1e-06, weight_decay=0, foreach=None, *, "
                    "capturable=False, maximize=False, differentiable=False",
    optim.RMSprop: "params, lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0, momentum=0, "
                   "centered=False, capturable=False, foreach=None, maximize=False, "
                   "differentiable=False",
    optim.Adam: "params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, "
                "*, foreach=None, maximize=False, capturable=False, differentiable=False, "
                "fused=None, decoupled_weight_decay=False",
    optim.AdamW: "params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, "
                 "amsgrad=False, *, maximize=False, foreach=None, capturable=False, "
                 "differentiable=False, fused=None",
    optim.LBFGS: "params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-07, "
                 "tolerance_change=1e-09, history_size=100, line_search_fn=None",
}

# a group's keys in PyTorch's order, after 'params'
GROUP_KEYS = {
    optim.SGD: ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                "differentiable", "fused"],
    optim.Adagrad: ["lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value",
                    "foreach", "maximize", "differentiable", "fused"],
    optim.Adadelta: ["lr", "rho", "eps", "weight_decay", "maximize", "capturable", "foreach",
                     "differentiable"],
    optim.RMSprop: ["lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable",
                    "foreach", "maximize", "differentiable"],
    optim.Adam: ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach",
                 "capturable", "differentiable", "fused", "decoupled_weight_decay"],
    optim.AdamW: ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach",
                  "capturable", "differentiable", "fused", "decoupled_weight_decay"],
    optim.LBFGS: ["lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change",
                  "history_size", "line_search_fn"],
}

UNSUPPORTED = [(cls, name) for cls, keys in GROUP_KEYS.items()
               for name in ("fused", "capturable", "differentiable") if name in keys]

# options that take each update rule through its branches
STEP_CASES = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
    (optim.Adadelta, {"rho": 0.5, "weight_decay": 0.01, "maximize": True}),
    (optim.RMSprop, {"centered": True, "momentum": 0.8, "weight_decay": 0.01}),
    (optim.Adam, {"amsgrad": True, "weight_decay": 0.01}),
    (optim.AdamW, {"lr": 0.01, "maximize": True}),
]


def name_of(x):
    if isinstance(x, dict):
        return ",".join(f"{k}={v}" for k, v in x.items())
    return x.__name__ if isinstance(x, type) else str(x)


def signature_text(cls) -> str:
    """cls.__init__'s parameters after self, as written in a def without annotations."""
    parts: list[str] = []
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind is param.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        default = "" if param.default is param.empty else f"={param.default!r}"
        parts.append(param.name + default)
    return ", ".join(parts)


def param(n=3):
    return Tensor(np.zeros(n), requires_grad=True)


def run_steps(cls, opts, steps=4, seed=0):
    """The parameters after `steps` steps on seeded gradients, and the optimizer."""
    rng = np.random.default_rng(seed)
    params = [Tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(3, 4), (5,)]]
    opt = cls(params, **opts)
    for _ in range(steps):
        for p in params:
            p.grad = Tensor(rng.standard_normal(p.shape))
        opt.step()
    return [p.numpy().copy() for p in params], opt


# ---------------------------------------------------------------- signatures and group keys


@pytest.mark.parametrize("cls", SIGNATURES, ids=name_of)
def test_signature_is_pytorchs(cls):
    assert signature_text(cls) == SIGNATURES[cls]


@pytest.mark.parametrize("cls", GROUP_KEYS, ids=name_of)
def test_param_groups_carry_pytorchs_keys_in_its_order(cls):
    opt = cls([param()])
    assert list(opt.defaults) == GROUP_KEYS[cls]
    assert list(opt.param_groups[0]) == ["params", *GROUP_KEYS[cls]]
    if cls is not optim.LBFGS:  # one group only
        opt.add_param_group({"params": [param()], "lr": 0.5})
        assert list(opt.param_groups[1]) == ["params", "lr", *GROUP_KEYS[cls][1:]]
    assert all(opt.param_groups[0][k] is None for k in ("foreach", "fused") if k in opt.defaults)


def test_group_keys_match_torch_when_installed():
    torch = pytest.importorskip("torch")
    for cls, keys in GROUP_KEYS.items():
        theirs = getattr(torch.optim, cls.__name__)([torch.zeros(1, requires_grad=True)])
        assert set(theirs.param_groups[0]) == {"params", *keys}, cls.__name__


def test_adagrad_takes_foreach_by_position():
    opt = optim.Adagrad([param()], 0.1, 0, 0, 0, 1e-10, True)
    assert opt.param_groups[0]["foreach"] is True
    with pytest.raises(TypeError):  # maximize and what follows are keyword-only
        optim.Adagrad([param()], 0.1, 0, 0, 0, 1e-10, True, True)


def test_rmsprop_takes_every_switch_by_position():
    opt = optim.RMSprop([param()], 0.01, 0.99, 1e-8, 0, 0, False, False, True, True, False)
    group = opt.param_groups[0]
    assert (group["capturable"], group["foreach"], group["maximize"]) == (False, True, True)


@pytest.mark.parametrize("cls, positional", [
    (optim.SGD, [0.1, 0, 0, 0, False, True]),
    (optim.Adam, [1e-3, (0.9, 0.999), 1e-8, 0, False, True]),
    (optim.AdamW, [1e-3, (0.9, 0.999), 1e-8, 0.01, False, True]),
], ids=name_of)
def test_keyword_only_switches_refuse_a_position(cls, positional):
    with pytest.raises(TypeError):
        cls([param()], *positional)


# ---------------------------------------------------------------- foreach: the same numbers


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("cls, opts", STEP_CASES, ids=name_of)
def test_foreach_steps_bitwise_as_the_default(cls, opts, foreach):
    expected, plain = run_steps(cls, opts)
    got, opt = run_steps(cls, {**opts, "foreach": foreach})
    assert all(g["foreach"] is foreach for g in opt.param_groups)
    for x, y in zip(got, expected, strict=True):
        np.testing.assert_array_equal(x, y)
    for p, q in zip(opt.param_groups[0]["params"], plain.param_groups[0]["params"], strict=True):
        for key, value in plain.state[q].items():
            np.testing.assert_array_equal(opt.state[p][key], value)


# ---------------------------------------------------------------- fused, capturable, differentiable


@pytest.mark.parametrize("cls, name", UNSUPPORTED, ids=name_of)
def test_unsupported_switch_raises_naming_it(cls, name):
    with pytest.raises(NotImplementedError,
                       match=rf"^{cls.__name__}: {name}=True is not supported: .*use {name}=False"):
        cls([param()], **{name: True})
    assert cls([param()], **{name: False}).param_groups[0][name] is False


@pytest.mark.parametrize("cls, name", UNSUPPORTED, ids=name_of)
def test_add_param_group_refuses_an_unsupported_switch(cls, name):
    opt = cls([param()])
    with pytest.raises(NotImplementedError, match=rf"^{cls.__name__}: {name}=True is not"):
        opt.add_param_group({"params": [param()], name: True})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("cls, name", UNSUPPORTED, ids=name_of)
def test_load_state_dict_refuses_an_unsupported_switch(cls, name):
    _, opt = run_steps(cls, {})
    sd = opt.state_dict()
    sd["param_groups"][0][name] = True
    before = opt.state_dict()
    with pytest.raises(NotImplementedError,
                       match=rf"{name}=True in param_groups\[0\] of the state dict is not"):
        opt.load_state_dict(sd)
    assert opt.param_groups[0][name] in (None, False)  # nothing was loaded
    assert opt.state_dict()["state"].keys() == before["state"].keys()


# ---------------------------------------------------------------- checkpoints from PyTorch


@pytest.mark.parametrize("cls", [c for c, _ in STEP_CASES], ids=name_of)
def test_a_group_saved_before_the_switches_existed_takes_the_defaults(cls):
    # PyTorch 1.x groups had none of foreach, maximize, differentiable, fused, ...
    _, opt = run_steps(cls, {})
    sd = opt.state_dict()
    old_keys = {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "lr_decay",
                "initial_accumulator_value", "eps", "alpha", "centered", "betas", "amsgrad"}
    sd["param_groups"] = [{k: v for k, v in g.items() if k in old_keys}
                          for g in sd["param_groups"]]
    _, other = run_steps(cls, {}, steps=0)
    other.load_state_dict(sd)
    assert other.param_groups[0].keys() == {"params", *GROUP_KEYS[cls]}
    assert {k: other.param_groups[0][k] for k in GROUP_KEYS[cls]} == opt.defaults
    for p in other.param_groups[0]["params"]:
        p.grad = Tensor(np.ones(p.shape))
    other.step()  # reads maximize, which the saved group lacked


def torch_saved(sd: dict) -> dict:
    """`sd` as torch.save writes an optimizer's state_dict() and tl.load reads it back: every
    state value a tensor, 'step' a 0-d float32 one."""
    storages = iter(range(1000))

    def as_torch(value):
        a = np.asarray(value, np.float32 if np.ndim(value) == 0 else None)
        return TorchTensor(Storage(a, key=str(next(storages))), a.shape)

    state = {k: {name: as_torch(v) for name, v in s.items()} for k, s in sd["state"].items()}
    return tl.load(io.BytesIO(zip_file({"state": state, "param_groups": sd["param_groups"]})))


@pytest.mark.parametrize("cls, opts", STEP_CASES, ids=name_of)
def test_a_torch_saved_checkpoint_resumes_bitwise(cls, opts):
    rng = np.random.default_rng(1)
    params = [Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in [(3, 4), (5,)]]
    opt = cls(params, **opts, foreach=True)
    for _ in range(3):
        for p in params:
            p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    loaded = torch_saved(opt.state_dict())
    assert loaded["param_groups"][0]["foreach"] is True
    clones = [Tensor(p.numpy().copy(), requires_grad=True) for p in params]
    other = cls(clones)
    other.load_state_dict(loaded)
    for c in clones:
        assert all(isinstance(v, np.ndarray if np.ndim(v) else float)
                   for v in other.state[c].values())
    for _ in range(3):
        for p, c in zip(params, clones, strict=True):
            p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32))
            c.grad = Tensor(p.grad.numpy().copy())
        opt.step()
        other.step()
    for p, c in zip(params, clones, strict=True):
        np.testing.assert_array_equal(c.numpy(), p.numpy())
