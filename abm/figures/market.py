"""The run at a glance: prices, liquidations and the insurance fund over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from abm.figures._common import (
    LONG_COLOR,
    PAGE_WIDTH,
    POPULATION_COLORS,
    SHORT_COLOR,
    compact,
    journal_styled,
    new_figure,
    output_path,
    read_parquet,
    save,
)

MARK_COLOR = "#de8f05"
"""The mark price's colour: the orange of seaborn's colour-blind palette."""
TICK_COLUMNS = [
    "tick",
    "elapsed_s",
    "index_usdt",
    "mark_usdt",
    "last_usdt",
    "liquidated_notional_long_usdt",
    "liquidated_notional_short_usdt",
    "liquidations_long",
    "liquidations_short",
    "insurance_fund_usdt",
    "adl_actions",
]


def market_overview(run_dir: Path, out: Path | None = None) -> Path:
    """The run at a glance (:func:`draw_market_overview`) as a PNG written to ``out`` or
    ``run_dir/figures``; returns its path."""
    return save(
        draw_market_overview(run_dir), output_path(run_dir, out, "market_overview"), run_dir
    )


@journal_styled()
def draw_market_overview(run_dir: Path) -> Figure:
    """Four stacked panels on one time axis (hours), from ``ticks.parquet``, page width: index
    (dashed), mark (dotted) and last price (solid grey); the last's and the mark's gap to the
    index in bps (the three prices are a few bps apart, so the gaps get a panel of their own);
    liquidated notional per minute (longs downwards, shorts upwards); the
    insurance fund's balance on an axis from zero (its start, end and change in percent in the
    legend, so that a small move looks small), with the minutes in which auto-deleveraging
    happened marked."""
    ticks = read_parquet(run_dir, "ticks.parquet", TICK_COLUMNS)
    hours = ticks["elapsed_s"].to_numpy(float) / 3_600
    minute = (ticks["elapsed_s"] // 60).astype(np.int64)
    per_minute = ticks.groupby(minute).agg(
        long=("liquidated_notional_long_usdt", "sum"),
        short=("liquidated_notional_short_usdt", "sum"),
        n_long=("liquidations_long", "sum"),
        n_short=("liquidations_short", "sum"),
        adl=("adl_actions", "sum"),
    )
    minute_hours = per_minute.index.to_numpy(float) / 60

    figure = new_figure(PAGE_WIDTH, 6.6, layout="constrained")
    axes = figure.subplots(4, 1, sharex=True, height_ratios=[2.2, 1.2, 1.6, 1.2])
    price, gaps, liquidations, fund = axes

    # Three lines a few bps apart: told apart by style as well as colour, and their gaps drawn
    # in a panel of their own (in bps of the index), where they are visible.
    price.plot(hours, ticks["last_usdt"], color="0.6", lw=0.5, label="last", zorder=1)
    price.plot(hours, ticks["index_usdt"], color="black", lw=1.0, ls="--", label="index", zorder=2)
    price.plot(hours, ticks["mark_usdt"], color=MARK_COLOR, lw=0.7, ls=":", label="mark", zorder=3)
    price.set_ylabel("price (USDT)")
    index = ticks["index_usdt"].to_numpy(float)
    for column, color, style, label in (
        ("last_usdt", "0.6", "-", "last - index"),
        ("mark_usdt", MARK_COLOR, "-", "mark - index"),
    ):
        gap_bps = (ticks[column].to_numpy(float) / index - 1) * 1e4
        gaps.plot(hours, gap_bps, color=color, lw=0.6, ls=style, label=label)
    gaps.axhline(0, color="black", lw=0.6, ls="--")
    gaps.set_ylabel("gap to the\nindex (bps)")
    gaps.legend(loc="upper right", ncols=2, frameon=True)
    price.yaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
    price.legend(loc="best", ncols=3, frameon=True)
    low, high = np.nanpercentile(ticks[["index_usdt", "mark_usdt"]].to_numpy(float), [0, 100])
    last = ticks["last_usdt"].to_numpy(float)
    outside = np.count_nonzero((last < low * 0.98) | (last > high * 1.02))
    if outside:
        # keep the index and mark readable; say how many last prices fall off the panel
        pad = (high - low) * 0.15
        price.set_ylim(low - pad, high + pad)
        price.text(
            0.01,
            0.03,
            f"{outside:,} last prices beyond 2% of the index/mark range are off the panel",
            transform=price.transAxes,
            fontsize=7,
            color="0.35",
        )

    width = 1 / 60
    liquidations.bar(
        minute_hours,
        per_minute["short"],
        width=width,
        align="edge",
        color=SHORT_COLOR,
        lw=0,
        label=f"shorts (up): {per_minute['n_short'].sum():,} liquidated, "
        f"{compact(per_minute['short'].sum())} USDT",
    )
    liquidations.bar(
        minute_hours,
        -per_minute["long"],
        width=width,
        align="edge",
        color=LONG_COLOR,
        lw=0,
        label=f"longs (down): {per_minute['n_long'].sum():,} liquidated, "
        f"{compact(per_minute['long'].sum())} USDT",
    )
    peak = max(per_minute["long"].max(), per_minute["short"].max(), 1.0)
    liquidations.set_ylim(-peak * 1.15, peak * 1.15)
    liquidations.axhline(0, color="0.3", lw=0.6)
    liquidations.yaxis.set_major_formatter(lambda v, _p: compact(abs(v)))
    liquidations.set_ylabel("liquidated notional\nper minute (USDT)")
    liquidations.legend(loc="upper left", frameon=True)

    balance = ticks["insurance_fund_usdt"].to_numpy(float)
    start, end = balance[0], balance[-1]
    change = f" ({(end - start) / abs(start):+.2%})" if start else ""
    fund.plot(
        hours,
        balance,
        color=POPULATION_COLORS["insurance_fund"],
        lw=1,
        label=f"balance: {start:,.0f} USDT at the start, {end:,.0f} at the end{change}",
    )
    fund.set_ylim(min(0.0, balance.min() * 1.1), max(0.0, balance.max() * 1.25))
    fund.set_ylabel("insurance fund\n(USDT)")
    fund.yaxis.set_major_formatter(compact)
    adl = per_minute["adl"].to_numpy() > 0
    if adl.any():
        fund.plot(
            minute_hours[adl],
            np.full(adl.sum(), balance.min()),
            "|",
            color="black",
            ms=6,
            label=f"minutes with auto-deleveraging ({adl.sum():,})",
        )
    fund.legend(loc="lower right", frameon=True)
    fund.set_xlabel("time (hours)")
    fund.set_xlim(hours[0], hours[-1])
    span = f"{hours[-1]:.3g} simulated hour{'' if f'{hours[-1]:.3g}' == '1' else 's'}"
    price.set_title(f"Market overview ({span})", loc="left")
    figure.align_ylabels(axes)
    return figure
