"""Figures, one function per figure; each reads a run folder's files (never runs a model) and
writes a PNG, by default into ``RUN_DIR/figures/``. Each has a ``draw_`` twin returning the
``matplotlib.figure.Figure`` instead (for notebooks and tests)."""

from __future__ import annotations

from pathlib import Path

from abm.figures._common import FigureSkipped
from abm.figures.flows import (
    draw_liquidation_network,
    draw_population_flow_heatmap,
    draw_where_money_goes_bar,
    liquidation_network,
    population_flow_heatmap,
    where_money_goes_bar,
)
from abm.figures.liquidation_map import draw_liquidation_map_heatmap, liquidation_map_heatmap
from abm.figures.market import draw_market_overview, market_overview

FIGURES = (
    market_overview,
    liquidation_map_heatmap,
    population_flow_heatmap,
    where_money_goes_bar,
    liquidation_network,
)


def make_figures(run_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """Every figure the run folder's files allow: the PNGs made, and why the others were not."""
    made, skipped = [], {}
    for figure in FIGURES:
        try:
            made.append(figure(Path(run_dir)))
        except FigureSkipped as reason:
            skipped[figure.__name__] = str(reason)
    return made, skipped


__all__ = [
    "FIGURES",
    "FigureSkipped",
    "draw_liquidation_map_heatmap",
    "draw_liquidation_network",
    "draw_market_overview",
    "draw_population_flow_heatmap",
    "draw_where_money_goes_bar",
    "liquidation_map_heatmap",
    "liquidation_network",
    "make_figures",
    "market_overview",
    "population_flow_heatmap",
    "where_money_goes_bar",
]
