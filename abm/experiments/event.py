"""A real crash replayed from its news alone, against what really happened (issue 23).

An event file (``configs/events/<name>.yaml``) names a scenario config (the market's
proportions and the information shocks: news and spot selling, nothing scripted into the perp),
how many seeds to run, and the real figures to compare, each with its source::

    scenario: ../scenarios/may19_2021.yaml
    seeds: 10
    real:
      - {measure: last_drawdown_pct, value: 34.2, source: "Binance BTCUSDT perpetual klines"}

``abm event NAME`` runs the scenario once per seed and prints, per measure, the model's mean
and range over seeds beside the real figure. The measures (:data:`MEASURES`) read a run's ticks
and liquidations; any documented crash is replayed the same way by writing its two files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from abm.config import (
    EVENT_FOLDER,
    ConfigError,
    StrictModel,
    configs_dir,
    describe_errors,
    read_yaml,
)


def _low(ticks: pd.DataFrame, column: str) -> int:
    return int(np.nanargmin(ticks[column].to_numpy(dtype=float)))


def _drawdown_pct(ticks: pd.DataFrame, column: str) -> float:
    prices = ticks[column].ffill().to_numpy(dtype=float)
    prices = prices[~np.isnan(prices)]
    return float(np.max(1 - prices / np.maximum.accumulate(prices))) * 100


def _low_hour(ticks: pd.DataFrame) -> float:
    """Hours after the run's start of the last price's low (the UTC hour of day for a run that
    starts at midnight)."""
    return float(ticks["elapsed_s"].iloc[_low(ticks, "last_usdt")]) / 3_600


def _basis_at_low_bps(ticks: pd.DataFrame) -> float:
    i = _low(ticks, "last_usdt")
    return (float(ticks["last_usdt"].iloc[i]) / float(ticks["index_usdt"].iloc[i]) - 1) * 10_000


def _liquidated_share_pct(ticks: pd.DataFrame) -> float:
    liquidated = np.nansum(ticks["liquidated_notional_long_usdt"]) + np.nansum(
        ticks["liquidated_notional_short_usdt"]
    )
    morning = float(ticks["open_interest_long_btc"].iloc[0] * ticks["mark_usdt"].iloc[0])
    if morning <= 0:  # the first tick has no positions yet: the first hour's largest
        hour = ticks["elapsed_s"] <= 3_600
        morning = float((ticks["open_interest_long_btc"] * ticks["mark_usdt"])[hour].max())
    return float(liquidated) / morning * 100 if morning > 0 else float("nan")


def _long_share_pct(ticks: pd.DataFrame) -> float:
    long = np.nansum(ticks["liquidated_notional_long_usdt"])
    total = long + np.nansum(ticks["liquidated_notional_short_usdt"])
    return float(long / total) * 100 if total > 0 else float("nan")


def _oi_change_pct(ticks: pd.DataFrame) -> float:
    """Open interest (BTC) at the end against its level before the crash's first hour of
    trading settled: the largest of the run's first hour."""
    oi = ticks["open_interest_long_btc"].to_numpy(dtype=float)
    hour = ticks["elapsed_s"].to_numpy(dtype=float) <= 3_600
    morning = float(np.max(oi[hour]))
    return (float(oi[-1]) / morning - 1) * 100 if morning > 0 else float("nan")


MEASURES: dict[str, tuple[str, Callable[[pd.DataFrame], float]]] = {
    "last_drawdown_pct": (
        "the perp's fall, last price, peak to low (%)",
        lambda t: _drawdown_pct(t, "last_usdt"),
    ),
    "mark_drawdown_pct": (
        "the perp's fall, mark price, peak to low (%)",
        lambda t: _drawdown_pct(t, "mark_usdt"),
    ),
    "information_drawdown_pct": (
        "the information's fall (the input, for reference) (%)",
        lambda t: _drawdown_pct(t, "fundamental_usdt"),
    ),
    "low_hour_utc": (
        "hours from the start (UTC midnight) to the last price's low",
        _low_hour,
    ),
    "basis_at_low_bps": ("last price vs the index at the low (bps)", _basis_at_low_bps),
    "liquidated_share_of_oi_pct": (
        "liquidated notional over the morning's open interest (%)",
        _liquidated_share_pct,
    ),
    "long_share_pct": ("longs' share of liquidated notional (%)", _long_share_pct),
    "oi_change_pct": ("open interest at the end vs the morning (%)", _oi_change_pct),
}
"""What an event compares: name -> (label, function of a run's ticks table)."""


class RealFigure(StrictModel):
    """A real figure of the event and where it comes from."""

    measure: str = Field(description="one of abm.experiments.event.MEASURES")
    value: float = Field(description="the real value, in the measure's unit")
    source: str = Field(min_length=1, description="where the value comes from")

    @field_validator("measure")
    @classmethod
    def _known(cls, measure: str) -> str:
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}; allowed: {', '.join(MEASURES)}")
        return measure


class EventFile(StrictModel):
    """An event: its scenario, how many seeds, the real figures."""

    scenario: str = Field(min_length=1, description="the scenario config, beside this file")
    seeds: int = Field(default=10, ge=1, le=1_000, description="runs, seeds 1 to seeds")
    real: list[RealFigure] = Field(default_factory=list, description="the real figures")


def event_path(name: str) -> Path:
    """An event by file path, or by name in configs/events; ConfigError naming the shipped
    ones otherwise."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = configs_dir() / EVENT_FOLDER / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in (configs_dir() / EVENT_FOLDER).glob("*.yaml"))
    raise ConfigError(f"event {name!r}: no such file or shipped event; shipped: {', '.join(known)}")


def load_event(name: str) -> tuple[EventFile, Path]:
    """The event file and the path of its scenario (resolved beside it)."""
    from pydantic import ValidationError

    path = event_path(name)
    try:
        event = EventFile.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe_errors(err, str(path))) from None
    scenario = (path.parent / event.scenario).resolve()
    if not scenario.is_file():
        raise ConfigError(f"{path}: scenario {event.scenario!r} is not a file beside it")
    return event, scenario


def measure_run(ticks: pd.DataFrame) -> dict[str, float]:
    """Every measure of :data:`MEASURES` for one run's ticks table."""
    return {name: float(fn(ticks)) for name, (_, fn) in MEASURES.items()}


def run_seed(scenario: str, seed: int, overrides: tuple[str, ...] = ()) -> dict[str, float]:
    """One run of the scenario with ``run.seed`` = ``seed``; its measures."""
    from abm.config import load_config
    from abm.experiments.run import run_model
    from abm.experiments.tables import ticks_table

    config = load_config(scenario, [*overrides, f"run.seed={seed}"])
    model = run_model(config)
    return measure_run(ticks_table(model).to_pandas())


def run_event(
    event: EventFile, scenario: Path, workers: int = 2, overrides: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The event's seeds (1 to ``event.seeds``), ``workers`` at a time; one row per seed."""
    from abm.experiments.sweep import local_executor

    seeds = range(1, event.seeds + 1)
    with local_executor(workers) as pool:
        rows = list(
            pool.map(run_seed, [str(scenario)] * len(seeds), seeds, [overrides] * len(seeds))
        )
    return pd.DataFrame(rows, index=pd.Index(seeds, name="seed"))


def comparison_table(runs: pd.DataFrame, event: EventFile) -> pd.DataFrame:
    """Per measure: the model's mean, lowest and highest over seeds, the real value (NaN when
    the event gives none) and its source.

    >>> runs = pd.DataFrame({"long_share_pct": [80.0, 90.0]})
    >>> real = [RealFigure(measure="long_share_pct", value=87.0, source="x")]
    >>> row = comparison_table(runs, EventFile(scenario="s.yaml", real=real)).iloc[0]
    >>> [float(row[k]) for k in ("model_mean", "model_low", "model_high", "real")], row["source"]
    ([85.0, 80.0, 90.0, 87.0], 'x')
    """
    real = {figure.measure: figure for figure in event.real}
    rows = []
    for name in runs.columns:
        values = runs[name].to_numpy(dtype=float)
        figure = real.get(name)
        rows.append(
            {
                "measure": name,
                "label": MEASURES[name][0],
                "model_mean": float(np.nanmean(values)),
                "model_low": float(np.nanmin(values)),
                "model_high": float(np.nanmax(values)),
                "real": figure.value if figure else float("nan"),
                "source": figure.source if figure else "",
            }
        )
    return pd.DataFrame(rows)


def format_comparison(table: pd.DataFrame, seeds: int) -> str:
    """The comparison as text: one line per measure, the sources numbered below."""
    lines = [
        f"{'measure':<58} {'model (mean, range over ' + str(seeds) + ' seeds)':>34} {'real':>8}"
    ]
    sources: list[str] = []
    for _, row in table.iterrows():
        mark = ""
        if row["source"]:
            if row["source"] not in sources:
                sources.append(row["source"])
            mark = f" [{sources.index(row['source']) + 1}]"
        real = "n/a" if np.isnan(row["real"]) else f"{row['real']:,.1f}"
        model = f"{row['model_mean']:,.1f} ({row['model_low']:,.1f} to {row['model_high']:,.1f})"
        lines.append(f"{row['label']:<58} {model:>34} {real:>8}{mark}")
    lines += ["", *(f"[{i}] {source}" for i, source in enumerate(sources, 1))]
    return "\n".join(lines)
