"""Events (abm.experiments.event, ``abm event``): a scenario run over seeds, its measures
beside the real figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.config import ConfigError
from abm.experiments.event import MEASURES, load_event, measure_run

SCENARIO = """
extends: {baseline}
run: {{hours: 0.5}}
retail: {{count: 300}}
world:
  shocks: [{{start_minute: 10, minutes: 5, move: -0.1, name: crash}}]
"""

EVENT = """
scenario: scenario.yaml
seeds: 2
real:
  - {measure: long_share_pct, value: 87.0, source: "a public figure"}
  - {measure: last_drawdown_pct, value: 34.2, source: "a kline file"}
"""


def write_event(tmp_path, event=EVENT):
    from abm.config import configs_dir

    (tmp_path / "scenario.yaml").write_text(
        SCENARIO.format(baseline=configs_dir() / "baseline.yaml")
    )
    path = tmp_path / "event.yaml"
    path.write_text(event)
    return path


def test_measures_of_a_hand_made_ticks_table():
    # The last price rises to 110 then falls to 77 at 2 h: a 30% fall, its low at hour 2, 3%
    # below the index there. Longs 3 of 4 liquidated units; open interest 10 -> 6 BTC.
    ticks = pd.DataFrame(
        {
            "elapsed_s": [0.0, 3_600.0, 7_200.0, 10_800.0],
            "last_usdt": [100.0, 110.0, 77.0, 90.0],
            "mark_usdt": [100.0, 110.0, 88.0, 90.0],
            "index_usdt": [100.0, 110.0, 77.0 / 0.97, 90.0],
            "fundamental_usdt": [100.0, 100.0, 90.0, 90.0],
            "liquidated_notional_long_usdt": [0.0, 0.0, 300.0, 0.0],
            "liquidated_notional_short_usdt": [0.0, 100.0, 0.0, 0.0],
            "open_interest_long_btc": [10.0, 10.0, 7.0, 6.0],
        }
    )
    m = measure_run(ticks)
    assert m["last_drawdown_pct"] == pytest.approx(30.0)
    assert m["mark_drawdown_pct"] == pytest.approx(20.0)
    assert m["information_drawdown_pct"] == pytest.approx(10.0)
    assert m["low_hour_utc"] == pytest.approx(2.0)
    assert m["basis_at_low_bps"] == pytest.approx(-300.0)
    assert m["liquidated_share_of_oi_pct"] == pytest.approx(400 / 1_000 * 100)
    assert m["long_share_pct"] == pytest.approx(75.0)
    assert m["oi_change_pct"] == pytest.approx(-40.0)
    assert set(m) == set(MEASURES)


def test_abm_event_prints_the_model_beside_the_real_figures(tmp_path, capsys):
    path = write_event(tmp_path)
    out = tmp_path / "seeds.csv"
    assert main(["event", str(path), "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "] a public figure" in printed and "] a kline file" in printed
    line = next(x for x in printed.splitlines() if x.startswith("longs' share"))
    assert line.split()[-2] == "87.0"
    seeds = pd.read_csv(out, index_col="seed")
    assert list(seeds.index) == [1, 2]
    assert np.all(seeds["information_drawdown_pct"] > 9)  # the 10% shock is there
    assert np.all(seeds["last_drawdown_pct"] > 0)


def test_a_bad_event_is_one_message(tmp_path, capsys):
    assert main(["event", "no_such_event"]) == 2
    assert "shipped: may19_2021" in capsys.readouterr().err
    bad = write_event(tmp_path, EVENT.replace("long_share_pct", "long_share"))
    assert main(["event", str(bad)]) == 2
    assert "unknown measure 'long_share'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not a file beside it"):
        load_event(str(write_event(tmp_path, EVENT.replace("scenario.yaml", "nope.yaml"))))


def test_the_shipped_event_loads_with_sources():
    event, scenario = load_event("may19_2021")
    assert scenario.name == "may19_2021.yaml" and event.seeds >= 10
    assert {f.measure for f in event.real} >= {
        "last_drawdown_pct",
        "basis_at_low_bps",
        "liquidated_share_of_oi_pct",
        "long_share_pct",
        "oi_change_pct",
    }
    assert all(f.source for f in event.real)
