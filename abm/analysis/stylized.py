"""Stylized facts of returns: plain numpy functions over price series.

The same estimators run on a model's prices and on real data (``abm validate --prices``), so the
two are always measured alike. Returns are log returns over non-overlapping intervals.
"""

from __future__ import annotations

import math

import numpy as np


def log_returns(prices: np.ndarray, step: int = 1) -> np.ndarray:
    """Log returns over non-overlapping intervals of ``step`` samples.

    Parameters: ``prices`` (positive floats, one per sample; NaN samples are skipped by the
    interval they fall in), ``step`` (samples per interval, >= 1). Returns an array of
    ``len(prices) // step - 1`` returns (fewer when a sampled price is missing).

    >>> log_returns(np.array([100.0, 110.0, 121.0]))
    array([0.09531018, 0.09531018])
    """
    p = np.asarray(prices, dtype=float)[::step]
    p = p[np.isfinite(p) & (p > 0)]
    return np.diff(np.log(p))


def excess_kurtosis(r: np.ndarray) -> float:
    """Sample excess kurtosis (0 for a normal distribution); NaN for fewer than 4 values.

    >>> round(excess_kurtosis(np.array([-1.0, 1.0] * 50)), 6)
    -2.0
    """
    r = np.asarray(r, dtype=float)
    if len(r) < 4:
        return math.nan
    d = r - r.mean()
    var = np.mean(d * d)
    return float(np.mean(d**4) / var**2 - 3) if var > 0 else math.nan


def hill_tail_index(r: np.ndarray, tail: float = 0.05) -> float:
    """Hill estimator of the tail index of ``|r|`` from its top ``tail`` share.

    alpha = 1 / mean(log(x_(i) / x_(k+1))) over the k largest values, k = tail x n. A
    power-law tail P(|r| > x) ~ x^-alpha gives about alpha; real BTC 1-minute returns about 3.

    >>> x = (1 - np.random.default_rng(0).random(200_000)) ** (-1 / 3)  # Pareto, alpha 3
    >>> round(hill_tail_index(x, 0.05), 1)
    3.0
    """
    x = np.sort(np.abs(np.asarray(r, dtype=float)))[::-1]
    x = x[x > 0]
    k = int(len(x) * tail)
    if k < 10:
        return math.nan
    logs = np.log(x[:k] / x[k])
    mean = logs.mean()
    return float(1 / mean) if mean > 0 else math.nan


def autocorrelation(x: np.ndarray, lags: np.ndarray | list[int]) -> np.ndarray:
    """Sample autocorrelation of ``x`` at each lag (NaN where the lag leaves < 3 pairs).

    >>> autocorrelation(np.array([1.0, -1.0] * 10), [1, 2]).round(2)
    array([-0.95,  0.9 ])
    """
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    denom = np.dot(d, d)
    out = np.full(len(lags), math.nan)
    if denom == 0:
        return out
    for i, lag in enumerate(lags):
        if 0 < lag < len(x) - 2:
            out[i] = np.dot(d[:-lag], d[lag:]) / denom
    return out


def acf_power_law_slope(abs_r: np.ndarray, max_lag: int = 200) -> float:
    """Decay exponent of the autocorrelation of ``|r|``: minus the least-squares slope of
    log ACF on log lag over lags 1 to ``max_lag`` (lags with a non-positive ACF are left out).

    Long memory in volatility shows as a small exponent (real BTC 1-minute: about 0.2-0.3);
    an exponential decay shows as a slope that steepens with the lag range. NaN when fewer than
    10 lags have a positive autocorrelation.
    """
    lags = np.arange(1, max_lag + 1)
    acf = autocorrelation(abs_r, lags)
    keep = np.isfinite(acf) & (acf > 0)
    if keep.sum() < 10:
        return math.nan
    slope = np.polyfit(np.log(lags[keep]), np.log(acf[keep]), 1)[0]
    return float(-slope)


def return_facts(prices: np.ndarray, samples_per_minute: int) -> dict[str, float]:
    """The stylized facts of one price series sampled ``samples_per_minute`` times a minute.

    Keys: ``kurtosis_1m``, ``kurtosis_5m``, ``kurtosis_1h`` (excess), ``hill_5pct``,
    ``hill_2_5pct`` (1-minute |r|), ``acf_r_lag1``, ``acf_r_max_2_20`` (largest |ACF| of r over
    lags 2-20), ``acf_abs_lag1``, ``acf_abs_lag100``, ``acf_abs_slope`` (exponent over lags
    1-200), ``vol_1m``, ``vol_5m``, ``vol_1h`` (standard deviation of the returns at each
    horizon) and ``minutes`` (1-minute returns used).
    """
    r1 = log_returns(prices, samples_per_minute)
    r5 = log_returns(prices, 5 * samples_per_minute)
    r60 = log_returns(prices, 60 * samples_per_minute)
    acf_r = autocorrelation(r1, np.arange(1, 21))
    acf_abs = autocorrelation(np.abs(r1), [1, 100])
    return {
        "minutes": float(len(r1)),
        "vol_1m": float(np.std(r1)) if len(r1) else math.nan,
        "vol_5m": float(np.std(r5)) if len(r5) else math.nan,
        "vol_1h": float(np.std(r60)) if len(r60) else math.nan,
        "kurtosis_1m": excess_kurtosis(r1),
        "kurtosis_5m": excess_kurtosis(r5),
        "kurtosis_1h": excess_kurtosis(r60),
        "hill_5pct": hill_tail_index(r1, 0.05),
        "hill_2_5pct": hill_tail_index(r1, 0.025),
        "acf_r_lag1": float(acf_r[0]),
        "acf_r_max_2_20": float(np.nanmax(np.abs(acf_r[1:]))) if len(r1) > 25 else math.nan,
        "acf_abs_lag1": float(acf_abs[0]),
        "acf_abs_lag100": float(acf_abs[1]),
        "acf_abs_slope": acf_power_law_slope(np.abs(r1)),
    }
