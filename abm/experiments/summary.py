"""The end-of-run summary: liquidations, wipe-outs, the insurance fund, backstops, the biggest
cascade and equity change by population (JSON-ready, money in USDT)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from abm.agents import SpotValueTrader
from abm.config import SYSTEM_POPULATIONS
from abm.exchange import SystemAccount
from abm.exchange.liquidation import liquidated_notional

if TYPE_CHECKING:
    from abm.model import MarketModel


def cascades(model: MarketModel, gap_ticks: int = 1) -> list[dict]:
    """Liquidation cascades: runs of liquidations whose ticks are at most ``gap_ticks`` apart.

    A cascade counts when it spans more than one round or tick (liquidations feeding each other).
    """
    ex = model.exchange
    events = [e for e in ex.liquidations if e.qty]
    found: list[dict] = []
    current: list = []
    for event in events:
        if current and event.tick - current[-1].tick > gap_ticks:
            found.append(current)
            current = []
        current.append(event)
    if current:
        found.append(current)
    result = []
    for group in found:
        ticks = {e.tick for e in group}
        rounds = max(e.round for e in group) + 1
        if len(ticks) < 2 and rounds < 2:
            continue
        result.append(
            {
                "start_tick": group[0].tick,
                "end_tick": group[-1].tick,
                "liquidations": len(group),
                "max_rounds_in_a_tick": rounds,
                "notional": liquidated_notional(ex, group) / 1e6,
                "mark_start": ex.instrument.price(group[0].mark),
                "mark_end": ex.instrument.price(group[-1].mark),
            }
        )
    return result


def summarize(model: MarketModel) -> dict:
    ex = model.exchange
    usdt = ex.instrument.usdt
    events = [e for e in ex.liquidations if e.qty]
    count = Counter(e.side for e in events)
    notional = {
        side: liquidated_notional(ex, (e for e in events if e.side == side))
        for side in ("long", "short")
    }
    actions = Counter(a.step for e in ex.liquidations for a in e.actions)
    found = cascades(model)
    biggest = max(found, key=lambda c: c["notional"]) if found else None
    return {
        "ticks": model.ticks,
        "hours": model.ticks * model.tick_seconds / 3600,
        "agents": {p: len(a) for p, a in _by_population(model).items()},
        "agent_actions": model.agent_actions,
        "retail_stayed_out_above_cap": model.stayed_out,
        "liquidations": {
            "count": len(events),
            "long": count["long"],
            "short": count["short"],
            "notional": usdt(sum(notional.values())),
            "notional_long": usdt(notional["long"]),
            "notional_short": usdt(notional["short"]),
            "deficit_resolutions": len(ex.liquidations) - len(events),
        },
        "wiped_out_accounts": sum(1 for a in model.traders if getattr(a, "wiped_out", 0) > 0),
        "departed_accounts": sum(1 for a in model.traders if getattr(a, "departed", False)),
        "insurance_fund": {
            "start": ex.rules.insurance_fund_seed,
            "end": usdt(ex.balance(SystemAccount.INSURANCE_FUND)),
        },
        "backstop_actions": dict(sorted(actions.items())),
        "cascades": len(found),
        "biggest_cascade": biggest,
        "equity_change_by_population": equity_change_by_population(model),
        "proportions": proportions(model),
        "warnings": model.config.warnings(),
        "arbitrageur_spot_leg_pnl": sum(
            agent.spot_pnl_usdt() for agent in model.traders if agent.population == "arbitrageur"
        ),
        "spot_value_traders": spot_value_summary(model),
        "price": {
            "index_start": ex.instrument.price(int(model.market.marks[0])),
            "mark_end": ex.instrument.price(ex.mark),
            "mark_min": ex.instrument.price(int(model.market.marks.min())),
            "mark_max": ex.instrument.price(int(model.market.marks.max())),
        },
        "funding_settlements": [
            {"tick": tick, "rate": rate / 1e9} for tick, rate, _ in ex.funding_payments
        ],
        "fills": len(ex.fills["qty"]),
        "transfers": len(ex.ledger),
    }


def proportions(model: MarketModel) -> dict[str, float | None]:
    """The ratios that drive cascades, as real venues would state them (DESIGN section 6; real
    values in ``abm/analysis/bands.yaml``): depth within 1% a side over open interest (median of
    the samples, each the mean of the two sides), daily volume over open interest, the insurance
    fund at the start over open interest's notional, liquidated notional a day over it, and the
    value traders' and arbitrageurs' capacity (positions at the limit their capital sets) and
    flow a minute (a clip per action) over it, the spot value traders' capacity over it, the
    model's open interest as a share of the real market's (``market.real_open_interest_btc``);
    and the share of retail on isolated margin and its median leverage (who is exposed the way
    cascades need). Open interest is one side's, averaged over the run; None where open
    interest was never positive.
    """
    c = model.recorder.columns
    oi = np.asarray(c["open_interest_long_btc"], dtype=float)
    marks = np.asarray(c["mark_usdt"], dtype=float)
    mean_oi = float(oi.mean()) if len(oi) else 0.0
    out: dict[str, float | None] = dict.fromkeys(
        (
            "depth_1pct_per_oi",
            "volume_per_oi_day",
            "insurance_fund_per_oi",
            "liquidated_per_oi_day",
            "value_capacity_per_oi",
            "value_flow_per_minute_per_oi",
            "arbitrage_capacity_per_oi",
            "arbitrage_flow_per_minute_per_oi",
            "spot_value_capacity_per_oi",
            "share_of_real_open_interest",
            "retail_isolated_share",
            "retail_leverage_median",
        )
    )
    if retail := _retail_accounts(model):
        # Who is exposed the way cascades need: retail on isolated margin, and its leverage.
        out["retail_isolated_share"] = sum(not a.cross for a in retail) / len(retail)
        out["retail_leverage_median"] = float(np.median([a.leverage for a in retail]))
    if mean_oi <= 0:
        return out
    btc = model.exchange.instrument.btc
    for name, kind, activity in (
        ("value", "fundamental", model.config.fundamental_traders.activity_per_hour),
        ("arbitrage", "arbitrageur", model.config.arbitrageurs.activity_per_hour),
    ):
        # What the population could hold (positions at the limit its capital sets) and trade
        # a minute (one clip per action at its activity), against open interest.
        agents = [a for a in model.traders if a.population == kind]
        out[f"{name}_capacity_per_oi"] = btc(sum(a.max_position for a in agents)) / mean_oi
        per_minute = btc(sum(a.clip for a in agents)) * activity / 60
        out[f"{name}_flow_per_minute_per_oi"] = per_minute / mean_oi
    out["share_of_real_open_interest"] = mean_oi / model.config.market.real_open_interest_btc
    spot_value = model.agents_by_type.get(SpotValueTrader, [])
    out["spot_value_capacity_per_oi"] = sum(a.capacity_btc for a in spot_value) / mean_oi
    days = max(model.ticks * model.tick_seconds, model.tick_seconds) / 86_400
    ex = model.exchange
    samples = [
        (b + a) / 2 / o
        for b, a, o in zip(c["depth_bid_1pct_btc"], c["depth_ask_1pct_btc"], oi, strict=True)
        if b is not None and a is not None and o > 0
    ]
    volume_btc = ex.instrument.btc(sum(ex.fills["qty"]))
    notional = mean_oi * float(marks.mean())
    liquidated = sum(c["liquidated_notional_long_usdt"]) + sum(c["liquidated_notional_short_usdt"])
    out["depth_1pct_per_oi"] = float(np.median(samples)) if samples else None
    out["volume_per_oi_day"] = volume_btc / days / mean_oi
    out["insurance_fund_per_oi"] = ex.rules.insurance_fund_seed / notional
    out["liquidated_per_oi_day"] = liquidated / days / notional
    return out


def spot_value_summary(model: MarketModel) -> dict[str, float]:
    """The spot value traders at the end: their count, inventory (BTC, net and the largest
    share of capacity any one uses) and profit (USDT, inventory marked at the spot price)."""
    agents = model.agents_by_type.get(SpotValueTrader, [])
    return {
        "count": len(agents),
        "inventory_btc": float(sum(a.btc for a in agents)),
        "largest_capacity_share": max((abs(a.btc) / a.capacity_btc for a in agents), default=0.0),
        "pnl_usdt": float(sum(a.pnl_usdt() for a in agents)),
    }


def _retail_accounts(model: MarketModel) -> list:
    """The exchange accounts of the retail traders (those who joined)."""
    accounts = model.exchange.accounts
    return [accounts[agent.account] for agent in model.traders if agent.population == "retail"]


SYSTEM_RECEIVERS = {
    name: account
    for account, name in SYSTEM_POPULATIONS.items()
    if account != SystemAccount.EXTERNAL
}
"""The system accounts whose equity changes in a run (``external`` only holds deposits)."""


def equity_change_by_population(model: MarketModel) -> dict[str, float]:
    """Equity at the end less net deposits (USDT), per trader population and then per system
    account that takes part (the exchange's fees and absorbed losses, the insurance fund, the
    backstop vault, each marked at the mark price). Money is conserved and open interest nets
    to zero, so the values add up to zero to the micro-unit: a population's loss is some other
    row's gain (tests/test_outputs.py checks it). The arbitrageurs' spot leg is outside the
    exchange (``arbitrageur_spot_leg_pnl``)."""
    ex = model.exchange
    deposits: dict[str, int] = {}
    for agent in model.traders:
        deposits[agent.population] = deposits.get(agent.population, 0) + ex.deposited[agent.account]
    changes = {p: equity - deposits.get(p, 0) for p, equity in model.equity_by_population().items()}
    for name, account in SYSTEM_RECEIVERS.items():
        changes[name] = ex.equity(account) - ex.deposited[account]
    return {p: ex.instrument.usdt(change) for p, change in changes.items()}


def _by_population(model: MarketModel) -> dict[str, list]:
    groups: dict[str, list] = {}
    for agent in model.traders:
        groups.setdefault(agent.population, []).append(agent)
    return groups
