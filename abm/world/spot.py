"""The spot venue whose price is the perp's index (DESIGN section 6).

A compact market with finite liquidity. Net spot order flow ``q`` (BTC, buys positive: the
arbitrageurs' spot legs) moves the log price through a permanent impact and a transient one that
decays (Kyle / propagator style); spot value traders close a share of the gap between the lasting
level and the fundamental value every second. So a perp liquidation cascade that arbitrageurs
carry into spot moves the index, and with it the mark, until value traders pull it back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.config import SpotConfig


class SpotVenue:
    """The spot price, stepped once per tick.

    >>> from abm.config import SpotConfig
    >>> spot = SpotVenue(SpotConfig(), 50_000.0, tick_seconds=1.0)
    >>> spot.trade(10.0)  # an arbitrageur buys 10 BTC
    >>> round(spot.step(50_000.0), 1)  # 10 x (0.05 + 0.2) bps up, minus the pull
    50012.4
    """

    __slots__ = ("level", "transient", "pending", "permanent", "temporary", "decay", "pull")

    def __init__(self, config: SpotConfig, start_price: float, tick_seconds: float) -> None:
        self.level = math.log(start_price)
        """Log price without the transient impact."""
        self.transient = 0.0
        self.pending = 0.0
        self.permanent = config.permanent_impact_bps_per_btc / 10_000
        self.temporary = config.transient_impact_bps_per_btc / 10_000
        self.decay = math.exp(-tick_seconds / config.transient_decay_seconds)
        self.pull = 1.0 - 0.5 ** (tick_seconds / config.value_pull_half_life_seconds)

    def trade(self, btc: float) -> None:
        """Record a spot trade of ``btc`` (positive: bought) to move the price at the next step."""
        self.pending += btc

    def step(self, fundamental: float) -> float:
        """Apply the flow since the last step and the value traders' pull; the new price (USDT)."""
        flow, self.pending = self.pending, 0.0
        self.level += self.permanent * flow
        self.level += self.pull * (math.log(fundamental) - self.level)
        self.transient = self.transient * self.decay + self.temporary * flow
        return math.exp(self.level + self.transient)

    @property
    def price(self) -> float:
        """The current spot price (USDT)."""
        return math.exp(self.level + self.transient)
