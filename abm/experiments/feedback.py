"""The feedback channel, read from a sweep that ran each point twice on the same seeds: with
liquidations in the book and with them closed off it (``exchange.liquidation.execution``).

The paired difference book - off_book of a crash measure (``feedback.excess_mark``: the mark's
drawdown in the crash window less the information's) is what forced orders added to the crash;
how that difference changes from one leverage cap to another is what a cap changes through the
price (configs/sweeps/feedback.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from abm.analysis.validation import mean_interval as validation_mean_interval

EXECUTION = "exchange.liquidation.execution"
CAP = "exchange.max_leverage"
FEEDBACK_COLUMNS = (
    "feedback.excess_mark",
    "feedback.excess_last",
    "feedback.liquidated_share_of_oi",
    "feedback.share_generation_2_plus",
    "feedback.longest_chain",
    "feedback.impact_bps_per_pct_oi",
)


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """:func:`abm.analysis.validation.mean_interval` with NaN, not None, where there is no
    interval (fewer than two values), so the bounds sit in table columns as numbers."""
    mean, low, high = validation_mean_interval(values)
    return mean, np.nan if low is None else low, np.nan if high is None else high


def feedback_table(
    catalog: pd.DataFrame, group_keys: Sequence[str], metric: str = "feedback.excess_mark"
) -> pd.DataFrame:
    """Per group (``group_keys``, e.g. the named point and the cap): ``book`` and ``off_book``,
    the mean of ``metric`` in each; ``feedback`` (book - off_book, paired by replication) with
    ``feedback_low``/``feedback_high`` (95% t-interval); ``feedback_share`` (feedback over the
    book run's mean: the share of the measure forced orders made); and the book runs' means of
    the other feedback columns present. Rows of the catalogue that are not complete are left
    out; so is a replication missing either execution.

    >>> catalog = pd.DataFrame({"cap": [125, 125, 125, 125], "replication": [0, 0, 1, 1],
    ...     "exchange.liquidation.execution": ["book", "off_book"] * 2,
    ...     "status": ["complete"] * 4, "feedback.excess_mark": [0.03, 0.01, 0.05, 0.01]})
    >>> row = feedback_table(catalog, ["cap"]).iloc[0]
    >>> float(round(row["feedback"], 3)), float(round(row["feedback_share"], 3))
    (0.03, 0.75)
    """
    done = catalog[catalog["status"] == "complete"]
    rows = []
    for key, group in done.groupby(list(group_keys), sort=False):
        wide = group.pivot_table(index="replication", columns=EXECUTION, values=metric)
        if not {"book", "off_book"} <= set(wide.columns):
            continue
        wide = wide.dropna()
        book = wide["book"].to_numpy(dtype=float)
        off = wide["off_book"].to_numpy(dtype=float)
        diff, low, high = mean_interval(book - off)
        row = dict(zip(group_keys, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(
            replications=len(wide),
            book=float(book.mean()),
            off_book=float(off.mean()),
            feedback=diff,
            feedback_low=low,
            feedback_high=high,
            feedback_share=diff / float(book.mean()) if book.mean() else float("nan"),
        )
        on_book = group[group[EXECUTION] == "book"]
        for column in FEEDBACK_COLUMNS:
            if column != metric and column in group:
                row[f"book_{column.split('.', 1)[1]}"] = float(on_book[column].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def cap_effect_through_price(
    catalog: pd.DataFrame,
    group_key: str,
    reference_cap: float,
    metric: str = "feedback.excess_mark",
) -> pd.DataFrame:
    """Per ``group_key`` value and cap: how much less (or more) forced orders add at that cap
    than at ``reference_cap`` on the same seeds: the mean over replications of
    ``(book - off_book)[cap] - (book - off_book)[reference_cap]`` with its 95% t-interval
    (``through_price``, ``low``, ``high``), beside the whole cap effect on the book runs
    (``total``: book[cap] - book[reference_cap], with ``total_low``, ``total_high``)."""
    done = catalog[catalog["status"] == "complete"]
    rows = []
    for group, frame in done.groupby(group_key, sort=False):
        wide = frame.pivot_table(index="replication", columns=[CAP, EXECUTION], values=metric)
        if (reference_cap, "book") not in wide or (reference_cap, "off_book") not in wide:
            continue
        ref_feedback = wide[(reference_cap, "book")] - wide[(reference_cap, "off_book")]
        for cap in sorted({c for c, _ in wide.columns}, reverse=True):
            if cap == reference_cap or (cap, "off_book") not in wide or (cap, "book") not in wide:
                continue
            feedback = wide[(cap, "book")] - wide[(cap, "off_book")]
            through, low, high = mean_interval((feedback - ref_feedback).to_numpy(dtype=float))
            total = (wide[(cap, "book")] - wide[(reference_cap, "book")]).to_numpy(dtype=float)
            whole, whole_low, whole_high = mean_interval(total)
            rows.append(
                {
                    group_key: group,
                    CAP: cap,
                    "through_price": through,
                    "low": low,
                    "high": high,
                    "total": whole,
                    "total_low": whole_low,
                    "total_high": whole_high,
                }
            )
    return pd.DataFrame(rows)


def decompose_cap_effect(
    feedback: pd.DataFrame,
    replay: pd.DataFrame,
    point: str,
    reference_cap: float = 125,
    metric: str = "feedback.liquidated_share_of_oi",
) -> pd.DataFrame:
    """The cap effect on ``metric`` split by channel, per cap, paired by replication.

    ``feedback`` is the catalogue of configs/sweeps/feedback.yaml (its book runs at named point
    ``point``: each cap's own path), ``replay`` that of configs/sweeps/feedback_replay.yaml
    (points ``composition``: each cap's populations on the reference cap's path;
    ``distance_only``: the same with nobody staying out above the cap). Both sweeps share their
    seed root, so replication k is the same seed in both. Per cap: ``whole`` (own path, cap
    minus reference cap), ``distance`` (distance_only minus the reference cap's own run),
    ``participation`` (composition minus distance_only), ``feedback`` (own path minus
    composition); each with ``_low``/``_high``, 95% t-intervals over replications. The three
    parts add up to ``whole``."""
    own = feedback[(feedback["status"] == "complete") & (feedback["point"] == point)]
    own = own[own[EXECUTION] == "book"].pivot_table(index="replication", columns=CAP, values=metric)
    done = replay[replay["status"] == "complete"]
    composition = done[done["point"] == "composition"].pivot_table(
        index="replication", columns=CAP, values=metric
    )
    distance = done[done["point"] == "distance_only"].pivot_table(
        index="replication", columns=CAP, values=metric
    )
    rows = []
    for cap in sorted(composition.columns, reverse=True):
        if cap not in own or cap not in distance or reference_cap not in own:
            continue
        parts = pd.DataFrame(
            {
                "whole": own[cap] - own[reference_cap],
                "distance": distance[cap] - own[reference_cap],
                "participation": composition[cap] - distance[cap],
                "feedback": own[cap] - composition[cap],
            }
        ).dropna()
        row: dict[str, float] = {CAP: cap, "replications": len(parts)}
        for name in parts.columns:
            mean, low, high = mean_interval(parts[name].to_numpy(dtype=float))
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def regime_table(catalog: pd.DataFrame, high_cap: float = 125, low_cap: float = 5) -> pd.DataFrame:
    """Per named point of configs/sweeps/regime.yaml: how much deeper the crash is at
    ``high_cap`` than at ``low_cap`` on the same seeds (``deeper``: the paired difference of
    ``feedback.excess_mark``, with ``deeper_low``/``deeper_high``), the liquidated share of open
    interest at each cap, and the point's depth within 1% over open interest (mean over its
    runs at ``high_cap``)."""
    done = catalog[catalog["status"] == "complete"]
    rows = []
    for point, frame in done.groupby("point", sort=False):
        wide = frame.pivot_table(index="replication", columns=CAP, values="feedback.excess_mark")
        if high_cap not in wide or low_cap not in wide:
            continue
        deeper, low, high = mean_interval((wide[high_cap] - wide[low_cap]).to_numpy(dtype=float))
        at = {cap: frame[frame[CAP] == cap] for cap in (high_cap, low_cap)}
        depth = "proportions.depth_1pct_per_oi"
        rows.append(
            {
                "point": point,
                "replications": len(wide.dropna()),
                "deeper": deeper,
                "deeper_low": low,
                "deeper_high": high,
                "excess_high_cap": float(at[high_cap]["feedback.excess_mark"].mean()),
                "excess_low_cap": float(at[low_cap]["feedback.excess_mark"].mean()),
                "liquidated_high_cap": float(
                    at[high_cap]["feedback.liquidated_share_of_oi"].mean()
                ),
                "liquidated_low_cap": float(at[low_cap]["feedback.liquidated_share_of_oi"].mean()),
                "depth_1pct_per_oi": float(at[high_cap][depth].mean())
                if depth in frame
                else np.nan,
            }
        )
    return pd.DataFrame(rows)
