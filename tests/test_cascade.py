"""The cascade, demonstrated: the same crash of the fundamental value (-6% over 20 minutes)
under the baseline's leverage habits (cap 125) and with leverage capped at 2, paired by seed
(common random numbers: only the cap differs). Forced sells must deepen the perp's drawdown,
and the 95% interval of the paired difference must exclude zero."""

from __future__ import annotations

import numpy as np
import pytest

from abm.experiments.cascade import crash_experiment, paired_difference

SEEDS = list(range(1, 11))


@pytest.fixture(scope="module")
def crashes():
    return crash_experiment(SEEDS)


@pytest.mark.slow
def test_leverage_deepens_the_crash(crashes):
    wide = crashes.pivot(index="seed", columns="cap", values="drawdown_pct")
    diff = paired_difference(wide[125].to_numpy(), wide[2].to_numpy())
    assert diff["n"] == 10
    assert diff["low"] > 0, diff


@pytest.mark.slow
def test_forced_orders_are_part_of_the_selling_only_with_leverage(crashes):
    share = crashes.pivot(index="seed", columns="cap", values="liquidation_sell_share")
    assert (share[2] == 0).all()
    assert np.mean(share[125]) > 0


def test_paired_difference_interval_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.303: 2 +/- 4.303 / sqrt(3)
    d = paired_difference(np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert d["mean"] == pytest.approx(2.0)
    assert d["low"] == pytest.approx(2 - 4.303 / 3**0.5, abs=1e-3)
    assert d["high"] == pytest.approx(2 + 4.303 / 3**0.5, abs=1e-3)
