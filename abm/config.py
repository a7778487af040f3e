"""Validated, typed configuration: the only place defaults live.

Configs are YAML files validated by pydantic. Unknown keys are rejected and every error names the
key, what was wrong and what is allowed. A YAML file may ``extends:`` another (path relative to
itself); values are merged key by key, the extending file winning.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from abm.exchange.records import BackstopStep
from abm.exchange.units import MICRO

BTC_SUPPLY = 21_000_000
"""Upper bound of every quantity in BTC in the config."""

DEPOSIT_LIMIT_USDT = 1e12
"""What a run may deposit in all (seeds and expected capital), a little below the exchange's
limit on net deposits (``abm.exchange.instrument.MAX_TOTAL_DEPOSITS``, 2**60 micro-USDT)."""

MIN_START_TICKS = 1_000
"""The index starts at least this many price ticks above zero, so that a move of 0.1% shows."""

MAX_TICKS = 31_536_000
"""The longest run, in ticks: a year of 1-second ticks."""


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and what is allowed."""


class SectionFileError(ConfigError):
    """A section given a text that names no file (``--set retail=count``)."""


def _takes_numbers_not_booleans(annotation: Any) -> bool:
    """Whether a field of this type holds numbers (``int``, ``float``, optionally ``None``)."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, UnionType):
        args = get_args(annotation)
        return bool not in args and any(_takes_numbers_not_booleans(a) for a in args)
    return False


def _holds_boolean_for_number(value: Any, annotation: Any) -> bool:
    """A YAML boolean (``on``, ``yes``, ``true``...) given where a number is expected, directly
    or as an item of a tuple of numbers."""
    if isinstance(value, bool):
        return _takes_numbers_not_booleans(annotation)
    args = get_args(annotation)
    if get_origin(annotation) is tuple and isinstance(value, list | tuple) and args:
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return item is not None and any(
            isinstance(v, bool) and _takes_numbers_not_booleans(item) for v in value
        )
    return False


class StrictModel(BaseModel):
    """Unknown keys are refused, numbers must be finite (a field that allows ``.inf`` says so)
    and a YAML boolean is never read as a number (``max_leverage: on`` is an error, not 1)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is not None and _holds_boolean_for_number(
            value, cls.model_fields[info.field_name].annotation
        ):
            raise ValueError(
                "must be a number, not a boolean (YAML reads true, false, on, off, yes and no "
                "as booleans)"
            )
        return value


def _is_whole(value: float, scale: int) -> bool:
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
    max_leverage: float = Field(
        default=125, ge=1, le=1000, description="leverage cap of every account (x)"
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


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one YAML mapping (PyYAML would silently keep the last)."""

    def __init__(self, key: Any, mark: Any, first: Any) -> None:
        super().__init__(f"key {key!r} given twice")
        self.key, self.mark, self.first = key, mark, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise _DuplicateKey(key, key_node.start_mark, first)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


MAX_CONFIG_BYTES = 1_000_000
"""The largest config file read (the shipped ones are under 20 KB)."""
MAX_CONFIG_DEPTH = 32
"""The deepest nesting of mappings and lists a config may have (the schema needs 4)."""


class _TooDeep(ValueError):
    """YAML nested beyond :data:`MAX_CONFIG_DEPTH`."""


def _depth_ok(data: Any) -> None:
    """_TooDeep when ``data`` nests mappings and lists beyond MAX_CONFIG_DEPTH (walked
    without recursion, so that the check itself cannot overflow the stack)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise _TooDeep
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]


def load_yaml_text(text: str) -> Any:
    """YAML text as Python data, refusing a key given twice (``_DuplicateKey``), nesting beyond
    MAX_CONFIG_DEPTH (``_TooDeep``) and numbers too long to convert (ValueError)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise _TooDeep from None
    _depth_ok(data)
    return data


def _yaml_limit_message(err: Exception) -> str | None:
    """What a YAML text broke of the reader's limits, or None for another error."""
    if isinstance(err, _TooDeep):
        return f"is nested more than {MAX_CONFIG_DEPTH} levels deep; a config needs 4"
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return (
            f"holds a number of more than {sys.get_int_max_str_digits():,} digits; numbers "
            "in a config are at most a few digits long"
        )
    return None


def _parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text, refusing duplicate keys; ConfigError naming ``where``."""
    try:
        return load_yaml_text(text)
    except ValueError as err:
        limit = _yaml_limit_message(err)
        if limit is None:
            raise
        raise ConfigError(f"{where} {limit}") from None
    except _DuplicateKey as err:
        raise ConfigError(
            f"{where}, line {err.mark.line + 1}: key {err.key!r} is given twice in one mapping "
            f"(first on line {err.first.line + 1}); give each key once"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {err}") from err


def _read_text(path: Path, where: str) -> str:
    """A config file's text: a regular file of at most MAX_CONFIG_BYTES, UTF-8 (a byte-order
    mark allowed). A folder, a device or pipe (``/dev/zero`` would be read forever), a huge file
    or undecodable bytes are one ConfigError naming ``where``."""
    if path.is_dir():
        raise ConfigError(f"{where} is a folder; expected a YAML file")
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"{where} is not a regular file (a device or a pipe); expected a YAML file"
        )
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{where} is {size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,} bytes"
            )
        with path.open("rb") as file:
            return file.read(MAX_CONFIG_BYTES + 1).decode("utf-8-sig")
    except FileNotFoundError as err:
        raise ConfigError(f"{where} does not exist") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{where} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from err
    except OSError as err:
        raise ConfigError(f"{where} cannot be read ({err.strerror or err})") from err


def read_yaml(
    path: str | Path, _chain: tuple[Path, ...] = (), _named_by: str = ""
) -> dict[str, Any]:
    """Read a YAML mapping, following ``extends:`` in it and in any nested mapping (each path
    relative to the file that names it); raises ConfigError naming the file.

    Refused with a message: a missing file, a folder, bytes that are not UTF-8, invalid YAML, a
    key given twice in one mapping, a file that is not a mapping, an ``extends:`` that is not a
    path, and files that extend themselves or each other in a cycle."""
    path = Path(path)
    real = path.resolve()
    if real in _chain:
        loop = [*_chain[_chain.index(real) :], real]
        if len(loop) == 2:
            raise ConfigError(f"config file {path} extends itself; extends must name another file")
        raise ConfigError(
            "config files extend each other in a cycle: " + " -> ".join(str(p) for p in loop)
        )
    where = f"config file {path}{_named_by}"
    data = _parse_yaml(_read_text(path, where), where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where} must hold a mapping of keys (key: value lines), not a {type(data).__name__}"
        )
    return _resolve_extends(data, path, (*_chain, real), ())


def describe_errors(err: ValidationError, where: str) -> str:
    """One line per problem: the dotted key, what was wrong, and what is allowed.

    A list that is too short only because one of its items was refused (pydantic counts the
    items left after validation) is not reported on top of the item's own error."""
    lines = [f"invalid {where}:"]
    errors = err.errors()
    for e in errors:
        loc = tuple(e["loc"])
        if e["type"] == "too_short" and any(
            len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors
        ):
            continue
        key = ".".join(str(p) for p in loc) or "(top level)"
        if not loc and e["type"] == "value_error":
            lines.append(f"  {e['msg'].removeprefix('Value error, ')}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {unknown_key_message(err.title, loc)}")
        else:
            message = e["msg"].removeprefix("Value error, ")
            given = e.get("input")
            shown = "" if isinstance(given, dict | list | tuple) else f" (got {given!r})"
            first = re.match(r"([a-z_]+)[ .:]", message)
            if (
                e["type"] == "value_error"
                and first
                and first.group(1) in _section_keys(err.title, (*loc, ""))
            ):
                # A section's check naming one of its keys: the dotted key, not "retail: key".
                lines.append(f"  {key}.{message}")
            else:
                lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def _section_keys(model_name: str, loc: tuple) -> list[str]:
    """The valid keys of the section that holds the key at ``loc`` in the model named
    ``model_name`` (a config class); empty when the path cannot be followed."""
    models = {cls.__name__: cls for cls in StrictModel.__subclasses__()}
    model = models.get(model_name)
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        annotation = None if info is None else info.annotation
        if get_origin(annotation) is tuple and get_args(annotation):
            annotation = get_args(annotation)[0]
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return [] if model is None else list(model.model_fields)


def unknown_key_message(model_name: str, loc: tuple) -> str:
    """``whale: unknown key; did you mean whales?`` (the closest valid key of its section, by
    :func:`difflib.get_close_matches`), or the section's valid keys when none is close.

    >>> unknown_key_message("ModelConfig", ("whale",))
    'whale: unknown key; did you mean whales?'
    """
    key = ".".join(str(p) for p in loc)
    valid = _section_keys(model_name, loc)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    if close:
        suggestion = ".".join([*(str(p) for p in loc[:-1]), close[0]])
        return f"{key}: unknown key; did you mean {suggestion}?"
    if valid:
        return f"{key}: unknown key; allowed here: {', '.join(valid)}"
    return f"{key}: unknown key (check the spelling against abm config show)"


def load_rulebook(path: str | Path) -> Rulebook:
    """Load and validate a rulebook YAML file."""
    data = read_yaml(path)
    try:
        return Rulebook.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"rulebook {path}")) from err


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


class TradingConfig(StrictModel):
    """Conventions all agents share."""

    market_protection: float = Field(
        default=0.01, gt=0, lt=0.5, description="market orders fill no further from the mark"
    )


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


def _resolve_extends(data: Any, path: Path, chain: tuple[Path, ...], keys: tuple[str, ...]) -> Any:
    """Resolve ``extends:`` in nested mappings (paths relative to the file being read)."""
    if not isinstance(data, dict):
        return data
    resolved = {
        key: _resolve_extends(value, path, chain, (*keys, str(key))) for key, value in data.items()
    }
    parent = resolved.pop("extends", None)
    if parent is None:
        return resolved
    key = ".".join((*keys, "extends"))
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(
            f"config file {path}: {key} must be the path of a YAML file (relative to "
            f"{path.name}'s folder), not {parent!r}"
        )
    return _merge(read_yaml(path.parent / parent, chain, f" (named by {key} in {path})"), resolved)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``key.sub=value`` -> (["key", "sub"], value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. exchange.max_leverage=20")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be dotted names, e.g. retail.count")
    try:
        value = load_yaml_text(raw)
    except ValueError as err:
        limit = _yaml_limit_message(err)
        if limit is None:
            raise
        raise ConfigError(f"--set {key}=...: the value {limit}") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"--set {text!r}: the value {raw!r} is not valid YAML ({problem}); write lists as "
            "[1, 2] and quote text that holds YAML punctuation"
        ) from err
    return key.split("."), value


def _is_section(path: list[str], current: Any) -> bool:
    """Whether ``path`` names a section (a mapping) of a model config."""
    if isinstance(current, dict):
        return True
    if len(path) == 1 and path[0] in ModelConfig.model_fields:
        annotation = ModelConfig.model_fields[path[0]].annotation
        return isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return False


def _override_file(label: str, name: str, config_path: Path | None) -> Path:
    """The YAML file named by ``--set section=FILE``: relative to the current folder, or else to
    the config file's folder, a folder above it, or the shipped configs' folder, so that the
    names ``abm configs`` prints work (``exchanges/bybit``, with or without ``.yaml``). ``label``
    names the override in the error."""
    given = Path(name)
    names = [given] if given.suffix else [given, given.with_name(f"{given.name}.yaml")]
    candidates = list(names)
    if not given.is_absolute():
        folders = [] if config_path is None else [config_path.resolve().parent]
        folders += [*(folders[0].parents if folders else ()), configs_dir()]
        candidates += [folder / n for folder in folders for n in names]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = "" if config_path is None else f", next to {config_path} or in a folder above it"
    raise SectionFileError(
        f"{label}: a section takes key=value inside it (e.g. exchange.max_leverage=20) "
        f"or a YAML file that replaces it, and there is no file {name!r} in the current "
        f"folder{where} or among the shipped configs (rulebooks: "
        f"{', '.join(shipped_rulebooks())})"
    )


def _replaces_section(path: list[str], value: Any, data: dict[str, Any]) -> bool:
    """Whether the override ``path=value`` replaces a whole section by a file
    (``exchange=FILE`` or ``exchange.extends=FILE``) rather than setting a key."""
    if path[-1] == "extends":
        return True
    node: Any = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    current = node.get(path[-1]) if isinstance(node, dict) else None
    return isinstance(value, str) and _is_section(path, current)


def section_files_first(
    data: dict[str, Any], overrides: list[tuple[list[str], Any, str]]
) -> list[tuple[list[str], Any, str]]:
    """Overrides ``(path, value, text)`` in the order they apply: every section file first
    (``exchange=exchanges/bybit.yaml``, in the order given), then every key (in the order given),
    so that a key set explicitly always wins over a section file, wherever it stands on the
    command line: ``--set exchange.max_leverage=20 --set exchange=exchanges/bybit.yaml`` runs
    Bybit's rulebook at 20x."""
    files = [o for o in overrides if _replaces_section(o[0], o[1], data)]
    keys = [o for o in overrides if not _replaces_section(o[0], o[1], data)]
    return files + keys


def apply_overrides(
    data: dict[str, Any],
    overrides: list[str],
    config_path: str | Path | None = None,
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Apply ``--set`` overrides to a config mapping (a copy is returned).

    ``section.key=value`` sets one key. ``section=FILE`` (or ``section.extends=FILE``) replaces
    the whole section by the YAML file's mapping (its own ``extends:`` followed), e.g.
    ``--set exchange=exchanges/bybit.yaml`` switches venue; FILE is looked up relative to the
    current folder, then to ``config_path``'s folder and the folders above it. Section files
    apply first and keys after them, each in the order given (:func:`section_files_first`): a
    key given explicitly always wins over a section file. ``sources``, when given, receives
    for each dotted key or section an override set the override's text (later ones replace
    earlier ones); :func:`value_sources` turns it into the source of each changed value."""
    result = _merge(data, {})
    base = None if config_path is None else Path(config_path)
    parsed = [(*parse_override(text), text) for text in overrides]
    touched: dict[str, str] = {}
    for path, value, text in section_files_first(result, parsed):
        _set_override(result, f"--set {text!r}", path, value, base)
        touched[".".join(path[:-1] if path[-1] == "extends" else path)] = f"--set {text}"
    replay_without_shocks(data, result, touched)
    if sources is not None:
        sources.update(touched)
    return result


REPLAY_SHOCKS_OFF = "a replay switches off the config's scripted shocks"
"""What a run's ``value_sources`` says of ``world.shocks`` emptied by a replay."""


def replay_without_shocks(base: dict[str, Any], data: dict[str, Any], touched: dict) -> None:
    """A replay switched on by an override (``world.process=csv``, ``abm run --prices``) of a
    config that generates its path drops the config's scripted shocks (they were written for
    the generated path, and on top of a real day they would move it silently), unless the
    overrides set shocks themselves. ``data`` is changed in place and ``touched`` (dotted key
    -> what set it) records it."""
    world_before = base.get("world") if isinstance(base.get("world"), dict) else {}
    world = data.get("world") if isinstance(data.get("world"), dict) else {}
    switched_on = world.get("process") == "csv" and world_before.get("process") != "csv"
    if not switched_on or "world.shocks" in touched or "world" in touched:
        return
    if world.get("shocks"):
        data["world"] = {**world, "shocks": []}
        touched["world.shocks"] = REPLAY_SHOCKS_OFF


def value_sources(base: ModelConfig, final: ModelConfig, sources: dict[str, str]) -> dict[str, str]:
    """For each dotted key whose value in ``final`` differs from ``base`` (the config file
    alone), where the value came from: the override that set the key or the section file that
    replaced its section (the longest matching key in ``sources``), else ``config``.

    >>> sources = {}
    >>> final = load_config("baseline", ["exchange.max_leverage=20"], sources)
    >>> value_sources(load_config("baseline"), final, sources)
    {'exchange.max_leverage': '--set exchange.max_leverage=20'}
    """
    before = dict(_dotted(base.model_dump(mode="json")))
    after = dict(_dotted(final.model_dump(mode="json")))
    out = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            label = sources.get(".".join(parts[:n]))
            if label is not None:
                out[key] = label
                break
        else:
            out[key] = "config"
    return out


def _set_override(
    data: dict[str, Any], label: str, path: list[str], value: Any, base: Path | None
) -> None:
    """Set the key ``path`` of the config mapping ``data`` (changed in place, nested mappings
    copied on the way) to ``value``, as :func:`apply_overrides` describes; ``label`` names the
    override in errors."""
    if path[-1] == "extends":
        path = path[:-1]
        if not path:
            raise ConfigError(f"{label}: give the config file to extend as the command's argument")
        if not isinstance(value, str):
            raise ConfigError(f"{label}: extends takes the path of a YAML file")
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else child
            if not isinstance(child, dict):
                raise ConfigError(f"{label}: {part} is not a section")
            node[part] = child
        else:
            node[part] = dict(child)
        node = node[part]
    if isinstance(value, str) and _is_section(path, node.get(path[-1])):
        value = read_yaml(_override_file(label, value, base))
    node[path[-1]] = value


def _dotted(overrides: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) pairs of overrides given as dotted keys or nested mappings."""
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or any(not part for part in name.split(".")):
            raise ConfigError(
                f"override {name!r}: a key must be dotted names, e.g. retail.count or "
                "exchange.max_leverage"
            )
        if isinstance(value, Mapping):
            yield from _dotted(value, f"{name}.")
        else:
            yield name, value


def _section_not_file(data: dict[str, Any], key: str, value: str) -> str:
    """The message for a section given a text that is no file: most often Mesa's ``batch_run``,
    which iterates a dict parameter (``{"retail": {"count": 200}}``) and passes its keys
    (``retail="count"``). The example uses the named key when the section has it."""
    section: Any = data
    for part in key.split("."):
        section = section.get(part) if isinstance(section, dict) else None
    section = section if isinstance(section, dict) else {}
    name = value if value in section else next(iter(section), "count")
    example = _scalar(section.get(name, 200))
    return (
        f'{key}: a section takes a mapping ({key}={{"{name}": {example}}}) or a file, and '
        f"{value!r} is not a file; with mesa.batch_run use dotted keys "
        f'("{key}.{name}": [{example}])'
    )


def override_config(
    config: ModelConfig, overrides: Mapping[str, Any], source: str | Path | None = None
) -> ModelConfig:
    """``config`` with ``overrides`` applied and validated again: ``--set`` for Python callers
    (``MarketModel(**overrides)``, Mesa's ``batch_run`` parameters).

    Keys are dotted (``{"exchange.max_leverage": 20}``) or sections holding mappings
    (``{"retail": {"count": 100}}``, the same as ``{"retail.count": 100}``: merged key by key,
    the rest of the section kept). A section given a string is a YAML file that replaces it, as
    with ``--set exchange=exchanges/bybit.yaml`` (looked up next to ``source``, the config
    file, too). Section files apply before keys, so a key given explicitly always wins
    (:func:`section_files_first`). ConfigError naming the key for an unknown key or a bad
    value."""
    data = config.model_dump()
    base = None if source is None else Path(source)
    parsed = [(key.split("."), value, key) for key, value in _dotted(overrides)]
    for path, value, key in section_files_first(data, parsed):
        try:
            _set_override(data, f"override {key}={value!r}", path, value, base)
        except SectionFileError as err:
            raise ConfigError(_section_not_file(data, key, value)) from err
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        where = "config" if source is None else f"config {source}"
        raise ConfigError(describe_errors(err, f"{where} with overrides")) from err


RULEBOOK_FOLDER = "exchanges"
"""The folder of the shipped configs that holds rulebooks (a section, not a run config)."""


def configs_dir() -> Path:
    """The folder of the shipped configs: ``abm/configs`` inside an installed package (the wheel
    carries the repository's ``configs/`` there), else the repository's ``configs/`` beside the
    package in a source checkout. Either way there is one copy of each file."""
    packaged = resources.files("abm").joinpath("configs")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "configs"


SWEEP_FOLDER = "sweeps"
"""The folder of the shipped configs that holds sweep files (``abm sweep``), not run configs."""
EVENT_FOLDER = "events"
"""The folder of the shipped configs that holds event files (``abm event``), not run configs."""


def _shipped(folder: str | None) -> dict[str, Path]:
    """The shipped YAML files by name: those under ``folder``, or with None those under neither
    the rulebook nor the sweep folder (the run configs)."""
    root = configs_dir()
    found = {}
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        top = name.split("/", 1)[0] if "/" in name else None
        if top == folder or (
            folder is None and top not in (RULEBOOK_FOLDER, SWEEP_FOLDER, EVENT_FOLDER)
        ):
            found[name] = path
    return found


def shipped_configs() -> dict[str, Path]:
    """The run configs shipped with the package by name (``baseline``,
    ``scenarios/long_squeeze``): every YAML file of :func:`configs_dir` but the rulebooks, the
    sweep files and the event files."""
    return _shipped(None)


def shipped_rulebooks() -> dict[str, Path]:
    """The rulebook presets shipped with the package by name (``exchanges/bybit``), for
    ``--set exchange=FILE``."""
    return _shipped(RULEBOOK_FOLDER)


def shipped_sweeps() -> dict[str, Path]:
    """The sweep files shipped with the package by name (``sweeps/leverage_caps``), for
    ``abm sweep``."""
    return _shipped(SWEEP_FOLDER)


def config_summary(path: Path) -> str:
    """A config file's one-line description: the first sentence of its leading comment, cut at
    a comma when it runs past 100 characters, so that ``abm configs`` fits one line a file."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("#"):
            break
        text = text.lstrip("#").strip()
        if not text:
            if lines:
                break
            continue
        lines.append(text)
    sentence = re.split(r"\.(?:\s|$)", " ".join(lines), maxsplit=1)[0]
    if len(sentence) > 100 and ", " in sentence[:100]:
        sentence = sentence[: sentence[:100].rindex(", ")]
    return sentence


def config_path(config: str | Path) -> Path:
    """The file a config argument means: a path that exists, as given; else a shipped run config
    by name (``baseline``, ``scenarios/long_squeeze``, with or without ``.yaml``). A path that
    exists wins over a name. ConfigError listing the names when it is neither."""
    path = Path(config)
    if path.exists():
        return path
    shipped = shipped_configs()
    name = path.as_posix().removesuffix(".yaml")
    if name in shipped:
        return shipped[name]
    raise ConfigError(
        f"config {config} does not exist and is not the name of a shipped config; give a YAML "
        f"file or one of: {', '.join(shipped)} (abm configs lists them)"
    )


def load_config(
    path: str | Path, overrides: list[str] = (), sources: dict[str, str] | None = None
) -> ModelConfig:
    """Load, override and validate a model config given as a file or the name of a shipped one
    (``load_config("baseline")``, see :func:`config_path`); ConfigError names every bad key.
    ``sources`` receives what each override set (:func:`apply_overrides`)."""
    path = config_path(path)
    data = apply_overrides(read_yaml(path), list(overrides), path, sources)
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"config {path}")) from err


def load_config_with_sources(
    path: str | Path, overrides: list[str] = ()
) -> tuple[ModelConfig, dict[str, str]]:
    """:func:`load_config`, and for each dotted key whose value differs from the config file's
    own, where the value came from (:func:`value_sources`): what a run's manifest records."""
    sources: dict[str, str] = {}
    config = load_config(path, overrides, sources)
    if not overrides:
        return config, {}
    try:
        base = load_config(path)
    except ConfigError:  # the file alone does not validate; its overrides complete it
        return config, {key: sources[key] for key in sorted(sources)}
    return config, value_sources(base, config, sources)


def _number(value: float) -> str:
    """A bound as people write it: 8,760 and 1,000,000,000, not 8760.0 and 1e+09."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _allowed(info: FieldInfo) -> str:
    """What a field accepts, from its type and its pydantic constraints (ge, gt, le, lt and
    lengths): ``0 < x <= 8,760``, ``one of: last, index_basis``, ``true or false``."""
    annotation = info.annotation
    args = get_args(annotation)
    if get_origin(annotation) is tuple and args and get_origin(args[0]) is Literal:
        return "a list of: " + ", ".join(map(str, get_args(args[0])))
    if get_origin(annotation) is Literal:
        return "one of: " + ", ".join(map(str, args))
    if annotation is bool:
        return "true or false"
    lower = upper = None
    parts = []
    for rule in info.metadata:
        for attr, op in (("gt", "<"), ("ge", "<=")):
            if getattr(rule, attr, None) is not None:
                lower = (op, _number(getattr(rule, attr)))
        for attr, op in (("lt", "<"), ("le", "<=")):
            if getattr(rule, attr, None) is not None:
                upper = (op, _number(getattr(rule, attr)))
        for attr, text in (("min_length", "at least"), ("max_length", "at most")):
            count = getattr(rule, attr, None)
            if count is not None:
                parts.append(f"{text} {count} item{'' if count == 1 else 's'}")
    if lower and upper:
        parts.insert(0, f"{lower[1]} {lower[0]} x {upper[0]} {upper[1]}")
    elif lower:
        parts.insert(0, f"x {lower[0].replace('<', '>')} {lower[1]}")
    elif upper:
        parts.insert(0, f"x {upper[0]} {upper[1]}")
    kinds = {int: "integer", float: "number", str: "text"}
    kind = kinds.get(annotation) or next((kinds[a] for a in args if a in kinds), None)
    if get_origin(annotation) is tuple and args and args[0] in kinds:
        parts.insert(0, f"list of {kinds[args[0]]}s")
    elif kind == "integer" or (kind and not (lower or upper)):
        parts.insert(0, kind)
    if type(None) in args:
        parts.append("or null")
    return ", ".join(parts)


def _scalar(value: Any) -> str:
    """A value as YAML writes it (``.inf``, ``null``, ``[1, 2]``), so that it can be copied into
    a config file."""
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
    return text.strip().removesuffix("\n...")


def _describe(model: BaseModel, indent: str, first: str = "") -> list[tuple[str, str]]:
    """(``key: value`` line, comment) pairs of a section, nested sections and lists of them
    indented; ``first`` replaces the indent of the first line (a list item's ``- ``)."""
    rows: list[tuple[str, str]] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        lead = first or indent
        first = ""
        comment = "; ".join(p for p in (_allowed(info), info.description or "") if p)
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().split("\n\n")[0].replace("``", "")
            rows.append((f"{lead}{name}:", comment or " ".join(doc.split())))
            rows += _describe(value, indent + "  ")
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            rows.append((f"{lead}{name}:", comment))
            for item in value:
                rows += _describe(item, indent + "    ", first=indent + "  - ")
        else:
            rows.append((f"{lead}{name}: {_scalar(value)}", comment))
    return rows


def describe_config(config: ModelConfig) -> str:
    """A resolved config as YAML, every key with its value and, as a comment, what it accepts
    (from the field's constraints) and what it means (its description): ``abm config show``.
    Section lines carry the first paragraph of the section's docstring."""
    rows = _describe(config, "")
    width = min(max(len(text) for text, _ in rows) + 2, 48)
    return "\n".join(
        f"{text:<{width - 2}}  # {comment}" if comment else text for text, comment in rows
    )
