"""Who earns what: population PnL, market makers' spread capture against adverse selection,
liquidations against open interest and volume, auto-deleveraging and its reasons.

Plain functions over a run's tables (pandas DataFrames or mappings of column name to array) with
the columns of ``ticks.parquet``, ``fills.parquet``, ``accounts.parquet`` and
``liquidations.parquet``; prices in USDT.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from abm.analysis.microstructure import column

BOOK_KINDS = ("normal", "liquidation", "unwind")
"""Fill kinds that are trades on the order book (ADL and vault takeovers are transfers of
positions at a set price, with no maker and no taker)."""

BOOK_CANNOT_ABSORB = "book_cannot_absorb"
"""The ADL reason the validation rule allows: the book could not take the order at the
bankruptcy price."""


def population_pnl(summary: dict) -> dict[str, float]:
    """Each population's equity change over the run, in USDT (``pnl.<population>``), from a
    run's ``summary.json``, and the arbitrageurs' with their spot leg (off the exchange) added
    (``arbitrageur_with_spot_leg``).

    >>> population_pnl({"equity_change_by_population": {"retail": -5.0, "market_maker": 3.5}})
    {'retail': -5.0, 'market_maker': 3.5}
    """
    pnl = {p: float(v) for p, v in summary.get("equity_change_by_population", {}).items()}
    if "arbitrageur" in pnl and "arbitrageur_spot_leg_pnl" in summary:
        pnl["arbitrageur_with_spot_leg"] = pnl["arbitrageur"] + float(
            summary["arbitrageur_spot_leg_pnl"]
        )
    return pnl


def accounts_of(accounts, population: str) -> np.ndarray:
    """The account ids of one population, from an accounts table (``account``, ``population``).

    >>> accounts_of({"account": [0, 1, 2], "population": ["retail", "market_maker", "retail"]},
    ...             "market_maker")
    array([1])
    """
    ids = column(accounts, "account", np.int64)
    pops = np.asarray(accounts["population"], dtype=object)
    return ids[pops == population]


def mid_prices(ticks) -> np.ndarray:
    """Per-tick mid: the middle of best bid and ask, the mark where a side is empty."""
    bid, ask = column(ticks, "best_bid_usdt"), column(ticks, "best_ask_usdt")
    mid = (bid + ask) / 2
    return np.where(np.isfinite(mid), mid, column(ticks, "mark_usdt"))


def maker_markouts(
    fills, ticks, makers, tick_seconds: float = 1.0, horizon_seconds: float = 60.0
) -> dict[str, float]:
    """Spread capture and adverse selection of the accounts ``makers`` on the fills they made.

    A fill is made by a maker when it was the passive side: a maker buying from a sell
    aggressor (side +1) or selling to a buy aggressor (side -1); only book fills count
    (:data:`BOOK_KINDS`). With ``mid_t`` the mid (:func:`mid_prices`) recorded at the end of the
    tick before the fill (the quotes the fill met; a fill in the first recorded tick is left out)
    and ``mid_h`` the mid ``horizon_seconds`` after the fill's tick:

    - ``edge_bps`` = side x (mid_t - price) / mid_t x 1e4: the half-spread captured;
    - ``adverse_bps`` = side x (mid_h - mid_t) / mid_t x 1e4: how the mid moved for the maker
      afterwards, negative when it moved against it (adverse selection);
    - ``realised_bps`` = ``edge_bps + adverse_bps``: the spread kept after the move.

    All three are means weighted by ``qty_lots``; fills whose horizon is past the run's end are
    left out. Also ``maker_fills`` and ``maker_qty_btc`` (all made fills). NaN without a fill.

    >>> ticks = {"tick": [0, 1, 2], "best_bid_usdt": [99.0, 97.0, 97.0],
    ...          "best_ask_usdt": [101.0, 99.0, 99.0], "mark_usdt": [100.0, 98.0, 98.0]}
    >>> fills = {"tick": [1], "buyer": [7], "seller": [3], "qty_lots": [10], "qty_btc": [0.01],
    ...          "price_usdt": [99.0], "aggressor": ["sell"], "kind": ["normal"]}
    >>> {k: round(v, 6) for k, v in maker_markouts(fills, ticks, [7], 1, 1).items()}
    {'edge_bps': 100.0, 'adverse_bps': -200.0, 'realised_bps': -100.0, 'maker_fills': 1, 'maker_qty_btc': 0.01}
    """
    makers = np.asarray(list(makers) if not isinstance(makers, np.ndarray) else makers)
    buyer = np.isin(column(fills, "buyer", np.int64), makers)
    seller = np.isin(column(fills, "seller", np.int64), makers)
    aggressor = np.asarray(fills["aggressor"], dtype=object)
    side = np.where(
        buyer & (aggressor == "sell"), 1, np.where(seller & (aggressor == "buy"), -1, 0)
    )
    if "kind" in fills:
        side = np.where(np.isin(np.asarray(fills["kind"], dtype=object), BOOK_KINDS), side, 0)
    made = side != 0
    out = {
        "edge_bps": math.nan,
        "adverse_bps": math.nan,
        "realised_bps": math.nan,
        "maker_fills": int(made.sum()),
        "maker_qty_btc": float(column(fills, "qty_btc")[made].sum())
        if "qty_btc" in fills
        else math.nan,
    }
    if not made.any():
        return out
    tick_ids = column(ticks, "tick", np.int64)
    mids = mid_prices(ticks)
    horizon = max(1, round(horizon_seconds / tick_seconds))

    def lookup(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(tick_ids, t)
        ok = pos < len(tick_ids)
        ok[ok] &= tick_ids[pos[ok]] == t[ok]
        return pos, ok

    fill_tick = column(fills, "tick", np.int64)[made]
    now, ok_now = lookup(fill_tick - 1)
    later, ok_later = lookup(fill_tick + horizon)
    ok = ok_now & ok_later
    if not ok.any():
        return out
    s = side[made][ok]
    qty = column(fills, "qty_lots")[made][ok]
    price = column(fills, "price_usdt")[made][ok]
    mid_t, mid_h = mids[now[ok]], mids[later[ok]]
    edge = s * (mid_t - price) / mid_t * 1e4
    adverse = s * (mid_h - mid_t) / mid_t * 1e4
    weight = qty.sum()
    out["edge_bps"] = float((edge * qty).sum() / weight)
    out["adverse_bps"] = float((adverse * qty).sum() / weight)
    out["realised_bps"] = out["edge_bps"] + out["adverse_bps"]
    return out


def run_days(ticks) -> float:
    """Simulated days a ticks table spans, (last ``elapsed_s`` - first) / 86,400 (a run's table
    holds tick 0's opening row and every tick after it); NaN for a span of zero."""
    seconds = column(ticks, "elapsed_s")
    if not len(seconds):
        return math.nan
    span = seconds.max() - seconds.min()
    return float(span / 86_400) if span > 0 else math.nan


def liquidation_facts(ticks, fills=None) -> dict[str, float]:
    """Liquidated notional against open interest and traded volume, and its long share.

    Input: a ticks table (``elapsed_s``, ``mark_usdt``, ``open_interest_long_btc``,
    ``liquidated_notional_long_usdt`` and ``liquidated_notional_short_usdt``) and optionally
    the fills table (``qty_btc``, ``price_usdt``, ``kind``). Output: ``notional_usdt`` (total liquidated),
    ``notional_per_oi_day`` (liquidated notional per day over the mean open interest's notional
    at the mark), ``notional_per_volume`` (over the notional traded on the book, per day alike),
    ``long_share`` (of the liquidated notional; NaN when nothing was liquidated).

    >>> ticks = {"elapsed_s": [0.0, 43_200.0, 86_400.0], "mark_usdt": [100.0] * 3,
    ...          "open_interest_long_btc": [10.0] * 3,
    ...          "liquidated_notional_long_usdt": [0.0, 3.0, 0.0],
    ...          "liquidated_notional_short_usdt": [0.0, 0.0, 1.0]}
    >>> liquidation_facts(ticks)
    {'notional_usdt': 4.0, 'notional_per_oi_day': 0.004, 'notional_per_volume': nan, 'long_share': 0.75}
    """
    long = np.nansum(column(ticks, "liquidated_notional_long_usdt"))
    short = np.nansum(column(ticks, "liquidated_notional_short_usdt"))
    total = float(long + short)
    days = run_days(ticks)
    oi = float(np.nanmean(column(ticks, "open_interest_long_btc") * column(ticks, "mark_usdt")))
    volume = math.nan
    if fills is not None:
        book = np.ones(len(fills["price_usdt"]), dtype=bool)
        if "kind" in fills:
            book = np.isin(np.asarray(fills["kind"], dtype=object), BOOK_KINDS)
        volume = float((column(fills, "qty_btc") * column(fills, "price_usdt"))[book].sum())
    return {
        "notional_usdt": total,
        "notional_per_oi_day": total / days / oi if oi > 0 and days > 0 else math.nan,
        "notional_per_volume": total / volume if volume > 0 else math.nan,
        "long_share": float(long / total) if total > 0 else math.nan,
    }


def adl_facts(liquidations) -> dict:
    """Auto-deleveraging actions and why they fired, from a liquidations table.

    Each row's ``backstops`` lists the event's backstop steps (``["insurance_fund", "adl",
    "adl"]``), one ``adl`` per position deleveraged; ``adl_reason`` says why ADL fired
    (``book_cannot_absorb`` or ``insurance_fund_short``; null without ADL). Runs written before
    that column existed have their reasons counted as ``unrecorded``. Output: ``actions``, ``events`` (with ADL),
    ``actions_not_book`` (actions whose reason is not ``book_cannot_absorb``, unrecorded ones
    included: the validation rule wants none) and ``reasons`` (actions per reason).

    >>> adl_facts({"backstops": [[], ["adl", "adl"], ["insurance_fund", "adl"]],
    ...            "adl_reason": [None, "book_cannot_absorb", "insurance_fund_short"]})
    {'actions': 3, 'events': 2, 'actions_not_book': 1, 'reasons': {'book_cannot_absorb': 2, 'insurance_fund_short': 1}}
    """
    steps = [list(s) for s in liquidations["backstops"]] if "backstops" in liquidations else []
    if "adl_reason" in liquidations:
        reasons = ["" if pd.isna(r) else str(r) for r in liquidations["adl_reason"]]
    else:
        reasons = [""] * len(steps)
    counts: dict[str, int] = {}
    events = 0
    for backstops, reason in zip(steps, reasons, strict=True):
        n = backstops.count("adl")
        if not n:
            continue
        events += 1
        key = reason or "unrecorded"
        counts[key] = counts.get(key, 0) + n
    actions = sum(counts.values())
    return {
        "actions": actions,
        "events": events,
        "actions_not_book": actions - counts.get(BOOK_CANNOT_ABSORB, 0),
        "reasons": dict(sorted(counts.items())),
    }


def liquidation_window_pnl(ticks, liquidations, transfers, accounts) -> dict[str, float]:
    """Each population's marked-to-market PnL over the liquidation windows, USDT: a check of who
    gained while accounts were liquidated that rests on no link convention (equity at the mark
    is the same whichever links a closing side leaves; the attribution's receivers are not).

    A window is an interval between two equity snapshots (``run.equity_every_ticks``) holding a
    liquidation; a population's PnL over it is its equity change (``equity_<population>_usdt``,
    and ``insurance_fund_usdt`` for the fund) less its net deposits in it. Inputs: the ticks,
    liquidations (``tick``), transfers (``tick``, ``src``, ``dst``, ``amount_micro_usdt``,
    ``cause``) and accounts (``account``, ``population``) tables. Output: ``<population>`` USDT
    per population and ``insurance_fund``, and ``windows`` (how many).

    >>> ticks = {"tick": [0, 60, 120], "equity_retail_usdt": [100.0, 80.0, 85.0],
    ...          "equity_whale_usdt": [50.0, 70.0, 60.0], "insurance_fund_usdt": [1.0] * 3}
    >>> liquidation_window_pnl(ticks, {"tick": [61, 100]},
    ...     {"tick": [90], "src": [3], "dst": [4], "amount_micro_usdt": [4_000_000],
    ...      "cause": ["deposit"]},
    ...     {"account": [3, 4], "population": ["external", "retail"]})
    {'retail': 1.0, 'whale': -10.0, 'insurance_fund': 0.0, 'windows': 1.0}
    """
    equity = {
        name[len("equity_") : -len("_usdt")]: name
        for name in ticks
        if name.startswith("equity_") and name.endswith("_usdt")
    }
    first = next(iter(equity.values()), None)
    if first is None:
        return {}
    on_cadence = np.isfinite(column(ticks, first))
    snapshot_ticks = column(ticks, "tick", np.int64)[on_cadence]
    series = {p: column(ticks, name)[on_cadence] for p, name in equity.items()}
    series["insurance_fund"] = column(ticks, "insurance_fund_usdt")[on_cadence]
    ends = np.unique(np.searchsorted(snapshot_ticks, column(liquidations, "tick", np.int64)))
    ends = ends[(ends >= 1) & (ends < len(snapshot_ticks))]
    out = {p: float((values[ends] - values[ends - 1]).sum()) for p, values in series.items()}
    causes = np.asarray(transfers["cause"], dtype=object)
    moving = np.isin(causes, ("deposit", "withdrawal"))
    if moving.any() and len(ends):
        ids = column(accounts, "account", np.int64)
        population = dict(zip(ids, np.asarray(accounts["population"]), strict=True))
        where = np.searchsorted(snapshot_ticks, column(transfers, "tick", np.int64)[moving])
        inside = np.isin(where, ends)
        amounts = column(transfers, "amount_micro_usdt")[moving][inside] / 1e6
        deposit = causes[moving][inside] == "deposit"
        owners = np.where(
            deposit,
            column(transfers, "dst", np.int64)[moving][inside],
            column(transfers, "src", np.int64)[moving][inside],
        )
        for owner, amount, is_deposit in zip(owners, amounts, deposit, strict=True):
            name = population.get(int(owner))
            if name in out:
                out[name] -= float(amount) if is_deposit else -float(amount)
    out["windows"] = float(len(ends))
    return out


def book_walk(fills, ticks, accounts) -> dict[str, float]:
    """What liquidation orders paid for trading on the book rather than at the mark, USDT, and
    who received it: per liquidation fill, its BTC x how far its price was from the mark of its
    tick against the liquidated side (a long's forced sale below the mark, a short's forced
    buy above it; a fill better than the mark counts negative). The counterfactual is closing
    at the mark. The liquidated side is the fill's aggressor; the receiver, the resting side.

    Inputs: fills (``tick``, ``buyer``, ``seller``, ``qty_btc``, ``price_usdt``,
    ``aggressor``, ``kind``), ticks (``tick``, ``mark_usdt``) and accounts (``account``,
    ``population``). Output: ``total`` and ``to_<population>``.

    >>> fills = {"tick": [5, 5], "buyer": [7, 8], "seller": [9, 9], "qty_btc": [1.0, 2.0],
    ...          "price_usdt": [99.0, 98.0], "aggressor": ["sell", "sell"],
    ...          "kind": ["liquidation", "liquidation"]}
    >>> book_walk(fills, {"tick": [5], "mark_usdt": [100.0]},
    ...           {"account": [7, 8, 9], "population": ["market_maker", "whale", "retail"]})
    {'total': 5.0, 'to_market_maker': 1.0, 'to_whale': 4.0}
    """
    kind = np.asarray(fills["kind"], dtype=object)
    forced = kind == "liquidation"
    if not forced.any():
        return {"total": 0.0}
    mark_of = dict(zip(column(ticks, "tick", np.int64), column(ticks, "mark_usdt"), strict=True))
    tick = column(fills, "tick", np.int64)[forced]
    mark = np.array([mark_of.get(int(t), np.nan) for t in tick])
    price = column(fills, "price_usdt")[forced]
    selling = np.asarray(fills["aggressor"], dtype=object)[forced] == "sell"
    cost = column(fills, "qty_btc")[forced] * np.where(selling, mark - price, price - mark)
    maker = np.where(
        selling, column(fills, "buyer", np.int64)[forced], column(fills, "seller", np.int64)[forced]
    )
    population = dict(
        zip(column(accounts, "account", np.int64), np.asarray(accounts["population"]), strict=True)
    )
    received = pd.Series(cost).groupby([population.get(int(m), "unknown") for m in maker]).sum()
    out = {"total": float(np.nansum(cost))}
    out.update({f"to_{p}": float(v) for p, v in received.items()})
    return out
