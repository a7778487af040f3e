"""What a value trader believes the value is: the information process as it reached the trader
(late by the trader's own delay) and off by an error of its own that wanders over time.

No agent reads the information as it is now: beliefs lag and differ (DESIGN section 6).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.config import Uniform
    from abm.model import MarketModel


class Belief:
    """A belief about value, read with :meth:`value`.

    ``delay_ticks``: how late the information reaches the trader. ``error_std``: standard
    deviation of the log error (a share of price). ``error_half_life_ticks``: how long the error
    takes to lose half of itself; it is an Ornstein-Uhlenbeck process sampled exactly at each
    read, so it costs nothing between reads.

    >>> from abm.model import MarketModel
    >>> model = MarketModel("baseline", **{"run.hours": 0.01, "retail.count": 0})
    >>> belief = Belief(model, delay_ticks=5, error_std=0.0, error_half_life_ticks=60.0)
    >>> belief.value() == model.fundamental.price(0)  # at tick 0 the delay reaches back to 0
    True
    """

    __slots__ = ("model", "delay", "std", "half_life", "error", "read_at")

    def __init__(
        self, model: MarketModel, delay_ticks: int, error_std: float, error_half_life_ticks: float
    ) -> None:
        self.model = model
        self.delay = max(0, int(delay_ticks))
        self.std = error_std
        self.half_life = error_half_life_ticks
        self.error = float(model.rng.normal(0.0, error_std)) if error_std else 0.0
        self.read_at = model.tick

    @classmethod
    def drawn(
        cls,
        model: MarketModel,
        delay_seconds: Uniform,
        error_bps: float,
        error_half_life_minutes: float,
    ) -> Belief:
        """A trader's belief with its delay drawn from ``delay_seconds`` (uniform) and its
        error's spread and half-life in the config's units (bps, minutes)."""
        delay = model.rng.uniform(delay_seconds.low, delay_seconds.high)
        return cls(
            model,
            delay_ticks=round(delay / model.tick_seconds),
            error_std=error_bps / 10_000,
            error_half_life_ticks=error_half_life_minutes * 60 / model.tick_seconds,
        )

    def value(self) -> float:
        """The believed value now (USDT)."""
        model = self.model
        elapsed = model.tick - self.read_at
        if elapsed and self.std:
            keep = 0.5 ** (elapsed / self.half_life)
            spread = self.std * math.sqrt(1.0 - keep * keep)
            self.error = self.error * keep + spread * model.standard_normal()
        self.read_at = model.tick
        return model.fundamental.price(max(0, model.tick - self.delay)) * math.exp(self.error)
