"""tl.compile where the step's Python side could go stale: each case runs the function as written
(the truth) and through tl.compile from the same seed, compares every call (results, .grad,
parameters, bit for bit), and says whether the compiled side became a program or stayed eager
with its reason. Either is right; a replay that differs from eager is the bug these catch.
"""

import copy
import re
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
from test_compile import (CALLS, EAGER_CALLS, Twins, counting, mlp,
                          products_with_a_weight_written_between_steps, regression)

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.jit import NotTraceable

def _sgd_step(model, body):
    """A training step whose loss is body(model, x, y), with SGD."""
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = body(model, x, y)
        loss.backward()
        opt.step()
        return loss
    return step


def _mse_step(build):
    """A setup: the model build() makes, trained by SGD on the MSE loss."""
    def setup():
        model = build()
        return model, _sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y))
    return setup


def check_across(setup, change) -> Twins:
    """Calls, then change(model), then more calls: each one equal to eager's."""
    twins, data = Twins(setup), regression()
    twins.check([data(i) for i in range(CALLS)] + [change] + [data(i) for i in range(CALLS)])
    return twins


# ---------------------------------------------------------------- arguments


def test_numpy_array_arguments_are_inputs_of_the_program():
    def f(a):
        return Tensor(a) * 2 + 1

    body = counting(f)
    compiled = tl.compile(body)
    for i in range(CALLS):
        a = np.full(3, float(i), np.float32)
        np.testing.assert_array_equal(compiled(a).numpy(), a * 2 + 1)
    assert body.runs == EAGER_CALLS, compiled.explain()


def test_the_same_tensor_twice_is_another_signature_than_two_tensors():
    def f(a, b):
        return a * 2 + b

    compiled = tl.compile(f)
    x, y = Tensor(np.ones(3, np.float32)), Tensor(np.full(3, 5.0, np.float32))
    for _ in range(CALLS):
        np.testing.assert_array_equal(compiled(x, x).numpy(), [3, 3, 3])
    np.testing.assert_array_equal(compiled(x, y).numpy(), [7, 7, 7])


def test_a_transposed_argument_is_another_signature():
    def f(x):  # contiguous() is a copy only for a non-contiguous x: a branch on the layout
        with tl.no_grad():
            y = x.contiguous()
            y.mul_(2.0)
            return y.sum()

    compiled = tl.compile(f)
    for _ in range(CALLS):
        compiled(tl.ones(2, 3))
    base = Tensor(np.arange(6, dtype=np.float32).reshape(3, 2))
    assert compiled(base.t()).item() == 30.0
    np.testing.assert_array_equal(base.numpy(), np.arange(6).reshape(3, 2))  # not written


def test_a_nan_argument_is_keyed_by_its_sign_and_payload():
    payload_nan = np.array(0x7FF8000000000123, np.uint64).view(np.float64).item()
    compiled, x = tl.compile(lambda x, s: x * s), Tensor(np.ones(2))
    for _ in range(CALLS):
        compiled(x, float("nan"))
    for s in (-float("nan"), payload_nan):
        assert compiled(x, s).numpy().tobytes() == (x * s).numpy().tobytes()


@pytest.mark.parametrize("a, b", [(0.0, -0.0), (1.0, float("nan"))])
def test_python_number_arguments_are_keyed_by_their_bits(a, b):
    compiled = tl.compile(lambda x, s: x / s if s == s else x * 0 + 7)
    x = Tensor(np.ones(2, np.float32))
    with np.errstate(divide="ignore"):
        for _ in range(CALLS):
            compiled(x, a)
        want = (x / b) if b == b else x * 0 + 7
        np.testing.assert_array_equal(compiled(x, b).numpy(), want.numpy())


def test_an_argument_with_a_graph_from_outside_stays_eager():
    w = Tensor(np.full(3, 0.5, np.float32), requires_grad=True)

    def f(h):
        (h * h).sum().backward()  # reaches h's graph, made before the call
        return w.grad.clone()

    compiled = tl.compile(f)
    for i in range(CALLS):
        w.grad = None
        h = w * float(i + 1)
        got = compiled(h).numpy()
        np.testing.assert_allclose(got, 2 * (i + 1) ** 2 * w.numpy(), rtol=1e-6)
    assert "recorded before the call" in compiled.explain()


# ---------------------------------------------------------------- Python values


SCALE = 2.0


def scaled(x):
    return x * SCALE


def test_a_global_changed_after_the_build_is_seen():
    global SCALE
    compiled, x = tl.compile(scaled), Tensor(np.ones(2, np.float32))
    try:
        for _ in range(CALLS):
            assert compiled(x).numpy()[0] == 2.0
        SCALE = 3.0
        assert compiled(x).numpy()[0] == 3.0
    finally:
        SCALE = 2.0


def test_a_global_nan_that_changes_its_sign_is_seen():
    """Numbers are compared by their bits: a NaN's sign counts (float.hex() writes every NaN as
    'nan', and NaN == NaN is false)."""
    global SCALE
    compiled, x = tl.compile(scaled), Tensor(np.ones(2))
    try:
        SCALE = float("nan")
        for _ in range(CALLS):
            compiled(x)
        SCALE = -float("nan")
        assert compiled(x).numpy().tobytes() == scaled(x).numpy().tobytes()
        assert np.signbit(compiled(x).numpy()).all()
    finally:
        SCALE = 2.0


def test_a_closure_variable_rebound_after_the_build_is_seen():
    scale, weights = 2.0, Tensor(np.ones(2, np.float32))

    def f(x):
        return x * scale + weights

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for _ in range(CALLS):
        compiled(x)
    scale, weights = 5.0, Tensor(np.full(2, 10.0, np.float32))
    np.testing.assert_array_equal(compiled(x).numpy(), [15.0, 15.0])


def test_a_global_the_function_changes_keeps_it_eager():
    def f(x):
        global SCALE
        SCALE += 1  # a side effect a replay would not repeat
        return x * SCALE

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    try:
        got = [compiled(x).numpy()[0] for _ in range(CALLS)]
    finally:
        globals()["SCALE"] = 2.0
    assert got == [3.0 + i for i in range(CALLS)]
    assert "differs" in compiled.explain()


def test_class_weights_updated_between_calls_are_read_at_each_replay():
    class_weight = tl.ones(3)

    def setup():
        model = nn.Linear(4, 3)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y, weight=class_weight, reduction="sum")
            loss.backward()
            opt.step()
            return loss
        return model, step

    def rebalance(model):
        with tl.no_grad():
            class_weight.copy_(Tensor(np.array([5.0, 1.0, 0.1], np.float32)))

    def reset(model):
        with tl.no_grad():
            class_weight.fill_(1.0)

    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6))
            for _ in range(CALLS)]
    twins = Twins(setup)
    eager = [reset] + data[:4] + [rebalance] + data[4:]
    twins.check(eager)
    assert twins.programs() == 1


# ---------------------------------------------------------------- side effects inside


@pytest.mark.parametrize("body, reason", [
    (lambda model, x, y: (model[0].weight.register_hook(lambda g: g * 2),
                          F.mse_loss(model(x), y))[1], "register_hook inside the function"),
    (lambda model, x, y: (lambda out: (out.detach().numpy().copy(), F.mse_loss(out, y))[1])(
        model(x)), ".numpy()"),
    (lambda model, x, y: (setattr(model[1], "tag", []), F.mse_loss(model(x), y))[1],
     "Tanh.tag is assigned inside the function"),
])
def test_python_side_effects_inside_the_function_keep_it_eager(body, reason):
    def setup():
        model = mlp()()
        return model, _sgd_step(model, body)

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert twins.runs == CALLS and reason in twins.compiled.explain(), twins.compiled.explain()


def test_data_rebound_inside_the_function_keeps_it_eager_and_leaves_plain_arrays():
    def setup():
        model = nn.Linear(4, 3)

        def step(x, y):
            model.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            with tl.no_grad():
                for p in model.parameters():
                    p.data = p.data - 0.1 * p.grad  # micrograd's update
            return loss
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert "`.data = ...` inside the function" in twins.compiled.explain()
    assert all(type(p._array) is np.ndarray for p in twins.cmodel.parameters())


class Counted(nn.Module):
    """A counter buffer bumped before any op reads it (BatchNorm's num_batches_tracked)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("seen", tl.zeros((), dtype=tl.int64))

    def forward(self, x):
        self.seen += 1  # in place, and the same object assigned back
        return self.fc(x)


def _hand_sgd_first(model):
    def step(x, y):
        with tl.no_grad():  # the previous call's gradients, applied before the forward
            for p in model.parameters():
                if p.grad is not None:
                    p.add_(p.grad, alpha=-0.1)
                    p.grad.zero_()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss
    return step


def _counter(model):
    return _sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y))


@pytest.mark.parametrize("make, build", [(_hand_sgd_first, mlp()), (_counter, Counted)],
                         ids=["hand-sgd-before-the-forward", "counter-buffer"])
def test_writes_into_tensors_no_op_read_yet_are_replayed(make, build):
    def setup():
        model = build()
        return model, make(model)

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()
    if build is Counted:
        assert twins.cmodel.seen.item() == CALLS


def test_reseeding_inside_the_function_is_replayed():
    def setup():
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))

        def step(x, y):
            tl.manual_seed(123)
            with tl.no_grad():
                return F.mse_loss(model(x), y)
        return model, step

    twins = Twins(setup)
    snaps = twins.check([regression()(0) for _ in range(CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()
    assert all(s["result 0"] == snaps[0]["result 0"] for s in snaps)  # the same mask each call


def test_a_mode_switch_inside_the_function_ends_in_eager():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))

    def f(x):
        with tl.no_grad():
            out = model(x)
        model.train(not model.training)
        return out

    compiled = tl.compile(f)
    for _ in range(20):
        compiled(Tensor(np.ones((2, 4), np.float32)))
    assert "runs eagerly" in compiled.explain()


def test_a_default_dtype_change_is_another_signature():
    compiled = tl.compile(lambda x: x + tl.ones(2))
    x = Tensor(np.ones(2))
    try:
        for _ in range(CALLS):
            assert compiled(x).dtype == tl.float64
        tl.set_default_dtype(tl.float64)
        assert compiled(x).dtype == tl.float64
        tl.set_default_dtype(tl.float32)
        x32 = Tensor(np.ones(2, np.float32))
        for _ in range(CALLS):
            assert compiled(x32).dtype == tl.float32
    finally:
        tl.set_default_dtype(tl.float32)


# ---------------------------------------------------------------- values and layouts


@pytest.mark.parametrize("g", [
    lambda x, w: (x * w).sum().sigmoid() * 3,
    lambda x, w: (x * w).sum().exp() + (x * w).sum().tanh(),
    lambda x, w: (lambda s: s * 2 + s * 3 + s * 4)((x * w).sum()),
], ids=["sigmoid", "exp-tanh", "used-three-times"])
def test_zero_d_values_replay_like_eager(g):
    def setup():
        model = nn.Linear(3, 1)

        def step(x, y):
            loss = g(x, model.weight) + F.mse_loss(model(x), y)
            loss.backward()
            return loss
        return model, step

    rng = np.random.default_rng(0)
    data = [(rng.standard_normal(3).astype(np.float32), rng.standard_normal(1).astype(np.float32))
            for _ in range(CALLS)]
    twins = Twins(setup)
    twins.check(data)
    assert twins.programs() == 1, twins.compiled.explain()


def test_in_place_chains_keep_numpys_memory_layout():
    def f(x, y):  # a is F-ordered: writing a * b into it would sum c in another order
        with tl.no_grad():
            c = x.t().exp() * y.exp()
            return c.sum(), c.sum(1)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 200)).astype(np.float32)
    y = rng.standard_normal((200, 300)).astype(np.float32)
    compiled = tl.compile(f)
    for i in range(CALLS):
        args = Tensor(x * (1 + i / 7)), Tensor(y)
        for got, want in zip(compiled(*args), f(*args)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert compiled.explain().startswith("built a program")


def test_a_view_of_a_parameter_written_in_place_under_no_grad():
    def setup():
        model = nn.Linear(3, 2)

        def step(x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            with tl.no_grad():
                model.weight[0].mul_(0.5)  # an in-place op through a view of a leaf
            return loss
        return model, step

    twins = Twins(setup)
    twins.check([(np.ones((2, 3), np.float32), np.ones((2, 2), np.float32))] * CALLS)
    assert twins.programs() == 1, twins.compiled.explain()



def test_an_index_out_of_range_at_a_replay_raises_naming_the_programs_line():
    w = Tensor(np.arange(15, dtype=np.float32).reshape(5, 3))

    def bounds_only(idx):
        with tl.no_grad():
            _ = w[idx]  # a lookup kept for its bounds check only: not dropped as dead code
            return w.sum() * 1.0

    compiled = tl.compile(bounds_only)
    for _ in range(CALLS):
        compiled(Tensor(np.array([0, 1, 2])))
    with pytest.raises(IndexError, match=r"index 7 is out of bounds.*compiled program's line "
                                         r"\d+: `getitem\d+ = "):
        compiled(Tensor(np.array([0, 1, 7])))


# ---------------------------------------------------------------- a second review's cases


def test_a_loop_variable_named_like_a_method_is_not_a_guard():
    model = nn.Linear(4, 3)
    compiled = tl.compile(_sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y)))
    global step
    for step in range(CALLS):  # noqa: B007 (a global `step`, as a script's loop makes it)
        compiled(*map(Tensor, regression()(step)))
    del step
    assert compiled.explain().count("built a program") == 1, compiled.explain()
    assert "runs eagerly" not in compiled.explain()


def test_modules_made_elsewhere_or_inside_keep_the_program():
    import copy
    model = nn.Linear(4, 3)
    compiled = tl.compile(_sgd_step(model, lambda m, x, y: nn.MSELoss()(m(x), y)))
    for i in range(4 * CALLS):
        compiled(*map(Tensor, regression()(i)))
        if i % 4 == 3:
            copy.deepcopy(model), nn.Linear(3, 3)  # a snapshot, a probe: not the program's
    assert compiled.explain() .count("built a program") == 1, compiled.explain()


def test_a_replaced_buffer_is_seen():
    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.register_buffer("shift", tl.zeros(3))

        def forward(self, x):
            return self.fc(x) + self.shift

    def replace(model):
        model.register_buffer("shift", tl.ones(3))

    check_across(_mse_step(Shifted), replace)


def test_globals_of_code_made_by_exec_are_guarded():
    namespace = {"tl": tl, "scale": 1.0}
    exec("def f(x):\n    return x * scale\n", namespace)  # as IPython's cells are compiled
    compiled, x = tl.compile(namespace["f"]), Tensor(np.ones(2, np.float32))
    for _ in range(CALLS):
        compiled(x)
    namespace["scale"] = 0.0
    assert compiled(x).numpy()[0] == 0.0


CLASS_SHIFT = np.zeros(3, np.float32)


def test_a_small_global_array_changed_in_place_is_seen():
    compiled, x = tl.compile(lambda x: x + tl.tensor(CLASS_SHIFT)), Tensor(np.ones(3, np.float32))
    for _ in range(CALLS):
        compiled(x)
    CLASS_SHIFT[:] = 5.0
    try:
        np.testing.assert_array_equal(compiled(x).numpy(), [6.0, 6.0, 6.0])
    finally:
        CLASS_SHIFT[:] = 0.0


def _zero_by_hand(model):
    def step(x, y):
        for p in model.parameters():
            if p.grad is not None:  # a branch on whether .grad exists
                p.grad.zero_()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        with tl.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        return loss
    return step


def _drop_grads(model):
    model.zero_grad()


@pytest.mark.parametrize("at", [4, 5], ids=["dropped-after-the-build", "dropped-between-traces"])
def test_grads_that_are_none_or_not_at_the_start_are_guarded(at):
    def setup():
        model = nn.Linear(4, 3)
        return model, _zero_by_hand(model)

    data = [regression()(i) for i in range(2 * CALLS)]
    twins = Twins(setup)
    twins.check(data[:at] + [_drop_grads] + data[at:])


def test_grads_kept_in_a_list_are_read_where_backward_wrote_them():
    def setup():
        model = nn.Linear(4, 3)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            grads = [p.grad for p in model.parameters()]
            opt.step()
            opt.zero_grad()  # zero_grad last, then the grads it dropped are used
            with tl.no_grad():
                return loss, sum((g * g).sum() for g in grads)
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()


def test_an_index_tensor_changed_in_place_is_read_at_each_replay():
    columns = Tensor(np.array([0, 1]))

    def setup():
        model = nn.Linear(4, 3)
        return model, _sgd_step(model, lambda m, x, y: F.mse_loss(m(x)[:, columns], y[:, :2]))

    def move(model):
        columns.copy_(Tensor(np.array([2, 0])))

    def reset(model):  # each of the two runs starts from the same columns
        columns.copy_(Tensor(np.array([0, 1])))

    twins = Twins(setup)
    data = regression()
    twins.check([reset] + [data(i) for i in range(CALLS)] + [move] +
                [data(i) for i in range(CALLS)])
    assert twins.programs() == 1


def test_a_parameter_passed_as_an_argument_keeps_it_eager():
    model = nn.Linear(3, 3)

    def f(x, w):
        with tl.no_grad():
            return model(x).sum() + w.sum()

    compiled, x = tl.compile(f), Tensor(np.ones((2, 3), np.float32))
    for _ in range(CALLS):
        compiled(x, model.weight)
    other = Tensor(np.zeros((3, 3), np.float32))
    assert compiled(x, other).item() == f(x, other).item()
    assert "is a parameter or buffer of Linear" in compiled.explain()


def test_an_argument_sharing_memory_with_a_tensor_the_step_reads_runs_eagerly():
    """The passes rely on each input being its own memory: batch_over_steps reads w once for
    all steps, as nothing writes it. A call that passes W itself (or a view of it), which the
    step writes between steps, runs eagerly, as does a trace that sees it."""
    W = Tensor(np.ones(3))
    f = products_with_a_weight_written_between_steps(W)
    compiled, rng = tl.compile(f), np.random.default_rng(0)
    for k in range(CALLS + 3):
        x = rng.standard_normal((3, 2, 3))
        w = (W, W[:], W.detach())[k - CALLS] if k >= CALLS else Tensor(np.full(3, 5.0))
        start = W.numpy().copy()
        eager = f(Tensor(x.copy()), w).numpy()
        W.numpy()[...] = start
        assert compiled(Tensor(x.copy()), w).numpy().tobytes() == eager.tobytes()
    assert "shares memory" in compiled.explain()

    recorded = Tensor(np.ones(2), requires_grad=True) * 1.0
    recorded.add_(1.0)  # a recorded in-place op: from now on views check their base's memory
    traced_with_a_view = tl.compile(f)  # ... which the trace puts its own array over
    for _ in range(CALLS):
        traced_with_a_view(Tensor(rng.standard_normal((3, 2, 3))), W[:])
    assert "shares memory" in traced_with_a_view.explain()
    assert not traced_with_a_view.explain().startswith("built a program")


def test_column_blocks_of_one_array_do_not_share_memory():
    compiled, x = tl.compile(lambda a, b: (a * b).sum()), Tensor(np.ones((8, 8)))
    for _ in range(CALLS):
        compiled(x[:, :4], x[:, 4:])
    assert compiled.explain().startswith("built a program")


def test_arguments_that_share_memory_run_eagerly():
    def f(a, b):
        with tl.no_grad():
            a.mul_(2.0)  # b sees it when b is a view of a
        return a.sum() + b.sum()

    compiled = tl.compile(f)
    for _ in range(CALLS):
        compiled(Tensor(np.ones(4)), Tensor(np.ones(4)))
    a = Tensor(np.ones(4))
    assert compiled(a, a[:]).item() == 16.0  # eager: a doubled, read twice
    assert "shares memory" in compiled.explain()


@pytest.mark.parametrize("read", ["param_groups", "get_last_lr"])
def test_a_learning_rate_read_in_the_function_is_guarded(read):
    """A hand-written update that reads the learning rate into Python, with a scheduler that
    changes it every four calls: the number is a guard of the program, not a constant of it."""
    def make():
        tl.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = optim.SGD(model.parameters(), lr=0.1)
        sched = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            lr = opt.param_groups[0]["lr"] if read == "param_groups" else sched.get_last_lr()[0]
            with tl.no_grad():
                for p in model.parameters():
                    p.sub_(lr * p.grad)
            sched.step()
            return loss
        return model, step

    (eager_model, eager_step), (model, step) = make(), make()
    compiled, rng = tl.compile(step), np.random.default_rng(0)
    for _ in range(10):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        y = rng.standard_normal((4, 1)).astype(np.float32)
        eager_step(Tensor(x), Tensor(y))
        compiled(Tensor(x), Tensor(y))
        assert model.weight.numpy().tobytes() == eager_model.weight.numpy().tobytes()
    assert isinstance(optim.SGD(model.parameters()).param_groups[0], dict)


def test_a_causal_mask_passed_in_is_asked_about_at_each_call():
    """TransformerEncoder asks whether its mask is the causal one (guard_on_result): with the
    mask an argument, the question is asked of each call's mask, not of the traced call's; a
    mask that is not causal gets its own program."""
    tl.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0)
    model = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

    def f(x, mask):
        with tl.no_grad():
            return model(x, mask=mask)

    compiled, rng = tl.compile(f), np.random.default_rng(0)
    causal = nn.Transformer.generate_square_subsequent_mask(3).numpy()
    for call in range(8):
        x = rng.standard_normal((3, 2, 4)).astype(np.float32)
        mask = causal if call < 4 else np.zeros((3, 3), np.float32)
        eager = f(Tensor(x), Tensor(mask.copy()))
        assert compiled(Tensor(x), Tensor(mask.copy())).numpy().tobytes() == \
            eager.numpy().tobytes()
    assert compiled.explain().count("built a program") == 2


def test_a_boolean_mask_index_keeps_the_function_eager():
    """x[mask] has as many elements as the mask has True values: a replay would keep the
    traced length (a (1,) result broadcast into the traced (6,) buffer, six times eager's sum)."""
    def f(x, mask):
        with tl.no_grad():
            return (x[mask] * x[mask]).sum()

    compiled, rng = tl.compile(f), np.random.default_rng(0)
    for count in (6, 6, 6, 1, 1, 3):
        x = rng.standard_normal((3, 5)).astype(np.float32)
        mask = np.zeros(15, bool)
        mask[rng.choice(15, count, replace=False)] = True
        mask = Tensor(mask.reshape(3, 5))
        assert compiled(Tensor(x), mask).numpy().tobytes() == f(Tensor(x), mask).numpy().tobytes()
    assert "boolean mask" in compiled.explain()


def test_empty_tensors_compile():
    """Every value of the program empty: the arena is one piece of 0 bytes (it had none, and
    the program failed at its first run and at every run after)."""
    def f(x):
        return (x.exp() - 1).sum()

    compiled = tl.compile(f)
    for _ in range(CALLS + 2):
        x = np.zeros((0, 4), np.float32)
        assert compiled(Tensor(x)).numpy().tobytes() == f(Tensor(x)).numpy().tobytes()
    assert compiled.explain().startswith("built a program")


def test_anomaly_detection_is_part_of_the_signature():
    """detect_anomaly() checks every gradient for NaN, which a program does not: a call under
    it is another signature (traced with value reads, so eager), and raises as eager does."""
    tl.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    compiled = tl.compile(step)
    for _ in range(CALLS):
        compiled(Tensor(np.ones((2, 3), np.float32)))
    weight = model.weight.numpy().copy()
    with pytest.raises(RuntimeError, match="nan"), tl.autograd.detect_anomaly():
        compiled(Tensor(np.full((2, 3), np.nan, np.float32)))
    assert model.weight.numpy().tobytes() == weight.tobytes()


class NetWithCompiledParts(nn.Module):  # at module level: pickled by reference
    def __init__(self):
        super().__init__()
        self.enc = tl.compile(nn.Linear(3, 2))

    @tl.compile
    def forward(self, x):
        return self.enc(x) * 2.0


def test_a_model_with_compiled_parts_copies_and_pickles_and_instances_are_not_kept():
    """A compiled module or method is copied and pickled as a new compiled function of the
    copy (no programs: they read the original's tensors); a compiled method's instances are
    not kept alive by it, nor share its signatures."""
    import copy
    import gc
    import pickle
    import weakref

    Net = NetWithCompiledParts
    net, x = Net(), Tensor(np.ones((4, 3), np.float32))
    with tl.no_grad():
        want = [net(x) for _ in range(CALLS + 1)][-1].numpy().tobytes()
        for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
            assert other.enc._orig_mod is not net.enc._orig_mod
            assert [other(x) for _ in range(CALLS + 1)][-1].numpy().tobytes() == want
    alive = []
    for _ in range(10):
        n = Net()
        with tl.no_grad():
            for _ in range(CALLS + 1):
                n(x)
        alive.append(weakref.ref(n))
        del n
    gc.collect()
    assert not any(r() for r in alive)


def test_a_compiled_base_method_called_through_super_and_a_shallow_copy():
    """super().forward reaching a compiled Base.forward must not hide Child.forward from then on;
    a shallow copy's compiled method runs on the copy, not on the original."""
    import copy

    class Base:
        def __init__(self, scale):
            self.scale = scale

        @tl.compile
        def forward(self, x):
            return x * self.scale

    class Child(Base):
        def forward(self, x):
            return super().forward(x) + 100.0

    child, x = Child(2.0), Tensor(np.ones(2))
    assert [child.forward(x).numpy()[0] for _ in range(3)] == [102.0] * 3
    original = Base(2.0)
    original.forward(x)
    clone = copy.copy(original)
    clone.scale = 5.0
    assert clone.forward(x).numpy()[0] == 5.0 and original.forward(x).numpy()[0] == 2.0


class Based:  # at module level: copied and pickled by reference
    @tl.compile
    def f(self, x):
        return x * 1.0


class Overriding(Based):
    @tl.compile
    def f(self, x):
        return x * 0.0 + 101.0

    def base_f(self, x):
        return super().f(x)


def test_a_copy_keeps_each_compiled_method_its_own():
    """A base class's compiled method reached through super() and the subclass's own compiled
    method of the same name stay apart in a deep copy and a pickled copy."""
    import copy
    import pickle

    b, x = Overriding(), Tensor(np.arange(3.0))
    want = (b.base_f(x).numpy().tobytes(), b.f(x).numpy().tobytes())
    for other in (copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        assert (other.base_f(x).numpy().tobytes(), other.f(x).numpy().tobytes()) == want


def test_get_last_lr_after_the_scheduler_step_and_params_after_it():
    """get_last_lr() read after the scheduler's step inside the function keeps it eager (a guard
    is checked before the step); a group's params read after it do not (a scheduler does not
    change them)."""
    def make(read):
        tl.manual_seed(0)
        model = nn.Linear(2, 1)
        opt = optim.SGD(model.parameters(), lr=1.0)
        sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

        def step(x):
            opt.zero_grad()
            model(x).sum().backward()
            sched.step()
            if read == "lr":
                lr = sched.get_last_lr()[0]
                with tl.no_grad():
                    for p in model.parameters():
                        p.sub_(lr * p.grad)
            else:
                opt.step()
                return sum((p * p).sum() for p in opt.param_groups[0]["params"])
        return model, step

    for read in ("lr", "params"):
        (eager_model, eager_step), (model, step) = make(read), make(read)
        compiled, x = tl.compile(step), Tensor(np.ones((1, 2), np.float32))
        for _ in range(10):
            eager_step(x)
            compiled(x)
            assert model.weight.numpy().tobytes() == eager_model.weight.numpy().tobytes()
        assert compiled.explain().startswith("built a program") == (read == "params")


def test_a_guarded_answer_is_compared_to_the_bit_and_a_state_dict_loaded_inside_is_eager():
    """get_last_lr() going from 0.0 to -0.0 (a guard compared with == missed it), and an
    optimizer's load_state_dict inside the function (a replay would not load it)."""
    model = nn.Linear(1, 1)
    opt = optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    for zero in (0.0, np.float64(0.0)):  # a Python float, and a NumPy one, both to the bit
        sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch, z=zero: z if epoch < 5 else -z)
        compiled, x = tl.compile(lambda x, s=sched: x * s.get_last_lr()[0]), Tensor(np.ones(3))
        for _ in range(8):
            assert compiled(x).numpy().tobytes() == \
                (x * sched.get_last_lr()[0]).numpy().tobytes()
            sched.step()

    saved = opt.state_dict()

    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.load_state_dict(saved)  # the momentum buffers reset at every call
        opt.step()

    compiled = tl.compile(step)
    for _ in range(CALLS + 1):
        compiled(Tensor(np.ones((1, 1), np.float32)))
    assert "load_state_dict" in compiled.explain()


def test_parameter_groups_read_after_a_scheduler_step_or_added_later():
    """A rate read after the scheduler's step inside the function keeps it eager (a replay
    would read it before the step); a group added between calls is seen by a hand-written
    update that loops over the groups."""
    def make(read_after_step):
        tl.manual_seed(0)
        body, head = nn.Linear(2, 2), nn.Linear(2, 1)
        opt = optim.SGD(body.parameters(), lr=1.0)
        sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step(x):
            opt.zero_grad()
            head(body(x)).sum().backward()
            if read_after_step:
                sched.step()
            with tl.no_grad():
                for group in opt.param_groups:
                    for p in group["params"]:
                        p.sub_(group["lr"] * p.grad)
        return body, head, opt, step

    for read_after_step in (True, False):
        (eb, eh, eo, estep), (cb, ch, co, cstep) = make(read_after_step), make(read_after_step)
        compiled, x = tl.compile(cstep), Tensor(np.ones((1, 2), np.float32))
        for i in range(9):
            if i == 5 and not read_after_step:
                eo.add_param_group({"params": list(eh.parameters())})
                co.add_param_group({"params": list(ch.parameters())})
            estep(x)
            compiled(x)
            for e, c in ((eb, cb), (eh, ch)):
                assert e.weight.numpy().tobytes() == c.weight.numpy().tobytes()
        assert ("after a scheduler's step" in compiled.explain()) == read_after_step


def test_an_unhashable_argument_is_a_signature_of_its_own_object():
    """An unhashable argument (a dataclass config) is in the signature by identity: a new
    object at each call is a new signature, never an old one whose object has died and left
    its id to the new one (which replayed the old object's branch)."""
    import dataclasses

    @dataclasses.dataclass
    class Config:
        scale: float
        squash: bool

    def f(x, config):
        y = x * config.scale
        return y.tanh() if config.squash else y

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for scale, squash in [(2.0, True)] * 6 + [(3.0, False), (0.5, True), (-1.0, False)]:
        config = Config(scale, squash)
        assert compiled(x, config).numpy().tobytes() == f(x, config).numpy().tobytes()
        del config  # freed before the next is made: CPython often gives the next its id


def test_a_compiled_method_and_a_compiled_submodule():
    """@tl.compile on a method binds the instance; a compiled module assigned to a parent
    module is one of its submodules (parameters, state_dict, train/eval), as in PyTorch."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = tl.compile(nn.Linear(3, 2))
            self.head = nn.Linear(2, 1)

        @tl.compile
        def forward(self, x):
            return self.head(self.enc(x))

    net, x = Net(), Tensor(np.ones((4, 3), np.float32))
    with tl.no_grad():
        outs = [net(x).numpy().tobytes() for _ in range(CALLS + 1)]
        assert outs == [net.head(net.enc._orig_mod(x)).numpy().tobytes()] * (CALLS + 1)
    assert net.forward.explain().startswith("built a program")
    assert list(net.state_dict()) == ["enc.weight", "enc.bias", "head.weight", "head.bias"]
    assert len(list(net.parameters())) == 4
    net.eval()
    assert not net.enc.training

    # an attribute assigned on the compiled module is the module's, and is seen
    net.enc.weight = nn.Parameter(Tensor(np.full((2, 3), 5.0, np.float32)))
    assert net.enc.weight is net.enc._orig_mod.weight
    with tl.no_grad():
        assert net(x).numpy().tobytes() == \
            net.head(net.enc._orig_mod(x)).numpy().tobytes()

    class Stack(nn.Module):  # compiled modules in a plain list are submodules too
        def __init__(self):
            super().__init__()
            self.layers = [tl.compile(nn.Linear(3, 3)), tl.compile(nn.Linear(3, 3))]

    compiled = tl.compile(nn.Linear(3, 2))  # chained as PyTorch's: still compiled
    assert compiled.eval() is compiled and compiled.train() is compiled

    stack = Stack()
    assert [n for n, _ in stack.named_parameters()] == \
        ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    stack.eval()
    assert not stack.layers[1].training


def hand_sgd_step(model, opt, x, rate_of) -> None:
    """A hand-written SGD update of model.sum()'s gradient at the rate rate_of(opt), a number
    read into Python from the optimizer's groups."""
    opt.zero_grad()
    model(x).sum().backward()
    lr = rate_of(opt)
    with tl.no_grad():
        for p in model.parameters():
            p.sub_(lr * p.grad)


def test_a_learning_rate_read_from_a_copy_of_its_group_is_guarded_by_its_bits():
    """dict(group) reads through the guard too; the rate is compared by type and bits (0.0 then
    -0.0, a NumPy number) and re-read from the optimizer's groups as they are at each call (a
    loaded state dict replaces them)."""
    def make():
        tl.manual_seed(0)
        model = nn.Linear(2, 1)
        opt = optim.SGD(model.parameters(), lr=0.0)
        return model, opt, lambda x: hand_sgd_step(model, opt, x,
                                                   lambda o: dict(o.param_groups[0])["lr"])

    (eager_model, eager_opt, eager_step), (model, opt, step) = make(), make()
    compiled, x = tl.compile(step), Tensor(np.ones((1, 2), np.float32))
    rates = [0.0] * 4 + [-0.0, -0.0, np.float64(0.5), np.float64(0.5), "load"]
    for lr in rates:
        for o in (eager_opt, opt):
            if lr == "load":
                saved = o.state_dict()
                saved["param_groups"][0]["lr"] = 0.25
                o.load_state_dict(saved)
            else:
                o.param_groups[0]["lr"] = lr
        eager_step(x)
        compiled(x)
        assert model.weight.numpy().tobytes() == eager_model.weight.numpy().tobytes()


def test_parameter_groups_inside_the_function_slices_guarded_writes_eager():
    tl.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def reads_a_slice(x):
        hand_sgd_step(model, opt, x, lambda o: o.param_groups[-1:][0]["lr"])

    def writes(x):
        opt.param_groups[0]["lr"] = 0.01  # a replay would not write it
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    x = Tensor(np.ones((1, 2), np.float32))
    compiled = tl.compile(reads_a_slice)
    for lr in (0.1,) * 5 + (0.5,):
        opt.param_groups[0]["lr"] = lr
        before = model.weight.numpy().copy()
        compiled(x)
        assert np.allclose(before - model.weight.numpy(), lr)  # d(sum)/dW = 1
    compiled = tl.compile(writes)
    for _ in range(CALLS + 1):
        compiled(x)
    assert "written inside the function" in compiled.explain()


def test_a_parameter_group_is_the_dict_it_was_given():
    model = nn.Linear(2, 1)
    head = {"params": [model.bias], "lr": 0.5}
    opt = optim.SGD([{"params": [model.weight]}], lr=0.1)
    opt.add_param_group(head)
    assert opt.param_groups[1] is head
    head["lr"] = 0.0
    model(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    bias = model.bias.numpy().copy()
    opt.step()
    assert model.bias.numpy().tobytes() == bias.tobytes()


def test_another_threads_tensor_code_during_a_trace_runs_untraced():
    """Tracing is this thread's: while a compiled function traces a call, tensor code that
    another thread runs meanwhile (here exactly then: the traced call waits for it) is not
    written into the trace, and its tensors keep plain arrays."""
    import itertools
    import threading

    go, done, seen, calls = threading.Event(), threading.Event(), {}, itertools.count(1)

    def other_thread():
        go.wait()
        x = Tensor(np.full((2, 3), 0.5), requires_grad=True)
        y = (x * 2.0).tanh().sum()
        y.backward()
        seen["plain"] = all(type(t._array) is np.ndarray for t in (x, y, x.grad))
        seen["value"] = y.item() == float(np.tanh(np.full((2, 3), 1.0)).sum())
        done.set()

    def f(a):
        if next(calls) == 2:  # the first traced call
            go.set()
            done.wait(10)
        return (a * 3.0).sum()

    compiled, thread = tl.compile(f), threading.Thread(target=other_thread)
    thread.start()
    compiled(Tensor(np.ones(2)))  # eager
    compiled(Tensor(np.ones(2)))  # traced: the other thread runs inside it
    thread.join(10)
    assert seen == {"plain": True, "value": True}
    for _ in range(CALLS):
        assert compiled(Tensor(np.ones(2))).item() == 6.0
    assert compiled.explain().startswith("built a program")


def test_one_thread_traces_at_a_time():
    """Thread B's traced calls wait, between backward and the optimizer step, while the main
    thread calls its own compiled step: that call runs eagerly, and B's program keeps its
    step (a second trace had cleared B's tracer, and both of B's traces lost the step alike)."""
    import threading
    import types

    def make(seed):
        tl.manual_seed(seed)
        model = nn.Linear(4, 3)
        return model, optim.SGD(model.parameters(), lr=0.1)

    def step(model, opt, x, wait=None):
        opt.zero_grad()
        (model(x).tanh() ** 2).sum().backward()
        if wait is not None and sync.on and threading.current_thread().name == "B":
            b_inside.set()
            a_done.wait(5)
        opt.step()

    (mb_e, ob_e), (mb_c, ob_c), (ma_e, oa_e), (ma_c, oa_c) = make(1), make(1), make(2), make(2)
    b_inside, a_done, sync = threading.Event(), threading.Event(), types.SimpleNamespace(on=False)
    cb = tl.compile(lambda x: step(mb_c, ob_c, x, wait=True))
    ca = tl.compile(lambda x: step(ma_c, oa_c, x))
    rng = np.random.default_rng(0)
    for i in range(8):
        x = rng.standard_normal((2, 4)).astype(np.float32)
        step(mb_e, ob_e, Tensor(x))
        step(ma_e, oa_e, Tensor(x))
        sync.on = i in (1, 2)  # B's traced calls
        b_inside.clear()
        a_done.clear()
        thread = threading.Thread(target=cb, args=(Tensor(x),), name="B")
        thread.start()
        if sync.on:
            b_inside.wait(5)
        ca(Tensor(x))
        a_done.set()
        thread.join(5)
        assert mb_c.weight.numpy().tobytes() == mb_e.weight.numpy().tobytes()
        assert ma_c.weight.numpy().tobytes() == ma_e.weight.numpy().tobytes()
    assert cb.explain().startswith("built a program")


def test_sgd_through_data_compiles():
    def setup():
        model = nn.Linear(4, 3)

        def step(x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            for p in model.parameters():
                p.data.sub_(0.1 * p.grad.data)  # the tutorials' update
                p.grad.data.zero_()
            return loss
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()


@pytest.mark.parametrize("zero", [np.float64, np.float32])
def test_numpy_scalar_arguments_are_keyed_by_their_bits(zero):
    compiled = tl.compile(lambda x, s: 1 / (x * s))
    x = Tensor(np.ones(2, np.float32))
    with np.errstate(divide="ignore"):
        for _ in range(CALLS):
            compiled(x, zero(0.0))
        assert compiled(x, zero(-0.0)).numpy()[0] == -np.inf


def test_a_numpy_scalar_promotes_as_one_in_the_traced_calls_too():
    def f(counts, x):  # int64 times a float64 NumPy scalar: the default float dtype, as PyTorch
        with tl.no_grad():
            return counts * x.numpy().mean()

    compiled = tl.compile(f)
    for i in range(CALLS):
        args = Tensor(np.array([1, 2, 3])), Tensor(np.full(4, i + 1.0))
        got, want = compiled(*args), f(*args)
        assert got.dtype == want.dtype == tl.float32
        np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---------------------------------------------------------------- a third review's cases


class Annealed(nn.Module):
    """A model with its own loss method, whose weight the training loop anneals."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.beta = nn.Linear(4, 3), 1.0

    def loss(self, x, y):
        return F.mse_loss(self.fc(x), y) + self.beta * self.fc.weight.pow(2).mean()


class Trainer:
    """The trainer-class pattern: the compiled step is a method reading self's attributes."""

    def __init__(self, model) -> None:
        self.model, self.alpha = model, 0.5
        self.opt = optim.Adam(model.parameters(), lr=1e-2)

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.alpha * F.mse_loss(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


def _anneal(model):
    model.beta = 0.25


def _new_alpha(trainer):
    trainer.alpha = 2.0


def _new_optimizer(trainer):
    tl.manual_seed(3)
    trainer.opt = optim.SGD(trainer.model.parameters(), lr=0.5)


@pytest.mark.parametrize("what", ["model-method", "trainer-alpha", "trainer-optimizer"])
def test_attributes_read_through_self_are_guarded(what):
    def setup():
        if what == "model-method":
            model = Annealed()
            return model, _sgd_step(model, lambda m, x, y: m.loss(x, y))
        trainer = Trainer(mlp()())
        trainer.parameters = trainer.model.parameters  # what Twins snapshots
        trainer.named_parameters = trainer.model.named_parameters
        return trainer, trainer.step

    change = {"model-method": _anneal, "trainer-alpha": _new_alpha,
              "trainer-optimizer": _new_optimizer}[what]
    twins = Twins(setup)
    data = regression()
    twins.check([data(i) for i in range(CALLS)] + [change] + [data(i) for i in range(CALLS)])
    assert twins.programs() >= 1, twins.compiled.explain()


def test_tensors_read_by_library_code_before_any_op_are_inputs():
    def setup():
        model = nn.Linear(4, 3)
        temperature = nn.Parameter(Tensor(np.array(0.9, np.float32)))
        model.temperature = temperature  # so that Twins compares it too
        opt = optim.SGD(model.parameters(), lr=0.5)

        def step(x, y):  # clamp and abs read the arrays before any op of the call does
            opt.zero_grad()
            t = temperature.clamp(max=1.0)
            loss = F.mse_loss(model(x) / t, y) + 0.01 * model.weight.abs().sum()
            loss.backward()
            opt.step()
            return loss
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(2 * CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()


def test_a_padding_mask_changed_in_place_is_read_at_each_replay():
    mask = Tensor(np.array([[False, False, True], [False, True, True]]))

    def setup():
        model = nn.MultiheadAttention(4, 2)

        def step(x, y):
            with tl.no_grad():
                return model(x, x, x, key_padding_mask=mask)[0].sum()
        return model, step

    def move(model):
        mask.copy_(Tensor(np.array([[False, True, True], [False, False, False]])))

    def reset(model):
        mask.copy_(Tensor(np.array([[False, False, True], [False, True, True]])))

    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((3, 2, 4)).astype(np.float32), np.zeros(1, np.float32))
            for _ in range(CALLS)]
    twins = Twins(setup)
    twins.check([reset] + data + [move] + data)
    assert twins.programs() == 1, twins.compiled.explain()


def test_it_compiles_and_replays_under_a_profiler():
    import cProfile
    twins = Twins(lambda: (lambda m: (m, _sgd_step(m, lambda m, x, y: F.mse_loss(m(x), y))))(
        mlp()()))
    profiler = cProfile.Profile()
    with profiler:
        twins.check([regression()(i) for i in range(CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()


class Blocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = [nn.Linear(4, 4)]  # a plain list of modules, registered
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        for block in self.blocks:
            x = block(x).tanh()
        return self.head(x)


def _grow(model):
    tl.manual_seed(5)
    model.blocks.append(nn.Linear(4, 4))  # in place: no __setattr__


def test_a_list_of_modules_grown_in_place_is_seen():
    check_across(_mse_step(Blocks), _grow)


def test_an_attribute_assigned_at_every_call_ends_in_eager():
    model = nn.Linear(4, 3)
    step = _sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y))
    compiled = tl.compile(step)
    for i in range(30):
        compiled(*map(Tensor, regression()(i)))
        model.global_step = i  # a new int object each time
    assert "runs eagerly" in compiled.explain(), compiled.explain()
    assert compiled.explain().count("built a program") <= 3


def test_a_change_between_the_two_traced_calls_traces_again():
    def unfreeze(model):
        model[0].weight.requires_grad_(True)

    def setup():
        model = mlp()()
        model[0].weight.requires_grad_(False)
        return model, _sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y))

    twins = Twins(setup)
    data = regression()
    twins.check([data(0), data(1), unfreeze] + [data(i) for i in range(2, 2 * CALLS)])
    assert twins.programs() == 1, twins.compiled.explain()


CONFIG = {"l2": 0.0}


def test_a_small_config_dict_changed_in_place_is_seen():
    def setup():
        model = nn.Linear(4, 3)

        def penalised(m, x, y):
            return F.mse_loss(m(x), y) + CONFIG["l2"] * m.weight.pow(2).sum()
        return model, _sgd_step(model, penalised)

    def reset(model):
        CONFIG["l2"] = 0.0

    def change(model):
        CONFIG["l2"] = 0.5

    twins = Twins(setup)
    data = regression()
    try:
        twins.check([reset] + [data(i) for i in range(CALLS)] + [change] +
                    [data(i) for i in range(CALLS)])
    finally:
        CONFIG["l2"] = 0.0


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weighted_cross_entropy_made_in_the_step_compiles(reduction):
    weight = Tensor(np.array([2.0, 1.0, 0.5], np.float32))

    def setup():
        model = nn.Linear(4, 3)
        return model, _sgd_step(model, lambda m, x, y: nn.CrossEntropyLoss(
            weight=weight, reduction=reduction, ignore_index=2)(m(x), y))

    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6))
            for _ in range(CALLS)]
    data[4] = (data[4][0], np.full(6, 2))  # every target ignored: 0/0, NaN, zero gradient
    twins = Twins(setup)
    with np.errstate(invalid="ignore"):
        twins.check(data)
    assert twins.programs() == 1, twins.compiled.explain()


def test_a_gan_whose_two_steps_freeze_each_other_replays_both():
    """The discriminator's step and the generator's are compiled separately; each sets D's
    requires_grad at its start (requires_grad_, a call of the program)."""
    class GAN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.G = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4))
            self.D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def setup():
        gan = GAN()
        opt_g = optim.Adam(gan.G.parameters(), lr=1e-3, betas=(0.5, 0.999))
        opt_d = optim.Adam(gan.D.parameters(), lr=1e-3, betas=(0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()

        def d_step(real, z):
            gan.D.requires_grad_(True)
            opt_d.zero_grad()
            with tl.no_grad():
                fake = gan.G(z)
            loss = (bce(gan.D(real), tl.ones(6, 1)) + bce(gan.D(fake), tl.zeros(6, 1))) * 0.5
            loss.backward()
            opt_d.step()
            return loss

        def g_step(real, z):
            gan.D.requires_grad_(False)
            opt_g.zero_grad()
            loss = bce(gan.D(gan.G(z)), tl.ones(6, 1))
            loss.backward()
            opt_g.step()
            return loss
        return gan, (d_step, g_step)

    def play(steps, model, compiled):
        tl.manual_seed(1)
        snaps = []
        for i in range(2 * CALLS):
            rng = np.random.default_rng(i)
            args = (Tensor(rng.standard_normal((6, 4)).astype(np.float32)),
                    Tensor(rng.standard_normal((6, 3)).astype(np.float32)))
            snaps.append([steps[0](*args).numpy().copy(), steps[1](*args).numpy().copy()] +
                         [p.numpy().copy() for p in model.parameters()])
        return snaps

    tl.manual_seed(0)
    model, steps = setup()
    eager = play(steps, model, False)
    tl.manual_seed(0)
    cmodel, (d_step, g_step) = setup()
    compiled = tl.compile(d_step), tl.compile(g_step)
    for i, (want, got) in enumerate(zip(eager, play(compiled, cmodel, True))):
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w, err_msg=f"call {i + 1}")
    for c in compiled:
        assert c.explain().startswith("built a program"), c.explain()


# ---------------------------------------------------------------- a fourth review's cases


NORM = (np.zeros(3, np.float32), [1.0])


def test_a_global_tuple_of_arrays_changed_in_place_is_seen():
    compiled = tl.compile(lambda x: (x - tl.tensor(NORM[0])) * NORM[1][0])
    x = Tensor(np.ones(3, np.float32))
    for _ in range(CALLS):
        compiled(x)
    NORM[0][:], NORM[1][0] = 5.0, 2.0
    try:
        np.testing.assert_array_equal(compiled(x).numpy(), [-8.0, -8.0, -8.0])
    finally:
        NORM[0][:], NORM[1][0] = 0.0, 1.0


def test_requires_grad_set_to_what_it_was_is_still_guarded():
    def setup():
        model = nn.Linear(4, 3)
        model.extra = nn.Linear(2, 2)  # never read by the step

        def step(x, y):
            model.extra.requires_grad_(True)
            return _sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y))(x, y)
        return model, step

    twins = check_across(setup, lambda model: model.extra.requires_grad_(False))
    assert all(p.requires_grad for p in twins.cmodel.extra.parameters())


def test_a_change_to_a_module_another_function_calls_keeps_this_program():
    model, other = nn.Linear(4, 3), nn.Linear(4, 3)
    compiled = tl.compile(_sgd_step(model, lambda m, x, y: F.mse_loss(m(x), y)))
    probe = tl.compile(lambda x: other(x).detach())
    for i in range(4 * CALLS):
        compiled(*map(Tensor, regression()(i)))
        probe(Tensor(np.ones((2, 4), np.float32)))
        other.last_seen = i  # only `probe`'s programs depend on `other`
    assert compiled.explain().count("built a program") == 1, compiled.explain()


def test_fullgraph_raises_at_every_call_once_the_signature_is_eager():
    model = nn.Linear(4, 2)
    model.temp = 1.0
    compiled = tl.compile(lambda x: (model(x) * model.temp).sum().detach(), fullgraph=True)
    raised = 0
    for i in range(40):
        if i % 4 == 3:
            model.temp = float(i)
        try:
            with tl.no_grad():
                compiled(Tensor(np.ones((3, 4), np.float32)))
        except NotTraceable:
            raised += 1
    assert raised > 0
    with pytest.raises(NotTraceable, match="changes between calls too often"):
        with tl.no_grad():
            compiled(Tensor(np.ones((3, 4), np.float32)))


def test_self_attributes_are_guarded_under_a_profiler_too():
    import cProfile

    def setup():
        model = Annealed()
        return model, _sgd_step(model, lambda m, x, y: m.loss(x, y))

    with cProfile.Profile():
        check_across(setup, _anneal)


class Runner:
    """Not a module, but with a `training` flag of its own."""

    def __init__(self) -> None:
        self.model, self.training = nn.Linear(4, 3), True

    def step(self, x):
        with tl.no_grad():
            return self.model(x).sum()


def test_an_object_with_a_training_flag_that_is_no_module():
    runner = Runner()
    compiled = tl.compile(runner.step)
    for _ in range(CALLS):
        compiled(Tensor(np.ones((2, 4), np.float32)))
    assert compiled.explain().startswith("built a program"), compiled.explain()


@pytest.mark.parametrize("read", [lambda t: t.item(), lambda t: float(t), lambda t: bool(t > 0),
                                  lambda t: t.tolist()[0]], ids=["item", "float", "bool", "tolist"])
def test_a_value_read_of_a_tensor_made_before_the_call_keeps_it_eager(read):
    bias = Tensor(np.array([0.5], np.float32))

    def f(x):
        with tl.no_grad():
            return x * 2 + (1.0 if read(bias) else 0.0) + bias

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for _ in range(CALLS):
        compiled(x)
    bias.fill_(-3.0)  # eager now takes the other branch
    np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    assert "read into Python" in compiled.explain()


def test_a_causal_mask_made_before_the_call_is_checked_again_at_each_replay():
    """nn.TransformerEncoder asks whether its mask is the causal one, in Python: a guard."""
    mask = nn.Transformer.generate_square_subsequent_mask(3)

    def setup():
        layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0)
        model = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

        def step(x, y):
            with tl.no_grad():
                return model(x, mask=mask).sum()
        return model, step

    def loosen(model):  # no longer causal: the encoder takes the other path
        mask.fill_(0.0)

    def reset(model):
        mask.copy_(nn.Transformer.generate_square_subsequent_mask(3))

    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((3, 2, 4)).astype(np.float32), np.zeros(1, np.float32))
            for _ in range(CALLS)]
    twins = Twins(setup)
    twins.check([reset] + data + [loosen] + data)
    assert twins.programs() >= 1, twins.compiled.explain()


def test_an_optimizer_step_with_a_closure_says_why_it_stays_eager():
    def setup():
        model = nn.Linear(4, 3)
        opt = optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            def closure():
                opt.zero_grad()
                loss = F.mse_loss(model(x), y)
                loss.backward()
                return loss
            return opt.step(closure)
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])
    assert "optimizer.step(closure)" in twins.compiled.explain(), twins.compiled.explain()


def test_a_program_compiled_in_pieces_runs_as_one_and_names_the_line_of_its_source(
        monkeypatch):
    """A long program is compiled in pieces (compile()'s memory grows with the function): the
    values alive between pieces are handed on, results equal eager's, and an error in a later
    piece names the line of `.code` where it happened."""
    import tinygrad_lstm.jit.program as program

    monkeypatch.setattr(program, "COMPILE_LINES", 7)
    w = Tensor(np.arange(15, dtype=np.float32).reshape(5, 3))

    def chain(piece0, idx):  # named like a piece: the pieces' names are not the program's
        a = (piece0 * 2.0).exp()
        b = (a - 1.0).tanh()
        c = (b * a + piece0).sum(1)
        with tl.no_grad():
            picked = w[idx]  # checked against w's 5 rows at every replay
        return (c * 3.0).sum() + picked.sum() + a.mean()

    compiled = tl.compile(chain)
    for k in range(CALLS):
        x, idx = Tensor(np.full((2, 3), 0.1 * k)), Tensor(np.array([0, k % 5]))
        assert compiled(x, idx).item() == chain(x, idx).item()
    lines = compiled.code.splitlines()
    assert len(lines) > 3 * 7, compiled.code
    with pytest.raises(IndexError, match=r"compiled program's line (\d+): `getitem\d+ = ") as e:
        compiled(Tensor(np.ones((2, 3))), Tensor(np.array([0, 7])))
    number = int(re.search(r"line (\d+)", str(e.value)).group(1))
    assert lines[number - 1].strip().startswith("getitem") and number > 7


# ---------------------------------------------------------------- found by the review of 2026-12-06


def _assert_equal_to_eager_across(make, x, change, calls=8, at=5):
    """make() -> (module, fn) twice: one eager, one compiled; change(module) on both before call
    `at`; every call's result compared to the bit."""
    (eager_module, eager), (module, fn) = make(), make()
    compiled = tl.compile(fn)
    with tl.no_grad():
        for i in range(calls):
            if i == at:
                change(eager_module)
                change(module)
            assert eager(x).numpy().tobytes() == compiled(x).numpy().tobytes(), \
                (i, compiled.explain())
    return compiled


def test_a_parameter_stored_in_another_layout_is_another_program():
    # Addmm multiplies an F-ordered weight another way (other bits, for these shapes): the
    # program traced with one layout must not run on the other
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((40, 64)).astype(np.float32), rng.standard_normal((32, 64))

    def make():
        linear = nn.Linear(64, 40, bias=False)
        linear.weight.data = Tensor(w.copy())
        b = Tensor(np.zeros((32, 40), np.float32))
        return linear, lambda x: tl.addmm(b, x, linear.weight.T) * 1.0

    def to_fortran(linear):
        linear.weight.data = tl.from_numpy(np.asfortranarray(linear.weight.numpy()))

    _assert_equal_to_eager_across(make, Tensor(x.astype(np.float32)), to_fortran)


def test_a_module_float_attribute_set_to_minus_zero_is_a_change():
    def make():
        act = nn.LeakyReLU(0.0)
        return act, lambda x: act(x) * 1.0

    def minus_zero(act):
        act.negative_slope = -0.0

    x = Tensor(np.array([-3.0, 2.0], np.float32))
    compiled = _assert_equal_to_eager_across(make, x, minus_zero)
    assert "the model changed" in compiled.explain()


def _assert_group_reads_follow_eager(read, before, change):
    """A hand-written SGD step whose rate is group['lr'] * read(group); before(group) at the
    start, change(group) between calls; the weights compared with eager's after every call."""
    def make():
        tl.manual_seed(0)
        model = nn.Linear(2, 1)
        opt = optim.SGD(model.parameters(), lr=0.1)
        before(opt.param_groups[0])

        def step(x):
            opt.zero_grad()
            model(x).sum().backward()
            group = opt.param_groups[0]
            rate = group["lr"] * read(group)
            with tl.no_grad():
                for p in model.parameters():
                    p.sub_(rate * p.grad)
        return model, opt, step

    (eager_model, eager_opt, eager), (model, opt, step) = make(), make()
    compiled, x = tl.compile(step), Tensor(np.ones((1, 2), np.float32))
    for i in range(8):
        if i == 5:
            change(eager_opt.param_groups[0])
            change(opt.param_groups[0])
        eager(x)
        compiled(x)
        assert eager_model.weight.numpy().tobytes() == model.weight.numpy().tobytes(), \
            (i, compiled.explain())


def _set(key, value):
    return lambda group: group.__setitem__(key, value)


@pytest.mark.parametrize("read, before, change", [
    # an array number, changed in place: guarded by a copy of its bits
    (lambda g: float(g["scale"]), _set("scale", np.array(1.0)),
     lambda g: g["scale"].fill(10.0)),
    # a tensor, replaced by another: the program read the first one
    (lambda g: g["scale"], _set("scale", Tensor(np.array(1.0, np.float32))),
     _set("scale", Tensor(np.array(10.0, np.float32)))),
    # a key missing at first (the default), then set
    (lambda g: g.get("scale", 1.0), lambda g: None, _set("scale", 2.0)),
    # None, then a number
    (lambda g: 1.0 if g["scale"] is None else g["scale"], _set("scale", None), _set("scale", 2.0)),
    # a list's item replaced in place, twice (the freed float's id comes back)
    (lambda g: g["scales"][0], _set("scales", [1.5]),
     lambda g: [g["scales"].__setitem__(0, g["scales"][0] * 2.0) for _ in range(2)]),
    # a key added, seen by iterating over the group
    (lambda g: float(len(g)), lambda g: None, _set("extra", 0)),
], ids=["array", "tensor", "missing", "none", "list_item", "keys"])
def test_every_value_read_from_a_parameter_group_is_guarded(read, before, change):
    _assert_group_reads_follow_eager(read, before, change)


@pytest.mark.parametrize("array", [np.matrix([[1.0, 2.0], [3.0, 4.0]]),
                                   np.ma.masked_array([1.0, 2.0, 100.0], mask=[0, 0, 1])],
                         ids=["matrix", "masked"])
def test_an_ndarray_subclass_argument_keeps_the_function_eager(array):
    def f(a):  # matrix: * is a matrix product; masked: the masked element is left out
        return Tensor(np.asarray(a * a if isinstance(a, np.matrix) else a.sum()))

    compiled = tl.compile(f)
    for _ in range(CALLS):
        assert compiled(array).numpy().tobytes() == f(array).numpy().tobytes()
    assert "an ndarray subclass" in compiled.explain()
    with pytest.raises(NotTraceable, match="an ndarray subclass"):
        tl.compile(f, fullgraph=True)(array)


def test_a_list_or_dict_argument_written_by_the_function_is_written_and_stays_eager():
    def make():
        tl.manual_seed(0)
        linear = nn.Linear(3, 3)

        def step(x, state, scales):  # a recurrent state kept in a dict; a list of raw arrays
            h = (linear(x) + state["h"]).tanh() * Tensor(scales[0])
            state["h"] = h.detach()
            scales[0] = scales[0] * 0.5
            return h.sum()
        return step

    x, zeros = Tensor(np.ones((1, 3), np.float32)), np.zeros((1, 3), np.float32)
    eager, compiled = make(), tl.compile(make())
    eager_state, state = {"h": Tensor(zeros)}, {"h": Tensor(zeros.copy())}
    eager_scales, scales = [np.ones(3, np.float32)], [np.ones(3, np.float32)]
    with tl.no_grad():
        for i in range(CALLS):
            assert eager(x, eager_state, eager_scales).numpy().tobytes() == \
                compiled(x, state, scales).numpy().tobytes(), (i, compiled.explain())
            assert state["h"].numpy().tobytes() == eager_state["h"].numpy().tobytes()
            assert scales[0].tobytes() == eager_scales[0].tobytes()
            assert type(scales[0]) is np.ndarray
    assert "writes into a list or dict it is given" in compiled.explain()


def test_an_optimizer_made_inside_the_function_keeps_it_eager_and_says_why():
    model = nn.Linear(2, 1)

    def step(x):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # momentum: new each call
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    compiled = tl.compile(step)
    for _ in range(CALLS):
        compiled(Tensor(np.ones((1, 2), np.float32)))
    assert "eagerly: an optimizer made inside the function" in compiled.explain()


def test_the_same_list_given_twice_is_one_list_in_the_traced_call():
    def f(x, a, b):
        a.append("from a")
        b.append("from b")
        return x * len(b)

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for i in range(CALLS):
        mine = []
        assert compiled(x, mine, mine).numpy().tolist() == [2.0, 2.0], i
        assert mine == ["from a", "from b"], i


def test_a_dict_argument_returned_is_the_callers_own():
    def f(x, d):
        d_sum = x * 2
        return d, d_sum

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for i in range(CALLS):
        mine = {"a": np.arange(3)}
        returned, _ = compiled(x, mine)
        assert returned is mine and type(returned["a"]) is np.ndarray, i
    assert "returns a list or dict it is given" in compiled.explain()


def test_a_tensor_written_into_a_dict_argument_has_a_plain_array():
    def f(x, state):
        state["h"] = (x * 2).detach()
        state["hc"] = ((x * 3).detach(), [(x * 4).detach()])  # in a tuple and a list it made

    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for i in range(CALLS):
        state = {}
        compiled(x, state)
        assert type(state["h"]._array) is np.ndarray, i
        assert type(state["hc"][0]._array) is np.ndarray, i
        assert type(state["hc"][1][0]._array) is np.ndarray, i


def test_the_same_question_of_a_parameter_group_is_one_guard():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(20)])
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        with tl.no_grad():
            for group in opt.param_groups:
                for p in group["params"]:
                    p.sub_(group["lr"] * p.grad)

    compiled = tl.compile(step)
    for _ in range(CALLS):
        compiled(Tensor(np.ones((1, 2), np.float32)))
    runner = next(iter(compiled._entries.values())).programs[0]
    assert len(runner._answers) <= 4  # the group count, params, lr: not one per parameter


@pytest.mark.parametrize("container", [OrderedDict(w=1.0), defaultdict(float, w=1.0)],
                         ids=["OrderedDict", "defaultdict"])
def test_a_dict_subclass_argument_keeps_the_function_eager(container):
    def f(x, d):
        d["w"] = d["w"] + 1.0
        return x * d["w"]

    eager_d, d = copy.copy(container), container
    compiled, x = tl.compile(f), Tensor(np.ones(2, np.float32))
    for i in range(CALLS):
        assert compiled(x, d).numpy().tobytes() == f(x, eager_d).numpy().tobytes(), i
    assert "whose items the program would not follow" in compiled.explain()


def test_an_array_in_a_list_in_a_parameter_group_is_guarded_by_its_values():
    _assert_group_reads_follow_eager(lambda g: float(g["scales"][0][0]),
                    _set("scales", [np.ones(1)]), lambda g: g["scales"][0].fill(5.0))


class _DecayingSGD(optim.Optimizer):
    """A user's optimizer with a Python-side step count: its step runs for real at each replay."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, dict(lr=lr))
        self.k = 0

    @tl.no_grad()
    def step(self, closure=None):
        self.k += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(p.grad * (group["lr"] / self.k))


class _CountingSGD(optim.SGD):
    """A user's step that says which step it made: the function branches on it."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.k = 0

    def step(self, closure=None):
        super().step(closure)
        self.k += 1
        return self.k


def _user_optimizer_step(opt_class, use_result: bool):
    tl.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = opt_class(model.parameters(), 0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        k = opt.step()
        return loss.detach() * (2.0 if use_result and k % 6 == 0 else 1.0)
    return model, opt, step


@pytest.mark.parametrize("opt_class, use_result, reason", [
    (_DecayingSGD, False, r"_DecayingSGD\.k|'k' differs"),
    (_CountingSGD, True, "returns a Python value"),
], ids=["step-count", "step-result"])
def test_a_users_optimizer_with_python_state_gives_eagers_results(opt_class, use_result, reason):
    """Its step runs for real at each replay, but what it reads or returns may flow back into
    the function (its result, a global it sets): its changing Python state keeps it eager."""
    (eager_model, eager_opt, eager), (model, opt, step) = \
        _user_optimizer_step(opt_class, use_result), _user_optimizer_step(opt_class, use_result)
    compiled, x = tl.compile(step), Tensor(np.ones((2, 3), np.float32))
    for i in range(2 * CALLS):
        assert compiled(x).numpy().tobytes() == eager(x).numpy().tobytes(), i
        assert model.weight.numpy().tobytes() == eager_model.weight.numpy().tobytes(), i
    assert opt.k == eager_opt.k == 2 * CALLS
    assert re.search(f"eagerly: .*({reason})", compiled.explain()), compiled.explain()


class _Smoothing:  # a helper made inside the step: its __init__ sets what it needs
    def __init__(self, eps: float) -> None:
        self.eps = eps

    def __call__(self, loss):
        return loss * (1 - self.eps)


class _Trainer:
    """A user's trainer (not a module, though it has a `training` flag) whose compiled step
    notes the batch's size and shape (equal values assigned again), uses a helper it makes,
    and keeps its last loss, or counts its steps, or neither."""

    def __init__(self, keeps: str) -> None:
        tl.manual_seed(0)
        self.model, self.training, self.keeps = nn.Linear(3, 1), True, keeps
        self.opt = optim.SGD(self.model.parameters(), lr=0.1)
        self.steps, self.last = 0, None

    def step(self, x):
        self.batch_size, self.shape = x.shape[0] * 1, tuple(x.shape)
        self.opt.zero_grad()
        loss = _Smoothing(0.1)(self.model(x).square().mean())
        loss.backward()
        self.opt.step()
        if self.keeps == "steps":
            self.steps += 1
        elif self.keeps == "last":
            self.last = loss.detach()
        return loss.detach()


@pytest.mark.parametrize("keeps", ["last", "steps", "nothing"])
def test_a_method_that_assigns_its_objects_attributes_stays_eager(keeps):
    eager, trainer = _Trainer(keeps), _Trainer(keeps)
    compiled, x = tl.compile(trainer.step), Tensor(np.ones((512, 3), np.float32))
    for i in range(CALLS):
        assert compiled(x).numpy().tobytes() == eager.step(x).numpy().tobytes(), i
        assert trainer.steps == eager.steps, i
        if keeps == "last":
            assert trainer.last.numpy().tobytes() == eager.last.numpy().tobytes(), i
            assert type(trainer.last._array) is np.ndarray, i
    if keeps == "nothing":  # an equal batch size (512, a new int) and shape: no assignment
        assert compiled.explain().startswith("built a program"), compiled.explain()
    else:
        assert f"assigns _Trainer.{keeps}" in compiled.explain()


def test_an_object_whose_getattr_raises_keyerror_is_read_without_crashing():
    class Config:
        __slots__ = ("values",)

        def __init__(self) -> None:
            object.__setattr__(self, "values", {"scale": 2.0})

        def __getattr__(self, name):
            return object.__getattribute__(self, "values")[name]  # KeyError for '__dict__'

        def scaled(self, t):
            return t * self.scale

    config, w = Config(), nn.Parameter(Tensor(np.ones(3, np.float32)))
    compiled = tl.compile(lambda: config.scaled(w).sum().detach())
    for _ in range(CALLS):
        assert compiled().item() == 6.0
