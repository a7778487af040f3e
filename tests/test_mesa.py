"""``MarketModel`` in Mesa's conventions: built from a config name, overrides as keywords and
``rng`` as the seed, driven by ``mesa.batch_run``, collected by a ``DataCollector``."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd
import pytest

from abm.config import ConfigError, load_config, override_config
from abm.exchange import SystemAccount
from abm.model import MarketModel
from abm.reporters import MODEL_REPORTERS, mark_usdt

SMALL = {
    "run.hours": 0.01,
    "whales.count": 1,
    "market_makers.count": 2,
    "arbitrageurs.count": 1,
    "fundamental_traders.count": 4,
}
"""Overrides for a 36-tick run of a few traders (retail.count is swept or set per test)."""
TICKS = 36


def test_batch_run_gives_a_row_per_combination_seed_and_step():
    """Two parameters, two seeds: every row names its parameters and seed; the runs stop with
    ``running`` at their last tick (before ``max_steps``); the seed changes the values."""
    results = mesa.batch_run(
        MarketModel,
        parameters={"exchange.max_leverage": [20, 125], "retail.count": [30, 60], **SMALL},
        rng=[1, 2],
        max_steps=1_000,
        data_collection_period=1,
        number_processes=1,
        display_progress=False,
    )
    rows = pd.DataFrame(results)
    keys = ["exchange.max_leverage", "retail.count", "rng", "Step"]
    assert len(rows) == 2 * 2 * 2 * (TICKS + 1)
    assert not rows.duplicated(keys).any()
    assert set(rows["rng"]) == {1, 2}
    assert set(rows["exchange.max_leverage"]) == {20, 125}
    assert set(rows["Step"]) == set(range(TICKS + 1))
    assert set(MODEL_REPORTERS) <= set(rows.columns)
    by_seed = rows.set_index(keys).sort_index()
    one = by_seed.xs(1, level="rng")
    two = by_seed.xs(2, level="rng")
    assert not np.allclose(one["index_usdt"], two["index_usdt"])
    assert rows["mark_usdt"].between(40_000, 60_000).all()


def test_the_same_seed_gives_the_same_values_in_and_out_of_batch_run():
    """batch_run's row for a seed equals the model built with that seed by hand, and
    ``MarketModel(config, rng=7)`` is the run of the config with run.seed 7."""
    params = {"exchange.max_leverage": 20, "retail.count": 30, **SMALL}
    results = mesa.batch_run(
        MarketModel,
        parameters=params,
        rng=[7],
        max_steps=10,
        data_collection_period=1,
        number_processes=1,
        display_progress=False,
    )
    batch = pd.DataFrame(results)[list(MODEL_REPORTERS)]
    by_rng = MarketModel(rng=7, **params)
    seeded = MarketModel(**params, **{"run.seed": 7})
    assert by_rng.config == seeded.config
    assert by_rng.config.run.seed == 7
    for model in (by_rng, seeded):
        for _ in range(10):
            model.step()
    assert by_rng.recorder.columns == seeded.recorder.columns
    mine = by_rng.datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(batch.reset_index(drop=True), mine.reset_index(drop=True))


def test_running_turns_false_at_the_last_tick_and_later_steps_do_nothing():
    model = MarketModel(**SMALL, **{"retail.count": 30})
    for _ in range(TICKS - 1):
        model.step()
    assert model.running
    model.step()
    assert not model.running and model.tick == TICKS
    model.step()
    assert model.tick == TICKS
    assert len(model.datacollector.get_model_vars_dataframe()) == TICKS + 1


def test_a_datacollector_attached_by_the_user_is_collected_every_tick():
    """Collected after each tick like the default one, which a twin of the model keeps."""
    model = MarketModel(**SMALL, **{"retail.count": 30}, collect=False)
    twin = MarketModel(**SMALL, **{"retail.count": 30})
    assert model.datacollector is None
    model.datacollector = mesa.DataCollector(model_reporters={"tick": "tick", "mark": mark_usdt})
    for _ in range(5):
        model.step()
        twin.step()
    table = model.datacollector.get_model_vars_dataframe()
    assert table["tick"].tolist() == [1, 2, 3, 4, 5]
    default = twin.datacollector.get_model_vars_dataframe()
    assert table["mark"].tolist() == default["mark_usdt"].tolist()[1:]


def test_the_default_reporters_are_in_natural_units():
    model = MarketModel(**SMALL, **{"retail.count": 30})
    for _ in range(TICKS):
        model.step()
    last = model.datacollector.get_model_vars_dataframe().iloc[-1]
    ex = model.exchange
    assert last["mark_usdt"] == ex.mark * ex.instrument.tick_micro / 1e6
    assert 40_000 < last["index_usdt"] < 60_000
    assert last["open_interest_btc"] == ex.open_interest()[0] * ex.instrument.lots_per_btc_inverse
    assert last["insurance_fund_usdt"] == ex.balance(SystemAccount.INSURANCE_FUND) / 1e6
    assert abs(last["funding_rate"]) <= model.config.exchange.funding.rate_cap
    assert last["equity_retail_usdt"] == model.equity_by_population()["retail"] / 1e6
    assert last["liquidations"] == 0 and last["liquidated_notional_usdt"] == 0
    assert 0 < last["spread_bps"] < 1_000 or math.isnan(last["spread_bps"])


def test_config_by_name_path_or_object_and_dotted_or_nested_overrides_agree():
    """Dotted keys and nested mappings are the same override; None is the shipped baseline."""
    dotted = {"exchange.max_leverage": 20, "retail.count": 40, **SMALL}
    nested = {
        "exchange": {"max_leverage": 20},
        "retail": {"count": 40},
        "run": {"hours": SMALL["run.hours"]},
        "whales": {"count": 1},
        "market_makers": {"count": 2},
        "arbitrageurs": {"count": 1},
        "fundamental_traders": {"count": 4},
    }
    reference = override_config(load_config("configs/baseline.yaml"), dotted)
    assert reference.exchange.max_leverage == 20 and reference.retail.count == 40
    assert reference.retail.capital == load_config("baseline").retail.capital
    for config in (None, "baseline", "configs/baseline.yaml", load_config("baseline")):
        for overrides in (dotted, nested):
            assert MarketModel(config, **overrides).config == reference


@pytest.mark.parametrize(
    "overrides, key",
    [
        (
            {"exchange.max_levrage": 20},
            "exchange.max_levrage: unknown key; did you mean exchange.max_leverage",
        ),
        ({"retail": {"cuont": 5}}, "retail.cuont: unknown key; did you mean retail.count"),
        ({"retail.count": -1}, "retail.count: Input should be greater than or equal to 0"),
        ({"run.hours.long": 1}, "override run.hours.long=1: hours is not a section"),
    ],
)
def test_a_bad_override_is_a_config_error_naming_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key):
        MarketModel(**overrides)


def test_a_section_given_a_mapping_key_by_batch_run_says_to_use_dotted_keys():
    """Mesa's batch_run iterates a dict parameter and passes its keys: retail='count'."""
    with pytest.raises(ConfigError) as caught:
        mesa.batch_run(
            MarketModel,
            parameters={"retail": {"count": 200}, **SMALL},
            rng=[1],
            max_steps=1,
            display_progress=False,
        )
    message = str(caught.value)
    assert message.startswith('retail: a section takes a mapping (retail={"count": ')
    assert "'count' is not a file" in message
    assert 'with mesa.batch_run use dotted keys ("retail.count": [' in message


def test_rng_must_be_a_whole_number_or_none():
    with pytest.raises(TypeError, match="rng must be a whole number"):
        MarketModel(rng=np.random.default_rng(1), **SMALL)
    with pytest.raises(ConfigError, match="run.seed"):
        MarketModel(rng=-1, **SMALL)
    assert MarketModel(rng=np.int64(3), **SMALL).config.run.seed == 3
    assert MarketModel(**SMALL).config.run.seed == load_config("baseline").run.seed


def test_the_models_readings_are_in_usdt_and_btc_where_the_exchange_counts_integers():
    """A custom reporter reads ``model.mark_usdt`` and the like; the exchange's own
    ``exchange.mark`` is an integer count of price ticks."""
    from abm.exchange import SystemAccount

    model = MarketModel("baseline", **{"retail.count": 300, "run.hours": 0.1})
    while model.running and not model.exchange.last:
        model.step()
    inst = model.exchange.instrument
    assert isinstance(model.exchange.mark, int)
    assert model.mark_usdt == pytest.approx(model.exchange.mark * 0.1, abs=1e-9)
    assert model.index_usdt == pytest.approx(model.fundamental_usdt, rel=0.01)
    assert 40_000 < model.mark_usdt < 60_000 and 40_000 < model.last_usdt < 60_000, model.tick
    assert model.open_interest_btc == inst.btc(model.exchange.open_interest()[0])
    fund = model.exchange.balance(SystemAccount.INSURANCE_FUND)
    assert model.insurance_fund_usdt == fund / 1e6
