"""The feedback channel's counterfactual and its measures (issue 23): liquidations closed off
the book (``liquidation.execution: off_book``) and cascade generations."""

from __future__ import annotations

import numpy as np
import pytest

from abm.analysis.cascades import cascade_generations, generation_summary
from abm.config import load_config
from abm.exchange import BUY, Cause, SystemAccount
from abm.model import MarketModel
from tests.conftest import U
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
    overrides = [
        "retail.count=300",
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
    import pandas as pd

    table = pd.read_csv(store / "feedback.csv")
    assert sorted(table["exchange.max_leverage"]) == [20, 125]
    assert (table["replications"] == 2).all()
    assert (table["book_liquidated_share_of_oi"] > 0).all()
    assert ((table["feedback"] - (table["book"] - table["off_book"])).abs() < 1e-12).all()
    assert (store / "figures" / "feedback.png").is_file()
    assert main(["sweep", "feedback", str(tmp_path)]) == 2  # not a store: one message
    assert "not a sweep store" in capsys.readouterr().err
