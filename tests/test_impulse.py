"""The impulse response (abm.experiments.impulse): one large sell against a flat information
process, its immediate and lasting move of the mark."""

from __future__ import annotations

import pytest

from abm.config import load_config
from abm.experiments.impulse import impulse_response
from tests.conftest import TINY_RUN


def test_a_sale_is_made_in_full_and_measured_against_the_depth_it_ate():
    config = load_config("baseline", [o for o in TINY_RUN if not o.startswith("world.shocks")])
    result = impulse_response(config, sell_btc=5.0, warmup_minutes=5, after_minutes=5)
    assert result["sold_btc"] == pytest.approx(5.0)
    assert result["sold_share_of_depth"] == pytest.approx(5.0 / result["bid_depth_1pct_btc"])
    assert result["immediate_bps"] < 0  # selling does not raise the mark
    assert result["lasting_share"] == pytest.approx(result["after_bps"] / result["immediate_bps"])


def test_the_information_process_is_held_flat():
    config = load_config("baseline", ["retail.count=50", "run.hours=0.1"])
    from abm.config import override_config
    from abm.experiments.impulse import FLAT_INFORMATION
    from abm.model import MarketModel

    model = MarketModel(override_config(config, FLAT_INFORMATION), collect=False)
    path = model.fundamental.path
    assert abs(path.max() / path.min() - 1) < 1e-6
