"""The paper's figures, drawn from sweep summaries (:func:`abm.experiments.compare.summarize_sweep`)
at a journal's widths (3.5 in for a column, 7 in for a page): neutral titles, units on every axis,
95% intervals over replications, the colour-blind palette, a legend for every encoding. Each
figure is written as SVG (what Typst embeds), PDF and PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from abm.figures._common import DPI, compact, new_figure, styled
from abm.figures.sweep import PALETTE, draw_response, metric_label

COLUMN_IN = 3.5
PAGE_IN = 7.0
FORMATS = ("svg", "pdf", "png")


def save_figure(figure, folder: Path, name: str) -> list[Path]:
    """``folder/name.{svg,pdf,png}``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in FORMATS:
        path = folder / f"{name}.{suffix}"
        metadata = {"Date": None} if suffix in ("svg", "pdf") else {}
        figure.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white", metadata=metadata)
        paths.append(path)
    return paths


def _rows(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    return summary[summary["metric"] == metric]


def response_panels(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    key: str,
    folder: Path,
    name: str,
    *,
    by: str | None = None,
    xlabel: str | None = None,
    labels: Mapping[str, str] | None = None,
    from_zero: Sequence[str] = (),
) -> list[Path]:
    """Small multiples at page width: each of ``metrics`` against ``key``, mean and 95%
    interval band over replications, one line per value of ``by`` (a legend when there are
    several). ``labels`` renames the metrics' axis labels; the axes of ``from_zero`` metrics
    start at zero, so that a small change of a large level (an insurance fund) looks small."""
    metrics = [m for m in metrics if len(_rows(summary, m))]
    cols = 3 if len(metrics) > 4 else 2
    n_rows = max(1, -(-len(metrics) // cols))
    with styled():
        figure = new_figure(PAGE_IN, 2.0 * n_rows)
        axes = np.atleast_1d(figure.subplots(n_rows, cols, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            rows = _rows(summary, metric)
            groups = list(rows.groupby(by, sort=True)) if by else [(None, rows)]
            for i, (group, part) in enumerate(groups):
                label = None if group is None else str(group)
                dodge = 0.12 * (i - (len(groups) - 1) / 2)
                draw_response(
                    ax, part, key, "mean", "ci_low", "ci_high", PALETTE[i], label, dodge=dodge
                )
            ax.set_xlabel(xlabel or key, fontsize=7)
            ax.set_ylabel((labels or {}).get(metric, metric_label(metric)), fontsize=7)
            ax.yaxis.set_major_formatter(compact)
            ax.tick_params(labelsize=7)
            if metric in from_zero and (rows["ci_low"].astype(float).fillna(0) >= 0).all():
                ax.set_ylim(0, max(ax.get_ylim()[1], 1e-9))
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        if by:
            handles, names = axes[0].get_legend_handles_labels()
            figure.legend(
                handles,
                names,
                title=by,
                loc="upper center",
                ncol=len(names),
                frameon=False,
                fontsize=7,
                title_fontsize=7,
                bbox_to_anchor=(0.5, 1.04),
            )
        figure.tight_layout()
        return save_figure(figure, folder, name)


def interval_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    folder: Path,
    name: str,
    *,
    group: str | None = None,
    labels: Mapping[str, str] | None = None,
    xlabel: str,
    width: float = COLUMN_IN,
    order: Sequence[str] | None = None,
) -> list[Path]:
    """Horizontal bars, one per metric (labelled by ``labels``), of the mean over replications
    with its 95% interval as an error bar; with ``group`` (a key column such as ``point``), one
    bar per group value side by side, in ``order``, with a legend."""
    metrics = [m for m in metrics if len(_rows(summary, m))]
    rows = summary[summary["metric"].isin(metrics)]
    groups = [None] if group is None else list(order or sorted(rows[group].astype(str).unique()))
    height = 0.8 / len(groups)
    with styled():
        figure = new_figure(width, 0.6 + 0.2 * len(metrics) * max(1, len(groups) / 2))
        ax = figure.subplots()
        for g, value in enumerate(groups):
            part = rows if value is None else rows[rows[group].astype(str) == value]
            part = part.set_index("metric").reindex(metrics)
            y = np.arange(len(metrics)) + (g - (len(groups) - 1) / 2) * height
            mean = part["mean"].to_numpy(dtype=float)
            err = np.vstack(
                [
                    mean - part["ci_low"].to_numpy(dtype=float),
                    part["ci_high"].to_numpy(dtype=float) - mean,
                ]
            )
            ax.barh(
                y,
                mean,
                height=height * 0.9,
                color=PALETTE[g % len(PALETTE)],
                label=value,
                xerr=np.nan_to_num(err),
                error_kw={"lw": 0.8, "capsize": 1.5},
            )
        ax.set_yticks(
            np.arange(len(metrics)), [(labels or {}).get(m, m) for m in metrics], fontsize=7
        )
        ax.invert_yaxis()
        ax.axvline(0, color="0.3", lw=0.6)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.xaxis.set_major_formatter(compact)
        ax.tick_params(labelsize=7)
        if group is not None:
            ax.legend(fontsize=6, frameon=False, loc="best")
        figure.tight_layout()
        return save_figure(figure, folder, name)


def sensitivity_heatmap(
    table: pd.DataFrame,
    folder: Path,
    name: str,
    *,
    value: str,
    outputs: Mapping[str, str],
    parameters: Mapping[str, str],
    label: str,
    width: float = PAGE_IN,
) -> list[Path]:
    """A grid of sensitivity indices: one row per parameter (labelled by ``parameters``), one
    column per output (``outputs``), each cell ``value`` (e.g. ``mu_star_norm`` or ``ST``)
    shaded and written in it; outputs the table does not analyse are left out."""
    shown = [o for o in outputs if o in set(table["output"]) and value in table]
    grid = (
        table[table["output"].isin(shown)]
        .pivot_table(index="parameter", columns="output", values=value)
        .reindex(index=list(parameters), columns=shown)
    )
    with styled():
        figure = new_figure(width, 0.8 + 0.22 * len(grid))
        ax = figure.subplots()
        data = grid.to_numpy(dtype=float)
        image = ax.imshow(data, aspect="auto", cmap="Blues", vmin=0)
        ax.grid(False)
        top = np.nanmax(data) if np.isfinite(data).any() else 1.0
        for (i, j), cell in np.ndenumerate(data):
            if np.isfinite(cell):
                shade = "white" if cell > 0.6 * top else "black"
                ax.text(j, i, f"{cell:.2f}", ha="center", va="center", fontsize=6, color=shade)
        ax.set_xticks(range(len(shown)), [outputs[o] for o in shown], rotation=30, ha="right")
        ax.set_yticks(range(len(grid)), [parameters[p] for p in grid.index])
        figure.colorbar(image, ax=ax, label=label, shrink=0.8)
        return save_figure(figure, folder, name)
