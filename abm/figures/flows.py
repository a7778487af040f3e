"""Figures of where liquidated money goes, from a run folder's flow outputs (abm.flows)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as CurvePath
from matplotlib.ticker import NullFormatter

from abm.figures._common import (
    COLUMN_WIDTH,
    COMPACT,
    MICRO,
    PAGE_WIDTH,
    POPULATION_COLORS,
    POPULATIONS,
    FigureSkipped,
    compact,
    journal_styled,
    new_figure,
    output_path,
    population_label,
    read_parquet,
    require,
    save,
)

NO_FLOW_COLOR = "0.85"
"""The colour of a heatmap cell through which no money flowed."""


def population_flow_heatmap(run_dir: Path, out: Path | None = None) -> Path:
    """Population-to-population money flows as a heatmap PNG (:func:`draw_population_flow_heatmap`)
    written to ``out`` or ``run_dir/figures``; returns its path."""
    return save(
        draw_population_flow_heatmap(run_dir),
        output_path(run_dir, out, "population_flow_heatmap"),
        run_dir,
    )


@journal_styled()
def draw_population_flow_heatmap(run_dir: Path) -> Figure:
    """Population-to-population money flows (all causes but deposits and withdrawals), USDT,
    from ``flows_by_population.csv``; rows pay, columns receive. Column width. The colour scale is
    logarithmic over the cells with money, so that the largest flow does not wash out the rest;
    cells without money are grey, as the colour bar's label says. Each cell is annotated with its
    amount in compact units."""
    flows = pd.read_csv(require(run_dir, "flows_by_population.csv"))
    flows = flows[~flows["cause"].isin(["deposit", "withdrawal"])]
    matrix = flows.pivot_table(
        index="src_population", columns="dst_population", values="amount_micro_usdt", aggfunc="sum"
    )
    present = [p for p in POPULATIONS if p in set(matrix.index) | set(matrix.columns)]
    matrix = matrix.reindex(index=present, columns=present) / MICRO
    matrix = matrix.where(matrix > 0)
    if matrix.isna().all(axis=None):
        raise FigureSkipped("flows_by_population.csv has no money flowing between populations")
    low, high = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    labels = [population_label(p) for p in present]
    matrix = matrix.set_axis(labels, axis=0).set_axis(labels, axis=1)
    figure = new_figure(COLUMN_WIDTH, 4.0, layout="constrained")
    with sns.axes_style("white"):
        ax = figure.add_subplot()
    ax.set_facecolor(NO_FLOW_COLOR)
    sns.heatmap(
        matrix,
        ax=ax,
        cmap="viridis",
        norm=LogNorm(vmin=low, vmax=max(high, low * 10)),
        annot=matrix.map(lambda v: compact(v) if v > 0 else ""),
        fmt="",
        annot_kws={"fontsize": 7},
        linewidths=0.5,
        linecolor="white",
        cbar_kws={
            "label": "money paid (USDT, log scale); grey: none",
            "format": COMPACT,
            "orientation": "horizontal",
            "aspect": 30,
        },
    )
    ax.collections[0].colorbar.ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set(ha="right", rotation_mode="anchor")
    ax.set_xlabel("receiving population")
    ax.set_ylabel("paying population")
    ax.set_title("Money flows between populations", loc="left")
    return figure


def where_money_goes_bar(run_dir: Path, out: Path | None = None) -> Path:
    """Stacked bars of where the liquidated money went (:func:`draw_where_money_goes_bar`) as a
    PNG written to ``out`` or ``run_dir/figures``; returns its path."""
    return save(
        draw_where_money_goes_bar(run_dir),
        output_path(run_dir, out, "where_money_goes_bar"),
        run_dir,
    )


@journal_styled()
def draw_where_money_goes_bar(run_dir: Path) -> Figure:
    """Stacked bars of who received liquidated money and who paid it, long and short
    liquidations side by side, from ``where_money_goes.csv``. Page width, two panels (received
    by, paid by), each with its legend of parties and their totals (USDT)."""
    table = pd.read_csv(require(run_dir, "where_money_goes.csv"))
    if table.empty:
        raise FigureSkipped("where_money_goes.csv has no liquidations")
    table["label"] = (
        table["party"].map(population_label) + " " + table["part"].str.replace("_", " ")
    )
    figure = new_figure(PAGE_WIDTH, 3.8, layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, section, title in zip(
        axes, ("received", "paid"), ("received by", "paid by"), strict=True
    ):
        rows = table[table["section"] == section].sort_values("amount_micro_usdt", ascending=False)
        bottom = np.zeros(2)
        seen: dict[str, int] = {}
        for row in rows.itertuples(index=False):
            values = np.array([row.long_usdt, row.short_usdt])
            # a party's second and later parts (e.g. the insurance fund's clearance fee and
            # surplus) keep the party's colour but are hatched, so that they stay apart
            nth = seen[row.party] = seen.get(row.party, -1) + 1
            ax.bar(
                ["long liquidations", "short liquidations"],
                values,
                bottom=bottom,
                color=POPULATION_COLORS.get(row.party, "0.5"),
                edgecolor="white",
                lw=0.5,
                hatch=("", "///", "...", "xxx")[nth % 4],
                label=f"{row.label}: {compact(row.amount_usdt)} USDT",
            )
            bottom += values
        ax.yaxis.set_major_formatter(COMPACT)
        ax.set_title(title, loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=1, frameon=False)
    axes[0].set_ylabel("liquidated money (USDT)")
    total = table.loc[table["section"] == "received", "amount_usdt"].sum()
    figure.suptitle(
        f"Where the liquidated money went ({total:,.0f} USDT in total)", x=0.01, ha="left"
    )
    return figure


def population_order(names: Iterable[str]) -> list[str]:
    """``names`` in the figures' order: those in ``POPULATIONS`` first, in its order, then any
    others alphabetically."""
    names = set(names)
    known = [p for p in POPULATIONS if p in names]
    return known + sorted(names - set(known))


def _received(attribution: pd.DataFrame) -> pd.DataFrame:
    """The ``received`` rows of an attribution table as plain columns: ``account``,
    ``liquidated`` (its population), ``receiver`` (the party's population), ``amount_micro_usdt``."""
    rows = attribution[attribution["section"] == "received"]
    return pd.DataFrame(
        {
            "account": rows["account"].to_numpy(),
            "liquidated": rows["population"].astype(str).to_numpy(),
            "receiver": rows["party_population"].astype(str).to_numpy(),
            "amount_micro_usdt": rows["amount_micro_usdt"].to_numpy(np.int64),
        }
    )


def liquidation_flows(attribution: pd.DataFrame) -> pd.DataFrame:
    """The liquidation network by population: who received the liquidated accounts' losses.

    Input: a liquidation attribution table (``liquidation_attribution.parquet``; the columns
    ``account``, ``population``, ``section``, ``party_population`` and ``amount_micro_usdt`` are
    used). Output: one row per (``liquidated``, ``receiver``) pair with money: ``liquidated`` is
    the population of the liquidated accounts, ``receiver`` the population (or system account:
    insurance fund, exchange, backstop vault) of the parties that received it in the
    ``received`` section; ``amount_micro_usdt`` (int, summed over events) and ``amount_usdt``.
    Pairs whose net sum is not positive are left out; rows are ordered largest first.

    >>> liquidation_flows(attribution)  # doctest: +SKIP
      liquidated        receiver  amount_micro_usdt  amount_usdt
    0     retail  insurance_fund          267187560   267.187560
    1     retail     fundamental          217336600   217.336600
    """
    edges = (
        _received(attribution)
        .groupby(["liquidated", "receiver"], as_index=False)["amount_micro_usdt"]
        .sum()
    )
    edges = edges[edges["amount_micro_usdt"] > 0]
    edges = edges.sort_values(
        ["amount_micro_usdt", "liquidated", "receiver"], ascending=[False, True, True]
    ).reset_index(drop=True)
    edges["amount_usdt"] = edges["amount_micro_usdt"] / MICRO
    return edges


def top_liquidated(attribution: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` liquidated accounts by money lost, labelled by rank and population.

    Input: a liquidation attribution table (as :func:`liquidation_flows`) and how many accounts
    to keep. Output: one row per account, largest loss first (ties by account id), indexed by
    ``'#rank population'`` (e.g. ``'#1 retail'``: no account numbers), one column per receiving
    population in :func:`population_order`: the USDT that account's losses paid it (a negative
    net sum counts as 0); accounts that lost nothing are left out.
    """
    table = _received(attribution).pivot_table(
        index=["account", "liquidated"],
        columns="receiver",
        values="amount_micro_usdt",
        aggfunc="sum",
        fill_value=0,
    )
    table = table.clip(lower=0) / MICRO
    totals = table.sum(axis=1)
    table = table.loc[totals[totals > 0].sort_values(ascending=False, kind="stable").index]
    table = table.head(top)[population_order(table.columns)]
    labels = [f"#{rank} {population_label(p)}" for rank, (_, p) in enumerate(table.index, 1)]
    table.columns.name = None
    return table.set_axis(labels, axis=0)


def liquidation_network(run_dir: Path, out: Path | None = None, top: int = 30) -> Path:
    """The liquidation network by population and its ``top`` accounts
    (:func:`draw_liquidation_network`) as a PNG written to ``out`` or ``run_dir/figures``; returns
    its path."""
    return save(
        draw_liquidation_network(run_dir, top),
        output_path(run_dir, out, "liquidation_network"),
        run_dir,
    )


@journal_styled()
def draw_liquidation_network(run_dir: Path, top: int = 30) -> Figure:
    """Where the liquidated accounts' losses went, from ``liquidation_attribution.parquet``. Page
    width, two panels: (a) a flow diagram of :func:`liquidation_flows`, the liquidated accounts'
    populations on the left, the receiving populations and system accounts on the right, band
    width proportional to USDT (with a scale bar), band colour the receiver's; (b) the ``top``
    accounts that lost most (:func:`top_liquidated`), labelled by rank and population, each bar
    split by receiver in the same colours. One colour legend of receivers below both."""
    attribution = read_parquet(run_dir, "liquidation_attribution.parquet")
    edges = liquidation_flows(attribution)
    if edges.empty:
        raise FigureSkipped("liquidation_attribution.parquet has no liquidated money")
    ranked = top_liquidated(attribution, _received(attribution)["account"].nunique())
    accounts = ranked.head(top)
    figure = new_figure(PAGE_WIDTH, max(3.2, 1.4 + 0.13 * len(accounts)), layout="constrained")
    network, bars = figure.subplots(1, 2, width_ratios=[1.1, 1])
    _draw_flow_diagram(network, edges)
    network.set_title("(a) by population", loc="left")

    left = np.zeros(len(accounts))
    y = np.arange(len(accounts))
    for receiver in accounts.columns:
        values = accounts[receiver].to_numpy(float)
        color = POPULATION_COLORS.get(receiver, "0.5")
        bars.barh(y, values, left=left, color=color, height=0.75, lw=0)
        left += values
    bars.set_yticks(y, accounts.index)
    bars.set_ylim(len(accounts) - 0.5, -0.5)
    bars.grid(axis="y", visible=False)
    bars.xaxis.set_major_formatter(COMPACT)
    bars.set_xlabel("lost (USDT)")
    bars.set_title(f"(b) {len(accounts)} largest of {len(ranked)} accounts", loc="left")

    receivers = population_order({*edges["receiver"], *accounts.columns})
    figure.legend(
        handles=[
            Patch(color=POPULATION_COLORS.get(p, "0.5"), label=population_label(p))
            for p in receivers
        ],
        title="colour: receiving population or system account",
        loc="outside lower center",
        ncols=min(len(receivers), 6),
        frameon=False,
    )
    figure.suptitle("Who received the liquidated accounts' losses", x=0.01, ha="left")
    return figure


def _draw_flow_diagram(ax: Axes, edges: pd.DataFrame) -> None:
    """A two-column flow (Sankey) diagram of ``edges`` (:func:`liquidation_flows`) on ``ax``.

    Left: a bar per liquidated population, right: a bar per receiver, heights proportional to
    USDT, each labelled with its name and total; a band per edge, its width the edge's USDT, in
    the receiver's colour. A band is labelled with its amount where it enters a receiver that
    gets money from more than one population (otherwise the receiver's total is the band's). A
    scale bar of a round amount is the width legend."""
    sources = population_order(edges["liquidated"])
    targets = population_order(edges["receiver"])
    total = float(edges["amount_usdt"].sum())
    gap, node, pad = 0.05, 0.05, 0.03
    unit = (1 - gap * (max(len(sources), len(targets)) - 1)) / total
    tops = {}
    for column, names, x, align, header in (
        ("liquidated", sources, 0.0, "right", "liquidated"),
        ("receiver", targets, 1.0 - node, "left", "received by"),
    ):
        sums = edges.groupby(column)["amount_usdt"].sum()
        y = (1 + unit * float(sums.sum()) + gap * (len(names) - 1)) / 2
        tops[column], middles = {}, []
        for name in names:
            h = float(sums[name]) * unit
            tops[column][name] = y
            middles.append(y - h / 2)
            ax.add_patch(Rectangle((x, y - h), node, h, color=POPULATION_COLORS.get(name, "0.5")))
            y -= h + gap
        text_x = x - pad if align == "right" else x + node + pad
        for name, y in zip(names, _spread(middles, 0.075), strict=True):
            label = f"{population_label(name)} {compact(sums[name])} USDT"
            ax.text(text_x, y, label, ha=align, va="center")
        ax.text(x + node / 2, 1.04, header, ha="center", va="bottom", style="italic")

    out_y, in_y = tops["liquidated"], tops["receiver"]
    senders = edges.groupby("receiver")["liquidated"].nunique()
    x0, x1 = node, 1.0 - node
    middle = (x0 + x1) / 2
    labels = []
    rank = {p: i for i, p in enumerate(targets)}
    for edge in edges.sort_values(
        "receiver", key=lambda r: r.map(rank), kind="stable"
    ).itertuples():
        h = edge.amount_usdt * unit
        y0, y1 = out_y[edge.liquidated], in_y[edge.receiver]
        out_y[edge.liquidated] -= h
        in_y[edge.receiver] -= h
        band = CurvePath(
            [
                (x0, y0),
                (middle, y0),
                (middle, y1),
                (x1, y1),
                (x1, y1 - h),
                (middle, y1 - h),
                (middle, y0 - h),
                (x0, y0 - h),
                (x0, y0),
            ],
            [CurvePath.MOVETO, *[CurvePath.CURVE4] * 3, CurvePath.LINETO]
            + [*[CurvePath.CURVE4] * 3, CurvePath.CLOSEPOLY],
        )
        color = POPULATION_COLORS.get(edge.receiver, "0.5")
        ax.add_patch(PathPatch(band, facecolor=color, edgecolor="none", alpha=0.6))
        if senders[edge.receiver] > 1:
            labels.append((y1 - h / 2, compact(edge.amount_usdt)))
    for y, (_, text) in zip(_spread([y for y, _ in labels], 0.045), labels, strict=True):
        ax.text(x1 - 0.01, y, text, ha="right", va="center", fontsize=7)

    scale = _round_amount(total / 4)
    bottom = -0.08 - scale * unit
    ax.add_patch(Rectangle((0.49, bottom), 0.02, scale * unit, color="0.3"))
    ax.text(0.54, bottom + scale * unit / 2, f"band width {compact(scale)} USDT", va="center")
    ax.set_xlim(-0.55, 1.55)
    ax.set_ylim(bottom - 0.02, 1.1)
    ax.set_axis_off()


def _spread(positions: list[float], gap: float) -> list[float]:
    """Label heights at least ``gap`` apart, in the input's order: labels closer than that are
    grouped and each group is centred on its labels' own heights, top to bottom in their order
    (``_spread([0.5, 0.51], 0.04)`` is about ``[0.485, 0.525]``)."""
    order = sorted(range(len(positions)), key=lambda i: -positions[i])
    groups: list[list[int]] = []
    for i in order:
        groups.append([i])
        while len(groups) > 1 and _group_top(groups[-1], positions, gap) > (
            _group_top(groups[-2], positions, gap) - gap * len(groups[-2])
        ):
            last = groups.pop()
            groups[-1].extend(last)
    out = [0.0] * len(positions)
    for group in groups:
        for j, i in enumerate(group):
            out[i] = _group_top(group, positions, gap) - gap * j
    return out


def _group_top(group: list[int], positions: list[float], gap: float) -> float:
    """The top label's height of a group of labels centred on their own heights."""
    return float(np.mean([positions[i] for i in group])) + gap * (len(group) - 1) / 2


def _round_amount(value: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten not above ``value`` (> 0): 370 -> 200."""
    power = 10 ** np.floor(np.log10(value))
    return float(max(m * power for m in (1, 2, 5) if m * power <= value))
