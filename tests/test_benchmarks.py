"""The benchmark is fair: its hand-NumPy model and the project's train the same model identically.

Both are run in float64 from the same parameters on the same windows, through the exact code
the benchmark times (bench_lstm.HandRun / HandGatherRun / ProjectRun / CompiledRun); the
hand-written gradients are also checked against central differences, and tl.compile's program
against the eager step, bit for bit; then the scripts run end to end.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_lstm  # noqa: E402

V, H, T, B = 7, 5, 6, 3


def _runs(hand_run=bench_lstm.HandRun):
    return hand_run(V, H, np.float64, seed=0), bench_lstm.ProjectRun(V, H, np.float64, seed=0)


def _windows():
    return bench_lstm.make_windows(B, T, V, seed=0)


@pytest.mark.parametrize("hand_run", [bench_lstm.HandRun, bench_lstm.HandGatherRun])
def test_same_loss_gradients_and_state_float64(hand_run):
    hand, project = _runs(hand_run)
    params = dict(project.model.named_parameters())
    assert sorted(params) == sorted(hand.model.params)
    for name, p in params.items():
        assert p.dtype == np.float64
        np.testing.assert_array_equal(p.numpy(), hand.model.params[name])

    state = None  # the second window starts from the state the first one left
    for inputs, targets in _windows()[:2]:
        h0, c0 = (None, None) if state is None else state
        loss, grads, state = hand.model.loss_and_grads(inputs, targets, h0, c0)
        project.model.zero_grad()
        project_loss = project.loss(inputs, targets)
        project_loss.backward()
        np.testing.assert_allclose(project_loss.item(), loss, rtol=1e-12)
        for name, p in params.items():
            assert np.abs(grads[name]).max() > 1e-4, name  # a real gradient, not zeros
            np.testing.assert_allclose(p.grad.numpy(), grads[name], rtol=1e-10, atol=1e-13,
                                       err_msg=name)
        for got, want in zip(project.state, state):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gather", [False, True])
def test_hand_gradients_match_finite_differences_float64(gather):
    model = bench_lstm.HandLSTM(V, H, np.float64, seed=0, gather=gather)
    (inputs, targets), _ = _windows()[:2]
    rng = np.random.default_rng(1)
    h0, c0 = rng.normal(size=(2, 1, B, H))  # a carried state, as in the second window
    _, grads, _ = model.loss_and_grads(inputs, targets, h0, c0)
    grads = {name: g.copy() for name, g in grads.items()}  # the next call overwrites them
    eps = 1e-6
    for name, p in model.params.items():
        for index in zip(*(rng.integers(0, n, 4) for n in p.shape)):
            saved = p[index]
            p[index] = saved + eps
            loss_plus = model.loss_and_grads(inputs, targets, h0, c0)[0]
            p[index] = saved - eps
            loss_minus = model.loss_and_grads(inputs, targets, h0, c0)[0]
            p[index] = saved
            np.testing.assert_allclose(grads[name][index], (loss_plus - loss_minus) / (2 * eps),
                                       rtol=1e-6, atol=1e-9, err_msg=f"{name}{index}")


@pytest.mark.parametrize("hand_run", [bench_lstm.HandRun, bench_lstm.HandGatherRun])
def test_adam_steps_agree_float64(hand_run):
    hand, project = _runs(hand_run)
    windows = _windows()
    for k in range(3):
        np.testing.assert_allclose(project.step(*windows[k]), hand.step(*windows[k]),
                                   rtol=1e-12)
    for name, p in project.model.named_parameters():
        np.testing.assert_allclose(p.numpy(), hand.model.params[name], rtol=1e-10, atol=1e-13,
                                   err_msg=name)
        opt_state = project.optimizer.state[p]
        assert opt_state["step"] == hand.model.step == 3
        np.testing.assert_allclose(opt_state["exp_avg"], hand.model.exp_avg[name], rtol=1e-10,
                                   atol=1e-14, err_msg=name)
    initial = bench_lstm.HandLSTM(V, H, np.float64, seed=0).params
    assert all(not np.allclose(initial[n], hand.model.params[n]) for n in initial)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_run_equals_eager_bitwise(dtype):
    project = bench_lstm.ProjectRun(V, H, dtype, seed=0)
    compiled = bench_lstm.CompiledRun(V, H, dtype, seed=0)
    windows = _windows()
    for k in range(bench_lstm.COMPILE_CALLS + 3):  # eager, traced, traced, then the program
        assert compiled.step(*windows[k]) == project.step(*windows[k]), k
    assert compiled.train_step.explain().startswith("built a program")
    for (name, p), (_, q) in zip(project.model.named_parameters(),
                                 compiled.model.named_parameters()):
        np.testing.assert_array_equal(q.numpy(), p.numpy(), err_msg=name)
    for got, want in zip(compiled.state, project.state):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_bench_lstm_quick_json_runs():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "bench_lstm.py"), "--config", "tiny",
                          "--quick", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (res,) = report["results"]
    assert (res["config"], res["B"], res["T"], res["H"], res["V"]) == ("tiny", 1, 25, 100, 65)
    assert res["flops_per_token"] == 3 * (2 * (65 + 100) * 400 + 2 * 100 * 65)
    impls = res["impls"]
    project, compiled = impls["project"], impls["compiled"]
    hand, gather = impls["hand"], impls["hand_gather"]
    for other in (hand, gather):
        np.testing.assert_allclose(project["loss0"], other["loss0"], rtol=1e-5)  # float32
    np.testing.assert_allclose(project["loss0"], np.log(65), rtol=0.05)  # near-uniform start
    assert compiled["loss0"] == project["loss0"] and res["compiled_losses_equal_eager"] is True
    for impl in (project, compiled, hand, gather):
        assert impl["tokens_per_s"] > 0
        assert impl["peak_rss_mib"] > report["baseline_rss_mib"] > 0
    assert res["ratio"] > 0 and res["ratio_gather"] > 0
    assert res["compiled_ratio"] > 0 and res["compiled_vs_eager"] > 0
    assert res["compiled_rss_ratio"] > 0


def test_bench_ops_runs():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "bench_ops.py"), "--chain", "3",
                          "--repeats", "2", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["ops"]
    assert {r["op"].split()[0] for r in rows} >= {"matmul", "add", "mul", "sigmoid", "tanh",
                                                    "chunk(4,", "unbind(0)", "addcmul"}
    for r in rows:
        assert r["numpy_us"] > 0 and r["engine_us"] > 0
