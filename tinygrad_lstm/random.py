"""The one random generator behind every factory, initializer and dropout mask.

`manual_seed(s)` replaces it, so a seeded run draws the same numbers every time.
"""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator; returns it (PyTorch returns its Generator too)."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    _generator = np.random.default_rng(seed)
    return _generator


def rng() -> np.random.Generator:
    """The current global generator (look it up at each use: manual_seed replaces it)."""
    return _generator


def get_rng_state() -> dict:
    """The generator's state as plain data, for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state
