"""The order book and the price gaps, from a run's per-tick series.

Plain functions over a ticks table: a pandas DataFrame or any mapping of column name to array,
with the columns of ``ticks.parquet`` (prices in USDT, depth in BTC, a missing side as NaN).
"""

from __future__ import annotations

import math

import numpy as np


def column(table, name: str, dtype=float) -> np.ndarray:
    """One column of a table (a DataFrame or a mapping of sequences) as a numpy array."""
    return np.asarray(table[name], dtype=dtype)


def _quantile(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if len(x) else math.nan


def longest_run(mask) -> int:
    """Length of the longest run of consecutive true values (0 when there is none).

    >>> longest_run([False, True, True, False, True])
    2
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0
    edges = np.diff(np.r_[0, m.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def one_sided(ticks, tick_seconds: float = 1.0) -> dict[str, float]:
    """How often the book had an empty side.

    Input: a ticks table with ``best_bid_usdt`` and ``best_ask_usdt`` (NaN when that side is empty) and the
    seconds a tick lasts. Output: ``empty_side_share`` (share of ticks with a side empty),
    ``longest_one_sided_seconds`` (the longest unbroken spell of such ticks, in seconds) and
    ``one_sided_spells`` (how many spells).

    >>> nan = float("nan")
    >>> one_sided({"best_bid_usdt": [1, nan, nan, 1], "best_ask_usdt": [2, 2, 2, nan]}, tick_seconds=1)
    {'empty_side_share': 0.75, 'longest_one_sided_seconds': 3.0, 'one_sided_spells': 1}
    """
    bid, ask = column(ticks, "best_bid_usdt"), column(ticks, "best_ask_usdt")
    empty = ~(np.isfinite(bid) & np.isfinite(ask))
    spells = int(np.sum(np.diff(np.r_[0, empty.astype(np.int8)]) == 1))
    return {
        "empty_side_share": float(empty.mean()) if len(empty) else math.nan,
        "longest_one_sided_seconds": float(longest_run(empty) * tick_seconds),
        "one_sided_spells": spells,
    }


def spread_stats(ticks, tick_size: float) -> dict[str, float]:
    """The quoted spread's distribution over the ticks where both sides are quoted.

    Input: a ticks table with ``best_bid_usdt`` and ``best_ask_usdt`` (USDT) and the price tick (USDT).
    Output: ``spread_bps_median``, ``spread_bps_p90`` (spread over the mid, in basis points),
    ``spread_ticks_median``, ``spread_ticks_p90`` (in price ticks), NaN without a two-sided tick.

    >>> spread_stats({"best_bid_usdt": [100.0, 100.0], "best_ask_usdt": [100.1, 100.3]}, 0.1)["spread_ticks_median"]
    2.0
    """
    bid, ask = column(ticks, "best_bid_usdt"), column(ticks, "best_ask_usdt")
    both = np.isfinite(bid) & np.isfinite(ask)
    spread = ask[both] - bid[both]
    mid = (ask[both] + bid[both]) / 2
    bps = spread / mid * 1e4
    in_ticks = np.round(spread / tick_size, 6)
    return {
        "spread_bps_median": _quantile(bps, 0.5),
        "spread_bps_p90": _quantile(bps, 0.9),
        "spread_ticks_median": _quantile(in_ticks, 0.5),
        "spread_ticks_p90": _quantile(in_ticks, 0.9),
    }


def depth_stats(ticks) -> dict[str, float]:
    """Depth within 50 bps of the mark, per side: the median and the 10th percentile (BTC).

    Input: a ticks table with ``depth_bid_50bps_btc`` and ``depth_ask_50bps_btc``. Output:
    ``depth_bid_50bps_median``, ``depth_bid_50bps_p10``, ``depth_ask_50bps_median``,
    ``depth_ask_50bps_p10``.

    >>> depth_stats({"depth_bid_50bps_btc": [1, 2, 3], "depth_ask_50bps_btc": [4, 4, 4]})["depth_bid_50bps_median"]
    2.0
    """
    out = {}
    for side in ("bid", "ask"):
        x = column(ticks, f"depth_{side}_50bps_btc")
        out[f"depth_{side}_50bps_median"] = _quantile(x, 0.5)
        out[f"depth_{side}_50bps_p10"] = _quantile(x, 0.1)
    return out


def gap_bps(price, reference) -> np.ndarray:
    """``(price - reference) / reference`` in basis points, element by element.

    >>> gap_bps([100.1], [100.0]).round(6)
    array([10.])
    """
    p = np.asarray(price, dtype=float)
    r = np.asarray(reference, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (p - r) / r * 1e4


def price_gaps(ticks) -> dict[str, float]:
    """Mark against index and last against mark, in basis points of the second.

    Input: a ticks table with ``index_usdt``, ``mark_usdt`` and ``last_usdt`` (NaN before the
    first trade).
    Output, for ``mark_index`` and ``last_mark``: the median, 99th and 99.9th percentile and mean
    of the absolute gap (``..._bps_median``, ``..._bps_p99``, ``..._bps_p999``, ``..._bps_mean``).

    >>> gaps = price_gaps({"index_usdt": [100.0, 100.0], "mark_usdt": [100.01, 99.98],
    ...                    "last_usdt": [100.01, 99.98]})
    >>> round(gaps["mark_index_bps_median"], 9), gaps["last_mark_bps_median"]
    (1.5, 0.0)
    """
    out = {}
    pairs = {
        "mark_index": ("mark_usdt", "index_usdt"),
        "last_mark": ("last_usdt", "mark_usdt"),
    }
    for name, (a, b) in pairs.items():
        gap = np.abs(gap_bps(column(ticks, a), column(ticks, b)))
        gap = gap[np.isfinite(gap)]
        out[f"{name}_bps_median"] = _quantile(gap, 0.5)
        out[f"{name}_bps_p99"] = _quantile(gap, 0.99)
        out[f"{name}_bps_p999"] = _quantile(gap, 0.999)
        out[f"{name}_bps_mean"] = float(gap.mean()) if len(gap) else math.nan
    return out


def book_facts(ticks, tick_size: float, tick_seconds: float = 1.0) -> dict[str, float]:
    """:func:`one_sided`, :func:`spread_stats` and :func:`depth_stats` in one dict."""
    return {
        **spread_stats(ticks, tick_size),
        **depth_stats(ticks),
        **one_sided(ticks, tick_seconds),
    }
