"""Price series onto a 1-minute grid, from a run's ticks or from a user's price file.

The model's prices and real prices go through the same grid and the same estimators
(:mod:`abm.analysis.stylized`), so ``abm validate`` measures both alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

TIME_COLUMNS = ("date", "timestamp", "time", "open_time")
"""Timestamp columns a price file may have, looked for in this order (case-insensitive)."""
PRICE_COLUMNS = ("close", "price", "last")
"""Price columns a price file may have, looked for in this order (case-insensitive)."""
READERS = (".csv", ".parquet", ".feather")


class PriceFileError(ValueError):
    """A price file that cannot be read as a time series of prices; the message says why."""


def minute_grid(seconds, prices, minute: float = 60.0) -> tuple[np.ndarray, int]:
    """Prices on a regular grid of ``minute`` seconds, by last observation.

    Input: observation times in seconds (any origin, any order) and prices (non-positive and
    non-finite prices are dropped). Output: ``(grid, filled)``: for each minute from the first
    observation's to the last's, the last price observed in that minute; a minute without an
    observation repeats the price before it (``filled`` counts those minutes).

    >>> minute_grid([0, 30, 59, 61, 185], [10.0, 11.0, 12.0, 13.0, 14.0])
    (array([12., 13., 13., 14.]), 1)
    """
    s = np.asarray(seconds, dtype=float)
    p = np.asarray(prices, dtype=float)
    keep = np.isfinite(s) & np.isfinite(p) & (p > 0)
    s, p = s[keep], p[keep]
    if not len(s):
        return np.array([], dtype=float), 0
    order = np.argsort(s, kind="stable")
    s, p = s[order], p[order]
    bins = np.floor(s / minute).astype(np.int64)
    bins -= bins[0]
    ends = np.flatnonzero(np.r_[bins[1:] != bins[:-1], True])
    grid = np.full(int(bins[-1]) + 1, np.nan)
    grid[bins[ends]] = p[ends]
    have = np.isfinite(grid)
    where = np.maximum.accumulate(np.where(have, np.arange(len(grid)), 0))
    return grid[where], int((~have).sum())


@dataclass(frozen=True)
class PriceFile:
    """A user's price file read as times (seconds since 1970) and prices."""

    path: Path
    seconds: np.ndarray
    prices: np.ndarray
    time_column: str
    time_unit: str
    """How the timestamps were read: ``datetime``, ``ms``, ``s`` or ``ISO text``."""
    price_column: str

    def describe(self) -> str:
        return (
            f"{self.path}: {len(self.prices):,} rows, time from column {self.time_column!r} "
            f"({self.time_unit}), price from column {self.price_column!r}"
        )


def _pick(columns, wanted: tuple[str, ...], what: str, path: Path) -> str:
    lower = {str(c).lower(): c for c in columns}
    for name in wanted:
        if name in lower:
            return lower[name]
    raise PriceFileError(
        f"{path} has no {what} column: looked for {', '.join(wanted)} among "
        f"{', '.join(map(str, columns)) or 'no columns'}"
    )


def _epoch_seconds(values, column: str, path: Path) -> tuple[np.ndarray, str]:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(), "datetime"
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and len(numbers):
        x = numbers.to_numpy(dtype=float)
        # Epoch milliseconds are above 1e11 after 1973; epoch seconds below it until 5138.
        if np.nanmedian(np.abs(x)) > 1e11:
            return x / 1000.0, "ms"
        return x, "s"
    try:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        bad = next((v for v in values if pd.isna(pd.to_numeric(v, errors="coerce"))), None)
        raise PriceFileError(
            f"{path}: column {column!r} is neither epoch seconds or milliseconds nor ISO "
            f"timestamps (e.g. {bad!r})"
        ) from None
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(), "ISO text"


def read_price_file(path: str | Path) -> PriceFile:
    """Read a CSV, Parquet or Feather file of prices (PriceFileError if it cannot be).

    The timestamp column is the first of ``date``, ``timestamp``, ``time``, ``open_time``
    (datetimes, epoch milliseconds, epoch seconds or ISO text); the price column the first of
    ``close``, ``price``, ``last``. Rows need not be in order; rows whose price is not a positive
    number are dropped later, by :func:`minute_grid`.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise PriceFileError(f"{path}: expected a {', '.join(READERS)} file")
    if not path.is_file():
        raise PriceFileError(
            f"{path} does not exist" if not path.exists() else f"{path} is not a file"
        )
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_feather(path)
    except Exception as err:  # pandas and pyarrow raise many kinds for a bad file
        raise PriceFileError(f"{path} cannot be read ({type(err).__name__}: {err})") from None
    time_column = _pick(frame.columns, TIME_COLUMNS, "timestamp", path)
    price_column = _pick(frame.columns, PRICE_COLUMNS, "price", path)
    seconds, unit = _epoch_seconds(frame[time_column], time_column, path)
    prices = pd.to_numeric(frame[price_column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(prices).any():
        raise PriceFileError(f"{path}: column {price_column!r} holds no numbers")
    return PriceFile(path, seconds, prices, str(time_column), unit, str(price_column))
