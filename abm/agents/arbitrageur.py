"""Arbitrageurs: trade the perp against the index when the basis beats costs, lean into funding,
and keep deep resting bids and asks that catch liquidation orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.agents.trader import Trader
from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.config import ArbitrageurConfig
    from abm.model import MarketModel


class Arbitrageur(Trader):
    population = "arbitrageur"

    def __init__(self, model: MarketModel, config: ArbitrageurConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        self.config = config
        self.clip = self.lots(config.clip_btc)
        self.max_position = self.lots(config.max_position_btc)
        self.catch_anchor = 0
        self.catch_orders: list[int] = []

    def act(self) -> None:
        self.trade_basis()
        self.place_catch_orders()

    def trade_basis(self) -> None:
        """Sell a rich perp, buy a cheap one, lean into funding; unwind as the basis closes."""
        ex = self.exchange
        config = self.config
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        if bid is None or ask is None:
            return
        index = ex.index
        rich = (bid - index) * 10_000 / index
        cheap = (index - ask) * 10_000 / index
        funding = ex.prices.funding_rate() / 1e9
        position = self.position
        if (rich > config.basis_threshold_bps or funding > config.funding_threshold) and (
            position > -self.max_position
        ):
            ex.submit(self.account, SELL, self.clip, bid, kind="ioc")
        elif (cheap > config.basis_threshold_bps or funding < -config.funding_threshold) and (
            position < self.max_position
        ):
            ex.submit(self.account, BUY, self.clip, ask, kind="ioc")
        elif position and max(rich, cheap) < config.basis_threshold_bps / 3:
            side = SELL if position > 0 else BUY
            price = bid if side == SELL else ask
            lots = min(self.clip, abs(position))
            ex.submit(self.account, side, lots, price, kind="ioc", reduce_only=True)

    def place_catch_orders(self) -> None:
        """Deep bids and asks around the index, refreshed when the index has moved."""
        ex = self.exchange
        index = ex.index
        if self.catch_anchor and abs(index - self.catch_anchor) * 1_000 < index * 3:
            return
        for order_id in self.catch_orders:
            ex.cancel(self.account, order_id)
        self.catch_orders = []
        size = self.lots(self.config.catch_size_btc)
        for distance in self.config.catch_distances:
            for side in (BUY, SELL):
                price = round(index * (1 - side * distance))
                result = ex.submit(self.account, side, size, price, kind="post_only")
                if result.resting:
                    self.catch_orders.append(result.order_id)
        self.catch_anchor = index
