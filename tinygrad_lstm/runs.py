"""Keeping a long training run safe: a crash-safe CSV log, stop signals, progress, temp files.

    log = CSVLog("out/loss.csv", ["step", "loss"], keep_until=None)  # fresh: header only
    with StopSignals() as stop:                   # Ctrl-C and SIGTERM only ask to stop
        for step in ...:
            log.add([step, loss])
            if step % 100 == 0 or stop:
                log.commit()                      # rows on disk (fsync'ed) before ...
                save(checkpoint, "out/ckpt.npz")  # ... the checkpoint that covers them
            if stop:
                sys.exit(stop.exit_code)

A kill at any moment leaves the log parseable: reopened with keep_until=the checkpoint's step,
it keeps the complete rows up to that step and drops a torn last line and rows from after the
checkpoint, so a resumed run appends exactly the rows that follow.
"""

import math
import os
import re
import signal
import sys
import time

from .serialization import atomic_write


class CSVLog:
    """A CSV file of rows whose first column is an increasing integer step.

    keep_until=None starts the file afresh with only its header (written atomically). An int
    keeps the existing file's complete rows with step <= keep_until (a missing file, or one
    with another header, starts afresh). `add` buffers a row in memory; `commit` appends the
    buffered rows, flushes and fsyncs. Values are written with str() and must hold no commas.
    """

    def __init__(self, path: str, header: list[str], keep_until: int | None = None):
        self.path, self.header, self.pending = path, list(header), []
        rows = [] if keep_until is None else [
            r for r in read_csv_rows(path, header) if int(r[header[0]]) <= keep_until]
        lines = [",".join(header)] + [",".join(r[h] for h in header) for r in rows]
        atomic_write(path, lambda f: f.write(("\n".join(lines) + "\n").encode("utf-8")))

    def add(self, row: list) -> None:
        if len(row) != len(self.header):
            raise ValueError(f"CSVLog.add: {len(row)} values for {len(self.header)} columns")
        self.pending.append(",".join(str(v) for v in row))

    def commit(self) -> None:
        """Append the buffered rows and make them durable (call it before a checkpoint)."""
        if not self.pending:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in self.pending))
            f.flush()
            os.fsync(f.fileno())
        self.pending.clear()

    def discard(self) -> None:
        """Forget the buffered rows (they belong to steps no checkpoint will cover)."""
        self.pending.clear()


def read_csv_rows(path: str, header: list[str]) -> list[dict]:
    """The complete rows of a CSVLog file as dicts of strings; [] if it is missing or torn.

    A row counts if it ends in a newline, has one value per column and a step (first column)
    greater than the row before; reading stops at the first row that does not.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")[:-1]  # the part after the last newline is torn
    except OSError:
        return []
    if not lines or lines[0].split(",") != list(header):
        return []
    rows, last = [], -math.inf
    for line in lines[1:]:
        values = line.split(",")
        if len(values) != len(header) or not re.fullmatch(r"\d+", values[0]):
            break
        if int(values[0]) <= last:
            break
        last = int(values[0])
        rows.append(dict(zip(header, values)))
    return rows


class StopSignals:
    """Inside `with StopSignals() as stop:`, SIGINT (Ctrl-C) and SIGTERM set `stop.signum`
    instead of stopping the program, so the step in flight can finish and a checkpoint be
    written; `bool(stop)` says whether one came, `stop.exit_code` is the shell's 128 + signum.
    A second Ctrl-C raises KeyboardInterrupt at once. The previous handlers come back on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: the user wants out now
        self.signum = signum

    def __enter__(self) -> "StopSignals":
        for s in self.SIGNALS:
            self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return 128 + self.signum if self.signum else 0


class Progress:
    """A tqdm bar (with total and ETA) on a terminal; elsewhere one log line per `interval` s.

    total: the budget, in steps or in seconds (unit "s"); `update(done, text)` gives the
    position in that unit and a short status. Without tqdm installed, log lines are used.
    """

    def __init__(self, total: float, unit: str, initial: float = 0.0, interval: float = 10.0,
                 desc: str = "train"):
        self.total, self.unit, self.interval, self.desc = total, unit, interval, desc
        self.started, self.last_line, self.initial = time.perf_counter(), -math.inf, initial
        self.bar = None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                fmt = ("{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}{postfix}]"
                       if unit == "step" else "{l_bar}{bar}| [{elapsed}<{remaining}{postfix}]")
                self.bar = tqdm(total=total, initial=initial, desc=desc, bar_format=fmt,
                                mininterval=1.0, dynamic_ncols=True)

    def update(self, done: float, text: str) -> None:
        done = min(done, self.total)  # a time budget ends after its last step, a bit over
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(done - self.bar.n)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.interval:
            self.last_line = now
            self.write(f"{self.desc}: {self._position(done, now)}, {text}")

    def _position(self, done: float, now: float) -> str:
        frac = min(1.0, done / self.total) if self.total else 0.0
        where = (f"step {done:.0f}/{self.total:.0f}" if self.unit == "step"
                 else f"{done / 60:.1f}/{self.total / 60:.1f} min")
        rate = (done - self.initial) / max(now - self.started, 1e-9)  # units per second
        left = (self.total - done) / rate if rate > 0 else math.nan
        eta = f", ~{left / 60:.1f} min left" if math.isfinite(left) else ""
        return f"{where} ({100 * frac:.0f}%){eta}"

    def write(self, text: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def remove_stale_temp_files(directory: str, names: list[str]) -> list[str]:
    """Delete the temp files that interrupted `atomic_write`s of `names` left in `directory`.

    atomic_write names them `.{name}.{12 hex digits}.tmp`; only those are touched. Returns the
    paths removed. Call it only while no other process writes these files.
    """
    alternatives = "|".join(map(re.escape, names))
    pattern = re.compile(rf"\.({alternatives})\.[0-9a-f]{{12}}\.tmp")
    removed = []
    for entry in os.listdir(directory):
        if pattern.fullmatch(entry):
            path = os.path.join(directory, entry)
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


class DirectoryLock:
    """An exclusive lock on a run's directory, so two runs never write into it at once (and
    one never deletes the other's temp files): `flock` on `directory/.lock`, which holds the
    owner's pid. Taken at construction (RuntimeError naming the pid if another process holds
    it); `release()`, or the end of a `with` block, frees it. Without fcntl (Windows) or on a
    file system without locks, it guards nothing.
    """

    NAME = ".lock"

    def __init__(self, directory: str):
        self.path = os.path.join(directory, self.NAME)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            import fcntl
        except ImportError:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(self.fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise RuntimeError(f"{directory} is in use by another run (pid {owner})") from None
        except OSError:  # a file system without locks (some network ones): go unguarded
            return
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode("ascii"))

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> "DirectoryLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
