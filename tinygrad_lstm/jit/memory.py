"""Memory that malloc keeps after the arrays in it were freed, given back to the system.

glibc's malloc serves arrays from about 128 KiB up to its threshold (raised to the largest array
freed so far, up to 32 MiB) from its heap, and keeps the pages of a freed one. A traced call runs
the step eagerly: a forward frees arrays of other sizes than the backward then makes, so its
peak RSS is the live arrays plus those kept pages (the benchmark's large LSTM: 368 MiB, of which
about 220 live). Giving the free pages back where a trace passes from forward to backward, and
before a program's arena is made, keeps that peak near the live arrays'. malloc_trim walks the
heap (about a millisecond at that size), so a trace does it and a program's run never does.
"""

from __future__ import annotations

import ctypes

_malloc_trim = None  # glibc's malloc_trim; False where the C library has none (macOS, musl)


def return_free_memory() -> None:
    """glibc's malloc_trim(0): the free pages of malloc's heap go back to the system (they are
    mapped again, as zero pages, when malloc hands them out next). Nothing elsewhere."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
            _malloc_trim.argtypes, _malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError, TypeError):  # no such symbol, or no CDLL(None) (Windows)
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)
