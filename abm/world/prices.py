"""Price files: one reader for every place that takes real prices.

A replayed day (``abm run --prices FILE``, ``world.csv_path``) and the validation of real data
(``abm validate --prices FILE``) read files through :func:`read_price_file`, so a file that one
accepts the other accepts too. Formats:

* Binance klines as published on data.binance.vision: a CSV, or the ``.zip`` holding one, with
  or without the header row (``open_time, open, high, low, close, volume, close_time, ...``);
  ``open_time`` in milliseconds (to 2024) or microseconds (from 2025); the price is ``close``,
  timed by ``close_time`` (the end of the candle, when the close is known) when the file has it;
* a CSV with a header naming a timestamp and a price column (``timestamp,price``, or the other
  names in :data:`TIME_COLUMNS` and :data:`PRICE_COLUMNS`), other columns ignored;
* a Parquet or Feather table with such columns.

Timestamps are datetimes, ISO-8601 text (UTC unless it says otherwise) or numbers since the
epoch, whose unit (s, ms, µs or ns) is read from their size. Prices are positive finite numbers.
Rows come in time order (a file listed newest first is refused rather than silently sorted: rows
out of order usually mean a file put together wrongly); blank rows are skipped. Every problem is
one :class:`PriceFileError` naming the file, the line (or row) and what is allowed.

This module imports only numpy at import time; pandas is imported when a file is read.
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from abm.config import ModelConfig

TIME_COLUMNS = ("timestamp", "date", "time", "open_time")
"""Timestamp columns a price file may have, looked for in this order (case-insensitive)."""
PRICE_COLUMNS = ("price", "close", "last")
"""Price columns a price file may have, looked for in this order (case-insensitive)."""
KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
"""The columns of Binance's kline files, in order (their CSVs may come without a header)."""
FORMATS = (".csv", ".zip", ".parquet", ".feather")
UNITS = ((1e17, 1e9, "ns"), (1e14, 1e6, "µs"), (1e11, 1e3, "ms"), (0.0, 1.0, "s"))
"""(smallest median magnitude, divisor, name): epoch numbers above 1e11 are milliseconds after
1973, above 1e14 microseconds, above 1e17 nanoseconds; seconds stay below 1e11 until 5138."""
EXPECTED = (
    "expected Binance klines (CSV or zip) or a table with a timestamp and a price column "
    "(timestamp,price)"
)


class PriceFileError(ValueError):
    """A price file that cannot be read as a time series of prices; the message says why."""


@dataclass(frozen=True)
class PriceSeries:
    """A price file read as times (seconds since 1970, UTC, in order) and prices (USDT)."""

    path: Path
    seconds: np.ndarray
    prices: np.ndarray
    time_column: str
    time_unit: str
    """How the timestamps were read: ``datetime``, ``ns``, ``µs``, ``ms``, ``s`` or ``ISO text``."""
    price_column: str
    layout: str
    """``klines`` (Binance's header-less kline CSV) or ``table`` (named columns)."""

    @property
    def repeated_times(self) -> int:
        """Rows whose timestamp equals the row before's (of those, the last row counts)."""
        return int(np.count_nonzero(np.diff(self.seconds) == 0))

    @property
    def start(self) -> datetime:
        """The first row's time, UTC."""
        return datetime.fromtimestamp(float(self.seconds[0]), tz=UTC)

    @property
    def covered_seconds(self) -> float:
        """Seconds from the first row to the last."""
        return float(self.seconds[-1] - self.seconds[0])

    def describe(self) -> str:
        layout = "Binance klines without a header, " if self.layout == "klines" else ""
        repeats = self.repeated_times
        repeated = ""
        if repeats == 1:
            repeated = "; 1 row repeats the timestamp before it (the later row counts)"
        elif repeats:
            repeated = f"; {repeats:,} rows repeat the timestamp before them (the last counts)"
        return (
            f"{self.path}: {len(self.prices):,} rows, {layout}time from column "
            f"{self.time_column!r} ({self.time_unit}), price from column "
            f"{self.price_column!r}{repeated}"
        )


def read_price_file(path: str | Path) -> PriceSeries:
    """Read a price file of any of the module's formats; PriceFileError says what is wrong.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = f.write_text("timestamp,price\\n2024-03-01T00:00:00Z,100\\n2024-03-01T00:00:01Z,101\\n")
    >>> s = read_price_file(f)
    >>> s.prices.tolist(), s.covered_seconds, s.start.isoformat()
    ([100.0, 101.0], 1.0, '2024-03-01T00:00:00+00:00')
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return _read_price_file(path, None)
    # A run reads its file up to three times (its start time, the path, the line it prints),
    # and a sweep once per point: the same file unchanged is parsed once.
    return _read_price_file(path, (path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _read_price_file(path: Path, _version: tuple | None) -> PriceSeries:
    """:func:`read_price_file`'s work; ``_version`` (the file's real path, mtime and size)
    keys the cache, so a changed file is read again."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PriceFileError(
            f"{path}: a {suffix or 'suffix-less'} file is not a price file; allowed: "
            f"{', '.join(FORMATS)} ({EXPECTED})"
        )
    if not path.is_file():
        what = "does not exist (no such file)" if not path.exists() else "is not a file"
        raise PriceFileError(f"{path} {what}; {EXPECTED}")
    if suffix in (".csv", ".zip"):
        columns, where, layout = _read_csv(path)
    else:
        columns, where, layout = _read_table(path, suffix)
    return _series(path, columns, where, layout)


# ---------------------------------------------------------------------- file layouts


def _csv_text(path: Path) -> str:
    """The text of a CSV, or of the one CSV inside a zip (as Binance publishes klines)."""
    try:
        if path.suffix.lower() != ".zip":
            return path.read_text(encoding="utf-8")
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise PriceFileError(
                    f"{path}: a zip must hold exactly one .csv file, and this one holds "
                    f"{len(members)} ({', '.join(members) or 'none'})"
                )
            return archive.read(members[0]).decode("utf-8")
    except (UnicodeDecodeError, zipfile.BadZipFile, OSError) as err:
        raise PriceFileError(f"{path}: not a readable CSV ({err}); {EXPECTED}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[dict[str, list[str]], Callable[[int], str], str]:
    """The CSV's columns as text, a function naming data row i's line, and its layout. A first
    row of numbers only is data, as in Binance's kline files (which carry no header)."""
    reader = csv.reader(io.StringIO(_csv_text(path)), skipinitialspace=True)
    try:
        rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as err:
        raise PriceFileError(f"{path}: not a readable CSV ({err}); {EXPECTED}") from None
    if not rows:
        raise PriceFileError(f"{path}: not a readable CSV (the file is empty); {EXPECTED}")
    first = [f.strip() for f in rows[0][1]]
    if all(_is_number(f) for f in first):
        if len(first) < 5:
            raise PriceFileError(
                f"{path}: line {rows[0][0]} has no header and {len(first)} fields; a CSV "
                f"without a header must be Binance klines ({', '.join(KLINE_COLUMNS[:5])}, ...)"
            )
        header, data, layout = list(KLINE_COLUMNS[: len(first)]), rows, "klines"
    else:
        header, data, layout = first, rows[1:], "table"
    for line, row in data:
        if len(row) != len(header):
            raise PriceFileError(
                f"{path}: line {line} has {len(row)} fields but the header has {len(header)} "
                f"({','.join(header)}); every row needs one value per column"
            )
    lines = [line for line, _ in data]
    columns = {name: [row[i].strip() for _, row in data] for i, name in enumerate(header)}
    return columns, lambda i: f"line {lines[i]}", layout


def _read_table(path: Path, suffix: str) -> tuple[dict[str, Sequence], Callable[[int], str], str]:
    """A Parquet or Feather table's columns and a function naming row i (the first is 1)."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_feather(path)
    except Exception as err:  # pandas and pyarrow raise many kinds for a bad file
        raise PriceFileError(f"{path} cannot be read ({type(err).__name__}: {err})") from None
    columns = {str(name): frame[name] for name in frame.columns}
    return columns, lambda i: f"row {i + 1}", "table"


# ---------------------------------------------------------------------- columns to a series


def _pick(columns: Sequence[str], wanted: tuple[str, ...], what: str, path: Path) -> str:
    lower = {c.strip().lower(): c for c in columns}
    for name in wanted:
        if name in lower:
            return lower[name]
    raise PriceFileError(
        f"{path}: no {what} column; looked for {', '.join(wanted)} among "
        f"{', '.join(map(repr, columns)) or 'no columns'} ({EXPECTED})"
    )


def _series(
    path: Path, columns: dict[str, Sequence], where: Callable[[int], str], layout: str
) -> PriceSeries:
    import pandas as pd

    time_column = _pick(list(columns), TIME_COLUMNS, "timestamp", path)
    price_column = _pick(list(columns), PRICE_COLUMNS, "price", path)
    lower = {c.strip().lower(): c for c in columns}
    candle_end = (
        time_column.strip().lower() == "open_time"
        and price_column.strip().lower() == "close"
        and "close_time" in lower
    )
    if candle_end:
        # A kline's close is the price at the end of its candle: time it by close_time, not
        # by open_time (a minute early).
        time_column = lower["close_time"]
    times = pd.Series(columns[time_column])
    prices_in = pd.Series(columns[price_column])
    blank = _blank(times) & _blank(prices_in)
    times, prices_in = times[~blank.to_numpy()], prices_in[~blank.to_numpy()]
    rows = np.flatnonzero(~blank.to_numpy())
    if not len(rows):
        raise PriceFileError(f"{path}: no data rows; expected at least one row of prices")

    prices = pd.to_numeric(prices_in, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(prices) | ~(prices > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PriceFileError(
            f"{path}: {where(int(rows[i]))}, column {price_column!r}: "
            f"{prices_in.iloc[i]!r} is not allowed; prices must be positive finite numbers"
        )
    seconds, unit = _epoch_seconds(times, path, time_column, lambda i: where(int(rows[i])))
    if candle_end:
        seconds = np.ceil(seconds - 1e-7)  # Binance's close_time is the candle's last ms/µs
        unit = f"{unit}, the end of each candle"
    backwards = np.flatnonzero(np.diff(seconds) < 0)
    if backwards.size:
        i = int(backwards[0])
        raise PriceFileError(
            f"{path}: {where(int(rows[i + 1]))}, column {time_column!r}: "
            f"{times.iloc[i + 1]!r} comes before {where(int(rows[i]))}'s {times.iloc[i]!r}; "
            "rows must be in time order (sort the file by timestamp, oldest first)"
        )
    seconds.setflags(write=False)  # shared by the readers of a cached file
    prices.setflags(write=False)
    return PriceSeries(path, seconds, prices, time_column, unit, price_column, layout)


def _blank(values) -> object:
    """Which values are missing or blank text."""
    text = values.astype(str).str.strip()
    return values.isna() | (text == "")


def _epoch_seconds(values, path: Path, column: str, where: Callable[[int], str]):
    """(seconds since 1970, how they were read) of a timestamp column; numbers and ISO text may
    mix, row by row."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
        return seconds, "datetime"
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    numeric = np.isfinite(numbers)
    seconds = np.full(len(numbers), np.nan)
    unit = "ISO text"
    if numeric.any():
        magnitude = float(np.median(np.abs(numbers[numeric])))
        _, divisor, unit = next(u for u in UNITS if magnitude > u[0] or u[0] == 0.0)
        seconds[numeric] = numbers[numeric] / divisor
    if not numeric.all():
        text = values[~numeric].astype(str).str.strip()
        stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        seconds[~numeric] = ((stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).to_numpy()
        unit = f"{unit}, ISO text" if numeric.any() else "ISO text"
    bad = ~np.isfinite(seconds)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PriceFileError(
            f"{path}: {where(i)}, column {column!r}: {values.iloc[i]!r} cannot be parsed; "
            "allowed: a number since the epoch (s, ms, µs or ns) or an ISO-8601 date-time such "
            "as '2024-03-01T00:00:00Z'"
        )
    return seconds, unit


# ---------------------------------------------------------------------- replay


def replay_prices(series: PriceSeries, ticks: int, tick_seconds: float) -> np.ndarray:
    """Prices at ticks 0..ticks by last observation carried forward on the grid
    ``first timestamp + k * tick_seconds`` (of equal timestamps, the last row wins).

    PriceFileError if the file does not cover ``ticks * tick_seconds`` seconds from its first
    timestamp (its last timestamp must be at or after the last tick's time).

    >>> s = PriceSeries(Path("p"), np.array([0.0, 2.5, 5.0]), np.array([1.0, 2.0, 3.0]),
    ...                 "timestamp", "s", "price", "table")
    >>> replay_prices(s, 5, 1.0).tolist()
    [1.0, 1.0, 1.0, 2.0, 2.0, 3.0]
    """
    rel = series.seconds - series.seconds[0]
    covered = float(rel[-1])
    requested = ticks * tick_seconds
    tolerance = 1e-9 * max(1.0, tick_seconds)
    if covered + tolerance < requested:
        raise PriceFileError(
            f"{series.path}: covers {covered:g} s ({covered / 3600:.4g} h, "
            f"{int(covered // tick_seconds + 1)} ticks of {tick_seconds:g} s) from its first "
            f"timestamp, but the run needs {requested:g} s ({requested / 3600:.4g} h, "
            f"{ticks + 1} ticks); supply a longer file or a shorter run (run.hours at most "
            f"{covered / 3600:.6g})"
        )
    grid = np.arange(ticks + 1, dtype=np.float64) * tick_seconds
    idx = np.searchsorted(rel, grid + tolerance, side="right") - 1
    return series.prices[idx]


def replay_start(config: ModelConfig) -> ModelConfig:
    """``config`` with ``run.start_time`` taken from its replayed price file's first row (to the
    whole second) when it replays one and names no start: a replayed day keeps its own dates.
    Any other config is returned as it is. ConfigError naming ``world.csv_path`` for a file
    that cannot be read."""
    if config.world.process != "csv" or config.run.start_time is not None:
        return config
    from abm.config import ConfigError, override_config

    try:
        series = read_price_file(config.world.csv_path)
    except PriceFileError as err:
        raise ConfigError(f"world.csv_path: {err}") from None
    start = series.start.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return override_config(config, {"run.start_time": start})
