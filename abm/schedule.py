"""Who acts in each tick: every population at its own rate, all shuffled together, drawn a
block of ticks at a time.

A tick's actors are a random draw per population (:class:`ActivitySchedule`), then one random
order for all of them, so no population always moves first. Drawing them tick by tick costs a
handful of numpy calls per tick whatever the population; here a block of :data:`BLOCK_TICKS`
ticks is drawn at once, so a tick costs a slice of a list. A population's pool may shrink (a
wiped-out trader leaves): :meth:`ActivitySchedule.pools_changed` discards the rest of the block
and the next tick draws a new one from the pools as they are, so nobody who left is drawn. That
block is short (:data:`BLOCK_AFTER_CHANGE` ticks) and the blocks double back to
:data:`BLOCK_TICKS`, so a cascade that wipes traders out every tick does not draw 256 ticks a
tick.

How a population's actors are drawn depends on its rate ``p`` per tick:

- ``p >= 1``: everyone, every tick (market makers);
- ``p >=`` :data:`DRAW_EACH_ABOVE`: one uniform draw per agent and tick, so that each acts at its
  exact rate (spot value traders, arbitrageurs);
- below it: a binomial count of picks per tick, with replacement, duplicates dropped (retail:
  no draw per inactive agent).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK_TICKS = 256
"""Ticks drawn at once."""

BLOCK_AFTER_CHANGE = 8
"""Ticks drawn at once right after a pool changed."""

DRAW_EACH_ABOVE = 0.02
"""Activity per tick from which a population's actors are drawn one by one."""


class ActivitySchedule[Agent]:
    """The acting agents of each coming tick, for pools of agents acting at given rates.

    ``pools`` are lists the caller keeps (and may shrink, calling :meth:`pools_changed`);
    ``rates`` their activity per tick, in the same order; ``rng`` the model's generator.

    >>> schedule = ActivitySchedule(np.random.default_rng(1), [["maker"], list("abc")], [1.0, 0.5])
    >>> actors = schedule.next_tick()
    >>> "maker" in actors and set(actors) <= {"maker", "a", "b", "c"}
    True
    """

    def __init__(
        self,
        rng: np.random.Generator,
        pools: Sequence[list[Agent]],
        rates: Sequence[float],
        block_ticks: int = BLOCK_TICKS,
    ) -> None:
        if len(pools) != len(rates):
            raise ValueError(f"{len(pools)} pools but {len(rates)} rates")
        self.rng = rng
        self.pools = pools
        self.rates = [float(p) for p in rates]
        self.block_ticks = block_ticks
        self.next_block = block_ticks
        """Ticks the next draw covers: short after a change, doubling up to ``block_ticks``."""
        self.drawn: list[list[Agent]] = []
        self.next = 0

    def next_tick(self) -> list[Agent]:
        """The agents acting in the next tick, in the order they act."""
        if self.next >= len(self.drawn):
            self.drawn = self.draw_block(self.next_block)
            self.next = 0
            self.next_block = min(self.block_ticks, 2 * self.next_block)
        actors = self.drawn[self.next]
        self.next += 1
        return actors

    def pools_changed(self) -> None:
        """A pool lost an agent: the ticks drawn ahead are drawn again from the pools now, a
        short block first."""
        del self.drawn[self.next :]
        self.next_block = min(self.block_ticks, BLOCK_AFTER_CHANGE)

    def draw_block(self, ticks: int) -> list[list[Agent]]:
        """The actors of ``ticks`` ticks: per population, (tick, agent) pairs at its rate; then
        one random key per pair, sorted within each tick."""
        rng = self.rng
        everyone: list[Agent] = []
        tick_parts, who_parts = [], []
        for pool, p in zip(self.pools, self.rates, strict=True):
            n = len(pool)
            if not n or p <= 0:
                continue
            if p >= 1.0:
                tick_of = np.repeat(np.arange(ticks), n)
                index = np.tile(np.arange(n), ticks)
            elif p >= DRAW_EACH_ABOVE:
                tick_of, index = np.nonzero(rng.random((ticks, n)) < p)
            else:
                counts = rng.binomial(n, p, size=ticks)
                picks = np.repeat(np.arange(ticks), counts) * n + rng.integers(0, n, counts.sum())
                tick_of, index = np.divmod(np.unique(picks), n)
            tick_parts.append(tick_of)
            who_parts.append(index + len(everyone))
            everyone.extend(pool)
        if not tick_parts:
            return [[] for _ in range(ticks)]
        tick_of = np.concatenate(tick_parts)
        who = np.concatenate(who_parts)
        order = np.lexsort((rng.random(len(who)), tick_of))
        bounds = np.searchsorted(tick_of[order], np.arange(ticks + 1)).tolist()
        acting = [everyone[i] for i in who[order].tolist()]
        return [acting[bounds[t] : bounds[t + 1]] for t in range(ticks)]
