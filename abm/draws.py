"""Random draws the agents make one at a time, taken from blocks drawn at once.

A scalar draw from a numpy generator costs about a microsecond, most of it the call; agents
that read a noisy belief at every action would spend more on the calls than on the arithmetic.
:class:`StandardNormals` draws :data:`BLOCK` standard normals at a time from the model's
generator and hands them out one by one: the same distribution, the same sequence for the same
seed, a fraction of the cost.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4096
"""Normals drawn at once."""


class StandardNormals:
    """Standard normal draws from ``rng``, one per call, drawn :data:`BLOCK` at a time.

    >>> draw = StandardNormals(np.random.default_rng(1))
    >>> first = draw()
    >>> first == float(np.random.default_rng(1).standard_normal(BLOCK)[0])
    True
    """

    def __init__(self, rng: np.random.Generator, block: int = BLOCK) -> None:
        self.rng = rng
        self.block = block
        self.values: list[float] = []
        self.next = 0

    def __call__(self) -> float:
        """The next standard normal draw."""
        if self.next >= len(self.values):
            self.values = self.rng.standard_normal(self.block).tolist()
            self.next = 0
        value = self.values[self.next]
        self.next += 1
        return value
