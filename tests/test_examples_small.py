"""The small examples (hamlet, next_word, hello, custom_layer) run in smoke mode, each checked
against the text or task it was given, not against its own output."""

import os
import re
import subprocess
import sys

import pytest

from tinygrad_lstm.autograd import GradcheckError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

sys.path.insert(0, EXAMPLES)
import custom_layer  # noqa: E402
import hamlet  # noqa: E402
import hello  # noqa: E402
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
