"""`tl.backends`, as torch.backends on a CPU-only build: programs that query or set these run
unchanged (`torch.backends.mps.is_available()`, `torch.backends.cudnn.deterministic = True`)."""

from types import SimpleNamespace


def _false() -> bool:
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cuda = SimpleNamespace(is_built=_false)
# the flags can be set, as in PyTorch; nothing here reads them (there is no cuDNN)
cudnn = SimpleNamespace(enabled=False, deterministic=False, benchmark=False,
                        is_available=_false)
