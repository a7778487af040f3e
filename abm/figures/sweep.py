"""A sweep's figures, drawn from its summary (:func:`abm.experiments.compare.summarize_sweep`):
each metric's response to each key with its 95% interval band, and the paired difference to
the reference point. Vector (PDF) and PNG, colour-blind-safe palette, units in the labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from abm.figures._common import DPI, compact, new_figure, styled

PALETTE = sns.color_palette("colorblind")
COLUMN_WIDTH_IN = 3.5


def metric_label(metric: str) -> str:
    """An axis label for a metric column: its words and, from its name, its unit.

    >>> metric_label("liquidations.notional_usdt")
    'liquidations: notional (USDT)'
    >>> metric_label("drawdown.crash")
    'drawdown: crash (share)'
    """
    name, _, key = metric.partition(".")
    unit = ""
    for suffix, text in (("_usdt", "USDT"), ("_btc", "BTC"), ("_bps", "bps")):
        if key.endswith(suffix):
            key, unit = key.removesuffix(suffix), text
    if not unit:
        if name in ("population_pnl", "insurance_fund") or name.startswith("retail_pnl"):
            unit = "USDT"
        elif name in ("drawdown", "liquidated_share_of_oi", "where_money_goes"):
            unit = "share"
        elif name.startswith("liquidated_loss"):
            unit = "USDT"
        elif name in ("liquidations", "accounts_out", "backstop_actions"):
            unit = "count"
    words = f"{name.replace('_', ' ')}: {key.replace('_', ' ')}" if key else name.replace("_", " ")
    return f"{words} ({unit})" if unit else words


KEY_UNITS = (
    ("leverage", "x"),
    ("_usdt", "USDT"),
    ("_bps", "bps"),
    ("share", "share"),
    ("fraction", "share"),
    ("minutes", "min"),
    ("hours", "h"),
    ("seconds", "s"),
    ("count", "agents"),
)
"""Units of sweep keys by a part of their name, first match wins."""


def key_label(key: str) -> str:
    """An axis label for a sweep key: its words and its unit, from the dotted key.

    >>> key_label("exchange.max_leverage"), key_label("retail.stop_loss_share")
    ('max leverage (x)', 'retail stop loss share (share)')
    """
    section, _, name = key.rpartition(".")
    words = name.replace("_", " ")
    if section and section not in ("exchange", "run", "world"):
        words = f"{section.rsplit('.', 1)[-1].replace('_', ' ')} {words}"
    unit = next((u for part, u in KEY_UNITS if part in name), None)
    return f"{words} ({unit})" if unit else words


def _no_values(ax, rows: pd.DataFrame, column: str) -> bool:
    """Say so on ``ax`` (and draw no ticks) when ``rows[column]`` holds no number."""
    if pd.to_numeric(rows[column], errors="coerce").notna().any():
        return False
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, "no values: the metric is undefined in these runs", ha="center",
            va="center", transform=ax.transAxes, fontsize=7, color="0.35")  # fmt: skip
    return True


def _numeric(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def _save(figure, folder: Path, name: str) -> list[Path]:
    """The figure as PDF and PNG in ``folder``, each written atomically."""
    from abm.files import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in ("pdf", "png"):
        path = folder / f"{name}.{suffix}"

        def write(tmp: Path, suffix: str = suffix) -> None:
            figure.savefig(tmp, format=suffix, dpi=DPI, bbox_inches="tight", facecolor="white")

        write_atomic(path, write)
        paths.append(path)
    return paths


def draw_response(
    ax, rows: pd.DataFrame, key: str, mean: str, low: str, high: str, color, label, dodge=0.0
):
    """Draw ``rows[mean]`` with its interval (``low``, ``high``) against ``key`` on ``ax``: a
    line and band for a numeric key (log axis past a 20x range), points and error bars for a
    categorical one, shifted by ``dodge`` (in categories) so that several groups stay apart."""
    rows = rows.copy()
    if _numeric(rows[key]):
        rows["_x"] = pd.to_numeric(rows[key])
        rows = rows.sort_values("_x")
        x = rows["_x"].to_numpy(dtype=float)
        ax.plot(x, rows[mean], marker="o", color=color, label=label, lw=1.5, ms=4)
        ax.fill_between(
            x,
            rows[low].astype(float),
            rows[high].astype(float),
            color=color,
            alpha=0.2,
            lw=0,
        )
        if x.min() > 0 and x.max() / x.min() >= 20:
            ax.set_xscale("log")
            ax.set_xticks(x, _spaced_labels(x))
            ax.minorticks_off()
    else:
        x = np.arange(len(rows))
        y = rows[mean].to_numpy(dtype=float)
        err = np.vstack([y - rows[low].astype(float), rows[high].astype(float) - y])
        ax.errorbar(x + dodge, y, yerr=err, fmt="o", color=color, label=label, capsize=3, ms=4)
        ax.set_xticks(x, rows[key].astype(str), rotation=30, ha="right")


def _spaced_labels(x: np.ndarray, min_decades: float = 0.15) -> list[str]:
    """Tick labels for sorted positive values on a log axis, blank where a value sits closer
    than ``min_decades`` to the next labelled one above it (100 beside 125), so none overlap."""
    labels = [""] * len(x)
    last = math.inf
    for i in range(len(x) - 1, -1, -1):
        if math.log10(last) - math.log10(x[i]) >= min_decades:
            labels[i] = f"{x[i]:g}"
            last = x[i]
    return labels


def response_figure(
    summary: pd.DataFrame, keys: Sequence[str], key: str, metric: str, folder: Path
) -> list[Path]:
    """``metric`` against ``key``: mean over replications with its 95% interval band, one line
    per combination of the other keys. Returns the PDF and PNG written."""
    rows = summary[summary["metric"] == metric]
    others = [k for k in keys if k != key]
    with styled():
        figure = new_figure(COLUMN_WIDTH_IN, 2.6)
        ax = figure.subplots()
        groups = rows.groupby(others, sort=True) if others else [((), rows)]
        if _no_values(ax, rows, "mean"):
            groups = []
        for i, (group, part) in enumerate(groups):
            group = group if isinstance(group, tuple) else (group,)
            label = ", ".join(f"{k}={v}" for k, v in zip(others, group, strict=True)) or None
            draw_response(
                ax, part, key, "mean", "ci_low", "ci_high", PALETTE[i % len(PALETTE)], label
            )
        ax.set_xlabel(key_label(key))
        ax.set_ylabel(metric_label(metric))
        ax.yaxis.set_major_formatter(compact)
        n = int(rows["n"].min()) if len(rows) else 0
        ax.set_title(f"mean and 95% interval over {n} replications", fontsize=8)
        if others:
            ax.legend(fontsize=6, frameon=False)
        return _save(figure, folder, f"{metric}--{key}")


def difference_figure(
    summary: pd.DataFrame, keys: Sequence[str], key: str, metrics: Sequence[str], folder: Path
) -> list[Path]:
    """For each of ``metrics``, the paired difference to the reference point against ``key``
    with its 95% interval (small multiples, a zero line). Returns the PDF and PNG written."""
    metrics = [m for m in metrics if m in set(summary["metric"])]
    cols = 2
    rows_n = max(1, -(-len(metrics) // cols))
    others = [k for k in keys if k != key]
    with styled():
        figure = new_figure(7.0, 2.2 * rows_n)
        axes = np.atleast_1d(figure.subplots(rows_n, cols, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            rows = summary[summary["metric"] == metric]
            groups = rows.groupby(others, sort=True) if others else [((), rows)]
            ax.set_ylabel(metric_label(metric), fontsize=7)
            ax.set_xlabel(key_label(key), fontsize=7)
            if _no_values(ax, rows, "diff_mean"):
                continue
            for i, (_, part) in enumerate(groups):
                draw_response(ax, part, key, "diff_mean", "diff_low", "diff_high", PALETTE[i], None)
            ax.axhline(0, color="0.3", lw=0.8)
            ax.yaxis.set_major_formatter(compact)
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        reference = summary["reference"].iloc[0] if len(summary) else "?"
        figure.suptitle(f"paired difference to {reference} (95% interval)", fontsize=9)
        figure.tight_layout()
        return _save(figure, folder, f"difference--{key}")


def sweep_figures(
    summary: pd.DataFrame, keys: Sequence[str], folder: Path, metrics: Sequence[str]
) -> list[Path]:
    """Every response figure (each of ``metrics`` against each key) and one paired-difference
    figure per key, into ``folder``; returns the files written."""
    paths: list[Path] = []
    present = [m for m in metrics if m in set(summary["metric"])]
    for key in keys:
        for metric in present:
            paths += response_figure(summary, keys, key, metric, folder)
        paths += difference_figure(summary, keys, key, present, folder)
    return paths


def feedback_figure(table: pd.DataFrame, effect: pd.DataFrame, folder: Path) -> list[Path]:
    """Two panels per named point (one row each): left, the excess drawdown of the mark (bps)
    with liquidations in the book and off it, against the leverage cap, with the paired feedback
    (book - off_book) and its 95% interval; right, the cap effect against the reference cap,
    whole (book runs) and through the price (the change of the feedback). Inputs are
    :func:`abm.experiments.feedback.feedback_table` and
    :func:`~abm.experiments.feedback.cap_effect_through_price`; writes ``feedback.pdf`` and
    ``feedback.png`` in ``folder``."""
    from abm.experiments.feedback import CAP

    points = list(dict.fromkeys(table["point"]))
    with styled():
        figure = new_figure(9, 3.2 * len(points), layout="constrained")
        axes = figure.subplots(len(points), 2, squeeze=False)
        for row, point in enumerate(points):
            rows = table[table["point"] == point].copy()
            for column in ("book", "off_book", "feedback", "feedback_low", "feedback_high"):
                rows[column] = rows[column] * 10_000
            ax = axes[row][0]
            ax.plot(rows[CAP], rows["book"], marker="o", color=PALETTE[0], label="in the book")
            ax.plot(rows[CAP], rows["off_book"], marker="s", color=PALETTE[1], label="off the book")
            draw_response(
                ax,
                rows,
                CAP,
                "feedback",
                "feedback_low",
                "feedback_high",
                PALETTE[3],
                "feedback (paired)",
            )
            _cap_axes(ax, "excess drawdown of the mark (bps)", f"{point}: what forced orders add")
            ax = axes[row][1]
            cap_rows = effect[effect["point"] == point].copy()
            for column in ("through_price", "low", "high", "total", "total_low", "total_high"):
                cap_rows[column] = cap_rows[column] * 10_000
            if len(cap_rows):
                draw_response(
                    ax, cap_rows, CAP, "total", "total_low", "total_high", PALETTE[0], "whole"
                )
                draw_response(
                    ax,
                    cap_rows,
                    CAP,
                    "through_price",
                    "low",
                    "high",
                    PALETTE[3],
                    "through the price",
                )
            _cap_axes(
                ax,
                "change against the reference cap (bps)",
                f"{point}: the cap's effect on the excess drawdown",
            )
        return _save(figure, folder, "feedback")


def _cap_axes(ax, ylabel: str, title: str) -> None:
    """A zero line, the cap on x, ``ylabel`` and ``title``, and the legend."""
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("leverage cap")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def regime_figure(table: pd.DataFrame, folder: Path, real_depth_per_oi: float = 0.01) -> list[Path]:
    """Where leverage deepens crashes: for each point of the regime sweep, how much deeper the
    crash is at the high cap than at the low cap (bps, with its 95% interval) against the
    point's depth within 1% over open interest (log axis). Points whose name starts with
    ``capital`` vary retail capital, ``liquidity`` the market's liquidity; the calibrated
    baseline (``capital_x1``) and the real market's depth over open interest
    (``real_depth_per_oi``) are marked. Writes ``regime.pdf`` and ``regime.png``."""
    with styled():
        figure = new_figure(6, 3.6, layout="constrained")
        ax = figure.subplots()
        rows = table.assign(
            x=table["depth_1pct_per_oi"] * 100,
            y=table["deeper"] * 10_000,
            lo=table["deeper_low"] * 10_000,
            hi=table["deeper_high"] * 10_000,
        )
        for i, (prefix, label) in enumerate(
            (("capital", "retail capital x1 to x100"), ("liquidity", "liquidity x0.1 to x10"))
        ):
            part = rows[rows["point"].str.startswith(prefix)].sort_values("x")
            if prefix == "liquidity":
                part = pd.concat([part, rows[rows["point"] == "capital_x1"]]).sort_values("x")
            err = np.vstack([part["y"] - part["lo"], part["hi"] - part["y"]])
            ax.errorbar(
                part["x"], part["y"], yerr=err, fmt="o-", color=PALETTE[i], label=label, capsize=3
            )
        base = rows[rows["point"] == "capital_x1"]
        ax.scatter(base["x"], base["y"], s=120, facecolors="none", edgecolors="k", zorder=5)
        ax.annotate(
            "calibrated baseline",
            (base["x"].iloc[0], base["y"].iloc[0]),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=8,
        )
        ax.axvline(real_depth_per_oi * 100, color="0.4", ls="--", lw=1)
        ax.text(real_depth_per_oi * 100, ax.get_ylim()[1], " real market", va="top", fontsize=8)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("depth within 1% a side over open interest (%)")
        ax.set_ylabel("crash deeper at cap 125 than at cap 5 (bps)")
        ax.legend(fontsize=8)
        return _save(figure, folder, "regime")


def decomposition_figure(table: pd.DataFrame, folder: Path, label: str) -> list[Path]:
    """The cap effect split by channel: per cap, stacked bars of ``distance``,
    ``participation`` and ``feedback`` (their sum is ``whole``, drawn as a black mark with its
    95% interval). ``label`` names the measure on the y axis. Writes ``decomposition.pdf`` and
    ``decomposition.png``."""
    with styled():
        figure = new_figure(5, 3.4, layout="constrained")
        ax = figure.subplots()
        caps = table["exchange.max_leverage"].astype(int).astype(str).tolist()
        x = np.arange(len(caps))
        for sign in (1, -1):
            bottom = np.zeros(len(caps))
            for i, part in enumerate(("distance", "participation", "feedback")):
                values = table[part].to_numpy(dtype=float)
                shown = np.where(np.sign(values) == sign, values, 0.0)
                ax.bar(
                    x,
                    shown,
                    bottom=bottom,
                    color=PALETTE[i],
                    width=0.6,
                    label=part if sign == 1 else None,
                )
                bottom += shown
        whole = table["whole"].to_numpy(dtype=float)
        err = np.vstack([whole - table["whole_low"], table["whole_high"] - whole])
        ax.errorbar(x, whole, yerr=err, fmt="D", color="k", label="whole effect", capsize=3)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xticks(x, [f"cap {c}" for c in caps])
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
        return _save(figure, folder, "decomposition")
