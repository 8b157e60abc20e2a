"""The small examples (hamlet, next_word, hello, custom_layer, higher_order) run in smoke
mode, each checked against the text or task it was given, not against its own output."""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import GradcheckError, gradcheck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

sys.path.insert(0, EXAMPLES)
import custom_layer  # noqa: E402
import hamlet  # noqa: E402
import hello  # noqa: E402
import higher_order  # noqa: E402
import next_word  # noqa: E402


def test_hamlet_learns_the_text_by_heart_and_recites_it():
    with open(os.path.join(EXAMPLES, "data", "hamlet_soliloquy.txt"), encoding="utf-8") as f:
        truth = f.read().strip().lower()[:150]
    out = hamlet.main(["--chars", "150", "--hidden", "32", "--quiet"])
    assert out["text"] == truth
    assert out["accuracy"] == 1.0
    assert out["generated"] == truth  # greedy, from the first character alone


@pytest.mark.parametrize("word", ["hello", "abba"])
def test_hello_both_cells_predict_every_next_character(word):
    # "abba": b is followed by b then a, and a ends the word: memory is needed as in "hello"
    out = hello.main(["--word", word, "--quiet"])
    assert set(out) == {"lstm", "rnn"}
    for result in out.values():
        assert result["predicted"] == word[1:]
        assert result["losses"][-1] < 0.05 < result["losses"][0]


def test_next_word_predicts_words_of_its_paragraph():
    out = next_word.main(["--steps", "40", "--seq-len", "6", "--quiet"])
    model = out["model"]
    known = set(re.findall(r"\w+|[^\w\s]", next_word.PARAGRAPH.lower()))
    words = model.predict("the keeper of", n_words=7)
    assert len(words) == 7 and set(words) <= known
    # "fog" occurs once in the paragraph, so its continuation there is the only right answer
    assert model.predict("When the fog", n_words=5) == ["came", "in", "from", "the", "sea"]
    assert out["losses"][-1] < 0.2 * out["losses"][0]
    with pytest.raises(ValueError, match="unknown word 'zebra'"):
        model.predict("the zebra ran")
    with pytest.raises(ValueError, match="no words"):
        model.predict("  ")


def test_next_word_unknown_word_on_the_command_line_exits_2_with_one_line():
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "next_word.py"), "--prompt", "the zebra ran"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown word 'zebra'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_custom_op_and_cell_pass_gradcheck_and_learn():
    out = custom_layer.main(["--quiet"])
    assert out["gradcheck"] == {"hard_sigmoid": True, "peephole_cell": True}
    losses = out["losses"]
    assert losses[0] > 1.2  # about log(4): chance level at the start
    assert sum(losses[-20:]) / 20 < 0.1
    assert out["accuracy"] > 0.95  # on fresh sequences; chance is 25%


def test_custom_gradcheck_catches_a_wrong_backward(monkeypatch):
    def wrong_backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ((x > -3) & (x < 3)) / 5  # slope 1/5 instead of 1/6

    monkeypatch.setattr(custom_layer.HardSigmoid, "backward", staticmethod(wrong_backward))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        custom_layer.check_gradients()


def test_higher_order_derivatives_hvp_and_gradient_penalty(tmp_path, capsys):
    out = higher_order.main(["--out", str(tmp_path), "--points", "41", "--steps", "12"])
    t = np.tanh(out["x"])
    s = 1 - t * t
    np.testing.assert_allclose(out["curves"][1], s, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out["curves"][2], -2 * t * s, rtol=1e-12, atol=1e-14)
    assert len(out["curves"]) == 5 and out["tanh_error"] < 1e-12
    if importlib.util.find_spec("matplotlib") is None:  # an optional extra: not in CI's
        assert out["png"] is None
    else:
        with open(out["png"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert out["max_abs_diff"] < 1e-7
    assert all(np.isfinite(out["penalties"])) and out["penalties"][-1] < out["penalties"][0]
    assert "gradient penalty" in capsys.readouterr().out


def test_higher_order_without_matplotlib_prints_values(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    out = higher_order.main(["--out", str(tmp_path), "--points", "21", "--steps", "1"])
    assert out["png"] is None and not os.listdir(tmp_path)
    assert "matplotlib is not installed" in capsys.readouterr().out


def test_higher_order_gradient_penalty_gradient_matches_finite_differences():
    """The penalty's gradient flows through a recorded gradient of Linear, SiLU and Tanh."""
    tl.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 3), nn.SiLU(), nn.Linear(3, 3), nn.Tanh(),
                           nn.Linear(3, 1)).double()
    rng = np.random.default_rng(0)
    real, fake = Tensor(rng.standard_normal((4, 2))), Tensor(rng.standard_normal((4, 2)))
    weight = critic[0].weight

    def penalty(w):
        critic[0].weight = w
        tl.manual_seed(1)  # the same interpolation points at every call
        return higher_order.gradient_penalty(critic, real, fake)

    try:
        assert gradcheck(penalty, (Tensor(weight.numpy().copy(), requires_grad=True),))
    finally:
        critic[0].weight = weight


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps: must be at least 1"),
    (["--points", "x"], "--points: expected an integer"),
    (["--lr", "nan"], "--lr: must be above 0"),  # trained NaNs and exited 0
    (["--seed", "-1"], "--seed: must be at least 0"),  # was a traceback
    (["--gp-lambda", "inf"], "--gp-lambda: must be at least 0"),
    (["--out", "/dev/null/x"], "--out /dev/null/x: Not a directory"),
])
def test_higher_order_bad_flag_exits_2_with_one_line(flags, message):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "higher_order.py"), *flags],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_see_the_code_prints_bptt_and_its_gradient_matches_finite_differences():
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "see_the_code.py"), "--steps",
                          "3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    code = out.stdout.split("\n# built")[0]
    compile(code, "<printed program>", "exec")  # the printed program is valid Python
    assert code.startswith("from numpy import (add, ")
    assert "\n\ndef step(xs_0, xs_1, xs_2, target):\n" in code
    assert re.search(r"^    dot\(", code, re.M) and "Tensor" not in code
    assert "# the forward: lstmcell call 0 -> lstmcell call 1 -> lstmcell call 2" in out.stdout
    assert "# the backward: lstmcell call 2 -> lstmcell call 1 -> lstmcell call 0" in out.stdout
    # 1 - tanh**2 and s * (1 - s) need only forward values: computed once for the three calls
    once = re.search(r"# once for all calls: (.*)", out.stdout).group(1).split("; ")
    assert "lstmcell calls 0-2, TanhBackward" in once
    assert "lstmcell calls 0-2, LSTMGatesBackward" in once
    error = float(re.search(r"max abs difference (\S+)", out.stdout).group(1))
    assert error < 1e-7


def test_see_the_code_refuses_a_bad_flag_in_one_line():
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "see_the_code.py"), "--steps",
                          "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--steps must be" in out.stderr
