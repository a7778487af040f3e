"""Validated, typed configuration: the only place defaults live.

Configs are YAML files validated by pydantic. Unknown keys are rejected and every error names the
key, what was wrong and what is allowed. A YAML file may ``extends:`` another (path relative to
itself); values are merged key by key, the extending file winning.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MICRO = 1_000_000
"""Micro-units of the quote currency per unit (1 USDT = 1,000,000)."""

Backstop = Literal[
    "insurance_fund",
    "backstop_vault",
    "adl",
    "socialized_loss",
    "exchange_absorbs",
    "trader_debt",
]


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and what is allowed."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _is_whole(value: float, scale: int) -> bool:
    scaled = value * scale
    return abs(scaled - round(scaled)) < 1e-6


class Bracket(StrictModel):
    """One maintenance-margin tier: positions up to ``notional_cap`` USDT."""

    notional_cap: float = Field(gt=0, description="upper notional bound in USDT (inf allowed)")
    max_leverage: float = Field(ge=1, le=1000)
    mmr: float = Field(gt=0, lt=1, description="maintenance margin rate")

    @field_validator("mmr")
    @classmethod
    def _mmr_in_ppm(cls, v: float) -> float:
        if not _is_whole(v, MICRO):
            raise ValueError(f"mmr {v} must be a whole number of parts per million")
        return v


class MarkPriceRules(StrictModel):
    mode: Literal["last", "index_basis", "binance_median"] = "binance_median"
    basis_window_ticks: int = Field(default=60, ge=1, le=86_400)


class FundingRules(StrictModel):
    interval_ticks: int = Field(default=28_800, ge=1, description="8 h at 1-second ticks")
    sample_interval_ticks: int = Field(default=5, ge=1)
    interest_rate: float = Field(default=0.0001, ge=-0.01, le=0.01, description="per interval")
    premium_clamp: float = Field(default=0.0005, ge=0, le=0.01)
    rate_cap: float = Field(default=0.0075, gt=0, le=0.05)
    impact_notional: float = Field(default=25_000.0, gt=0, description="USDT")
    rate_period_ticks: int | None = Field(
        default=None,
        ge=1,
        description="period the premium-plus-interest rate is quoted for (default: the "
        "interval); each interval pays rate x interval / period, e.g. an 8-hour rate paid hourly",
    )


class LiquidationRules(StrictModel):
    order: Literal["ioc_bankruptcy", "market"] = "ioc_bankruptcy"
    slippage: float = Field(
        default=0.05, gt=0, lt=1, description="bound for market liquidation orders"
    )
    partial: bool = False
    partial_fraction: float = Field(default=0.2, gt=0, le=1)
    partial_min_notional: float = Field(default=100_000.0, ge=0, description="USDT")
    clearance_fee: float = Field(default=0.005, ge=0, lt=0.2)
    clearance_fee_to: Literal["insurance_fund", "exchange"] = "insurance_fund"
    surplus_to_insurance: bool = True
    max_rounds_per_tick: int = Field(default=10, ge=1, le=1000)
    adl_ranking: Literal["bitmex", "binance", "random"] = "bitmex"
    adl_refresh_ticks: int = Field(
        default=60, ge=1, description="the ADL queue is re-ranked at most this often"
    )
    insurance_unwind_slippage: float = Field(default=0.1, gt=0, lt=1)


class Rulebook(StrictModel):
    """The exchange's rules, every one a parameter; presets live in ``configs/exchanges``."""

    name: str = "custom"
    tick_size: float = Field(default=0.1, gt=0, description="USDT per price tick")
    lot_size: float = Field(default=0.001, gt=0, description="BTC per quantity lot")
    brackets: tuple[Bracket, ...] = Field(min_length=1)
    max_leverage: float = Field(default=125, ge=1, le=1000, description="global cap")
    maker_fee: float = Field(default=0.0002, gt=-0.01, lt=0.01)
    taker_fee: float = Field(default=0.0004, ge=0, lt=0.01)
    margin_mode: Literal["isolated", "cross"] = "isolated"
    mark_price: MarkPriceRules = MarkPriceRules()
    funding: FundingRules = FundingRules()
    liquidation: LiquidationRules = LiquidationRules()
    backstops: tuple[Backstop, ...] = ("insurance_fund", "adl", "exchange_absorbs")
    insurance_fund_seed: float = Field(default=1_000_000.0, ge=0, description="USDT")
    backstop_vault_seed: float = Field(default=0.0, ge=0, description="USDT")

    @field_validator("maker_fee", "taker_fee")
    @classmethod
    def _fee_in_ppm(cls, v: float) -> float:
        if not _is_whole(v, MICRO):
            raise ValueError(f"fee rate {v} must be a whole number of parts per million")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rulebook:
        if not _is_whole(self.tick_size, MICRO):
            raise ValueError(f"tick_size {self.tick_size} must be a whole number of micro-USDT")
        if not _is_whole(self.tick_size * MICRO * self.lot_size, 1):
            raise ValueError(
                f"tick_size x lot_size = {self.tick_size * self.lot_size} USDT must be a whole "
                "number of micro-USDT so that every PnL is an exact integer"
            )
        caps = [b.notional_cap for b in self.brackets]
        if any(later <= earlier for earlier, later in zip(caps, caps[1:], strict=False)):
            raise ValueError(f"brackets: notional_cap must increase, got {caps}")
        leverages = [b.max_leverage for b in self.brackets]
        if any(later > earlier for earlier, later in zip(leverages, leverages[1:], strict=False)):
            raise ValueError(
                f"brackets: max_leverage must not rise from tier to tier, got {leverages}"
            )
        mmrs = [b.mmr for b in self.brackets]
        if any(later < earlier for earlier, later in zip(mmrs, mmrs[1:], strict=False)):
            raise ValueError(f"brackets: mmr must not decrease from tier to tier, got {mmrs}")
        if not math.isinf(caps[-1]):
            raise ValueError("brackets: the last notional_cap must be .inf (positions of any size)")
        for b in self.brackets:
            if b.mmr >= 1 / b.max_leverage:
                raise ValueError(
                    f"brackets: mmr {b.mmr} must be below the initial margin 1/{b.max_leverage} "
                    "of its tier, or positions are liquidatable as soon as opened"
                )
        if len(set(self.backstops)) != len(self.backstops):
            raise ValueError(f"backstops: each step may appear once, got {list(self.backstops)}")
        if not {"exchange_absorbs", "trader_debt"} & set(self.backstops):
            raise ValueError(
                "backstops: must include 'exchange_absorbs' or 'trader_debt' so that every "
                f"deficit lands somewhere; got {list(self.backstops)}"
            )
        return self


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, following ``extends:`` in it and in any nested mapping (each path
    relative to the file that names it); raises ConfigError naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(data)}")
    return _resolve_extends(data, path.parent)


def describe_errors(err: ValidationError, where: str) -> str:
    """One line per problem: the dotted key, what was wrong, and what is allowed."""
    lines = [f"invalid {where}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check the spelling against the documented keys)")
        else:
            message = e["msg"].removeprefix("Value error, ")
            given = e.get("input")
            shown = "" if isinstance(given, dict | list | tuple) else f" (got {given!r})"
            lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def load_rulebook(path: str | Path) -> Rulebook:
    """Load and validate a rulebook YAML file."""
    data = read_yaml(path)
    try:
        return Rulebook.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"rulebook {path}")) from err


class Shock(StrictModel):
    """A scenario move: the index drifts by ``move`` (e.g. -0.1 for -10%) over ``minutes``
    starting at minute ``start_minute``; shocks compose multiplicatively."""

    start_minute: float = Field(ge=0)
    minutes: float = Field(gt=0)
    move: float = Field(gt=-0.95, lt=10)


class WorldConfig(StrictModel):
    """The exogenous spot index."""

    process: Literal["garch_jump", "csv"] = "garch_jump"
    seed: int | None = Field(
        default=None, ge=0, description="seed of the index path alone (default: from run.seed)"
    )
    start_price: float = Field(default=50_000.0, gt=0, description="USDT")
    annual_volatility: float = Field(
        default=0.7, gt=0, le=5, description="long-run annualised volatility of log returns"
    )
    vol_persistence: float = Field(
        default=0.9995, gt=0, lt=1, description="GARCH alpha + beta per tick (clustering)"
    )
    vol_reaction: float = Field(
        default=0.008, gt=0, lt=1, description="GARCH alpha: weight of the last squared shock"
    )
    tail_df: float = Field(default=4.0, gt=2, le=1000, description="Student-t innovations")
    jumps_per_day: float = Field(default=2.0, ge=0, le=1000)
    jump_std: float = Field(default=0.006, ge=0, lt=1, description="std of a jump's log size")
    shocks: tuple[Shock, ...] = ()
    csv_path: str | None = Field(default=None, description="CSV with columns timestamp,price")
    price_discovery_share: float = Field(
        default=0.0, ge=0, le=1, description="per-tick pull of the index towards the perp's last"
    )

    @model_validator(mode="after")
    def _csv_needs_path(self) -> WorldConfig:
        if self.process == "csv" and not self.csv_path:
            raise ValueError("world.csv_path: required when world.process is 'csv'")
        if self.vol_reaction >= self.vol_persistence:
            raise ValueError(
                f"world.vol_reaction {self.vol_reaction} must be below vol_persistence "
                f"{self.vol_persistence} (GARCH beta = persistence - reaction must be positive)"
            )
        return self


class LogNormal(StrictModel):
    """A log-normal draw given by its median and the sigma of its log."""

    median: float = Field(gt=0)
    sigma: float = Field(default=1.0, ge=0, le=5)


class Uniform(StrictModel):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high {self.high} must not be below low {self.low}")
        return self


class Choice(StrictModel):
    """A discrete distribution: ``values`` drawn with relative ``weights``."""

    values: tuple[int, ...] = Field(min_length=1)
    weights: tuple[float, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_length(self) -> Choice:
        if len(self.values) != len(self.weights):
            raise ValueError(
                f"values ({len(self.values)}) and weights ({len(self.weights)}) differ in length"
            )
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        return self


class RetailConfig(StrictModel):
    count: int = Field(default=3_000, ge=0, le=10_000_000)
    activity_per_hour: float = Field(default=2.0, gt=0, le=3_600)
    capital: LogNormal = LogNormal(median=500.0, sigma=1.2)
    leverage: Choice = Choice(
        values=(2, 3, 5, 10, 20, 25, 50, 75, 100, 125),
        weights=(6, 6, 14, 24, 18, 10, 12, 4, 4, 2),
    )
    above_cap_stay_out: float = Field(default=0.3, ge=0, le=1)
    margin_fraction: Uniform = Uniform(low=0.2, high=0.9)
    stop_loss_share: float = Field(default=0.1, ge=0, le=1)
    stop_distance: Uniform = Uniform(low=0.01, high=0.06)
    stop_on_mark_share: float = Field(default=0.5, ge=0, le=1)
    stop_limit_share: float = Field(default=0.2, ge=0, le=1)
    holding_minutes: LogNormal = LogNormal(median=90.0, sigma=1.0)
    trend_share: float = Field(default=0.45, ge=0, le=1, description="trend followers")
    contrarian_share: float = Field(default=0.25, ge=0, le=1, description="dip buyers")
    herding_weight: float = Field(default=0.3, ge=0, le=1)
    long_bias: float = Field(default=0.15, ge=-1, le=1, description="retail's lean to long")
    noise: float = Field(default=0.6, ge=0, le=5, description="std of the idiosyncratic signal")
    lookback_minutes: float = Field(default=10.0, gt=0, le=1_440)
    reentry_probability: float = Field(default=0.3, ge=0, le=1)
    minimum_balance: float = Field(default=10.0, ge=0, description="USDT; below it, wiped out")
    wipe_out_share: float = Field(
        default=0.1, ge=0, le=1, description="wiped out below this share of net deposits"
    )

    @model_validator(mode="after")
    def _shares(self) -> RetailConfig:
        if self.trend_share + self.contrarian_share > 1:
            raise ValueError(
                "trend_share + contrarian_share must not exceed 1 (the rest trade on noise)"
            )
        return self


class WhaleConfig(StrictModel):
    count: int = Field(default=4, ge=0, le=10_000)
    activity_per_hour: float = Field(default=120.0, gt=0, le=3_600)
    capital: LogNormal = LogNormal(median=5_000_000.0, sigma=0.5)
    leverage: int = Field(default=3, ge=1, le=125)
    clip_btc: float = Field(default=2.0, gt=0, description="size of one market order")
    hunt: bool = True
    hunt_max_distance: float = Field(default=0.02, gt=0, lt=0.5)
    hunt_min_cluster_btc: float = Field(default=5.0, gt=0)
    map_every_minutes: float = Field(default=1.0, gt=0)
    campaign_minutes: float = Field(default=10.0, gt=0)
    take_profit: float = Field(default=0.01, gt=0, lt=1)


class MarketMakerConfig(StrictModel):
    count: int = Field(default=4, ge=0, le=10_000)
    capital: LogNormal = LogNormal(median=2_000_000.0, sigma=0.3)
    leverage: int = Field(default=5, ge=1, le=125)
    levels: int = Field(default=10, ge=1, le=50)
    level_spacing_bps: float = Field(default=3.0, gt=0)
    half_spread_bps: float = Field(default=1.0, gt=0)
    size_btc: float = Field(default=1.0, gt=0)
    requote_ticks: int = Field(default=5, ge=1)
    anchor_to_last: float = Field(
        default=0.25, ge=0, le=1, description="weight of the perp's last price in fair value"
    )
    inventory_limit_btc: float = Field(default=30.0, gt=0)
    inventory_skew_bps: float = Field(default=4.0, ge=0, description="at the inventory limit")
    vol_window_ticks: int = Field(default=60, ge=2)
    vol_widen: float = Field(default=1.0, ge=0, description="half-spread per bp of tick vol")
    stress_move_bps: float = Field(default=60.0, gt=0, description="move over the vol window")
    stress_pull_probability: float = Field(default=0.5, ge=0, le=1)
    stress_widen: float = Field(default=4.0, ge=1)


class ArbitrageurConfig(StrictModel):
    count: int = Field(default=3, ge=0, le=10_000)
    activity_per_hour: float = Field(default=1_800.0, gt=0, le=3_600)
    capital: LogNormal = LogNormal(median=3_000_000.0, sigma=0.3)
    leverage: int = Field(default=3, ge=1, le=125)
    basis_threshold_bps: float = Field(default=8.0, gt=0)
    funding_threshold: float = Field(default=0.0003, gt=0)
    clip_btc: float = Field(default=2.0, gt=0)
    max_position_btc: float = Field(default=40.0, gt=0)
    catch_distances: tuple[float, ...] = (0.008, 0.015, 0.025)
    catch_size_btc: float = Field(default=3.0, gt=0)


class TradingConfig(StrictModel):
    """Conventions all agents share."""

    market_protection: float = Field(
        default=0.01, gt=0, lt=0.5, description="market orders fill no further from the mark"
    )


class RunConfig(StrictModel):
    hours: float = Field(default=24.0, gt=0, le=24 * 365)
    tick_seconds: float = Field(default=1.0, gt=0, le=3_600)
    seed: int = Field(default=42, ge=0)
    equity_every_ticks: int = Field(default=60, ge=1)
    liquidation_map_every_ticks: int = Field(default=300, ge=1)


class ModelConfig(StrictModel):
    """A whole run: exchange rulebook, world, populations and recording."""

    run: RunConfig = RunConfig()
    exchange: Rulebook
    world: WorldConfig = WorldConfig()
    retail: RetailConfig = RetailConfig()
    whales: WhaleConfig = WhaleConfig()
    market_makers: MarketMakerConfig = MarketMakerConfig()
    arbitrageurs: ArbitrageurConfig = ArbitrageurConfig()
    trading: TradingConfig = TradingConfig()

    @property
    def ticks(self) -> int:
        return round(self.run.hours * 3_600 / self.run.tick_seconds)


def _resolve_extends(data: Any, base: Path) -> Any:
    """Resolve ``extends:`` in nested mappings (paths relative to the file being read)."""
    if not isinstance(data, dict):
        return data
    resolved = {key: _resolve_extends(value, base) for key, value in data.items()}
    parent = resolved.pop("extends", None)
    if parent is not None:
        resolved = _merge(read_yaml(base / parent), resolved)
    return resolved


def parse_override(text: str) -> tuple[list[str], Any]:
    """``key.sub=value`` -> (["key", "sub"], value parsed as a YAML scalar)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. exchange.max_leverage=20")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be dotted names, e.g. retail.count")
    return key.split("."), yaml.safe_load(raw)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config mapping (a copy is returned)."""
    result = _merge(data, {})
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else child
                if not isinstance(child, dict):
                    raise ConfigError(f"--set {text!r}: {part} is not a section")
                node[part] = child
            else:
                node[part] = dict(child)
            node = node[part]
        node[path[-1]] = value
    return result


def load_config(path: str | Path, overrides: list[str] = ()) -> ModelConfig:
    """Load, override and validate a model config; ConfigError names every bad key."""
    path = Path(path)
    data = apply_overrides(read_yaml(path), list(overrides))
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"config {path}")) from err
