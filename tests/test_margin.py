"""Unit tests of the integer margin module against the float calculator and by hand.

Units: money in micro-USDT, prices in ticks of 0.1 USDT, quantities in lots of 0.001 BTC, so
``K`` = 100 micro-USDT of notional per lot per tick.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.config import MICRO, load_rulebook
from abm.exchange.calculator import liquidation_price, maintenance_amounts, maintenance_margin
from abm.exchange.margin import (
    NEVER,
    UNBOUNDED,
    Brackets,
    bankruptcy_tick,
    liquidation_tick,
    margin_surplus,
)
from tests.conftest import TWO_TIERS, U

K = 100
BINANCE = load_rulebook(Path(__file__).resolve().parents[1] / "configs/exchanges/binance.yaml")
BRACKETS = Brackets(BINANCE.brackets)
TIERS = [(b.notional_cap, b.max_leverage, b.mmr) for b in BINANCE.brackets]


def test_binance_cum_equals_the_calculators_maintenance_amounts():
    expected = [round(c * MICRO) for c in maintenance_amounts(TIERS)]
    assert BRACKETS.cum == expected


def test_binance_cum_matches_the_published_table():
    published = [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300]
    assert BRACKETS.cum == [c * U for c in [*published, 100_016_300]]


def test_maintenance_margin_is_notional_times_rate_minus_cum():
    assert BRACKETS.maintenance_margin(0) == 0
    assert BRACKETS.maintenance_margin(10_000 * U) == 40 * U
    assert BRACKETS.maintenance_margin(500_000 * U) == 3_700 * U  # 0.01 x 500k - 1,300
    assert BRACKETS.maintenance_margin(500_000 * U) == round(
        maintenance_margin(500_000, TIERS) * MICRO
    )


def test_maintenance_margin_rounds_up_towards_the_exchange():
    assert BRACKETS.maintenance_margin(1) == 1  # 0.004 micro-units rounds up to 1
    assert BRACKETS.maintenance_margin(250) == 1
    assert BRACKETS.maintenance_margin(251) == 2


def test_a_notional_at_a_cap_is_in_the_lower_tier_and_margin_is_continuous():
    cap = 50_000 * U
    assert BRACKETS.tier(cap) == 0 and BRACKETS.tier(cap + 1) == 1
    assert BRACKETS.maintenance_margin(cap) == 200 * U
    # Just above the cap: ceil((cap + 1) x 0.005) - 50 USDT, one micro-unit more.
    assert BRACKETS.maintenance_margin(cap + 1) == 200 * U + 1
    assert BRACKETS.tier(10**30) == len(TIERS) - 1


def test_max_leverage_for_follows_the_tier():
    assert BRACKETS.max_leverage_for(50_000 * U) == 125
    assert BRACKETS.max_leverage_for(50_000 * U + 1) == 100
    assert BRACKETS.max_leverage_for(1_000_001 * U) == 20
    assert BRACKETS.max_leverage_for(10**30) == 1


def test_liquidation_tick_of_the_scenario_long_is_hand_computed():
    # 0.2 BTC long at 50,000 with 1,000 USDT margin, mmr 0.4%:
    # LP = (1,000 - 10,000) / (0.2 x 0.004 - 0.2) = 45,180.72 -> liquidatable at 45,180.7.
    two = Brackets(TWO_TIERS)
    assert liquidation_tick(two, K, 1_000 * U, 200, 200 * 500_000) == 451_807
    assert margin_surplus(two, K, 1_000 * U, 200, 200 * 500_000, 451_807) < 0
    assert margin_surplus(two, K, 1_000 * U, 200, 200 * 500_000, 451_808) >= 0


def test_liquidation_tick_of_a_fully_collateralized_long_is_never():
    # Equity reaches zero only at a price of zero, which no trade can print.
    assert liquidation_tick(BRACKETS, K, 500 * U, 10, 10 * 500_000) == NEVER
    # One micro-unit short of full collateral, equity still stays positive at every tick >= 1.
    assert liquidation_tick(BRACKETS, K, 500 * U - 1, 10, 10 * 500_000) == NEVER
    assert liquidation_tick(BRACKETS, K, 450 * U, 10, 10 * 500_000) >= 1


def test_liquidation_at_exactly_maintenance_follows_the_rulebook():
    # Binance liquidates when the margin ratio reaches 100%. The scenario long with 1,000.00456
    # USDT of margin has equity exactly equal to its maintenance margin at 45,180.7:
    # 1,000.00456 + 0.2 x (45,180.7 - 50,000) = 36.14456 = ceil(0.2 x 45,180.7 x 0.004).
    two = Brackets(TWO_TIERS)
    collateral, position, cost = 1_000_004_560, 200, 200 * 500_000
    assert margin_surplus(two, K, collateral, position, cost, 451_807) == 0
    assert liquidation_tick(two, K, collateral, position, cost) == 451_807
    assert liquidation_tick(two, K, collateral, position, cost, at_equality=False) == 451_806


def test_liquidation_tick_of_a_flat_account_raises():
    with pytest.raises(ValueError, match="flat account"):
        liquidation_tick(BRACKETS, K, 0, 0, 0)


@settings(max_examples=400, deadline=None)
@given(
    long=st.booleans(),
    qty=st.integers(1, 3_000_000),  # up to 3,000 BTC
    entry=st.integers(10_000, 2_000_000),  # 1,000 to 200,000 USDT
    leverage=st.integers(1, 125),
    extra=st.integers(-(10**6), 10**6),
)
def test_liquidation_tick_agrees_with_the_calculator_and_is_exact(
    long, qty, entry, leverage, extra
):
    notional = qty * entry * K
    collateral = max(1, -(-notional // leverage) + extra)
    position = qty if long else -qty
    cost = position * entry
    tick = liquidation_tick(BRACKETS, K, collateral, position, cost)
    lp = liquidation_price(
        "long" if long else "short", qty / 1000, entry / 10, collateral / MICRO, TIERS
    )

    def surplus(price: int) -> int:
        return margin_surplus(BRACKETS, K, collateral, position, cost, price)

    if long and tick == NEVER:
        assert lp * 10 <= 1 + 1e-6
        assert surplus(1) > 0
        return
    assert abs(tick - lp * 10) <= 1 + 1e-6
    # Binance liquidates when the margin ratio reaches 100%: equity at or below maintenance.
    assert surplus(tick) <= 0
    if long:
        assert surplus(tick + 1) > 0
    elif tick > 0:
        assert surplus(tick - 1) > 0
    strict = liquidation_tick(BRACKETS, K, collateral, position, cost, at_equality=False)
    if strict not in (NEVER, UNBOUNDED):
        assert surplus(strict) < 0
        assert surplus(strict + (1 if long else -1)) >= 0


def test_bankruptcy_tick_of_a_long_rounds_up():
    # 0.2 BTC at 50,000 with 1,000 USDT: exactly 45,000.0.
    assert bankruptcy_tick(K, 1_000 * U, 200, 200 * 500_000) == 450_000
    assert bankruptcy_tick(K, 1_000 * U + 1, 200, 200 * 500_000) == 450_000
    # One micro-unit less margin: 44,999.99999995 is not a tick; round up to 45,000.1.
    assert bankruptcy_tick(K, 1_000 * U - 1, 200, 200 * 500_000) == 450_001


def test_bankruptcy_tick_of_a_short_rounds_down():
    assert bankruptcy_tick(K, 1_000 * U, -200, -200 * 500_000) == 550_000
    assert bankruptcy_tick(K, 1_000 * U + 1, -200, -200 * 500_000) == 550_000
    assert bankruptcy_tick(K, 1_000 * U - 1, -200, -200 * 500_000) == 549_999


def test_bankruptcy_tick_of_a_long_is_at_least_one():
    assert bankruptcy_tick(K, 10_000 * U, 10, 10 * 500_000) == 1


@settings(max_examples=300, deadline=None)
@given(
    long=st.booleans(),
    qty=st.integers(1, 1_000_000),
    entry=st.integers(1_000, 2_000_000),
    collateral=st.integers(1, 10**13),
)
def test_bankruptcy_tick_leaves_equity_non_negative_and_is_the_worst_such_tick(
    long, qty, entry, collateral
):
    position = qty if long else -qty
    cost = position * entry

    def equity(price: int) -> int:
        return collateral + (position * price - cost) * K

    tick = bankruptcy_tick(K, collateral, position, cost)
    assert equity(tick) >= 0
    if long and tick > 1:
        assert equity(tick - 1) < 0
    if not long:
        assert equity(tick + 1) < 0
