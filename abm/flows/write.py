"""A run's flow outputs: the graph, the population flows, the attribution and the
where-the-money-goes table, written atomically into the run folder."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pyarrow as pa
import pyarrow.parquet as pq

from abm.files import write_atomic
from abm.flows.attribution import COLUMNS as ATTRIBUTION_COLUMNS
from abm.flows.attribution import attribute_liquidations, liquidation_losses
from abm.flows.graph import build_graph, flows_by_population, liquidation_graph
from abm.flows.io import read_run
from abm.flows.money import MICRO, liquidated_total, top_gainers, where_money_goes

_TEXT_COLUMNS = ("population", "side", "kind", "section", "part", "party_population")
ATTRIBUTION_SCHEMA = pa.schema(
    [(name, pa.string() if name in _TEXT_COLUMNS else pa.int64()) for name in ATTRIBUTION_COLUMNS]
)
"""``liquidation_attribution.parquet``: typed even with no rows (a run without liquidations)."""

FILES = (
    "flows.graphml",
    "flows_by_population.csv",
    "where_money_goes.csv",
    "liquidation_attribution.parquet",
)


def write_flows(
    run_dir: str | Path, *, value_per_tick_lot: int | None = None, gexf: bool = False
) -> dict:
    """Write a run's flow outputs into its folder and return a JSON-ready summary.

    Inputs: a run folder holding ``transfers``, ``accounts``, ``liquidations`` and ``fills``
    (Parquet) and ``manifest.json``; ``value_per_tick_lot`` overrides the one derived from the
    manifest's config; ``gexf`` also writes ``liquidations.gexf`` (the liquidation subgraph as a
    dynamic GEXF for Gephi, edges starting at their first tick; GEXF carries a date, so this
    file is not byte-identical across days).

    Writes ``flows.graphml`` (the account graph of :func:`build_graph`), ``flows_by_population.csv``
    (:func:`flows_by_population`), ``where_money_goes.csv`` (:func:`where_money_goes`) and
    ``liquidation_attribution.parquet`` (:func:`attribute_liquidations`).

    Output: ``{"files": [...], "liquidation_events": n, "liquidated_total": micro-units,
    "liquidated_total_usdt": float, "received": {party: share}, "paid": {party: share},
    "top_gainers": [{"account", "population", "gain_usdt"}, ...]}``.

    >>> write_flows("results/baseline-seed42-...")["liquidated_total_usdt"]  # doctest: +SKIP
    184446.398692
    """
    run = read_run(run_dir)
    k = run.value_per_tick_lot if value_per_tick_lot is None else value_per_tick_lot
    out = Path(run_dir)
    graph = build_graph(run.transfers, run.accounts)
    attribution = attribute_liquidations(
        run.transfers, run.liquidations, run.fills, run.accounts, value_per_tick_lot=k
    )
    table = where_money_goes(attribution)

    write_atomic(out / "flows.graphml", lambda tmp: nx.write_graphml(graph, tmp))
    write_atomic(
        out / "flows_by_population.csv",
        lambda tmp: flows_by_population(graph).to_csv(tmp, index=False),
    )
    write_atomic(out / "where_money_goes.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_atomic(
        out / "liquidation_attribution.parquet",
        lambda tmp: pq.write_table(
            pa.Table.from_pandas(
                attribution[list(ATTRIBUTION_COLUMNS)],
                schema=ATTRIBUTION_SCHEMA,
                preserve_index=False,
            ),
            tmp,
            compression="zstd",
        ),
    )
    files = list(FILES)
    if gexf:
        dynamic = liquidation_graph(attribution)
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
    events = len(liquidation_losses(attribution)) if not attribution.empty else 0
    gainers = top_gainers(attribution, 5)
    return {
        "files": files,
        "liquidation_events": events,
        "liquidated_total": total,
        "liquidated_total_usdt": total / MICRO,
        "received": shares["received"],
        "paid": shares["paid"],
        "top_gainers": [
            {"account": int(a), "population": str(p), "gain_usdt": float(g)}
            for a, p, g in gainers[["account", "population", "gain_usdt"]].itertuples(index=False)
        ],
    }
