"""Value traders on the perp: each believes a value of its own (the information, late by its
delay and off by an error that wanders: :class:`~abm.agents.belief.Belief`) and leans against
the perp's deviation from it beyond a threshold, with a position that grows with the deviation
up to what its capital and leverage carry. They slow a run of the price; they cannot stop one
bigger than their capital, and they can be liquidated like anyone else."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.belief import Belief
from abm.agents.trader import Trader
from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.config import FundamentalTraderConfig
    from abm.model import MarketModel


class FundamentalTrader(Trader):
    population = "fundamental"

    def __init__(self, model: MarketModel, config: FundamentalTraderConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        rng = model.rng
        self.config = config
        self.belief = Belief.drawn(
            model, config.delay_seconds, config.estimate_error_bps, config.error_half_life_minutes
        )
        self.threshold_bps = rng.uniform(config.threshold_bps.low, config.threshold_bps.high)
        self.max_position = self.capacity_lots(config.capital_use)
        self.clip = self.lots(config.clip_btc)
        self.rebalance = model.exchange.instrument.lots(config.rebalance_btc)

    def value_estimate(self) -> float:
        """This trader's belief about the value (USDT)."""
        return self.belief.value()

    def act(self) -> None:
        """Trade towards the target position (against the mispricing beyond the threshold), unless
        the position is already within ``rebalance_btc`` of it."""
        ex = self.exchange
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        if bid is None or ask is None:
            return
        value = ex.instrument.ticks(self.value_estimate())
        mid = (bid + ask) / 2
        gap_bps = (mid - value) * 10_000 / value
        beyond = max(0.0, abs(gap_bps) - self.threshold_bps)
        target = -math.copysign(1, gap_bps) * self.config.btc_per_bps * beyond
        wanted = ex.instrument.lots(target)
        target_lots = max(-self.max_position, min(self.max_position, wanted))
        delta = target_lots - self.position
        if not delta or abs(delta) < self.rebalance:
            return
        lots = min(abs(delta), self.clip)
        side = BUY if delta > 0 else SELL
        price = ask if side == BUY else bid
        if (side == BUY and price > value) or (side == SELL and price < value):
            return
        reduces = self.position * side < 0
        ex.submit(self.account, side, lots, price, kind="ioc", reduce_only=reduces and not target)
