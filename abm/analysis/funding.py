"""Funding settlements: how often the rate sits exactly at the interest rate, how often it is
negative, how persistent it is.

Input is the list of settled rates (a run's ``summary.json`` ``funding_settlements`` or a
venue's funding history), each a fraction per interval (0.0001 = 0.01%).
"""

from __future__ import annotations

import math

import numpy as np

from abm.analysis.stylized import autocorrelation

EXACT = 5e-10
"""Two rates closer than half a part per billion are equal (the engine counts rates in ppb)."""


def interest_per_interval(
    interest_rate: float, interval_ticks: int, rate_period_ticks: int | None = None
) -> float:
    """The interest component as each settlement pays it: the rulebook's ``interest_rate``
    (quoted per ``rate_period_ticks``, by default the interval) scaled to ``interval_ticks``,
    rounded down to the part per billion as the engine does.

    >>> interest_per_interval(0.0001, 3_600, 28_800)   # an 8-hour rate paid hourly
    1.25e-05
    """
    period = rate_period_ticks or interval_ticks
    return (round(interest_rate * 1e9) * interval_ticks // period) / 1e9


def funding_facts(rates, interest_rate: float) -> dict[str, float]:
    """Share of settlements at the interest rate, share negative, lag-1 autocorrelation.

    Input: settled rates in time order; the interest rate per interval
    (:func:`interest_per_interval`). Output: ``settlements`` (count), ``at_interest_share``
    (rate within half a ppb of the interest rate), ``negative_share``, ``acf_lag1`` (NaN with
    fewer than 4 settlements) and ``mean_rate``. Real BTCUSDT 2020-2026: about a third exactly at
    0.01%, 15% negative, lag-1 autocorrelation 0.8.

    >>> funding_facts([0.0001, 0.0001, -0.0002, 0.0003], 0.0001)["at_interest_share"]
    0.5
    """
    r = np.asarray(rates, dtype=float)
    r = r[np.isfinite(r)]
    if not len(r):
        return {
            "settlements": 0,
            "at_interest_share": math.nan,
            "negative_share": math.nan,
            "acf_lag1": math.nan,
            "mean_rate": math.nan,
        }
    return {
        "settlements": len(r),
        "at_interest_share": float(np.mean(np.abs(r - interest_rate) < EXACT)),
        "negative_share": float(np.mean(r < -EXACT)),
        "acf_lag1": float(autocorrelation(r, [1])[0]),
        "mean_rate": float(r.mean()),
    }
