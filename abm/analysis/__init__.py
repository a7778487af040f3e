"""Metrics over model outputs, as plain functions over arrays and run tables: inequality and
concentration, stylized facts of returns, the order book and price gaps, funding, the economics
of market making and liquidations, and validation against bands from real data."""

from abm.analysis.economics import (
    accounts_of,
    adl_facts,
    liquidation_facts,
    maker_markouts,
    population_pnl,
)
from abm.analysis.funding import funding_facts, interest_per_interval
from abm.analysis.inequality import concentration, gini, hhi, top_share
from abm.analysis.microstructure import (
    book_facts,
    depth_stats,
    longest_run,
    one_sided,
    price_gaps,
    spread_stats,
)
from abm.analysis.prices import minute_grid, read_price_file
from abm.analysis.stylized import (
    acf_power_law_slope,
    autocorrelation,
    excess_kurtosis,
    hill_tail_index,
    log_returns,
    return_facts,
)

__all__ = [
    "accounts_of",
    "acf_power_law_slope",
    "adl_facts",
    "autocorrelation",
    "book_facts",
    "concentration",
    "depth_stats",
    "excess_kurtosis",
    "funding_facts",
    "gini",
    "hhi",
    "hill_tail_index",
    "interest_per_interval",
    "liquidation_facts",
    "log_returns",
    "longest_run",
    "maker_markouts",
    "minute_grid",
    "one_sided",
    "population_pnl",
    "price_gaps",
    "read_price_file",
    "return_facts",
    "spread_stats",
    "top_share",
]
