"""Running totals that keep per-minute work independent of the number of accounts: each group's
equity, and the liquidation map, against sums recomputed over every account."""

from __future__ import annotations

import pytest

from abm.exchange import BUY, SELL, Exchange
from tests.conftest import WIDE_BAND, U, make_rulebook

P0 = 500_000


def market() -> tuple[Exchange, dict[str, list[int]]]:
    """Retail longs at 20x against whale shorts at 5x and a maker, then a 2% fall."""
    ex = Exchange(make_rulebook(price_filter=WIDE_BAND))
    ex.begin_tick(0, P0)
    groups = {"retail": [], "whale": [], "market_maker": []}
    maker = ex.open_account(10_000_000 * U, leverage=5, group="market_maker")
    groups["market_maker"].append(maker)
    for i in range(6):
        whale = ex.open_account(500_000 * U, leverage=5, group="whale")
        retail = ex.open_account((2_000 + 500 * i) * U, leverage=20, group="retail")
        groups["whale"].append(whale)
        groups["retail"].append(retail)
        assert ex.submit(whale, SELL, 10 + i, P0 + i).resting == 10 + i
        assert ex.submit(retail, BUY, 10 + i, P0 + i).filled == 10 + i
    assert ex.submit(maker, BUY, 40, P0 * 98 // 100).resting == 40
    assert ex.submit(groups["whale"][0], SELL, 40, P0 * 98 // 100).filled == 40
    ex.end_tick()
    return ex, groups


def test_each_groups_equity_is_the_sum_over_its_accounts():
    ex, groups = market()
    by_group = ex.equity_by_group()
    for name, accounts in groups.items():
        assert by_group[name] == sum(ex.equity(a) for a in accounts)
    assert sum(by_group.values()) == 0
    ex.check_invariants()


def test_the_liquidation_map_holds_every_liquidatable_position_once():
    ex, groups = market()
    liquidation_map = ex.liquidation_map()
    longs = liquidation_map.side == 1
    retail_lots = sum(ex.position(a) for a in groups["retail"])
    assert int(liquidation_map.lots[longs].sum()) == retail_lots + ex.position(
        groups["market_maker"][0]
    )
    thresholds = [ex.liquidation_threshold(a) for a in groups["retail"]]
    lots = [ex.position(a) for a in groups["retail"]]
    width = ex.map_bin_ticks
    for threshold, size in zip(thresholds, lots, strict=True):
        here = longs & (liquidation_map.bin_low == threshold // width * width)
        assert int(liquidation_map.lots[here].sum()) >= size
    assert int(liquidation_map.threshold_lots[longs].sum()) == sum(
        t * q
        for t, q in zip(
            [*thresholds, ex.liquidation_threshold(groups["market_maker"][0])],
            [*lots, ex.position(groups["market_maker"][0])],
            strict=True,
        )
    )


def test_the_system_group_name_is_refused():
    ex = Exchange(make_rulebook())
    with pytest.raises(ValueError, match="group 'system'"):
        ex.open_account(1_000 * U, group="system")
    assert len(ex.accounts) == len(ex.ledger.balances) == 4
