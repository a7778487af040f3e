"""The feedback channel's counterfactual and its measures (issue 23): liquidations closed off
the book (``liquidation.execution: off_book``) and cascade generations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from abm.analysis.cascades import cascade_generations, generation_summary
from abm.config import load_config
from abm.exchange import BUY, Cause, SystemAccount
from abm.model import MarketModel
from tests.conftest import LIQUIDATABLE_RETAIL, U
from tests.scenarios import crash, transfers

FUND = int(SystemAccount.INSURANCE_FUND)
VAULT = int(SystemAccount.BACKSTOP_VAULT)
OFF_BOOK = {"execution": "off_book"}


def test_off_book_liquidation_closes_at_the_mark_against_the_vault_and_leaves_the_book():
    # The scenario long (0.2 BTC at 50,000, 1,000 USDT of margin) is liquidatable below
    # 45,180.7; the mark goes to 45,150. Off the book the vault takes the 200 lots at 45,150:
    # equity there is 1,000 - 0.2 x 4,850 = 30 USDT, the clearance fee 0.3% x 9,030 = 27.09,
    # the surplus 2.91 to the fund. The maker's bid at 45,100 is not touched and the last price
    # stays at 45,150.
    scenario = crash(bids=[(1_000, 451_000)], mark_to=451_500, liquidation=OFF_BOOK)
    ex, long = scenario.ex, scenario.long
    (event,) = ex.liquidations
    assert [a.step for a in event.actions] == ["off_book"]
    assert event.closed == 200 and not event.partial
    assert ex.position(long) == 0 and ex.position(VAULT) == 200
    assert transfers(ex, Cause.CLEARANCE_FEE) == [(long, FUND, 27_090_000)]
    assert transfers(ex, Cause.INSURANCE_SURPLUS) == [(long, FUND, 2_910_000)]
    assert ex.last == 451_500
    assert ex.book.depth_between(BUY, 451_000) == 1_000
    ex.check_invariants()


def test_the_same_liquidation_on_the_book_sells_into_the_bid_and_moves_the_last_price():
    scenario = crash(bids=[(1_000, 451_000)], mark_to=451_500)
    ex, long = scenario.ex, scenario.long
    (event,) = ex.liquidations
    assert event.closed == 200 and event.actions == []
    assert ex.position(long) == 0 and ex.position(VAULT) == 0
    assert ex.position(scenario.maker) == 200
    assert ex.last == 451_000
    ex.check_invariants()


def test_off_book_deficit_goes_down_the_waterfall():
    # At a mark of 44,900 the long is 20 USDT below zero: the vault takes the lots at the mark
    # and the insurance fund (seeded with 100) pays the 20; no clearance fee is left to charge.
    scenario = crash(mark_to=449_000, liquidation=OFF_BOOK, insurance_fund_seed=100)
    ex, long = scenario.ex, scenario.long
    (event,) = ex.liquidations
    assert event.deficit == 20 * U
    assert transfers(ex, Cause.INSURANCE_PAYOUT) == [(FUND, long, 20 * U)]
    assert ex.balance(long) == 0 and ex.position(VAULT) == 200
    ex.check_invariants()


def test_generations_follow_liquidations_that_traded_in_the_book():
    # Tick 5: two liquidations in round 0 (the second went to the backstops only), one in round
    # 1 (after the first's fills): 1, 1, 2. Tick 9 (within 10 ticks of the round-1 one): 3.
    # Tick 16: the last one that traded in the book within 10 ticks is tick 9's: 4. Tick 40:
    # nothing within the window, a new cascade.
    tick = np.array([5, 5, 5, 9, 16, 40])
    rounds = np.array([0, 0, 1, 0, 0, 0])
    book = np.array([3, 0, 2, 1, 0, 4])
    assert cascade_generations(tick, rounds, book, 10).tolist() == [1, 1, 2, 3, 4, 1]
    assert cascade_generations(tick, rounds, np.zeros(6), 10).tolist() == [1] * 6
    summary = generation_summary(np.array([1, 1, 2, 3, 4, 1]), np.ones(6))
    assert summary == {"share_generation_2_plus": pytest.approx(0.5), "longest_chain": 4.0}
    assert np.isnan(generation_summary(np.array([]), np.array([]))["share_generation_2_plus"])


@pytest.mark.parametrize("execution", ["book", "off_book"])
def test_a_crash_keeps_every_invariant_either_way(execution):
    """Liquidations on the book and off it keep every invariant (:data:`LIQUIDATABLE_RETAIL`)."""
    overrides = [
        "retail.count=300",
        *(f"{key}={json.dumps(value)}" for key, value in LIQUIDATABLE_RETAIL.items()),
        "run.hours=0.5",
        "world.shocks=[{start_minute: 5, minutes: 5, move: -0.08}]",
        f"exchange.liquidation.execution={execution}",
    ]
    model = MarketModel(load_config("baseline", overrides))
    for _ in range(model.ticks):
        model.step()
    model.exchange.check_invariants()
    events = model.exchange.liquidations
    assert events
    steps = {a.step for e in events for a in e.actions}
    assert ("off_book" in steps) == (execution == "off_book")
    if execution == "off_book":
        assert all(e.fills == [] or all(c == VAULT for c, _, _ in e.fills) for e in events)


def test_feedback_measures_a_crash_on_and_off_the_book():
    """The same crash (same seed) with forced orders in the book and closed off it: both
    liquidate; off the book no liquidation follows another's orders (every one is generation
    1), and every measure is a finite number."""
    from abm.experiments.evaluate import evaluate

    overrides = {
        "retail.count": 300,
        **LIQUIDATABLE_RETAIL,
        "run.hours": 0.75,
        "world.shocks": [{"start_minute": 5, "minutes": 5, "move": -0.08}],
    }
    on = evaluate({}, ["feedback"], overrides=overrides)
    off = evaluate(
        {"exchange.liquidation.execution": "off_book"}, ["feedback"], overrides=overrides
    )
    for run in (on, off):
        assert run["feedback.liquidated_share_of_oi"] > 0
        assert all(np.isfinite(value) for value in run.values())
        assert run["feedback.peak_gap_information_bps"] >= 0
    assert off["feedback.share_generation_2_plus"] == 0
    assert off["feedback.longest_chain"] == 1
    assert on["feedback.longest_chain"] >= 1


SMALL_FEEDBACK_SWEEP = """
base: baseline
set:
  run.hours: 0.75
  retail.count: 300
  retail.leverage: {values: [20], weights: [1.0]}
  retail.cross_margin_share: 0.0
  retail.margin_fraction: {low: 0.5, high: 0.6}
points:
  - name: drop
    set: {world.shocks: [{start_minute: 20, minutes: 5, move: -0.1, name: crash}]}
grid:
  exchange.max_leverage: [125, 20]
  exchange.liquidation.execution: [book, off_book]
replications: 2
seed: 7
metrics: [feedback]
"""


def test_abm_sweep_feedback_reads_a_sweep_of_liquidations_in_and_off_the_book(tmp_path, capsys):
    from abm.cli import main

    sweep = tmp_path / "feedback.yaml"
    sweep.write_text(SMALL_FEEDBACK_SWEEP)
    store = tmp_path / "store"
    assert main(["sweep", str(sweep), "--out", str(store), "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["sweep", "feedback", str(store)]) == 0
    printed = capsys.readouterr().out
    assert "what forced orders" not in printed  # the table, not the figure's title
    assert "drop" in printed and "through the price" in printed

    table = pd.read_csv(store / "feedback.csv")
    assert sorted(table["exchange.max_leverage"]) == [20, 125]
    assert (table["replications"] == 2).all()
    assert (table["book_liquidated_share_of_oi"] > 0).all()
    assert ((table["feedback"] - (table["book"] - table["off_book"])).abs() < 1e-12).all()
    assert (store / "figures" / "feedback.png").is_file()
    assert main(["sweep", "feedback", str(tmp_path)]) == 2  # not a store: one message
    assert "not a sweep store" in capsys.readouterr().err


def _short_run(tmp_path, overrides=()):
    from abm.cli import main

    out = tmp_path / "reference"
    args = ["run", "baseline", "--set", "retail.count=200", "--set", "run.hours=0.1", "--out"]
    assert main([*args, str(out), *[a for o in overrides for a in ("--set", o)]]) == 0
    return out


def test_a_replayed_run_follows_the_stored_path_tick_by_tick(tmp_path):
    """The exchange's index, mark and last are the stored run's at every tick, whatever this
    run's own orders did (here another population: leverage capped at 5)."""

    stored = _short_run(tmp_path)
    model = MarketModel(
        load_config(
            "baseline",
            [
                "retail.count=200",
                "run.hours=0.1",
                "exchange.max_leverage=5",
                f"replay.perp_path={stored}",
            ],
        )
    )
    model.run_for(model.ticks)
    model.exchange.check_invariants()
    ticks = pd.read_parquet(stored / "ticks.parquet").set_index("tick")
    mine = pd.DataFrame(model.recorder.columns).set_index("tick")
    for column in ("index_usdt", "mark_usdt"):
        assert (mine[column].iloc[1:] - ticks[column].iloc[1:]).abs().max() < 0.05
    last = ticks["last_usdt"].fillna(ticks["mark_usdt"])
    assert (mine["last_usdt"].iloc[1:] - last.iloc[1:]).abs().max() < 0.05


def test_liquidations_under_a_replayed_path_happen_at_its_mark(tmp_path):
    """A path whose mark falls 12% at tick 200 (the book does not follow): the 10x and higher
    longs are liquidated there, at the replayed mark, and nobody before it."""

    start = 50_000.0
    ticks = 400
    mark = [start if t < 200 else start * 0.88 for t in range(1, ticks + 1)]
    path = tmp_path / "path.csv"
    pd.DataFrame(
        {"tick": range(1, ticks + 1), "index_usdt": mark, "mark_usdt": mark, "last_usdt": mark}
    ).to_csv(path, index=False)
    model = MarketModel(
        load_config(
            "baseline",
            ["retail.count=300", f"run.hours={ticks / 3600}", f"replay.perp_path={path}"],
        )
    )
    model.run_for(model.ticks)
    model.exchange.check_invariants()
    events = [e for e in model.exchange.liquidations if e.side != "none"]
    assert events and all(e.tick >= 200 for e in events)
    inst = model.exchange.instrument
    assert all(e.mark == inst.ticks(start * 0.88) for e in events)
    assert {e.side for e in events} == {"long"}


def test_a_replay_that_cannot_be_used_is_one_message(tmp_path):

    from abm.config import ConfigError

    short = tmp_path / "short.csv"
    pd.DataFrame({"tick": [1, 2], "index_usdt": [1.0, 1.0], "mark_usdt": [1.0, 1.0]}).to_csv(
        short, index=False
    )
    with pytest.raises(ValueError, match="replay.perp_path: .* has no column last_usdt"):
        MarketModel(load_config("baseline", ["run.hours=0.01", f"replay.perp_path={short}"]))
    pd.DataFrame(
        {"tick": [1, 2], "index_usdt": [1.0] * 2, "mark_usdt": [1.0] * 2, "last_usdt": [1.0] * 2}
    ).to_csv(short, index=False)
    with pytest.raises(ValueError, match="the run needs every tick from 1 to 36"):
        MarketModel(load_config("baseline", ["run.hours=0.01", f"replay.perp_path={short}"]))
    with pytest.raises(ValueError, match="neither a run folder"):
        MarketModel(load_config("baseline", ["run.hours=0.01", "replay.perp_path=nowhere"]))
    with pytest.raises(ConfigError, match="not both"):
        load_config(
            "baseline",
            ["replay.perp_path=x", "replay.perp_from={exchange.max_leverage: 125}"],
        )


def test_replaying_a_run_of_other_settings_made_in_the_same_process():
    """replay.perp_from: the cap-5 population faces the cap-125 run's prices (same seed)."""
    common = ["retail.count=200", "run.hours=0.1"]
    reference = MarketModel(load_config("baseline", common), collect=False)
    reference.run_for(reference.ticks)
    model = MarketModel(
        load_config(
            "baseline",
            [
                *common,
                "exchange.max_leverage=5",
                "replay.perp_from={exchange.max_leverage: 125}",
            ],
        ),
        collect=False,
    )
    model.run_for(model.ticks)
    assert model.recorder.columns["mark_usdt"][1:] == reference.recorder.columns["mark_usdt"][1:]
    assert model.config.exchange.max_leverage == 5


def _catalog(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"status": "complete", **row} for row in rows])


def test_the_cap_effect_splits_into_distance_participation_and_feedback():
    # One replication. Own paths (book runs): cap 125 liquidates 10% of open interest, cap 20
    # 4%. On the cap-125 path cap 20's populations would lose 6% (composition), 7% if nobody
    # stayed out (distance only). So: whole -6, distance -3, participation -1, feedback -2.
    from abm.experiments.feedback import CAP, EXECUTION, decompose_cap_effect

    metric = "feedback.liquidated_share_of_oi"
    feedback = _catalog(
        [
            {"point": "p", CAP: 125, EXECUTION: "book", "replication": 0, metric: 0.10},
            {"point": "p", CAP: 20, EXECUTION: "book", "replication": 0, metric: 0.04},
            {"point": "p", CAP: 20, EXECUTION: "off_book", "replication": 0, metric: 0.5},
        ]
    )
    replay = _catalog(
        [
            {"point": "composition", CAP: 20, "replication": 0, metric: 0.06},
            {"point": "distance_only", CAP: 20, "replication": 0, metric: 0.07},
        ]
    )
    row = decompose_cap_effect(feedback, replay, "p").iloc[0]
    assert row["whole"] == pytest.approx(-0.06)
    assert row["distance"] == pytest.approx(-0.03)
    assert row["participation"] == pytest.approx(-0.01)
    assert row["feedback"] == pytest.approx(-0.02)
    assert row["distance"] + row["participation"] + row["feedback"] == pytest.approx(row["whole"])


def test_the_regime_table_pairs_the_caps_by_replication():
    from abm.experiments.feedback import CAP, regime_table

    rows = []
    for replication, (high, low) in enumerate([(0.02, 0.01), (0.04, 0.01)]):
        for cap, excess in ((125, high), (5, low)):
            rows.append(
                {
                    "point": "capital_x1",
                    CAP: cap,
                    "replication": replication,
                    "feedback.excess_mark": excess,
                    "feedback.liquidated_share_of_oi": 0.1 if cap == 125 else 0.0,
                    "proportions.depth_1pct_per_oi": 0.02,
                }
            )
    row = regime_table(_catalog(rows)).iloc[0]
    assert row["deeper"] == pytest.approx(0.02)
    assert row["replications"] == 2
    assert row["depth_1pct_per_oi"] == pytest.approx(0.02)
    assert row["liquidated_high_cap"] == pytest.approx(0.1)


def test_abm_sweep_decompose_and_regime_read_stores(tmp_path, capsys):
    from abm.cli import main
    from abm.experiments.feedback import CAP, EXECUTION

    metric = "feedback.liquidated_share_of_oi"
    fb, rp, rg = tmp_path / "fb", tmp_path / "rp", tmp_path / "rg"
    for folder in (fb, rp, rg):
        folder.mkdir()
    _catalog(
        [
            {"point": "shock_6pct", CAP: cap, EXECUTION: "book", "replication": r, metric: v}
            for r in range(3)
            for cap, v in ((125, 0.1 + r / 100), (20, 0.04))
        ]
    ).to_parquet(fb / "catalog.parquet")
    _catalog(
        [
            {"point": point, CAP: 20, "replication": r, metric: v}
            for r in range(3)
            for point, v in (("composition", 0.06), ("distance_only", 0.07))
        ]
    ).to_parquet(rp / "catalog.parquet")
    _catalog(
        [
            {
                "point": point,
                CAP: cap,
                "replication": r,
                "feedback.excess_mark": 0.01 * r + (0.01 if cap == 125 else 0),
                metric: 0.1,
                "proportions.depth_1pct_per_oi": depth,
            }
            for point, depth in (
                ("capital_x1", 0.02),
                ("capital_x10", 0.005),
                ("liquidity_x3", 0.06),
            )
            for cap in (125, 5)
            for r in range(3)
        ]
    ).to_parquet(rg / "catalog.parquet")
    assert main(["sweep", "decompose", str(fb), str(rp)]) == 0
    assert "cap   20 (n=3): whole" in capsys.readouterr().out
    assert (rp / "figures" / "decomposition.png").is_file()
    assert main(["sweep", "regime", str(rg)]) == 0
    printed = capsys.readouterr().out
    assert "capital_x10" in printed and "  100.0 [" in printed  # 1 point = 100 bps deeper
    assert (rg / "figures" / "regime.png").is_file()
    assert main(["sweep", "regime", str(tmp_path)]) == 2
    assert "not a sweep store" in capsys.readouterr().err
