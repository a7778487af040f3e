"""The money-flow network built from a run's transfer log: who profits from whose liquidations.

Plain functions over the run folder's tables (pandas DataFrames) and networkx graphs; the flow
layer reads files, never the model.

- :func:`read_run`: a run folder's tables and config;
- :func:`flow_edges`, :func:`build_graph`, :func:`population_graph`, :func:`net_inflow`,
  :func:`flows_by_population`: the money-flow network as an edge list, its account- and
  population-level graphs;
- :func:`attribute_liquidations`, :func:`liquidation_losses`, :func:`check_attribution`: every
  liquidation's loss split into who received it and who paid for it, to the micro-unit;
- :func:`where_money_goes`, :func:`liquidation_gains`, :func:`top_gainers`,
  :func:`liquidation_edges`, :func:`liquidation_graph`, :func:`liquidation_centrality`:
  summary measures;
- :func:`split_by`, :func:`traits`, :func:`format_split`: the attribution by kind of trader
  (leverage band, style, stop habit, margin mode, population, ...);
- :func:`base_rates`, :func:`exposure`, :func:`format_base_rates`: each group's share of the
  liquidated loss against its share of traders and of exposure;
- :func:`write_flows`: the run folder's flow outputs.
"""

from abm.flows.attribution import attribute_liquidations, check_attribution, liquidation_losses
from abm.flows.base_rates import base_rates, exposure, format_base_rates
from abm.flows.graph import (
    build_graph,
    flow_edges,
    flows_by_population,
    liquidation_centrality,
    liquidation_edges,
    liquidation_graph,
    net_inflow,
    population_graph,
)
from abm.flows.io import RunData, read_run, run_data, value_per_tick_lot
from abm.flows.money import (
    format_where_money_goes,
    liquidated_total,
    liquidation_gains,
    top_gainers,
    where_money_goes,
)
from abm.flows.traits import UnknownTraitError, format_split, split_by, trait_labels, traits
from abm.flows.write import write_flows

__all__ = [
    "RunData",
    "UnknownTraitError",
    "attribute_liquidations",
    "base_rates",
    "build_graph",
    "check_attribution",
    "exposure",
    "flow_edges",
    "flows_by_population",
    "format_base_rates",
    "format_split",
    "format_where_money_goes",
    "liquidated_total",
    "liquidation_centrality",
    "liquidation_edges",
    "liquidation_gains",
    "liquidation_graph",
    "liquidation_losses",
    "net_inflow",
    "population_graph",
    "read_run",
    "run_data",
    "split_by",
    "top_gainers",
    "trait_labels",
    "traits",
    "value_per_tick_lot",
    "where_money_goes",
    "write_flows",
]
