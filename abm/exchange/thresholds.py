"""Liquidation thresholds and the liquidation map: which mark liquidates each open position,
kept in two heaps (longs by highest threshold, shorts by lowest) and binned for the map.

A fill or a payment marks an account stale (:func:`refresh`); thresholds are recomputed once,
when next read (:func:`flush`), however many fills touched the account. Functions over the
exchange's state; :class:`abm.exchange.exchange.Exchange` keeps the public ones as delegates.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np

from abm.exchange.margin import liquidation_tick
from abm.exchange.results import LiquidationMap

if TYPE_CHECKING:
    from abm.exchange.accounts import Account
    from abm.exchange.exchange import Exchange


def refresh(ex: Exchange, account: Account) -> None:
    """Mark the account's liquidation threshold as out of date; it is recomputed once, when
    thresholds are next read (:func:`flush`), however many fills touched it."""
    ex.stale_thresholds.add(account.id)


def flush(ex: Exchange) -> None:
    """Recompute the thresholds of every account changed since the last flush, and index
    them; entries of older versions stay in the heaps as stale and are skipped. Entries
    order by threshold, then account id, so which account is liquidated first never depends
    on how often thresholds were read."""
    if not ex.stale_thresholds:
        return
    accounts = ex.accounts
    brackets, k = ex.brackets, ex.k
    longs, shorts = ex.long_thresholds, ex.short_thresholds
    for account_id in sorted(ex.stale_thresholds):
        account = accounts[account_id]
        account.liq_version += 1
        if account.map_lots:
            unmap_position(ex, account)
        if not account.position or not account.liquidatable:
            account.liq_threshold = None
            continue
        threshold = liquidation_tick(
            brackets,
            k,
            ex.collateral(account),
            account.position,
            account.cost,
            ex.liquidate_at_equality,
        )
        account.liq_threshold = threshold
        map_position(ex, account, threshold)
        if account.position > 0:
            heapq.heappush(longs, (-threshold, account_id, account.liq_version))
        else:
            heapq.heappush(shorts, (threshold, account_id, account.liq_version))
    ex.stale_thresholds.clear()
    compact(ex)


def map_position(ex: Exchange, account: Account, threshold: int) -> None:
    """Enter an account's position in the liquidation map at its threshold's bin."""
    bins = ex.map_bins[0 if account.position > 0 else 1]
    key = threshold // ex.map_bin_ticks
    lots = abs(account.position)
    entry = bins.get(key)
    if entry is None:
        bins[key] = [lots, lots * threshold]
    else:
        entry[0] += lots
        entry[1] += lots * threshold
    account.map_bin, account.map_lots = key, account.position


def unmap_position(ex: Exchange, account: Account) -> None:
    """Take an account's position out of the liquidation map, at the threshold it was
    entered with (still ``liq_threshold``: call before recomputing it)."""
    bins = ex.map_bins[0 if account.map_lots > 0 else 1]
    entry = bins[account.map_bin]
    lots = abs(account.map_lots)
    entry[0] -= lots
    entry[1] -= lots * (account.liq_threshold or 0)
    if not entry[0]:
        del bins[account.map_bin]
    account.map_lots = 0


def liquidation_threshold(ex: Exchange, account_id: object) -> int | None:
    """The mark (ticks) at which the account's position becomes liquidatable: a long at or
    below it, a short at or above it; None when flat."""
    account = ex.view_account(account_id)
    flush(ex)
    return account.liq_threshold


def compact(ex: Exchange) -> None:
    live = len(ex.longs) + len(ex.shorts)
    if len(ex.long_thresholds) + len(ex.short_thresholds) > 4 * live + 4096:
        accounts = ex.accounts
        ex.long_thresholds = [e for e in ex.long_thresholds if accounts[e[1]].liq_version == e[2]]
        ex.short_thresholds = [e for e in ex.short_thresholds if accounts[e[1]].liq_version == e[2]]
        heapq.heapify(ex.long_thresholds)
        heapq.heapify(ex.short_thresholds)


def liquidation_map(ex: Exchange) -> LiquidationMap:
    """Where open positions would be liquidated, per non-empty bin of liquidation
    thresholds (:attr:`map_bin_ticks` wide), longs first, bins ascending. Kept up to date at
    every change of a threshold, so its cost grows with the bins, not with the accounts."""
    flush(ex)
    width = ex.map_bin_ticks
    edges: list[int] = []
    sizes: list[int] = []
    values: list[int] = []
    sides: list[int] = []
    for side, bins in ((1, ex.map_bins[0]), (-1, ex.map_bins[1])):
        for key in sorted(bins):
            lots, value = bins[key]
            edges.append(key * width)
            sizes.append(lots)
            values.append(value)
            sides.append(side)
    return LiquidationMap(
        np.array(edges, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        np.array(values, dtype=np.int64),
        np.array(sides, dtype=np.int64),
    )
