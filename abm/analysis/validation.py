"""Validation: every measure of a run folder, pooled over runs (seeds), held against the bands
in ``bands.yaml``; and the same return estimators on a real price file.

``abm validate`` is a thin shell over this module:

>>> runs = [run_measures(d) for d in ["results/validation/seed-1", "results/validation/seed-2"]]  # doctest: +SKIP
>>> rows = pool([r.measures for r in runs], load_bands())  # doctest: +SKIP
>>> print(format_table(rows, len(runs)))  # doctest: +SKIP

A metric's pooled value is the mean over runs with a 95% t-interval (none from one run), or the
median where its band says ``pool: median``. Its verdict: ``pass`` (inside the band), ``miss``,
``no band`` (reported only) or ``no data`` (the runs give no value, e.g. hourly kurtosis from a
15-minute run).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abm.analysis.economics import (
    accounts_of,
    adl_facts,
    liquidation_facts,
    maker_markouts,
    population_pnl,
)
from abm.analysis.funding import funding_facts, interest_per_interval
from abm.analysis.microstructure import book_facts, price_gaps
from abm.analysis.prices import PriceFile, PriceFileError, minute_grid
from abm.analysis.stylized import return_facts
from abm.config import config_hash, scenario_hash

BANDS_FILE = Path(__file__).with_name("bands.yaml")
VERDICTS = ("pass", "miss", "no band", "no data")
SERIES = ("last", "mark", "index", "fundamental")
"""Price series of a run whose returns are measured (``fundamental`` when the run has it)."""


class BandsError(ValueError):
    """A bands file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Band:
    """What one metric should be: ``low <= value <= high`` (``<`` with ``strict``)."""

    metric: str
    label: str = ""
    low: float | None = None
    high: float | None = None
    strict: bool = False
    unit: str = ""
    pool: str = "mean"
    reference: str = ""
    source: str = ""

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the band (NaN never does).

        >>> Band("x", low=0, strict=True).holds(0.0), Band("x", low=0).holds(0.0)
        (False, True)
        """
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.strict else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.strict else value > self.high)
        )

    def describe(self) -> str:
        """The band in words: ``2.5 to 3.8``, ``> 5``, ``<= 0.5``.

        >>> Band("x", low=2.5, high=3.8).describe(), Band("x", high=0.5).describe()
        ('2.5 to 3.8', '<= 0.5')
        """
        if self.low is not None and self.high is not None:
            return f"{_number(self.low)} to {_number(self.high)}"
        if self.low is not None:
            return f"{'>' if self.strict else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.strict else '<='} {_number(self.high)}"
        return "-"


@dataclass(frozen=True)
class Bands:
    version: object
    bands: tuple[Band, ...]
    path: Path

    def get(self, metric: str) -> Band | None:
        return next((b for b in self.bands if b.metric == metric), None)


def load_bands(path: str | Path | None = None) -> Bands:
    """The bands of ``path`` (default: the versioned ``abm/analysis/bands.yaml``)."""
    import yaml

    path = Path(path) if path is not None else BANDS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise BandsError(f"{path} cannot be read ({err})") from None
    if not isinstance(data, dict) or "version" not in data or "bands" not in data:
        raise BandsError(f"{path}: expected a mapping with 'version' and 'bands'")
    if not isinstance(data["bands"], list):
        raise BandsError(f"{path}: 'bands' must be a list")
    allowed = set(Band.__dataclass_fields__)
    bands, seen = [], set()
    for i, entry in enumerate(data["bands"]):
        where = f"{path}: band {i + 1}"
        if not isinstance(entry, dict) or "metric" not in entry:
            raise BandsError(f"{where} has no 'metric'")
        unknown = set(entry) - allowed
        if unknown:
            raise BandsError(f"{where} ({entry['metric']}): unknown keys {sorted(unknown)}")
        if entry["metric"] in seen:
            raise BandsError(f"{where}: metric {entry['metric']!r} has two bands")
        seen.add(entry["metric"])
        for key in ("low", "high"):
            value = entry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise BandsError(f"{where} ({entry['metric']}): {key} must be a number")
        if entry.get("pool", "mean") not in ("mean", "median"):
            raise BandsError(f"{where} ({entry['metric']}): pool must be mean or median")
        bands.append(Band(**{k: v for k, v in entry.items() if v is not None}))
    return Bands(data["version"], tuple(bands), path)


# --------------------------------------------------------------------------- measuring


def series_facts(seconds, prices, prefix: str) -> dict[str, float]:
    """:func:`abm.analysis.stylized.return_facts` of a series on a 1-minute grid
    (:func:`abm.analysis.prices.minute_grid`), with ``kurtosis_drop_1m_1h`` (1-minute minus
    hourly excess kurtosis: positive when kurtosis falls with the horizon), keys prefixed
    ``<prefix>.``."""
    grid, _ = minute_grid(seconds, prices)
    facts = return_facts(grid, 1)
    facts["kurtosis_drop_1m_1h"] = facts["kurtosis_1m"] - facts["kurtosis_1h"]
    return {f"{prefix}.{k}": v for k, v in facts.items()}


@dataclass
class RunMeasures:
    """Every measure of one run folder, flat (``measures``), and what does not pool
    (``details``: the run's seed, config hash, ADL reasons)."""

    run_dir: Path
    measures: dict[str, float]
    details: dict = field(default_factory=dict)


def run_measures(run_dir: str | Path) -> RunMeasures:
    """Measure a run folder (its manifest, ``summary.json`` and tables); the caller checks
    that the run is complete (``abm.experiments.status.require_complete``).

    Keys: ``<series>.<return fact>`` for last, mark, index (and fundamental when recorded),
    ``book.*`` (spread, depth, one-sided book), ``gap.*`` (mark vs index, last vs mark),
    ``funding.*``, ``pnl.<population>``, ``mm.*`` (market makers' spread capture and adverse
    selection), ``liq.*`` (liquidations against open interest and volume), ``prop.*`` (the
    run summary's proportions: depth within 1% and volume against open interest) and ``adl.*``.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    config = manifest["config"]
    tick_seconds = float(config["run"]["tick_seconds"])
    exchange = config["exchange"]
    funding = exchange["funding"]
    ticks = pd.read_parquet(run_dir / "ticks.parquet")
    fills = pd.read_parquet(
        run_dir / "fills.parquet",
        columns=[
            "tick",
            "buyer",
            "seller",
            "qty_lots",
            "qty_btc",
            "price_usdt",
            "aggressor",
            "kind",
        ],
    )
    accounts = pd.read_parquet(run_dir / "accounts.parquet", columns=["account", "population"])
    liquidations = pd.read_parquet(run_dir / "liquidations.parquet")

    measures: dict[str, float] = {}
    for series in SERIES:
        if f"{series}_usdt" in ticks:
            measures.update(series_facts(ticks["elapsed_s"], ticks[f"{series}_usdt"], series))
    prefixed = {
        "book": book_facts(ticks, float(exchange["tick_size"]), tick_seconds),
        "gap": price_gaps(ticks),
        "funding": funding_facts(
            [s["rate"] for s in summary.get("funding_settlements", [])],
            interest_per_interval(
                funding["interest_rate"],
                funding["interval_ticks"],
                funding.get("rate_period_ticks"),
            ),
        ),
        "pnl": population_pnl(summary),
        "mm": maker_markouts(
            fills, ticks, accounts_of(accounts, "market_maker"), tick_seconds=tick_seconds
        ),
        "liq": liquidation_facts(ticks, fills),
        "prop": {
            k: (math.nan if v is None else v) for k, v in summary.get("proportions", {}).items()
        },
    }
    adl = adl_facts(liquidations)
    prefixed["adl"] = {k: v for k, v in adl.items() if k != "reasons"}
    for group, values in prefixed.items():
        measures.update({f"{group}.{k}": float(v) for k, v in values.items()})
    details = {
        "seed": manifest.get("seed"),
        # both recomputed from the manifest's config, so that runs whose manifests hashed
        # differently (config_hash once left the seed out) still compare
        "config_hash": config_hash(config),
        "scenario_hash": scenario_hash(config),
        "hours": summary.get("hours"),
        "adl_reasons": adl["reasons"],
        "adl_reason_recorded": "adl_reason" in liquidations.columns,
    }
    return RunMeasures(run_dir, measures, details)


def price_measures(prices: PriceFile) -> dict[str, float]:
    """The return facts of a real price file (keys ``last.*``, so the bands on the model's last
    price apply), plus ``last.filled_minutes``: minutes of the grid without an observation.
    PriceFileError when the file spans fewer than three minutes."""
    grid, filled = minute_grid(prices.seconds, prices.prices)
    if len(grid) < 3:
        raise PriceFileError(f"{prices.path}: fewer than two 1-minute returns")
    measures = series_facts(prices.seconds, prices.prices, "last")
    measures["last.filled_minutes"] = float(filled)
    return measures


# --------------------------------------------------------------------------- pooling

_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (table to 30, then the
    Cornish-Fisher expansion, within 1e-4).

    >>> t_quantile_975(4)
    2.7764
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def mean_interval(values) -> tuple[float, float | None, float | None]:
    """Mean and 95% t-interval of the finite values; no interval from fewer than two.

    >>> [round(v, 4) for v in mean_interval([1.0, 2.0, 3.0])]  # 2 +- 4.3027 x 1 / sqrt(3)
    [2.0, -0.4842, 4.4842]
    >>> mean_interval([5.0])
    (5.0, None, None)
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return math.nan, None, None
    mean = float(x.mean())
    if len(x) < 2:
        return mean, None, None
    half = t_quantile_975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


@dataclass
class Row:
    """One metric pooled over runs and judged."""

    metric: str
    values: list[float]
    value: float
    low: float | None
    high: float | None
    n: int
    runs_in_band: int | None
    band: Band | None
    verdict: str

    def as_dict(self) -> dict:
        band = self.band
        return {
            "metric": self.metric,
            "label": band.label if band else "",
            "value": self.value,
            "pool": band.pool if band else "mean",
            "ci95_low": self.low,
            "ci95_high": self.high,
            "runs": self.n,
            "runs_in_band": self.runs_in_band,
            "per_run": self.values,
            "band": None
            if band is None
            else {
                "low": band.low,
                "high": band.high,
                "strict": band.strict,
                "text": band.describe(),
            },
            "unit": band.unit if band else "",
            "reference": band.reference if band else "",
            "source": band.source if band else "",
            "verdict": self.verdict,
        }


def pool(runs: list[dict[str, float]], bands: Bands, prefix: str = "") -> list[Row]:
    """Pool each metric over runs and judge it against its band.

    Input: one dict of measures per run; the bands; optionally a key prefix to keep (e.g.
    ``"last."``). Output: one :class:`Row` per metric, the banded ones first in the bands file's
    order, then the rest in the runs' order. The value is the mean over the runs that give one
    (with a 95% t-interval from two runs on) or, for a band with ``pool: median``, the median;
    the verdict is on that value; ``runs_in_band`` counts the runs that pass on their own.

    >>> bands = Bands(1, (Band("a", low=0),), Path("-"))
    >>> [(r.metric, r.value, r.verdict) for r in pool([{"a": 1.0, "b": 2.0}], bands)]
    [('a', 1.0, 'pass'), ('b', 2.0, 'no band')]
    """
    keys: list[str] = [b.metric for b in bands.bands]
    for run in runs:
        keys += [k for k in run if k not in keys]
    rows = []
    for key in keys:
        if not key.startswith(prefix):
            continue
        band = bands.get(key)
        values = [float(run.get(key, math.nan)) for run in runs]
        finite = [v for v in values if math.isfinite(v)]
        if band is not None and band.pool == "median":
            value = float(np.median(finite)) if finite else math.nan
            low = high = None
        else:
            value, low, high = mean_interval(finite)
        if band is None:
            verdict, inside = "no band", None
        elif not finite:
            verdict, inside = "no data", 0
        else:
            verdict = "pass" if band.holds(value) else "miss"
            inside = sum(band.holds(v) for v in finite)
        rows.append(Row(key, values, value, low, high, len(finite), inside, band, verdict))
    return rows


# --------------------------------------------------------------------------- output


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.3g}"
    return f"{value:.4g}"


def format_table(rows: list[Row], runs: int, what: str = "run") -> str:
    """The validation table: metric, pooled value, 95% interval and runs in band (from two runs
    on), band, verdict and the real reference; banded metrics first, then the reported ones,
    then a tally."""
    pooled = runs > 1
    header = ("metric", "value", "95% interval", "in band", "band", "verdict", "real")
    lines_for: dict[bool, list[tuple[str, ...]]] = {True: [], False: []}
    for r in rows:
        band = r.band
        if band is not None and band.pool == "median":
            interval = f"median of {r.n}"
        elif r.low is None:
            interval = "-"
        else:
            interval = f"{_number(r.low)} to {_number(r.high)}"
        unit = f" {band.unit}" if band and band.unit and band.unit not in ("", "share") else ""
        lines_for[band is not None].append(
            (
                r.metric,
                _number(r.value),
                interval,
                "" if r.runs_in_band is None else f"{r.runs_in_band}/{r.n}",
                (band.describe() + unit) if band else "",
                r.verdict,
                band.reference if band else "",
            )
        )
    columns = [0, 1, 2, 3, 4, 5, 6] if pooled else [0, 1, 4, 5, 6]
    right = {1, 2, 3}
    table = [header, *lines_for[True], *lines_for[False]]
    widths = {i: max(len(row[i]) for row in table) for i in columns}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            row[i].rjust(widths[i]) if i in right else row[i].ljust(widths[i]) for i in columns
        ]
        return "  ".join(cells).rstrip()

    out = [line(header)]
    out += [line(r) for r in lines_for[True]]
    if lines_for[False]:
        out.append("reported (no band):")
        out += [line(r) for r in lines_for[False]]
    tally = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    banded = tally["pass"] + tally["miss"] + tally["no data"]
    out.append(
        f"{tally['pass']} of {banded} bands passed, {tally['miss']} missed"
        + (f", {tally['no data']} without data" if tally["no data"] else "")
        + (
            f"; {runs} {what}s: values are means with 95% t-intervals across them (medians "
            "where the band says so); 'in band' counts the runs inside the band on their own"
            if pooled
            else f"; one {what}, so no interval"
        )
    )
    return "\n".join(out)


SIDE_BY_SIDE = (("fundamental", "information"), ("index", "index"), ("mark", "mark"),
                ("last", "last"))  # fmt: skip
"""The series of the side-by-side table, in the order information flows, with their headers."""


def format_series_table(rows: list[Row]) -> str:
    """Each return fact of the information process, the index, the mark and the last price side
    by side (pooled values), and the last's minus the information's: what the agents' trading
    added to (or took from) the input. Empty when the runs recorded no information series.

    >>> row = lambda m, v: Row(m, [v], v, None, None, 1, None, None, "no band")
    >>> print(format_series_table([row("fundamental.acf_r_lag1", 0.0), row("last.acf_r_lag1", 0.1)]))
    return fact  information  index  mark  last  last - information
    acf_r_lag1             0    n/a   n/a   0.1                 0.1
    """
    values = {r.metric: r.value for r in rows}
    if not any(m.startswith("fundamental.") for m in values):
        return ""
    facts = [m.split(".", 1)[1] for m in values if m.startswith("fundamental.")]
    header = ("return fact", *(title for _, title in SIDE_BY_SIDE), "last - information")
    table = [header]
    for fact in facts:
        cells = [values.get(f"{series}.{fact}") for series, _ in SIDE_BY_SIDE]
        info, last = cells[0], cells[-1]
        moved = None if info is None or last is None else last - info
        table.append((fact, *(_number(c) for c in cells), _number(moved)))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in table
    )


def _clean(value):
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report(rows: list[Row], bands: Bands, sources: list[dict]) -> dict:
    """``validation.json``: the bands' version and file, what was measured (``sources``: one
    entry per run or price file), every metric's row and the tally of verdicts."""
    return _clean(
        {
            "bands_version": bands.version,
            "bands_file": str(bands.path),
            "sources": sources,
            "metrics": [r.as_dict() for r in rows],
            "verdicts": {v: sum(r.verdict == v for r in rows) for v in VERDICTS},
        }
    )


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
