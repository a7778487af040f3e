"""The populations: the names they go by in the outputs, and the config section of each kind of
trader (how many, their capital and how they trade), with the draws those sections use and the
conventions all agents share."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from abm.config.base import StrictModel
from abm.config.units import BTC_SUPPLY
from abm.exchange.ledger import SystemAccount

POPULATIONS = ("retail", "whale", "market_maker", "arbitrageur", "fundamental")
"""The populations with accounts on the exchange, in the order tables and figures list them:
each trader class names its own (``population``); the spot value traders (``spot_value``) trade
spot only and have none."""
SYSTEM_POPULATIONS = {
    SystemAccount.EXCHANGE: "exchange",
    SystemAccount.INSURANCE_FUND: "insurance_fund",
    SystemAccount.BACKSTOP_VAULT: "backstop_vault",
    SystemAccount.EXTERNAL: "external",
}
"""The population of each of the exchange's system accounts, in the order of their ids."""


class LogNormal(StrictModel):
    """A log-normal draw given by its median and the sigma of its log."""

    median: float = Field(gt=0, le=1e9, description="median of the draw, in the key's unit")
    sigma: float = Field(
        default=1.0, ge=0, le=5, description="standard deviation of the draw's natural log"
    )


class Uniform(StrictModel):
    """A uniform draw between ``low`` and ``high``."""

    low: float = Field(description="lowest value, in the key's unit")
    high: float = Field(description="highest value, in the key's unit")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high {self.high} must not be below low {self.low}")
        return self


class Choice(StrictModel):
    """A discrete distribution: ``values`` drawn with relative ``weights``."""

    values: tuple[int, ...] = Field(min_length=1, description="the values drawn")
    weights: tuple[float, ...] = Field(
        min_length=1, description="relative weight of each value (any positive sum)"
    )

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
    """Retail traders: many, small, often highly leveraged; each draws its own traits (leverage,
    margin mode, style, stop-loss habit) once."""

    count: int = Field(default=3_000, ge=0, le=10_000_000, description="traders")
    activity_per_hour: float = Field(
        default=2.0, gt=0, le=3_600, description="expected actions per trader per hour"
    )
    capital: LogNormal = Field(
        default=LogNormal(median=500.0, sigma=1.2),
        description="USDT per trader (and per re-deposit), log-normal: median, sigma of the log",
    )
    leverage: Choice = Field(
        default=Choice(
            values=(2, 3, 5, 10, 20, 25, 50, 75, 100, 125),
            weights=(6, 6, 14, 24, 18, 10, 12, 4, 4, 2),
        ),
        description="leverage a trader wants (x), drawn once per trader",
    )
    above_cap_stay_out: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="probability that a trader wanting more than exchange.max_leverage stays "
        "out (else it joins at the cap)",
    )
    cross_margin_share: float = Field(
        default=0.7, ge=0, le=1, description="traders on cross margin (the rest isolated)"
    )
    margin_fraction: Uniform = Field(
        default=Uniform(low=0.2, high=0.9),
        description="share of the wallet committed as margin per trade, uniform, drawn once "
        "per trader",
    )
    stop_loss_share: float = Field(
        default=0.1, ge=0, le=1, description="share of traders who place a stop-loss"
    )
    stop_distance: Uniform = Field(
        default=Uniform(low=0.01, high=0.06),
        description="stop distance from the mark as a fraction of price (0.01: 1%), uniform, "
        "drawn once per trader",
    )
    stop_on_mark_share: float = Field(
        default=0.5, ge=0, le=1, description="share of stops triggered by the mark (else last)"
    )
    stop_limit_share: float = Field(
        default=0.2, ge=0, le=1, description="share of stops that are stop-limit (else market)"
    )
    holding_minutes: LogNormal = Field(
        default=LogNormal(median=90.0, sigma=1.0),
        description="minutes a position is held, log-normal, drawn per trade",
    )
    trend_share: float = Field(default=0.45, ge=0, le=1, description="trend followers")
    contrarian_share: float = Field(default=0.25, ge=0, le=1, description="dip buyers")
    herding_weight: float = Field(
        default=0.3, ge=0, le=1, description="pull of recent retail flow on the side chosen"
    )
    long_bias: float = Field(
        default=0.15, ge=-1, le=1, description="retail's lean to long, on average over time"
    )
    sentiment_std: float = Field(
        default=0.3,
        ge=0,
        le=5,
        description="std of the shared mood that moves the lean to long over time",
    )
    sentiment_half_life_hours: float = Field(
        default=12.0, gt=0, le=8_760, description="half-life of the shared mood (hours)"
    )
    noise: float = Field(default=0.6, ge=0, le=5, description="std of the idiosyncratic signal")
    lookback_minutes: float = Field(
        default=10.0, gt=0, le=1_440, description="minutes of trend that styles read"
    )
    reentry_probability: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="probability that a wiped-out trader deposits a new capital draw (else it "
        "leaves)",
    )
    minimum_balance: float = Field(
        default=10.0, ge=0, le=1e9, description="USDT; below it, wiped out"
    )
    wipe_out_share: float = Field(
        default=0.1, ge=0, le=1, description="wiped out below this share of net deposits"
    )

    @model_validator(mode="after")
    def _shares(self) -> RetailConfig:
        if self.trend_share + self.contrarian_share > 1:
            raise ValueError(
                "trend_share + contrarian_share must not exceed 1 (the rest trade on noise)"
            )
        fraction = self.margin_fraction
        if not 0 < fraction.low <= fraction.high <= 1:
            raise ValueError(
                f"margin_fraction: low {fraction.low} and high {fraction.high} must satisfy "
                "0 < low <= high <= 1 (a share of the balance)"
            )
        distance = self.stop_distance
        if not 0 < distance.low <= distance.high < 1:
            raise ValueError(
                f"stop_distance: low {distance.low} and high {distance.high} must satisfy "
                "0 < low <= high < 1 (a share of the price)"
            )
        if not all(1 <= v <= 1000 for v in self.leverage.values):
            raise ValueError(
                f"leverage.values {list(self.leverage.values)} must be whole leverages from 1 to "
                "1000"
            )
        return self


class WhaleConfig(StrictModel):
    """Whales: few, large capital, low leverage; they hunt liquidation clusters on the public
    liquidation map, else drift."""

    count: int = Field(default=4, ge=0, le=10_000, description="whales")
    activity_per_hour: float = Field(
        default=120.0, gt=0, le=3_600, description="expected actions per whale per hour"
    )
    capital: LogNormal = Field(
        default=LogNormal(median=5_000_000.0, sigma=0.5),
        description="USDT per whale, log-normal: median, sigma of the log",
    )
    leverage: int = Field(
        default=3, ge=1, le=125, description="x (capped by exchange.max_leverage)"
    )
    clip_btc: float = Field(
        default=2.0, gt=0, le=BTC_SUPPLY, description="size of one market order"
    )
    hunt: bool = Field(default=True, description="hunt liquidation clusters (false: drift only)")
    hunt_max_distance: float = Field(
        default=0.02,
        gt=0,
        lt=0.5,
        description="farthest cluster from the mark worth a hunt, fraction of price (0.02: 2%)",
    )
    hunt_min_cluster_btc: float = Field(
        default=5.0, gt=0, le=BTC_SUPPLY, description="smallest cluster worth a hunt (BTC)"
    )
    map_every_minutes: float = Field(
        default=1.0, gt=0, description="minutes between a whale's looks at the liquidation map"
    )
    campaign_minutes: float = Field(
        default=10.0, gt=0, description="longest a hunt lasts (minutes) before it closes"
    )
    take_profit: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="fraction of price; not read by the current hunt, which closes at the "
        "cluster or after campaign_minutes",
    )


class MarketMakerConfig(StrictModel):
    """Market makers: ladders on both sides around their own fair value (the index plus the
    basis they have seen, moved with the order flow, skewed against inventory), on the venue's
    market-maker fee tier."""

    count: int = Field(default=4, ge=0, le=10_000, description="market makers")
    capital: LogNormal = Field(
        default=LogNormal(median=2_000_000.0, sigma=0.3),
        description="USDT per market maker, log-normal: median, sigma of the log",
    )
    leverage: int = Field(
        default=5, ge=1, le=125, description="x (capped by exchange.max_leverage)"
    )
    levels: int = Field(default=10, ge=1, le=50, description="quotes on each side")
    level_spacing_bps: float = Field(
        default=1.0, gt=0, description="gap between levels (bps of fair value)"
    )
    level_spacing_power: float = Field(
        default=2.0,
        ge=1,
        le=3,
        description="level i sits spacing x i^power beyond the first (1: evenly spaced; 2: "
        "dense at the top, sparse further out, as real books are)",
    )
    half_spread_bps: float = Field(
        default=0.2, gt=0, description="distance of the first level from fair value, calm (bps)"
    )
    size_btc: float = Field(
        default=1.0, gt=0, le=BTC_SUPPLY, description="size of each level (BTC)"
    )
    requote_ticks: int = Field(
        default=5, ge=1, description="quotes are replaced at least this often (ticks)"
    )
    requote_move_bps: float = Field(
        default=0.5,
        gt=0,
        le=10_000,
        description="quotes are replaced when the index or the fair value moves this far (bps)",
    )
    loss_memory_minutes: float = Field(
        default=10.0, gt=0, le=10_080, description="memory of the maker's own profit and loss"
    )
    loss_tolerance_per_hour: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="loss rate (share of capital an hour) at which spreads double and sizes "
        "halve; more losses widen and thin more, up to the stress multipliers",
    )
    basis_half_life_seconds: float = Field(
        default=600.0, gt=0, description="memory of the basis (book mid minus index) in fair value"
    )
    index_weight: float = Field(
        default=0.3, ge=0, le=1, description="pull of fair value from the mid to index plus basis"
    )
    flow_bps_per_btc: float = Field(
        default=0.05, ge=0, description="fair value moved per BTC of recent net taker flow"
    )
    inventory_limit_btc: float = Field(
        default=30.0,
        gt=0,
        le=BTC_SUPPLY,
        description="inventory at which skew and size cut reach full strength",
    )
    inventory_skew_bps: float = Field(
        default=4.0, ge=0, description="fair value skew against inventory at its limit (bps)"
    )
    min_size_share: float = Field(
        default=0.1, gt=0, le=1, description="smallest size on the side that grows inventory"
    )
    vol_window_ticks: int = Field(
        default=60, ge=2, description="ticks of the volatility and stress windows"
    )
    vol_widen: float = Field(
        default=1.0, ge=0, description="bps of half-spread added per bp of tick volatility"
    )
    stress_move_bps: float = Field(
        default=60.0, gt=0, description="move over the vol window (bps) that means stress"
    )
    stress_widen: float = Field(
        default=4.0, ge=1, description="half-spread multiplier under stress"
    )
    stress_size_share: float = Field(
        default=0.5, gt=0, le=1, description="size multiplier under stress"
    )


def _check_delay(section: str, delay: Uniform) -> None:
    """ValueError unless a delay range lies at or above zero (information cannot arrive early)."""
    if delay.low < 0:
        raise ValueError(
            f"{section}.delay_seconds: low {delay.low:g} is below 0; allowed: delays of 0 "
            "seconds or more (information reaches a trader late, never early)"
        )


class FundamentalTraderConfig(StrictModel):
    """Value traders on the perp: each believes a value of its own (the information, late by its
    delay and off by an error that wanders) and leans against the perp's deviation from it
    beyond a threshold, with a position its capital and leverage bound."""

    count: int = Field(default=20, ge=0, le=100_000, description="value traders")
    activity_per_hour: float = Field(
        default=60.0, gt=0, le=3_600, description="expected actions per trader per hour"
    )
    capital: LogNormal = Field(
        default=LogNormal(median=300_000.0, sigma=0.5),
        description="USDT per trader, log-normal: median, sigma of the log",
    )
    leverage: int = Field(
        default=3, ge=1, le=125, description="x (capped by exchange.max_leverage)"
    )
    delay_seconds: Uniform = Field(
        default=Uniform(low=10.0, high=600.0),
        description="how late the information reaches a trader (s), uniform, drawn once",
    )
    estimate_error_bps: float = Field(
        default=20.0, ge=0, le=5_000, description="std of a trader's valuation error (bps)"
    )
    error_half_life_minutes: float = Field(
        default=1_440.0, gt=0, le=525_600, description="half-life of the valuation error (min)"
    )
    threshold_bps: Uniform = Field(
        default=Uniform(low=10.0, high=60.0),
        description="mispricing a trader ignores (bps), uniform, drawn once per trader",
    )
    btc_per_bps: float = Field(
        default=0.05,
        gt=0,
        le=BTC_SUPPLY,
        description="target position per bp of mispricing beyond threshold",
    )
    capital_use: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="largest position: this share of capital x leverage at the start price",
    )
    clip_btc: float = Field(default=1.0, gt=0, le=BTC_SUPPLY, description="largest order (BTC)")
    rebalance_btc: float = Field(
        default=10.0,
        ge=0,
        le=BTC_SUPPLY,
        description="a trader leaves its position alone while it is within this of the target "
        "(BTC): funds do not trade every basis point",
    )

    @model_validator(mode="after")
    def _delay(self) -> FundamentalTraderConfig:
        _check_delay("fundamental_traders", self.delay_seconds)
        return self


class SpotValueTraderConfig(StrictModel):
    """Spot value traders (the rest of the spot market): each believes a value of its own,
    trades on its news and holds a position against the spot price's gap from it, with an
    inventory its capital bounds."""

    count: int = Field(default=20, ge=0, le=100_000, description="spot value traders")
    activity_per_hour: float = Field(
        default=1_800.0, gt=0, le=3_600, description="expected actions per trader per hour"
    )
    capital: LogNormal = Field(
        default=LogNormal(median=5_000_000.0, sigma=0.3),
        description="USDT per trader (its inventory's limit either way), log-normal",
    )
    delay_seconds: Uniform = Field(
        default=Uniform(low=0.0, high=5.0),
        description="how late the information reaches a trader (s), uniform, drawn once",
    )
    error_bps: float = Field(
        default=10.0, ge=0, le=5_000, description="std of a trader's valuation error (bps)"
    )
    error_half_life_minutes: float = Field(
        default=60.0, gt=0, le=525_600, description="half-life of the valuation error (min)"
    )
    threshold_bps: Uniform = Field(
        default=Uniform(low=0.0, high=5.0),
        description="mispricing a trader ignores (bps), uniform, drawn once per trader",
    )
    news_btc_per_bps: float = Field(
        default=0.015,
        ge=0,
        le=BTC_SUPPLY,
        description="BTC bought per bp its belief rose (sold per bp it fell)",
    )
    btc_per_bps: float = Field(
        default=0.05,
        ge=0,
        le=BTC_SUPPLY,
        description="BTC held against each bp of mispricing beyond the threshold",
    )
    adjust_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="share of the way to its target inventory a trader trades an action",
    )
    clip_btc: float = Field(
        default=1.0, gt=0, le=BTC_SUPPLY, description="largest trade an action (BTC)"
    )

    @model_validator(mode="after")
    def _delay(self) -> SpotValueTraderConfig:
        _check_delay("spot_value_traders", self.delay_seconds)
        return self


class ArbitrageurConfig(StrictModel):
    """Arbitrageurs: a perp leg and a spot leg; they trade the basis and funding, carrying perp
    flow to the spot venue (the index), and rest deep orders that catch liquidations."""

    count: int = Field(default=3, ge=0, le=10_000, description="arbitrageurs")
    activity_per_hour: float = Field(
        default=1_800.0, gt=0, le=3_600, description="expected actions per arbitrageur per hour"
    )
    capital: LogNormal = Field(
        default=LogNormal(median=3_000_000.0, sigma=0.3),
        description="USDT per arbitrageur, log-normal: median, sigma of the log",
    )
    leverage: int = Field(
        default=3, ge=1, le=125, description="x (capped by exchange.max_leverage)"
    )
    edge_bps: float = Field(
        default=4.0,
        ge=0,
        le=10_000,
        description="basis a desk wants beyond the round trip's fees on both legs (bps)",
    )
    exit_bps: float = Field(
        default=-3.0,
        ge=-10_000,
        le=10_000,
        description="a leg is unwound when the basis in its favour falls below this (bps)",
    )
    funding_threshold: float = Field(
        default=0.0003,
        gt=0,
        description="funding rate (fraction per interval) beyond which it leans into funding",
    )
    clip_btc: float = Field(
        default=2.0, gt=0, le=BTC_SUPPLY, description="size of one perp order (BTC)"
    )
    capital_use: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="largest perp leg: this share of capital x leverage at the start price",
    )
    catch_distances: tuple[float, ...] = Field(
        default=(0.008, 0.015, 0.025),
        description="distances of the resting catch orders from the index, fractions of price",
    )
    catch_size_btc: float = Field(
        default=3.0, gt=0, le=BTC_SUPPLY, description="size of each catch order (BTC)"
    )

    @field_validator("catch_distances")
    @classmethod
    def _distances(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < d < 1 for d in v):
            raise ValueError(f"each distance must be a share of the price in (0, 1), got {list(v)}")
        return v


class TradingConfig(StrictModel):
    """Conventions all agents share."""

    market_protection: float = Field(
        default=0.01, gt=0, lt=0.5, description="market orders fill no further from the mark"
    )
