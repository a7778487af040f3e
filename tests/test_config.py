"""Rulebook presets and the config loader: every preset validates, Binance's brackets are the
published ones, and every bad input raises ConfigError naming the key or the file."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from abm.config import (
    ConfigError,
    Rulebook,
    StrictModel,
    load_config,
    load_rulebook,
    override_config,
    read_yaml,
)
from tests.conftest import make_rulebook

PRESETS = Path(__file__).resolve().parents[1] / "configs" / "exchanges"
PRESET_NAMES = ("binance", "bitmex", "bybit", "dydx", "hyperliquid")
BINANCE = PRESETS / "binance.yaml"

# Binance BTCUSDT leverage brackets of 2021-03-18 (reference §1): cap, max leverage, MMR, cum.
# The announced last cap (500M) is open-ended in the preset.
BINANCE_2021_BRACKETS = [
    (50_000, 125, 0.004, 0),
    (250_000, 100, 0.005, 50),
    (1_000_000, 50, 0.01, 1_300),
    (10_000_000, 20, 0.025, 16_300),
    (20_000_000, 10, 0.05, 266_300),
    (50_000_000, 5, 0.10, 1_266_300),
    (100_000_000, 4, 0.125, 2_516_300),
    (200_000_000, 3, 0.15, 5_016_300),
    (300_000_000, 2, 0.25, 25_016_300),
    (math.inf, 1, 0.50, 100_016_300),
]


def write_yaml(path: Path, data: dict | str) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def extending_binance(tmp_path: Path, overrides: dict, name: str = "custom.yaml") -> Path:
    """A rulebook in tmp_path that extends the Binance preset with ``overrides``."""
    return write_yaml(tmp_path / name, {"extends": str(BINANCE), **overrides})


def assert_config_error(path: Path, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_rulebook(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------- presets


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_loads(name):
    rulebook = load_rulebook(PRESETS / f"{name}.yaml")
    assert isinstance(rulebook, Rulebook)
    assert math.isinf(rulebook.brackets[-1].notional_cap)
    assert rulebook.brackets[0].max_leverage <= rulebook.max_leverage
    assert {"exchange_absorbs", "trader_debt"} & set(rulebook.backstops)


def test_every_yaml_in_the_preset_folder_loads():
    found = {path.stem for path in PRESETS.glob("*.yaml")}
    assert set(PRESET_NAMES) <= found
    for path in PRESETS.glob("*.yaml"):
        load_rulebook(path)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_opens_with_cited_sources(name):
    text = (PRESETS / f"{name}.yaml").read_text()
    header = text.split("\nname:", 1)[0]
    assert text.startswith("#")
    assert all(line.startswith("#") for line in header.splitlines())
    assert re.search(r"https?://", header), "the opening comments must cite sources"


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_spells_out_every_key(name):
    """Presets state every rule rather than leaning on schema defaults."""
    data = read_yaml(PRESETS / f"{name}.yaml")
    assert set(data) == set(Rulebook.model_fields)
    for section in ("mark_price", "funding", "liquidation", "price_filter"):
        assert set(data[section]) == set(Rulebook.model_fields[section].annotation.model_fields)


def test_binance_brackets_match_the_2021_announcement():
    brackets = load_rulebook(BINANCE).brackets
    assert [(b.notional_cap, b.max_leverage, b.mmr) for b in brackets] == [
        (cap, lev, mmr) for cap, lev, mmr, _ in BINANCE_2021_BRACKETS
    ]


def test_binance_maintenance_amounts_follow_from_the_brackets():
    """cum(n) = cap(n-1) x (mmr(n) - mmr(n-1)) + cum(n-1) reproduces the published amounts."""
    brackets = load_rulebook(BINANCE).brackets
    cum = [0]
    for lower, upper in zip(brackets, brackets[1:], strict=False):
        cum.append(cum[-1] + round(lower.notional_cap * (upper.mmr - lower.mmr)))
    assert cum == [c for *_, c in BINANCE_2021_BRACKETS]
    assert cum[2] == 1_300  # worked example: 250,000 x (1% - 0.5%) + 50 (FAQ b3c689c1)


def test_binance_rules():
    rb = load_rulebook(BINANCE)
    assert (rb.max_leverage, rb.maker_fee, rb.taker_fee) == (125, 0.0002, 0.0004)
    assert rb.mark_price.mode == "binance_median"
    assert rb.funding.interval_ticks == 28_800
    assert (rb.funding.interest_rate, rb.funding.premium_clamp) == (0.0001, 0.0005)
    assert rb.liquidation.order == "ioc_bankruptcy"
    assert rb.liquidation.clearance_fee == 0.003
    assert rb.liquidation.clearance_fee_to == "insurance_fund"
    assert rb.liquidation.surplus_to_insurance
    assert rb.liquidation.adl_ranking == "binance"
    assert rb.backstops == ("insurance_fund", "adl", "exchange_absorbs")


def test_bitmex_rules():
    rb = load_rulebook(PRESETS / "bitmex.yaml")
    base = rb.brackets[0]
    assert (base.max_leverage, base.mmr) == (100, 0.004)
    assert rb.mark_price.mode == "index_basis"
    assert rb.liquidation.adl_ranking == "bitmex"
    assert rb.liquidation.surplus_to_insurance
    assert rb.backstops == ("insurance_fund", "adl", "exchange_absorbs")


def test_bybit_steps_down_risk_limits():
    rb = load_rulebook(PRESETS / "bybit.yaml")
    assert rb.liquidation.partial
    assert rb.liquidation.partial_min_notional == rb.brackets[0].notional_cap
    assert rb.liquidation.adl_ranking == "bitmex"
    assert [(b.notional_cap, b.mmr) for b in rb.brackets[:2]] == [(2e6, 0.005), (4e6, 0.01)]


def test_dydx_rules():
    rb = load_rulebook(PRESETS / "dydx.yaml")
    assert [(b.max_leverage, b.mmr) for b in rb.brackets] == [(20, 0.03)]
    assert rb.liquidation.clearance_fee == 0.005
    assert rb.liquidation.clearance_fee_to == "insurance_fund"
    assert rb.liquidation.adl_ranking == "random"
    assert rb.funding.interval_ticks == 3_600
    assert rb.backstops == ("insurance_fund", "adl", "exchange_absorbs")


def test_hyperliquid_rules():
    rb = load_rulebook(PRESETS / "hyperliquid.yaml")
    assert rb.max_leverage == 40
    for bracket in rb.brackets:  # MM = half the initial margin at the tier's max leverage
        assert bracket.mmr == pytest.approx(1 / bracket.max_leverage / 2)
    liq = rb.liquidation
    assert (liq.order, liq.clearance_fee, liq.surplus_to_insurance) == ("market", 0, False)
    assert (liq.partial, liq.partial_fraction, liq.partial_min_notional) == (True, 0.2, 100_000)
    assert rb.backstops == ("backstop_vault", "adl", "exchange_absorbs")
    assert rb.backstop_vault_seed > 0
    assert rb.funding.interval_ticks == 3_600


# ------------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"max_leverge": 20}, "max_leverge"),
        ({"liquidation": {"clearance_fees": 0.01}}, "liquidation.clearance_fees"),
        ({"funding": {"interval": 3600}}, "funding.interval"),
        ({"mark_price": {"window": 10}}, "mark_price.window"),
        (
            {"brackets": [{"notional_cap": math.inf, "max_leverage": 10, "mmr": 0.01, "mmrr": 0}]},
            "brackets.0.mmrr",
        ),
    ],
)
def test_unknown_key_is_named(tmp_path, overrides, key):
    message = assert_config_error(extending_binance(tmp_path, overrides), key, "unknown key")
    assert "custom.yaml" in message


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("whale.count=1", "whale: unknown key; did you mean whales?"),
        ("exchange.funding.intervl_ticks=3", "did you mean exchange.funding.interval_ticks?"),
        ("zzz=1", "zzz: unknown key; allowed here: run, exchange, world,"),
    ],
)
def test_an_unknown_key_suggests_the_closest_valid_one(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config("baseline", [override])
    assert message in str(caught.value)


def test_every_config_key_and_section_is_described():
    """abm config show prints each key's meaning and unit: a description on every field, a
    docstring on every section class."""
    for model in StrictModel.__subclasses__():
        assert model.__doc__, model.__name__
        for name, info in model.model_fields.items():
            is_section = isinstance(info.annotation, type) and issubclass(
                info.annotation, BaseModel
            )
            assert is_section or info.description, f"{model.__name__}.{name}"


# ------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"taker_fee": -0.0001}, ["taker_fee"]),
        ({"maker_fee": -0.02}, ["maker_fee"]),
        ({"taker_fee": 0.00045001}, ["taker_fee", "parts per million"]),
        ({"max_leverage": 0}, ["max_leverage"]),
        ({"insurance_fund_seed": -1}, ["insurance_fund_seed"]),
        ({"funding": {"interval_ticks": 0}}, ["funding.interval_ticks"]),
        ({"funding": {"rate_cap": 0.5}}, ["funding.rate_cap"]),
        ({"liquidation": {"clearance_fee": -0.001}}, ["liquidation.clearance_fee"]),
        ({"liquidation": {"partial_fraction": 1.5}}, ["liquidation.partial_fraction"]),
        ({"liquidation": {"adl_ranking": "pnl"}}, ["liquidation.adl_ranking"]),
        ({"mark_price": {"mode": "oracle"}}, ["mark_price.mode"]),
        ({"brackets": []}, ["brackets"]),
        (
            {"brackets": [{"notional_cap": math.inf, "max_leverage": 10, "mmr": -0.01}]},
            ["brackets.0.mmr"],
        ),
        (
            {"brackets": [{"notional_cap": math.inf, "max_leverage": 100, "mmr": 0.01}]},
            ["brackets", "mmr 0.01", "1/100"],
        ),
        (
            {"brackets": [{"notional_cap": math.inf, "max_leverage": 50, "mmr": 0.025}]},
            ["brackets", "mmr"],
        ),
        (
            {
                "brackets": [
                    {"notional_cap": 100_000, "max_leverage": 50, "mmr": 0.01},
                    {"notional_cap": 100_000, "max_leverage": 20, "mmr": 0.02},
                    {"notional_cap": math.inf, "max_leverage": 10, "mmr": 0.05},
                ]
            },
            ["brackets", "notional_cap must increase"],
        ),
        (
            {
                "brackets": [
                    {"notional_cap": 200_000, "max_leverage": 50, "mmr": 0.01},
                    {"notional_cap": 100_000, "max_leverage": 20, "mmr": 0.02},
                    {"notional_cap": math.inf, "max_leverage": 10, "mmr": 0.05},
                ]
            },
            ["brackets", "notional_cap must increase"],
        ),
        (
            {
                "brackets": [
                    {"notional_cap": 100_000, "max_leverage": 50, "mmr": 0.01},
                    {"notional_cap": 1_000_000, "max_leverage": 20, "mmr": 0.02},
                ]
            },
            ["brackets", "last notional_cap must be .inf"],
        ),
        (
            {
                "brackets": [
                    {"notional_cap": 100_000, "max_leverage": 50, "mmr": 0.01},
                    {"notional_cap": math.inf, "max_leverage": 50, "mmr": 0.005},
                ]
            },
            ["brackets", "mmr must not decrease"],
        ),
        (
            {"backstops": ["insurance_fund", "adl", "adl", "exchange_absorbs"]},
            ["backstops", "each step may appear once"],
        ),
        (
            {"backstops": ["insurance_fund", "adl"]},
            ["backstops", "exchange_absorbs", "trader_debt"],
        ),
        ({"backstops": ["insurance_fund", "bailout"]}, ["backstops.1"]),
        ({"lot_size": 0.0000001}, ["tick_size x lot_size", "micro-USDT"]),
        ({"tick_size": 0.3, "lot_size": 0.0000005}, ["tick_size x lot_size"]),
        ({"tick_size": 0.0000001}, ["tick_size", "micro-USDT"]),
    ],
)
def test_bad_value_names_the_key(tmp_path, overrides, fragments):
    assert_config_error(extending_binance(tmp_path, overrides), *fragments)


@pytest.mark.parametrize("backstops", [["exchange_absorbs"], ["adl", "trader_debt"]])
def test_backstops_ending_in_a_final_step_are_accepted(tmp_path, backstops):
    rb = load_rulebook(extending_binance(tmp_path, {"backstops": backstops}))
    assert rb.backstops == tuple(backstops)


def test_every_problem_is_reported_at_once(tmp_path):
    path = extending_binance(
        tmp_path, {"taker_fee": -1, "funding": {"interval_ticks": 0}, "bogus": 1}
    )
    assert_config_error(path, "taker_fee", "funding.interval_ticks", "bogus")


# ------------------------------------------------------------------------------- extends


def test_extends_overrides_one_key(tmp_path):
    (tmp_path / "binance.yaml").write_text(BINANCE.read_text())
    path = write_yaml(tmp_path / "binance20.yaml", "extends: binance.yaml\nmax_leverage: 20\n")
    rb = load_rulebook(path)
    base = load_rulebook(BINANCE)
    assert rb.max_leverage == 20
    assert rb.model_dump() == {**base.model_dump(), "max_leverage": 20}


def test_extends_relative_to_the_extending_file(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    parent = os.path.relpath(BINANCE, nested)
    path = write_yaml(nested / "custom.yaml", {"extends": parent, "max_leverage": 20})
    assert load_rulebook(path).max_leverage == 20


def test_extends_merges_nested_sections_key_by_key(tmp_path):
    path = extending_binance(tmp_path, {"liquidation": {"clearance_fee": 0.005}})
    rb, base = load_rulebook(path), load_rulebook(BINANCE)
    assert rb.liquidation.clearance_fee == 0.005
    assert rb.liquidation.model_dump() == {
        **base.liquidation.model_dump(),
        "clearance_fee": 0.005,
    }
    assert rb.brackets == base.brackets


def test_extends_replaces_lists_whole(tmp_path):
    path = extending_binance(tmp_path, {"backstops": ["adl", "exchange_absorbs"]})
    assert load_rulebook(path).backstops == ("adl", "exchange_absorbs")


def test_extends_chains(tmp_path):
    extending_binance(tmp_path, {"max_leverage": 20}, name="middle.yaml")
    path = write_yaml(tmp_path / "top.yaml", "extends: middle.yaml\ntaker_fee: 0.0005\n")
    rb = load_rulebook(path)
    assert (rb.max_leverage, rb.taker_fee, rb.maker_fee) == (20, 0.0005, 0.0002)


def test_extends_missing_parent_names_it(tmp_path):
    path = write_yaml(tmp_path / "child.yaml", "extends: nowhere.yaml\nmax_leverage: 20\n")
    assert_config_error(path, "nowhere.yaml", "does not exist")


# ------------------------------------------------------------------------------- files


def test_missing_file_names_it(tmp_path):
    assert_config_error(tmp_path / "absent.yaml", "absent.yaml", "does not exist")


def test_invalid_yaml_names_the_file(tmp_path):
    path = write_yaml(tmp_path / "broken.yaml", "brackets: [\n  {notional_cap: 1\n")
    assert_config_error(path, "broken.yaml", "not valid YAML")


def test_yaml_that_is_not_a_mapping_names_the_file(tmp_path):
    path = write_yaml(tmp_path / "list.yaml", "- max_leverage: 20\n")
    assert_config_error(path, "list.yaml", "mapping")


def test_empty_file_reports_the_missing_brackets(tmp_path):
    path = write_yaml(tmp_path / "empty.yaml", "")
    assert_config_error(path, "empty.yaml", "brackets")


@pytest.mark.parametrize(
    "scenario",
    ["baseline", "scenarios/long_squeeze", "scenarios/short_squeeze", "scenarios/calm_day"],
)
def test_model_configs_load_with_nested_extends_resolved_per_file(scenario):
    """A scenario extends the baseline, whose ``exchange: {extends: ...}`` names a path relative
    to the baseline's own folder, not the scenario's."""
    from abm.config import load_config

    config = load_config(Path("configs") / f"{scenario}.yaml")
    assert config.exchange.name == "binance-btcusdt-2021-03"
    assert config.ticks == 86_400


# ------------------------------------------------------------------------------- strict values

MODEL = Path("configs/baseline.yaml")


def assert_model_error(overrides: list[str], *fragments: str) -> str:
    from abm.config import load_config

    with pytest.raises(ConfigError) as info:
        load_config(MODEL, overrides)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.mark.parametrize(
    "override",
    [
        "exchange.max_leverage=on",
        "exchange.tick_size=true",
        "retail.count=yes",
        "run.hours=on",
        "world.seed=true",
        "retail.leverage.values=[true, 5]",
        "arbitrageurs.catch_distances=[0.01, on]",
    ],
)
def test_yaml_booleans_are_not_numbers(override):
    key = override.split("=")[0]
    assert_model_error([override], key, "not a boolean")


def test_yaml_boolean_in_a_rulebook_file(tmp_path):
    assert_config_error(
        extending_binance(tmp_path, {"max_leverage": True}), "max_leverage", "not a boolean"
    )


def test_whole_numbers_are_still_accepted_for_floats_and_booleans_for_flags():
    from abm.config import load_config

    config = load_config(MODEL, ["exchange.max_leverage=20", "whales.hunt=off"])
    assert config.exchange.max_leverage == 20.0 and config.whales.hunt is False


@pytest.mark.parametrize(
    "override",
    [
        "world.start_price=.inf",
        "exchange.tick_size=.inf",
        "exchange.insurance_fund_seed=.inf",
        "exchange.funding.impact_notional=.inf",
        "retail.capital.median=.inf",
        "retail.minimum_balance=.nan",
        "retail.margin_fraction.high=.inf",
    ],
)
def test_infinite_and_nan_values_are_refused(override):
    assert_model_error([override], override.split("=")[0], "finite number")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["exchange.lot_size=1e-12"], ["exchange.lot_size"]),
        (["exchange.tick_size=0.000001", "exchange.lot_size=0.00000001"], ["one micro-USDT"]),
        (["world.start_price=0.01"], ["world.start_price", "1,000 ticks"]),
        (["world.start_price=1000000"], ["world.start_price", "a tenth", "max_price"]),
        (["world.start_price=1.0e300"], ["world.start_price"]),
        (["exchange.tick_size=1000.0"], ["world.start_price", "1,000 ticks"]),
        (["exchange.tick_size=1.0e12"], ["exchange.tick_size"]),
        (["exchange.lot_size=1.0e9"], ["exchange.lot_size"]),
        (["retail.capital.median=1.0e300"], ["retail.capital.median"]),
        (["retail.capital.median=1.0e9"], ["expected capital"]),
        (["exchange.insurance_fund_seed=1.0e300"], ["exchange.insurance_fund_seed"]),
        (["exchange.backstop_vault_seed=1.0e18"], ["seeds", "expected capital"]),
        (["exchange.funding.impact_notional=1.0e-12"], ["impact_notional"]),
        (["retail.margin_fraction={low: 0.5, high: 5}"], ["margin_fraction"]),
        (["retail.stop_distance={low: 0.5, high: 1.5}"], ["stop_distance"]),
        (["retail.leverage={values: [0, 5], weights: [1, 1]}"], ["leverage.values"]),
        (["arbitrageurs.catch_distances=[0.01, 2]"], ["catch_distances"]),
        (["world.jumps_per_day=1000"], ["jumps alone"]),
        (
            ["run.tick_seconds=600", "world.jumps_per_day=1000", "world.jump_std=0.0001"],
            ["jumps_per_day"],
        ),
        (["run.tick_seconds=1.0e-12"], ["run.tick_seconds"]),
        (["run.tick_seconds=0.001"], ["run.hours", "ticks"]),
    ],
)
def test_values_that_would_break_the_build_are_refused_by_the_config(overrides, fragments):
    assert_model_error(overrides, *fragments)


def test_a_run_too_short_for_one_tick_is_refused():
    assert_model_error(["run.hours=0.0001"], "run.hours", "0 ticks", "at least")


def test_a_list_item_error_comes_alone(tmp_path):
    brackets = [{"notional_cap": math.inf, "max_leverage": 10, "mmr": 1.5}]
    message = assert_config_error(extending_binance(tmp_path, {"brackets": brackets}), "mmr")
    assert "Tuple" not in message and len(message.splitlines()) == 2


# ------------------------------------------------------------------------------- loader


def test_duplicate_keys_are_refused(tmp_path):
    path = write_yaml(
        tmp_path / "dup.yaml",
        f"extends: {BINANCE}\nmax_leverage: 20\ntaker_fee: 0.0004\nmax_leverage: 50\n",
    )
    assert_config_error(path, "dup.yaml", "line 4", "'max_leverage' is given twice", "line 2")


def test_duplicate_keys_in_a_nested_mapping_and_in_set(tmp_path):
    path = write_yaml(tmp_path / "dup.yaml", "funding: {interval_ticks: 1, interval_ticks: 2}\n")
    assert_config_error(path, "interval_ticks", "twice")
    assert_model_error(["world={seed: 1, seed: 2}"], "seed", "twice")


def test_a_file_that_extends_itself(tmp_path):
    path = write_yaml(tmp_path / "self.yaml", "extends: self.yaml\n")
    assert_config_error(path, "self.yaml extends itself")
    nested = write_yaml(tmp_path / "nested.yaml", "funding:\n  extends: nested.yaml\n")
    assert_config_error(nested, "nested.yaml extends itself")


def test_files_that_extend_each_other(tmp_path):
    write_yaml(tmp_path / "a.yaml", "extends: b.yaml\n")
    write_yaml(tmp_path / "b.yaml", "extends: a.yaml\n")
    assert_config_error(tmp_path / "a.yaml", "cycle", "a.yaml -> ", "b.yaml -> ")


def test_two_sections_may_extend_the_same_file(tmp_path):
    write_yaml(tmp_path / "shared.yaml", "median: 1000\n")
    path = write_yaml(
        tmp_path / "model.yaml",
        f"exchange:\n  extends: {BINANCE}\n"
        "retail:\n  capital:\n    extends: shared.yaml\n"
        "whales:\n  capital:\n    extends: shared.yaml\n",
    )
    from abm.config import load_config

    config = load_config(path)
    assert config.retail.capital.median == config.whales.capital.median == 1000


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("extends: 5\n", ["extends must be the path of a YAML file", "not 5"]),
        ("extends: [a.yaml]\n", ["extends must be the path"]),
        ("extends: .\n", ["is a folder", "named by extends"]),
        ("funding:\n  extends: true\n", ["funding.extends must be the path"]),
    ],
)
def test_extends_that_is_not_a_file(tmp_path, text, fragments):
    assert_config_error(write_yaml(tmp_path / "bad.yaml", text), *fragments)


def test_a_folder_given_as_the_config(tmp_path):
    assert_config_error(tmp_path, "is a folder")


def test_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: Zürich\n".encode("latin-1"))
    assert_config_error(path, "latin1.yaml", "not UTF-8", "0xfc")


def test_set_with_invalid_yaml_is_one_line():
    message = assert_model_error(["run.hours=[1"], "run.hours=[1", "not valid YAML")
    assert len(message.splitlines()) == 1


# ------------------------------------------------------------------------------- venues


@pytest.mark.parametrize(
    "override", ["exchange=exchanges/bybit.yaml", "exchange.extends=exchanges/bybit.yaml"]
)
@pytest.mark.parametrize("config", ["configs/baseline.yaml", "configs/scenarios/calm_day.yaml"])
def test_switching_venue_with_set(override, config):
    from abm.config import load_config

    bybit = load_rulebook(PRESETS / "bybit.yaml")
    switched = load_config(config, [override])
    assert switched.exchange == bybit
    later = load_config(config, [override, "exchange.max_leverage=20"])
    assert later.exchange.max_leverage == 20 and later.exchange.name == bybit.name


def test_switching_venue_with_a_path_from_the_current_folder():
    from abm.config import load_config

    config = load_config(MODEL, ["exchange=configs/exchanges/dydx.yaml"])
    assert config.exchange == load_rulebook(PRESETS / "dydx.yaml")


def test_switching_venue_to_a_missing_file_names_it():
    assert_model_error(["exchange=exchanges/nowhere.yaml"], "exchanges/nowhere.yaml", "no file")


@pytest.mark.parametrize(
    ("rules", "needle"),
    [
        ({"tick_size": 0.000001, "lot_size": 0.00000001}, "at least one micro-USDT"),
        ({"funding": {"impact_notional": 1.0}, "tick_size": 10_000.0}, "impact_notional"),
    ],
)
def test_a_rulebook_on_its_own_refuses_units_the_exchange_cannot_hold(rules, needle):
    """A rulebook used without a model config (``Exchange(load_rulebook(...))``) must not
    validate with units that later break the exchange."""
    with pytest.raises(ValidationError, match=needle):
        make_rulebook(**rules)


def test_scenario_hash_leaves_out_the_seed_and_config_hash_keeps_it():
    """DESIGN section 9: the scenario hash is the same for every seed of one config (to group
    replications); the config hash tells the runs apart."""
    from abm.config import config_hash, load_config, scenario_hash

    def hashed(how, *overrides):
        return how(load_config("configs/baseline.yaml", list(overrides)).model_dump(mode="json"))

    assert hashed(scenario_hash, "run.seed=1") == hashed(scenario_hash, "run.seed=2")
    assert hashed(config_hash, "run.seed=1") != hashed(config_hash, "run.seed=2")
    for how in (scenario_hash, config_hash):
        assert hashed(how, "run.seed=1") != hashed(how, "run.seed=1", "exchange.max_leverage=20")


def test_a_seed_is_set_as_an_integer_after_the_overrides_and_named_as_its_source(tmp_path):
    """``abm run --seed N`` reaches ``run.seed`` as the integer: after every ``--set`` (so it
    wins over ``--set run.seed``), the same config as the override ``run.seed=N``, reported as
    ``--seed N`` where it differs from the file's, and checked like any other value."""
    from abm.config import load_config_with_sources

    config, sources = load_config_with_sources("baseline", ["run.seed=5", "run.hours=2"], seed=7)
    assert config.run.seed == 7
    assert config == load_config("baseline", ["run.hours=2", "run.seed=7"])
    assert sources == {"run.seed": "--seed 7", "run.hours": "--set run.hours=2"}
    own = load_config("baseline").run.seed
    assert load_config_with_sources("baseline", seed=own) == (load_config("baseline"), {})
    with pytest.raises(ConfigError, match=r"run\.seed: Input should be greater than or equal to 0"):
        load_config("baseline", seed=-1)
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"extends: {BINANCE.parent.parent / 'baseline.yaml'}\nrun:\n")
    assert load_config(bare, seed=3).run.seed == 3


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("retail: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "nested more than 32 levels"),
        ("retail:\n  count: " + "9" * 5_001 + "\n", "more than 4,300 digits"),
    ],
    ids=["5000-levels", "5001-digits"],
)
def test_a_config_too_deep_or_with_a_huge_number_is_one_message(tmp_path, content, fragment):
    path = tmp_path / "hostile.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_a_set_value_with_a_huge_number_is_one_message():
    with pytest.raises(ConfigError, match="--set retail.count=...: the value holds a number"):
        load_config("baseline", ["retail.count=" + "9" * 5_001])


def test_extends_of_a_device_or_a_huge_file_is_refused_before_reading_it(tmp_path):
    device = tmp_path / "zero.yaml"
    device.write_text("extends: /dev/zero\n")
    with pytest.raises(ConfigError, match="/dev/zero .*is not a regular file"):
        load_config(device)
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * 1_000_001 + "\n")
    with pytest.raises(ConfigError, match="1,000,00[0-9] bytes; a config file is at most"):
        load_config(huge)


def test_a_sections_check_names_the_dotted_key():
    """A section's own check once printed 'retail: leverage.values ...'."""
    with pytest.raises(ConfigError) as info:
        load_config("baseline", ["retail.leverage.values=[0, 1, 1, 1, 1, 1, 1, 1, 1, 1]"])
    assert "  retail.leverage.values [0, 1," in str(info.value)
    assert "retail: leverage" not in str(info.value)


def test_a_dotted_override_reaches_into_a_list_by_number():
    config = load_config("baseline")
    changed = override_config(config, {"world.shocks.0.move": -0.1})
    assert changed.world.shocks[0].move == -0.1
    assert changed.world.shocks[0].minutes == config.world.shocks[0].minutes
    assert config.world.shocks[0].move == -0.06
    for key in ("world.shocks.1.move", "world.shocks.first.move"):
        with pytest.raises(ConfigError, match="is not an item of a list of 1 \\(give 0 to 0\\)"):
            override_config(config, {key: -0.1})
