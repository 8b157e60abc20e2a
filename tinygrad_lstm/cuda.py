"""`tl.cuda`, as torch.cuda on a machine without a GPU: this build runs on the CPU only."""


def is_available() -> bool:
    """False: tinygrad_lstm runs on the CPU only."""
    return False


def device_count() -> int:
    """0: there is no CUDA device."""
    return 0


def manual_seed(seed: int) -> None:
    """Does nothing, as torch.cuda.manual_seed without CUDA (so seeding code runs unchanged)."""


def manual_seed_all(seed: int) -> None:
    """Does nothing, as torch.cuda.manual_seed_all without CUDA."""
