"""Market makers: ladders of quotes on both sides around their own fair value, Avellaneda-Stoikov
style. Fair value comes from what a maker sees, never the information process: the book's mid
(so trades that move the book move it), pulled ``index_weight`` of the way towards the index
plus the basis the book has carried lately, moved with recent net taker flow, and skewed against
its own inventory. A maker requotes when the index or its fair value moves, and at least every
``requote_ticks``. It watches its own results: when it loses money (picked off by better-informed
flow, or caught by a run) it widens and thins its quotes in proportion, and returns as the
losses fade from its memory. Inventory is managed by skewing the quotes and shrinking the side
that would grow it, never by leaving a side empty; spreads widen with volatility, and in stress
quotes widen and shrink. They earn the spread and the maker rebate of the venue's market-maker
fee tier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.agents.trader import Trader

if TYPE_CHECKING:
    from abm.config import MarketMakerConfig
    from abm.model import MarketModel


class MarketMaker(Trader):
    population = "market_maker"
    fee_tier = "market_maker"

    def __init__(self, model: MarketModel, config: MarketMakerConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        self.config = config
        self.quoted_fair = 0
        self.quoted_index = 0
        self.quoted_at = -(10**9)
        self.size = self.lots(config.size_btc)
        self.inventory_limit = self.lots(config.inventory_limit_btc)
        self.basis = 0.0
        self.distances: dict[int, list[int]] = {}
        self.mid = float(model.exchange.index)
        self.basis_keep = 0.5 ** (model.tick_seconds / config.basis_half_life_seconds)
        self.loss_keep = 0.5 ** (model.tick_seconds / (config.loss_memory_minutes * 60))
        self.equity_seen = self.initial_deposit
        self.pnl_rate = 0.0
        """Exponentially weighted change of equity per tick (micro-USDT; negative: losing)."""
        self.loss_tolerance = (
            self.initial_deposit * config.loss_tolerance_per_hour * model.tick_seconds / 3_600
        )
        """The loss per tick at which the maker's caution reaches 1."""

    def act(self) -> None:
        """Follow the basis and its own results, then requote when the index or the fair value
        has moved, or the quotes are old."""
        config = self.config
        self.mid = self.watch_basis()
        self.watch_results()
        stressed = self.model.market.move_bps(config.vol_window_ticks) > config.stress_move_bps
        fair = self.fair_price()
        index = self.exchange.index
        move = config.requote_move_bps / 10_000
        stale = self.model.tick - self.quoted_at >= config.requote_ticks
        moved = (
            abs(fair - self.quoted_fair) >= fair * move
            or abs(index - self.quoted_index) >= index * move
        )
        if stale or moved:
            self.quote(fair, stressed)

    def watch_basis(self) -> float:
        """The book's mid (the best price of the side left when the other is empty; the last
        price, or the index, when both are), and its exponentially weighted basis over the
        index."""
        ex = self.exchange
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        if bid is None or ask is None:
            return float(bid or ask or ex.last or ex.index)
        mid = (bid + ask) / 2
        basis = (mid - ex.index) / ex.index
        self.basis = self.basis_keep * self.basis + (1 - self.basis_keep) * basis
        return mid

    def watch_results(self) -> None:
        """Fold this tick's change of equity (fills, fees, inventory marked to the mark) into
        the remembered rate of profit or loss."""
        equity = self.exchange.equity(self.account)
        change, self.equity_seen = equity - self.equity_seen, equity
        self.pnl_rate = self.loss_keep * self.pnl_rate + (1 - self.loss_keep) * change

    def caution(self) -> float:
        """How hard recent losses bite: 0 while the maker earns, 1 at a loss rate of
        ``loss_tolerance_per_hour`` of its capital, more beyond."""
        return max(0.0, -self.pnl_rate) / self.loss_tolerance

    def fair_price(self) -> int:
        """The mid, pulled ``index_weight`` of the way to the index plus the remembered basis,
        moved with recent net taker flow, skewed against inventory (``inventory_skew_bps`` at
        the inventory limit, more beyond it)."""
        config = self.config
        anchor = self.exchange.index * (1 + self.basis)
        reference = self.mid + config.index_weight * (anchor - self.mid)
        flow = config.flow_bps_per_btc * self.model.market.taker_flow_btc
        skew = config.inventory_skew_bps * self.position / self.inventory_limit
        return round(reference * (1 + (flow - skew) / 10_000))

    def quote(self, fair: int, stressed: bool) -> None:
        """Replace the ladder: ``levels`` post-only quotes on each side (level ``i`` at
        ``level_spacing_bps`` x i^``level_spacing_power`` beyond the first), the side that would grow
        inventory smaller (never empty); wider and thinner with volatility, stress and recent
        losses."""
        config = self.config
        ex = self.exchange
        vol = self.model.market.volatility_bps(config.vol_window_ticks)
        caution = min(self.caution(), config.stress_widen - 1)
        half = (config.half_spread_bps + config.vol_widen * vol) * (1 + caution)
        size = self.size / (1 + caution)
        if stressed:
            half *= config.stress_widen
            size *= config.stress_size_share
        offset = max(1, round(fair * half / 10_000))
        spacing = max(1, round(fair * config.level_spacing_bps / 10_000))
        load = self.position / self.inventory_limit
        floor = config.min_size_share
        buy_size = max(1, round(size * min(2.0, max(floor, 1 - load))))
        sell_size = max(1, round(size * min(2.0, max(floor, 1 + load))))
        ex.requote_ladder(
            self.account,
            fair - offset,
            fair + offset,
            buy_size,
            sell_size,
            self.ladder_distances(spacing),
        )
        self.quoted_fair = fair
        self.quoted_index = ex.index
        self.quoted_at = self.model.tick

    def ladder_distances(self, spacing: int) -> list[int]:
        """Ticks from the top of the ladder to each level (level ``i`` at
        ``spacing`` x i^``level_spacing_power``), remembered per spacing."""
        distances = self.distances.get(spacing)
        if distances is None:
            power = self.config.level_spacing_power
            distances = [round(spacing * level**power) for level in range(self.config.levels)]
            self.distances[spacing] = distances
        return distances
