"""Grad modes: whether ops record onto the tape, and whether anomaly detection is on."""

import functools

from ..recording import _state


class _Switch:
    """Set one field of `_state` inside a with-block or a decorated function, then restore it
    (torch.no_grad's shape: a context manager that is also a decorator)."""

    field = ""

    def __init__(self, value: bool) -> None:
        self.value = bool(value)

    def __enter__(self) -> None:
        self.prev = getattr(_state, self.field)
        setattr(_state, self.field, self.value)

    def __exit__(self, *exc) -> None:
        setattr(_state, self.field, self.prev)

    def __call__(self, fn):
        field, value = self.field, self.value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = getattr(_state, field)
            setattr(_state, field, value)
            try:
                return fn(*args, **kwargs)
            finally:
                setattr(_state, field, prev)

        return wrapper


class _GradModeContext(_Switch):
    field = "grad_enabled"


class _BareDecorator(_GradModeContext):
    """Also a decorator without parentheses (`@no_grad`), as in PyTorch 2."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):
    """Record nothing inside: results have no grad_fn and do not require grad."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_BareDecorator):
    """Record again inside a `no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)


class inference_mode(_GradModeContext):
    """torch.inference_mode: record nothing inside, as `no_grad`; mode=False changes nothing.

    PyTorch also marks the tensors made inside as inference tensors, which autograd refuses
    later; here they are ordinary tensors that do not require grad.
    """

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # used bare: @inference_mode

    def __init__(self, mode: bool = True) -> None:
        super().__init__(False)
        self.mode = mode

    def __enter__(self) -> None:
        self.prev = _state.grad_enabled
        if self.mode:
            _state.grad_enabled = False

    def __call__(self, fn):
        return super().__call__(fn) if self.mode else fn


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: as a function call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.value  # a plain call takes effect at once, as in PyTorch

    def __enter__(self) -> None:
        pass  # __init__ already switched the mode and kept the previous one

    def __call__(self, fn):
        _state.grad_enabled = self.prev  # used as a decorator: undo the switch made by __init__
        return super().__call__(fn)


class graph_scope:
    """Label the nodes recorded inside, for grouping in pictures of the graph.

    Module.__call__ pushes the module's attribute name, recurrent modules push the time step
    (an int), so any user-written module is grouped the same way for free.
    """

    def __init__(self, label: str | int) -> None:
        self.label = label

    def __enter__(self) -> None:
        self.prev = _state.scope
        _state.scope = self.prev + (self.label,)

    def __exit__(self, *exc) -> None:
        _state.scope = self.prev


def is_grad_enabled() -> bool:
    return _state.grad_enabled


class detect_anomaly(_Switch):
    """Inside it, an op whose output or gradient holds NaN/Inf raises, naming the op and the
    line of user code that created it. Slow: it checks every array."""

    field = "anomaly"

    def __init__(self, check_nan: bool = True) -> None:
        super().__init__(check_nan)


def is_anomaly_enabled() -> bool:
    return _state.anomaly
