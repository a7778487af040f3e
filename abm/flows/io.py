"""Reading a run folder's files and writing flow outputs atomically.

The flow layer reads a run's Parquet tables and manifest only, never the model. Writes go
through a temporary file in the same folder and a rename, like the run's own files, so a folder
never holds a half-written file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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

    Input: a run folder (as written by ``abm run``). Output: a :class:`RunData`; its ``config`` is
    the manifest's resolved config, or an empty dict when the folder has no manifest (then
    ``value_per_tick_lot`` is unknown and raises ``KeyError``).

    >>> run = read_run("results/baseline-seed42-...")          # doctest: +SKIP
    >>> run.transfers.columns.tolist()                          # doctest: +SKIP
    ['tick', 'src', 'dst', 'amount', 'cause', 'event_id']
    """
    path = Path(run_dir)
    tables = {}
    for name in TABLES:
        file = path / f"{name}.parquet"
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: is {path} a complete run folder?")
        tables[name] = pd.read_parquet(file)
    manifest = path / "manifest.json"
    config = json.loads(manifest.read_text())["config"] if manifest.is_file() else {}
    return RunData(path=path, config=config, **tables)
