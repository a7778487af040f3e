"""The whole config of a run (:class:`ModelConfig`): the run's clock and seed, the replay of
another run's prices, the market's scale, the sections of the other modules, the checks across
sections, and the hashes that identify a run and its scenario."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from abm.config.base import StrictModel
from abm.config.populations import (
    ArbitrageurConfig,
    FundamentalTraderConfig,
    MarketMakerConfig,
    RetailConfig,
    SpotValueTraderConfig,
    TradingConfig,
    WhaleConfig,
)
from abm.config.rulebook import Rulebook
from abm.config.units import BTC_SUPPLY, DEPOSIT_LIMIT_USDT, MAX_TICKS, MIN_START_TICKS
from abm.config.world import WorldConfig
from abm.exchange.units import MICRO

DEFAULT_START_TIME = "2024-01-01T00:00:00Z"
"""UTC time of tick 0 of a run whose path is generated and whose config names no start."""


def utc_time_text(value: object) -> str:
    """An ISO-8601 date-time in UTC as ``YYYY-MM-DDTHH:MM:SSZ``; ValueError naming the
    accepted form for anything else (no time zone, another zone, fractions of a second).

    >>> utc_time_text("2021-05-19T12:00:00+00:00")
    '2021-05-19T12:00:00Z'
    """
    form = "an ISO-8601 UTC date-time in whole seconds such as 2024-01-01T00:00:00Z"
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not {form}") from None
    else:
        raise ValueError(f"expected {form}, got {type(value).__name__} {value!r}")
    if when.tzinfo is None or when.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{value!s} is not in UTC; give {form}")
    if when.microsecond:
        raise ValueError(f"{value!s} has a fraction of a second; give {form}")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunConfig(StrictModel):
    """The run: its length, clock, seed and how often the slower series are recorded."""

    hours: float = Field(default=24.0, gt=0, le=24 * 365, description="simulated hours")
    tick_seconds: float = Field(
        default=1.0, ge=0.001, le=3_600, description="simulated seconds per tick"
    )
    seed: int = Field(
        default=42,
        ge=0,
        description="seed of every random draw (world.seed may fix the index path apart)",
    )
    equity_every_ticks: int = Field(
        default=60, ge=1, description="ticks between samples of equity by population"
    )
    liquidation_map_every_ticks: int = Field(
        default=300, ge=1, description="ticks between liquidation-map snapshots"
    )
    start_time: str | None = Field(
        default=None,
        description="UTC time of tick 0 (ISO 8601); the tables' time columns count from it. "
        f"Default: a replayed price file's first time, else {DEFAULT_START_TIME}",
    )

    @field_validator("start_time", mode="before")
    @classmethod
    def _utc_time(cls, value: Any) -> str | None:
        """An ISO-8601 UTC date-time (YAML may hand over a datetime), kept as
        ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds); None for the default."""
        return None if value is None else utc_time_text(value)

    @property
    def start(self) -> datetime:
        """``start_time`` as an aware UTC datetime (the default when it is None; a model with a
        replayed file fills it in from the file: :func:`abm.model.replay_start`)."""
        return datetime.fromisoformat(self.start_time or DEFAULT_START_TIME)


class ReplayConfig(StrictModel):
    """The perp's prices replayed from another run (a counterfactual, issue 23): the exchange's
    index, mark and last follow that run's path tick by tick, so the margin, stops and
    liquidations of this run's populations face those prices, whatever their own orders do to
    the book. With neither key set (the default) prices come from the market."""

    perp_path: str | None = Field(
        default=None,
        description="a run folder (its ticks.parquet) or a Parquet or CSV file with columns "
        "tick, index_usdt, mark_usdt, last_usdt covering the run's ticks",
    )
    perp_from: dict[str, Any] | None = Field(
        default=None,
        description="overrides of this config, with the same seed, whose run's prices are "
        "replayed (that run is made first, in the same process): e.g. "
        "{exchange.max_leverage: 125, exchange.liquidation.execution: book}",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ReplayConfig:
        if self.perp_path is not None and self.perp_from is not None:
            raise ValueError(
                "replay: give one of perp_path (a stored run or file) and perp_from (overrides "
                "of this config whose run is made first), not both"
            )
        return self

    @property
    def active(self) -> bool:
        return self.perp_path is not None or self.perp_from is not None


class MarketConfig(StrictModel):
    """The share of the real BTC perpetual market the model stands for (DESIGN section 6).

    The populations' capital and sizes, the spot venue's depth and the exchange's fund seeds are
    written for ``reference_scale``; a run at ``scale`` multiplies all of them by
    ``scale / reference_scale`` (:meth:`ModelConfig.scaled`), so the ratios that drive cascades
    (depth, volume, value and arbitrage capacity, the fund, each over open interest) stay
    those the config was calibrated to while the market grows or shrinks. Counts do not change
    (the speed budget), and neither do the rulebook's margin tiers, which are the venue's.
    """

    scale: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="share of the real market modelled (default: reference_scale)",
    )
    reference_scale: float = Field(
        default=0.0012,
        gt=0,
        le=1,
        description="the share the config's capital and sizes are written for",
    )
    real_open_interest_btc: float = Field(
        default=500_000.0,
        gt=0,
        le=BTC_SUPPLY,
        description="open interest of the real market the share is of (BTC, one side)",
    )

    @property
    def factor(self) -> float:
        """What capital and sizes are multiplied by: ``scale / reference_scale``."""
        return 1.0 if self.scale is None else self.scale / self.reference_scale


SCALED_FIELDS = {
    "retail": ("capital.median", "minimum_balance"),
    "whales": ("capital.median", "clip_btc", "hunt_min_cluster_btc"),
    "market_makers": ("capital.median", "size_btc", "inventory_limit_btc"),
    "arbitrageurs": ("capital.median", "clip_btc", "catch_size_btc"),
    "fundamental_traders": ("capital.median", "btc_per_bps", "clip_btc", "rebalance_btc"),
    "spot_value_traders": ("capital.median", "btc_per_bps", "clip_btc", "news_btc_per_bps"),
    "world": ("spot.depth_1pct_btc",),
    "exchange": ("insurance_fund_seed", "backstop_vault_seed"),
}
"""The keys ``market.scale`` multiplies (dotted within each section); the makers' response to
taker flow (``market_makers.flow_bps_per_btc``) is divided by the same factor."""


class ModelConfig(StrictModel):
    """A whole run: exchange rulebook, world, populations and recording."""

    run: RunConfig = RunConfig()
    exchange: Rulebook
    world: WorldConfig = WorldConfig()
    retail: RetailConfig = RetailConfig()
    whales: WhaleConfig = WhaleConfig()
    market_makers: MarketMakerConfig = MarketMakerConfig()
    arbitrageurs: ArbitrageurConfig = ArbitrageurConfig()
    fundamental_traders: FundamentalTraderConfig = FundamentalTraderConfig()
    spot_value_traders: SpotValueTraderConfig = SpotValueTraderConfig()
    trading: TradingConfig = TradingConfig()
    market: MarketConfig = MarketConfig()
    replay: ReplayConfig = ReplayConfig()

    @property
    def ticks(self) -> int:
        return round(self.run.hours * 3_600 / self.run.tick_seconds)

    def scaled(self) -> ModelConfig:
        """This config with :data:`SCALED_FIELDS` multiplied by ``market.factor`` (itself when
        the factor is 1): the same market at another share of the real one. The copy is written
        for its own scale (its factor is 1), so scaling it again changes nothing.

        >>> from abm.config import load_config
        >>> config = load_config("configs/baseline.yaml", ["market.scale=0.0024"])
        >>> config.scaled().market_makers.size_btc == 2 * config.market_makers.size_btc
        True
        """
        factor = self.market.factor
        if factor == 1.0:
            return self
        data = self.model_dump()
        for section, keys in SCALED_FIELDS.items():
            for key in keys:
                *path, last = [section, *key.split(".")]
                holder = data
                for part in path:
                    holder = holder[part]
                holder[last] = holder[last] * factor
        data["market_makers"]["flow_bps_per_btc"] /= factor
        data["market"]["reference_scale"] = self.market.scale
        return type(self).model_validate(data)

    @property
    def minutes(self) -> float:
        """The run's length in minutes (its ticks times the tick)."""
        return self.ticks * self.run.tick_seconds / 60

    def warnings(self) -> list[str]:
        """What in this config is valid but likely not what was meant, one sentence each: a
        shock that starts at or after the run's end (it never happens, and a crash metric has
        no window), and scripted shocks on top of a replayed price file. The run summary and
        the sweep summary print them."""
        out = []
        for i, shock in enumerate(self.world.shocks):
            start = shock.start(self.minutes)
            if start >= self.minutes:
                out.append(
                    f"world.shocks[{i}] starts at minute {start:,.6g}, at or after the run's end "
                    f"(minute {self.minutes:,.6g}, run.hours {self.run.hours:g}): it never "
                    "happens; time it from the end (minutes_before_end) or lengthen the run"
                )
        if self.world.process == "csv" and self.world.shocks:
            out.append(
                f"world.shocks: {len(self.world.shocks)} scripted "
                f"{'shock moves' if len(self.world.shocks) == 1 else 'shocks move'} the "
                f"replayed prices of {self.world.csv_path} (world.shocks=[] replays the file alone)"
            )
        return out

    @model_validator(mode="after")
    def _runnable(self) -> ModelConfig:
        """Checks across sections, so that a config that validates also builds: at least one
        tick, a start price the exchange can quote, and deposits that fit the exchange's
        integers (the rulebook checks its own units). Each problem on its own line."""
        problems = []
        run, ex, world = self.run, self.exchange, self.world
        if not 1 <= self.ticks <= MAX_TICKS:
            problems.append(
                f"run.hours {run.hours:g} at run.tick_seconds {run.tick_seconds:g} give "
                f"{self.ticks:,} ticks; allowed: 1 to {MAX_TICKS:,} (run.hours at least "
                f"{run.tick_seconds / 3_600:.3g})"
            )
        tick_micro = round(ex.tick_size * MICRO)
        if world.process != "csv":
            low = MIN_START_TICKS * tick_micro / MICRO
            high = ex.price_filter.max_price / 10
            if not low <= world.start_price <= high:
                problems.append(
                    f"world.start_price {world.start_price:,.10g} USDT is outside {low:,.10g} to "
                    f"{high:,.10g} USDT: at least {MIN_START_TICKS:,} ticks of "
                    f"exchange.tick_size {ex.tick_size:g} and at most a tenth of "
                    f"exchange.price_filter.max_price {ex.price_filter.max_price:,.10g}"
                )
        for i, shock in enumerate(world.shocks):
            if shock.start(self.minutes) < 0:
                problems.append(
                    f"world.shocks[{i}].minutes_before_end {shock.minutes_before_end:g} is more "
                    f"than the run's {self.minutes:,.6g} minutes; allowed: at most "
                    f"{self.minutes:,.6g}"
                )
        if world.jumps_per_day * run.tick_seconds > 86_400:
            problems.append(
                f"world.jumps_per_day {world.jumps_per_day:g} is more than one jump per "
                f"{run.tick_seconds:g}-second tick; allowed: at most {86_400 / run.tick_seconds:g}"
            )
        expected = ex.insurance_fund_seed + ex.backstop_vault_seed
        for name in (
            "retail",
            "whales",
            "market_makers",
            "arbitrageurs",
            "fundamental_traders",
            "spot_value_traders",
        ):
            section = getattr(self, name)
            capital = section.capital
            expected += section.count * capital.median * math.exp(capital.sigma**2 / 2)
        if expected > DEPOSIT_LIMIT_USDT:
            problems.append(
                f"the seeds and the expected capital of all traders (count x capital) come to "
                f"{expected:.3g} USDT; allowed: at most {DEPOSIT_LIMIT_USDT:.0e} USDT in all"
            )
        if problems:
            raise ValueError("\n  ".join(problems))
        return self


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of a resolved config (as JSON data), seed included: the identity of one run.

    >>> config_hash({"run": {"seed": 1}}) == config_hash({"run": {"seed": 9}})
    False
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def scenario_hash(config: dict[str, Any]) -> str:
    """SHA-256 of a resolved config (as JSON data) with ``run.seed`` left out, so that the
    replications of one experiment share it (DESIGN section 9).

    >>> scenario_hash({"run": {"seed": 1, "hours": 2}}) == scenario_hash({"run": {"seed": 9, "hours": 2}})
    True
    """
    bare = {**config, "run": {k: v for k, v in config.get("run", {}).items() if k != "seed"}}
    return config_hash(bare)
