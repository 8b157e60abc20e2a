"""The main example in smoke mode: training, resuming, sampling, and every bad input."""

import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "char_lstm.py")
SHAKESPEARE = os.path.join(ROOT, "examples", "data", "tinyshakespeare.txt")
TINY = ["--hidden", "24", "--embed", "8", "--seq-len", "12", "--batch-size", "6",
        "--eval-every", "3", "--length", "40", "--dropout", "0.1", "--seed", "3"]

sys.path.insert(0, os.path.join(ROOT, "examples"))
import char_lstm  # noqa: E402


@pytest.fixture(scope="module")
def small_text(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("data") / "small.txt"
    with open(SHAKESPEARE, encoding="utf-8") as f:
        path.write_text(f.read(12_000), encoding="utf-8")
    return str(path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=120)


def test_trains_and_writes_its_outputs(small_text, tmp_path):
    out = char_lstm.main(["--data", small_text, "--out", str(tmp_path), "--steps", "6", *TINY])
    assert out["step"] == 6
    assert 0 < out["val_loss"] < 4.2  # log(vocab size) is about 3.9: it learned something
    assert out["sample"].startswith("ROMEO:") and len(out["sample"]) == len("ROMEO:") + 40
    with pytest.raises(char_lstm.UsageError, match="--prompt"):
        char_lstm.main(["--data", small_text, "--out", str(tmp_path), "--prompt", "Zz", *TINY])
    for name in ("ckpt.npz", "loss.csv"):
        assert (tmp_path / name).exists()
    assert any((tmp_path / name).exists() for name in ("graph.svg", "graph.svg.dot"))
    rows = (tmp_path / "loss.csv").read_text().splitlines()
    assert rows[0].split(",") == ["step", "tokens", "seconds", "lr", "train_loss", "val_loss"]
    assert len(rows) == 1 + 6


def test_resume_continues_exactly_like_an_uninterrupted_run(small_text, tmp_path, monkeypatch):
    whole = char_lstm.main(["--data", small_text, "--out", str(tmp_path / "a"), "--steps", "6",
                            *TINY])

    # interrupt the second run with Ctrl-C during its third optimizer step
    calls = []
    original_step = char_lstm.optim.AdamW.step

    def step_then_interrupt(self, closure=None):
        out = original_step(self, closure)
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)
        return out

    monkeypatch.setattr(char_lstm.optim.AdamW, "step", step_then_interrupt)
    with pytest.raises(SystemExit) as stopped:
        char_lstm.main(["--data", small_text, "--out", str(tmp_path / "b"), "--steps", "6",
                        *TINY])
    assert stopped.value.code == 130
    monkeypatch.setattr(char_lstm.optim.AdamW, "step", original_step)

    resumed = char_lstm.main(["--data", small_text, "--out", str(tmp_path / "b"), "--steps", "6",
                              "--resume", *TINY])
    assert resumed["step"] == 6
    assert resumed["last_loss"] == pytest.approx(whole["last_loss"], rel=1e-6)
    assert resumed["val_loss"] == pytest.approx(whole["val_loss"], rel=1e-6)


def test_sample_only_from_a_checkpoint(small_text, tmp_path):
    char_lstm.main(["--data", small_text, "--out", str(tmp_path), "--steps", "3", *TINY])
    result = run_cli("--sample", "--prompt", "First", "--out", str(tmp_path), *TINY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("First") and len(result.stdout.strip()) >= len("First") + 20


def assert_usage_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("char_lstm.py: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_bad_inputs_give_one_line_and_exit_code_2(small_text, tmp_path):
    missing = tmp_path / "nope.txt"
    assert_usage_error(run_cli("--data", str(missing), "--out", str(tmp_path)), "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_usage_error(run_cli("--data", str(empty), "--out", str(tmp_path)), "empty")
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"abc\x00\xff\xfe" * 100)
    assert_usage_error(run_cli("--data", str(binary), "--out", str(tmp_path)), "binary.bin")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    assert_usage_error(run_cli("--data", str(latin1), "--out", str(tmp_path)), "UTF-8")
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be.")
    assert_usage_error(run_cli("--data", str(short), "--out", str(tmp_path)), "too few")


def test_bad_checkpoint_use_gives_one_line_and_exit_code_2(small_text, tmp_path):
    assert_usage_error(run_cli("--sample", "--out", str(tmp_path / "none")), "no checkpoint")
    char_lstm.main(["--data", small_text, "--out", str(tmp_path), "--steps", "3", *TINY])
    assert_usage_error(run_cli("--sample", "--prompt", "\u00e9t\u00e9", "--out", str(tmp_path),
                               *TINY), "'\u00e9'")
    other_shape = [a if a != "24" else "32" for a in TINY]  # --hidden 32
    assert_usage_error(run_cli("--sample", "--out", str(tmp_path), *other_shape), "hidden")
    other_text = tmp_path / "other.txt"
    other_text.write_text("0123456789 " * 400)
    assert_usage_error(run_cli("--data", str(other_text), "--resume", "--out", str(tmp_path),
                               *TINY), "vocabulary")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "ckpt.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    assert_usage_error(run_cli("--sample", "--out", str(corrupt), *TINY), "ckpt.npz")
