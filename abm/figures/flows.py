"""Figures of where liquidated money goes, from a run folder's flow outputs (abm.flows)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import seaborn as sns

from abm.figures._common import (
    COMPACT,
    POPULATION_COLORS,
    POPULATIONS,
    new_figure,
    output_path,
    read_parquet,
    require,
    save,
    styled,
)


def population_flow_heatmap(run_dir: Path, out: Path | None = None) -> Path:
    """Population-to-population money flows (all causes but deposits and withdrawals), USDT,
    from ``flows_by_population.csv``; rows pay, columns receive."""
    flows = pd.read_csv(require(run_dir, "flows_by_population.csv"))
    flows = flows[~flows["cause"].isin(["deposit", "withdrawal"])]
    matrix = flows.pivot_table(
        index="src_population", columns="dst_population", values="amount", aggfunc="sum"
    )
    present = [p for p in POPULATIONS if p in set(matrix.index) | set(matrix.columns)]
    matrix = matrix.reindex(index=present, columns=present).fillna(0) / 1e6
    with styled():
        figure = new_figure(8.5, 6.5)
        ax = figure.add_subplot()
        sns.heatmap(
            matrix,
            ax=ax,
            cmap="rocket_r",
            annot=matrix.map(lambda v: f"{v:,.0f}" if v else ""),
            fmt="",
            linewidths=0.5,
            cbar_kws={"label": "USDT", "format": COMPACT},
        )
        ax.set_xlabel("receiving population")
        ax.set_ylabel("paying population")
        ax.set_title(
            f"Money flows between populations: {Path(run_dir).name} (USDT, all causes "
            "but deposits and withdrawals)",
            loc="left",
        )
    return save(figure, output_path(run_dir, out, "population_flow_heatmap"))


def where_money_goes_bar(run_dir: Path, out: Path | None = None) -> Path:
    """Stacked bars of who received liquidated money and who paid it, long and short
    liquidations side by side, from ``where_money_goes.csv``."""
    table = pd.read_csv(require(run_dir, "where_money_goes.csv"))
    table["label"] = table["party"] + " " + table["part"].str.replace("_", " ")
    with styled():
        figure = new_figure(11, 7.5)
        axes = figure.subplots(1, 2, sharey=True)
        for ax, section, title in zip(
            axes, ("received", "paid"), ("received by", "paid by"), strict=True
        ):
            rows = table[table["section"] == section].sort_values("amount", ascending=False)
            bottom = np.zeros(2)
            colors = sns.color_palette("tab20", max(3, len(rows)))
            for color, row in zip(colors, rows.itertuples(index=False), strict=False):
                values = np.array([row.long_usdt, row.short_usdt])
                ax.bar(
                    ["long liquidations", "short liquidations"],
                    values,
                    bottom=bottom,
                    color=POPULATION_COLORS.get(row.party, color),
                    edgecolor="white",
                    label=f"{row.label}: {row.amount_usdt:,.0f}",
                )
                bottom += values
            ax.yaxis.set_major_formatter(COMPACT)
            ax.set_title(title, loc="left")
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=1)
        axes[0].set_ylabel("USDT")
        total = table.loc[table["section"] == "received", "amount_usdt"].sum()
        figure.suptitle(
            f"Where the liquidated money went: {total:,.0f} USDT in {Path(run_dir).name}",
            x=0.01,
            ha="left",
        )
    return save(figure, output_path(run_dir, out, "where_money_goes_bar"))


def liquidation_network(run_dir: Path, out: Path | None = None, top: int = 30) -> Path:
    """The top accounts of the liquidation network: liquidated accounts pay receivers (link
    partners, the insurance fund, the exchange); edge width is the money, colour the population.
    """
    attribution = read_parquet(run_dir, "liquidation_attribution.parquet")
    received = attribution[attribution["section"] == "received"]
    edges = received.groupby(["account", "party"], as_index=False)["amount"].sum()
    populations = dict(zip(attribution["account"], attribution["population"], strict=False))
    populations.update(zip(attribution["party"], attribution["party_population"], strict=False))
    weight = (
        pd.concat(
            [edges.groupby("account")["amount"].sum(), edges.groupby("party")["amount"].sum()]
        )
        .groupby(level=0)
        .sum()
    )
    keep = set(weight.sort_values(ascending=False).head(top).index)
    edges = edges[edges["account"].isin(keep) & edges["party"].isin(keep)]
    graph = nx.DiGraph()
    for row in edges.itertuples(index=False):
        graph.add_edge(int(row.account), int(row.party), weight=float(row.amount) / 1e6)
    with styled():
        figure = new_figure(10, 8)
        ax = figure.add_subplot()
        ax.set_axis_off()
        if graph.number_of_nodes():
            layout = nx.spring_layout(graph, seed=7, weight=None)
            widths = np.array([d["weight"] for *_, d in graph.edges(data=True)])
            nx.draw_networkx_edges(
                graph,
                layout,
                ax=ax,
                width=0.5 + 5 * widths / widths.max(),
                alpha=0.5,
                arrows=True,
                arrowsize=8,
                edge_color="grey",
            )
            sizes = np.array([weight.get(n, 0) for n in graph.nodes]) / 1e6
            nx.draw_networkx_nodes(
                graph,
                layout,
                ax=ax,
                node_size=60 + 900 * sizes / max(sizes.max(), 1e-9),
                node_color=[POPULATION_COLORS.get(populations.get(n), "grey") for n in graph],
            )
            nx.draw_networkx_labels(graph, layout, ax=ax, font_size=7)
        for population in sorted({populations.get(n) for n in graph} - {None}):
            ax.scatter([], [], color=POPULATION_COLORS.get(population, "grey"), label=population)
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title(
            f"Liquidation network, top {top} accounts by money paid or received "
            f"({Path(run_dir).name}); arrows: liquidated account to receiver",
            loc="left",
        )
    return save(figure, output_path(run_dir, out, "liquidation_network"))
