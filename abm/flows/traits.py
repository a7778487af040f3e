"""Where the money goes, by kind of trader: the liquidation attribution split by any account
trait (leverage band, style, stop habit, margin mode, population, ...), on the liquidated side
and on the receiving side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from abm.flows.money import MICRO, SYSTEM_POPULATIONS, liquidated_total

LEVERAGE_BANDS = ((5, "1-5x"), (20, "6-20x"), (50, "21-50x"), (125, "51-125x"))
"""Upper edges (inclusive) of the leverage bands of ``effective_leverage``; above the last,
``>125x``."""
ABOVE_BANDS = ">125x"
DERIVED_TRAITS = ("leverage_band", "stop_habit")
"""Traits derived from accounts columns: ``leverage_band`` from ``effective_leverage``
(:data:`LEVERAGE_BANDS`), ``stop_habit`` from ``uses_stop`` and ``stop_trigger`` (``no stop``,
``stop on mark``, ``stop on last``)."""
SPLIT_COLUMNS = [
    "liquidated",
    "section",
    "party",
    "part",
    "amount_usdt",
    "share",
    "amount_micro_usdt",
    "events",
]


class UnknownTraitError(ValueError):
    """A trait that is neither derived nor a categorical column of the accounts table."""


def traits(accounts: pd.DataFrame) -> list[str]:
    """The traits the attribution can be split by: the derived ones and every categorical
    (text, category or true/false) column of ``accounts`` but ``account``.

    >>> traits(pd.DataFrame({"account": [4], "population": ["retail"], "capital": [1.0]}))
    ['leverage_band', 'population', 'stop_habit']
    """
    found = set(DERIVED_TRAITS)
    for name in accounts.columns:
        column = accounts[name]
        if name != "account" and (
            isinstance(column.dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(column)
            or pd.api.types.is_string_dtype(column)
            or column.dtype == object
        ):
            found.add(name)
    return sorted(found)


def trait_labels(accounts: pd.DataFrame, by: str) -> pd.Series:
    """Each account's label for trait ``by`` (a Series indexed by account).

    A system account (exchange, insurance fund, backstop vault, external) is labelled by its
    population whatever the trait, and so is a trader whose population does not have the trait
    (a whale has no trading style); a true/false trait reads ``by`` or ``not by``. UnknownTraitError
    for a trait :func:`traits` does not list.

    >>> a = pd.DataFrame({"account": [1, 4, 5], "population": ["insurance_fund", "retail", "whale"],
    ...                   "effective_leverage": [1, 75, 3]})
    >>> trait_labels(a, "leverage_band").tolist()
    ['insurance_fund', '51-125x', '1-5x']
    """
    allowed = traits(accounts)
    if by not in allowed:
        raise UnknownTraitError(f"unknown trait {by!r}; allowed: {', '.join(allowed)}")
    population = accounts["population"].astype(object).to_numpy()
    if by == "leverage_band":
        leverage = accounts["effective_leverage"].to_numpy(float)
        edges = np.array([edge for edge, _ in LEVERAGE_BANDS], dtype=float)
        names = np.array([name for _, name in LEVERAGE_BANDS] + [ABOVE_BANDS], dtype=object)
        labels = names[np.searchsorted(edges, leverage, side="left")]
    elif by == "stop_habit":
        uses = accounts["uses_stop"].astype(object).to_numpy()
        trigger = accounts["stop_trigger"].astype(object).to_numpy()
        labels = np.array(
            [
                None if pd.isna(u) else f"stop on {t}" if u else "no stop"
                for u, t in zip(uses, trigger, strict=True)
            ],
            dtype=object,
        )
    else:
        labels = np.array(
            [_label(v, by) for v in accounts[by].astype(object).to_numpy()], dtype=object
        )
    own = np.isin(population, SYSTEM_POPULATIONS) | pd.isna(labels)
    return pd.Series(np.where(own, population, labels), index=accounts["account"].to_numpy())


def _label(value: object, by: str) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return by if value else f"not {by}"
    return str(value)


def split_by(attribution: pd.DataFrame, accounts: pd.DataFrame, by: str) -> pd.DataFrame:
    """The where-the-money-goes table split by a trait of the liquidated and of the parties.

    Inputs: the output of :func:`abm.flows.attribute_liquidations` (or
    ``liquidation_attribution.parquet``), the run's ``accounts`` table and a trait from
    :func:`traits` (e.g. ``leverage_band``, ``style``, ``stop_habit``, ``margin_mode``,
    ``population``). Output: one row per (``liquidated``, ``section``, ``party``, ``part``):
    ``liquidated`` is the trait of the liquidated account, ``party`` that of the receiver
    (section ``received``) or payer (``paid``); system accounts keep their own names (see
    :func:`trait_labels`). Columns ``amount_usdt``, ``share`` (of the liquidated total),
    ``amount_micro_usdt`` (int) and ``events``; each section sums exactly to the liquidated
    total, largest rows first. Summing the received rows by ``liquidated`` gives the losses by
    kind of trader, by ``party`` the gains: who profits from whose liquidations.

    >>> split_by(attribution, accounts, "leverage_band").head(2)  # doctest: +SKIP
      liquidated   section       party          part  amount_usdt  share  ...
    0    51-125x  received  fundamental  counterparty     61234.10  0.398  ...
    1    21-50x   received  fundamental  counterparty     40211.97  0.261  ...
    """
    labels = trait_labels(accounts, by)
    a = attribution[attribution["section"].isin(("received", "paid"))]
    if a.empty:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    frame = pd.DataFrame(
        {
            "liquidated": a["account"].map(labels).to_numpy(object),
            "section": a["section"].astype(object).to_numpy(),
            "party": a["party"].map(labels).to_numpy(object),
            "part": a["part"].astype(object).to_numpy(),
            "amount_micro_usdt": a["amount_micro_usdt"].to_numpy(np.int64),
            "event_id": a["event_id"].to_numpy(np.int64),
        }
    )
    table = (
        frame.groupby(["liquidated", "section", "party", "part"], sort=True)
        .agg(amount_micro_usdt=("amount_micro_usdt", "sum"), events=("event_id", "nunique"))
        .reset_index()
    )
    table = table[table["amount_micro_usdt"] != 0]
    total = liquidated_total(attribution)
    table["amount_usdt"] = table["amount_micro_usdt"] / MICRO
    table["share"] = table["amount_micro_usdt"] / total if total else float("nan")
    table = table.sort_values(
        ["section", "amount_micro_usdt", "liquidated", "party", "part"],
        ascending=[False, False, True, True, True],
        ignore_index=True,
    )
    return table[SPLIT_COLUMNS]


def format_split(split: pd.DataFrame, by: str) -> str:
    """A split from :func:`split_by` as text: losses by ``by`` of the liquidated, gains by
    ``by`` of the receiver, and the table of who profits from whose liquidations (USDT)."""
    received = split[split["section"] == "received"]
    if received.empty:
        return f"split by {by}: no liquidations"
    total = int(received["amount_micro_usdt"].sum())
    lines = [f"where the money goes by {by}: {total / MICRO:,.2f} USDT lost"]
    for title, key in (("lost by the liquidated", "liquidated"), ("gained by", "party")):
        rows = received.groupby(key)["amount_micro_usdt"].sum().sort_values(ascending=False)
        lines.append(f"{title} ({by}):")
        lines += [
            f"  {label:22s} {amount / MICRO:16,.2f} {amount / total:7.1%}"
            for label, amount in rows.items()
        ]
    matrix = received.pivot_table(
        index="liquidated", columns="party", values="amount_micro_usdt", aggfunc="sum"
    ).fillna(0)
    matrix = matrix.loc[
        matrix.sum(axis=1).sort_values(ascending=False).index,
        matrix.sum(axis=0).sort_values(ascending=False).index,
    ]
    width = max(12, *(len(str(c)) + 1 for c in matrix.columns))
    lines.append(
        f"who profits from whose liquidations (USDT; rows: liquidated {by}, columns: receiver):"
    )
    lines.append(f"  {'':22s}" + "".join(f"{str(c):>{width}s}" for c in matrix.columns))
    for label, row in matrix.iterrows():
        lines.append(
            f"  {str(label):22s}" + "".join(f"{v / MICRO:>{width},.0f}" for v in row.to_numpy())
        )
    return "\n".join(lines)
