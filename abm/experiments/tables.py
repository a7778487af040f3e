"""The run's tables, built from the model's state at the end of a run (integers stay integers).

Every table has the schema declared in :mod:`abm.outputs` (units and meanings in its metadata),
so that a table with no rows (a run without liquidations) keeps its column types and the tables
of many runs concatenate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from abm import outputs
from abm.analysis.cascades import CASCADE_WINDOW_SECONDS, cascade_generations
from abm.config import SYSTEM_POPULATIONS
from abm.exchange import Cause, SystemAccount
from abm.outputs import Clock

if TYPE_CHECKING:
    from abm.model import MarketModel

FILL_KINDS = ("normal", "liquidation", "adl", "takeover", "unwind")
"""Fill kinds in the order of the exchange's codes."""
CAUSES = tuple(c.name.lower() for c in Cause)
"""Transfer causes in the order of the ledger's codes."""


def clock(model: MarketModel) -> Clock:
    """The run's clock: ``run.start_time`` plus ``tick x run.tick_seconds``."""
    return Clock(model.config.run.start, model.tick_seconds)


def coded(codes: np.ndarray, names: tuple[str, ...]) -> pa.DictionaryArray:
    """A categorical column from integer codes into ``names``, without a string per row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int8), type=pa.int8()), pa.array(names, type=pa.string())
    )


def ticks_table(model: MarketModel) -> pa.Table:
    """Per-tick series (prices in USDT, sizes in BTC, money in USDT)."""
    return outputs.build(outputs.TICKS, model.recorder.columns, clock(model))


def hunts_table(model: MarketModel) -> pa.Table:
    """One row per finished whale hunt: the cluster it aimed at, whether the price got there,
    the hunted side's liquidations while it ran and the whale's equity change (USDT)."""
    names = [c.name for c in outputs.HUNTS.columns if c.from_tick is None]
    rows = {name: [hunt[name] for hunt in model.hunts] for name in names}
    return outputs.build(outputs.HUNTS, rows, clock(model))


def liquidation_map_table(model: MarketModel) -> pa.Table:
    """Liquidation-map snapshots: open positions' sizes per side and liquidation-price bin
    (see :mod:`abm.recorder`)."""
    return outputs.build(outputs.LIQUIDATION_MAP, model.recorder.map_columns, clock(model))


def fills_table(model: MarketModel) -> pa.Table:
    """Every fill: integer price ticks and lots, plus USDT and BTC for convenience."""
    ex = model.exchange
    columns = {name: np.frombuffer(column, dtype=np.int64) for name, column in ex.fills.items()}
    aggressor = np.where(columns["aggressor"] > 0, 0, 1)
    data = {
        "tick": columns["tick"],
        "event_id": columns["event"],
        "buyer": columns["buyer"],
        "seller": columns["seller"],
        "qty_lots": columns["qty"],
        "price_ticks": columns["price"],
        "qty_btc": columns["qty"] * ex.instrument.lots_per_btc_inverse,
        "price_usdt": columns["price"] * ex.instrument.tick_micro / 1e6,
        "aggressor": coded(aggressor, ("buy", "sell")),
        "kind": coded(columns["kind"], FILL_KINDS),
    }
    return outputs.build(outputs.FILLS, data, clock(model))


def transfers_table(model: MarketModel) -> pa.Table:
    """The ledger's transfer log; amounts in micro-USDT."""
    log = model.exchange.ledger
    data = {
        "tick": np.frombuffer(log.log_tick, dtype=np.int64),
        "src": np.frombuffer(log.log_src, dtype=np.int64),
        "dst": np.frombuffer(log.log_dst, dtype=np.int64),
        "amount_micro_usdt": np.frombuffer(log.log_amount, dtype=np.int64),
        "cause": coded(np.frombuffer(log.log_cause, dtype=np.int8), CAUSES),
        "event_id": np.frombuffer(log.log_event, dtype=np.int64),
    }
    return outputs.build(outputs.TRANSFERS, data, clock(model))


def liquidations_table(model: MarketModel) -> pa.Table:
    """One row per liquidation event (or deficit resolution), money in micro-USDT, prices in
    integer ticks and in USDT. A deficit resolution has no side and no bankruptcy price (the
    exchange's event says ``none`` and 0): both are null."""
    ex = model.exchange
    usdt_per_tick = ex.instrument.tick_micro / 1e6
    names = [c.name for c in outputs.LIQUIDATIONS.columns if c.from_tick is None]
    rows: dict[str, list] = {name: [] for name in names}
    for e in ex.liquidations:
        filled = sum(q for _, q, _ in e.fills)
        by_step: dict[str, list] = {}
        for action in e.actions:
            by_step.setdefault(action.step, []).append(action)
        resolution = e.side == "none"
        avg_fill = (sum(q * p for _, q, p in e.fills) // filled) if filled else None
        values = {
            "event_id": e.event_id,
            "tick": e.tick,
            "round": e.round,
            "account": e.account,
            "population": model.population_of.get(e.account),
            "side": None if resolution else e.side,
            "qty_lots": e.qty,
            "closed_lots": e.closed,
            "partial": e.partial,
            "mark_ticks": e.mark,
            "mark_usdt": e.mark * usdt_per_tick,
            "bankruptcy_ticks": None if resolution else e.bankruptcy_price,
            "bankruptcy_usdt": None if resolution else e.bankruptcy_price * usdt_per_tick,
            "filled_lots": filled,
            "avg_fill_ticks": avg_fill,
            "avg_fill_usdt": None if avg_fill is None else avg_fill * usdt_per_tick,
            "counterparties": len({c for c, _, _ in e.fills}),
            "clearance_fee_micro_usdt": e.clearance_fee,
            "insurance_surplus_micro_usdt": e.insurance_surplus,
            "insurance_delta_micro_usdt": e.insurance_delta,
            "deficit_micro_usdt": e.deficit,
            "debt_micro_usdt": e.debt,
            "adl_lots": sum(a.qty for a in by_step.get("adl", [])),
            "adl_haircut_micro_usdt": sum(a.haircut for a in by_step.get("adl", [])),
            "vault_lots": sum(a.qty for a in by_step.get("backstop_vault", [])),
            "off_book_lots": sum(a.qty for a in by_step.get("off_book", [])),
            "insurance_unwind_lots": sum(a.qty for a in by_step.get("insurance_fund", []) if a.qty),
            "socialized_micro_usdt": sum(a.amount for a in by_step.get("socialized_loss", [])),
            "exchange_absorbed_micro_usdt": sum(
                a.amount for a in by_step.get("exchange_absorbs", [])
            ),
            "backstops": [a.step for a in e.actions],
            "adl_reason": next((a.reason for a in by_step.get("adl", [])), None),
        }
        values["book_lots"] = filled - sum(
            a.qty for step in ("adl", "backstop_vault", "off_book") for a in by_step.get(step, [])
        )
        for name, value in values.items():
            rows[name].append(value)
    rows["generation"] = _generations(model, rows)
    return outputs.build(outputs.LIQUIDATIONS, rows, clock(model))


def _generations(model: MarketModel, rows: dict[str, list]) -> list[int | None]:
    """Each liquidation's cascade generation (:func:`abm.analysis.cascades.cascade_generations`);
    null for a deficit resolution, which closes nothing."""
    real = [i for i, side in enumerate(rows["side"]) if side is not None]
    window = round(CASCADE_WINDOW_SECONDS / model.tick_seconds)
    found = cascade_generations(
        np.array([rows["tick"][i] for i in real], dtype=np.int64),
        np.array([rows["round"][i] for i in real], dtype=np.int64),
        np.array([rows["book_lots"][i] for i in real], dtype=np.int64),
        window,
    )
    generations: list[int | None] = [None] * len(rows["side"])
    for i, generation in zip(real, found, strict=True):
        generations[i] = int(generation)
    return generations


TRAITS = {
    "times_wiped_out": lambda agent: getattr(agent, "wiped_out", None),
    "reentries": lambda agent: getattr(agent, "reentries", None),
    "capital_draw_usdt": lambda agent: getattr(agent, "capital", None),
    "wanted_leverage": lambda agent: getattr(agent, "wanted_leverage", None),
    "margin_fraction": lambda agent: getattr(agent, "margin_fraction", None),
    "style": lambda agent: getattr(agent, "style_name", None),
    "uses_stop": lambda agent: getattr(agent, "uses_stop", None),
    "stop_distance_bps": lambda agent: (
        agent.stop_distance * 10_000 if hasattr(agent, "stop_distance") else None
    ),
    "stop_trigger": lambda agent: getattr(agent, "stop_trigger", None),
    "stop_is_limit": lambda agent: getattr(agent, "stop_limit", None),
    "belief_delay_seconds": lambda agent: (
        agent.belief.delay * agent.model.tick_seconds if hasattr(agent, "belief") else None
    ),
    "belief_threshold_bps": lambda agent: agent.threshold_bps if hasattr(agent, "belief") else None,
    "spot_leg_pnl_usdt": lambda agent: (
        agent.spot_pnl_usdt() if hasattr(agent, "spot_pnl_usdt") else None
    ),
}
"""Each drawn trait of ``accounts.parquet`` read off its agent; a trait the agent's population
does not have (a whale's style) is null."""


def accounts_table(model: MarketModel) -> pa.Table:
    """One row per account, system accounts included, with its population, money, outcome and
    its trader's drawn traits (:data:`TRAITS`) and leverage; null for system accounts, which
    have no trader."""
    ex = model.exchange
    n = len(ex.accounts)
    initial = [0] * n
    wiped = [False] * n
    traits: dict[str, list] = {name: [None] * n for name in TRAITS}
    margin_mode: list[str | None] = [None] * n
    leverage: list[int | None] = [None] * n
    for agent in model.traders:
        a = agent.account
        initial[a] = agent.initial_deposit
        leverage[a] = ex.accounts[a].leverage
        wiped[a] = (getattr(agent, "wiped_out", 0) or 0) > 0
        for name, read in TRAITS.items():
            traits[name][a] = read(agent)
        margin_mode[a] = "cross" if ex.accounts[a].cross else "isolated"
    seeds = {
        SystemAccount.INSURANCE_FUND: ex.rules.insurance_fund_seed,
        SystemAccount.BACKSTOP_VAULT: ex.rules.backstop_vault_seed,
    }
    for account, seed in seeds.items():
        initial[account] = ex.instrument.micro(seed)
    wanted = traits["wanted_leverage"]
    return outputs.build(
        outputs.ACCOUNTS,
        {
            "account": np.arange(n, dtype=np.int64),
            "population": [model.population_of.get(a, SYSTEM_POPULATIONS.get(a)) for a in range(n)],
            "initial_deposit_micro_usdt": np.array(initial, dtype=np.int64),
            "net_deposits_micro_usdt": np.array(ex.deposited, dtype=np.int64),
            "final_balance_micro_usdt": np.array(ex.ledger.balances, dtype=np.int64),
            "final_equity_micro_usdt": np.array([ex.equity(a) for a in range(n)], dtype=np.int64),
            "position_lots": np.array([a.position for a in ex.accounts], dtype=np.int64),
            "times_liquidated": np.array([a.times_liquidated for a in ex.accounts], dtype=np.int64),
            "wiped_out": wiped,
            "effective_leverage": leverage,
            "capped": [
                None if w is None or lev is None else w > lev
                for w, lev in zip(wanted, leverage, strict=True)
            ],
            "margin_mode": margin_mode,
            **traits,
        },
        clock(model),
    )


def stayed_out_table(model: MarketModel) -> pa.Table:
    """The draws of the retail traders who stayed out above the leverage cap (no account)."""
    return outputs.build(outputs.STAYED_OUT, model.stayed_out_draws, clock(model))
