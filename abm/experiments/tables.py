"""The run's tables, built from the model's state at the end of a run (integers stay integers).

Every table has an explicit schema, so that a table with no rows (a run without liquidations)
keeps its column types and the tables of many runs concatenate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from abm.exchange import Cause, SystemAccount
from abm.model import SYSTEM_POPULATIONS
from abm.recorder import COLUMNS as RECORDER_COLUMNS

if TYPE_CHECKING:
    from abm.model import MarketModel

POPULATION_TYPE = pa.dictionary(pa.int8(), pa.string())


_INT = pa.int64()
_FLOAT = pa.float64()
_TICK_INTEGERS = {
    "tick",
    "liquidations_long",
    "liquidations_short",
    "liquidation_rounds",
    "adl_actions",
    "other_backstop_actions",
    "stops_triggered",
    "wiped_out",
}
TICKS_SCHEMA = pa.schema(
    [(name, _INT if name in _TICK_INTEGERS else _FLOAT) for name in RECORDER_COLUMNS]
)


def ticks_table(model: MarketModel) -> pa.Table:
    """Per-tick series (prices in USDT, sizes in BTC, money in USDT)."""
    return pa.table(model.recorder.columns, schema=TICKS_SCHEMA)


LIQUIDATION_MAP_SCHEMA = pa.schema(
    [
        ("tick", pa.int64()),
        ("mark", pa.float64()),
        ("price_bin_low", pa.float64()),
        ("price_bin_high", pa.float64()),
        ("side", pa.string()),
        ("size_lots", pa.int64()),
        ("size_btc", pa.float64()),
        ("notional_usdt", pa.float64()),
    ]
)


HUNTS_SCHEMA = pa.schema(
    [
        ("account", _INT),
        ("start_tick", _INT),
        ("end_tick", _INT),
        ("push_side", pa.string()),
        ("target_price", _FLOAT),
        ("start_mark", _FLOAT),
        ("end_mark", _FLOAT),
        ("cluster_btc", _FLOAT),
        ("book_depth_btc", _FLOAT),
        ("reached", pa.bool_()),
        ("liquidated_notional_usdt", _FLOAT),
        ("equity_change_usdt", _FLOAT),
    ]
)


def hunts_table(model: MarketModel) -> pa.Table:
    """One row per finished whale hunt: the cluster it aimed at, whether the price got there,
    the hunted side's liquidations while it ran and the whale's equity change (USDT)."""
    rows = {name: [hunt[name] for hunt in model.hunts] for name in HUNTS_SCHEMA.names}
    return pa.table(rows, schema=HUNTS_SCHEMA)


def liquidation_map_table(model: MarketModel) -> pa.Table:
    """Liquidation-map snapshots: open positions' sizes per side and liquidation-price bin.

    One row per (snapshot tick, side, non-empty bin); rows with ``price_bin_low`` 0 or
    ``price_bin_high`` infinite hold the positions beyond the binned window, rows with null bounds
    those of never-liquidated system accounts, so that each snapshot's sizes per side sum to the
    open interest (see ``abm.recorder``). Prices and notionals in USDT, sizes in lots and BTC.
    """
    return pa.table(model.recorder.map_columns, schema=LIQUIDATION_MAP_SCHEMA)


FILLS_SCHEMA = pa.schema(
    [
        ("tick", _INT),
        ("event_id", _INT),
        ("buyer", _INT),
        ("seller", _INT),
        ("qty_lots", _INT),
        ("price_ticks", _INT),
        ("qty_btc", _FLOAT),
        ("price", _FLOAT),
        ("aggressor", pa.string()),
        ("kind", pa.string()),
    ]
)


def fills_table(model: MarketModel) -> pa.Table:
    """Every fill: integer price ticks and lots, plus USDT and BTC for convenience."""
    ex = model.exchange
    columns = {name: np.frombuffer(column, dtype=np.int64) for name, column in ex.fills.items()}
    kinds = np.array(["normal", "liquidation", "adl", "takeover", "unwind"])
    return pa.table(
        {
            "tick": columns["tick"],
            "event_id": columns["event"],
            "buyer": columns["buyer"],
            "seller": columns["seller"],
            "qty_lots": columns["qty"],
            "price_ticks": columns["price"],
            "qty_btc": columns["qty"] * ex.instrument.lots_per_btc_inverse,
            "price": columns["price"] * ex.instrument.tick_micro / 1e6,
            "aggressor": np.where(columns["aggressor"] > 0, "buy", "sell"),
            "kind": kinds[columns["kind"]],
        },
        schema=FILLS_SCHEMA,
    )


TRANSFERS_SCHEMA = pa.schema(
    [
        ("tick", _INT),
        ("src", _INT),
        ("dst", _INT),
        ("amount", _INT),
        ("cause", pa.string()),
        ("event_id", _INT),
    ]
)


def transfers_table(model: MarketModel) -> pa.Table:
    """The ledger's transfer log; amounts in micro-units of the quote currency."""
    log = model.exchange.ledger
    causes = np.array([c.name.lower() for c in Cause])
    return pa.table(
        {
            "tick": np.frombuffer(log.log_tick, dtype=np.int64),
            "src": np.frombuffer(log.log_src, dtype=np.int64),
            "dst": np.frombuffer(log.log_dst, dtype=np.int64),
            "amount": np.frombuffer(log.log_amount, dtype=np.int64),
            "cause": causes[np.frombuffer(log.log_cause, dtype=np.int8)],
            "event_id": np.frombuffer(log.log_event, dtype=np.int64),
        },
        schema=TRANSFERS_SCHEMA,
    )


LIQUIDATIONS_SCHEMA = pa.schema(
    [
        ("event_id", _INT),
        ("tick", _INT),
        ("round", _INT),
        ("account", _INT),
        ("population", pa.string()),
        ("side", pa.string()),
        ("qty_lots", _INT),
        ("closed_lots", _INT),
        ("partial", pa.bool_()),
        ("mark_ticks", _INT),
        ("bankruptcy_ticks", _INT),
        ("filled_lots", _INT),
        ("avg_fill_ticks", _INT),
        ("counterparties", _INT),
        ("clearance_fee", _INT),
        ("insurance_surplus", _INT),
        ("insurance_delta", _INT),
        ("deficit", _INT),
        ("debt", _INT),
        ("adl_lots", _INT),
        ("adl_haircut", _INT),
        ("vault_lots", _INT),
        ("insurance_unwind_lots", _INT),
        ("socialized", _INT),
        ("exchange_absorbed", _INT),
        ("backstops", pa.string()),
        ("adl_reason", pa.string()),
    ]
)


def liquidations_table(model: MarketModel) -> pa.Table:
    """One row per liquidation event (or deficit resolution), money in micro-units."""
    ex = model.exchange
    rows: dict[str, list] = {name: [] for name in LIQUIDATIONS_SCHEMA.names}
    for e in ex.liquidations:
        filled = sum(q for _, q, _ in e.fills)
        by_step: dict[str, list] = {}
        for action in e.actions:
            by_step.setdefault(action.step, []).append(action)
        values = {
            "event_id": e.event_id,
            "tick": e.tick,
            "round": e.round,
            "account": e.account,
            "population": model.population_of.get(e.account, "unknown"),
            "side": e.side,
            "qty_lots": e.qty,
            "closed_lots": e.closed,
            "partial": e.partial,
            "mark_ticks": e.mark,
            "bankruptcy_ticks": e.bankruptcy_price,
            "filled_lots": filled,
            "avg_fill_ticks": (sum(q * p for _, q, p in e.fills) // filled) if filled else None,
            "counterparties": len({c for c, _, _ in e.fills}),
            "clearance_fee": e.clearance_fee,
            "insurance_surplus": e.insurance_surplus,
            "insurance_delta": e.insurance_delta,
            "deficit": e.deficit,
            "debt": e.debt,
            "adl_lots": sum(a.qty for a in by_step.get("adl", [])),
            "adl_haircut": sum(a.haircut for a in by_step.get("adl", [])),
            "vault_lots": sum(a.qty for a in by_step.get("backstop_vault", [])),
            "insurance_unwind_lots": sum(a.qty for a in by_step.get("insurance_fund", []) if a.qty),
            "socialized": sum(a.amount for a in by_step.get("socialized_loss", [])),
            "exchange_absorbed": sum(a.amount for a in by_step.get("exchange_absorbs", [])),
            "backstops": ",".join(a.step for a in e.actions),
            "adl_reason": next((a.reason for a in by_step.get("adl", [])), ""),
        }
        for name, value in values.items():
            rows[name].append(value)
    return pa.table(rows, schema=LIQUIDATIONS_SCHEMA)


ACCOUNTS_SCHEMA = pa.schema(
    [
        ("account", _INT),
        ("population", pa.string()),
        ("initial_deposit", _INT),
        ("net_deposits", _INT),
        ("final_balance", _INT),
        ("final_equity", _INT),
        ("position_lots", _INT),
        ("leverage", _INT),
        ("times_liquidated", _INT),
        ("wiped_out", pa.bool_()),
    ]
)


def accounts_table(model: MarketModel) -> pa.Table:
    """One row per account, system accounts included, with its population."""
    ex = model.exchange
    n = len(ex.accounts)
    initial = [0] * n
    wiped = [False] * n
    for agent in model.agents:
        initial[agent.account] = agent.initial_deposit
        wiped[agent.account] = getattr(agent, "wiped_out", 0) > 0
    seeds = {
        SystemAccount.INSURANCE_FUND: ex.rules.insurance_fund_seed,
        SystemAccount.BACKSTOP_VAULT: ex.rules.backstop_vault_seed,
    }
    for account, seed in seeds.items():
        initial[account] = ex.instrument.micro(seed)
    population = [
        model.population_of.get(a, SYSTEM_POPULATIONS.get(a, "unknown")) for a in range(n)
    ]
    return pa.table(
        {
            "account": np.arange(n, dtype=np.int64),
            "population": population,
            "initial_deposit": np.array(initial, dtype=np.int64),
            "net_deposits": np.array(ex.deposited, dtype=np.int64),
            "final_balance": np.array(ex.ledger.balances, dtype=np.int64),
            "final_equity": np.array([ex.equity(a) for a in range(n)], dtype=np.int64),
            "position_lots": np.array([a.position for a in ex.accounts], dtype=np.int64),
            "leverage": np.array([a.leverage for a in ex.accounts], dtype=np.int64),
            "times_liquidated": np.array([a.times_liquidated for a in ex.accounts], dtype=np.int64),
            "wiped_out": wiped,
        },
        schema=ACCOUNTS_SCHEMA,
    )
