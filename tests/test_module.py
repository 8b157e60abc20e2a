"""Module, Parameter and the containers: discovery, names, state dicts, modes, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn


class Block(nn.Module):
    """Own parameters assigned around a child, to check PyTorch's own-first order."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.fc = nn.Linear(3, 3)
        self.shift = nn.Parameter(np.zeros(3, np.float32))
        self.register_buffer("count", Tensor(np.zeros(1)))
        self.register_buffer("cache", Tensor(np.zeros(2)), persistent=False)

    def forward(self, x):
        return self.fc(x * self.scale + self.shift)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.extra = [nn.Linear(3, 2)]  # a plain list is walked too
        self.heads = nn.ModuleDict({"b": nn.Linear(2, 1), "a": nn.Linear(2, 4)})
        self.act = nn.Dropout(0.25)

    def forward(self, idx):
        h = self.embed(idx)
        for block in self.blocks:
            h = block(h)
        return self.heads["a"](self.act(self.extra[0](h)))


def block_names(prefix):
    return [f"{prefix}.scale", f"{prefix}.shift", f"{prefix}.fc.weight", f"{prefix}.fc.bias"]


NET_PARAMS = (["embed.weight"] + block_names("blocks.0") + block_names("blocks.1")
              + ["extra.0.weight", "extra.0.bias", "heads.b.weight", "heads.b.bias",
                 "heads.a.weight", "heads.a.bias"])


def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter(np.arange(3.0))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float64
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert type(p * 2) is Tensor
    assert repr(nn.Parameter(np.ones(2))).startswith("Parameter containing:\ntensor([1., 1.]")


def test_named_parameters_order_and_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == NET_PARAMS
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert [name for name, _ in net.named_children()] == ["embed", "blocks", "extra.0", "heads",
                                                          "act"]
    assert [name for name, _ in net.named_modules()] == [
        "", "embed", "blocks", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc", "extra.0",
        "heads", "heads.b", "heads.a", "act"]
    assert [name for name, _ in net.blocks[0].named_parameters(recurse=False)] == ["scale",
                                                                                  "shift"]
    assert [name for name, _ in net.named_parameters(prefix="model")][0] == "model.embed.weight"


def test_shared_parameters_and_modules_are_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.decoder.weight = self.encoder.weight
            self.again = self.encoder

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["encoder.weight", "encoder.bias",
                                                       "decoder.bias"]
    assert len(list(tied.modules())) == 3
    # the state dict keeps every name, as PyTorch's does
    assert list(tied.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.weight",
                                       "decoder.bias", "again.weight", "again.bias"]


def test_state_dict_order_buffers_and_sharing():
    net = Net()
    sd = net.state_dict()
    expected = ["embed.weight"]
    for i in range(2):
        expected += [f"blocks.{i}.scale", f"blocks.{i}.shift", f"blocks.{i}.count",
                     f"blocks.{i}.fc.weight", f"blocks.{i}.fc.bias"]
    expected += NET_PARAMS[-6:]
    assert list(sd) == expected  # a module's params, its persistent buffers, then children
    assert [n for n, _ in net.named_buffers()] == ["blocks.0.count", "blocks.0.cache",
                                                   "blocks.1.count", "blocks.1.cache"]
    value = sd["embed.weight"]
    assert not value.requires_grad and value.numpy() is net.embed.weight.numpy()
    assert net.state_dict(keep_vars=True)["embed.weight"] is net.embed.weight


def test_state_dict_round_trip_gives_same_outputs():
    tl.manual_seed(0)
    a, b = Net().eval(), Net().eval()
    idx = np.random.default_rng(0).integers(0, 5, size=(2, 3))
    assert not np.allclose(a(idx).numpy(), b(idx).numpy())
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(b(idx).numpy(), a(idx).numpy())
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and pa.numpy() is not pb.numpy()
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())


def test_load_state_dict_copies_and_casts_numpy_arrays():
    lin = nn.Linear(2, 3)
    weight = np.arange(6, dtype=np.float64).reshape(3, 2)
    lin.load_state_dict({"weight": weight, "bias": np.array([1, 2, 3])})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.numpy(), weight)
    np.testing.assert_array_equal(lin.bias.numpy(), [1, 2, 3])
    weight[0, 0] = 100.0  # the caller's array is not aliased
    assert lin.weight.numpy()[0, 0] == 0.0


def snapshot(module):
    return {name: p.numpy().copy() for name, p in module.state_dict().items()}


def assert_unchanged(module, before):
    after = module.state_dict()
    assert list(after) == list(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name].numpy(), value, err_msg=name)


def test_strict_load_with_missing_or_unexpected_key_changes_nothing():
    tl.manual_seed(0)
    net, other = Net(), Net()
    before = snapshot(net)
    missing = other.state_dict()
    del missing["heads.a.bias"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "heads.a.bias"'):
        net.load_state_dict(missing)
    assert_unchanged(net, before)

    unexpected = other.state_dict()
    unexpected["blocks.0.gain"] = np.ones(3)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "blocks.0.gain"'):
        net.load_state_dict(unexpected)
    assert_unchanged(net, before)


def test_wrong_shape_raises_naming_key_and_shapes_and_changes_nothing():
    tl.manual_seed(0)
    net = Net()
    before = snapshot(net)
    sd = {k: v.numpy() + 1 for k, v in Net().state_dict().items()}
    sd["heads.a.weight"] = np.zeros((4, 3))  # the last parameter: all others were valid
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for heads.a.weight: copying a "
                           r"param with shape \(4, 3\) from checkpoint, the shape in current "
                           r"model is \(4, 2\)"):
            net.load_state_dict(sd, strict=strict)
        assert_unchanged(net, before)


def test_non_strict_load_returns_missing_and_unexpected_keys():
    lin = nn.Linear(2, 2)
    weight = np.full((2, 2), 3.0)
    bias_before = lin.bias.numpy().copy()
    missing, unexpected = lin.load_state_dict({"weight": weight, "gain": np.ones(2)},
                                              strict=False)
    assert missing == ["bias"] and unexpected == ["gain"]
    np.testing.assert_array_equal(lin.weight.numpy(), weight)
    np.testing.assert_array_equal(lin.bias.numpy(), bias_before)


def test_load_state_dict_rejects_non_arrays():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        lin.load_state_dict({"weight": [[1.0, 2.0], [3.0, 4.0]], "bias": np.zeros(2)})
    with pytest.raises(TypeError, match="dict-like"):
        lin.load_state_dict([("weight", np.zeros((2, 2)))])


def test_repr_is_nested_like_pytorch():
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Dropout(0.1),
                        nn.ModuleList([nn.Embedding(10, 3, padding_idx=0)]))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=False)\n"
        "  (1): Dropout(p=0.1, inplace=False)\n"
        "  (2): ModuleList(\n"
        "    (0): Embedding(10, 3, padding_idx=0)\n"
        "  )\n"
        ")")
    assert repr(nn.ModuleList()) == "ModuleList()"

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "depth=2"

    assert repr(WithExtra()) == ("WithExtra(\n  depth=2\n"
                                 "  (fc): Linear(in_features=1, out_features=1, bias=True)\n)")


def test_train_eval_propagate_through_lists_and_dicts():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.heads.train(False)
    assert net.training and not net.heads["a"].training and net.extra[0].training
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad_requires_grad_and_apply():
    lin = nn.Linear(3, 2)
    lin(tl.ones(4, 3)).sum().backward()
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.numpy(), np.zeros((2, 3)))
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None

    lin.requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())

    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.Linear(1, 1)))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "Sequential", "Sequential"]  # children first


def test_double_converts_in_place_keeping_parameter_objects():
    block = Block()
    params = list(block.parameters())
    block(tl.ones(2, 3)).sum().backward()
    assert block.double() is block
    assert [id(p) for p in block.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert block.count.dtype == np.float64
    assert block(Tensor(np.ones((2, 3)))).dtype == np.float64
    assert all(p.dtype == np.float32 for p in block.float().parameters())
    with pytest.raises(TypeError, match="floating point"):
        block.to(np.int64)


def test_register_buffer_and_assignment_checks():
    m = nn.Module()
    m.register_buffer("steps", tl.zeros(1))
    m.steps = tl.ones(1)  # reassigning keeps it a buffer
    assert list(m.state_dict()) == ["steps"]
    with pytest.raises(TypeError, match="buffer 'steps'"):
        m.steps = 3
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", tl.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", tl.zeros(1))
    del m.steps
    assert list(m.state_dict()) == []

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Forgot()

    class Early(nn.Module):
        def __init__(self):
            self.sizes = [1, 2]  # plain data before Module.__init__ is fine, as in PyTorch
            super().__init__()

    assert Early().sizes == [1, 2]
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tl.ones(1))


def test_call_labels_nodes_with_module_scope():
    net = nn.Sequential(nn.Linear(2, 2))
    x = Tensor(np.ones((1, 2), np.float32), requires_grad=True)
    assert net(x).grad_fn.scope == ("sequential", "0")  # a root: its class name

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = net
            self.layers = nn.ModuleList([nn.Linear(2, 2)])
            self.layers.append(nn.Linear(2, 2))

        def forward(self, x):
            return self.layers[1](self.body(x))

    outer = Outer()
    assert outer(x).grad_fn.scope == ("outer", "layers.1")
    assert outer.body(x).grad_fn.scope == ("body", "0")  # named by the first assignment


def test_module_list_operations_renumber():
    a, b, c = nn.Linear(1, 1), nn.Linear(1, 2), nn.Linear(1, 3)
    layers = nn.ModuleList([a, b])
    layers.insert(0, c)
    assert list(layers) == [c, a, b] and len(layers) == 3
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    del layers[0]
    assert list(layers) == [a, b] and layers[-1] is b
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    layers[1] = c
    assert list(layers) == [a, c]
    assert list(layers[1:]) == [c] and isinstance(layers[1:], nn.ModuleList)
    with pytest.raises(IndexError, match="out of range"):
        layers[2]
    with pytest.raises(TypeError, match="not a Module"):
        layers.append(3)


def test_sequential_forward_and_ordered_dict_names():
    tl.manual_seed(0)
    fc1, fc2 = nn.Linear(3, 4), nn.Linear(4, 2)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    seq = nn.Sequential(fc1, fc2)
    np.testing.assert_array_equal(seq(x).numpy(), fc2(fc1(x)).numpy())
    named = nn.Sequential(OrderedDict([("hidden", fc1), ("out", fc2)]))
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert named[1] is fc2 and len(named) == 2
    assert list(named[1:].state_dict()) == ["out.weight", "out.bias"]


def test_module_dict():
    heads = nn.ModuleDict([("x", nn.Linear(1, 1))])
    heads["y"] = nn.Linear(1, 2)
    assert list(heads) == ["x", "y"] and "y" in heads and "z" not in heads
    assert [k for k, _ in heads.items()] == ["x", "y"] and len(heads.values()) == 2
    assert heads.pop("x").out_features == 1 and list(heads.keys()) == ["y"]
    with pytest.raises(KeyError):
        heads["x"]
    with pytest.raises(KeyError, match="already exists"):
        heads["training"] = nn.Linear(1, 1)
    with pytest.raises(KeyError, match="already exists"):
        heads["forward"] = nn.Linear(1, 1)


def test_deepcopy_gives_independent_parameters():
    net = Net()
    clone = copy.deepcopy(net)
    for (name, p), (name2, q) in zip(net.named_parameters(), clone.named_parameters()):
        assert name == name2 and isinstance(q, nn.Parameter) and q.numpy() is not p.numpy()
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_to_cpu_is_accepted_and_module_dicts_copy_module_dicts():
    model = nn.Linear(2, 2)
    assert model.to("cpu") is model
    first = nn.ModuleDict({"a": nn.Linear(1, 1)})
    second = nn.ModuleDict(first)
    assert list(second.keys()) == ["a"] and second["a"] is first["a"]
