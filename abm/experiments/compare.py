"""A sweep's summary: each metric per point with a 95% interval over replications, and its
paired difference to a reference point (DESIGN section 11).

Replications share seeds across points (common random numbers), so the difference of point
*p* to the reference is taken replication by replication; its t-interval is the paired one.
Beside it, ``unpaired_low``/``unpaired_high`` give the Welch interval of the same difference
computed as if the two points had independent seeds: the ratio of the two widths is what the
common random numbers bought.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from abm.analysis.validation import mean_interval, t_quantile_975
from abm.experiments.metrics import metric_bounds
from abm.experiments.plan import POINT
from abm.experiments.status import COMPLETE

HEADLINE = (
    "liquidations.count",
    "liquidations.notional_usdt",
    "liquidated_share_of_oi.per_day",
    "accounts_out.wiped_out",
    "accounts_out.stayed_out",
    "drawdown.max",
    "drawdown.crash",
    "population_pnl.retail",
    "insurance_fund.min",
)
"""The metrics ``abm sweep summarize`` prints unless told others (all are in the files)."""

CATALOG_COLUMNS = (
    "run_id",
    "point_id",
    "replication",
    "seed",
    "status",
    "started",
    "ended",
    "host",
    "error",
    "seconds",
)
BOOTSTRAP_RESAMPLES = 2_000
SKEW_FOR_BOOTSTRAP = 1.0
"""Above this absolute sample skewness (and with at least 10 replications) the reported
interval is the bootstrap one, not the t-interval."""


def metric_columns(catalog: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """The catalogue's metric columns: every column that is neither a key nor bookkeeping."""
    return [c for c in catalog.columns if c not in CATALOG_COLUMNS and c not in keys]


def bootstrap_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean (fixed resampling seed: reproducible).

    >>> low, high = bootstrap_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> 1.0 <= low < 2.5 < high <= 4.0
    True
    """
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(BOOTSTRAP_RESAMPLES, len(values))).mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def skewness(values: np.ndarray) -> float:
    """Sample skewness (NaN for fewer than 3 values or no spread)."""
    if len(values) < 3 or np.std(values) == 0:
        return math.nan
    centred = values - values.mean()
    return float((centred**3).mean() / (centred**2).mean() ** 1.5)


def welch_interval(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
    """95% Welch interval of mean(a) - mean(b) for independent samples.

    >>> low, high = welch_interval(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    >>> round(low, 3), round(high, 3)
    (-1.266, 3.266)
    """
    if len(a) < 2 or len(b) < 2:
        return None, None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        diff = float(a.mean() - b.mean())
        return diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile_975(max(1, int(df))) * se
    diff = float(a.mean() - b.mean())
    return diff - half, diff + half


def point_table(catalog: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per point: its id and key values."""
    return catalog.drop_duplicates("point_id")[["point_id", *keys]].reset_index(drop=True)


def find_reference(
    catalog: pd.DataFrame, keys: Sequence[str], reference: Mapping[str, object] | None
) -> str:
    """The point id matching every ``key: value`` of ``reference`` (the first point for None).
    ValueError naming the keys and the values there are when none or several match."""
    points = point_table(catalog, keys)
    if not reference:
        return str(points["point_id"].iloc[0])
    mask = np.ones(len(points), dtype=bool)
    for key, value in reference.items():
        if key not in keys:
            raise ValueError(
                f"reference key {key!r} is not a key of this sweep; keys: {list(keys)}"
            )
        mask &= points[key].astype(str).to_numpy() == str(value)
    if mask.sum() != 1:
        shown = {key: sorted(points[key].astype(str).unique()) for key in reference}
        raise ValueError(
            f"reference {dict(reference)} matches {int(mask.sum())} points; values there: {shown}"
        )
    return str(points["point_id"][mask].iloc[0])


def summarize_sweep(
    catalog: pd.DataFrame, keys: Sequence[str], reference: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """The tidy summary of a catalogue: one row per (point, metric) with ``n``, ``mean``, the
    t-interval (``t_low``, ``t_high``), the bootstrap one (``boot_low``, ``boot_high``), the
    interval reported (``ci_low``, ``ci_high``, ``interval``: ``t`` or ``bootstrap``), and the
    paired difference to the reference point (``diff_mean``, ``diff_low``, ``diff_high``,
    ``pairs``) with the unpaired Welch interval beside it (``unpaired_low``,
    ``unpaired_high``). ``point_label`` and ``reference`` name the point and the reference by their
    settings (``max_leverage=125``; a named point by its name), ``reference_id`` is the
    reference's id. The interval of a
    metric with a range (counts from zero, shares to one: :func:`metric_bounds`) is the
    bootstrap one wherever the t-interval would leave the range. Only complete runs count."""
    done = catalog[catalog["status"] == COMPLETE]
    if done.empty:
        raise ValueError("no complete runs in the catalogue: nothing to summarize")
    ref_id = find_reference(done, keys, reference)
    points = point_table(done, keys)
    ref = done[done["point_id"] == ref_id].set_index("replication")
    rows = []
    for metric in metric_columns(done, keys):
        for point in points[["point_id"]].itertuples(index=False):
            runs = done[done["point_id"] == point.point_id].set_index("replication")
            values = runs[metric].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            mean, t_low, t_high = mean_interval(finite)
            boot_low = boot_high = None
            if len(finite) >= 2:
                boot_low, boot_high = bootstrap_interval(finite)
            use_boot = len(finite) >= 10 and abs(skewness(finite)) > SKEW_FOR_BOOTSTRAP
            bounds = metric_bounds(metric)
            if bounds is not None and t_low is not None and boot_low is not None:
                # A t-interval of a small sample of counts can reach below zero; the bootstrap
                # one lies within the values seen, so within the metric's range.
                use_boot = use_boot or t_low < bounds[0] or t_high > bounds[1]
            shared = runs.index.intersection(ref.index)
            diff = (runs.loc[shared, metric] - ref.loc[shared, metric]).to_numpy(dtype=float)
            diff = diff[np.isfinite(diff)]
            diff_mean, diff_low, diff_high = mean_interval(diff)
            ref_values = ref[metric].to_numpy(dtype=float)
            un_low, un_high = welch_interval(finite, ref_values[np.isfinite(ref_values)])
            rows.append(
                {
                    "point_id": point.point_id,
                    "metric": metric,
                    "n": len(finite),
                    "mean": mean,
                    "t_low": t_low,
                    "t_high": t_high,
                    "boot_low": boot_low,
                    "boot_high": boot_high,
                    "interval": "bootstrap" if use_boot else "t",
                    "ci_low": boot_low if use_boot else t_low,
                    "ci_high": boot_high if use_boot else t_high,
                    "reference": ref_id,
                    "pairs": len(diff),
                    "diff_mean": diff_mean,
                    "diff_low": diff_low,
                    "diff_high": diff_high,
                    "unpaired_low": un_low,
                    "unpaired_high": un_high,
                }
            )
    frame = pd.DataFrame(rows)
    labels = point_labels(points, keys)
    frame.insert(1, "point_label", frame["point_id"].map(labels))
    frame["reference"] = labels[ref_id]
    frame["reference_id"] = ref_id
    return points.merge(frame, on="point_id", how="right")


def point_labels(points: pd.DataFrame, keys: Sequence[str]) -> dict[str, str]:
    """Each point's name by its settings: ``max_leverage=125`` (the last part of each dotted
    key; the whole key where two keys share a last part), or its id for a sweep of one point.

    >>> point_labels(pd.DataFrame({"point_id": ["p000"], "exchange.max_leverage": [125]}),
    ...              ["exchange.max_leverage"])
    {'p000': 'max_leverage=125'}
    """
    short = [key.rsplit(".", 1)[-1] for key in keys]
    names = short if len(set(short)) == len(short) else list(keys)

    def setting(name: str, key: str, value: object) -> str:
        return str(value) if key == POINT else f"{name}={value}"  # a named point: its name

    return {
        str(row["point_id"]): ", ".join(
            setting(n, k, row[k]) for n, k in zip(names, keys, strict=True)
        )
        or str(row["point_id"])
        for row in points.to_dict("records")
    }


def interval_narrowing(summary: pd.DataFrame) -> pd.DataFrame:
    """Per metric, the median over non-reference points of the unpaired interval's width over
    the paired one: how many times narrower common random numbers made the comparison."""
    rows = summary[summary["point_id"] != summary["reference_id"]].copy()
    paired = rows["diff_high"].astype(float) - rows["diff_low"].astype(float)
    unpaired = rows["unpaired_high"].astype(float) - rows["unpaired_low"].astype(float)
    rows["ratio"] = unpaired / paired.where(paired > 0)
    return (
        rows.groupby("metric", sort=False)["ratio"]
        .median()
        .rename("unpaired_over_paired_width")
        .reset_index()
    )


def format_summary(
    summary: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str] | None = None
) -> str:
    """A printed table: per metric, each point's mean [95% interval] and paired difference to
    the reference [95% interval]."""
    chosen = [m for m in (metrics or HEADLINE) if m in set(summary["metric"])]
    lines = []
    for metric in chosen:
        rows = summary[summary["metric"] == metric]
        level = number_format(rows["mean"].to_numpy())
        change = number_format(rows["diff_mean"].to_numpy())
        lines.append(f"{metric}  (difference to {rows['reference'].iloc[0]}, paired by seed)")
        for row in rows.to_dict("records"):
            how = "  bootstrap" if row["interval"] == "bootstrap" else ""
            lines.append(
                f"  {row['point_label']:<26} {level(row['mean']):>12} [{level(row['ci_low'])}, "
                f"{level(row['ci_high'])}]  diff {change(row['diff_mean']):>12} "
                f"[{change(row['diff_low'])}, {change(row['diff_high'])}]  n={row['n']}{how}"
            )
    if chosen:
        lines.append(
            "intervals: 95% t-intervals of the mean, or percentile bootstrap ones where marked "
            "(skewed samples of 10 or more, or a t-interval that would leave the metric's range, "
            "as counts below zero; with few replications these are narrow: add replications)"
        )
    return "\n".join(lines)


def number_format(values) -> Callable[[object], str]:
    """One format for a column of numbers, chosen from the largest magnitude among ``values``
    (the table passes the point estimates; their intervals print alike): whole numbers with
    thousands separators from 1,000 up, else fixed decimals giving it three significant digits;
    missing values print as ``-``.

    >>> f = number_format([11_540.2, 1_000_000, None]); f(11_540.2), f(1_000_000), f(None)
    ('11,540', '1,000,000', '-')
    >>> f = number_format([0.05957, 3.78e-05]); f(0.05957), f(3.78e-05)
    ('0.0596', '0.0000')
    """
    finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v))]
    largest = max(finite, default=0.0)
    if largest >= 1_000 or largest == 0:
        decimals = 0
    else:
        decimals = min(10, max(0, 2 - math.floor(math.log10(largest))))

    def fmt(value: object) -> str:
        if value is None or not math.isfinite(float(value)):
            return "-"
        return f"{float(value):,.{decimals}f}"

    return fmt
