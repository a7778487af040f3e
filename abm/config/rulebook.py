"""The exchange's rulebook: margin tiers, mark price, funding, liquidation, fees, order filters
and backstops, every rule a parameter (the presets are in ``configs/exchanges``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from abm.config.base import ConfigError, StrictModel, describe_errors
from abm.config.reader import read_yaml
from abm.exchange.records import BackstopStep, LinkMatching
from abm.exchange.units import MICRO


def _is_whole(value: float, scale: int) -> bool:
    """Whether ``value`` is a whole number of ``1 / scale`` (parts per million, micro-USDT), up
    to float rounding: the exchange holds rates and prices as integers of that unit."""
    scaled = value * scale
    return abs(scaled - round(scaled)) < 1e-6


class Bracket(StrictModel):
    """One maintenance-margin tier: positions up to ``notional_cap`` USDT."""

    notional_cap: float = Field(
        gt=0, allow_inf_nan=True, description="upper notional bound in USDT (inf allowed)"
    )
    max_leverage: float = Field(ge=1, le=1000, description="highest leverage in the tier (x)")
    mmr: float = Field(
        gt=0, lt=1, description="maintenance margin rate: fraction of the position's notional"
    )

    @field_validator("mmr")
    @classmethod
    def _mmr_in_ppm(cls, v: float) -> float:
        if not _is_whole(v, MICRO):
            raise ValueError(f"mmr {v} must be a whole number of parts per million")
        return v


class MarkPriceRules(StrictModel):
    """How the mark price (the one that triggers liquidations) is formed."""

    mode: Literal["last", "index_basis", "binance_median"] = Field(
        default="binance_median",
        description="last trade; index plus the moving-average basis; or the median of the "
        "funding-adjusted index, the basis-adjusted index and the last trade (Binance)",
    )
    basis_window_ticks: int = Field(
        default=60, ge=1, le=86_400, description="ticks the moving-average basis spans"
    )


class FundingRules(StrictModel):
    """Funding: the premium of the perp over the index, sampled and settled between longs and
    shorts every interval."""

    interval_ticks: int = Field(
        default=28_800,
        ge=1,
        description="ticks between settlements (28,800: 8 h at 1-second ticks)",
    )
    sample_interval_ticks: int = Field(
        default=5, ge=1, description="the premium is sampled every this many ticks"
    )
    interest_rate: float = Field(
        default=0.0001, ge=-0.01, le=0.01, description="fraction of notional per interval"
    )
    premium_clamp: float = Field(
        default=0.0005,
        ge=0,
        le=0.01,
        description="interest minus premium is clamped to within this (fraction per interval)",
    )
    rate_cap: float = Field(
        default=0.0075, gt=0, le=0.05, description="largest funding rate (fraction per interval)"
    )
    impact_notional: float = Field(
        default=25_000.0,
        ge=1,
        le=1e9,
        description="USDT of the impact bid and ask the premium is measured at",
    )
    rate_period_ticks: int | None = Field(
        default=None,
        ge=1,
        description="period the premium-plus-interest rate is quoted for (default: the "
        "interval); each interval pays rate x interval / period, e.g. an 8-hour rate paid hourly",
    )


class LiquidationRules(StrictModel):
    """How a position whose margin ratio reaches the threshold is closed, and who is paid."""

    order: Literal["ioc_bankruptcy", "market"] = Field(
        default="ioc_bankruptcy",
        description="the liquidation order: immediate-or-cancel at the bankruptcy price, or a "
        "market order bounded by slippage",
    )
    slippage: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="bound of market liquidation orders from the mark (fraction of price)",
    )
    execution: Literal["book", "off_book"] = Field(
        default="book",
        description="book: the liquidation order trades in the book; off_book (a counterfactual "
        "knockout of the feedback channel): the backstop vault takes the position over at the "
        "mark, so forced orders never touch the book or the prices",
    )
    partial: bool = Field(default=False, description="liquidate large positions a part at a time")
    partial_fraction: float = Field(
        default=0.2, gt=0, le=1, description="share of the position a partial liquidation closes"
    )
    partial_min_notional: float = Field(
        default=100_000.0,
        ge=0,
        description="USDT; positions of at most this notional are liquidated whole",
    )
    clearance_fee: float = Field(
        default=0.005,
        ge=0,
        lt=0.2,
        description="liquidation fee: fraction of the closed notional, at most what is left",
    )
    clearance_fee_to: Literal["insurance_fund", "exchange"] = Field(
        default="insurance_fund", description="the account the clearance fee goes to"
    )
    surplus_to_insurance: bool = Field(
        default=True,
        description="what is left after a close better than the bankruptcy price goes to the "
        "insurance fund (false: it stays with the trader)",
    )
    max_rounds_per_tick: int = Field(
        default=10, ge=1, le=1000, description="liquidation rounds a tick at most"
    )
    adl_ranking: Literal["bitmex", "binance", "random"] = Field(
        default="bitmex", description="how winners are queued for auto-deleveraging"
    )
    adl_refresh_ticks: int = Field(
        default=60, ge=1, description="the ADL queue is re-ranked at most this often"
    )
    insurance_unwind_slippage: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description="bound of the insurance fund's unwind orders from the mark (fraction)",
    )
    liquidate_at_equality: bool = Field(
        default=True,
        description="liquidate when equity equals maintenance margin (margin ratio reaches "
        "100%, Binance's rule), not only when it falls below",
    )


class FeeTier(StrictModel):
    """Maker and taker fee rates of a class of accounts (negative maker fee: a rebate)."""

    maker_fee: float = Field(
        gt=-0.01, lt=0.01, description="fraction of notional (negative: a rebate)"
    )
    taker_fee: float = Field(ge=0, lt=0.01, description="fraction of notional")

    @model_validator(mode="after")
    def _ppm(self) -> FeeTier:
        for rate in (self.maker_fee, self.taker_fee):
            if not _is_whole(rate, MICRO):
                raise ValueError(f"fee rate {rate} must be a whole number of parts per million")
        return self


class PriceFilterRules(StrictModel):
    """Order filters of the venue: every order's price within a band around the mark, market
    orders no further than a bound from the mark, and caps on price and size.

    Defaults are Binance USD-M BTCUSDT's ``exchangeInfo`` filters: PERCENT_PRICE multiplierUp
    1.05 / multiplierDown 0.95 (of the mark price), marketTakeBound 0.05, PRICE_FILTER maxPrice
    4,529,764, LOT_SIZE maxQty 1,000 BTC, MARKET_LOT_SIZE maxQty 120 BTC.
    """

    band_up: float = Field(
        default=0.05, gt=0, le=10, description="limit prices at most mark x (1 + band_up)"
    )
    band_down: float = Field(
        default=0.05, gt=0, lt=1, description="limit prices at least mark x (1 - band_down)"
    )
    market_take_bound: float = Field(
        default=0.05, gt=0, lt=1, description="market orders fill no further from the mark"
    )
    max_price: float = Field(
        default=4_529_764.0, gt=0, le=1e9, description="highest order price (USDT)"
    )
    max_order_btc: float = Field(
        default=1_000.0, gt=0, le=1e7, description="largest limit order (BTC)"
    )
    max_market_order_btc: float = Field(
        default=120.0, gt=0, le=1e7, description="largest market order (BTC)"
    )

    @model_validator(mode="after")
    def _ppm(self) -> PriceFilterRules:
        for name in ("band_up", "band_down", "market_take_bound"):
            if not _is_whole(getattr(self, name), MICRO):
                raise ValueError(f"{name} must be a whole number of parts per million")
        return self


class Rulebook(StrictModel):
    """The exchange's rules, every one a parameter; presets live in ``configs/exchanges``."""

    name: str = Field(default="custom", description="the preset's name, for the manifest")
    tick_size: float = Field(default=0.1, gt=0, le=10_000, description="USDT per price tick")
    lot_size: float = Field(default=0.001, ge=1e-8, le=1_000, description="BTC per quantity lot")
    brackets: tuple[Bracket, ...] = Field(
        min_length=1,
        description="maintenance-margin tiers, smallest notional_cap first, the last .inf",
    )
    max_leverage: int = Field(
        default=125, ge=1, le=1000, description="leverage cap of every account (x, whole)"
    )
    maker_fee: float = Field(
        default=0.0002, gt=-0.01, lt=0.01, description="fraction of notional (negative: a rebate)"
    )
    taker_fee: float = Field(default=0.0004, ge=0, lt=0.01, description="fraction of notional")
    margin_mode: Literal["isolated", "cross"] = Field(
        default="isolated",
        description="margin mode of accounts that do not choose one (retail chooses: "
        "retail.cross_margin_share)",
    )
    mark_price: MarkPriceRules = MarkPriceRules()
    funding: FundingRules = FundingRules()
    liquidation: LiquidationRules = LiquidationRules()
    price_filter: PriceFilterRules = PriceFilterRules()
    market_maker_fees: FeeTier = Field(
        default=FeeTier(maker_fee=-0.00003, taker_fee=0.00017),
        description="fee tier of accounts opened as market makers (a liquidity-provider program)",
    )
    backstops: tuple[BackstopStep, ...] = Field(
        default=("insurance_fund", "adl", "exchange_absorbs"),
        description="the steps that cover a liquidation's deficit, in order",
    )
    link_matching: LinkMatching = Field(
        default="fifo",
        description="which links a closing side leaves: oldest first (fifo), newest first "
        "(lifo) or all in proportion (pro_rata); who is paid a loss, not how much anyone has",
    )
    insurance_fund_seed: float = Field(default=1_000_000.0, ge=0, le=1e11, description="USDT")
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
        value_per_tick_lot = round(round(self.tick_size * MICRO) * self.lot_size)
        if value_per_tick_lot < 1:
            raise ValueError(
                f"tick_size {self.tick_size:g} x lot_size {self.lot_size:g} is "
                f"{self.tick_size * self.lot_size:.3g} USDT; allowed: at least one micro-USDT "
                "(0.000001), so that one lot at one tick is worth a whole amount"
            )
        if round(self.funding.impact_notional * MICRO) < value_per_tick_lot:
            raise ValueError(
                f"funding.impact_notional {self.funding.impact_notional:g} USDT is below the "
                f"value of one lot at one tick ({value_per_tick_lot / MICRO:g} USDT)"
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


def load_rulebook(path: str | Path) -> Rulebook:
    """Load and validate a rulebook YAML file."""
    data = read_yaml(path)
    try:
        return Rulebook.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"rulebook {path}")) from err
