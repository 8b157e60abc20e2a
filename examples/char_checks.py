"""The checks that let the character models (examples/char_lstm.py, char_transformer.py)
refuse bad input in one line, before any work.

Flags (finite, in range, and a model that fits in memory and time), --data (a regular UTF-8
file that fits in memory), --out (a directory that takes files, and for a fresh run an empty
one) and the checkpoint (readable, complete, its values passing the flags' own checks). Each
failure raises UsageError, which the script prints as one line with exit code 2.
"""

import argparse
import math
import os
import stat

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm.data import CharVocab, read_text
from tinygrad_lstm.runs import DirectoryLock, remove_stale_temp_files

MAX_STEP_FLOPS = 1e13  # a training step of hours on a CPU


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


# ---------------------------------------------------------------- flags


def number(kind: type, lo: float, hi: float = math.inf, low_open: bool = False):
    """An argparse type: an int or a float, finite, in [lo, hi] ((lo, hi] if low_open)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value) or value < lo or value > hi or (low_open and value == lo):
            high = "" if hi == math.inf else f" and at most {kind(hi)}"
            low = f"above {kind(lo)}" if low_open else f"at least {kind(lo)}"
            raise argparse.ArgumentTypeError(f"must be {low}{high}, got {text}")
        return value
    return parse


# the checks of the flags that make a run (of either model); a checkpoint's values go through
# them too
CHECKS = {"hidden": number(int, 1), "layers": number(int, 1), "embed": number(int, 1),
          "d_model": number(int, 1), "heads": number(int, 1),
          "dropout": number(float, 0, 0.99), "seq_len": number(int, 1),
          "batch_size": number(int, 1), "lr": number(float, 0, 1, low_open=True),
          "weight_decay": number(float, 0, 1), "clip": number(float, 0, 1e6, low_open=True),
          "eval_every": number(int, 1), "seed": number(int, 0, 2**63 - 1),
          "minutes": number(float, 0, 60 * 24 * 365, low_open=True), "steps": number(int, 1)}


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def settle(args, saved: dict | None, defaults: dict) -> None:
    """Fill the flags not given from the checkpoint's settings (or the defaults), and refuse
    a flag given with another value than the checkpoint's."""
    saved = saved or {}
    for key, default in defaults.items():
        given, kept = getattr(args, key), checked(saved, key)
        if given is not None and kept is not None and given != kept:
            raise UsageError(f"{flag(key)} {given} differs from the checkpoint's {kept}: a run "
                             f"keeps its settings (start another with a new --out or --overwrite)")
        setattr(args, key, given if given is not None else kept if kept is not None else default)


def checked(saved: dict, key: str):
    """saved[key] (None if absent) after the flag's own check: a checkpoint can be edited."""
    if saved.get(key) is None:
        return None
    try:
        return CHECKS[key](str(saved[key]))
    except argparse.ArgumentTypeError as e:
        raise UsageError(f"the checkpoint's {flag(key)} {saved[key]!r} is invalid: {e}") from None


def settle_budget(args, saved: dict | None, minutes: float) -> str:
    """The run's total budget: the flag given, else the checkpoint's, else `minutes`."""
    saved = {"steps": checked(saved, "steps"), "minutes": checked(saved, "minutes")} \
        if isinstance(saved, dict) else {}
    before = budget_text(saved) if saved.get("steps") or saved.get("minutes") else None
    if args.steps is None and args.minutes is None:
        args.steps, args.minutes = saved.get("steps"), saved.get("minutes")
        if args.steps is None and args.minutes is None:
            args.minutes = minutes
    now = budget_text({"steps": args.steps, "minutes": args.minutes})
    return f"budget {now}" + (f" (was {before})" if before and before != now else "")


def budget_text(budget: dict) -> str:
    steps = budget.get("steps")
    return f"--steps {steps}" if steps else f"--minutes {budget.get('minutes'):g}"


def check_fits(sizes: str, need: float, flops: float) -> None:
    """Refuse a model whose training step needs `need` bytes (more than half of this machine's
    memory) or `flops` floating-point operations (hours on a CPU); `sizes` names its flags."""
    have = physical_memory()
    if need > have / 2:
        raise UsageError(f"{sizes}: a training step needs about {need / 2**30:,.1f} GiB, more "
                         f"than half of this machine's {have / 2**30:,.1f} GiB")
    if flops > MAX_STEP_FLOPS:
        raise UsageError(f"{sizes}: a training step takes about {flops:.1e} floating-point "
                         f"operations, hours on a CPU")


def physical_memory() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): assume 16 GiB
        return 16 * 2**30


# ---------------------------------------------------------------- --data, --out, the checkpoint


def read_data(path: str) -> str:
    """The text of --data: a regular UTF-8 file that fits in memory several times over."""
    limit = physical_memory() / 2 / 32  # str, code points, int64 ids: ~32 bytes per byte
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"--data {path} is not a regular file")
        if os.stat(path).st_size > limit:
            raise UsageError(f"--data {path}: {os.stat(path).st_size:,} bytes, more than this "
                             f"machine's memory allows ({limit:,.0f})")
        return read_text(path)
    except OSError as e:
        raise UsageError(f"--data {path}: {e.strerror}") from None
    except ValueError as e:  # empty, binary, not UTF-8
        raise UsageError(str(e)) from None


def check_out(out: str, fresh: bool, overwrite: bool) -> None:
    """Refuse an --out that is not a directory, or (for a fresh run) one that holds files."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} exists and is not a directory")
    if fresh and os.path.isdir(out) and not overwrite:
        try:
            entries = sorted(set(os.listdir(out)) - {DirectoryLock.NAME})
        except OSError as e:
            raise UsageError(f"--out {out}: {e.strerror}") from None
        if entries:
            raise UsageError(f"--out {out} is not empty ({', '.join(entries[:3])}"
                             f"{', ...' if len(entries) > 3 else ''}): continue its run with "
                             f"--resume, or start again with --overwrite")


def prepare_out(out: str, overwrite: bool, outputs: list[str]) -> DirectoryLock:
    """Make --out and lock it for this run, delete the `outputs` of a previous run if asked,
    and remove the temp files of checkpoint or log writes that a kill interrupted."""
    try:
        os.makedirs(out, exist_ok=True)
        lock = DirectoryLock(out)
    except RuntimeError as e:
        raise UsageError(f"--out {e}") from None
    except OSError as e:
        raise UsageError(f"--out {out}: {e.strerror or e}") from None
    try:
        if overwrite:
            for name in outputs:
                if os.path.lexists(os.path.join(out, name)):
                    os.unlink(os.path.join(out, name))
        for path in remove_stale_temp_files(out, ["ckpt.npz", "loss.csv"]):
            print(f"removed {path}, left by an interrupted write")
    except OSError as e:
        lock.release()
        raise UsageError(f"--out {out}: {e.strerror or e}") from None
    return lock


def load_checkpoint(path: str, need: tuple[str, ...], script: str) -> dict:
    """The checkpoint at `path` with the keys `need`, its vocabulary as a CharVocab; `script`
    names the program whose checkpoints these are."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a directory fail
            raise UsageError(f"checkpoint {path} is not a regular file")
        ckpt = tl.load(path)
    except FileNotFoundError:
        raise UsageError(f"no checkpoint at {path} (train first, or pass the right --out; a run "
                         f"stopped before its first checkpoint starts again with --overwrite)"
                         ) from None
    except OSError as e:
        raise UsageError(f"checkpoint {path}: {e.strerror}") from None
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    if not isinstance(ckpt, dict):
        raise UsageError(f"{path} is not a {script} checkpoint (it holds a "
                         f"{type(ckpt).__name__}, not a dict)")
    missing = [key for key in need if key not in ckpt]
    if missing:
        raise UsageError(f"{path} is not a {script} checkpoint (it lacks "
                         f"{', '.join(missing)})")
    try:
        ckpt["vocab"] = CharVocab.from_dict(ckpt["vocab"])
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: {e}") from None
    if not isinstance(ckpt["config"], dict):
        raise UsageError(f"{path}: its config is not a dict")
    bad = [key for key, ok in PROGRESS.items() if key in ckpt and not ok(ckpt[key])]
    if bad:
        raise UsageError(f"{path}: its {bad[0]} {ckpt[bad[0]]!r} is invalid"[:300])
    return ckpt


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# what a checkpoint says about the run's progress, and what each may hold
PROGRESS = {"step": _count, "epoch": _count, "window": _count,
            "elapsed": lambda v: _count(v) or isinstance(v, float) and 0 <= v < math.inf,
            "horizon": lambda v: v is None or _count(v) and v > 0,
            "smooth": lambda v: v is None or isinstance(v, float) and math.isfinite(v),
            "state": lambda v: v is None or isinstance(v, list) and len(v) == 2
            and all(isinstance(a, np.ndarray) and a.ndim == 3 for a in v)}


def restore(what: str, path: str, fn) -> None:
    """Run `fn` (loading a state) and report any mismatch as the checkpoint's fault."""
    try:
        fn()
    except (AttributeError, IndexError, KeyError, RuntimeError, TypeError, ValueError) as e:
        raise UsageError(f"checkpoint {path}: its {what} does not fit ({e})") from None
