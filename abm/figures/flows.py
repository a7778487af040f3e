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
    compact,
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
        index="src_population", columns="dst_population", values="amount_micro_usdt", aggfunc="sum"
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
            rows = table[table["section"] == section].sort_values(
                "amount_micro_usdt", ascending=False
            )
            bottom = np.zeros(2)
            colors = sns.color_palette("tab20", max(3, len(rows)))
            seen: dict[str, int] = {}
            for color, row in zip(colors, rows.itertuples(index=False), strict=False):
                values = np.array([row.long_usdt, row.short_usdt])
                # a party's second and later parts (e.g. the insurance fund's clearance fee and
                # surplus) keep the party's colour but are hatched, so that they stay apart
                nth = seen[row.party] = seen.get(row.party, -1) + 1
                ax.bar(
                    ["long liquidations", "short liquidations"],
                    values,
                    bottom=bottom,
                    color=POPULATION_COLORS.get(row.party, color),
                    edgecolor="white",
                    hatch=("", "///", "...", "xxx")[nth % 4],
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
    edges = received.groupby(["account", "party"], as_index=False)["amount_micro_usdt"].sum()
    populations = dict(zip(attribution["account"], attribution["population"], strict=False))
    populations.update(zip(attribution["party"], attribution["party_population"], strict=False))
    weight = (
        pd.concat(
            [
                edges.groupby("account")["amount_micro_usdt"].sum(),
                edges.groupby("party")["amount_micro_usdt"].sum(),
            ]
        )
        .groupby(level=0)
        .sum()
    )
    keep = set(weight.sort_values(ascending=False).head(top).index)
    edges = edges[edges["account"].isin(keep) & edges["party"].isin(keep)]
    graph = nx.DiGraph()
    for row in edges.itertuples(index=False):
        graph.add_edge(int(row.account), int(row.party), weight=float(row.amount_micro_usdt) / 1e6)
    with styled():
        figure = new_figure(10, 8)
        ax = figure.add_subplot()
        ax.set_axis_off()
        if graph.number_of_nodes():
            # receivers (more money in than out) on the inner ring, liquidated payers outside,
            # each ring ordered by money so that the big nodes sit together and stay legible
            inflow = dict(graph.in_degree(weight="weight"))
            outflow = dict(graph.out_degree(weight="weight"))
            inner = sorted((n for n in graph if inflow[n] >= outflow[n]), key=lambda n: -inflow[n])
            outer = sorted((n for n in graph if inflow[n] < outflow[n]), key=lambda n: -outflow[n])
            layout = nx.shell_layout(graph, [inner, outer] if inner and outer else [list(graph)])
            widths = np.array([d["weight"] for *_, d in graph.edges(data=True)])
            sizes = np.array([weight.get(n, 0) for n in graph.nodes]) / 1e6
            node_size = 120 + 1400 * np.sqrt(sizes / max(sizes.max(), 1e-9))
            nx.draw_networkx_edges(
                graph,
                layout,
                ax=ax,
                width=0.4 + 6 * widths / widths.max(),
                alpha=0.45,
                arrows=True,
                arrowsize=8,
                edge_color="grey",
                node_size=node_size,
                connectionstyle="arc3,rad=0.06",
            )
            nx.draw_networkx_nodes(
                graph,
                layout,
                ax=ax,
                node_size=node_size,
                node_color=[POPULATION_COLORS.get(populations.get(n), "grey") for n in graph],
                edgecolors="white",
            )
            system = ("exchange", "insurance_fund", "backstop_vault")
            labels = {
                n: (populations[n].replace("_", " ") if populations.get(n) in system else f"{n}")
                + f"\n{compact(weight.get(n, 0) / 1e6)}"
                for n in graph
            }
            label_position = {n: (x * 1.13, y * 1.13) for n, (x, y) in layout.items()}
            nx.draw_networkx_labels(graph, label_position, labels=labels, ax=ax, font_size=7)
            ax.margins(0.08)
        for population in sorted({populations.get(n) for n in graph} - {None}):
            ax.scatter([], [], color=POPULATION_COLORS.get(population, "grey"), label=population)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.set_title(
            f"Liquidation network, top {top} accounts by money paid or received "
            f"({Path(run_dir).name})\narrows: liquidated account to receiver; inner ring "
            "receives, outer ring pays; labels: account, USDT paid or received",
            loc="left",
        )
    return save(figure, output_path(run_dir, out, "liquidation_network"))
