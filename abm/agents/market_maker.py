"""Market makers: ladders of quotes around a fair price with inventory skew (Avellaneda-Stoikov
style); spreads widen with volatility, and under stress quotes are pulled or widened, so that
liquidity can thin in a cascade. They earn the spread and maker rebates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.agents.trader import Trader
from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.config import MarketMakerConfig
    from abm.model import MarketModel


class MarketMaker(Trader):
    population = "market_maker"

    def __init__(self, model: MarketModel, config: MarketMakerConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        self.config = config
        self.quoted_fair = 0
        self.quoted_at = -(10**9)
        self.pulled = False
        self.size = self.lots(config.size_btc)
        self.inventory_limit = self.lots(config.inventory_limit_btc)

    def act(self) -> None:
        config = self.config
        market = self.model.market
        stressed = market.move_bps(config.vol_window_ticks) > config.stress_move_bps
        if stressed and self.model.rng.random() < config.stress_pull_probability:
            if not self.pulled:
                self.exchange.cancel_all(self.account)
                self.pulled = True
            return
        fair = self.fair_price()
        spacing = max(1, round(fair * config.level_spacing_bps / 10_000))
        stale = self.model.tick - self.quoted_at >= config.requote_ticks
        if self.pulled or stale or abs(fair - self.quoted_fair) * 2 >= spacing:
            self.quote(fair, spacing, stressed)

    def fair_price(self) -> int:
        """Index and last blended (``anchor_to_last``), skewed against inventory."""
        ex = self.exchange
        last = ex.last or ex.index
        anchor = ex.index + round(self.config.anchor_to_last * (last - ex.index))
        skew = self.config.inventory_skew_bps * self.position / self.inventory_limit
        return round(anchor * (1 - skew / 10_000))

    def quote(self, fair: int, spacing: int, stressed: bool) -> None:
        """Replace the ladder: ``levels`` post-only quotes a side; none on a side at its limit."""
        config = self.config
        ex = self.exchange
        vol = self.model.market.volatility_bps(config.vol_window_ticks)
        half = config.half_spread_bps + config.vol_widen * vol
        if stressed:
            half *= config.stress_widen
        offset = max(1, round(fair * half / 10_000))
        ex.cancel_all(self.account)
        position = self.position
        for level in range(config.levels):
            distance = offset + level * spacing
            if position < self.inventory_limit:
                ex.submit(self.account, BUY, self.size, fair - distance, kind="post_only")
            if position > -self.inventory_limit:
                ex.submit(self.account, SELL, self.size, fair + distance, kind="post_only")
        self.quoted_fair = fair
        self.quoted_at = self.model.tick
        self.pulled = False
