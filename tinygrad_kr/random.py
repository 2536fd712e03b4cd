"""Reproducible randomness: one default generator, seeded by manual_seed.

Everything random in the engine (rand/randn/randint, init, dropout masks,
shuffling, augmentation) draws from a NumPy ``Generator`` obtained through
``get_rng(generator)``, so ``manual_seed(s)`` makes a whole run repeatable.
"""
import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator", "get_rng",
           "get_rng_state", "set_rng_state"]


class Generator:
    """PyTorch-style generator object wrapping ``numpy.random.Generator`` (PCG64)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 0
        self.rng = np.random.Generator(np.random.PCG64(0))

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self._seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The bit-generator state as a plain dict (JSON-serialisable)."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and return it), like ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def get_rng(generator=None):
    """The numpy Generator to draw from: ``generator``'s or the default one."""
    return (generator or default_generator).rng
