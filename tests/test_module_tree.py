"""Module's tree methods against PyTorch's documented behaviour: apply, named_modules (prefix,
memo, duplicates), children, buffers in state dicts, requires_grad_, zero_grad."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn


def make_tree():
    shared = nn.Linear(2, 2)
    inner = nn.Sequential(shared, nn.ReLU())
    return nn.Sequential(inner, nn.Tanh(), shared), inner, shared


def test_apply_visits_children_first_then_self_each_call_once_per_edge():
    tree, inner, shared = make_tree()
    seen = []
    assert tree.apply(seen.append) is tree
    # post-order, as PyTorch's apply: a shared module is visited once per child that lists
    # it (children() skips a repeat only within one parent)
    assert [id(m) for m in seen] == [id(shared), id(inner[1]), id(inner), id(tree[1]),
                                     id(shared), id(tree)]


def test_apply_is_how_programs_initialise_weights():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)

    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    net.apply(init_weights)
    for m in (net[0], net[2][0]):
        assert (m.weight.numpy() == 0.5).all() and (m.bias.numpy() == 0).all()


def test_named_modules_prefix_memo_and_duplicates():
    tree, inner, shared = make_tree()
    assert [n for n, _ in tree.named_modules()] == ["", "0", "0.0", "0.1", "1"]
    assert [n for n, _ in tree.named_modules(prefix="model")] == [
        "model", "model.0", "model.0.0", "model.0.1", "model.1"]
    assert [n for n, _ in tree.named_modules(remove_duplicate=False)] == [
        "", "0", "0.0", "0.1", "1", "2"]
    memo = {inner}  # PyTorch's memo: modules already seen are skipped with their subtrees
    assert [n for n, _ in tree.named_modules(memo=memo)] == ["", "1", "2"]
    assert [type(m).__name__ for m in tree.modules()] == ["Sequential", "Sequential", "Linear",
                                                          "ReLU", "Tanh"]
    assert [n for n, _ in tree.named_children()] == ["0", "1", "2"]
    assert list(tree.children()) == [inner, tree[1], shared]


def test_buffers_persistent_flag_state_dict_and_load():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)
            self.register_buffer("steps", Tensor(np.zeros(1)))
            self.register_buffer("scratch", Tensor(np.zeros(2)), persistent=False)
            self.register_buffer("unset", None)

    m = nn.Sequential(Counter())
    assert list(m.state_dict()) == ["0.steps", "0.fc.weight", "0.fc.bias"]
    assert [n for n, _ in m.named_buffers()] == ["0.steps", "0.scratch"]
    assert len(list(m.buffers())) == 2 and all(not b.requires_grad for b in m.buffers())
    m.load_state_dict({"0.steps": np.array([7.0]), "0.fc.weight": np.ones((1, 1)),
                       "0.fc.bias": np.zeros(1)})
    np.testing.assert_array_equal(m[0].steps.numpy(), [7.0])
    with pytest.raises(RuntimeError, match='Missing key.*"0.steps"'):
        m.load_state_dict({"0.fc.weight": np.ones((1, 1)), "0.fc.bias": np.zeros(1)})
    with pytest.raises(RuntimeError, match='Unexpected key.*"0.scratch"'):
        m.load_state_dict(dict(m.state_dict(), **{"0.scratch": np.zeros(2)}))


def test_requires_grad_freezes_and_unfreezes():
    net = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    out = net(tl.ones(1, 2))
    assert not out.requires_grad
    net[1].requires_grad_()
    assert [p.requires_grad for p in net.parameters()] == [False, False, True, True]


def test_zero_grad_sets_to_none_by_default_as_pytorch_2():
    net = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    net(tl.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
