"""A run's flow outputs: the edge lists of the money-flow and liquidation networks, the
attribution, the population flows and the where-the-money-goes table, written atomically into
the run folder; GraphML and GEXF graphs on request."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from abm import outputs
from abm.files import remove_temporary_files, write_atomic
from abm.flows.attribution import attribute_liquidations
from abm.flows.graph import (
    build_graph,
    flow_edges,
    flows_by_population,
    liquidation_edges,
    liquidation_graph,
)
from abm.flows.io import RunData, read_run
from abm.flows.money import MICRO, liquidated_total, top_gainers, where_money_goes

FILES = (
    "flow_edges.parquet",
    "liquidation_edges.parquet",
    "liquidation_attribution.parquet",
    "flows_by_population.csv",
    "where_money_goes.csv",
)
"""What every run writes; ``flows.graphml`` and ``liquidations.gexf`` only on request."""

NOTES = {
    "liquidation_events": "events in liquidation_attribution.parquet: every liquidation (a "
    "partial liquidation of the same account later is an event of its own) and every deficit "
    "resolution (a position closed below zero in an ordinary trade, covered afterwards). "
    "summary.liquidations.count leaves the deficit resolutions out, so this number is "
    "liquidations.count + liquidations.deficit_resolutions.",
    "liquidated_total": "the money the liquidated accounts lost in their events: each one's "
    "net outflow to its link partners, the clearance fee, the insurance surplus (and trading "
    "fees of a deficit resolution). It is not summary.liquidations.notional, the size of the "
    "positions closed.",
    "received": "share of the liquidated total by receiver: link partners by population, the "
    "insurance fund (clearance fees, surplus) and the exchange by name. The shares sum to 1; a "
    "negative share is money a population paid to liquidated accounts on balance (its own "
    "side of a link settled against them).",
    "paid": "share of the liquidated total by payer: the liquidated accounts' own collateral, "
    "then the backstops (insurance payouts, the backstop vault, socialized losses, the exchange "
    "absorbing, debt left with traders). The shares sum to 1; a negative own collateral is an "
    "account whose balance rose in its liquidation.",
    "top_gainers": "the trader accounts that received most from liquidated accounts, net over "
    "events, in USDT; system accounts are left out (they have their rows in received).",
}
"""What each number of :func:`write_flows`'s summary means (``summary.json``'s
``flows.notes``)."""


def write_table(path: Path, output: outputs.Output, frame, clock: outputs.Clock) -> None:
    """Write a DataFrame as ``output``'s Parquet file, with its declared schema and times."""
    table = outputs.build(output, outputs.frame_columns(frame), clock)
    write_atomic(path, lambda tmp: outputs.write_parquet(table, tmp))


def write_flows(
    run_dir: str | Path,
    *,
    value_per_tick_lot: int | None = None,
    graphml: bool = False,
    gexf: bool = False,
    run: RunData | None = None,
) -> dict:
    """Write a run's flow outputs into its folder and return a JSON-ready summary.

    Inputs: a run folder holding ``transfers``, ``accounts``, ``liquidations`` and ``fills``
    (Parquet) and ``manifest.json``, or ``run``, those tables already in memory (the run itself
    hands them over, so that nothing is read back); ``value_per_tick_lot`` overrides the one
    derived from the config; ``graphml`` also writes ``flows.graphml`` (the account graph of
    :func:`build_graph`); ``gexf`` also writes ``liquidations.gexf`` (the liquidation network
    as a dynamic GEXF for Gephi, edges starting at their first tick; GEXF carries a date, so
    this file is not byte-identical across days).

    Always writes ``flow_edges.parquet`` (:func:`flow_edges`), ``liquidation_edges.parquet``
    (:func:`liquidation_edges`), ``liquidation_attribution.parquet``
    (:func:`attribute_liquidations`), ``flows_by_population.csv`` (:func:`flows_by_population`)
    and ``where_money_goes.csv`` (:func:`where_money_goes`). The transfer log is aggregated
    once, into the edge list; every graph is built from an edge list.

    Output: ``{"files": [...], "liquidation_events": n, "liquidated_total_micro_usdt": int,
    "liquidated_total_usdt": float, "received": {party: share}, "paid": {party: share},
    "top_gainers": [{"account", "population", "gain_usdt"}, ...], "notes": {key: meaning}}``.

    >>> write_flows("results/baseline-seed42-...")["liquidated_total_usdt"]  # doctest: +SKIP
    184446.398692
    """
    out = Path(run_dir)
    remove_temporary_files(out)  # what a killed earlier write left half-written
    run = read_run(run_dir) if run is None else run
    k = run.value_per_tick_lot if value_per_tick_lot is None else value_per_tick_lot
    clock = run.clock
    edges = flow_edges(run.transfers)
    attribution = attribute_liquidations(
        run.transfers, run.liquidations, run.fills, run.accounts, value_per_tick_lot=k
    )
    table = where_money_goes(attribution)
    liquidations = liquidation_edges(attribution)

    write_table(out / "flow_edges.parquet", outputs.FLOW_EDGES, edges, clock)
    write_table(out / "liquidation_edges.parquet", outputs.LIQUIDATION_EDGES, liquidations, clock)
    write_table(
        out / "liquidation_attribution.parquet",
        outputs.LIQUIDATION_ATTRIBUTION,
        attribution,
        clock,
    )
    populations = flows_by_population(edges, run.accounts)
    write_atomic(out / "flows_by_population.csv", lambda tmp: populations.to_csv(tmp, index=False))
    write_atomic(out / "where_money_goes.csv", lambda tmp: table.to_csv(tmp, index=False))
    files = list(FILES)
    if graphml:
        graph = build_graph(edges, run.accounts)
        write_atomic(out / "flows.graphml", lambda tmp: nx.write_graphml(graph, tmp))
        files.append("flows.graphml")
    if gexf:
        dynamic = liquidation_graph(liquidations)
        dynamic.graph["mode"] = "dynamic"
        for _, _, data in dynamic.edges(data=True):
            data["start"] = data["first_tick"]
        write_atomic(out / "liquidations.gexf", lambda tmp: nx.write_gexf(dynamic, tmp))
        files.append("liquidations.gexf")

    total = liquidated_total(attribution)
    shares = {}
    for section in ("received", "paid"):
        rows = table[table["section"] == section]
        shares[section] = {
            str(p): float(s) for p, s in rows.groupby("party", sort=True)["share"].sum().items()
        }
    events = int(attribution["event_id"].nunique())
    gainers = top_gainers(attribution, 5)
    return {
        "files": files,
        "liquidation_events": events,
        "liquidated_total_micro_usdt": total,
        "liquidated_total_usdt": total / MICRO,
        "received": shares["received"],
        "paid": shares["paid"],
        "top_gainers": [
            {"account": int(a), "population": str(p), "gain_usdt": float(g)}
            for a, p, g in gainers[["account", "population", "gain_usdt"]].itertuples(index=False)
        ],
        "notes": NOTES,
    }
