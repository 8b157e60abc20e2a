"""Grad modes: whether ops record onto the tape, and whether anomaly detection is on.

`_State` is read by every op, so it is a plain class with class attributes (one lookup each).
"""

import functools


class _State:
    grad_enabled = True
    anomaly = False
    last_inplace = 0  # mark of the last in-place op; nodes recorded after it need no check
    scope = ()  # labels of the modules (str) and time steps (int) the current op is made in


class _GradModeContext:
    """A context manager that is also a decorator, like torch.no_grad."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.prev = _State.grad_enabled
        _State.grad_enabled = self.mode

    def __exit__(self, *exc) -> None:
        _State.grad_enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradModeContext(mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Record nothing inside: results have no grad_fn and do not require grad."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradModeContext):
    """Record again inside a `no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: as a function call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self.prev = _State.grad_enabled
        _State.grad_enabled = self.mode  # a plain call takes effect at once, as in PyTorch

    def __enter__(self) -> None:
        pass  # __init__ already switched the mode and kept the previous one

    def __call__(self, fn):
        _State.grad_enabled = self.prev  # used as a decorator: undo the switch made by __init__
        return super().__call__(fn)


class graph_scope:
    """Label the nodes recorded inside, for grouping in pictures of the graph.

    Module.__call__ pushes the module's attribute name, recurrent modules push the time step
    (an int), so any user-written module is grouped the same way for free.
    """

    def __init__(self, label: str | int) -> None:
        self.label = label

    def __enter__(self) -> None:
        self.prev = _State.scope
        _State.scope = self.prev + (self.label,)

    def __exit__(self, *exc) -> None:
        _State.scope = self.prev


def is_grad_enabled() -> bool:
    return _State.grad_enabled


class detect_anomaly:
    """Inside it, an op whose output or gradient holds NaN/Inf raises, naming the op and the
    line of user code that created it. Slow: it checks every array."""

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = bool(check_nan)

    def __enter__(self) -> None:
        self.prev = _State.anomaly
        _State.anomaly = self.mode

    def __exit__(self, *exc) -> None:
        _State.anomaly = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.mode):
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    return _State.anomaly
