"""Spot value traders: the rest of the spot market, as seen by the index. Each believes a value
of its own (late and off: :class:`~abm.agents.belief.Belief`) and holds a spot inventory made of
two parts: what it bought or sold on the news (how far its belief moved, whatever the price did)
and a position against the spot price's gap from its belief beyond a threshold (a demand curve:
so many BTC per bp). It moves part of the way to that target at each action, within a capacity
its capital allows.

So news reaches the price through their trading, while a move that came without news (someone's
forced selling) is met by a finite demand: it is absorbed, not erased, and what they absorbed
they keep, at a price that stays displaced (Kyle 1985; Donier and Bonart 2015 find about two
thirds of a Bitcoin metaorder's impact lasting). They are the only force that brings the spot,
and through it the index, towards the information, and they can run out of room."""

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
        self.last_value = self.belief.value()
        """The belief at the trader's last action: the news it has already traded on."""
        self.news_btc = 0.0
        """The part of the target inventory bought (positive) or sold on news so far."""
        self.btc = 0.0
        """Spot inventory (BTC; negative: sold short)."""
        self.cash_usdt = 0.0
        """USDT received (positive) or paid for the inventory, fees included."""

    def act(self) -> None:
        """Move part of the way (``adjust_share``, at most a clip) towards the target
        inventory: the news traded so far (:meth:`follow_news`) plus the position against the
        mispricing (:meth:`demand`), as far as the inventory stays within capacity."""
        spot = self.model.spot
        config = self.config
        price = spot.price
        value = self.belief.value()
        self.news_btc += self.follow_news(value)
        wanted = (self.news_btc + self.demand(price, value) - self.btc) * config.adjust_share
        btc = max(-config.clip_btc, min(config.clip_btc, wanted))
        btc = max(-self.capacity_btc - self.btc, min(self.capacity_btc - self.btc, btc))
        if abs(btc) < 1e-9:
            return
        spot.trade(btc)
        self.btc += btc
        self.cash_usdt -= btc * price + abs(btc) * price * spot.fee

    def follow_news(self, value: float) -> float:
        """BTC to add to the target for how far the belief moved since the last action:
        ``news_btc_per_bps`` per bp, bought when the news is good. It reads the change only, so
        a price that moved without news is not pushed back by it."""
        news_bps = math.log(value / self.last_value) * 10_000
        self.last_value = value
        return self.config.news_btc_per_bps * news_bps

    def demand(self, price: float, value: float) -> float:
        """The position (BTC) held against the spot's gap from the believed value beyond the
        threshold: ``btc_per_bps`` per bp beyond it, long below the value, short above. A
        finite demand: a displaced price is met by a finite position, not by trading until the
        gap closes."""
        gap_bps = (price / value - 1) * 10_000
        beyond = abs(gap_bps) - self.threshold_bps
        if beyond <= 0:
            return 0.0
        return -math.copysign(self.config.btc_per_bps * beyond, gap_bps)

    def pnl_usdt(self) -> float:
        """The inventory marked at the spot price, plus the cash it cost."""
        return self.cash_usdt + self.btc * self.model.spot.price
