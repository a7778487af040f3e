"""Arbitrageurs: hold a perp leg and a spot leg with finite capital. When the basis (perp against
the index, the spot price) beats the cost of a round trip on both venues at their own fee tier,
or funding pays enough, they sell the rich market and buy the cheap one, so perp flow reaches
the spot venue, and with it the index and the mark; they unwind as the basis closes, unless
funding pays them to carry. They also keep deep resting orders around the index that catch
liquidation orders. Their profit includes the spot leg (:meth:`Arbitrageur.spot_pnl_usdt`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.agents.trader import Trader
from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.config import ArbitrageurConfig
    from abm.model import MarketModel


class Arbitrageur(Trader):
    population = "arbitrageur"
    fee_tier = "market_maker"
    """Arbitrage desks trade at a venue's top tier: its market-maker (liquidity provider)
    programme, whose taker fee is the VIP 9 rate."""

    def __init__(self, model: MarketModel, config: ArbitrageurConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        self.config = config
        self.clip = self.lots(config.clip_btc)
        self.max_position = self.capacity_lots(config.capital_use)
        self.catch_anchor = 0
        self.catch_orders: list[int] = []
        self.spot_btc = 0.0
        """The spot leg: BTC held (negative: borrowed and sold)."""
        self.spot_cash_usdt = 0.0
        """USDT paid (negative) or received for the spot leg, spot fees included, off the perp
        exchange's books."""
        taker_ppm = model.exchange.fee_tiers[self.fee_tier][1]
        self.entry_bps = 2 * (taker_ppm / 100 + model.spot.fee * 10_000) + config.edge_bps
        """The basis that pays for a round trip on both legs (enter and unwind, taker on each
        venue) plus the desk's required edge."""

    def act(self) -> None:
        self.trade_basis()
        self.place_catch_orders()

    def trade_basis(self) -> None:
        """Sell a rich perp and buy spot, buy a cheap perp and sell spot, lean into funding;
        unwind both legs as the basis closes, unless funding pays for carrying them."""
        ex = self.exchange
        config = self.config
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        if bid is None or ask is None:
            return
        index = ex.index
        rich = (bid - index) * 10_000 / index
        cheap = (index - ask) * 10_000 / index
        basis = ((bid + ask) / 2 - index) * 10_000 / index
        funding = ex.prices.funding_rate() / 1e9
        position = self.position
        if (rich > self.entry_bps or funding > config.funding_threshold) and (
            position > -self.max_position
        ):
            self.hedge(ex.submit(self.account, SELL, self.clip, bid, kind="ioc").filled, SELL)
        elif (cheap > self.entry_bps or funding < -config.funding_threshold) and (
            position < self.max_position
        ):
            self.hedge(ex.submit(self.account, BUY, self.clip, ask, kind="ioc").filled, BUY)
        elif (
            position < 0 and basis < config.exit_bps and funding < config.funding_threshold / 2
        ) or (
            position > 0 and -basis < config.exit_bps and funding > -config.funding_threshold / 2
        ):
            side = SELL if position > 0 else BUY
            price = bid if side == SELL else ask
            lots = min(self.clip, abs(position))
            filled = ex.submit(self.account, side, lots, price, kind="ioc", reduce_only=True)
            self.hedge(filled.filled, side)

    def hedge(self, lots: int, perp_side: int) -> None:
        """The spot leg of ``lots`` traded on the perp: the opposite trade on the spot venue, at
        the spot price before its impact, paying the spot fee."""
        if not lots:
            return
        btc = self.exchange.instrument.btc(lots) * -perp_side
        spot = self.model.spot
        price = spot.price
        self.spot_cash_usdt -= btc * price + abs(btc) * price * spot.fee
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
