"""Every output column of a run folder, declared once: name, Arrow type, unit and meaning.

This module is the one source of truth for the run folder's tables. The Parquet schemas are
built from it (each field carries ``{"unit": ..., "description": ...}`` as field metadata and
each file a table-level ``description``), the CSVs of the flow layer keep its column order, and
``docs/outputs.md`` is generated from it and from the sweep metrics' docstrings::

    python -m abm.outputs > docs/outputs.md

Conventions, the same in every file:

- a unit suffix on every measured column: ``_usdt`` (float USDT, for reading), ``_micro_usdt``
  (exact int64 micro-USDT, 1 USDT = 1,000,000, the model's own money), ``_btc``, ``_lots``,
  ``_ticks`` (integer price ticks), ``_bps``, ``_s``; counts, ids and flags stay plain;
- a ``time`` column (UTC, milliseconds) beside every tick, counted from ``run.start_time``
  at ``run.tick_seconds`` per tick (``start_time``/``end_time`` beside ``start_tick``/
  ``end_tick``);
- categories as dictionary columns (pandas reads them as categoricals), nulls where a value
  does not exist or does not apply (never a sentinel such as ``""`` or ``-1``), lists as lists;
- nullable types: an integer or boolean column that holds nulls (a retail trait that other
  populations do not have, such as ``times_wiped_out`` or ``uses_stop`` in
  ``accounts.parquet``) comes out of a plain ``pd.read_parquet`` as
  ``float64`` (integers, nulls as NaN) or ``object`` (booleans, nulls as None), because numpy has
  no missing integer or boolean. ``pd.read_parquet(path, dtype_backend="pyarrow")`` (or
  ``"numpy_nullable"``) keeps them ``int64[pyarrow]``/``bool[pyarrow]`` with ``<NA>``; the
  file's own type is the one listed below.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abm.config import POPULATIONS

INT = pa.int64()
FLOAT = pa.float64()
BOOL = pa.bool_()
CATEGORY = pa.dictionary(pa.int8(), pa.string())
"""A categorical column: a dictionary of strings (a pandas categorical when read)."""
TIME = pa.timestamp("ms", tz="UTC")
TEXT_LIST = pa.list_(pa.string())

DEFAULT_START = "2024-01-01T00:00:00Z"
"""``run.start_time`` of a run whose manifest predates it or names none (a generated path)."""


@dataclass(frozen=True)
class Column:
    """One output column. ``from_tick`` names the tick column a time column is computed from."""

    name: str
    type: pa.DataType
    unit: str
    description: str
    from_tick: str | None = None

    def field(self) -> pa.Field:
        metadata = {"unit": self.unit, "description": self.description}
        return pa.field(self.name, self.type, metadata=metadata)


@dataclass(frozen=True)
class Output:
    """One file of a run folder: its name, what a row is, and its columns (in file order)."""

    file: str
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema with every column's unit and meaning, and the file's description."""
        return pa.schema(
            [c.field() for c in self.columns],
            metadata={"file": self.file, "description": self.description},
        )

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Clock:
    """Turns ticks into UTC times: ``start`` plus ``tick x tick_seconds``."""

    start: datetime
    tick_seconds: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping) -> Clock:
        """The clock of a resolved run config (a manifest's ``config`` dict); the default start
        and 1-second ticks for what the config does not say."""
        run = config.get("run", {}) if config else {}
        start = run.get("start_time") or DEFAULT_START
        return cls(datetime.fromisoformat(start), float(run.get("tick_seconds", 1.0)))

    def times(self, ticks: object) -> pa.Array:
        """UTC timestamps (ms) of the given ticks; nulls stay null."""
        ticks = pa.array(ticks, type=INT) if not isinstance(ticks, pa.Array) else ticks
        start_ms = round(self.start.astimezone(UTC).timestamp() * 1000)
        step_ms = self.tick_seconds * 1000
        mask = ticks.is_null().to_numpy(zero_copy_only=False) if ticks.null_count else None
        values = ticks.fill_null(0).to_numpy()
        if step_ms.is_integer():  # whole milliseconds a tick: exact integer arithmetic
            ms = start_ms + values * int(step_ms)
        else:
            ms = start_ms + np.rint(values * step_ms).astype(np.int64)
        return pa.array(ms, type=TIME, mask=mask)


def arrow(values: object, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``values`` (a list, numpy array, pandas Series or Arrow array) as an Arrow array of
    ``type_``; strings become dictionary columns by a cast."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if values.type == type_ else values.cast(type_)
    if isinstance(values, pd.Series):
        values = pa.Array.from_pandas(values)
        return values if values.type == type_ else values.cast(type_)
    if pa.types.is_dictionary(type_):
        return pa.array(values, type=type_.value_type).cast(type_)
    return pa.array(values, type=type_)


def build(output: Output, columns: Mapping[str, object], clock: Clock) -> pa.Table:
    """A table of ``output`` from its columns (any of :func:`arrow`'s inputs), its time
    columns computed from their ticks with ``clock``, with the declared schema."""
    arrays = []
    for column in output.columns:
        if column.from_tick is not None:
            arrays.append(clock.times(arrow(columns[column.from_tick], INT)))
        else:
            arrays.append(arrow(columns[column.name], column.type))
    return pa.Table.from_arrays(arrays, schema=output.schema)


def write_parquet(table: pa.Table, where: object) -> None:
    """Write ``table`` as Parquet (to a path or file) the way every run file is written:
    zstd; delta coding for integer and time columns that never decrease (ticks, times, event
    ids: a few bits a row); dictionary pages for the other categories and ids (they repeat);
    everything else (money, prices, sizes) plain. The bytes depend on the table alone, so
    reruns are byte-identical."""
    delta = {}
    for column in table.schema:
        if pa.types.is_integer(column.type) or pa.types.is_timestamp(column.type):
            values = table.column(column.name)
            if values.null_count == 0 and len(values) > 1:
                ints = values.cast(INT).to_numpy()
                if (ints[1:] >= ints[:-1]).all():
                    delta[column.name] = "DELTA_BINARY_PACKED"
    pq.write_table(
        table,
        where,
        compression="zstd",
        use_dictionary=[
            c.name
            for c in table.schema
            if c.name not in delta
            and (pa.types.is_dictionary(c.type) or (c.metadata or {}).get(b"unit") == b"id")
        ],
        column_encoding=delta or None,
    )


def frame_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """A DataFrame's columns as a mapping for :func:`build`."""
    return {name: frame[name] for name in frame.columns}


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A table read from Parquet with its categorical columns as plain strings (nulls kept),
    so that computing over it (``fillna``, ``map``, ``concat``) is not held to the categories."""
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(frame[name].cat.categories.dtype)
    return frame


def _c(name: str, type_: pa.DataType, unit: str, description: str) -> Column:
    return Column(name, type_, unit, description)


def _time(name: str, tick: str) -> Column:
    return Column(
        name, TIME, "UTC", f"UTC time of `{tick}` (run.start_time + tick x run.tick_seconds)", tick
    )


USDT, MICRO_USDT, BTC, LOTS, PRICE_TICKS = "USDT", "micro-USDT", "BTC", "lots", "price ticks"
COUNT, ID, FLAG, CATEGORY_UNIT, TICK = "count", "id", "flag", "category", "tick"

TICK_COLUMN = _c("tick", INT, TICK, "simulation tick (0 is the opening state)")
TIME_COLUMN = _time("time", "tick")
POPULATION_VALUES = (
    "retail, whale, market_maker, arbitrageur, fundamental; system accounts: exchange, "
    "insurance_fund, backstop_vault, external"
)

TICKS = Output(
    "ticks.parquet",
    "One row per tick: prices, the book, open interest, funding, liquidations, the backstops "
    "and equity by population (every run.equity_every_ticks ticks, null in between).",
    (
        TICK_COLUMN,
        TIME_COLUMN,
        _c("elapsed_s", FLOAT, "s", "simulated seconds since tick 0"),
        _c("fundamental_usdt", FLOAT, USDT, "the fundamental value the world supplies"),
        _c("index_usdt", FLOAT, USDT, "index price (the spot venue)"),
        _c("mark_usdt", FLOAT, USDT, "mark price (it triggers liquidations)"),
        _c("last_usdt", FLOAT, USDT, "last traded price (null before the first trade)"),
        _c("best_bid_usdt", FLOAT, USDT, "best bid (null with the bid side empty)"),
        _c("best_ask_usdt", FLOAT, USDT, "best ask (null with the ask side empty)"),
        _c("spread_usdt", FLOAT, USDT, "best ask minus best bid (null with a side empty)"),
        _c("depth_bid_50bps_btc", FLOAT, BTC, "bids within 50 bps below the mark"),
        _c("depth_ask_50bps_btc", FLOAT, BTC, "asks within 50 bps above the mark"),
        _c(
            "depth_bid_1pct_btc",
            FLOAT,
            BTC,
            "bids within 1% below the mark (every run.equity_every_ticks ticks, null in between)",
        ),
        _c(
            "depth_ask_1pct_btc",
            FLOAT,
            BTC,
            "asks within 1% above the mark (every run.equity_every_ticks ticks, null in between)",
        ),
        _c("open_interest_long_btc", FLOAT, BTC, "open long positions"),
        _c("open_interest_short_btc", FLOAT, BTC, "open short positions (equal to the long)"),
        _c(
            "funding_rate",
            FLOAT,
            "fraction per funding interval",
            "funding rate the next settlement would pay now (0.0001 = 0.01% per interval; "
            "longs pay shorts when positive)",
        ),
        _c("liquidations_long", INT, COUNT, "long positions liquidated this tick"),
        _c("liquidations_short", INT, COUNT, "short positions liquidated this tick"),
        _c(
            "liquidated_notional_long_usdt",
            FLOAT,
            USDT,
            "notional closed by this tick's long liquidations, at each one's mark",
        ),
        _c(
            "liquidated_notional_short_usdt",
            FLOAT,
            USDT,
            "notional closed by this tick's short liquidations, at each one's mark",
        ),
        _c("liquidation_rounds", INT, COUNT, "liquidation rounds this tick (cascade depth)"),
        _c("insurance_fund_usdt", FLOAT, USDT, "insurance fund balance"),
        _c("backstop_vault_usdt", FLOAT, USDT, "backstop vault balance"),
        _c("adl_actions", INT, COUNT, "auto-deleveraging actions this tick"),
        _c("other_backstop_actions", INT, COUNT, "other backstop actions this tick"),
        _c("stops_triggered", INT, COUNT, "stop orders triggered this tick"),
        _c("wiped_out", INT, COUNT, "retail wipe-outs so far (cumulative)"),
        *(
            _c(
                f"equity_{p}_usdt",
                FLOAT,
                USDT,
                f"equity (balance plus unrealized PnL) of all {p} accounts; null between samples",
            )
            for p in POPULATIONS
        ),
    ),
)

FILLS = Output(
    "fills.parquet",
    "One row per fill (a trade between two accounts, or an ADL, takeover or unwind transfer of "
    "a position).",
    (
        TICK_COLUMN,
        TIME_COLUMN,
        _c("event_id", INT, ID, "the engine event of the fill (shared with transfers)"),
        _c("buyer", INT, ID, "buying account"),
        _c("seller", INT, ID, "selling account"),
        _c("qty_lots", INT, LOTS, "size, exact"),
        _c("price_ticks", INT, PRICE_TICKS, "price, exact"),
        _c("qty_btc", FLOAT, BTC, "size"),
        _c("price_usdt", FLOAT, USDT, "price"),
        _c("aggressor", CATEGORY, CATEGORY_UNIT, "the taker's side: buy or sell"),
        _c(
            "kind",
            CATEGORY,
            CATEGORY_UNIT,
            "normal, liquidation (a liquidation order), adl, takeover (backstop vault), unwind "
            "(insurance fund)",
        ),
    ),
)

TRANSFERS = Output(
    "transfers.parquet",
    "The ledger: one row per transfer of money between two accounts, in log order; every "
    "balance is the sum of its transfers.",
    (
        TICK_COLUMN,
        TIME_COLUMN,
        _c("src", INT, ID, "paying account"),
        _c("dst", INT, ID, "receiving account"),
        _c("amount_micro_usdt", INT, MICRO_USDT, "amount, exact and positive"),
        _c(
            "cause",
            CATEGORY,
            CATEGORY_UNIT,
            "why the money moved: deposit, withdrawal, trade_pnl, fee, maker_rebate, funding, "
            "clearance_fee, insurance_surplus, insurance_payout, adl, backstop_takeover, "
            "socialized_loss, debt",
        ),
        _c("event_id", INT, ID, "the engine event (fills and liquidations share it)"),
    ),
)

LIQUIDATIONS = Output(
    "liquidations.parquet",
    "One row per liquidation event, or deficit resolution (qty_lots 0: a position closed below "
    "zero in an ordinary trade, covered later; it has no side and no bankruptcy price).",
    (
        _c("event_id", INT, ID, "the engine event"),
        TICK_COLUMN,
        TIME_COLUMN,
        _c("round", INT, COUNT, "liquidation round within the tick (0 first)"),
        _c("account", INT, ID, "liquidated account"),
        _c("population", CATEGORY, CATEGORY_UNIT, "population of the account"),
        _c("side", CATEGORY, CATEGORY_UNIT, "long or short (null for a deficit resolution)"),
        _c("qty_lots", INT, LOTS, "position size when liquidated"),
        _c("closed_lots", INT, LOTS, "size closed (less than qty_lots when partial)"),
        _c("partial", BOOL, FLAG, "whether only part of the position was closed"),
        _c("mark_ticks", INT, PRICE_TICKS, "mark price at the liquidation, exact"),
        _c("mark_usdt", FLOAT, USDT, "mark price at the liquidation"),
        _c(
            "bankruptcy_ticks",
            INT,
            PRICE_TICKS,
            "bankruptcy price, exact (null for a deficit resolution)",
        ),
        _c("bankruptcy_usdt", FLOAT, USDT, "bankruptcy price (null for a deficit resolution)"),
        _c(
            "filled_lots",
            INT,
            LOTS,
            "size filled: in the book, by the backstops that take positions over, and by ADL",
        ),
        _c(
            "book_lots",
            INT,
            LOTS,
            "size the liquidation traded in the book (the fund's unwind included)",
        ),
        _c(
            "avg_fill_ticks",
            INT,
            PRICE_TICKS,
            "average fill price, rounded down to a tick (null with no fill)",
        ),
        _c("avg_fill_usdt", FLOAT, USDT, "that average fill price (null with no fill)"),
        _c("counterparties", INT, COUNT, "accounts that took the liquidation order"),
        _c("clearance_fee_micro_usdt", INT, MICRO_USDT, "clearance (liquidation) fee"),
        _c("insurance_surplus_micro_usdt", INT, MICRO_USDT, "what was left, to the fund"),
        _c("insurance_delta_micro_usdt", INT, MICRO_USDT, "net change of the insurance fund"),
        _c("deficit_micro_usdt", INT, MICRO_USDT, "loss beyond the account's collateral"),
        _c("debt_micro_usdt", INT, MICRO_USDT, "deficit left with the trader as debt"),
        _c("adl_lots", INT, LOTS, "size auto-deleveraged"),
        _c("adl_haircut_micro_usdt", INT, MICRO_USDT, "what ADL'd winners gave up vs the mark"),
        _c("vault_lots", INT, LOTS, "size taken over by the backstop vault"),
        _c(
            "off_book_lots",
            INT,
            LOTS,
            "size taken over at the mark by the vault (liquidation.execution: off_book)",
        ),
        _c("insurance_unwind_lots", INT, LOTS, "size unwound by the insurance fund"),
        _c("socialized_micro_usdt", INT, MICRO_USDT, "deficit socialized over winners"),
        _c("exchange_absorbed_micro_usdt", INT, MICRO_USDT, "deficit the exchange absorbed"),
        _c("backstops", TEXT_LIST, "list", "backstop steps taken, in order (empty: none)"),
        _c("adl_reason", CATEGORY, CATEGORY_UNIT, "why ADL fired (null: no ADL)"),
        _c(
            "generation",
            INT,
            COUNT,
            "cascade generation: 1 when other flow moved the mark past the trigger, k + 1 after a "
            "generation-k liquidation traded in the book (earlier round, or within 10 s); "
            "null for a deficit resolution (abm.analysis.cascades)",
        ),
    ),
)

ACCOUNTS = Output(
    "accounts.parquet",
    "One row per account, system accounts included: money, outcome and every drawn trait of "
    "its trader (null where a trait does not apply to the population).",
    (
        _c(
            "account",
            INT,
            ID,
            "account id (0-3: exchange, insurance_fund, backstop_vault, external). external is "
            "the outside world: every deposit comes from it and every withdrawal goes to it, so "
            "its balance is minus the net deposits of all the others (seeds included)",
        ),
        _c("population", CATEGORY, CATEGORY_UNIT, POPULATION_VALUES),
        _c("initial_deposit_micro_usdt", INT, MICRO_USDT, "first deposit (system: seed)"),
        _c("net_deposits_micro_usdt", INT, MICRO_USDT, "deposits less withdrawals"),
        _c("final_balance_micro_usdt", INT, MICRO_USDT, "wallet balance at the end"),
        _c("final_equity_micro_usdt", INT, MICRO_USDT, "balance plus unrealized PnL at the end"),
        _c("position_lots", INT, LOTS, "position at the end (negative: short)"),
        _c("times_liquidated", INT, COUNT, "liquidations of the account"),
        _c("wiped_out", BOOL, FLAG, "whether the trader was ever wiped out (system: false)"),
        _c("times_wiped_out", INT, COUNT, "wipe-outs (retail; null otherwise)"),
        _c("reentries", INT, COUNT, "re-deposits after a wipe-out (retail; null otherwise)"),
        _c("capital_draw_usdt", FLOAT, USDT, "capital drawn for the trader (null: system)"),
        _c("wanted_leverage", INT, "x", "leverage the trader wanted (null: system)"),
        _c(
            "effective_leverage",
            INT,
            "x",
            "leverage of the account (the wanted one, capped; null: system)",
        ),
        _c(
            "capped",
            BOOL,
            FLAG,
            "wanted more than exchange.max_leverage and joined at the cap (null: system)",
        ),
        _c("margin_mode", CATEGORY, CATEGORY_UNIT, "cross or isolated (null: system)"),
        _c(
            "margin_fraction",
            FLOAT,
            "fraction",
            "share of the wallet committed per trade (retail; null otherwise)",
        ),
        _c("style", CATEGORY, CATEGORY_UNIT, "trend, contrarian or noise (retail; null otherwise)"),
        _c("uses_stop", BOOL, FLAG, "places a stop-loss with each trade (retail; null otherwise)"),
        _c(
            "stop_distance_bps",
            FLOAT,
            "bps",
            "the habitual stop distance from the mark (retail; null otherwise)",
        ),
        _c("stop_trigger", CATEGORY, CATEGORY_UNIT, "mark or last (retail; null otherwise)"),
        _c(
            "stop_is_limit",
            BOOL,
            FLAG,
            "stop-limit rather than stop-market (retail; null otherwise)",
        ),
        _c(
            "belief_delay_seconds",
            FLOAT,
            "s",
            "how late the information reaches the trader (value traders; null otherwise)",
        ),
        _c(
            "belief_threshold_bps",
            FLOAT,
            "bps",
            "the mispricing the trader leaves alone (value traders; null otherwise)",
        ),
        _c(
            "spot_leg_pnl_usdt",
            FLOAT,
            USDT,
            "the spot leg off the exchange, marked at the spot price, spot fees paid "
            "(arbitrageurs; null otherwise): their profit is this plus the account's",
        ),
    ),
)

STAYED_OUT = Output(
    "stayed_out.parquet",
    "One row per retail trader who wanted more leverage than exchange.max_leverage and stayed "
    "out (each does with probability retail.above_cap_stay_out): what it drew; it never got an "
    "account.",
    (
        _c("wanted_leverage", INT, "x", "leverage the trader wanted"),
        _c("capital_draw_usdt", FLOAT, USDT, "capital drawn for the trader"),
    ),
)

LIQUIDATION_MAP = Output(
    "liquidation_map.parquet",
    "Snapshots of the liquidation map every run.liquidation_map_every_ticks ticks: per side "
    "and liquidation-price bin, the open positions that would be liquidated there. Rows with "
    "price_bin_low_usdt 0 or price_bin_high_usdt infinite hold the positions beyond the "
    "binned window, rows with null bounds those of never-liquidated system accounts; each "
    "snapshot's sizes per side sum to the open interest.",
    (
        TICK_COLUMN,
        TIME_COLUMN,
        _c("mark_usdt", FLOAT, USDT, "mark price at the snapshot"),
        _c("price_bin_low_usdt", FLOAT, USDT, "lower edge of the liquidation-price bin"),
        _c("price_bin_high_usdt", FLOAT, USDT, "upper edge of the liquidation-price bin"),
        _c("side", CATEGORY, CATEGORY_UNIT, "long or short"),
        _c("size_lots", INT, LOTS, "open size liquidated in the bin"),
        _c("size_btc", FLOAT, BTC, "open size liquidated in the bin"),
        _c(
            "notional_usdt",
            FLOAT,
            USDT,
            "that size at its liquidation price (at the mark outside the window)",
        ),
    ),
)

HUNTS = Output(
    "hunts.parquet",
    "One row per finished whale hunt: the liquidation cluster it aimed at and what came of it.",
    (
        _c("account", INT, ID, "the whale's account"),
        _c("start_tick", INT, TICK, "tick the hunt began"),
        _time("start_time", "start_tick"),
        _c("end_tick", INT, TICK, "tick the hunt ended"),
        _time("end_time", "end_tick"),
        _c(
            "push_side",
            CATEGORY,
            CATEGORY_UNIT,
            "the side the whale pushed with: sell (into longs) or buy (into shorts)",
        ),
        _c("target_price_usdt", FLOAT, USDT, "price of the cluster aimed at"),
        _c("start_mark_usdt", FLOAT, USDT, "mark when the hunt began"),
        _c("end_mark_usdt", FLOAT, USDT, "mark when it ended"),
        _c("cluster_btc", FLOAT, BTC, "size liquidated at the cluster"),
        _c("book_depth_btc", FLOAT, BTC, "book depth between the mark and the cluster"),
        _c("reached", BOOL, FLAG, "whether the mark got to the cluster"),
        _c(
            "liquidated_notional_usdt",
            FLOAT,
            USDT,
            "the hunted side's liquidations while the hunt ran",
        ),
        _c("equity_change_usdt", FLOAT, USDT, "the whale's equity change over the hunt"),
    ),
)

LIQUIDATION_ATTRIBUTION = Output(
    "liquidation_attribution.parquet",
    "One row per (liquidation event, part, party): the received parts and the paid parts of "
    "each event each sum exactly to its loss; memo parts sit beside the sums "
    "(abm.flows.attribute_liquidations).",
    (
        _c("event_id", INT, ID, "the liquidation event (or deficit resolution)"),
        TICK_COLUMN,
        TIME_COLUMN,
        _c("account", INT, ID, "the liquidated account"),
        _c("population", CATEGORY, CATEGORY_UNIT, "population of the liquidated account"),
        _c(
            "side",
            CATEGORY,
            CATEGORY_UNIT,
            "side of the liquidated position: long or short (a deficit resolution: the side its "
            "closing trade closed; null when it has none)",
        ),
        _c("kind", CATEGORY, CATEGORY_UNIT, "liquidation or deficit_resolution"),
        _c(
            "closing_event_id",
            INT,
            ID,
            "a deficit resolution's closing trade event (null for a liquidation)",
        ),
        _c("section", CATEGORY, CATEGORY_UNIT, "received, paid or memo"),
        _c(
            "part",
            CATEGORY,
            CATEGORY_UNIT,
            "received: counterparty, clearance_fee, insurance_surplus, trading_fee, other; "
            "paid: own_collateral, insurance_payout, backstop_vault, socialized_loss, "
            "exchange_absorbs, trader_debt; memo: taker_gain, adl_haircut",
        ),
        _c("party", INT, ID, "the account receiving or paying the part"),
        _c("party_population", CATEGORY, CATEGORY_UNIT, "population of the party"),
        _c(
            "amount_micro_usdt",
            INT,
            MICRO_USDT,
            "the part; a negative received part is money the liquidated account got from that "
            "party on balance",
        ),
    ),
)

FLOW_EDGES = Output(
    "flow_edges.parquet",
    "The money-flow network as an edge list: every transfer summed per (src, dst, cause) "
    "(abm.flows.flow_edges; abm.flows.build_graph makes the networkx graph of it).",
    (
        _c("src", INT, ID, "paying account"),
        _c("dst", INT, ID, "receiving account"),
        _c("cause", CATEGORY, CATEGORY_UNIT, "cause of the transfers (as in transfers.parquet)"),
        _c("amount_micro_usdt", INT, MICRO_USDT, "sum of the transfers, exact"),
        _c("transfers", INT, COUNT, "number of transfers"),
        _c("first_tick", INT, TICK, "tick of the first transfer"),
        _time("first_time", "first_tick"),
        _c("last_tick", INT, TICK, "tick of the last transfer"),
        _time("last_time", "last_tick"),
    ),
)

LIQUIDATION_EDGES = Output(
    "liquidation_edges.parquet",
    "The liquidation network as an edge list: liquidated account -> receiver, summing the "
    "received parts of liquidation_attribution.parquet over all events (a pair whose net runs "
    "the other way is an edge the other way) (abm.flows.liquidation_edges).",
    (
        _c("src", INT, ID, "liquidated account (pays)"),
        _c("dst", INT, ID, "receiving account: link partner, insurance fund or exchange"),
        _c("src_population", CATEGORY, CATEGORY_UNIT, "population of src"),
        _c("dst_population", CATEGORY, CATEGORY_UNIT, "population of dst"),
        _c("amount_micro_usdt", INT, MICRO_USDT, "money attributed, exact and positive"),
        _c("amount_usdt", FLOAT, USDT, "the same money"),
        _c("events", INT, COUNT, "liquidation events the money came from"),
        _c("first_tick", INT, TICK, "tick of the first of them"),
        _time("first_time", "first_tick"),
    ),
)

WHERE_MONEY_GOES = Output(
    "where_money_goes.csv",
    "The liquidated total by receiver and by payer (abm.flows.where_money_goes); each "
    "section's amount_micro_usdt sums to the total.",
    (
        _c("section", pa.string(), CATEGORY_UNIT, "received (who got it) or paid (who paid it)"),
        _c(
            "party",
            pa.string(),
            CATEGORY_UNIT,
            "population of the receiver or payer (insurance_fund, exchange, ... by name)",
        ),
        _c("part", pa.string(), CATEGORY_UNIT, "part, as in liquidation_attribution.parquet"),
        _c("amount_usdt", FLOAT, USDT, "amount"),
        _c("share", FLOAT, "fraction", "share of the liquidated total"),
        _c("long_usdt", FLOAT, USDT, "of it, from long liquidations"),
        _c("short_usdt", FLOAT, USDT, "of it, from short liquidations"),
        _c("amount_micro_usdt", INT, MICRO_USDT, "amount, exact"),
        _c("long_micro_usdt", INT, MICRO_USDT, "from long liquidations, exact"),
        _c("short_micro_usdt", INT, MICRO_USDT, "from short liquidations, exact"),
        _c("events", INT, COUNT, "liquidation events that contributed"),
    ),
)

FLOWS_BY_POPULATION = Output(
    "flows_by_population.csv",
    "Money flows from population to population per cause (abm.flows.flows_by_population).",
    (
        _c("src_population", pa.string(), CATEGORY_UNIT, "paying population"),
        _c("dst_population", pa.string(), CATEGORY_UNIT, "receiving population"),
        _c("cause", pa.string(), CATEGORY_UNIT, "cause, as in transfers.parquet"),
        _c("amount_usdt", FLOAT, USDT, "amount"),
        _c("amount_micro_usdt", INT, MICRO_USDT, "amount, exact"),
        _c("transfers", INT, COUNT, "number of transfers"),
    ),
)

PARQUET = (
    TICKS,
    FILLS,
    LIQUIDATIONS,
    TRANSFERS,
    ACCOUNTS,
    STAYED_OUT,
    LIQUIDATION_MAP,
    HUNTS,
    LIQUIDATION_ATTRIBUTION,
    FLOW_EDGES,
    LIQUIDATION_EDGES,
)
CSV = (WHERE_MONEY_GOES, FLOWS_BY_POPULATION)
OPTIONAL_COLUMNS = {
    ("liquidations.parquet", "adl_reason"),
    ("ticks.parquet", "depth_bid_1pct_btc"),
    ("ticks.parquet", "depth_ask_1pct_btc"),
    ("accounts.parquet", "belief_delay_seconds"),
    ("accounts.parquet", "belief_threshold_bps"),
    ("accounts.parquet", "spot_leg_pnl_usdt"),
}
"""Columns that runs written before them lack and readers do without (``time`` columns too:
they are derived from their tick and the run's clock)."""


def required(output: Output, column: Column) -> bool:
    """Whether a run folder's ``output`` must hold ``column`` to be read."""
    return column.from_tick is None and (output.file, column.name) not in OPTIONAL_COLUMNS


OUTPUTS = {o.file: o for o in (*PARQUET, *CSV)}

SUMMARY_KEYS = (
    ("ticks", COUNT, "ticks run"),
    ("hours", "h", "simulated hours"),
    ("agents", COUNT, "agents per population"),
    ("agent_actions", COUNT, "times an agent acted"),
    ("retail_stayed_out_above_cap", COUNT, "rows of stayed_out.parquet"),
    ("liquidations", "count, USDT", "liquidations (count, long, short) and notional in USDT at "
     "each one's mark; deficit_resolutions counted apart"),
    ("wiped_out_accounts", COUNT, "retail accounts wiped out at least once"),
    ("insurance_fund", USDT, "the fund's start and end balance"),
    ("backstop_actions", COUNT, "backstop actions by step"),
    ("cascades", COUNT, "liquidation cascades (runs of liquidations over more than one round "
     "or tick)"),
    ("biggest_cascade", "ticks, count, USDT", "the cascade of the largest notional"),
    ("equity_change_by_population", USDT, "equity at the end less net deposits, per trader "
     "population and system account (exchange, insurance_fund, backstop_vault): they add up to "
     "zero"),
    ("proportions", "share, per day", "depth within 1% a side over open interest, daily "
     "volume over open interest, the insurance fund and liquidated notional a day over open "
     "interest's notional, value traders' and arbitrageurs' capacity and flow a minute over "
     "open interest, the spot value traders' capacity over it, retail's share on isolated margin and median leverage (DESIGN section 6)"),
    ("warnings", "text", "what in the config is valid but likely not meant (a shock after the "
     "run's end, shocks on top of a replayed file)"),
    ("arbitrageur_spot_leg_pnl", USDT, "the arbitrageurs' spot leg, marked at the spot price, "
     "spot fees paid"),
    ("spot_value_traders", "count, BTC, share, USDT", "the spot value traders at the end: count, "
     "net inventory, the largest share of its capacity one uses, profit marked at the spot "
     "price"),
    ("price", USDT, "index at the start, mark at the end, lowest and highest mark"),
    ("funding_settlements", "tick, fraction per interval", "each settlement's tick and rate"),
    ("fills", COUNT, "rows of fills.parquet"),
    ("transfers", COUNT, "rows of transfers.parquet"),
    ("flows", "micro-USDT, USDT, fraction", "where the money goes, with a note on each number "
     "(flows.notes)"),
)  # fmt: skip
"""The main keys of ``summary.json`` (documented, not enforced)."""


def render_docs() -> str:
    """``docs/outputs.md``: every column of every file of a run folder, and summary.json's keys."""
    lines = [
        "# Run folder outputs",
        "",
        "<!-- Generated from abm/outputs.py and abm/experiments/metrics.py by "
        "`python -m abm.outputs > docs/outputs.md`; do not edit by hand. -->",
        "",
        *_docstring_paragraphs(),
        "",
        "Each Parquet file carries the same descriptions in its schema: a field's metadata "
        "holds `unit` and `description`, the schema's metadata the file's `description` "
        "(`pyarrow.parquet.read_schema(path)`).",
    ]
    for output in (*PARQUET, *CSV):
        lines += ["", f"## `{output.file}`", "", output.description, ""]
        lines += ["| column | type | unit | meaning |", "|---|---|---|---|"]
        for c in output.columns:
            kind = "category" if pa.types.is_dictionary(c.type) else str(c.type)
            lines.append(f"| `{c.name}` | {kind} | {c.unit} | {c.description} |")
    lines += ["", "## `summary.json`", "", "The main keys.", ""]
    lines += ["| key | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {unit} | {meaning} |" for key, unit, meaning in SUMMARY_KEYS]
    return "\n".join(lines) + "\n"


def _docstring_paragraphs() -> list[str]:
    """The module docstring's conventions, as Markdown."""
    text = (__doc__ or "").split("Conventions, the same in every file:", 1)[1]
    text = text.strip().replace("``", "`")
    return ["Conventions, the same in every file:", "", *text.splitlines()]


if __name__ == "__main__":
    # The sweep metrics' section comes from their docstrings (an entry point, not a dependency).
    from abm.experiments.metrics import render_metrics_docs

    sys.stdout.write(render_docs() + render_metrics_docs())
