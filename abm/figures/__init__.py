"""Figures, one function per figure; each reads a run folder's files (never runs a model) and
writes a PNG, by default into ``RUN_DIR/figures/``; :func:`make_figures` writes them all, in
PNG, PDF or SVG at a chosen resolution (``abm figures RUN --format png,pdf,svg --dpi 300``). Each has a ``draw_`` twin returning the
``matplotlib.figure.Figure`` instead (for notebooks and tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from abm.figures._common import DPI, FORMATS, FigureSkipped, save
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
from abm.files import remove_temporary_files

FIGURES = (
    market_overview,
    liquidation_map_heatmap,
    population_flow_heatmap,
    where_money_goes_bar,
    liquidation_network,
)


DRAWINGS = {
    "market_overview": draw_market_overview,
    "liquidation_map_heatmap": draw_liquidation_map_heatmap,
    "population_flow_heatmap": draw_population_flow_heatmap,
    "where_money_goes_bar": draw_where_money_goes_bar,
    "liquidation_network": draw_liquidation_network,
}
"""Each figure's name (its file's stem) and its ``draw_`` function, in FIGURES' order."""


def make_figures(
    run_dir: Path, formats: Sequence[str] = ("png",), dpi: int = DPI, out: Path | None = None
) -> tuple[list[Path], dict[str, str]]:
    """Every figure the run folder's files allow, each drawn once and written in each of
    ``formats`` (png, pdf, svg) at ``dpi`` (raster output) into ``out`` (default
    ``run_dir/figures``): the files made, and why the other figures were not. Temporary files
    a killed earlier call left in the folder are removed first. ValueError
    naming an unknown format or a dpi out of 50-1200."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"--format {','.join(formats)}: allowed: {', '.join(FORMATS)} (comma-separated)"
        )
    if not 50 <= dpi <= 1200:
        raise ValueError(f"--dpi {dpi}: allowed: 50 to 1200")
    folder = Path(out) if out is not None else Path(run_dir) / "figures"
    if folder.is_dir():
        remove_temporary_files(folder)  # what a killed earlier call left half-written
    made, skipped = [], {}
    for name, draw in DRAWINGS.items():
        try:
            figure = draw(Path(run_dir))
        except FigureSkipped as reason:
            skipped[name] = str(reason)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        made += [save(figure, folder / f"{name}.{fmt}", run_dir, dpi) for fmt in formats]
    return made, skipped


__all__ = [
    "DRAWINGS",
    "FIGURES",
    "FORMATS",
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
