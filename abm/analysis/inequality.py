"""Inequality and concentration of non-negative amounts: Gini, Herfindahl-Hirschman, top share.

Plain numpy functions over a 1-d array (a list, a numpy array or a pandas Series). Values must be
non-negative; an empty input or one that sums to zero has no defined concentration and gives NaN.
"""

from __future__ import annotations

import math

import numpy as np


def _values(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if np.isnan(x).any():
        raise ValueError("values contain NaN")
    if (x < 0).any():
        raise ValueError("values must be non-negative (drop or clip the negative ones first)")
    return x


def gini(values) -> float:
    """Gini coefficient: 0 when all values are equal, (n - 1) / n when one holds everything.

    Input: non-negative amounts (array-like). Output: a float in [0, 1), NaN if the input is
    empty or sums to zero. Uses the sorted-rank formula
    ``G = 2 * sum(i * x_(i)) / (n * sum(x)) - (n + 1) / n`` with ranks ``i = 1..n``.

    >>> gini([1, 1, 1, 1])
    0.0
    >>> gini([0, 0, 0, 1])
    0.75
    >>> gini([1, 2, 3, 4])
    0.25
    """
    x = np.sort(_values(values))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return math.nan
    ranks = np.arange(1, n + 1)
    return float(2 * (ranks * x).sum() / (n * total) - (n + 1) / n)


def hhi(values) -> float:
    """Herfindahl-Hirschman index: the sum of squared shares, from 1/n (equal) to 1 (one holder).

    Input: non-negative amounts. Output: a float in (0, 1], NaN if empty or summing to zero
    (multiply by 10,000 for the antitrust convention).

    >>> hhi([1, 1, 1, 1])
    0.25
    >>> hhi([0, 0, 5])
    1.0
    """
    x = _values(values)
    total = x.sum()
    if x.size == 0 or total == 0:
        return math.nan
    shares = x / total
    return float((shares * shares).sum())


def top_share(values, fraction: float = 0.01) -> float:
    """Share of the total held by the largest ``fraction`` of holders (at least one holder).

    Input: non-negative amounts and the fraction of holders (0 < fraction <= 1; the count is
    ``ceil(fraction * n)``, at least 1). Output: a float in [0, 1], NaN if empty or summing to
    zero.

    >>> top_share([1, 2, 3, 94])          # top 1% of 4 holders is the top holder
    0.94
    >>> top_share([1, 1, 1, 1], fraction=0.5)
    0.5
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    x = _values(values)
    total = x.sum()
    if x.size == 0 or total == 0:
        return math.nan
    count = max(1, math.ceil(fraction * x.size - 1e-9))
    top = np.sort(x)[::-1][:count]
    return float(top.sum() / total)


def concentration(values, fraction: float = 0.01) -> dict:
    """Gini, HHI and top-``fraction`` share of non-negative amounts, with the holder count.

    >>> concentration([0, 0, 0, 1])
    {'holders': 4, 'gini': 0.75, 'hhi': 1.0, 'top_share': 1.0, 'top_fraction': 0.01}
    """
    x = _values(values)
    return {
        "holders": int(x.size),
        "gini": gini(x),
        "hhi": hhi(x),
        "top_share": top_share(x, fraction),
        "top_fraction": fraction,
    }
