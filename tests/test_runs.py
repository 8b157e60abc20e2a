"""tinygrad_lstm.runs: the crash-safe CSV log, stop signals, progress lines, stale temp files."""

import os
import signal

import pytest

from tinygrad_lstm.runs import (CSVLog, DirectoryLock, Progress, StopSignals, read_csv_rows,
                                remove_stale_temp_files)
from tinygrad_lstm.serialization import atomic_write

HEADER = ["step", "loss"]


def test_a_fresh_log_holds_its_header_and_commits_rows_durably(tmp_path):
    path = str(tmp_path / "loss.csv")
    (tmp_path / "loss.csv").write_text("step,loss\n1,9.0\n")  # a previous run's
    log = CSVLog(path, HEADER)
    assert (tmp_path / "loss.csv").read_text() == "step,loss\n"
    log.add([1, 2.5])
    log.add([2, "2.25"])
    assert (tmp_path / "loss.csv").read_text() == "step,loss\n"  # buffered until commit
    log.commit()
    assert (tmp_path / "loss.csv").read_text() == "step,loss\n1,2.5\n2,2.25\n"
    assert read_csv_rows(path, HEADER) == [{"step": "1", "loss": "2.5"},
                                           {"step": "2", "loss": "2.25"}]
    log.add([3, 2.0])
    log.discard()
    log.commit()
    assert len(read_csv_rows(path, HEADER)) == 2
    with pytest.raises(ValueError, match="3 values for 2 columns"):
        log.add([4, 1.0, 0.0])


def test_reopening_keeps_complete_rows_up_to_the_checkpoint(tmp_path):
    path = str(tmp_path / "loss.csv")
    (tmp_path / "loss.csv").write_text("step,loss\n1,3.0\n2,2.0\n3,1.0\n4,0.")  # torn row 4
    assert [r["step"] for r in read_csv_rows(path, HEADER)] == ["1", "2", "3"]
    log = CSVLog(path, HEADER, keep_until=2)
    assert (tmp_path / "loss.csv").read_text() == "step,loss\n1,3.0\n2,2.0\n"
    log.add([3, 1.5])
    log.commit()
    assert (tmp_path / "loss.csv").read_text() == "step,loss\n1,3.0\n2,2.0\n3,1.5\n"


@pytest.mark.parametrize("content", [None, "", "ste", "time,loss\n1,2\n", "step,loss\n1\n",
                                     "step,loss\n2,1\n1,1\n", "step,loss\nx,1\n"])
def test_reading_stops_at_what_is_not_a_whole_row(tmp_path, content):
    path = tmp_path / "loss.csv"
    if content is not None:
        path.write_text(content)
    rows = read_csv_rows(str(path), HEADER)
    assert rows == ([{"step": "2", "loss": "1"}] if content == "step,loss\n2,1\n1,1\n" else [])
    CSVLog(str(path), HEADER, keep_until=5)  # a missing or foreign file starts afresh
    assert path.read_text() == ("step,loss\n2,1\n" if rows else "step,loss\n")


def test_stop_signals_are_recorded_then_the_old_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        assert not stop and stop.exit_code == 0
        signal.raise_signal(signal.SIGTERM)
        assert stop and stop.name == "SIGTERM" and stop.exit_code == 143
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_second_ctrl_c_stops_at_once():
    with pytest.raises(KeyboardInterrupt), StopSignals() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.exit_code == 130
        signal.raise_signal(signal.SIGINT)


def test_off_a_terminal_progress_prints_a_line_at_once_then_per_interval(capsys):
    progress = Progress(total=10, unit="step", interval=3600)
    progress.update(1, "loss 2.0")
    progress.update(2, "loss 1.9")  # within the interval: no line
    progress.write("step 2: evaluated")
    progress.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("train: step 1/10 (10%)") and lines[0].endswith("loss 2.0")
    assert lines[1:] == ["step 2: evaluated"]
    seconds = Progress(total=120, unit="s", initial=60, interval=0)
    seconds.update(90, "x")
    assert capsys.readouterr().out.startswith("train: 1.5/2.0 min (75%)")


def test_only_the_temp_files_of_interrupted_writes_are_removed(tmp_path):
    names = [".ckpt.npz.0123456789ab.tmp", ".loss.csv.ba9876543210.tmp", "ckpt.npz",
             ".ckpt.npz.tmp", "x.ckpt.npz.0123456789ab.tmp", ".other.0123456789ab.tmp"]
    for name in names:
        (tmp_path / name).write_text("")
    removed = remove_stale_temp_files(str(tmp_path), ["ckpt.npz", "loss.csv"])
    assert sorted(os.path.basename(p) for p in removed) == sorted(names[:2])
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])


def test_the_temp_files_removed_are_those_atomic_write_makes(tmp_path):
    seen = []
    atomic_write(str(tmp_path / "ckpt.npz"), lambda f: seen.extend(os.listdir(tmp_path)))
    (temp,) = seen  # the file atomic_write was writing: a kill here would leave it behind
    (tmp_path / temp).write_text("")
    assert remove_stale_temp_files(str(tmp_path), ["ckpt.npz"]) == [str(tmp_path / temp)]


def test_a_directory_lock_is_exclusive_until_released(tmp_path):
    first = DirectoryLock(str(tmp_path))
    with pytest.raises(RuntimeError, match=rf"in use by another run \(pid {os.getpid()}\)"):
        DirectoryLock(str(tmp_path))
    first.release()
    with DirectoryLock(str(tmp_path)):  # free again
        pass
    DirectoryLock(str(tmp_path)).release()
