"""The main example in smoke mode: training, resuming, sampling, kills, and every bad input."""

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.recording import replayed_as_call
from tinygrad_lstm.runs import DirectoryLock, read_csv_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "char_lstm.py")
SHAKESPEARE = os.path.join(ROOT, "examples", "data", "tinyshakespeare.txt")
TINY = ["--hidden", "24", "--embed", "8", "--seq-len", "12", "--batch-size", "6",
        "--eval-every", "3", "--length", "40", "--dropout", "0.1", "--seed", "3"]

sys.path.insert(0, os.path.join(ROOT, "examples"))
import char_lstm  # noqa: E402

COLUMNS = char_lstm.LOG_COLUMNS
try:
    import matplotlib  # noqa: F401

    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False


@pytest.fixture(scope="module")
def small_text(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("data") / "small.txt"
    with open(SHAKESPEARE, encoding="utf-8") as f:
        path.write_text(f.read(12_000), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def whole(small_text, tmp_path_factory) -> dict:
    """An uninterrupted in-process run of 6 steps: its result, and its --out."""
    out = tmp_path_factory.mktemp("whole")
    result = char_lstm.main(["--data", small_text, "--out", str(out), "--steps", "6", *TINY])
    return {**result, "out": out}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=120)


def snapshot(directory) -> dict:
    """Every file under `directory` with its bytes: to see that nothing changed."""
    files = {}
    for parent, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, directory)] = f.read()
    return files


def log_rows(out) -> list[dict]:
    """loss.csv's rows; asserts the file is whole: its header, then complete lines only."""
    text = (out / "loss.csv").read_text()
    assert text.splitlines()[0].split(",") == COLUMNS
    rows = read_csv_rows(str(out / "loss.csv"), COLUMNS)
    assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))
    return rows


def assert_same_run(rows: list[dict], reference: list[dict]) -> None:
    """The rows of two runs agree, but for the seconds and for evaluations a signal added."""
    assert len(rows) == len(reference)
    for row, ref in zip(rows, reference):
        for key in COLUMNS:
            if key != "seconds" and (key != "val_loss" or ref["val_loss"]):
                assert row[key] == ref[key], (row, ref)


def weights(out) -> dict:
    return {k: v.numpy() for k, v in tl.load(str(out / "ckpt.npz"))["model"].items()}


# ---------------------------------------------------------------- runs that go well


def test_trains_and_writes_its_outputs(whole):
    out = whole["out"]
    assert whole["step"] == 6
    assert 0 < whole["val_loss"] < 4.2  # log(vocab size) is about 4.1: it learned something
    assert whole["sample"].startswith("ROMEO:") and len(whole["sample"]) == len("ROMEO:") + 40
    assert (out / "ckpt.npz").exists()
    assert (out / "graph.svg").exists() or (out / "graph.svg.dot").exists()
    assert (out / "loss.png").exists() == HAVE_MATPLOTLIB
    rows = log_rows(out)
    assert len(rows) == 6 and [r["val_loss"] != "" for r in rows] == [False, False, True] * 2
    assert float(rows[-1]["val_loss"]) == pytest.approx(whole["val_loss"], abs=1e-4)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopped_by_a_signal_then_resumed_equals_an_uninterrupted_run(
        signum, code, small_text, whole, tmp_path, monkeypatch):
    calls = []
    original_step = char_lstm.optim.AdamW.step

    # a call of the compiled step's program, as AdamW.step is: run at every step, also where
    # the step is a program (from the 4th), which runs none of the Python code around it
    @replayed_as_call
    def step_then_signal(self, closure=None):  # the signal comes during the 4th step
        out = original_step(self, closure)
        calls.append(1)
        if len(calls) == 4:
            signal.raise_signal(signum)
        return out

    monkeypatch.setattr(char_lstm.optim.AdamW, "step", step_then_signal)
    args = ["--data", small_text, "--out", str(tmp_path), "--steps", "6", *TINY]
    with pytest.raises(SystemExit) as stopped:
        char_lstm.main(args)
    assert stopped.value.code == code
    assert tl.load(str(tmp_path / "ckpt.npz"))["step"] == 4
    assert len(log_rows(tmp_path)) == 4  # the rows reach the checkpoint
    monkeypatch.setattr(char_lstm.optim.AdamW, "step", original_step)

    resumed = char_lstm.main(["--out", str(tmp_path), "--resume", "--data", small_text,
                              "--length", "40"])  # sampling flags are not the run's
    assert resumed["step"] == 6
    for key in ("last_loss", "train_loss", "val_loss", "sample"):  # smoothed loss too
        assert resumed[key] == whole[key], key
    for name, w in weights(whole["out"]).items():
        np.testing.assert_array_equal(weights(tmp_path)[name], w)
    assert_same_run(log_rows(tmp_path), log_rows(whole["out"]))
    assert log_rows(tmp_path)[3]["val_loss"]  # the evaluation the signal added at step 4


def test_a_finished_run_says_so_and_a_larger_budget_extends_it(small_text, whole, tmp_path,
                                                               capsys):
    out = tmp_path / "run"
    shutil.copytree(whole["out"], out)
    before = snapshot(out)
    assert char_lstm.main(["--out", str(out), "--resume", "--data", small_text]) == \
        {"step": 6, "finished": True}
    said = capsys.readouterr().out
    assert "finished: 6 steps" in said and "--steps above 6" in said
    assert snapshot(out) == before

    more = char_lstm.main(["--out", str(out), "--resume", "--data", small_text, "--steps", "8"])
    assert more["step"] == 8
    assert "budget --steps 8 (was --steps 6)" in capsys.readouterr().out
    assert len(log_rows(out)) == 8 and tl.load(str(out / "ckpt.npz"))["budget"]["steps"] == 8


def test_a_time_budget_counts_the_whole_run(small_text, tmp_path, capsys):
    args = ["--data", small_text, "--out", str(tmp_path), *TINY]
    first = char_lstm.main([*args, "--minutes", "0.0001"])  # one step is over budget
    assert char_lstm.main([*args, "--resume"])["finished"]
    assert "--minutes above" in capsys.readouterr().out
    spent = tl.load(str(tmp_path / "ckpt.npz"))["elapsed"]
    more = char_lstm.main([*args, "--resume", "--minutes", str(spent / 60 + 0.0001)])
    assert more["step"] > first["step"]
    assert "(was --minutes 0.0001)" in capsys.readouterr().out


def test_sample_takes_the_model_from_the_checkpoint(whole):
    result = run_cli("--sample", "--prompt", "First", "--out", str(whole["out"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("First") and len(result.stdout.strip()) >= len("First") + 20


def test_overwrite_starts_again(small_text, whole, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(whole["out"], out)
    (out / "notes.txt").write_text("mine")
    again = char_lstm.main(["--data", small_text, "--out", str(out), "--steps", "3",
                            "--overwrite", *TINY])
    assert again["step"] == 3 and len(log_rows(out)) == 3
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files are replaced


def test_off_a_terminal_progress_is_logged_from_the_start(small_text, tmp_path):
    result = run_cli("--data", small_text, "--out", str(tmp_path), "--steps", "2", *TINY)
    assert result.returncode == 0, result.stderr
    assert "train: step 1/2 (50%)" in result.stdout
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- the step under tl.compile


@pytest.fixture(scope="module")
def compiled_and_eager(tmp_path_factory) -> dict:
    """One run of 22 steps, over 3 epochs of 7 windows (the last 2 characters long), with the
    training step compiled (the default) and with --no-compile: result, --out and stdout."""
    base = tmp_path_factory.mktemp("compile")
    with open(SHAKESPEARE, encoding="utf-8") as f:
        (base / "tiny.txt").write_text(f.read(500), encoding="utf-8")
    runs = {}
    for name, flags in (("compiled", []), ("eager", ["--no-compile"])):
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            result = char_lstm.main(["--data", str(base / "tiny.txt"), "--out", str(base / name),
                                     "--steps", "22", *TINY, *flags])
        runs[name] = {**result, "out": base / name, "said": said.getvalue()}
    return runs


def test_a_compiled_step_trains_exactly_as_an_eager_one(compiled_and_eager):
    compiled, eager = compiled_and_eager["compiled"], compiled_and_eager["eager"]
    assert_same_run(log_rows(compiled["out"]), log_rows(eager["out"]))  # to the last digit
    for name, w in weights(eager["out"]).items():
        np.testing.assert_array_equal(weights(compiled["out"])[name], w)
    assert compiled["sample"] == eager["sample"]


def test_the_run_says_once_what_tl_compile_did_and_keeps_one_input_signature(
        compiled_and_eager):
    compiled, eager = compiled_and_eager["compiled"], compiled_and_eager["eager"]
    assert compiled["said"].count("training step: tl.compile ") == 1
    # explain() has one line per signature that was traced: a shorter last window or a reset
    # state of another kind would add one (their 3 or 4 calls are enough to trace them)
    assert compiled["compile"].count("\n") == 0, compiled["compile"]
    assert eager["compile"] is None and "tl.compile" not in eager["said"]


def test_the_step_becomes_a_program(compiled_and_eager):
    assert compiled_and_eager["compiled"]["compile"].startswith("built a program"), \
        compiled_and_eager["compiled"]["compile"]


# ---------------------------------------------------------------- a run that diverges


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint(
        small_text, tmp_path, monkeypatch, capsys):
    seen, original_step = {"calls": 0}, char_lstm.optim.AdamW.step

    @replayed_as_call  # run at every step, as in the test above
    def nan_weights_after_step_4(self, closure=None):
        out = original_step(self, closure)
        seen["calls"] += 1
        if seen["calls"] == 4:  # so the loss of step 5 is NaN
            seen["files"] = snapshot(tmp_path)  # what the run had written before
            with tl.no_grad():
                for p in self.param_groups[0]["params"]:
                    p.fill_(float("nan"))
        return out

    monkeypatch.setattr(char_lstm.optim.AdamW, "step", nan_weights_after_step_4)
    code = char_lstm.cli(["--data", small_text, "--out", str(tmp_path), "--steps", "9", *TINY])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "stopped at step 5: the loss is nan" in err, err
    assert "checkpoint of step 3 is kept" in err
    assert snapshot(tmp_path) == seen["files"]
    assert tl.load(str(tmp_path / "ckpt.npz"))["step"] == 3 and len(log_rows(tmp_path)) == 3


# ---------------------------------------------------------------- kill -9 at any moment

# Runs the script as `python char_lstm.py ARGS` would, but stops in the N-th checkpoint write
# (after the data, before the rename) or halfway through the N-th write of loss.csv rows, says
# PAUSED and waits there to be killed.
DRIVER = r"""
import os, runpy, sys, time
from tinygrad_lstm import runs, serialization

what, nth = os.environ["PAUSE_IN"].split(":")
count = {"ckpt": 0, "csv": 0}

def pause_here(kind):
    count[kind] += 1
    if kind == what and count[kind] == int(nth):
        print("PAUSED", flush=True)
        time.sleep(600)

real_atomic_write, real_commit = serialization.atomic_write, runs.CSVLog.commit

def atomic_write(path, write):
    def write_then_pause(f):
        write(f)
        if path.endswith("ckpt.npz"):
            f.flush()
            pause_here("ckpt")
    real_atomic_write(path, write_then_pause)

def commit(self):
    text = "".join(line + "\n" for line in self.pending)
    if what == "csv" and count["csv"] + 1 == int(nth):
        with open(self.path, "a") as f:
            f.write(text[: len(text) // 2])  # a torn row at the end
    pause_here("csv")
    real_commit(self)

serialization.atomic_write, runs.CSVLog.commit = atomic_write, commit
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))  # as python puts the script's folder first
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def kill_when(args: list[str], marker: str, pause_in: str = "none:0",
              signum: int = signal.SIGKILL) -> str:
    """Start the script, send it `signum` as soon as it prints a line starting with `marker`,
    and return what it printed (and its exit code, after a line of its own)."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, SCRIPT, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PAUSE_IN": pause_in, "OPENBLAS_NUM_THREADS": "1"})
    printed = []
    try:
        for line in proc.stdout:
            printed.append(line)
            if line.startswith(marker):
                proc.send_signal(signum)
                break
        printed += list(proc.stdout)  # what it says on its way out, if it can
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.stdout.close()
    assert any(line.startswith(marker) for line in printed), "".join(printed)
    return "".join(printed) + f"exit code {proc.returncode}\n"


def test_killed_at_any_moment_resume_finishes_like_an_uninterrupted_run(small_text, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "killed"
    args = ["--data", small_text, "--steps", "12", *TINY]
    done = run_cli(*args, "--out", str(reference))
    assert done.returncode == 0, done.stderr

    # 1. killed inside the second checkpoint write: the temp file stays, the step-3 one counts
    printed = kill_when([*args, "--out", str(out)], "PAUSED", "ckpt:2")
    assert "train: step 1/12" in printed  # progress from the start, off a terminal
    assert [n for n in os.listdir(out) if n.endswith(".tmp")]
    assert tl.load(str(out / "ckpt.npz"))["step"] == 3
    assert len(log_rows(out)) == 6  # rows are written before their checkpoint

    # 2. resumed, then killed in the middle of writing rows of loss.csv
    printed = kill_when([*args, "--out", str(out), "--resume"], "PAUSED", "csv:2")
    assert "removed" in printed and ".tmp" in printed
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    assert not (out / "loss.csv").read_text().endswith("\n")  # torn, yet readable:
    assert len(log_rows(out)) >= 6 and tl.load(str(out / "ckpt.npz"))["step"] == 6

    # 3. resumed, then killed right after an evaluation, during or around its checkpoint
    kill_when([*args, "--out", str(out), "--resume"], "step 9:")
    assert len(log_rows(out)) >= tl.load(str(out / "ckpt.npz"))["step"] >= 6

    # 4. resumed, then stopped by SIGTERM: it finishes its step and writes a checkpoint
    printed = kill_when([*args, "--out", str(out), "--resume"], "train: step",
                        signum=signal.SIGTERM)
    assert "stopped by SIGTERM" in printed and printed.endswith("exit code 143\n")
    assert len(log_rows(out)) == tl.load(str(out / "ckpt.npz"))["step"]

    # 5. resumed to the end
    done = run_cli(*args, "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert_same_run(log_rows(out), log_rows(reference))
    assert len(log_rows(out)) == 12
    for name, w in weights(reference).items():
        np.testing.assert_array_equal(weights(out)[name], w)
    if HAVE_MATPLOTLIB:
        assert (out / "loss.png").stat().st_size > 0
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def places(small_text, whole, tmp_path_factory) -> dict:
    """Files and directories for the bad-input table, keyed by the names the table uses."""
    base = tmp_path_factory.mktemp("bad")
    data = {"missing": "", "empty": b"", "binary": b"abc\x00\xff\xfe" * 100,
            "latin1": "caf\xe9 ".encode("latin-1") * 100, "short": b"To be, or not to be.",
            "one": b"a", "other": b"0123456789 " * 400}
    p = {"small": small_text, "done": str(whole["out"]), "base": str(base)}
    for name, content in data.items():
        p[name] = str(base / f"{name}.txt")
        if name != "missing":
            (base / f"{name}.txt").write_bytes(content)
    p["file"] = p["short"]
    p["below_file"] = os.path.join(p["short"], "out")
    p["dir"] = str(base)
    p["no_ckpt"] = str(base / "no_ckpt")
    os.makedirs(p["no_ckpt"])
    (base / "no_ckpt" / "loss.csv").write_text(",".join(COLUMNS) + "\n")
    good = tl.load(os.path.join(p["done"], "ckpt.npz"))
    broken = {"ckpt_dir": None, "ckpt_list": [1, 2, 3],
              "ckpt_no_vocab": {k: v for k, v in good.items() if k != "vocab"},
              "ckpt_bad_vocab": {**good, "vocab": {"type": "WordVocab"}},
              "ckpt_misfit": {**good, "config": {**good["config"], "hidden": 30}},
              "ckpt_corrupt": b"PK\x03\x04 definitely not a zip",
              "ckpt_bad_config": {**good, "config": {**good["config"], "hidden": -5}},
              "ckpt_bad_budget": {**good, "budget": {"steps": 0, "minutes": None}},
              "ckpt_bad_step": {**good, "step": "x"},
              "ckpt_bad_state": {**good, "state": [np.zeros((1, 6, 5), np.float32)] * 2}}
    for name, content in broken.items():
        p[name] = str(base / name)
        os.makedirs(os.path.join(p[name], "ckpt.npz") if content is None else p[name])
        path = os.path.join(p[name], "ckpt.npz")
        if isinstance(content, bytes):
            with open(path, "wb") as f:
                f.write(content)
        elif content is not None:
            tl.save(content, path)
    return p


RESUME = ["--resume", "--data", "{small}"]
FRESH = ["--out", "{done}", "--overwrite", "--data", "{small}"]  # errors must come first
BAD = [  # (arguments, words the one line must hold)
    *[([*FRESH, "--minutes", v], ["--minutes"]) for v in ("nan", "inf", "-inf", "0", "-1")],
    *[([*FRESH, "--lr", v], ["--lr"]) for v in ("nan", "inf", "1e300", "-1", "0")],
    *[([*FRESH, "--clip", v], ["--clip"]) for v in ("nan", "-1", "0", "inf")],
    *[([*FRESH, "--weight-decay", v], ["--weight-decay"]) for v in ("nan", "-1", "2")],
    *[([*FRESH, "--dropout", v], ["--dropout"]) for v in ("nan", "1", "-0.1")],
    *[([*FRESH, "--temperature", v], ["--temperature"]) for v in ("nan", "0", "inf", "1e-30")],
    *[([*FRESH, "--steps", v], ["--steps"]) for v in ("0", "-5", "1.5", "nan")],
    *[([*FRESH, f"--{name}", "0"], [f"--{name}"]) for name in (
        "hidden", "layers", "embed", "seq-len", "batch-size", "eval-every", "length")],
    ([*FRESH, "--seed", "-1"], ["--seed"]),
    ([*FRESH, "--seed", str(2**64)], ["--seed"]),
    ([*FRESH, "--top-k", "-1"], ["--top-k"]),
    ([*FRESH, "--length", "10000000"], ["--length"]),
    ([*FRESH, "--hidden", "1e5"], ["--hidden", "integer"]),
    ([*FRESH, "--hidden", "100000"], ["--hidden 100000", "GiB"]),
    ([*FRESH, "--layers", "100000"], ["--layers 100000", "GiB"]),
    ([*FRESH, "--seq-len", "10000000"], ["--seq-len 10000000", "GiB"]),
    ([*FRESH, "--batch-size", str(10**30)], ["GiB"]),
    ([*FRESH, "--hidden", "4096", "--batch-size", "512"], ["--hidden 4096"]),  # flops or GiB
    ([*FRESH, "--steps", "3", "--minutes", "1"], ["--steps", "--minutes"]),
    ([*FRESH, "--resume"], ["--resume", "--overwrite"]),
    ([*FRESH, "--bogus"], ["--bogus"]),
    ([*FRESH, "--hidden"], ["--hidden"]),
    ([*FRESH, "--prompt", "Zz"], ["--prompt"]),
    ([*FRESH[:-1], "{missing}"], ["missing.txt", "No such file"]),
    ([*FRESH[:-1], "{empty}"], ["empty"]),
    ([*FRESH[:-1], "{binary}"], ["binary.txt"]),
    ([*FRESH[:-1], "{latin1}"], ["UTF-8"]),
    ([*FRESH[:-1], "{short}"], ["too few"]),
    ([*FRESH[:-1], "{one}"], ["too few"]),
    ([*FRESH[:-1], "{dir}"], ["not a regular file"]),
    ([*FRESH[:-1], "/dev/zero"], ["/dev/zero", "not a regular file"]),
    (["--out", "{done}", "--data", "{small}"], ["not empty", "--resume", "--overwrite"]),
    (["--out", "{file}", "--data", "{small}"], ["not a directory"]),
    (["--out", "{below_file}", "--data", "{small}"], ["Not a directory"]),
    (["--out", "/proc/char_lstm_test", "--data", "{small}"], ["/proc/char_lstm_test"]),
    (["--out", "/proc", "--overwrite", "--data", "{small}"], ["--out /proc"]),
    (["--out", "{no_ckpt}", *RESUME], ["no checkpoint", "--overwrite"]),
    (["--out", "{no_ckpt}", "--sample"], ["no checkpoint"]),
    (["--out", "{ckpt_dir}", *RESUME], ["ckpt.npz", "not a regular file"]),
    (["--out", "{ckpt_dir}", "--sample"], ["not a regular file"]),
    (["--out", "{done}", "--sample", "--prompt", "x" * 10_001], ["--prompt", "10,000"]),
    (["--out", "{ckpt_list}", *RESUME], ["not a char_lstm.py checkpoint"]),
    (["--out", "{ckpt_no_vocab}", "--sample"], ["lacks vocab"]),
    (["--out", "{ckpt_bad_vocab}", *RESUME], ["CharVocab"]),
    (["--out", "{ckpt_misfit}", "--sample"], ["model does not fit"]),
    (["--out", "{ckpt_corrupt}", "--sample"], ["ckpt.npz", "not a valid checkpoint"]),
    (["--out", "{ckpt_bad_config}", "--sample"], ["checkpoint's --hidden -5 is invalid"]),
    (["--out", "{ckpt_bad_budget}", *RESUME], ["checkpoint's --steps 0 is invalid"]),
    (["--out", "{ckpt_bad_step}", *RESUME], ["its step 'x' is invalid"]),
    (["--out", "{ckpt_bad_state}", *RESUME], ["LSTM state is not of shape (1, 6, 24)"]),
    (["--out", "{done}", "--resume", "--data", "{other}"], ["different vocabulary"]),
    (["--out", "{done}", *RESUME, "--lr", "0.01"], ["--lr 0.01", "0.003"]),
    (["--out", "{done}", *RESUME, "--seq-len", "13"], ["--seq-len 13", "12"]),
    (["--out", "{done}", "--sample", "--hidden", "32"], ["--hidden 32", "24"]),
    (["--out", "{done}", "--sample", "--prompt", "\u00e9t\u00e9"], ["'\u00e9'"]),
]


def check_one_line(code: int, err: str, words: list[str]) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("char_lstm.py: error: "), err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_every_bad_input_gets_one_line_exit_2_and_changes_nothing(args, words, places, capsys):
    args = [a.format(**places) for a in args]
    before = snapshot(places["done"]), snapshot(places["base"])
    code = char_lstm.cli(args)
    captured = capsys.readouterr()
    check_one_line(code, captured.err, [w.format(**places) for w in words])
    assert (snapshot(places["done"]), snapshot(places["base"])) == before
    assert not os.path.exists("/proc/char_lstm_test")


def test_bad_inputs_from_the_command_line(places):
    """The same, through a real process: nothing but the one line reaches stderr."""
    for args, words in [(["--minutes", "nan"], ["--minutes"]),
                        (["--out", places["done"], "--sample", "--top-k", "-1"], ["--top-k"]),
                        (["--data", places["one"], "--out", places["done"], "--overwrite"],
                         ["too few"]),
                        (["--out", places["ckpt_dir"], "--resume"], ["not a regular file"])]:
        result = run_cli(*args)
        check_one_line(result.returncode, result.stderr, words)


def test_one_run_at_a_time_in_an_out_directory(places, capsys):
    with DirectoryLock(places["done"]):  # as another run holds it
        before = snapshot(places["done"])
        code = char_lstm.cli(["--out", places["done"], "--resume", "--data", places["small"],
                              "--steps", "9"])
        check_one_line(code, capsys.readouterr().err,
                       [f"--out {places['done']} is in use by another run (pid {os.getpid()})"])
        assert snapshot(places["done"]) == before
