"""tl.compile: a function's tape, recorded once, replayed as straight-line NumPy code.

trace.py    Traced arrays and the Tracer: the NumPy calls of one run, as a tape of Vars
capture.py  the engine's side: tensors adopted as inputs, optimizer steps and random draws
            kept as calls, gradients written into .grad
program.py  the tape as Python source, compiled into one function
compiled.py compile(fn): guards, the eager warm-up, two traces compared, replay or fallback
memory.py   malloc's free pages given back while tracing (glibc's malloc_trim)
"""

from .compiled import CompiledFunction, compile
from .trace import NotTraceable

__all__ = ["CompiledFunction", "NotTraceable", "compile"]
