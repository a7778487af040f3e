"""The liquidation map over time: where open positions would be liquidated, as a heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.colors import LogNorm

from abm.figures._common import (
    FigureSkipped,
    compact,
    manifest_config,
    new_figure,
    output_path,
    read_parquet,
    save,
    styled,
    tick_seconds,
)


def liquidation_map_heatmap(run_dir: Path, out: Path | None = None) -> Path:
    """Liquidation prices of open positions over time, from ``liquidation_map.parquet``.

    x: time (hours), one column per snapshot, each holding until the next; y: liquidation price
    bins; colour: notional (USDT, log scale) of the positions liquidated there, longs in reds and
    shorts in blues; the mark price (``ticks.parquet``) drawn over it. Rows beyond the binned
    window (open-ended bins) and never-liquidated system positions are left out of the picture.
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
    with styled(), sns.axes_style("white"):
        figure = new_figure(12, 6.5)
        grid = figure.add_gridspec(1, 3, width_ratios=[40, 1, 1], wspace=0.12, left=0.08, right=0.9)
        ax = figure.add_subplot(grid[0, 0])
        bar_axes = {"long": figure.add_subplot(grid[0, 1]), "short": figure.add_subplot(grid[0, 2])}
        ax.set_facecolor("#fbfbfb")
        meshes = {}
        for side, cmap in (("long", "Reds"), ("short", "Blues")):
            meshes[side] = ax.pcolormesh(
                x_edges, y_edges, grids[side], cmap=cmap, norm=norm, shading="flat"
            )
        ax.plot(hours, mark, color="black", lw=0.9, label="mark price")
        span = mark.max() - mark.min()
        ax.set_ylim(
            max(y_edges[0], mark.min() * 0.9 - span * 0.1),
            min(y_edges[-1], mark.max() * 1.1 + span * 0.1),
        )
        ax.set_xlim(hours[0], hours[-1])
        ax.yaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}")
        ax.set_xlabel("time (hours)")
        ax.set_ylabel("liquidation price (USDT)")
        ax.legend(loc="upper right", frameon=True)
        for side, label in (("long", "longs"), ("short", "shorts")):
            bar = figure.colorbar(meshes[side], cax=bar_axes[side])
            bar.ax.yaxis.set_major_formatter(compact)
            bar.ax.set_title(label, fontsize=9)
            if side == "long":
                bar.ax.tick_params(labelleft=False, labelright=False)
            else:
                bar.set_label("notional liquidated at that price (USDT)")
        ax.set_title(
            f"Liquidation map: liquidation prices of open positions "
            f"({width:,.0f} USDT bins, a snapshot every {every * seconds / 60:g} min)",
            loc="left",
        )
        return save(figure, output_path(run_dir, out, "liquidation_map_heatmap"))
