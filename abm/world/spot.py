"""The spot venue whose price is the perp's index (DESIGN section 6).

A venue with finite liquidity and memory, moved by nothing but spot order flow. Net flow ``q``
(BTC, buys positive: the arbitrageurs' spot legs and the spot value traders' orders) moves the
log price through a permanent impact and a transient one that decays (a propagator, Kyle /
Bouchaud style). The sizes come from the venue's depth: selling ``depth_1pct_btc`` at once
moves the price 1%, of which ``permanent_share`` lasts. No rule moves the price towards the
information process: value traders do that by trading, with the capital they have.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.config import SpotConfig


class SpotVenue:
    """The spot price, stepped once per tick.

    >>> from abm.config import SpotConfig
    >>> spot = SpotVenue(SpotConfig(depth_1pct_btc=100.0), 50_000.0, tick_seconds=1.0)
    >>> spot.trade(10.0)  # someone buys a tenth of the 1% depth
    >>> round(spot.step(), 1)  # 10 bps up at once (two thirds of it lasting)
    50050.0
    >>> round(spot.step(), 1)  # the transient third decays, the permanent part stays
    50049.5
    """

    __slots__ = ("level", "transient", "pending", "permanent", "temporary", "decay", "fee")

    def __init__(self, config: SpotConfig, start_price: float, tick_seconds: float) -> None:
        self.level = math.log(start_price)
        """Log price without the transient impact."""
        self.transient = 0.0
        self.pending = 0.0
        impact_per_btc = 0.01 / config.depth_1pct_btc
        self.permanent = impact_per_btc * config.permanent_share
        self.temporary = impact_per_btc * (1 - config.permanent_share)
        self.decay = math.exp(-tick_seconds / config.transient_decay_seconds)
        self.fee = config.taker_fee_bps / 10_000
        """Fee rate a spot trade pays (a share of its notional)."""

    def trade(self, btc: float) -> None:
        """Record a spot trade of ``btc`` (positive: bought) to move the price at the next step."""
        self.pending += btc

    def step(self) -> float:
        """Apply the net flow since the last step; the new price (USDT)."""
        flow, self.pending = self.pending, 0.0
        self.level += self.permanent * flow
        self.transient = self.transient * self.decay + self.temporary * flow
        return math.exp(self.level + self.transient)

    @property
    def price(self) -> float:
        """The current spot price (USDT)."""
        return math.exp(self.level + self.transient)
