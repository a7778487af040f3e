"""Arbitrageurs: hold a perp leg and a spot leg. When the basis (perp against the index, the spot
price) beats their costs, or funding pays enough, they sell the rich market and buy the cheap one,
so perp flow reaches the spot venue, and with it the index and the mark; they unwind as the basis
closes. They also keep deep resting orders around the index that catch liquidation orders."""

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
        self.spot_btc = 0.0
        """The spot leg: BTC held (negative: borrowed and sold)."""
        self.spot_cash_usdt = 0.0
        """USDT paid (negative) or received for the spot leg, off the perp exchange's books."""

    def act(self) -> None:
        self.trade_basis()
        self.place_catch_orders()

    def trade_basis(self) -> None:
        """Sell a rich perp and buy spot, buy a cheap perp and sell spot, lean into funding;
        unwind both legs as the basis closes."""
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
            self.hedge(ex.submit(self.account, SELL, self.clip, bid, kind="ioc").filled, SELL)
        elif (cheap > config.basis_threshold_bps or funding < -config.funding_threshold) and (
            position < self.max_position
        ):
            self.hedge(ex.submit(self.account, BUY, self.clip, ask, kind="ioc").filled, BUY)
        elif position and max(rich, cheap) < config.basis_threshold_bps / 3:
            side = SELL if position > 0 else BUY
            price = bid if side == SELL else ask
            lots = min(self.clip, abs(position))
            filled = ex.submit(self.account, side, lots, price, kind="ioc", reduce_only=True)
            self.hedge(filled.filled, side)

    def hedge(self, lots: int, perp_side: int) -> None:
        """The spot leg of ``lots`` traded on the perp: the opposite trade on the spot venue, at
        the spot price before its impact."""
        if not lots:
            return
        btc = self.exchange.instrument.btc(lots) * -perp_side
        spot = self.model.spot
        self.spot_cash_usdt -= btc * spot.price
        self.spot_btc += btc
        spot.trade(btc)

    def spot_pnl_usdt(self) -> float:
        """The spot leg marked at the current spot price."""
        return self.spot_cash_usdt + self.spot_btc * self.model.spot.price

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
