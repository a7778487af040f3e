"""Where the money goes: the liquidated total split by who received it and who paid for it,
and who gained most from liquidations."""

from __future__ import annotations

import pandas as pd

from abm.config import SYSTEM_POPULATIONS
from abm.flows.attribution import PAID_PARTS, RECEIVED_PARTS

MICRO = 1_000_000
WHERE_COLUMNS = [
    "section",
    "party",
    "part",
    "amount_usdt",
    "share",
    "long_usdt",
    "short_usdt",
    "amount_micro_usdt",
    "long_micro_usdt",
    "short_micro_usdt",
    "events",
]


def where_money_goes(attribution: pd.DataFrame) -> pd.DataFrame:
    """The where-the-money-goes table (``where_money_goes.csv``).

    Input: the output of :func:`abm.flows.attribute_liquidations`. Output: one row per
    (``section``, ``party``, ``part``): section ``received`` (who got the liquidated money:
    counterparties by population, the insurance fund's clearance fees and surplus, the
    exchange's fees) and section ``paid`` (where it came from: the liquidated accounts' own
    collateral by population, insurance-fund payouts, the backstop vault, socialized-loss
    contributors by population, the exchange absorbing, debt left with traders). Columns:
    ``amount_usdt``, ``share`` (of the liquidated total), ``long_usdt`` and ``short_usdt`` (split
    by the liquidated position's side), the same three as int micro-USDT
    (``amount_micro_usdt``, ``long_micro_usdt``, ``short_micro_usdt``) and ``events`` (how many
    liquidations contributed). Each section's ``amount_micro_usdt`` sums exactly to the liquidated total. Received rows are sorted largest first,
    paid rows in waterfall order.

    >>> where_money_goes(attribution)[["section", "party", "part", "share"]]  # doctest: +SKIP
        section          party               part     share
    0  received         retail       counterparty  0.61...
    1  received   market_maker       counterparty  0.17...
    2  received insurance_fund      clearance_fee  0.15...
    """
    a = attribution[attribution["section"].isin(("received", "paid"))]
    if a.empty:
        return pd.DataFrame(columns=WHERE_COLUMNS)
    amount = a["amount_micro_usdt"]
    frame = (
        pd.DataFrame(
            {
                "section": a["section"].astype(object),
                "party": a["party_population"].astype(object),
                "part": a["part"].astype(object),
                "amount_micro_usdt": amount,
                "long_micro_usdt": amount.where(a["side"] == "long", 0),
                "short_micro_usdt": amount.where(a["side"] == "short", 0),
                "event_id": a["event_id"],
            }
        )
        .groupby(["section", "party", "part"], sort=False)
        .agg(
            amount_micro_usdt=("amount_micro_usdt", "sum"),
            long_micro_usdt=("long_micro_usdt", "sum"),
            short_micro_usdt=("short_micro_usdt", "sum"),
            events=("event_id", "nunique"),
        )
        .reset_index()
    )
    frame = frame[frame["amount_micro_usdt"] != 0]
    total = liquidated_total(a)
    frame["share"] = frame["amount_micro_usdt"] / total if total else float("nan")
    for name in ("amount", "long", "short"):
        frame[f"{name}_usdt"] = frame[f"{name}_micro_usdt"] / MICRO
    order = {part: i for i, part in enumerate((*RECEIVED_PARTS, *PAID_PARTS))}
    received = frame[frame["section"] == "received"].sort_values(
        ["amount_micro_usdt", "party", "part"], ascending=[False, True, True]
    )
    paid = frame[frame["section"] == "paid"].assign(order=frame["part"].map(order))
    paid = paid.sort_values(["order", "amount_micro_usdt", "party"], ascending=[True, False, True])
    out = pd.concat([received, paid.drop(columns="order")], ignore_index=True)
    return out[WHERE_COLUMNS].astype(
        {"amount_micro_usdt": "int64", "long_micro_usdt": "int64", "short_micro_usdt": "int64"}
    )


def liquidated_total(attribution: pd.DataFrame) -> int:
    """The sum of all liquidation losses, in micro-units (the received side's total).

    >>> liquidated_total(attribution)                           # doctest: +SKIP
    184446398692
    """
    return int(attribution.loc[attribution["section"] == "received", "amount_micro_usdt"].sum())


def liquidation_gains(attribution: pd.DataFrame, traders_only: bool = False) -> pd.DataFrame:
    """What each receiving account gained from liquidations, largest first.

    Input: the output of :func:`abm.flows.attribute_liquidations`; ``traders_only`` drops the
    system accounts (exchange, insurance fund, backstop vault). Output: one row per account that
    received a ``received`` part: ``account``, ``population``, ``gain_micro_usdt`` (int, net
    over events; negative if on balance it paid liquidated accounts), ``gain_usdt``, ``events``
    and ``taker_gain_micro_usdt`` (memo: what it gained against the mark taking liquidation
    orders).

    >>> liquidation_gains(attribution).head(3)                  # doctest: +SKIP
    """
    received = attribution[attribution["section"] == "received"]
    gains = (
        received.groupby("party", sort=True)
        .agg(
            population=("party_population", "first"),
            gain_micro_usdt=("amount_micro_usdt", "sum"),
            events=("event_id", "nunique"),
        )
        .rename_axis("account")
    )
    taker = attribution[attribution["part"] == "taker_gain"]
    memo = taker.groupby("party")["amount_micro_usdt"].sum()
    gains["taker_gain_micro_usdt"] = memo.reindex(gains.index, fill_value=0).astype("int64")
    gains["gain_usdt"] = gains["gain_micro_usdt"] / MICRO
    gains["population"] = gains["population"].astype(object)
    if traders_only:
        gains = gains[~gains["population"].isin(list(SYSTEM_POPULATIONS.values()))]
    gains = gains.reset_index().sort_values(["gain_micro_usdt", "account"], ascending=[False, True])
    columns = [
        "account",
        "population",
        "gain_micro_usdt",
        "gain_usdt",
        "events",
        "taker_gain_micro_usdt",
    ]
    return gains[columns].reset_index(drop=True)


def top_gainers(attribution: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` trader accounts that gained most from liquidations (see
    :func:`liquidation_gains`; system accounts left out, they have their own rows in
    :func:`where_money_goes`).

    >>> top_gainers(attribution, 3)["account"].tolist()         # doctest: +SKIP
    [11, 48, 2497]
    """
    return liquidation_gains(attribution, traders_only=True).head(n)


def format_where_money_goes(
    table: pd.DataFrame, top: int | None = None, events: int | None = None
) -> str:
    """The where-the-money-goes table as text, each section closed by its total line.

    Input: a table from :func:`where_money_goes` (or read back from ``where_money_goes.csv``);
    optionally how many rows of each section to show (the rest is summed into one line, and the
    total still covers all rows) and the number of liquidation events for the title. Output: a
    string of aligned lines.
    """
    if table.empty:
        return "where the money goes: no liquidations"
    lines = []
    total = int(table.loc[table["section"] == "received", "amount_micro_usdt"].sum())
    counted = (
        f" in {events:,} liquidation event{'' if events == 1 else 's'}"
        if events is not None
        else ""
    )
    lines.append(f"where the money goes: {total / MICRO:,.2f} USDT lost{counted}")
    header = (
        f"  {'':16s} {'':18s} {'USDT':>16s} {'share':>7s} {'long USDT':>16s} {'short USDT':>16s}"
    )
    titles = {"received": "received by", "paid": "paid by"}
    for section in ("received", "paid"):
        rows = table[table["section"] == section]
        if rows.empty:
            continue
        lines.append(titles[section] + header[len(titles[section]) :])
        shown = rows if top is None else rows.head(top)
        for r in shown.itertuples(index=False):
            lines.append(
                f"  {r.party:16s} {r.part:18s} {r.amount_usdt:16,.2f} {r.share:7.1%} "
                f"{r.long_usdt:16,.2f} {r.short_usdt:16,.2f}"
            )
        if len(shown) < len(rows):
            rest = rows.iloc[len(shown) :]
            lines.append(
                f"  {'(' + str(len(rest)) + ' more)':16s} {'':18s} "
                f"{rest['amount_micro_usdt'].sum() / MICRO:16,.2f} {rest['share'].sum():7.1%} "
                f"{rest['long_micro_usdt'].sum() / MICRO:16,.2f} "
                f"{rest['short_micro_usdt'].sum() / MICRO:16,.2f}"
            )
        amount = rows["amount_micro_usdt"].sum()
        lines.append(
            f"  {'total':16s} {'':18s} {amount / MICRO:16,.2f} "
            f"{amount / total if total else 0:7.1%} "
            f"{rows['long_micro_usdt'].sum() / MICRO:16,.2f} "
            f"{rows['short_micro_usdt'].sum() / MICRO:16,.2f}"
        )
    return "\n".join(lines)
