"""The world: the information (a fundamental value path, generated or replayed from a price
file, with scripted shocks) and the spot venue whose price is the index."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from abm.config.base import StrictModel
from abm.config.units import BTC_SUPPLY


class Shock(StrictModel):
    """A scenario move: the fundamental value drifts by ``move`` (e.g. -0.1 for -10%) over
    ``minutes``, starting at minute ``start_minute`` of the run or ``minutes_before_end``
    minutes before its end (one of the two); shocks compose multiplicatively."""

    start_minute: float | None = Field(
        default=None, ge=0, description="minute of the run the move starts (from the start)"
    )
    minutes_before_end: float | None = Field(
        default=None,
        gt=0,
        description="or: the move starts this many minutes before the run's end",
    )
    minutes: float = Field(gt=0, description="minutes the move takes")
    move: float = Field(gt=-0.95, lt=10, description="the move as a fraction (-0.1: -10%)")
    name: str | None = Field(
        default=None,
        max_length=64,
        description="a label; the shock named crash is the crash window of the metrics (the "
        "largest fall when none is)",
    )

    @model_validator(mode="after")
    def _one_start(self) -> Shock:
        if (self.start_minute is None) == (self.minutes_before_end is None):
            raise ValueError(
                "a shock takes one of start_minute (minutes from the run's start) and "
                "minutes_before_end (minutes before its end), not "
                + ("both" if self.start_minute is not None else "neither")
            )
        return self

    def start(self, run_minutes: float) -> float:
        """The minute of the run the move starts, in a run of ``run_minutes`` minutes."""
        if self.start_minute is not None:
            return float(self.start_minute)
        return float(run_minutes) - float(self.minutes_before_end)


class SpotConfig(StrictModel):
    """The spot venue whose price is the index: finite liquidity, moved by net spot order flow
    alone (arbitrageurs' spot legs, spot value traders) through a permanent and a decaying
    (transient) impact, propagator style. Nothing pulls it towards the information."""

    depth_1pct_btc: float = Field(
        default=20.0,
        gt=0,
        le=BTC_SUPPLY,
        description="BTC that, traded at once, move the spot 1% (its depth within 1% a side)",
    )
    permanent_share: float = Field(
        default=0.67, ge=0, le=1, description="share of an impact that lasts (the rest decays)"
    )
    transient_decay_seconds: float = Field(
        default=5.0, gt=0, le=86_400, description="time constant (s) of the transient decay"
    )
    taker_fee_bps: float = Field(
        default=1.0, ge=0, le=1_000, description="fee a spot trade pays (bps of its notional)"
    )


class WorldConfig(StrictModel):
    """The information (a fundamental value path) and the spot venue it feeds."""

    process: Literal["multiscale", "garch_jump", "csv"] = Field(
        default="multiscale",
        description="the fundamental value's path: multiscale (long-memory volatility with "
        "jumps), garch_jump (GARCH(1,1) with jumps) or csv (a price file replayed)",
    )
    seed: int | None = Field(
        default=None, ge=0, description="seed of the index path alone (default: from run.seed)"
    )
    start_price: float = Field(
        default=50_000.0,
        gt=0,
        le=1e8,
        description="USDT; at least 1,000 price ticks and at most a tenth of the exchange's "
        "price_filter.max_price (checked with the exchange)",
    )
    annual_volatility: float = Field(
        default=0.7, gt=0, le=5, description="long-run annualised volatility of log returns"
    )
    vol_persistence: float = Field(
        default=0.9995,
        gt=0,
        lt=1,
        description="garch_jump: GARCH alpha + beta per tick (clustering)",
    )
    vol_reaction: float = Field(
        default=0.008,
        gt=0,
        lt=1,
        description="garch_jump: GARCH alpha, weight of the last squared shock",
    )
    vol_timescales_minutes: tuple[float, ...] = Field(
        default=(1.0, 10.0, 100.0, 1_000.0, 10_000.0),
        min_length=1,
        max_length=20,
        description="multiscale: time scales of the log-volatility components",
    )
    vol_of_vol: float = Field(
        default=0.9, ge=0, le=3, description="multiscale: standard deviation of log volatility"
    )
    tail_df: float = Field(default=4.0, gt=2, le=1000, description="Student-t innovations")
    jumps_per_day: float = Field(
        default=2.0, ge=0, le=1000, description="mean number of jumps a day (Poisson)"
    )
    jump_std: float = Field(default=0.006, ge=0, lt=1, description="std of a jump's log size")
    shocks: tuple[Shock, ...] = Field(
        default=(), description="scripted moves of the index (scenarios)"
    )
    csv_path: str | None = Field(default=None, description="CSV with columns timestamp,price")
    spot: SpotConfig = SpotConfig()

    @model_validator(mode="after")
    def _csv_needs_path(self) -> WorldConfig:
        if self.process == "csv" and not self.csv_path:
            raise ValueError("world.csv_path: required when world.process is 'csv'")
        if any(not 0 < m <= 1e7 for m in self.vol_timescales_minutes):
            raise ValueError(
                f"vol_timescales_minutes {list(self.vol_timescales_minutes)}: each must be "
                "above 0 and at most 10,000,000 minutes"
            )
        if self.vol_reaction >= self.vol_persistence:
            raise ValueError(
                f"world.vol_reaction {self.vol_reaction} must be below vol_persistence "
                f"{self.vol_persistence} (GARCH beta = persistence - reaction must be positive)"
            )
        jump_volatility = math.sqrt(self.jumps_per_day * 365.0) * self.jump_std
        if self.process != "csv" and jump_volatility >= self.annual_volatility:
            raise ValueError(
                f"jumps alone ({self.jumps_per_day:g}/day of std {self.jump_std:g}) give an "
                f"annualised volatility of {jump_volatility:.4g}, not below annual_volatility "
                f"{self.annual_volatility}; lower jumps_per_day or jump_std, or raise "
                "annual_volatility"
            )
        return self
