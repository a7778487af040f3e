"""Validated, typed configuration: the only place defaults live.

Configs are YAML files validated by pydantic. Unknown keys are rejected and every error names the
key, what was wrong and what is allowed. A YAML file may ``extends:`` another (path relative to
itself); values are merged key by key, the extending file winning.

The package, from the bottom up (each module imports only those above it in this list, and
:mod:`abm.exchange`'s units and records):

- :mod:`~abm.config.units`: the config's bounds (BTC supply, deposit limit, ticks).
- :mod:`~abm.config.base`: :class:`StrictModel`, the errors, and validation errors told as
  one line per key.
- :mod:`~abm.config.reader`: YAML files read within limits, and ``extends:``.
- :mod:`~abm.config.rulebook`: the exchange's rulebook and :func:`load_rulebook`.
- :mod:`~abm.config.world`: the information process, its shocks and the spot venue.
- :mod:`~abm.config.populations`: the population names and each kind of trader's section.
- :mod:`~abm.config.model`: the whole config (:class:`ModelConfig`): run, replay, market
  scale, the checks across sections, and the hashes of a run and its scenario.
- :mod:`~abm.config.catalogue`: the shipped configs by name.
- :mod:`~abm.config.describe`: ``abm config show``'s annotated YAML.
- :mod:`~abm.config.overrides`: ``--set`` overrides and where each value came from.
- :mod:`~abm.config.load`: :func:`load_config`, a file with its overrides and seed, validated.

Every public name is importable from ``abm.config`` itself.
"""

from abm.config.base import (
    ConfigError,
    SectionFileError,
    StrictModel,
    describe_errors,
    unknown_key_message,
)
from abm.config.catalogue import (
    EVENT_FOLDER,
    RULEBOOK_FOLDER,
    SWEEP_FOLDER,
    config_path,
    config_summary,
    configs_dir,
    shipped_configs,
    shipped_rulebooks,
    shipped_sweeps,
)
from abm.config.describe import describe_config
from abm.config.load import load_config, load_config_with_sources
from abm.config.model import (
    DEFAULT_START_TIME,
    SCALED_FIELDS,
    MarketConfig,
    ModelConfig,
    ReplayConfig,
    RunConfig,
    config_hash,
    scenario_hash,
    utc_time_text,
)
from abm.config.overrides import (
    REPLAY_SHOCKS_OFF,
    apply_overrides,
    apply_seed,
    override_config,
    parse_override,
    replay_without_shocks,
    section_files_first,
    value_sources,
)
from abm.config.populations import (
    POPULATIONS,
    SYSTEM_POPULATIONS,
    ArbitrageurConfig,
    Choice,
    FundamentalTraderConfig,
    LogNormal,
    MarketMakerConfig,
    RetailConfig,
    SpotValueTraderConfig,
    TradingConfig,
    Uniform,
    WhaleConfig,
)
from abm.config.reader import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, load_yaml_text, read_yaml
from abm.config.rulebook import (
    Bracket,
    FeeTier,
    FundingRules,
    LiquidationRules,
    MarkPriceRules,
    PriceFilterRules,
    Rulebook,
    load_rulebook,
)
from abm.config.units import BTC_SUPPLY, DEPOSIT_LIMIT_USDT, MAX_TICKS, MIN_START_TICKS
from abm.config.world import Shock, SpotConfig, WorldConfig
from abm.exchange.units import MICRO

__all__ = [
    "BTC_SUPPLY",
    "DEFAULT_START_TIME",
    "DEPOSIT_LIMIT_USDT",
    "EVENT_FOLDER",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
    "MAX_TICKS",
    "MICRO",
    "MIN_START_TICKS",
    "POPULATIONS",
    "REPLAY_SHOCKS_OFF",
    "RULEBOOK_FOLDER",
    "SCALED_FIELDS",
    "SWEEP_FOLDER",
    "SYSTEM_POPULATIONS",
    "ArbitrageurConfig",
    "Bracket",
    "Choice",
    "ConfigError",
    "FeeTier",
    "FundamentalTraderConfig",
    "FundingRules",
    "LiquidationRules",
    "LogNormal",
    "MarkPriceRules",
    "MarketConfig",
    "MarketMakerConfig",
    "ModelConfig",
    "PriceFilterRules",
    "ReplayConfig",
    "RetailConfig",
    "Rulebook",
    "RunConfig",
    "SectionFileError",
    "Shock",
    "SpotConfig",
    "SpotValueTraderConfig",
    "StrictModel",
    "TradingConfig",
    "Uniform",
    "WhaleConfig",
    "WorldConfig",
    "apply_overrides",
    "apply_seed",
    "config_hash",
    "config_path",
    "config_summary",
    "configs_dir",
    "describe_config",
    "describe_errors",
    "load_config",
    "load_config_with_sources",
    "load_rulebook",
    "load_yaml_text",
    "override_config",
    "parse_override",
    "read_yaml",
    "replay_without_shocks",
    "scenario_hash",
    "section_files_first",
    "shipped_configs",
    "shipped_rulebooks",
    "shipped_sweeps",
    "unknown_key_message",
    "utc_time_text",
    "value_sources",
]
