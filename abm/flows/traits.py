"""Where the money goes, by kind of trader: the liquidation attribution split by any account
trait (leverage band, style, stop habit, margin mode, a numeric trait in bands, population, ...),
on the liquidated side and on the receiving side.

The traits describe retail traders, the population that draws them. Every other population
(whale, market_maker, arbitrageur, fundamental) and every system account (exchange,
insurance_fund, backstop_vault, external) keeps its population's name as its group, so that a
band such as ``1-5x`` holds retail traders at 1-5x only; splitting by ``population`` groups
everyone by population.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from abm.config import POPULATIONS, SYSTEM_POPULATIONS
from abm.flows.money import MICRO, liquidated_total

LEVERAGE_BANDS = ((5, "1-5x"), (20, "6-20x"), (50, "21-50x"), (125, "51-125x"))
"""Upper edges (inclusive) of the leverage bands; above the last, ``>125x``."""
ABOVE_BANDS = ">125x"
TRAIT_POPULATION = "retail"
"""The population whose accounts are labelled by their trait; the others keep their name."""
POPULATION_ORDER = (*POPULATIONS, *SYSTEM_POPULATIONS.values())
"""The other groups, after a trait's own labels, in this order."""
DERIVED_TRAITS = {
    "leverage_band": "effective_leverage",
    "wanted_leverage_band": "wanted_leverage",
    "stop_habit": "uses_stop",
}
"""Traits derived from an accounts column: the two leverage bands (:data:`LEVERAGE_BANDS`), and
``stop_habit`` from ``uses_stop`` and ``stop_trigger`` (``no stop``, ``stop on mark``, ``stop on
last``)."""
FEW_VALUES = 6
"""A numeric trait with at most this many distinct values is split by value, not in bands."""
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
    """A trait that is neither derived nor a column of the accounts table, or bins that do not
    fit it."""


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def traits(accounts: pd.DataFrame) -> list[str]:
    """The traits the attribution can be split by: the derived ones (those whose column
    ``accounts`` has) and every other column of ``accounts`` but ``account``, categorical
    (text, category, true/false) or numeric (split in bands, see :func:`trait_labels`).

    >>> traits(pd.DataFrame({"account": [4], "population": ["retail"], "capital": [1.0]}))
    ['capital', 'population']
    """
    found = {name for name, column in DERIVED_TRAITS.items() if column in accounts.columns}
    found.update(name for name in accounts.columns if name != "account")
    return sorted(found)


def _format(value: float) -> str:
    """A band edge as people read it: 27,620 and 514.3, not 2.762e+04."""
    return f"{value:,.0f}" if abs(value) >= 1_000 else f"{value:.4g}"


def _banded(values: np.ndarray, edges: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """Each value's band: ``names[i]`` for values up to ``edges[i]`` (inclusive) and above
    ``edges[i - 1]``, the last name above the last edge; missing values stay None."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    labels = np.asarray(names, dtype=object)[index]
    labels[np.isnan(values)] = None
    return labels


def _custom_bands(edges: Sequence[float]) -> list[str]:
    """Labels of the bands ``bins`` make: ``<= a``, ``(a, b]``, ..., ``> z``."""
    names = [f"<= {_format(edges[0])}"]
    names += [f"({_format(lo)}, {_format(hi)}]" for lo, hi in zip(edges, edges[1:], strict=False)]
    return [*names, f"> {_format(edges[-1])}"]


def _numeric_bands(
    values: np.ndarray, name: str, bins: Sequence[float] | None
) -> tuple[np.ndarray, list[str]]:
    """Labels and their order for a numeric trait (values of the trait population only):
    ``bins`` when given; the leverage bands for a leverage; the values themselves when there
    are at most :data:`FEW_VALUES` of them; else quartile bands labelled with their ranges."""
    known = values[~np.isnan(values)]
    if bins is not None:
        edges = [float(b) for b in bins]
        if not edges or any(hi <= lo for lo, hi in zip(edges, edges[1:], strict=False)):
            raise UnknownTraitError(
                f"bins {list(bins)} for {name}: give one or more increasing edges, e.g. "
                "[10, 100, 1000]"
            )
        names = _custom_bands(edges)
        return _banded(values, edges, names), names
    if "leverage" in name:
        names = [label for _, label in LEVERAGE_BANDS] + [ABOVE_BANDS]
        return _banded(values, [edge for edge, _ in LEVERAGE_BANDS], names), names
    distinct = np.unique(known)
    if len(distinct) <= FEW_VALUES:
        names = [_format(v) for v in distinct]
        return _banded(values, distinct[:-1], names), names
    quartiles = np.unique(np.quantile(known, [0.0, 0.25, 0.5, 0.75, 1.0]))
    names = [f"[{_format(quartiles[0])}, {_format(quartiles[1])}]"]
    names += [
        f"({_format(lo)}, {_format(hi)}]"
        for lo, hi in zip(quartiles[1:], quartiles[2:], strict=False)
    ]
    return _banded(values, quartiles[1:-1], names), names


def _categorical(accounts: pd.DataFrame, by: str) -> tuple[np.ndarray, list[str]]:
    """Labels and their order for a derived ``stop_habit`` or a categorical column; a
    true/false trait reads ``by`` or ``not by``."""
    if by == "stop_habit":
        uses = accounts["uses_stop"].astype(object).to_numpy()
        trigger = accounts["stop_trigger"].astype(object).to_numpy()
        labels = [
            None if pd.isna(u) else f"stop on {t}" if u else "no stop"
            for u, t in zip(uses, trigger, strict=True)
        ]
        return np.array(labels, dtype=object), ["no stop", "stop on mark", "stop on last"]
    labels = np.array([_label(v, by) for v in accounts[by].astype(object)], dtype=object)
    column = accounts[by]
    if pd.api.types.is_bool_dtype(column) or set(column.dropna().unique()) <= {True, False}:
        return labels, [by, f"not {by}"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return labels, [str(c) for c in column.cat.categories]
    return labels, sorted({str(v) for v in labels if v is not None})


def _label(value: object, by: str) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return by if value else f"not {by}"
    return str(value)


def trait_labels(accounts: pd.DataFrame, by: str, bins: Sequence[float] | None = None) -> pd.Series:
    """Each account's group for trait ``by``: a Series indexed by account, of an ordered
    categorical whose categories are the trait's labels in their natural order (bands low to
    high) followed by the other groups (:data:`POPULATION_ORDER`).

    A retail account is labelled by its trait; any other account (another population, a system
    account) by its population, and so is a retail account without the trait. Numeric traits
    are split in bands: ``bins`` (increasing edges, each band up to its edge inclusive:
    ``<= a``, ``(a, b]``, ..., ``> z``) when given; else ``wanted_leverage`` and
    ``effective_leverage`` (and ``leverage_band``, ``wanted_leverage_band``) in the leverage
    bands 1-5x, 6-20x, 21-50x, 51-125x, >125x; a trait with at most :data:`FEW_VALUES`
    distinct values (``reentries``) by value; any other (``capital_draw_usdt``,
    ``stop_distance_bps``) in quartile bands of the retail accounts' values, labelled with
    their ranges. UnknownTraitError for a trait :func:`traits` does not list, or ``bins`` for a
    trait that is not numeric.

    >>> a = pd.DataFrame({"account": [1, 4, 5, 6],
    ...                   "population": ["insurance_fund", "retail", "whale", "retail"],
    ...                   "effective_leverage": [None, 75, 3, 3]})
    >>> trait_labels(a, "leverage_band").tolist()
    ['insurance_fund', '51-125x', 'whale', '1-5x']
    """
    allowed = traits(accounts)
    if by not in allowed:
        raise UnknownTraitError(f"unknown trait {by!r}; allowed: {', '.join(allowed)}")
    population = accounts["population"].astype(object).to_numpy()
    column = DERIVED_TRAITS.get(by, by)
    own = population != TRAIT_POPULATION
    if _is_numeric(accounts[column]):
        values = accounts[column].to_numpy(float, na_value=np.nan)
        values = np.where(own, np.nan, values)
        labels, order = _numeric_bands(values, column, bins)
    elif bins is not None:
        raise UnknownTraitError(
            f"bins apply to a numeric trait; {by!r} is a category (its values are its groups)"
        )
    else:
        labels, order = _categorical(accounts, by)
    if by == "population":
        own, order = np.zeros(len(population), dtype=bool), []
    grouped = np.where(own | pd.isna(labels), population, labels)
    present = {str(g) for g in grouped}
    order = [o for o in order if o in present]
    order += [p for p in POPULATION_ORDER if p in present and p not in order]
    order += sorted(present - set(order))
    return pd.Series(
        pd.Categorical(grouped, categories=order, ordered=True),
        index=accounts["account"].to_numpy(),
    )


def split_by(
    attribution: pd.DataFrame,
    accounts: pd.DataFrame,
    by: str,
    bins: Sequence[float] | None = None,
) -> pd.DataFrame:
    """The where-the-money-goes table split by a trait of the liquidated and of the parties.

    Inputs: the output of :func:`abm.flows.attribute_liquidations` (or
    ``liquidation_attribution.parquet``), the run's ``accounts`` table, a trait from
    :func:`traits` (e.g. ``leverage_band``, ``wanted_leverage_band``, ``style``,
    ``stop_habit``, ``margin_mode``, ``capital_draw_usdt``, ``population``) and, for a numeric
    trait, optional band edges ``bins`` (see :func:`trait_labels`). Output: one row per
    (``liquidated``, ``section``, ``party``, ``part``): ``liquidated`` is the group of the
    liquidated account, ``party`` that of the receiver (section ``received``) or payer
    (``paid``); only retail accounts are grouped by the trait, every other account by its
    population. ``liquidated`` and ``party`` are ordered categoricals (bands low to high, then
    the populations). Columns ``amount_usdt``, ``share`` (of the liquidated total),
    ``amount_micro_usdt`` (int) and ``events``; each section sums exactly to the liquidated
    total, largest rows first. Summing the received rows by ``liquidated`` gives the losses by
    kind of trader, by ``party`` the gains: who profits from whose liquidations.

    >>> split_by(attribution, accounts, "leverage_band").head(2)  # doctest: +SKIP
      liquidated   section       party          part  amount_usdt  share  ...
    0    51-125x  received  fundamental  counterparty     61234.10  0.398  ...
    1    21-50x   received  fundamental  counterparty     40211.97  0.261  ...
    """
    labels = trait_labels(accounts, by, bins)
    a = attribution[attribution["section"].isin(("received", "paid"))]
    if a.empty:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    order = labels.cat.categories
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
    for name in ("liquidated", "party"):
        table[name] = pd.Categorical(table[name], categories=order, ordered=True)
    return table[SPLIT_COLUMNS]


def format_split(split: pd.DataFrame, by: str) -> str:
    """A split from :func:`split_by` as text: losses by group of the liquidated, gains by group
    of the receiver, and the table of who profits from whose liquidations (USDT), groups in
    their natural order (bands low to high, then the other populations)."""
    received = split[split["section"] == "received"]
    if received.empty:
        return f"split by {by}: no liquidations"
    total = int(received["amount_micro_usdt"].sum())
    lines = [
        f"where the money goes by {by}: {total / MICRO:,.2f} USDT lost",
        f"({by} groups retail traders; other populations and system accounts keep their "
        "population's name)"
        if by != "population"
        else "(every account by its population)",
    ]
    for title, key in (("lost by the liquidated", "liquidated"), ("gained by", "party")):
        rows = received.groupby(key, observed=True)["amount_micro_usdt"].sum()
        lines.append(f"{title} ({by}):")
        lines += [
            f"  {label:22s} {amount / MICRO:16,.2f} {amount / total:7.1%}"
            for label, amount in rows.items()
        ]
    matrix = received.pivot_table(
        index="liquidated",
        columns="party",
        values="amount_micro_usdt",
        aggfunc="sum",
        observed=True,
    ).fillna(0)
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
