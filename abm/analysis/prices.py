"""Price series onto a 1-minute grid, from a run's ticks or from a user's price file.

The model's prices and real prices go through the same grid and the same estimators
(:mod:`abm.analysis.stylized`), so ``abm validate`` measures both alike. Price files are read by
the one reader a replayed day uses too (:func:`abm.world.prices.read_price_file`).
"""

from __future__ import annotations

import numpy as np

from abm.world.prices import PriceFileError, PriceSeries, read_price_file

PriceFile = PriceSeries
"""A price file read as times and prices (the world layer's :class:`PriceSeries`)."""

__all__ = ["PriceFile", "PriceFileError", "minute_grid", "read_price_file"]


def minute_grid(seconds, prices, minute: float = 60.0) -> tuple[np.ndarray, int]:
    """Prices on a regular grid of ``minute`` seconds, by last observation.

    Input: observation times in seconds (any origin, any order) and prices (non-positive and
    non-finite prices are dropped). Output: ``(grid, filled)``: for each minute from the first
    observation's to the last's, the last price observed in that minute; a minute without an
    observation repeats the price before it (``filled`` counts those minutes).

    >>> minute_grid([0, 30, 59, 61, 185], [10.0, 11.0, 12.0, 13.0, 14.0])
    (array([12., 13., 13., 14.]), 1)
    """
    s = np.asarray(seconds, dtype=float)
    p = np.asarray(prices, dtype=float)
    keep = np.isfinite(s) & np.isfinite(p) & (p > 0)
    s, p = s[keep], p[keep]
    if not len(s):
        return np.array([], dtype=float), 0
    order = np.argsort(s, kind="stable")
    s, p = s[order], p[order]
    bins = np.floor(s / minute).astype(np.int64)
    bins -= bins[0]
    ends = np.flatnonzero(np.r_[bins[1:] != bins[:-1], True])
    grid = np.full(int(bins[-1]) + 1, np.nan)
    grid[bins[ends]] = p[ends]
    have = np.isfinite(grid)
    where = np.maximum.accumulate(np.where(have, np.arange(len(grid)), 0))
    return grid[where], int((~have).sum())
