"""The run at a glance: prices, liquidations and the insurance fund over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from abm.figures._common import (
    LONG_COLOR,
    POPULATION_COLORS,
    SHORT_COLOR,
    compact,
    new_figure,
    output_path,
    read_parquet,
    save,
    styled,
)

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
    """Three stacked panels on one time axis (hours), from ``ticks.parquet``: index, mark and last
    price; liquidated notional per minute (longs downwards, shorts upwards); the insurance fund's
    balance, with the minutes in which auto-deleveraging happened marked."""
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

    with styled():
        figure = new_figure(11, 8.5)
        axes = figure.subplots(
            3, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1.6, 1.2], "hspace": 0.08}
        )
        price, liquidations, fund = axes

        price.plot(hours, ticks["last_usdt"], color="0.6", lw=0.5, label="last", zorder=1)
        price.plot(hours, ticks["index_usdt"], color="black", lw=0.8, label="index", zorder=2)
        price.plot(hours, ticks["mark_usdt"], color="#e67e22", lw=0.8, label="mark", zorder=3)
        price.set_ylabel("price (USDT)")
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
                fontsize=8,
                color="0.35",
            )

        width = 1 / 60
        liquidations.bar(
            minute_hours,
            -per_minute["long"],
            width=width,
            align="edge",
            color=LONG_COLOR,
            lw=0,
            label=f"longs liquidated: {per_minute['n_long'].sum():,} "
            f"({compact(per_minute['long'].sum())} USDT)",
        )
        liquidations.bar(
            minute_hours,
            per_minute["short"],
            width=width,
            align="edge",
            color=SHORT_COLOR,
            lw=0,
            label=f"shorts liquidated: {per_minute['n_short'].sum():,} "
            f"({compact(per_minute['short'].sum())} USDT)",
        )
        peak = max(per_minute["long"].max(), per_minute["short"].max(), 1.0)
        liquidations.set_ylim(-peak * 1.15, peak * 1.15)
        liquidations.axhline(0, color="0.3", lw=0.6)
        liquidations.yaxis.set_major_formatter(lambda v, _p: compact(abs(v)))
        liquidations.set_ylabel("liquidated notional\nper minute (USDT)")
        liquidations.legend(loc="upper left", frameon=True, fontsize=8)
        liquidations.text(
            1.005, 0.75, "shorts", transform=liquidations.transAxes, color=SHORT_COLOR, fontsize=9
        )
        liquidations.text(
            1.005, 0.2, "longs", transform=liquidations.transAxes, color=LONG_COLOR, fontsize=9
        )

        fund.plot(
            hours, ticks["insurance_fund_usdt"], color=POPULATION_COLORS["insurance_fund"], lw=1
        )
        fund.set_ylabel("insurance fund\n(USDT)")
        fund.yaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
        adl = per_minute["adl"].to_numpy() > 0
        if adl.any():
            level = ticks["insurance_fund_usdt"].min()
            fund.plot(
                minute_hours[adl],
                np.full(adl.sum(), level),
                "|",
                color="black",
                ms=8,
                label=f"minutes with auto-deleveraging ({adl.sum():,})",
            )
            fund.legend(loc="best", frameon=True, fontsize=8)
        fund.set_xlabel("time (hours)")
        fund.set_xlim(hours[0], hours[-1])
        price.set_title(
            f"Market overview: {Path(run_dir).name} ({hours[-1]:.3g} simulated hours)", loc="left"
        )
        figure.align_ylabels(axes)
        return save(figure, output_path(run_dir, out, "market_overview"))
