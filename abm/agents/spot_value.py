"""Spot value traders: the rest of the spot market, as seen by the index. Each believes a value
of its own (late and off: :class:`~abm.agents.belief.Belief`) and leans against the spot price's
gap from it beyond a threshold, a small trade at a time, so its inventory (long or short, up to
a capacity its capital allows) is what its leaning has added up to. They are the only force that
brings the spot, and through it the index, towards the information, and they can run out of
room."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

from abm.agents.belief import Belief

if TYPE_CHECKING:
    from abm.config import SpotValueTraderConfig
    from abm.model import MarketModel


class SpotValueTrader(mesa.Agent):
    """One spot value trader; it has no account on the perp exchange."""

    population = "spot_value"

    def __init__(self, model: MarketModel, config: SpotValueTraderConfig, capital: float) -> None:
        super().__init__(model)
        rng = model.rng
        self.config = config
        self.capital = capital
        """USDT the trader can put at risk; its capacity is that at the start price."""
        self.capacity_btc = capital / model.spot.price
        self.belief = Belief.drawn(
            model, config.delay_seconds, config.error_bps, config.error_half_life_minutes
        )
        self.threshold_bps = rng.uniform(config.threshold_bps.low, config.threshold_bps.high)
        self.btc = 0.0
        """Spot inventory (BTC; negative: sold short)."""
        self.cash_usdt = 0.0
        """USDT received (positive) or paid for the inventory, fees included."""

    def act(self) -> None:
        """Lean against the mispricing beyond the threshold: buy below the believed value, sell
        above it, ``btc_per_bps`` per bp beyond the threshold (at most a clip), as long as the
        inventory stays within capacity. The inventory is what the leaning has added up to, so
        a lasting move of the value is followed only as far as capital allows."""
        spot = self.model.spot
        price = spot.price
        gap_bps = (price / self.belief.value() - 1) * 10_000
        beyond = abs(gap_bps) - self.threshold_bps
        if beyond <= 0:
            return
        size = min(self.config.clip_btc, self.config.btc_per_bps * beyond)
        btc = -math.copysign(size, gap_bps)
        btc = max(-self.capacity_btc - self.btc, min(self.capacity_btc - self.btc, btc))
        if abs(btc) < 1e-9:
            return
        spot.trade(btc)
        self.btc += btc
        self.cash_usdt -= btc * price + abs(btc) * price * spot.fee

    def pnl_usdt(self) -> float:
        """The inventory marked at the spot price, plus the cash it cost."""
        return self.cash_usdt + self.btc * self.model.spot.price
