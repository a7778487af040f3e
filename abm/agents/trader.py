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

    fee_tier = "standard"

    def __init__(
        self, model: MarketModel, capital: float, leverage: int, cross: bool | None = None
    ) -> None:
        """An account with ``capital`` USDT at ``leverage``, or at the rulebook's cap when the
        trader wanted more (a leverage-cap policy binds every population); margin mode
        ``cross`` (None: the rulebook's default)."""
        super().__init__(model)
        self.exchange = model.exchange
        self.wanted_leverage = int(leverage)
        leverage = min(int(leverage), model.exchange.max_leverage)
        self.leverage = leverage
        self.capital = capital
        """The capital drawn for the trader, USDT (its first deposit)."""
        deposit = model.exchange.instrument.micro(capital)
        self.account = model.exchange.open_account(
            deposit, leverage=leverage, cross=cross, fee_tier=self.fee_tier, group=self.population
        )
        self.initial_deposit = deposit
        model.population_of[self.account] = self.population

    @property
    def position(self) -> int:
        return self.exchange.accounts[self.account].position

    def lots(self, btc: float) -> int:
        """Whole lots for a BTC quantity (at least one)."""
        return max(1, self.exchange.instrument.lots(btc))

    def capacity_lots(self, capital_use: float) -> int:
        """The largest position ``capital_use`` of the capital carries at this account's
        leverage, in lots at the index (at least one): a value trader's or an arbitrageur's
        limit."""
        ex = self.exchange
        return self.lots(self.capital * self.leverage * capital_use / ex.instrument.price(ex.index))

    def lots_for_margin(self, margin_micro: int) -> int:
        """Lots a margin buys at this account's leverage and the current mark, no more than the
        margin tiers allow at that leverage (a trader at 125x sizes down to the first tier's
        notional cap rather than sending an order the exchange refuses whole)."""
        ex = self.exchange
        lots = margin_micro * self.leverage // (ex.mark * ex.k)
        return min(lots, self.lots_within_tier())

    def lots_within_tier(self) -> int:
        """Lots of new exposure the tier of this leverage still allows at the mark, counting the
        position and open orders (the exchange's leverage-cap check, with 1% of room for the
        price a market order fills at)."""
        ex = self.exchange
        account = ex.accounts[self.account]
        cap = ex.brackets.notional_cap_for(self.leverage)
        held = abs(account.position) + max(account.open_buy_qty, account.open_sell_qty)
        return max(0, cap * 100 // (101 * ex.mark * ex.k) - held)

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
