"""Per-tick series of a run, kept as columns and turned into a table at the end.

Prices, book, open interest and backstops are taken every tick; equity by population every
``run.equity_every_ticks`` ticks, null in between.

The liquidation map (where open positions' liquidation prices sit) is snapshotted every
``run.liquidation_map_every_ticks`` ticks and at the last tick, into its own columns
(``MAP_COLUMNS``, written as ``liquidation_map.parquet``). Each snapshot bins the liquidation
thresholds of the open positions, per side, on a fixed price grid: bins ``MAP_BIN_BPS`` of the
run's first mark wide (125 USDT at 50,000), aligned across snapshots so that they stack into a
heatmap, kept within ``MAP_WINDOW`` (15%) of the snapshot's mark. Only non-empty bins are stored.
So that each snapshot's sizes add up to the open interest, three kinds of rows sit beside the
bins: positions whose liquidation price is below the window (``price_bin_low_usdt`` 0, longs that no
positive price liquidates included), above it (``price_bin_high_usdt`` infinite, shorts that no price
liquidates included), and positions of system accounts that are never liquidated (both bounds
null). ``notional_usdt`` values a binned position at its own liquidation price, the others at
the snapshot's mark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.config import POPULATIONS
from abm.exchange import BUY, SELL, SystemAccount
from abm.outputs import LIQUIDATION_MAP, TICKS

if TYPE_CHECKING:
    from abm.model import MarketModel

COLUMNS = tuple(c.name for c in TICKS.columns if c.from_tick is None)
"""The recorded columns of ``ticks.parquet`` (its ``time`` is added when it is written)."""
MAP_COLUMNS = tuple(c.name for c in LIQUIDATION_MAP.columns if c.from_tick is None)
MAP_BIN_BPS = 25
"""Width of a liquidation-map price bin, in basis points of the run's first mark."""
MAP_WINDOW_PERCENT = 15
"""Bins are kept within this many percent of the snapshot's mark."""


class Recorder:
    """Collects the per-tick series of one model run."""

    def __init__(self, model: MarketModel) -> None:
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}
        self.every = model.config.run.equity_every_ticks
        self._events_seen = 0
        self._stops_seen = 0
        self.map_every = model.config.run.liquidation_map_every_ticks
        self.map_columns: dict[str, list] = {name: [] for name in MAP_COLUMNS}
        self.map_bin = MAP_BIN_BPS * model.exchange.map_bin_ticks
        """Liquidation-map bin width in price ticks, fixed for the run: a whole number of the
        exchange's own bins (1 bps of the first index), so that each holds whole bins."""

    def record(self, model: MarketModel) -> None:
        ex = model.exchange
        inst = ex.instrument
        price = inst.price
        c = self.columns
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        mid = ex.mark
        c["tick"].append(model.tick)
        c["elapsed_s"].append(model.tick * model.tick_seconds)
        c["fundamental_usdt"].append(model.fundamental.price(model.tick))
        c["index_usdt"].append(price(ex.index))
        c["mark_usdt"].append(price(ex.mark))
        c["last_usdt"].append(price(ex.last) if ex.last else None)
        c["best_bid_usdt"].append(price(bid) if bid is not None else None)
        c["best_ask_usdt"].append(price(ask) if ask is not None else None)
        c["spread_usdt"].append(price(ask - bid) if bid is not None and ask is not None else None)
        c["depth_bid_50bps_btc"].append(inst.btc(ex.book.depth_between(BUY, mid * 9_950 // 10_000)))
        c["depth_ask_50bps_btc"].append(
            inst.btc(ex.book.depth_between(SELL, mid * 10_050 // 10_000))
        )
        long_oi, short_oi = ex.open_interest()
        c["open_interest_long_btc"].append(inst.btc(long_oi))
        c["open_interest_short_btc"].append(inst.btc(short_oi))
        c["funding_rate"].append(ex.prices.funding_rate() / 1e9)
        counts = {"long": 0, "short": 0}
        notional = {"long": 0, "short": 0}
        rounds = adl = other = 0
        for event in ex.liquidations[self._events_seen :]:
            if event.side in counts:
                counts[event.side] += 1
                notional[event.side] += event.closed * event.mark * ex.k
                rounds = max(rounds, event.round + 1)
            for action in event.actions:
                if action.step == "adl":
                    adl += 1
                else:
                    other += 1
        self._events_seen = len(ex.liquidations)
        c["liquidations_long"].append(counts["long"])
        c["liquidations_short"].append(counts["short"])
        c["liquidated_notional_long_usdt"].append(inst.usdt(notional["long"]))
        c["liquidated_notional_short_usdt"].append(inst.usdt(notional["short"]))
        c["liquidation_rounds"].append(rounds)
        c["insurance_fund_usdt"].append(inst.usdt(ex.balance(SystemAccount.INSURANCE_FUND)))
        c["backstop_vault_usdt"].append(inst.usdt(ex.balance(SystemAccount.BACKSTOP_VAULT)))
        c["adl_actions"].append(adl)
        c["other_backstop_actions"].append(other)
        c["stops_triggered"].append(ex.stop_triggers - self._stops_seen)
        self._stops_seen = ex.stop_triggers
        c["wiped_out"].append(model.wiped_out)
        if model.tick % self.every == 0 or model.tick == model.ticks:
            equity = model.equity_by_population()
            for population, value in equity.items():
                c[f"equity_{population}_usdt"].append(inst.usdt(value))
            # Depth within 1% (the proportion real venues report against open interest): a
            # longer walk of the book, so on the equity cadence only.
            c["depth_bid_1pct_btc"].append(inst.btc(ex.book.depth_between(BUY, mid * 99 // 100)))
            c["depth_ask_1pct_btc"].append(inst.btc(ex.book.depth_between(SELL, mid * 101 // 100)))
        else:
            for population in POPULATIONS:
                c[f"equity_{population}_usdt"].append(None)
            c["depth_bid_1pct_btc"].append(None)
            c["depth_ask_1pct_btc"].append(None)
        if model.tick % self.map_every == 0 or model.tick == model.ticks:
            self.record_liquidation_map(model)

    def record_liquidation_map(self, model: MarketModel) -> None:
        """Snapshot the liquidation map: sizes per side and price bin (module docstring)."""
        ex = model.exchange
        inst = ex.instrument
        mark, k, width = ex.mark, ex.k, self.map_bin
        liquidation_map = ex.liquidation_map()
        thresholds, sizes, sides = (
            liquidation_map.bin_low,
            liquidation_map.lots,
            liquidation_map.side,
        )
        values = liquidation_map.threshold_lots
        first = mark * (100 - MAP_WINDOW_PERCENT) // 100 // width
        last = mark * (100 + MAP_WINDOW_PERCENT) // 100 // width
        low_edge, high_edge = first * width, (last + 1) * width
        open_interest = ex.open_interest()[0]
        rows: list[tuple[float | None, float | None, str, int, int]] = []
        for sign, side in ((1, "long"), (-1, "short")):
            mine = sides == sign
            t, q, tq = thresholds[mine], sizes[mine], values[mine]
            inside = (t >= low_edge) & (t < high_edge)
            bins, where = np.unique(t[inside] // width, return_inverse=True)
            lots = np.zeros(len(bins), dtype=np.int64)
            value = np.zeros(len(bins), dtype=np.int64)
            np.add.at(lots, where, q[inside])
            np.add.at(value, where, tq[inside])
            for b, n, v in zip(bins.tolist(), lots.tolist(), value.tolist(), strict=True):
                rows.append((inst.price(b * width), inst.price((b + 1) * width), side, n, v * k))
            below = int(q[t < low_edge].sum())
            above = int(q[t >= high_edge].sum())
            unmapped = open_interest - int(q.sum())
            if below:
                rows.append((0.0, inst.price(low_edge), side, below, below * mark * k))
            if above:
                rows.append((inst.price(high_edge), float("inf"), side, above, above * mark * k))
            if unmapped:
                rows.append((None, None, side, unmapped, unmapped * mark * k))
        c = self.map_columns
        for low, high, side, size, micro in rows:
            c["tick"].append(model.tick)
            c["mark_usdt"].append(inst.price(mark))
            c["price_bin_low_usdt"].append(low)
            c["price_bin_high_usdt"].append(high)
            c["side"].append(side)
            c["size_lots"].append(size)
            c["size_btc"].append(inst.btc(size))
            c["notional_usdt"].append(inst.usdt(micro))
