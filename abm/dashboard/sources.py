"""Where the dashboard's views read from: a live model (its recorder's columns and the
exchange's logs, so far) or a finished run folder (its Parquet files, up to a chosen moment).
Both give the same frames, so :mod:`abm.dashboard.views` draws them alike.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from abm.experiments import tables
from abm.flows.attribution import attribute_liquidations
from abm.flows.io import run_data
from abm.flows.money import where_money_goes
from abm.model import MarketModel

MONEY_EVERY_S = 60.0
"""The live where-the-money-goes table is recomputed at most once per simulated minute: it
reads the whole transfer log so far."""


class LiveSource:
    """A running model's series so far."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self._money: pd.DataFrame | None = None
        self._money_key: tuple[int, int] | None = None

    def ticks(self) -> pd.DataFrame:
        """The per-tick series recorded so far (the columns of ``ticks.parquet``)."""
        return pd.DataFrame(self.model.recorder.columns)

    def liquidation_map(self) -> pd.DataFrame:
        """The liquidation-map snapshots so far (rows of ``liquidation_map.parquet``)."""
        return pd.DataFrame(self.model.recorder.map_columns)

    def mark_usdt(self) -> float:
        ex = self.model.exchange
        return ex.instrument.price(ex.mark)

    def elapsed_s(self) -> float:
        return self.model.tick * self.model.tick_seconds

    def money(self) -> pd.DataFrame:
        """Where the liquidated money has gone so far, exact from the transfer log; the
        previous table until a simulated minute has passed and a liquidation has happened."""
        model = self.model
        minute = int(self.elapsed_s() // MONEY_EVERY_S)
        key = (minute, len(model.exchange.liquidations))
        if self._money is not None and (
            key[1] == self._money_key[1] or key[0] == self._money_key[0]
        ):
            return self._money
        built = {
            "transfers": tables.transfers_table(model),
            "accounts": tables.accounts_table(model),
            "liquidations": tables.liquidations_table(model),
            "fills": tables.fills_table(model),
        }
        data = run_data(Path(), model.config.model_dump(mode="json"), built)
        attribution = attribute_liquidations(
            data.transfers,
            data.liquidations,
            data.fills,
            data.accounts,
            value_per_tick_lot=data.value_per_tick_lot,
        )
        self._money, self._money_key = where_money_goes(attribution), key
        return self._money


class ReplaySource:
    """A finished run folder, seen at a moment ``at_s`` (simulated seconds from the start)."""

    def __init__(self, run_dir: str | Path) -> None:
        path = Path(run_dir)
        self.run_dir = path
        self._ticks = pd.read_parquet(path / "ticks.parquet")
        self._map = pd.read_parquet(path / "liquidation_map.parquet")
        self._attribution = pd.read_parquet(path / "liquidation_attribution.parquet")
        self.end_s = float(self._ticks["elapsed_s"].iloc[-1])
        self.at_s = self.end_s

    def ticks(self) -> pd.DataFrame:
        return self._ticks[self._ticks["elapsed_s"] <= self.at_s]

    def liquidation_map(self) -> pd.DataFrame:
        tick = self.ticks()["tick"].iloc[-1]
        return self._map[self._map["tick"] <= tick]

    def mark_usdt(self) -> float:
        return float(self.ticks()["mark_usdt"].iloc[-1])

    def elapsed_s(self) -> float:
        return float(self.ticks()["elapsed_s"].iloc[-1])

    def money(self) -> pd.DataFrame:
        """Where the money of the liquidations up to the moment went."""
        tick = self.ticks()["tick"].iloc[-1]
        return where_money_goes(self._attribution[self._attribution["tick"] <= tick])
