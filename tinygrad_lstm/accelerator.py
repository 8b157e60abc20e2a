"""`tl.accelerator`, as torch.accelerator on a build without one: this build runs on the CPU.

Programs written for any device (`torch.accelerator.current_accelerator().type if
torch.accelerator.is_available() else "cpu"`) take their CPU branch unchanged.
"""


def is_available() -> bool:
    """False: tinygrad_lstm has no accelerator (CUDA, MPS, XPU, ...); the CPU is not one."""
    return False


def current_accelerator(check_available: bool = False):
    """None, as torch.accelerator.current_accelerator() where no accelerator is built."""
    return None


def device_count() -> int:
    """0: there is no accelerator device."""
    return 0
