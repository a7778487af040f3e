"""The money-flow network built from a run's transfer log: who profits from whose liquidations.

Plain functions over the run folder's tables (pandas DataFrames) and networkx graphs; the flow
layer reads files, never the model.

- :func:`read_run`: a run folder's tables and config;
- :func:`build_graph`, :func:`population_graph`, :func:`net_inflow`,
  :func:`flows_by_population`: the account- and population-level flow graphs;
- :func:`attribute_liquidations`, :func:`liquidation_losses`, :func:`check_attribution`: every
  liquidation's loss split into who received it and who paid for it, to the micro-unit;
- :func:`where_money_goes`, :func:`liquidation_gains`, :func:`top_gainers`,
  :func:`liquidation_graph`, :func:`liquidation_centrality`: summary measures;
- :func:`write_flows`: the run folder's flow outputs.
"""

from abm.flows.attribution import attribute_liquidations, check_attribution, liquidation_losses
from abm.flows.graph import (
    build_graph,
    flows_by_population,
    liquidation_centrality,
    liquidation_graph,
    net_inflow,
    population_graph,
)
from abm.flows.io import RunData, read_run, value_per_tick_lot
from abm.flows.money import (
    format_where_money_goes,
    liquidated_total,
    liquidation_gains,
    top_gainers,
    where_money_goes,
)
from abm.flows.write import write_flows

__all__ = [
    "RunData",
    "attribute_liquidations",
    "build_graph",
    "check_attribution",
    "flows_by_population",
    "format_where_money_goes",
    "liquidated_total",
    "liquidation_centrality",
    "liquidation_gains",
    "liquidation_graph",
    "liquidation_losses",
    "net_inflow",
    "population_graph",
    "read_run",
    "top_gainers",
    "value_per_tick_lot",
    "where_money_goes",
    "write_flows",
]
