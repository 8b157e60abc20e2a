"""examples/char_transformer.py in smoke mode: it trains, resumes exactly (after a signal or a
kill -9), samples, refuses bad input in one line, and its model is causal. The run it shares
with char_lstm.py (examples/char_train.py) is tested at length in test_char_lstm.py."""

import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.recording import replayed_as_call
import test_char_lstm as lstm_tests
from test_char_lstm import assert_same_run, log_rows, snapshot, weights  # the run's checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "char_transformer.py")
TINY = ["--d-model", "16", "--heads", "2", "--layers", "2", "--seq-len", "12",
        "--batch-size", "6", "--eval-every", "3", "--length", "40", "--dropout", "0.1",
        "--lr", "0.01", "--seed", "3"]

sys.path.insert(0, os.path.join(ROOT, "examples"))
import char_transformer  # noqa: E402

small_text = lstm_tests.small_text  # the fixture: Shakespeare's first 12,000 characters


@pytest.fixture(scope="module")
def whole(small_text, tmp_path_factory) -> dict:
    """An uninterrupted in-process run of 9 steps: its result, and its --out."""
    out = tmp_path_factory.mktemp("whole")
    result = char_transformer.main(["--data", small_text, "--out", str(out), "--steps", "9",
                                    *TINY])
    return {**result, "out": out}


def test_trains_and_its_loss_drops(whole):
    rows = log_rows(whole["out"])
    assert whole["step"] == 9 and len(rows) == 9
    assert [r["val_loss"] != "" for r in rows] == [False, False, True] * 3
    assert whole["val_loss"] < float(rows[2]["val_loss"]) < float(rows[0]["train_loss"])
    assert whole["val_loss"] < math.log(58)  # below a uniform guess over the 58 characters
    assert whole["sample"].startswith("ROMEO:") and len(whole["sample"]) == len("ROMEO:") + 40
    assert tl.load(str(whole["out"] / "ckpt.npz"))["state"] is None  # nothing carried


def test_stopped_by_sigterm_then_resumed_equals_an_uninterrupted_run(small_text, whole,
                                                                     tmp_path, monkeypatch):
    calls, original_step = [], tl.optim.AdamW.step

    @replayed_as_call  # run at every step, also where the step is a tl.compile program
    def step_then_signal(self, closure=None):  # SIGTERM comes during the 4th step
        out = original_step(self, closure)
        calls.append(1)
        if len(calls) == 4:
            signal.raise_signal(signal.SIGTERM)
        return out

    monkeypatch.setattr(tl.optim.AdamW, "step", step_then_signal)
    with pytest.raises(SystemExit) as stopped:
        char_transformer.main(["--data", small_text, "--out", str(tmp_path), "--steps", "9",
                               *TINY])
    assert stopped.value.code == 143 and tl.load(str(tmp_path / "ckpt.npz"))["step"] == 4
    monkeypatch.setattr(tl.optim.AdamW, "step", original_step)

    resumed = char_transformer.main(["--out", str(tmp_path), "--resume", "--data", small_text,
                                     "--length", "40"])
    for key in ("step", "last_loss", "train_loss", "val_loss", "sample"):
        assert resumed[key] == whole[key], key
    assert_same_as_whole(tmp_path, whole)


def assert_same_as_whole(out, whole) -> None:
    assert_same_run(log_rows(out), log_rows(whole["out"]))
    for name, w in weights(whole["out"]).items():
        np.testing.assert_array_equal(weights(out)[name], w)


def test_killed_then_resumed_equals_an_uninterrupted_run(small_text, whole, tmp_path):
    args = [sys.executable, SCRIPT, "--data", small_text, "--out", str(tmp_path), "--steps", "9",
            *TINY]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("step 6:"):  # evaluated: its checkpoint is being written
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert tl.load(str(tmp_path / "ckpt.npz"))["step"] in (3, 6)
    done = subprocess.run([*args[:2], "--out", str(tmp_path), "--resume", "--data", small_text],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_same_as_whole(tmp_path, whole)


def test_sample_takes_the_model_from_the_checkpoint_and_crops_a_long_prompt(whole, capsys):
    prompt = "First Citizen:\nBefore we proceed"  # 30 characters: longer than the context, 12
    text = char_transformer.main(["--sample", "--prompt", prompt, "--out", str(whole["out"]),
                                  "--length", "25"])["sample"]
    assert text.startswith(prompt) and len(text) == len(prompt) + 25
    assert capsys.readouterr().out == text + "\n"


def test_the_model_is_causal():
    """Changing the character at position t changes no logits before t, and some after it."""
    tl.manual_seed(0)
    model = char_transformer.CharTransformer(20, d_model=16, heads=4, layers=2, dropout=0.0,
                                             context=10)
    x = np.random.default_rng(0).integers(0, 20, (10, 3))
    with tl.no_grad():
        before, state = model(Tensor(x))
        for t in (0, 4, 9):
            changed = x.copy()
            changed[t] = (changed[t] + 1) % 20
            after = model(Tensor(changed))[0].numpy()
            np.testing.assert_allclose(after[:t], before.numpy()[:t], rtol=0, atol=1e-6)
            assert np.abs(after[t:] - before.numpy()[t:]).max() > 1e-3
    assert state is None


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def places(small_text, whole, tmp_path_factory) -> dict:
    """Checkpoints a run cannot use, keyed by the names the table uses."""
    base = tmp_path_factory.mktemp("bad")
    good = tl.load(os.path.join(whole["out"], "ckpt.npz"))
    p = {"small": small_text, "done": str(whole["out"])}
    for name, content in {"ckpt_state": {**good, "state": [np.zeros((1, 6, 16), np.float32)] * 2},
                          "ckpt_heads": {**good, "config": {**good["config"], "heads": 3}},
                          "ckpt_misfit": {**good, "config": {**good["config"], "d_model": 24}}
                          }.items():
        p[name] = str(base / name)
        os.makedirs(p[name])
        tl.save(content, os.path.join(p[name], "ckpt.npz"))
    return p


FRESH = ["--out", "{done}", "--overwrite", "--data", "{small}"]
BAD = [  # (arguments, words the one line must hold)
    ([*FRESH, "--heads", "3", "--d-model", "16"], ["--d-model 16 --heads 3", "multiple"]),
    *[([*FRESH, f"--{name}", "0"], [f"--{name}"]) for name in ("d-model", "heads", "layers",
                                                              "seq-len")],
    ([*FRESH, "--dropout", "1"], ["--dropout"]),
    ([*FRESH, "--d-model", "100000"], ["--d-model 100000", "GiB"]),
    # small to train at batch 1, but validation's 64 streams of (16 heads, 1700, 1700) would not fit
    ([*FRESH, "--d-model", "64", "--heads", "16", "--seq-len", "1700", "--batch-size", "1"],
     ["--seq-len 1700", "GiB"]),
    ([*FRESH, "--hidden", "32"], ["--hidden"]),  # the LSTM's flag
    (["--out", "{done}", "--resume", "--data", "{small}", "--seq-len", "13"],
     ["--seq-len 13", "12"]),
    (["--out", "{done}", "--sample", "--d-model", "32"], ["--d-model 32", "16"]),
    (["--out", "{ckpt_state}", "--resume", "--data", "{small}"], ["holds a state"]),
    (["--out", "{ckpt_heads}", "--sample"], ["make no model", "divisible"]),
    (["--out", "{ckpt_misfit}", "--sample"], ["model does not fit"]),
]


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_every_bad_input_gets_one_line_and_exit_2(args, words, places, capsys):
    before = snapshot(places["done"])
    code = char_transformer.cli([a.format(**places) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("char_transformer.py: error: "), err
    for word in words:
        assert word in err, (word, err)
    assert snapshot(places["done"]) == before


def test_a_bad_flag_from_the_command_line():
    result = subprocess.run([sys.executable, SCRIPT, "--heads", "nan"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("char_transformer.py: error: ") and "--heads" in result.stderr
