"""Random generators: `Generator` (PyTorch's torch.Generator) and the global one behind every
factory, initializer and dropout mask.

`manual_seed(s)` reseeds the global generator, so a seeded run draws the same numbers every
time; a `Generator` passed as `generator=` gives a random factory its own stream.
"""

import numpy as np

from .device import as_device
from .recording import _state, replay_as_calls, replayed_as_call


def _check_seed(seed, op: str) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"{op}: expected an int seed, got {type(seed).__name__}")
    if seed < 0:  # PyTorch takes any int64 and wraps it; NumPy wants a non-negative seed
        seed %= 2 ** 64
    return int(seed)


class Generator:
    """A stream of random numbers (a numpy.random.Generator inside), as torch.Generator.

    `manual_seed(s)` reseeds it and returns it; `seed()` reseeds from the OS and returns the
    new seed; `initial_seed()` is the last seed set. `device` takes the CPU only."""

    def __init__(self, device="cpu") -> None:
        as_device(device)
        self.seed()

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = _check_seed(seed, "manual_seed")
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from a nondeterministic source; returns the seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2 ** 63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The bit generator's state as plain data (not PyTorch's byte tensor)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self._rng.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"<tinygrad_lstm.Generator, initial_seed={self._seed}>"


# tl.compile: reseeding inside a compiled function (these and the functions below) is a call
# of the program, so it happens again at every call
replay_as_calls(Generator, "manual_seed", "seed", "set_state")
default_generator = Generator()


@replayed_as_call
def manual_seed(seed: int) -> Generator:
    """Reseed the global generator; returns it, as PyTorch does."""
    return default_generator.manual_seed(_check_seed(seed, "manual_seed"))


@replayed_as_call
def seed() -> int:
    """Reseed the global generator from a nondeterministic source; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def rng(generator: "Generator | np.random.Generator | None" = None) -> np.random.Generator:
    """The NumPy generator to draw from: `generator`'s, or the global one's (looked up at each
    use: manual_seed replaces it). A numpy.random.Generator is taken as it is."""
    if _state.tracer is not None:  # tl.compile: each draw is a call of the program
        return _state.tracer.generator(generator)
    if generator is None:
        return default_generator._rng
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a tinygrad_lstm.Generator, got "
                    f"{type(generator).__name__}")


def get_rng_state() -> dict:
    """The global generator's state as plain data, for checkpoints."""
    return default_generator.get_state()


@replayed_as_call
def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    default_generator.set_state(state)
