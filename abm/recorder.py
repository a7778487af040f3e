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

from array import array
from typing import TYPE_CHECKING

import numpy as np

from abm.config import POPULATIONS
from abm.exchange import BUY, SELL, SystemAccount
from abm.exchange.units import MICRO
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


RAW_INTEGERS = (
    "tick",
    "index",
    "mark",
    "last",
    "best_bid",
    "best_ask",
    "depth_bid_50bps",
    "depth_ask_50bps",
    "open_interest_long",
    "open_interest_short",
    "funding_rate_ppb",
    "liquidations_long",
    "liquidations_short",
    "liquidated_notional_long",
    "liquidated_notional_short",
    "liquidation_rounds",
    "insurance_fund",
    "backstop_vault",
    "adl_actions",
    "other_backstop_actions",
    "stops_triggered",
    "wiped_out",
)
"""What :meth:`Recorder.record` keeps each tick, in the exchange's own integers (prices in
ticks, 0 for none; sizes in lots; money in micro-USDT; the funding rate in parts per billion)."""

CADENCED = (
    *(f"equity_{population}" for population in POPULATIONS),
    "depth_bid_1pct",
    "depth_ask_1pct",
)
"""What is kept on the equity cadence only (money in micro-USDT, sizes in lots)."""


class Recorder:
    """Collects the per-tick series of one model run: each tick appends the exchange's integers
    to typed arrays (no conversion, no dictionary lookups); :attr:`columns` turns them into the
    output's units, all at once, when read."""

    def __init__(self, model: MarketModel) -> None:
        self.raw = {name: array("q") for name in RAW_INTEGERS}
        self.fundamental = array("d")
        self.cadence_rows = array("q")
        """The rows (tick positions) at which :data:`CADENCED` was taken."""
        self.cadenced = {name: array("q") for name in CADENCED}
        self.appenders = tuple(self.raw[name].append for name in RAW_INTEGERS)
        self.instrument = model.exchange.instrument
        self.tick_seconds = model.tick_seconds
        self.every = model.config.run.equity_every_ticks
        self._events_seen = 0
        self._stops_seen = 0
        self.map_every = model.config.run.liquidation_map_every_ticks
        self.map_columns: dict[str, list] = {name: [] for name in MAP_COLUMNS}
        self.map_bin = MAP_BIN_BPS * model.exchange.map_bin_ticks
        """Liquidation-map bin width in price ticks, fixed for the run: a whole number of the
        exchange's own bins (1 bps of the first index), so that each holds whole bins."""

    def record(self, model: MarketModel) -> None:
        """Take this tick's row (and, on the cadence, equity and depth within 1%)."""
        ex = model.exchange
        book = ex.book
        bid, ask = book.best_bid(), book.best_ask()
        mid = ex.mark
        long_oi, short_oi = ex.open_interest()
        liq_long = liq_short = notional_long = notional_short = rounds = adl = other = 0
        for event in ex.liquidations[self._events_seen :]:
            if event.side == "long":
                liq_long += 1
                notional_long += event.closed * event.mark * ex.k
                rounds = max(rounds, event.round + 1)
            elif event.side == "short":
                liq_short += 1
                notional_short += event.closed * event.mark * ex.k
                rounds = max(rounds, event.round + 1)
            for action in event.actions:
                if action.step == "adl":
                    adl += 1
                else:
                    other += 1
        self._events_seen = len(ex.liquidations)
        balances = ex.ledger.balances
        values = (
            model.tick,
            ex.index,
            mid,
            ex.last,
            bid or 0,
            ask or 0,
            book.depth_between(BUY, mid * 9_950 // 10_000),
            book.depth_between(SELL, mid * 10_050 // 10_000),
            long_oi,
            short_oi,
            ex.prices.funding_rate(),
            liq_long,
            liq_short,
            notional_long,
            notional_short,
            rounds,
            balances[SystemAccount.INSURANCE_FUND],
            balances[SystemAccount.BACKSTOP_VAULT],
            adl,
            other,
            ex.stop_triggers - self._stops_seen,
            model.wiped_out,
        )
        for append, value in zip(self.appenders, values, strict=True):
            append(value)
        self._stops_seen = ex.stop_triggers
        self.fundamental.append(model.fundamental.price(model.tick))
        if model.tick % self.every == 0 or model.tick == model.ticks:
            self.cadence_rows.append(len(self.fundamental) - 1)
            cadenced = self.cadenced
            for population, value in model.equity_by_population().items():
                cadenced[f"equity_{population}"].append(value)
            # Depth within 1% (the proportion real venues report against open interest): a
            # longer walk of the book, so on the equity cadence only.
            cadenced["depth_bid_1pct"].append(book.depth_between(BUY, mid * 99 // 100))
            cadenced["depth_ask_1pct"].append(book.depth_between(SELL, mid * 101 // 100))
        if model.tick % self.map_every == 0 or model.tick == model.ticks:
            self.record_liquidation_map(model)

    @property
    def columns(self) -> dict[str, list]:
        """The recorded columns of ``ticks.parquet`` in its units (:data:`COLUMNS`; None where a
        price is missing, and off the equity cadence), converted from the raw integers at once.
        Each value equals the scalar conversion of :class:`~abm.exchange.Instrument` (whose
        methods take whole numbers in the compiled core, so the same arithmetic is written here
        for arrays)."""
        raw = {name: np.frombuffer(values, dtype=np.int64) for name, values in self.raw.items()}
        inst = self.instrument
        rows = len(raw["tick"])

        def prices(ticks: np.ndarray) -> np.ndarray:
            return ticks * inst.tick_micro / MICRO

        def lots_to_btc(lots: np.ndarray) -> np.ndarray:
            return lots * inst.lots_per_btc_inverse

        def nullable(values: np.ndarray, present: np.ndarray) -> list:
            return [
                v if p else None for v, p in zip(values.tolist(), present.tolist(), strict=True)
            ]

        def cadenced(values: np.ndarray) -> list:
            full: list = [None] * rows
            for row, value in zip(self.cadence_rows.tolist(), values.tolist(), strict=True):
                full[row] = value
            return full

        bid, ask = raw["best_bid"], raw["best_ask"]
        both = (bid > 0) & (ask > 0)
        columns = {
            "tick": raw["tick"].tolist(),
            "elapsed_s": (raw["tick"] * self.tick_seconds).tolist(),
            "fundamental_usdt": self.fundamental.tolist(),
            "index_usdt": prices(raw["index"]).tolist(),
            "mark_usdt": prices(raw["mark"]).tolist(),
            "last_usdt": nullable(prices(raw["last"]), raw["last"] > 0),
            "best_bid_usdt": nullable(prices(bid), bid > 0),
            "best_ask_usdt": nullable(prices(ask), ask > 0),
            "spread_usdt": nullable(prices(ask - bid), both),
            "depth_bid_50bps_btc": lots_to_btc(raw["depth_bid_50bps"]).tolist(),
            "depth_ask_50bps_btc": lots_to_btc(raw["depth_ask_50bps"]).tolist(),
            "open_interest_long_btc": lots_to_btc(raw["open_interest_long"]).tolist(),
            "open_interest_short_btc": lots_to_btc(raw["open_interest_short"]).tolist(),
            "funding_rate": (raw["funding_rate_ppb"] / 1e9).tolist(),
            "liquidated_notional_long_usdt": (raw["liquidated_notional_long"] / MICRO).tolist(),
            "liquidated_notional_short_usdt": (raw["liquidated_notional_short"] / MICRO).tolist(),
            "insurance_fund_usdt": (raw["insurance_fund"] / MICRO).tolist(),
            "backstop_vault_usdt": (raw["backstop_vault"] / MICRO).tolist(),
        }
        for name in (
            "liquidations_long",
            "liquidations_short",
            "liquidation_rounds",
            "adl_actions",
            "other_backstop_actions",
            "stops_triggered",
            "wiped_out",
        ):
            columns[name] = raw[name].tolist()
        kept = {name: np.frombuffer(v, dtype=np.int64) for name, v in self.cadenced.items()}
        for population in POPULATIONS:
            columns[f"equity_{population}_usdt"] = cadenced(kept[f"equity_{population}"] / MICRO)
        for side in ("bid", "ask"):
            columns[f"depth_{side}_1pct_btc"] = cadenced(lots_to_btc(kept[f"depth_{side}_1pct"]))
        return {name: columns[name] for name in COLUMNS}

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
