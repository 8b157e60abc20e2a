"""tl.compile against eager runs of the same function (issue 16).

Every check runs one setup twice, each built from the same seed: the function as written
(eager, the truth) and the function through tl.compile. Both see the same inputs from the same
generator state, and after every call the results, each parameter's .grad and each parameter
are compared: float32 bit for bit, float64 to 1e-12 relative. Six calls per case: calls 1-3
run eagerly (warm-up, two traces) and calls 4-6 are replays, which the Python-run counter of
`Twins` proves (a replay runs the program, never the function's body). A few checks use a hand
derivation or central differences instead of the eager run.

The tests marked xfail(strict=True) are bugs of tl.compile found here, each reason saying what
goes wrong; each such test is its own reproduction, and starts to fail (as XPASS) when the bug
is fixed, so that the mark is removed with the fix.
"""

import ast
import functools
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.nn.functional as F
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.autograd import Function
from tinygrad_lstm.jit import NotTraceable

CALLS = 6  # calls 1-3 eager (warm-up, trace, trace), 4-6 replays
EAGER_CALLS = 3

# ---------------------------------------------------------------- the twins harness


def counting(fn):
    """fn, with `runs`: how often its Python body ran (a replay runs the program instead)."""
    @functools.wraps(fn)
    def counted(*args, **kwargs):
        counted.runs += 1
        return fn(*args, **kwargs)
    counted.runs = 0
    return counted


def _tensors(out) -> list:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def snapshot(out, model) -> dict:
    """What one call leaves behind: its results, every parameter's .grad and value."""
    snap = {f"result {k}": t.numpy().copy() for k, t in enumerate(_tensors(out))}
    for name, p in model.named_parameters():
        snap[f"{name}.grad"] = None if p.grad is None else p.grad.numpy().copy()
        snap[name] = p.numpy().copy()
    return snap


def play(fn, model, script: list, seed: int) -> list[dict]:
    """Run fn from generator state `seed` over `script`: argument tuples (arrays become fresh
    Tensors), or actions model -> None between calls (train(), eval(), ...)."""
    tl.manual_seed(seed)
    snaps, kept = [], []
    for item in script:
        if callable(item):
            item(model)
            continue
        out = fn(*[Tensor(a.copy()) if isinstance(a, np.ndarray) else a for a in item])
        kept.append(_tensors(out))
        snaps.append(snapshot(out, model))
    for i, (results, snap) in enumerate(zip(kept, snaps)):  # no later call wrote into them
        for k, t in enumerate(results):
            np.testing.assert_array_equal(t.numpy(), snap[f"result {k}"],
                                          err_msg=f"call {i + 1}'s result {k} changed later")
    return snaps


def assert_same(eager: list[dict], compiled: list[dict], rtol: float = 0.0) -> None:
    assert len(eager) == len(compiled)
    for i, (e, c) in enumerate(zip(eager, compiled)):
        assert e.keys() == c.keys(), f"call {i + 1}"
        for name, want in e.items():
            got, where = c[name], f"call {i + 1}: {name}"
            if want is None or got is None:
                assert want is None and got is None, where
                continue
            assert got.dtype == want.dtype and got.shape == want.shape, where
            if rtol == 0:  # to the bit: -0.0 is not 0.0, a NaN's payload counts
                np.testing.assert_array_equal(got, want, err_msg=where)
                assert got.tobytes() == want.tobytes(), f"{where}: equal, but not to the bit"
            else:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=where)


class Twins:
    """A setup () -> (model, step) built twice from one seed: `step` runs eagerly, the second
    through tl.compile. `runs` counts the compiled side's Python runs of its body."""

    def __init__(self, setup, seed: int = 0) -> None:
        tl.manual_seed(seed)
        self.model, self.step = setup()
        tl.manual_seed(seed)
        self.cmodel, self.cstep = setup()
        self.body = counting(self.cstep)
        self.compiled = tl.compile(self.body)

    @property
    def runs(self) -> int:
        return self.body.runs

    def check(self, script: list, rtol: float = 0.0, seed: int = 1) -> list[dict]:
        """Both over `script` from the same generator state; every call's snapshot equal."""
        eager = play(self.step, self.model, script, seed)
        compiled = play(self.compiled, self.cmodel, script, seed)
        assert_same(eager, compiled, rtol)
        return compiled

    def programs(self) -> int:
        return self.compiled.explain().count("built a program")


# ---------------------------------------------------------------- models and data


class MyReLU(Function):
    """The PyTorch tutorial's custom ReLU, as in test_function.py."""

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


class CustomNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(MyReLU.apply(self.fc1(x)))


class Recurrent(nn.Module):
    """An RNN module and a linear head on its output at every step."""

    def __init__(self, rnn, hidden: int, out: int = 2) -> None:
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(hidden, out)

    def forward(self, x):
        out, _ = self.rnn(x)  # (T, N, D*H), or (N, T, D*H) batch_first
        return self.head(out)


class Branches(nn.Module):
    """Two linear branches side by side: a cat in the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(4, 3), nn.Linear(4, 3), nn.Linear(6, 3)

    def forward(self, x):
        return self.head(tl.cat([self.a(x), self.b(x)], dim=1))  # (N, 6) -> (N, 3)


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(7, 4), nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.emb(x).tanh())


def mlp(*middle, dtype=np.float32):
    """Linear(4, 8), the modules made by `middle` (Tanh by default), Linear(8, 3)."""
    def build():
        model = nn.Sequential(nn.Linear(4, 8), *(make() for make in middle or (nn.Tanh,)),
                              nn.Linear(8, 3))
        return model.double() if dtype == np.float64 else model
    return build


def lstm(**kwargs):
    return lambda: Recurrent(nn.LSTM(3, 5, **kwargs), 5 * (1 + kwargs.get("bidirectional", 0)))


def gru(dtype=np.float32, **kwargs):
    def build():
        model = Recurrent(nn.GRU(3, 5, **kwargs), 5 * (1 + kwargs.get("bidirectional", 0)))
        return model.double() if dtype == np.float64 else model
    return build


def regression(dtype=np.float32, n=5):
    def data(i):
        rng = np.random.default_rng(i)
        return rng.standard_normal((n, 4)).astype(dtype), rng.standard_normal((n, 3)).astype(dtype)
    return data


def classes(i, n=5):
    rng = np.random.default_rng(i)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def tokens(i):
    rng = np.random.default_rng(i)
    return rng.integers(0, 7, (5,)), rng.standard_normal((5, 3)).astype(np.float32)


def sequences(dtype=np.float32, batch_first=False):
    def data(i):
        rng = np.random.default_rng(i)
        x, y = rng.standard_normal((4, 3, 3)), rng.standard_normal((4, 3, 2))  # (T, N, I)
        if batch_first:
            x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
        return x.astype(dtype), y.astype(dtype)
    return data


def training(build, make_optimizer, loss=F.mse_loss, scheduler=None, max_norm=None):
    """A setup whose step is one training step: zero_grad, loss, backward, (clip), step,
    (scheduler step). It returns the loss (and the total norm when clipping)."""
    def setup():
        model = build()
        opt = make_optimizer(model.parameters())
        sched = scheduler(opt) if scheduler is not None else None

        def step(x, y):
            opt.zero_grad()
            out = loss(model(x), y)
            out.backward()
            results = (out,)
            if max_norm is not None:
                results += (nn.utils.clip_grad_norm_(model.parameters(), max_norm),)
            opt.step()
            if sched is not None:
                sched.step()
            return results
        step.opt, step.sched = opt, sched
        return model, step
    return setup


def products_with_a_weight_written_between_steps(written: Tensor):
    """f(xs, w): tanh(xs[t]) * w for three steps, all the tanh made before the first product,
    with `written` incremented in place between the steps (batching the products over the steps
    would read it once)."""
    class Scale(nn.Module):
        def forward(self, h, w):
            return (h * w).reshape(-1)

    scale = Scale()

    def f(xs, w):
        hs = [xs[t].tanh() for t in range(3)]  # all made before the first product
        outs = []
        for t in range(3):
            outs.append(scale(hs[t], w))
            with tl.no_grad():
                written.add_(1.0)
        return tl.stack(outs)
    return f


def sgd(params):
    return optim.SGD(params, lr=0.1, momentum=0.9)


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


CASES = {
    # what issue 16 names
    "mlp-adam": (training(mlp(), lambda p: optim.Adam(p, lr=1e-2), F.cross_entropy),
                 classes, 0.0),
    "mlp-sgd-nesterov-float64": (
        training(mlp(dtype=np.float64), lambda p: optim.SGD(p, lr=0.1, momentum=0.9,
                                                            nesterov=True, weight_decay=1e-3)),
        regression(np.float64), 1e-12),
    "lstm-2-layers-dropout-adamw": (
        training(lstm(num_layers=2, dropout=0.5),
                 lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.1)), sequences(), 0.0),
    "lstm-2-layers-bidirectional-dropout": pytest.param(
        training(lstm(num_layers=2, bidirectional=True, dropout=0.5),
                 lambda p: optim.AdamW(p, lr=1e-2)), sequences(), 0.0),
    "gru-2-layers-batch-first-sgd": (
        training(gru(num_layers=2, batch_first=True), sgd), sequences(batch_first=True), 0.0),
    "gru-float64-adam-amsgrad": (
        training(gru(np.float64), lambda p: optim.Adam(p, lr=1e-2, amsgrad=True)),
        sequences(np.float64), 1e-12),
    "custom-function": (training(CustomNet, sgd, F.cross_entropy), classes, 0.0),
    "sgd-momentum-steplr": (
        training(mlp(), sgd, scheduler=lambda o: optim.lr_scheduler.StepLR(o, 2, gamma=0.5)),
        regression(), 0.0),
    "adam-clip-grad-norm": (
        training(mlp(), lambda p: optim.Adam(p, lr=1e-2), max_norm=0.05), regression(), 0.0),
    "lstm-adamw-cosine-clip": (
        training(lstm(num_layers=2, dropout=0.2), lambda p: optim.AdamW(p, lr=1e-2),
                 scheduler=lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=4),
                 max_norm=0.1), sequences(), 0.0),
    # more modules: each one must become a program as well
    "mlp-relu": (training(mlp(nn.ReLU), sgd), regression(), 0.0),
    "mlp-leaky-relu-silu": (training(mlp(lambda: nn.LeakyReLU(0.1), nn.SiLU), sgd),
                            regression(), 0.0),
    "mlp-sigmoid-softplus-elu": (training(mlp(nn.Sigmoid, nn.Softplus, nn.ELU), sgd),
                                 regression(), 0.0),
    "mlp-dropout": (training(mlp(nn.Tanh, lambda: nn.Dropout(0.5)), sgd), regression(), 0.0),
    "rnn-2-layers": (training(lambda: Recurrent(nn.RNN(3, 5, num_layers=2), 5), sgd),
                     sequences(), 0.0),
    "gru-bidirectional": (training(gru(bidirectional=True), sgd), sequences(), 0.0),
    "cat": (training(Branches, sgd), regression(), 0.0),
    "mlp-layer-norm": (training(mlp(lambda: nn.LayerNorm(8)), sgd), regression(), 0.0),
    "mlp-gelu": (training(mlp(nn.GELU), sgd), regression(), 0.0),
    "embedding": (training(Tokens, sgd), tokens, 0.0),
}


@pytest.mark.parametrize("setup, data, rtol", CASES.values(), ids=CASES.keys())
def test_training_steps_replay_equal_to_eager(setup, data, rtol):
    twins = Twins(setup)
    twins.check([data(i) for i in range(CALLS)], rtol)
    assert twins.programs() == 1, twins.compiled.explain()
    assert twins.runs == EAGER_CALLS  # calls 4-6 were replays


# ---------------------------------------------------------------- the steps inside the function


def test_scheduler_inside_the_function_steps_at_every_replay():
    twins = Twins(training(mlp(), sgd,
                           scheduler=lambda o: optim.lr_scheduler.StepLR(o, 1, gamma=0.5)))
    twins.check([regression()(i) for i in range(CALLS)])
    assert twins.runs == EAGER_CALLS
    assert twins.cstep.sched.last_epoch == CALLS
    assert twins.cstep.opt.param_groups[0]["lr"] == 0.1 * 0.5 ** CALLS


def test_clipping_inside_the_function_scales_at_every_replay():
    max_norm = 0.05
    twins = Twins(training(mlp(), lambda p: optim.SGD(p, lr=0.1), max_norm=max_norm))
    snaps = twins.check([regression()(i) for i in range(CALLS)])
    assert twins.runs == EAGER_CALLS
    for snap in snaps[EAGER_CALLS:]:  # the replays clipped: the gradients' norm is max_norm
        assert snap["result 1"] > max_norm
        norm = np.sqrt(sum(np.sum(snap[f"{n}.grad"].astype(np.float64) ** 2)
                           for n, _ in twins.cmodel.named_parameters()))
        np.testing.assert_allclose(norm, max_norm, rtol=1e-5)


def test_dropout_replays_draw_from_the_generator_like_eager():
    """The replays' masks come from tl.manual_seed's generator: another seed, other results."""
    setup = training(lstm(num_layers=2, dropout=0.5), sgd)
    script = [sequences()(i) for i in range(CALLS)]
    twins = Twins(setup)
    same_seed = twins.check(script, seed=5)
    other = Twins(setup)
    other_seed = play(other.compiled, other.cmodel, script, seed=6)
    assert twins.runs == EAGER_CALLS and other.runs == EAGER_CALLS
    assert not np.array_equal(same_seed[-1]["result 0"], other_seed[-1]["result 0"])


def test_many_replays_stay_bitwise_equal():
    twins = Twins(training(lstm(num_layers=2, dropout=0.3), lambda p: optim.Adam(p, lr=1e-2),
                           scheduler=lambda o: optim.lr_scheduler.ExponentialLR(o, 0.95),
                           max_norm=0.5))
    twins.check([sequences()(i % 7) for i in range(40)])
    assert twins.runs == EAGER_CALLS  # 37 replays


def test_gradient_accumulation_across_calls():
    """No zero_grad inside: .grad adds up over calls and is reset outside, every second call."""
    def setup():
        model = mlp()()

        def step(x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss
        return model, step

    def update(model):
        for p in model.parameters():
            p.data -= 0.1 * p.grad.data
            p.grad = None

    twins = Twins(setup)
    script = []
    for i in range(10):
        script += [regression()(i)] + ([update] if i % 2 else [])
    twins.check(script)
    assert twins.runs == EAGER_CALLS


# ---------------------------------------------------------------- independent truths


def test_linear_regression_against_a_hand_derivation():
    """loss = mean((x W^T + b - y)^2); dpred = 2 (pred - y) / (N*M); dW = dpred^T x,
    db = sum_n dpred; SGD: W -= lr dW. Float64, to 1e-12."""
    lr = 0.1
    tl.manual_seed(0)
    model = nn.Linear(4, 3).double()
    W, b = model.weight.numpy().copy(), model.bias.numpy().copy()
    opt = optim.SGD(model.parameters(), lr=lr)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    body = counting(step)
    compiled = tl.compile(body)
    for i in range(CALLS):
        x, y = regression(np.float64)(i)
        loss = compiled(Tensor(x), Tensor(y))
        pred = x @ W.T + b  # (N, M)
        dpred = 2 * (pred - y) / pred.size
        dW, db = dpred.T @ x, dpred.sum(0)
        W, b = W - lr * dW, b - lr * db
        np.testing.assert_allclose(loss.item(), np.mean((pred - y) ** 2), rtol=1e-12)
        np.testing.assert_allclose(model.weight.grad.numpy(), dW, rtol=1e-12)
        np.testing.assert_allclose(model.bias.grad.numpy(), db, rtol=1e-12)
        np.testing.assert_allclose(model.weight.numpy(), W, rtol=1e-12)
        np.testing.assert_allclose(model.bias.numpy(), b, rtol=1e-12)
    assert body.runs == EAGER_CALLS


def test_replayed_gru_gradients_against_central_differences():
    tl.manual_seed(0)
    model = gru(np.float64)()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def grads(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    body = counting(grads)
    compiled = tl.compile(body)
    for i in range(CALLS):
        x, y = sequences(np.float64)(i)
        compiled(Tensor(x), Tensor(y))
    assert body.runs == EAGER_CALLS  # the last .grad is a replay's

    def loss_at() -> float:
        with tl.no_grad():
            return F.mse_loss(model(Tensor(x)), Tensor(y)).item()

    eps, rng = 1e-6, np.random.default_rng(0)
    for name, p in model.named_parameters():
        for index in {tuple(rng.integers(0, n) for n in p.shape) for _ in range(3)}:
            array = p.numpy()  # shares p's memory
            saved = array[index]
            array[index] = saved + eps
            up = loss_at()
            array[index] = saved - eps
            down = loss_at()
            array[index] = saved
            np.testing.assert_allclose(p.grad.numpy()[index], (up - down) / (2 * eps),
                                       rtol=1e-6, atol=1e-9, err_msg=f"{name}{index}")


# ---------------------------------------------------------------- guards


def test_a_new_shape_gets_a_new_program_and_the_old_one_is_kept():
    twins = Twins(training(mlp(), lambda p: optim.Adam(p, lr=1e-2)))
    script = [regression(n=5)(i) for i in range(CALLS)]
    script += [regression(n=7)(i) for i in range(CALLS)]
    script += [regression(n=5)(i) for i in range(3)]
    twins.check(script)
    assert twins.programs() == 2, twins.compiled.explain()
    assert twins.runs == 2 * EAGER_CALLS  # the last three calls replay the first program


def test_a_new_input_dtype_gets_a_new_program():
    def setup():
        def loss(x, y):
            return (x.tanh() ** 2).mean() + (y * y).mean()
        return nn.Module(), loss

    twins = Twins(setup)
    snaps = twins.check([regression(np.float32)(i) for i in range(CALLS)] +
                        [regression(np.float64)(i) for i in range(CALLS)])
    assert [s["result 0"].dtype for s in snaps] == [np.float32] * CALLS + [np.float64] * CALLS
    assert twins.programs() == 2 and twins.runs == 2 * EAGER_CALLS


class CastIn(nn.Module):
    """Casts its input to its own dtype: the same inputs fit after .double()."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x.to(self.fc1.weight.dtype)).tanh())


def test_parameters_of_a_new_dtype_get_a_new_program():
    def setup():
        model = CastIn()
        opt = sgd(model.parameters())

        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y.to(model.fc1.weight.dtype))
            loss.backward()
            opt.step()
            return loss
        return model, step

    twins = Twins(setup)
    data = regression(np.float32)
    snaps = twins.check([data(i) for i in range(CALLS)] + [lambda m: m.double()] +
                        [data(i) for i in range(CALLS)])
    assert snaps[-1]["result 0"].dtype == np.float64
    # the same input signature: the program of float32 parameters must not replay
    assert twins.programs() == 2, twins.compiled.explain()
    assert twins.runs == EAGER_CALLS + 2


def test_eval_does_not_replay_the_train_program_and_train_reuses_it():
    twins = Twins(training(lstm(num_layers=2, dropout=0.5), sgd))
    data = sequences()
    script = [data(i) for i in range(CALLS)] + [lambda m: m.eval()]
    script += [data(i) for i in range(CALLS)] + [lambda m: m.train()]
    script += [data(i) for i in range(4)]
    twins.check(script)
    log = twins.compiled.explain()
    assert "Recurrent in train" in log and "Recurrent in eval" in log, log
    # eval is traced at its first two calls (the key is warm); back in train, only replays
    assert twins.runs == EAGER_CALLS + 2


def test_a_submodules_mode_is_guarded_too():
    twins = Twins(training(mlp(nn.Tanh, lambda: nn.Dropout(0.5)), sgd))
    data = regression()
    twins.check([data(i) for i in range(CALLS)] + [lambda m: m[2].eval()] +
                [data(i) for i in range(CALLS)])
    assert twins.programs() == 2 and twins.runs == EAGER_CALLS + 2


def test_more_signatures_than_the_cache_holds_run_eagerly():
    twins = Twins(lambda: (nn.Module(), lambda x: (x * x).sum()))
    twins.check([(np.ones(n, np.float32),) for n in range(1, 12) for _ in range(4)])
    assert "more than 8 input signatures" in twins.compiled.explain()


def test_a_compiled_module_under_no_grad():
    """tl.compile(model), as torch.compile(model): inference replays equal to eager."""
    tl.manual_seed(0)
    model = mlp()()
    tl.manual_seed(0)
    compiled = tl.compile(mlp()())
    with tl.no_grad():
        for i in range(CALLS):
            x = Tensor(regression()(i)[0])
            np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    assert "built a program" in compiled.explain()


# ---------------------------------------------------------------- what must stay eager


def halve_big_loss(x):
    loss = (x * x).sum()
    if loss.item() > 1:
        loss = loss * 0.5
    return loss


def double_positive(x):
    if (x > 0).all():
        return x * 2
    return x - 1


def returns_a_graph(model, x):
    return model(x)  # requires grad: the caller may call backward on it


def retains_the_graph(model, x):
    out = model(x)
    out.sum().backward(retain_graph=True)
    (out * out).sum().backward()
    return out.detach()


def hooks_an_intermediate(model, x):
    out = model(x)
    out.register_hook(lambda g: g * 2)
    out.sum().backward()
    return out.detach()


FALLBACKS = {  # fn(x) or fn(model, x), the inputs' two values (a branch takes both), the reason
    "branch-on-item": (halve_big_loss, (0.1, 2.0), "read into Python (item)"),
    "branch-on-bool": (double_positive, (1.0, -1.0), "read into Python (bool)"),
    "returns-a-graph": (returns_a_graph, (1.0, 2.0), "returns a tensor that requires grad"),
    "retain-graph": (retains_the_graph, (1.0, 2.0), "backward(retain_graph=True"),
    "hook-inside-backward": (hooks_an_intermediate, (1.0, 2.0), "a hook on an intermediate"),
}


@pytest.mark.parametrize("fn, values, reason", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_cannot_be_a_program_stays_eager_and_says_why(fn, values, reason):
    def setup():
        if fn in (halve_big_loss, double_positive):
            return nn.Module(), fn
        model = nn.Linear(3, 3)
        return model, functools.partial(fn, model)

    twins = Twins(setup)
    script = [(np.full((2, 3), values[i % 2], np.float32),) for i in range(CALLS)]
    twins.check(script)  # every call eager, equal to eager (on both sides of a branch)
    assert twins.runs == CALLS
    assert reason in twins.compiled.explain(), twins.compiled.explain()
    with pytest.raises(RuntimeError, match="no program has been built"):
        _ = twins.compiled.code


def test_the_reason_names_the_line_that_reads_the_value():
    compiled = tl.compile(double_positive)
    for _ in range(3):
        compiled(Tensor(np.ones(3)))
    assert "test_compile.py" in compiled.explain() and "if (x > 0).all():" in \
        compiled.explain()


@pytest.mark.parametrize("fn", [halve_big_loss, double_positive])
def test_fullgraph_raises_where_it_would_fall_back(fn):
    compiled = tl.compile(fn, fullgraph=True)
    compiled(Tensor(np.ones(3)))  # call 1 is the eager warm-up, not traced
    with pytest.raises(NotTraceable, match="fullgraph=True.*read into Python"):
        compiled(Tensor(np.ones(3)))


def test_a_tensor_made_from_changing_python_data_is_not_replayed():
    data = [0.0]

    def setup():
        def shift(x):
            return x + Tensor(np.array(data, np.float32))
        return nn.Module(), shift

    def reset(model):
        data[0] = 0.0

    def bump(model):
        data[0] += 1

    twins = Twins(setup)
    script = [(np.ones(3, np.float32),) for _ in range(CALLS)]
    twins.check([reset] + [item for call in script for item in (call, bump)])  # at each call
    assert twins.runs == CALLS
    assert "two calls ran different programs" in twins.compiled.explain()


@pytest.mark.parametrize("made", ["tensor-from-list", "python-float"])
def test_python_data_changed_after_the_build_is_not_replayed_stale(made):
    data = [1.0]

    def setup():
        def fn(x):
            if made == "tensor-from-list":
                return x * Tensor(np.array(data, np.float32))
            return x * data[0]
        return nn.Module(), fn

    def reset(model):
        data[0] = 1.0

    def change(model):
        data[0] = 7.0

    twins = Twins(setup)
    script = [(np.ones(3, np.float32),) for _ in range(CALLS)]
    twins.check([reset] + script[:4] + [change] + script[4:])  # changed after the 1st replay
    assert twins.runs > EAGER_CALLS


# ---------------------------------------------------------------- stale replays (guard gaps)


def _replace_head(model):
    tl.manual_seed(7)  # the same new weights in both runs
    model[2] = nn.Linear(8, 3)


def _new_weight(model):
    model[2].weight = nn.Parameter(Tensor(np.full((3, 8), 0.1, np.float32)))


def _freeze(model):
    model[0].weight.requires_grad_(False)


@pytest.mark.parametrize("change", [_replace_head, _new_weight, _freeze],
                         ids=["submodule-replaced", "parameter-replaced", "parameter-frozen"])
def test_a_changed_model_is_not_replayed_stale(change):
    twins = Twins(training(mlp(), sgd))
    data = regression()
    twins.check([data(i) for i in range(CALLS)] + [change] + [data(i) for i in range(CALLS)])


@pytest.mark.parametrize("how", ["module.zero_grad", "grad=None"])
def test_zeroing_grads_without_the_optimizer_is_replayed(how):
    def setup():
        model = mlp()()
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            if how == "module.zero_grad":
                model.zero_grad()
            else:
                for p in model.parameters():
                    p.grad = None
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return model, step

    twins = Twins(setup)
    twins.check([regression()(i) for i in range(CALLS)])


def test_an_argument_that_requires_grad_gets_its_grad_eagerly():
    """A new leaf at each call: the program would write into the traced call's leaf, so the
    function stays eager and says why."""
    def energy(x):
        loss = (x.tanh() ** 2).sum()
        loss.backward()
        return loss

    body = counting(energy)
    compiled = tl.compile(body)
    for i in range(CALLS):
        values = np.linspace(-1, 1, 3) * (i + 1)
        x = Tensor(values, requires_grad=True)
        compiled(x)
        t = np.tanh(values)
        np.testing.assert_allclose(x.grad.numpy(), 2 * t * (1 - t * t), rtol=1e-12)
    assert body.runs == CALLS
    assert "backward writes the .grad of argument 'x'" in compiled.explain()


# ---------------------------------------------------------------- the program's source


def test_code_is_python_of_numpy_calls_with_comments_naming_the_modules():
    twins = Twins(training(lstm(num_layers=2, dropout=0.5), lambda p: optim.AdamW(p, lr=1e-2),
                           max_norm=1.0))
    twins.check([sequences()(i) for i in range(4)])
    code = twins.compiled.code
    tree = ast.parse(code)
    imports, step = tree.body[:2]  # `from numpy import add, ...`, then the function
    assert isinstance(imports, ast.ImportFrom) and imports.module == "numpy"
    assert isinstance(step, ast.FunctionDef)
    assert [a.arg for a in step.args.args] == ["x", "y"]
    imported = {alias.name for alias in imports.names}
    assert {"multiply", "dot", "tanh"} <= imported
    numpy_calls = [node for node in ast.walk(step) if isinstance(node, ast.Call) and
                   (ast.unparse(node.func).startswith("np.") or
                    ast.unparse(node.func) in imported)]
    assert len(numpy_calls) > 100
    assert not {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and
                isinstance(node.ctx, ast.Store)} & imported  # nothing shadows them
    comments = re.findall(r"^\s*# (.*)$", code, re.M)
    assert any(c.startswith("recurrent, rnn, step 0, ") for c in comments), comments[:20]
    assert any(c.startswith("recurrent, head, Linear") for c in comments)
    assert "adamw.step()" in code and "clip_grad_norm(" in code
    compile(code, "<tl.compile>", "exec")  # and the builtin compiles it



@pytest.mark.parametrize("build, split_in_place", [(lstm(num_layers=2, bidirectional=True), True),
                                                   (gru(), False)],
                         ids=["lstm-2-layers-bidirectional", "gru"])
def test_what_the_backward_needs_only_forward_values_for_is_computed_once_for_all_steps(
        build, split_in_place):
    """batch_over_steps: 1 - tanh**2 and s * (1 - s) as one call over the stacked forward values
    of every step (`steps 0-3`), bitwise equal to eager; each step reads its slice."""
    twins = Twins(training(build, lambda p: optim.Adam(p, lr=1e-2)))
    twins.check([sequences()(i) for i in range(5)])
    code = twins.compiled.code
    batched = re.findall(r"^\s*# (.*steps 0-3, \w+Backward)$", code, re.M)
    assert len(batched) >= 2, code
    # a step's slices of the stacks: views of the arena, made once
    assert re.search(r"^[A-Z_0-9]+ = STEPS_\w+\[3\]$", code, re.M)
    assert re.search(r"^[A-Z_0-9]+ = D_STEPS_\w+\[3\]$", code, re.M)
    if not split_in_place:  # GRU: each part goes into two concatenations
        return
    # concatenate_in_place: a SplitBackward's parts are written into their slices, not copied
    comment, concatenated_in = "", []
    for line in code.splitlines():
        if line.strip().startswith("#"):
            comment = line.strip()
        elif "concatenate(" in line:
            concatenated_in.append(comment)
    assert not [c for c in concatenated_in if c.endswith("SplitBackward")], concatenated_in
    assert re.search(r"^    multiply\(\w+, \w+, out=D_\w+\)$", code, re.M)



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_gives_an_element_the_same_bits_in_a_batched_call(dtype):
    """batch_over_steps relies on it: a ufunc (a transcendental one too, whose SIMD loop handles
    the tail of an array apart) computes each element alike whatever the length of the
    contiguous array and where it starts, and into a slice of a stack (`out=`) as into a new
    array."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 3, 37)) * 4).astype(dtype)
    for ufunc in (np.tanh, np.exp, np.log1p, np.sin, np.negative, np.reciprocal):
        values = np.abs(x) if ufunc is np.log1p else x
        stack = np.empty_like(values)
        steps = [ufunc(values[t], out=stack[t]) for t in range(len(values))]
        alone = [ufunc(values[t].copy()) for t in range(len(values))]
        batched = ufunc(values)
        for t in range(len(values)):
            assert batched[t].tobytes() == alone[t].tobytes() == steps[t].tobytes(), ufunc


# ---------------------------------------------------------------- packaging


def test_every_subpackage_is_in_the_distribution():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join((package, *p.parent.relative_to(root / folder).parts))
             for package, folder in [("tinygrad_lstm", "tinygrad_lstm"),
                                     ("tinygrad_lstm.nn", "nn"), ("tinygrad_lstm.optim", "optim")]
             for p in (root / folder).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


# ---------------------------------------------------------------- index ops: checks at each call

INDEX_OPS = {  # loss of (w, index), an index in range, one out of range, the error
    "gather": (lambda w, i: w.gather(1, i).sum(), [[0], [2], [1], [4]], [[0], [5], [1], [4]],
               "gather\\(\\): index 5 is out of bounds for dimension 1 with size 5"),
    "scatter_add": (lambda w, i: w.scatter_add(1, i, w[:, :1] * 2).square().sum(),
                    [[0], [2], [1], [4]], [[0], [2], [-1], [4]],
                    "scatter\\(\\): index -1 is out of bounds"),
    "index_select": (lambda w, i: w.index_select(1, i).square().sum(), [0, 3, -1], [0, 7, 1],
                     "index_select\\(\\): index out of range"),
    "max_dim": (lambda w, i: w.max(dim=1).values.sum() + w.sum() * i.sum(), [1], None, None),
    "topk": (lambda w, i: w.topk(2, dim=1).values.square().sum() * i.sum(), [1], None, None),
    "sort": (lambda w, i: (w.sort(dim=0).values * i.sum()).sum(), [1, 2], None, None),
}


@pytest.mark.parametrize("loss_of, good, bad, error", INDEX_OPS.values(), ids=INDEX_OPS.keys())
def test_index_ops_become_programs_that_check_their_indices_at_every_call(loss_of, good, bad,
                                                                             error):
    def make():
        w = nn.Parameter(Tensor(np.random.default_rng(0).standard_normal((4, 5))))
        opt = optim.SGD([w], lr=0.1)

        def step(i):
            opt.zero_grad()
            loss = loss_of(w, i)
            loss.backward()
            opt.step()
            return loss.detach()
        return w, step

    (eager_w, eager), (w, step) = make(), make()
    compiled, index = tl.compile(step), Tensor(np.array(good))
    for k in range(CALLS):
        assert compiled(index).numpy().tobytes() == eager(index).numpy().tobytes(), k
        assert w.numpy().tobytes() == eager_w.numpy().tobytes(), k
    assert compiled.explain().startswith("built a program"), compiled.explain()
    if bad is not None:  # the program checks the values it is given, as eager does
        before = w.numpy().copy()
        with pytest.raises((RuntimeError, IndexError), match=error):
            compiled(Tensor(np.array(bad)))
        with pytest.raises((RuntimeError, IndexError), match=error):
            eager(Tensor(np.array(bad)))
        assert w.numpy().tobytes() == before.tobytes()


def test_an_index_tensor_held_outside_the_function_is_read_at_every_run():
    index = Tensor(np.array([[0], [2], [1], [4]]))

    def make():
        w = nn.Parameter(Tensor(np.random.default_rng(0).standard_normal((4, 5))))
        opt = optim.SGD([w], lr=0.1)

        def step():
            opt.zero_grad()
            loss = w.gather(1, index).square().sum() + w.scatter_add(1, index, w[:, :1]).sum()
            loss.backward()
            opt.step()
            return loss.detach()
        return w, step

    (eager_w, eager), (w, step) = make(), make()
    compiled = tl.compile(step)
    for k in range(2 * CALLS):
        if k == CALLS:
            index._array[...] = [[4], [3], [0], [0]]  # in place, after the program is built
        assert compiled().numpy().tobytes() == eager().numpy().tobytes(), k
        assert w.numpy().tobytes() == eager_w.numpy().tobytes(), k
    assert compiled.explain().startswith("built a program"), compiled.explain()
    index._array[0, 0] = 9
    with pytest.raises(RuntimeError, match="index 9 is out of bounds"):
        compiled()


def test_a_values_indices_result_is_a_program_and_comes_back_as_one():
    def make():
        w = nn.Parameter(Tensor(np.random.default_rng(0).standard_normal((4, 5))))
        opt = optim.SGD([w], lr=0.1)

        def step():
            opt.zero_grad()
            loss = w.square().sum()
            loss.backward()
            opt.step()
            return w.detach().max(dim=1)
        return step

    eager, compiled = make(), tl.compile(make())
    for k in range(CALLS):
        e, c = eager(), compiled()
        assert type(c) is type(e) and type(c.values._array) is np.ndarray, k
        assert c.values.numpy().tobytes() == e.values.numpy().tobytes(), k
        assert c.indices.numpy().tobytes() == e.indices.numpy().tobytes(), k
    assert compiled.explain().startswith("built a program"), compiled.explain()
