"""Shared plumbing of the figures: reading a run folder, styling, saving.

Figures are drawn on ``matplotlib.figure.Figure`` objects rendered by the Agg canvas, never through
``pyplot``: nothing here changes the global backend or leaves figures open, so the functions are
safe in notebooks, tests and worker processes alike. Seaborn styling is applied through its
context managers (``styled``, ``journal_styled``), not ``set_theme``, for the same reason.

A run folder's figures follow a journal's rules: a width of ``COLUMN_WIDTH`` (3.5 in) for a
simple figure or ``PAGE_WIDTH`` (7 in) for a multi-panel one, kept exactly in the PNG (constrained
layout, no tight cropping); 7-9 pt text (``journal_styled``); colour-blind-safe colours (seaborn's
``colorblind`` palette, viridis-type colour maps); neutral titles, the run folder being recorded in
the PNG's ``Source`` metadata instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from abm import config

MICRO = 1_000_000
"""Micro-units per USDT: transfer amounts are integers of micro-units."""

POPULATIONS = (*config.POPULATIONS, *config.SYSTEM_POPULATIONS.values())
"""Every population of ``accounts.parquet``, traders first, in the order the figures use."""

_PALETTE = sns.color_palette("colorblind", 10)
POPULATION_COLORS = {
    "retail": _PALETTE[0],
    "whale": _PALETTE[4],
    "market_maker": _PALETTE[2],
    "arbitrageur": _PALETTE[1],
    "fundamental": _PALETTE[3],
    "exchange": _PALETTE[7],
    "insurance_fund": _PALETTE[5],
    "backstop_vault": _PALETTE[9],
    "external": _PALETTE[6],
}
"""A colour per population from seaborn's colour-blind-safe palette (its yellow, faint on white,
left out)."""
LONG_COLOR = _PALETTE[3]
SHORT_COLOR = _PALETTE[0]
LONG_CMAP = "Oranges"
SHORT_CMAP = "Blues"
"""Longs in vermilion and oranges, shorts in blue: the pair colour-blind readers tell apart."""
DPI = 150
PAGE_WIDTH = 7.0
COLUMN_WIDTH = 3.5
"""A journal's figure widths (in): a page for multi-panel figures, a column for simple ones."""
JOURNAL_RC = {
    "font.size": 8.0,
    "axes.labelsize": 8.0,
    "axes.titlesize": 9.0,
    "figure.titlesize": 9.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.title_fontsize": 7.0,
}


class FigureSkipped(Exception):
    """A figure cannot be made from this run folder; the message says why."""


@contextmanager
def styled() -> Iterator[None]:
    """Seaborn's whitegrid style and paper context, for the figures drawn inside the block."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.15):
        yield


@contextmanager
def journal_styled() -> Iterator[None]:
    """Seaborn's whitegrid style and paper context at a journal's text sizes (``JOURNAL_RC``:
    7-9 pt), for the run figures drawn inside the block; as a decorator (``@journal_styled()``),
    for the figures the function draws."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"), mpl.rc_context(JOURNAL_RC):
        yield


def new_figure(width: float, height: float, **kwargs) -> Figure:
    """A figure on an Agg canvas (no pyplot)."""
    figure = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(figure)
    return figure


def output_path(run_dir: Path, out: Path | None, name: str) -> Path:
    """``out`` if it names a file; ``out/name.png`` if it is a folder; else ``run_dir/figures``."""
    if out is None:
        path = Path(run_dir) / "figures" / f"{name}.png"
    else:
        out = Path(out)
        path = out / f"{name}.png" if out.is_dir() or not out.suffix else out
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


FORMATS = ("png", "pdf", "svg")
"""The file formats a figure is written in (``abm figures --format``)."""


def metadata(path: Path, run_dir: Path) -> dict[str, str | None]:
    """The file's metadata: the run folder's name (in the key each format allows) and no date,
    so that the same run gives the same bytes."""
    source = Path(run_dir).name
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return {"Subject": f"abm run {source}", "CreationDate": None}
    if suffix == ".svg":
        return {"Description": f"abm run {source}", "Date": None}
    return {"Source": source}


def save(figure: Figure, path: Path, run_dir: Path, dpi: int = DPI) -> Path:
    """Write ``figure`` to ``path`` (its format from the suffix: png, pdf or svg) at its own
    size (no tight cropping, so the width stays a journal's) and ``dpi`` for raster output,
    with the run folder's name in its metadata; atomically (a temporary file renamed), so that
    a killed command leaves no truncated figure. Returns ``path``."""
    from abm.files import write_atomic

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".") or "png"

    def write(tmp: Path) -> None:
        figure.savefig(
            tmp, format=fmt, dpi=dpi, facecolor="white", metadata=metadata(path, run_dir)
        )

    write_atomic(path, write)
    return path


def require(run_dir: Path, name: str) -> Path:
    """The path of a run file, or FigureSkipped naming the missing file."""
    path = Path(run_dir) / name
    if not path.is_file():
        raise FigureSkipped(f"{name} is not in {run_dir}")
    return path


def read_parquet(run_dir: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(require(run_dir, name), columns=columns)


def manifest_config(run_dir: Path) -> dict:
    """The resolved config of the run's manifest, or {} if there is none."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("config", {})


def tick_seconds(run_dir: Path) -> float:
    return float(manifest_config(run_dir).get("run", {}).get("tick_seconds", 1.0))


def populations(run_dir: Path) -> pd.Series:
    """Population of each account id, from ``accounts.parquet``."""
    accounts = read_parquet(run_dir, "accounts.parquet", ["account", "population"])
    return accounts.set_index("account")["population"].astype(str)


def population_label(population: str) -> str:
    """A population as the figures print it: 'market_maker' -> 'market maker'."""
    return str(population).replace("_", " ")


def compact(value: float, _pos: object = None) -> str:
    """Three significant digits: 1234567 -> '1.23M', 45300 -> '45.3k', -2500 -> '-2.5k'."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{sign}{value / limit:.3g}{suffix}"
    return f"{sign}{value:.0f}" if value >= 10 else f"{sign}{value:.2g}"


COMPACT = FuncFormatter(compact)


def pick_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is one of ``names`` (in their order), else the
    first one containing one of them, else None."""
    lowered = {c.lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    for name in names:
        for low, column in lowered.items():
            if name in low:
                return column
    return None


def to_usdt(frame: pd.DataFrame, column: str) -> tuple[pd.Series, str]:
    """A money column in USDT and a note on how it was read: a name with 'micro' or an integer
    column without 'usdt' in its name is micro-units (the project's convention), else USDT."""
    values = frame[column]
    name = column.lower()
    micro = "micro" in name or ("usdt" not in name and pd.api.types.is_integer_dtype(values))
    if micro:
        return values.astype(float) / MICRO, f"{column} (micro-units)"
    return values.astype(float), f"{column} (USDT)"
