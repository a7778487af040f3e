"""What every trader agent shares: one exchange account and ways to size and send orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.model import MarketModel


class Trader(mesa.Agent):
    """A Mesa agent that owns one exchange account. Subclasses set ``population``."""

    population = "trader"

    def __init__(self, model: MarketModel, capital: float, leverage: int) -> None:
        super().__init__(model)
        self.exchange = model.exchange
        self.leverage = leverage
        deposit = model.exchange.instrument.micro(capital)
        self.account = model.exchange.open_account(deposit, leverage=leverage)
        self.initial_deposit = deposit
        model.population_of[self.account] = self.population

    @property
    def position(self) -> int:
        return self.exchange.accounts[self.account].position

    def lots(self, btc: float) -> int:
        """Whole lots for a BTC quantity (at least one)."""
        return max(1, self.exchange.instrument.lots(btc))

    def lots_for_margin(self, margin_micro: int) -> int:
        """Lots a margin buys at this account's leverage and the current mark."""
        ex = self.exchange
        return margin_micro * self.leverage // (ex.mark * ex.k)

    def market(self, side: int, lots: int, reduce_only: bool = False) -> int:
        """Send a market order protected ``model.market_protection`` away from the mark (like
        venues' percent-price filters); returns the lots filled."""
        if lots <= 0:
            return 0
        ex = self.exchange
        bound = round(ex.mark * (1 + side * self.model.market_protection))
        return ex.submit(
            self.account, side, lots, max(1, bound), kind="market", reduce_only=reduce_only
        ).filled

    def close_position(self) -> int:
        """Cancel everything and close the whole position at market."""
        self.exchange.cancel_all(self.account)
        position = self.position
        if not position:
            return 0
        return self.market(SELL if position > 0 else BUY, abs(position), reduce_only=True)
