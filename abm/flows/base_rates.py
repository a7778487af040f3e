"""Shares against base rates: a group's share of the liquidated loss set beside its share of the
traders and of the exposure they held, and the over-representation ratio (loss share over
exposure share) with a bootstrap interval over liquidations.

A group that carries 97% of the liquidated loss is not remarkable if it also holds 97% of the
exposure; the ratio says how much more (above 1) or less (below 1) of the loss a group carries
than its exposure would give it. Groups are those of :func:`abm.flows.traits.trait_labels`
(retail by the trait, every other population by its name); only traders count (system accounts
hold no exposure of their own and are never liquidated).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from abm.config import POPULATIONS
from abm.flows.money import MICRO
from abm.flows.traits import trait_labels

BASE_RATE_COLUMNS = [
    "group",
    "traders",
    "trader_share",
    "exposure_share",
    "loss_usdt",
    "loss_share",
    "ratio_to_traders",
    "ratio_to_exposure",
    "ratio_low",
    "ratio_high",
]
RESAMPLES = 2_000
"""Bootstrap resamples of the liquidations for the ratio's interval."""


def exposure(fills: pd.DataFrame, end_tick: int) -> pd.Series:
    """Each account's exposure over a run: its open position's notional (BTC held x the price of
    the fill that left it there, USDT) integrated over the ticks it was held, to ``end_tick``.

    Input: a fills table (``tick``, ``buyer``, ``seller``, ``qty_btc``, ``price_usdt``, in the
    order they happened); every change of position is a fill, so the path is exact. Output: a
    Series of USDT-ticks indexed by account (accounts that never traded are absent).

    >>> fills = pd.DataFrame({"tick": [0, 5], "buyer": [7, 8], "seller": [8, 7],
    ...                       "qty_btc": [2.0, 1.0], "price_usdt": [10.0, 20.0]})
    >>> exposure(fills, 10).to_dict()  # 7: 2 BTC x 10 for 5 ticks, then 1 x 20 for 5
    {7: 200.0, 8: 200.0}
    """
    n = len(fills)
    if not n:
        return pd.Series(dtype=float)
    qty = fills["qty_btc"].to_numpy(float)
    rows = pd.DataFrame(
        {
            "account": np.concatenate([fills["buyer"], fills["seller"]]).astype(np.int64),
            "order": np.concatenate([np.arange(n), np.arange(n)]),
            "tick": np.concatenate([fills["tick"], fills["tick"]]).astype(np.int64),
            "change": np.concatenate([qty, -qty]),
            "price": np.concatenate([fills["price_usdt"], fills["price_usdt"]]).astype(float),
        }
    ).sort_values(["account", "order"], kind="stable")
    by_account = rows.groupby("account", sort=False)
    position = by_account["change"].cumsum().to_numpy()
    until = by_account["tick"].shift(-1).fillna(end_tick).to_numpy(float)
    held = (
        np.abs(np.round(position, 9)) * rows["price"].to_numpy() * (until - rows["tick"].to_numpy())
    )
    return pd.Series(held, index=rows["account"].to_numpy()).groupby(level=0).sum()


def base_rates(
    attribution: pd.DataFrame,
    accounts: pd.DataFrame,
    fills: pd.DataFrame,
    end_tick: int,
    by: str,
    bins: Sequence[float] | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    held: pd.Series | None = None,
) -> pd.DataFrame:
    """Per group of traders (``by``: a trait of :func:`abm.flows.traits.traits`): ``traders``
    and ``trader_share``, ``exposure_share`` (of :func:`exposure`), ``loss_usdt`` and
    ``loss_share`` (of the liquidated total, by the liquidated account's group), the ratios of
    the loss share to the trader and exposure shares, and ``ratio_low``/``ratio_high``: the
    95% bootstrap interval of ``ratio_to_exposure`` over liquidations (events resampled with
    replacement, the exposure held fixed; NaN with ``resamples=0``). Groups in their natural
    order; a group that held no exposure has no ratio (NaN). ``held``: :func:`exposure` of the
    run when already computed.
    """
    labels = trait_labels(accounts, by, bins)
    traders = accounts["population"].isin(POPULATIONS).to_numpy()
    trader_labels = labels[traders]
    if held is None:
        held = exposure(fills, end_tick)
    held = held.reindex(trader_labels.index).fillna(0.0)
    received = attribution[(attribution["section"] == "received") & attribution["account"].notna()]
    loss = pd.DataFrame(
        {
            "group": received["account"].astype(np.int64).map(labels).astype(object).to_numpy(),
            "event": received["event_id"].to_numpy(np.int64),
            "amount": received["amount_micro_usdt"].to_numpy(float) / MICRO,
        }
    )
    groups = [g for g in labels.cat.categories if (trader_labels == g).any()]
    count = trader_labels.value_counts().reindex(groups).fillna(0).to_numpy(float)
    exposure_by = held.groupby(trader_labels.to_numpy()).sum().reindex(groups).fillna(0.0)
    exposure_share = (exposure_by / exposure_by.sum()).to_numpy() if held.sum() > 0 else np.nan
    per_event = loss.pivot_table(
        index="event", columns="group", values="amount", aggfunc="sum", fill_value=0.0
    ).reindex(columns=groups, fill_value=0.0)
    total = per_event.to_numpy().sum()
    loss_usdt = per_event.sum().to_numpy()
    loss_share = loss_usdt / total if total > 0 else np.full(len(groups), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exposure_share > 0, loss_share / exposure_share, np.nan)
        low, high = _bootstrap(per_event.to_numpy(), exposure_share, resamples, seed)
        trader_share = count / count.sum()
        table = pd.DataFrame(
            {
                "group": groups,
                "traders": count.astype(np.int64),
                "trader_share": trader_share,
                "exposure_share": exposure_share,
                "loss_usdt": loss_usdt,
                "loss_share": loss_share,
                "ratio_to_traders": np.where(trader_share > 0, loss_share / trader_share, np.nan),
                "ratio_to_exposure": ratio,
                "ratio_low": low,
                "ratio_high": high,
            }
        )
    return table[BASE_RATE_COLUMNS]


def _bootstrap(
    per_event: np.ndarray, exposure_share: np.ndarray, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """2.5% and 97.5% quantiles of loss share over exposure share when the liquidation events
    (rows of ``per_event``: an event's loss by group) are drawn with replacement."""
    events, groups = per_event.shape
    if events < 2 or resamples < 1:
        return np.full(groups, np.nan), np.full(groups, np.nan)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, events, size=(resamples, events))
    sums = per_event[draws].sum(axis=1)
    totals = sums.sum(axis=1, keepdims=True)
    ratios = np.where(totals > 0, sums / np.where(totals > 0, totals, 1), np.nan) / exposure_share
    return np.nanquantile(ratios, 0.025, axis=0), np.nanquantile(ratios, 0.975, axis=0)


def format_base_rates(table: pd.DataFrame, by: str) -> str:
    """A :func:`base_rates` table as text: each group's shares and its over-representation."""
    lines = [
        f"against base rates ({by}): share of the liquidated loss against share of traders and "
        "of exposure (open notional held over time); ratio = loss share / exposure share, "
        "95% interval over liquidations",
        f"  {'group':22s} {'traders':>8s} {'of traders':>11s} {'of exposure':>12s} "
        f"{'of loss':>9s} {'ratio':>7s}  interval",
    ]
    for row in table.itertuples(index=False):
        interval = (
            f"{row.ratio_low:.2f} to {row.ratio_high:.2f}" if np.isfinite(row.ratio_low) else "n/a"
        )
        lines.append(
            f"  {str(row.group):22s} {row.traders:8,d} {row.trader_share:11.1%} "
            f"{row.exposure_share:12.1%} {row.loss_share:9.1%} {row.ratio_to_exposure:7.2f}  "
            f"{interval}"
        )
    return "\n".join(lines)
