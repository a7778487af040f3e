"""The liquidation map over time: where open positions would be liquidated, as a heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from abm.figures._common import (
    LONG_CMAP,
    PAGE_WIDTH,
    SHORT_CMAP,
    FigureSkipped,
    compact,
    journal_styled,
    manifest_config,
    new_figure,
    output_path,
    read_parquet,
    save,
    tick_seconds,
)


def liquidation_map_heatmap(run_dir: Path, out: Path | None = None) -> Path:
    """The liquidation map over time (:func:`draw_liquidation_map_heatmap`) as a PNG written to
    ``out`` or ``run_dir/figures``; returns its path."""
    return save(
        draw_liquidation_map_heatmap(run_dir),
        output_path(run_dir, out, "liquidation_map_heatmap"),
        run_dir,
    )


@journal_styled()
def draw_liquidation_map_heatmap(run_dir: Path) -> Figure:
    """Liquidation prices of open positions over time, from ``liquidation_map.parquet``, page
    width.

    x: time (hours), one column per snapshot, each holding until the next; y: liquidation price
    bins; colour: notional (USDT, log scale, one scale for both sides) of the positions
    liquidated there, longs in oranges and shorts in blues, each side with its labelled colour
    bar; the mark price (``ticks.parquet``) drawn over it. Rows beyond the binned window
    (open-ended bins) and never-liquidated system positions are left out of the picture.
    """
    table = read_parquet(run_dir, "liquidation_map.parquet")
    ticks = read_parquet(run_dir, "ticks.parquet", ["tick", "elapsed_s", "mark_usdt"])
    seconds = tick_seconds(run_dir)
    binned = table[
        table["price_bin_low_usdt"].notna()
        & (table["price_bin_low_usdt"] > 0)
        & np.isfinite(table["price_bin_high_usdt"])
    ]
    if binned.empty:
        raise FigureSkipped("liquidation_map.parquet has no binned liquidation prices")

    snapshots = np.unique(table["tick"].to_numpy())
    every = manifest_config(run_dir).get("run", {}).get("liquidation_map_every_ticks")
    if every is None:
        every = int(np.median(np.diff(snapshots))) if len(snapshots) > 1 else 1
    x_edges = np.append(snapshots, snapshots[-1] + every) * seconds / 3_600

    width = float(np.median(binned["price_bin_high_usdt"] - binned["price_bin_low_usdt"]))
    origin = float(binned["price_bin_low_usdt"].min())
    middle = (binned["price_bin_low_usdt"] + binned["price_bin_high_usdt"]) / 2
    row = np.floor((middle.to_numpy() - origin) / width).astype(np.int64)
    column = np.searchsorted(snapshots, binned["tick"].to_numpy())
    n_rows = int(row.max()) + 1
    y_edges = origin + width * np.arange(n_rows + 1)

    grids = {}
    for side in ("long", "short"):
        mine = (binned["side"] == side).to_numpy()
        grid = np.zeros((n_rows, len(snapshots)))
        np.add.at(grid, (row[mine], column[mine]), binned["notional_usdt"].to_numpy()[mine])
        grids[side] = np.ma.masked_less_equal(grid, 0)
    top = max(float(g.max()) if g.count() else 0.0 for g in grids.values())
    norm = LogNorm(vmin=max(top / 1e3, 1.0), vmax=max(top, 10.0))

    hours = ticks["elapsed_s"].to_numpy(float) / 3_600
    mark = ticks["mark_usdt"].to_numpy(float)
    with sns.axes_style("white"):
        figure = new_figure(PAGE_WIDTH, 3.8, layout="constrained")
        grid = figure.add_gridspec(2, 2, width_ratios=[40, 1])
        ax = figure.add_subplot(grid[:, 0])
        bar_axes = {"short": figure.add_subplot(grid[0, 1]), "long": figure.add_subplot(grid[1, 1])}
    ax.set_facecolor("#fbfbfb")
    meshes = {}
    for side, cmap in (("long", LONG_CMAP), ("short", SHORT_CMAP)):
        meshes[side] = ax.pcolormesh(
            x_edges, y_edges, grids[side], cmap=cmap, norm=norm, shading="flat"
        )
    ax.plot(hours, mark, color="black", lw=0.8, label="mark price")
    span = mark.max() - mark.min()
    ax.set_ylim(
        max(y_edges[0], mark.min() * 0.9 - span * 0.1),
        min(y_edges[-1], mark.max() * 1.1 + span * 0.1),
    )
    ax.set_xlim(hours[0], hours[-1])
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
    ax.set_xlabel(f"time (hours; a snapshot every {every * seconds / 60:g} min)")
    ax.set_ylabel(f"liquidation price (USDT; {width:,.0f} USDT bins)")
    ax.legend(loc="upper right", frameon=True)
    for side, label in (("short", "shorts"), ("long", "longs")):
        bar = figure.colorbar(meshes[side], cax=bar_axes[side], format=compact)
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
        bar.ax.set_title(label, fontsize=7, loc="left")
        bar.set_label("notional (USDT)")
    ax.set_title("Liquidation map: where open positions would be liquidated", loc="left")
    return figure
