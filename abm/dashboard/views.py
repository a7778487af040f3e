"""The dashboard's views, as plain matplotlib drawings of a run's series up to a moment: the
same functions draw the live model and a replayed run folder.

Inputs are the frames a run writes: ``ticks`` (the columns of ``ticks.parquet``, one row per
tick), ``liquidation_map`` (rows of ``liquidation_map.parquet``) and ``money`` (the
where-the-money-goes table, :func:`abm.flows.money.where_money_goes`). Each function returns a
matplotlib ``Figure`` at a dashboard card's size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm.figures._common import POPULATION_COLORS, compact

WIDTH_IN, HEIGHT_IN = 6.0, 2.6
LONG_COLOR, SHORT_COLOR = "#d55e00", "#0072b2"


def _figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    ax.tick_params(labelsize=8)
    return figure, ax


def _label(ax, xlabel: str, ylabel: str, title: str, legend: str | None = "upper left") -> None:
    """A view's axis labels, legend and title, in the dashboard's sizes."""
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    if legend is not None:
        ax.legend(fontsize=7, loc=legend, frameon=False)
    ax.set_title(title, loc="left", fontsize=9)


def hours(ticks: pd.DataFrame) -> np.ndarray:
    """The ticks' times in simulated hours."""
    return ticks["elapsed_s"].to_numpy(float) / 3_600


def per_minute(ticks: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` summed per simulated minute, indexed by the minute's start in hours.

    >>> t = pd.DataFrame({"elapsed_s": [0, 30, 60, 90], "n": [1, 2, 3, 4]})
    >>> per_minute(t, ["n"])["n"].tolist()
    [3, 7]
    """
    minute = (ticks["elapsed_s"].to_numpy(float) // 60).astype(np.int64)
    summed = ticks[columns].groupby(minute).sum()
    summed.index = summed.index / 60
    return summed


def draw_prices(ticks: pd.DataFrame) -> Figure:
    """Index, mark and last price (USDT) against time."""
    figure, ax = _figure()
    x = hours(ticks)
    for column, label, color, width in (
        ("index_usdt", "index", "black", 1.0),
        ("mark_usdt", "mark", "#e69f00", 1.0),
        ("last_usdt", "last", "#999999", 0.7),
    ):
        ax.plot(x, ticks[column].astype(float), label=label, color=color, lw=width)
    ax.set_xlabel("time (hours)", fontsize=8)
    ax.set_ylabel("price (USDT)", fontsize=8)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
    ax.legend(fontsize=7, ncol=3, loc="upper left", frameon=False)
    ax.set_title("Prices", loc="left", fontsize=9)
    return figure


def draw_depth(ticks: pd.DataFrame, window_hours: float = 1.0) -> Figure:
    """The book's resting size within 50 bps of the mark, bids and asks (BTC), over the last
    ``window_hours``, with the latest values in the legend."""
    figure, ax = _figure()
    x = hours(ticks)
    recent = x >= x[-1] - window_hours if len(x) else np.zeros(0, bool)
    for column, label, color in (
        ("depth_bid_50bps_btc", "bids", SHORT_COLOR),
        ("depth_ask_50bps_btc", "asks", LONG_COLOR),
    ):
        values = ticks[column].astype(float).to_numpy()
        now = values[-1] if len(values) else float("nan")
        ax.plot(x[recent], values[recent], color=color, lw=1, label=f"{label}: {now:,.2f} BTC now")
    ax.set_ylim(bottom=0)
    _label(ax, "time (hours)", "depth within 50 bps (BTC)", "Order book depth near the mark")
    return figure


def draw_liquidations(ticks: pd.DataFrame) -> Figure:
    """Liquidations per simulated minute: shorts upwards, longs downwards (count)."""
    figure, ax = _figure()
    minutes = per_minute(ticks, ["liquidations_long", "liquidations_short"])
    for side, sign, color, where in (
        ("short", 1, SHORT_COLOR, "up"),
        ("long", -1, LONG_COLOR, "down"),
    ):
        counts = minutes[f"liquidations_{side}"]
        ax.bar(
            minutes.index,
            sign * counts,
            width=1 / 60,
            color=color,
            label=f"{side}s ({where}): {int(counts.sum()):,}",
        )
    ax.axhline(0, color="0.3", lw=0.6)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{abs(v):g}")
    _label(ax, "time (hours)", "liquidations per minute", "Liquidations")
    return figure


def draw_backstops(ticks: pd.DataFrame) -> Figure:
    """The insurance fund (USDT, on an axis from zero) and backstop actions per minute."""
    figure, ax = _figure()
    x = hours(ticks)
    fund = ticks["insurance_fund_usdt"].astype(float).to_numpy()
    start, now = (fund[0], fund[-1]) if len(fund) else (float("nan"), float("nan"))
    ax.plot(
        x,
        fund,
        color=POPULATION_COLORS["insurance_fund"],
        lw=1.2,
        label=f"insurance fund: {compact(now)} USDT ({compact(now - start)} since the start)",
    )
    ax.set_ylim(0, max(1.0, float(np.nanmax(fund)) * 1.15) if len(fund) else 1.0)
    ax.yaxis.set_major_formatter(compact)
    ax.set_xlabel("time (hours)", fontsize=8)
    ax.set_ylabel("insurance fund (USDT)", fontsize=8)
    actions = per_minute(ticks, ["adl_actions", "other_backstop_actions"])
    other = ax.twinx()
    other.tick_params(labelsize=8)
    other.bar(actions.index, actions["adl_actions"], width=1 / 60, color="#cc79a7", label="ADL")
    other.bar(
        actions.index,
        actions["other_backstop_actions"],
        bottom=actions["adl_actions"],
        width=1 / 60,
        color="#009e73",
        label="other backstop actions",
    )
    other.set_ylabel("backstop actions per minute", fontsize=8)
    other.set_ylim(bottom=0, top=max(1.0, float(actions.sum(axis=1).max() or 0) * 1.5))
    handles = ax.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="lower left")
    ax.set_title("Insurance fund and backstops", loc="left", fontsize=9)
    return figure


def draw_liquidation_map(liquidation_map: pd.DataFrame, mark_usdt: float) -> Figure:
    """The latest snapshot of the liquidation map: notional (USDT) of open positions by the
    price at which they would be liquidated, longs and shorts, with the mark."""
    figure, ax = _figure()
    rows = liquidation_map
    if len(rows):
        rows = rows[rows["tick"] == rows["tick"].max()]
        rows = rows[
            rows["price_bin_low_usdt"].notna()
            & (rows["price_bin_low_usdt"] > 0)
            & np.isfinite(rows["price_bin_high_usdt"].astype(float))
        ]
    for side, color, label in (("long", LONG_COLOR, "longs"), ("short", SHORT_COLOR, "shorts")):
        part = rows[rows["side"] == side] if len(rows) else rows
        if len(part):
            low = part["price_bin_low_usdt"].astype(float)
            high = part["price_bin_high_usdt"].astype(float)
            ax.bar(
                low,
                part["notional_usdt"].astype(float),
                width=high - low,
                align="edge",
                color=color,
                alpha=0.8,
                label=label,
            )
    ax.axvline(mark_usdt, color="black", lw=1, label=f"mark {mark_usdt:,.0f}")
    ax.xaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
    ax.yaxis.set_major_formatter(compact)
    ax.set_xlabel("liquidation price (USDT)", fontsize=8)
    ax.set_ylabel("notional (USDT)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    ax.set_title(
        "Liquidation map: where open positions would be liquidated", loc="left", fontsize=9
    )
    return figure


def draw_money(money: pd.DataFrame) -> Figure:
    """Where the liquidated money has gone so far: USDT received, by population (and the
    insurance fund and the exchange)."""
    figure, ax = _figure()
    received = money[money["section"] == "received"] if len(money) else money
    if len(received):
        by_party = received.groupby("party")["amount_usdt"].sum().sort_values()
        ax.barh(
            [p.replace("_", " ") for p in by_party.index],
            by_party.to_numpy(),
            color=[POPULATION_COLORS.get(p, "grey") for p in by_party.index],
        )
        total = float(by_party.sum())
        ax.set_title(
            f"Where the liquidated money has gone: {total:,.0f} USDT so far",
            loc="left",
            fontsize=9,
        )
    else:
        ax.text(0.5, 0.5, "no liquidation yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("Where the liquidated money has gone", loc="left", fontsize=9)
    ax.xaxis.set_major_formatter(compact)
    ax.set_xlabel("received (USDT)", fontsize=8)
    return figure
