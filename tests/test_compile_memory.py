"""tl.compile gives the pages malloc keeps free back to the system while it traces
(jit/memory.py): checked against the process's resident size, where glibc is the C library."""

import ctypes
import sys

import numpy as np
import pytest

from tinygrad_lstm.jit import memory


def _resident_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _has_malloc_trim() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "malloc_trim")
    except (OSError, TypeError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _has_malloc_trim(),
                    reason="glibc's malloc_trim and /proc/self/status")
def test_freed_heap_pages_between_live_arrays_go_back():
    # 64 KiB arrays come from malloc's heap (under its 128 KiB threshold); an 8 KiB array kept
    # after each one leaves the freed ones as holes that free() alone does not give back
    holes, kept = [], []
    for _ in range(600):
        holes.append(np.ones(16 * 1024, np.float32))  # touched: resident
        kept.append(np.ones(2048, np.float32))
    del holes
    before = _resident_mib()
    memory.return_free_memory()
    assert before - _resident_mib() > 20  # of the 37.5 MiB freed
    assert len(kept) == 600


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", False)  # macOS, musl, Windows
    memory.return_free_memory()


def test_a_trace_returns_memory_at_its_backward_and_before_the_arena(monkeypatch):
    import tinygrad_lstm as tl
    from tinygrad_lstm import nn
    from tinygrad_lstm.jit import capture, program

    where = []
    monkeypatch.setattr(capture, "return_free_memory", lambda: where.append("backward"))
    monkeypatch.setattr(program, "return_free_memory", lambda: where.append("arena"))
    model = nn.Linear(3, 2)

    @tl.compile
    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss

    x = tl.ones(4, 3)
    for _ in range(5):  # eager, two traces, then the program (its first run makes the arena)
        step(x)
    assert where == ["backward", "backward", "arena"]
