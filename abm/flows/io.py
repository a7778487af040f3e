"""Reading a run folder's files and writing flow outputs atomically.

The flow layer reads a run's Parquet tables and manifest only, never the model. Writes go
through a temporary file in the same folder and a rename, like the run's own files, so a folder
never holds a half-written file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abm.outputs import Clock, plain

TABLES = ("transfers", "accounts", "liquidations", "fills")


@dataclass(frozen=True)
class RunData:
    """A run folder's tables (pandas DataFrames) and its manifest's config (a dict)."""

    path: Path
    transfers: pd.DataFrame
    accounts: pd.DataFrame
    liquidations: pd.DataFrame
    fills: pd.DataFrame
    config: dict = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        """The run's clock (``run.start_time``, ``run.tick_seconds``) for the time columns."""
        return Clock.from_config(self.config)

    @property
    def value_per_tick_lot(self) -> int:
        """Micro-units of one lot at a price of one tick (100 for 0.1 USDT and 0.001 BTC)."""
        return value_per_tick_lot(self.config)


def value_per_tick_lot(config: dict) -> int:
    """The instrument's value of one lot-tick in micro-units, from a resolved run config.

    Input: the manifest's ``config`` dict (``exchange.tick_size`` in USDT, ``exchange.lot_size``
    in BTC). Output: ``round(round(tick_size * 1e6) * lot_size)``, as the exchange computes it.

    >>> value_per_tick_lot({"exchange": {"tick_size": 0.1, "lot_size": 0.001}})
    100
    """
    exchange = config["exchange"]
    return round(round(exchange["tick_size"] * 1_000_000) * exchange["lot_size"])


def read_run(run_dir: str | Path) -> RunData:
    """Load ``transfers``, ``accounts``, ``liquidations`` and ``fills`` (Parquet) and the config.

    Input: a run folder (as written by ``abm run``). Output: a :class:`RunData` (see
    :func:`run_data`); its ``config`` is the manifest's resolved config, or an empty dict when
    the folder has no manifest (then ``value_per_tick_lot`` is unknown and raises
    ``KeyError``).

    >>> run = read_run("results/baseline-seed42-...")          # doctest: +SKIP
    >>> run.transfers.columns.tolist()                          # doctest: +SKIP
    ['tick', 'src', 'dst', 'amount_micro_usdt', 'cause', 'event_id']
    """
    path = Path(run_dir)
    tables = {}
    for name in TABLES:
        file = path / f"{name}.parquet"
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: is {path} a complete run folder?")
        tables[name] = pq.read_table(file)
    manifest = path / "manifest.json"
    config = json.loads(manifest.read_text())["config"] if manifest.is_file() else {}
    return run_data(path, config, tables)


def run_data(path: str | Path, config: dict, tables: Mapping[str, pa.Table]) -> RunData:
    """A :class:`RunData` of a run's Arrow tables (``transfers``, ``accounts``,
    ``liquidations``, ``fills``), as read from its folder or as the run built them.

    The time columns are left out (the flow layer counts in ticks and adds times when it
    writes); the small tables (accounts, liquidations) have their categorical columns as plain
    strings, the long ones (transfers, fills) keep them categorical, which keeps a log of
    millions of rows cheap.
    """
    frames = {}
    for name in TABLES:
        table = tables[name]
        if "time" in table.column_names:
            table = table.drop_columns(["time"])
        frame = table.to_pandas(split_blocks=True)
        frames[name] = plain(frame) if name in ("accounts", "liquidations") else frame
    return RunData(path=Path(path), config=config, **frames)
