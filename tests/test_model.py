"""Short runs of the market model: Mesa conventions, activation, behaviour the baseline must show,
and the ledger's invariants at the end of every run."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from abm.agents import MarketMaker, RetailTrader, SpotValueTrader, Trader
from abm.agents.retail import draw_traits
from abm.config import POPULATIONS, SYSTEM_POPULATIONS, load_config
from abm.exchange import LiquidationMap
from abm.experiments.run import run_model
from abm.experiments.summary import cascades
from abm.model import MarketModel

BASELINE = "configs/baseline.yaml"
SMALL = ["retail.count=600", "whales.count=2", "market_makers.count=3", "arbitrageurs.count=2"]


def small_config(*overrides: str, hours: float = 1.0):
    return load_config(BASELINE, [*SMALL, f"run.hours={hours}", *overrides])


def drop(move: float, start: int = 20, minutes: int = 15) -> str:
    return f"world.shocks=[{{start_minute: {start}, minutes: {minutes}, move: {move}}}]"


def test_run_for_advances_ticks_like_mesa_time():
    model = MarketModel(small_config())
    model.run_for(30)
    assert model.tick == 30 and model.time == 30
    model.exchange.check_invariants()


def test_agents_follow_mesa_conventions():
    model = MarketModel(small_config())
    assert len(model.agents_by_type[RetailTrader]) == 600
    assert len(model.agents_by_type[MarketMaker]) == 3
    assert len(model.agents_by_type[SpotValueTrader]) == model.config.spot_value_traders.count
    accounts = [agent.account for agent in model.traders]
    assert len(set(accounts)) == len(accounts)
    assert set(model.agents) == set(model.traders) | set(model.agents_by_type[SpotValueTrader])


def test_the_population_names_are_the_trader_classes_and_the_system_accounts():
    """The names defined once in abm.config: each trader class with an account names one of
    POPULATIONS (all of them, once each), and equity by population and the accounts' populations
    use them."""
    assert sorted(kind.population for kind in Trader.__subclasses__()) == sorted(POPULATIONS)
    assert SpotValueTrader.population not in POPULATIONS
    model = MarketModel(small_config())
    assert list(model.equity_by_population()) == list(POPULATIONS)
    populations = set(model.population_of.values())
    assert populations == set(POPULATIONS) | set(SYSTEM_POPULATIONS.values())


def test_retail_traits_drawn_for_the_whole_population_follow_the_config():
    """One vectorised draw per trait: the shares and ranges are the config's (binomial
    tolerance of 4 standard errors at 20,000 traders), the columns come in the order the agent
    takes them, and the traders built carry them."""
    config = load_config(BASELINE).retail
    n = 20_000
    traits = draw_traits(np.random.default_rng(7), config, n)
    assert list(traits) == list(inspect.signature(RetailTrader).parameters)[4:]
    assert all(len(column) == n for column in traits.values())
    for key, share in (
        ("cross", config.cross_margin_share),
        ("uses_stop", config.stop_loss_share),
        ("stop_on_mark", config.stop_on_mark_share),
        ("stop_limit", config.stop_limit_share),
    ):
        assert abs(np.mean(traits[key]) - share) < 4 * np.sqrt(share * (1 - share) / n) + 1e-12
    styles = np.asarray(traits["style"])
    for style, share in ((1, config.trend_share), (-1, config.contrarian_share)):
        assert abs(np.mean(styles == style) - share) < 4 * np.sqrt(share * (1 - share) / n)
    fraction = np.asarray(traits["margin_fraction"])
    assert (
        config.margin_fraction.low <= fraction.min() <= fraction.max() < config.margin_fraction.high
    )
    model = MarketModel(small_config("retail.stop_loss_share=1", "retail.stop_on_mark_share=0"))
    assert all(t.uses_stop and t.stop_trigger == "last" for t in model.agents_by_type[RetailTrader])


def test_only_sampled_agents_act():
    config = small_config("retail.activity_per_hour=36")
    model = MarketModel(config)
    model.run_for(600)
    retail_expected = 600 * 600 * 36 / 3600
    fixed = 3 * 600
    arbs_expected = 2 * 600 * config.arbitrageurs.activity_per_hour / 3600
    whales_expected = 2 * 600 * config.whales.activity_per_hour / 3600
    value_expected = (
        600 * config.fundamental_traders.count * config.fundamental_traders.activity_per_hour / 3600
    )
    spot = config.spot_value_traders
    spot_expected = 600 * spot.count * spot.activity_per_hour / 3600
    expected = (
        retail_expected + fixed + arbs_expected + whales_expected + value_expected + spot_expected
    )
    assert abs(model.agent_actions - expected) < 0.1 * expected


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_the_leverage_lever_works_all_the_way_down(cap):
    """``exchange.max_leverage=2`` crashed at build: market makers, arbitrageurs and whales
    asked for more than the cap. Every population now uses the cap, and the run trades."""
    model = MarketModel(small_config(f"exchange.max_leverage={cap}", hours=0.1))
    assert max(agent.leverage for agent in model.traders) == cap
    assert all(a.leverage <= cap for a in model.exchange.accounts)
    model.run_for(model.ticks)
    assert len(model.exchange.fills["qty"]) > 0
    model.exchange.check_invariants()


def test_traders_at_125x_size_down_to_the_first_tier():
    """A 125x order above the first tier's 50,000 USDT notional cap was refused whole (36% of
    those choosing 125x never traded); the trader now sizes down to what the tier allows."""
    model = MarketModel(small_config("retail.leverage={values: [125], weights: [1]}", hours=0.1))
    ex = model.exchange
    model.run_for(5)
    rich = model.agents_by_type[RetailTrader][0]
    ex.deposit(rich.account, 10_000 * 1_000_000)
    rich.margin_fraction = 0.9
    rich.open_trade()
    notional = abs(rich.position) * ex.mark * ex.k
    assert 0.9 * 50_000e6 < notional <= 50_000e6
    ex.check_invariants()


def test_leverage_never_exceeds_the_cap_and_some_stay_out():
    model = MarketModel(small_config("exchange.max_leverage=10", "retail.above_cap_stay_out=0.5"))
    leverages = [agent.leverage for agent in model.agents_by_type[RetailTrader]]
    assert max(leverages) == 10
    assert model.stayed_out > 0
    assert len(leverages) + model.stayed_out == 600


def test_a_drop_liquidates_longs_and_cascades():
    """With the baseline's population (most retail on cross margin at a small share of their
    wallet, so liquidations are rarer than in a thinned-out market), an 8% drop of the
    fundamental still liquidates longs in runs of consecutive ticks."""
    model = run_model(load_config(BASELINE, ["run.hours=1", drop(-0.08)]))
    events = [e for e in model.exchange.liquidations if e.qty]
    longs = sum(e.side == "long" for e in events)
    shorts = sum(e.side == "short" for e in events)
    assert longs > 3 * max(shorts, 1)
    assert cascades(model)


def test_a_rally_liquidates_shorts():
    model = run_model(load_config(BASELINE, ["run.hours=1", drop(0.08)]))
    events = [e for e in model.exchange.liquidations if e.qty]
    longs = sum(e.side == "long" for e in events)
    shorts = sum(e.side == "short" for e in events)
    assert shorts > 3 * max(longs, 1)


@pytest.mark.slow
def test_a_lower_leverage_cap_gives_fewer_liquidations_over_seeds():
    totals = {}
    for cap in (125, 10):
        count = notional = 0
        for seed in (1, 2, 3):
            model = run_model(
                small_config(
                    drop(-0.06), f"exchange.max_leverage={cap}", f"run.seed={seed}", "world.seed=7"
                )
            )
            events = [e for e in model.exchange.liquidations if e.qty]
            count += len(events)
            notional += sum(e.closed * e.mark for e in events)
        totals[cap] = (count, notional)
    assert totals[10][0] < totals[125][0]
    assert totals[10][1] < totals[125][1]


@pytest.mark.slow
def test_one_minute_returns_are_fat_tailed_and_clustered():
    model = run_model(small_config(hours=6.0))
    marks = model.market.marks.astype(float)
    returns = np.diff(np.log(marks[::60]))
    excess_kurtosis = ((returns - returns.mean()) ** 4).mean() / returns.var() ** 2 - 3
    absolute = np.abs(returns)
    autocorrelation = np.corrcoef(absolute[:-1], absolute[1:])[0, 1]
    assert excess_kurtosis > 1
    assert autocorrelation > 0.05


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "hours", "squeezed"),
    [("long_squeeze", 14.0, "long"), ("short_squeeze", 14.0, "short")],
)
def test_scenario_files_liquidate_the_squeezed_side(scenario, hours, squeezed):
    config = load_config(f"configs/scenarios/{scenario}.yaml", [*SMALL, f"run.hours={hours}"])
    model = run_model(config)
    events = [e for e in model.exchange.liquidations if e.qty]
    sides = [e.side for e in events]
    assert sides.count(squeezed) > 2 * (len(sides) - sides.count(squeezed))


def test_a_whale_hunt_is_recorded_from_start_to_end(monkeypatch):
    """A cluster of long liquidations just under the mark, far bigger than the book in between:
    a whale pushes into it, and the campaign's record says where it aimed, whether the price got
    there and what the whale made or lost, so a study can ask whether hunting pays."""
    from abm.agents import Whale

    model = MarketModel(small_config(hours=0.5))
    model.run_for(30)
    ex = model.exchange
    price, lots = ex.mark * 997 // 1000, 500_000
    cluster = LiquidationMap(
        np.array([price]), np.array([lots]), np.array([price * lots]), np.array([1])
    )
    monkeypatch.setattr(model, "liquidation_map", lambda: cluster)
    whale = model.agents_by_type[Whale][0]
    assert whale.hunt_liquidations()
    monkeypatch.undo()
    model.run_for(model.minutes(11))
    (hunt,) = [h for h in model.hunts if h["account"] == whale.account]
    assert hunt["push_side"] == "sell"
    assert hunt["target_price_usdt"] < hunt["start_mark_usdt"]
    assert hunt["start_tick"] == 30 and 30 < hunt["end_tick"] <= 30 + model.minutes(10) + 1
    assert isinstance(hunt["reached"], bool)
    assert np.isfinite(hunt["equity_change_usdt"]) and hunt["liquidated_notional_usdt"] >= 0
    model.exchange.check_invariants()
