"""A perp price path to replay (``replay.perp_path``): the index, mark and last of a stored run,
tick by tick, read from its folder's ticks.parquet or from a Parquet or CSV file with the same
columns.

In replay mode the exchange's prices follow the path, not the market, so one can ask who would
have been liquidated under other rules had the price followed this path (the composition
channel), against the same rules' own run (composition and feedback).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLUMNS = ("tick", "index_usdt", "mark_usdt", "last_usdt")


@dataclass(frozen=True)
class PerpPath:
    """Index, mark and last (USDT) for ticks 1 to ``ticks``; a tick with no last price yet
    takes the mark."""

    index_usdt: np.ndarray
    mark_usdt: np.ndarray
    last_usdt: np.ndarray

    @classmethod
    def from_columns(cls, columns: dict, ticks: int, source: str) -> PerpPath:
        """From columns named as :data:`COLUMNS` (sequences); ValueError naming ``source`` when
        a column is missing or ticks 1 to ``ticks`` are not all there.

        >>> path = PerpPath.from_columns({"tick": [1, 2], "index_usdt": [10.0, 11.0],
        ...     "mark_usdt": [10.0, 11.5], "last_usdt": [None, 11.6]}, 2, "example")
        >>> path.last_usdt.tolist()
        [nan, 10.0, 11.6]
        """
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            raise ValueError(
                f"replay.perp_path: {source} has no column {', '.join(missing)}; a replayed "
                f"path needs {', '.join(COLUMNS)} (a run folder's ticks.parquet has them)"
            )
        tick = np.asarray(columns["tick"], dtype=np.int64)
        index = np.full(ticks + 1, np.nan)
        mark = np.full(ticks + 1, np.nan)
        last = np.full(ticks + 1, np.nan)
        inside = (tick >= 1) & (tick <= ticks)
        rows = tick[inside]
        index[rows] = np.asarray(columns["index_usdt"], dtype=float)[inside]
        mark[rows] = np.asarray(columns["mark_usdt"], dtype=float)[inside]
        raw_last = np.array(
            [np.nan if v is None else v for v in columns["last_usdt"]], dtype=float
        )[inside]
        last[rows] = np.where(np.isnan(raw_last), mark[rows], raw_last)
        absent = np.flatnonzero(np.isnan(mark[1:]) | np.isnan(index[1:]))
        if len(absent):
            raise ValueError(
                f"replay.perp_path: {source} covers ticks {int(tick.min()) if len(tick) else 0}"
                f"-{int(tick.max()) if len(tick) else 0}; the run needs every tick from 1 to "
                f"{ticks} (first missing: {int(absent[0]) + 1}): replay a run at least as long, "
                "with the same run.tick_seconds"
            )
        return cls(index, mark, last)

    @classmethod
    def read(cls, path: str | Path, ticks: int) -> PerpPath:
        """From a run folder (its ticks.parquet) or a .parquet or .csv file."""
        import pandas as pd

        path = Path(path)
        file = path / "ticks.parquet" if path.is_dir() else path
        if not file.is_file():
            raise ValueError(
                f"replay.perp_path: {path} is neither a run folder with a ticks.parquet nor a "
                "Parquet or CSV file"
            )
        try:
            reader = pd.read_csv if file.suffix.lower() == ".csv" else pd.read_parquet
            frame = reader(file)
        except Exception as err:  # pyarrow and pandas raise many kinds for a bad file
            raise ValueError(f"replay.perp_path: {file} could not be read: {err}") from None
        columns = {name: frame[name].tolist() for name in COLUMNS if name in frame}
        return cls.from_columns(columns, ticks, str(file))
