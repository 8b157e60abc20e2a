"""Devices, as torch.device: the CPU is the only one, and using any other raises.

`tl.device("cuda")` can be made (as in PyTorch, so `device = torch.device("cuda" if
torch.cuda.is_available() else "cpu")` reads the same), but moving or creating a tensor there
raises an error that says this build runs on the CPU only.
"""

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:
    """A device type and optional index: `device("cpu")`, `device("cuda:0")`,
    `device("cuda", 0)`."""

    __slots__ = ("type", "index")

    def __init__(self, type: "str | device", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch.device(0) is the first accelerator
        elif not isinstance(type, str):
            raise TypeError(f"device: expected a string or a device, got {type!r}")
        name, _, number = type.partition(":")
        bad_index = number and (not number.isdigit() or index is not None)
        if name not in _TYPES or bad_index:
            raise RuntimeError(f"Invalid device string: '{type}'; expected one of "
                               f"{', '.join(_TYPES)}, optionally with ':<index>'")
        self.type = name
        self.index = int(number) if number else index

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


cpu = device("cpu")
_default = [cpu]


def as_device(value) -> device:
    """The CPU device for "cpu", "cpu:0", a cpu device or None; other devices raise."""
    if value is None or value is cpu:
        return cpu
    d = value if isinstance(value, device) else device(value)
    if d.type != "cpu":
        raise RuntimeError(f"device '{d}' is not available: tinygrad_lstm runs on the CPU only "
                           f"(tinygrad_lstm.cuda.is_available() is False); use 'cpu'")
    return cpu


def is_device(value) -> bool:
    """True for a device or a string naming one ("cpu", "cuda:0"), as `.to` tells them from
    dtype names."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in _TYPES


def get_default_device() -> device:
    """Where factories put new tensors: always the CPU."""
    return _default[0]


def set_default_device(value) -> None:
    """Accepts the CPU (or None); any other device raises, as this build has no other."""
    _default[0] = as_device(value)
