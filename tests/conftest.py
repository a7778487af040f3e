"""Shared fixtures: small rulebooks and a market helper for exchange scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from abm.config import Bracket, Rulebook

U = 1_000_000
"""One USDT in micro-units."""

TINY_RUN = [
    "run.hours=0.25",
    "retail.count=300",
    "whales.count=1",
    "market_makers.count=2",
    "arbitrageurs.count=1",
    "run.liquidation_map_every_ticks=60",
    "world.shocks=[{start_minute: 2, minutes: 5, move: -0.05}]",
    "retail.cross_margin_share=0.5",
]
"""Overrides of the baseline for a quarter-hour run with a sharp drop: the short end-to-end run
the output, flow and figure tests share. Half of retail on isolated margin (the baseline has 3%),
so that the drop liquidates some of them under any seed (2 to 7 liquidations over seeds 1, 2, 3
and 42; with the baseline's share, none in three of those four), and the tables those tests read
have rows."""

TWO_TIERS = (
    Bracket(notional_cap=50_000, max_leverage=125, mmr=0.004),
    Bracket(notional_cap=float("inf"), max_leverage=100, mmr=0.005),
)


WIDE_BAND = {"band_up": 0.5, "band_down": 0.5, "market_take_bound": 0.5}
"""A price filter wide enough for scenarios that move the price 10% in one trade (the venues'
band is 5% around the mark)."""


LIQUIDATABLE_RETAIL = {
    "retail.leverage": {"values": [20], "weights": [1.0]},
    "retail.cross_margin_share": 0.0,
    "retail.margin_fraction": {"low": 0.5, "high": 0.6},
}
"""Retail at 20x isolated with half its capital in margin: a crash of 8% or more liquidates tens
of accounts at any seed (the baseline's retail, mostly cross with little margin used, may see
none in a short run), so that a test of liquidations never rests on a seed's luck."""


def make_rulebook(**overrides) -> Rulebook:
    """A Binance-like rulebook, marked on last price so tests move the mark with one trade."""
    settings = dict(
        brackets=TWO_TIERS,
        maker_fee=0.0002,
        taker_fee=0.0004,
        mark_price={"mode": "last"},
        liquidation={"clearance_fee": 0.003},
        insurance_fund_seed=0,
    )
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return Rulebook(**settings)


@pytest.fixture
def rulebook() -> Rulebook:
    return make_rulebook()


def copy_run(run_dir: Path, dest: Path, **manifest_fields) -> Path:
    """A copy of a run folder at ``dest``, its manifest's fields replaced by ``manifest_fields``
    (to fake a running, dead, failed or interrupted run)."""
    shutil.copytree(run_dir, dest)
    if manifest_fields:
        path = dest / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest.update(manifest_fields)
        path.write_text(json.dumps(manifest))
    return dest
