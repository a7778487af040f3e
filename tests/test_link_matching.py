"""The link convention (``exchange.link_matching``): which links a closing side leaves.

Hand-computed scenarios in the units of tests/test_positions.py (one lot moving one tick is
worth 100 micro-USDT), and a property test: under fifo, lifo and pro_rata the same trades leave
every account with the same position and equity, and the exchange's invariants hold; only who
was paid a closing side's gains and losses differs.
"""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.config import ConfigError, load_config, override_config
from abm.exchange import BUY, SELL, Cause, Exchange
from abm.exchange.accounts import Link
from abm.exchange.positions import pro_rata_pieces
from abm.exchange.records import LINK_MATCHINGS
from tests.conftest import U, make_rulebook

K = 100
P0 = 500_000


def start(matching: str) -> Exchange:
    ex = Exchange(make_rulebook(maker_fee=0, taker_fee=0, link_matching=matching))
    ex.begin_tick(0, P0)
    return ex


def trade(ex: Exchange, seller: int, buyer: int, qty: int, price: int) -> None:
    assert ex.submit(seller, SELL, qty, price).resting == qty
    assert ex.submit(buyer, BUY, qty, price, kind="ioc").filled == qty
    ex.check_invariants()


def links(ex: Exchange, account: int) -> list[tuple[int, int, int, int]]:
    return [(lk.long, lk.short, lk.qty, lk.ref) for lk in ex.accounts[account].live_links()]


def pnl_paid(ex: Exchange) -> list[tuple[int, int, int]]:
    log = ex.ledger
    return [
        (log.log_src[i], log.log_dst[i], log.log_amount[i])
        for i in range(len(log))
        if log.log_cause[i] == Cause.TRADE_PNL
    ]


def three_links_then_close(matching: str) -> tuple[Exchange, list[int]]:
    """A buys 3 lots from S1 at P0, 1 from S2 at P0 + 10, 2 from S3 at P0 + 20; then sells 3
    lots to B, who opens, at P0 + 30."""
    ex = start(matching)
    a, s1, s2, s3, b = (ex.open_account(100_000 * U, cross=True) for _ in range(5))
    trade(ex, s1, a, 3, P0)
    trade(ex, s2, a, 1, P0 + 10)
    trade(ex, s3, a, 2, P0 + 20)
    trade(ex, a, b, 3, P0 + 30)
    return ex, [a, s1, s2, s3, b]


def test_fifo_leaves_the_oldest_link():
    ex, (a, s1, s2, s3, b) = three_links_then_close("fifo")
    # S1's 3 lots settle at +30 ticks: S1 pays A 3 x 30 x 100; S1 now faces B at the fill.
    assert pnl_paid(ex) == [(s1, a, 9_000)]
    assert links(ex, a) == [(a, s2, 1, P0 + 10), (a, s3, 2, P0 + 20)]
    assert links(ex, b) == [(b, s1, 3, P0 + 30)]


def test_lifo_leaves_the_newest_link():
    ex, (a, s1, s2, s3, b) = three_links_then_close("lifo")
    # S3's 2 lots at +10 ticks (2,000), then S2's 1 lot at +20 ticks (2,000).
    assert pnl_paid(ex) == [(s3, a, 2_000), (s2, a, 2_000)]
    assert links(ex, a) == [(a, s1, 3, P0)]
    assert links(ex, b) == [(b, s3, 2, P0 + 30), (b, s2, 1, P0 + 30)]


def test_pro_rata_leaves_every_link_in_proportion():
    ex, (a, s1, s2, s3, b) = three_links_then_close("pro_rata")
    # Shares of 3 lots over links of 3, 1, 2: 1.5, 0.5, 1 -> 1, 0, 1; the lot left over goes to
    # the larger remainder, 0.5 against 0.5: the older link, S1 -> 2, 0, 1.
    assert pnl_paid(ex) == [(s1, a, 2 * 30 * K), (s3, a, 1 * 10 * K)]
    assert links(ex, a) == [(a, s1, 1, P0), (a, s2, 1, P0 + 10), (a, s3, 1, P0 + 20)]
    assert links(ex, b) == [(b, s1, 2, P0 + 30), (b, s3, 1, P0 + 30)]


def test_the_conventions_move_the_same_money_to_each_account():
    """Settlement moves balance and cost basis together: every account's equity at any price
    and its position are the same under each convention; A's realized gain differs."""
    outcomes = {m: three_links_then_close(m) for m in LINK_MATCHINGS}
    for price in (P0 - 1_000, P0 + 30, P0 + 5_000):
        equities = {m: [ex.equity(i, price) for i in ids] for m, (ex, ids) in outcomes.items()}
        assert equities["fifo"] == equities["lifo"] == equities["pro_rata"]
    positions = {m: [ex.position(i) for i in ids] for m, (ex, ids) in outcomes.items()}
    assert positions["fifo"] == positions["lifo"] == positions["pro_rata"] == [3, -3, -1, -2, 3]
    balances = {m: ex.balance(ids[0]) for m, (ex, ids) in outcomes.items()}
    assert balances == {
        "fifo": 100_000 * U + 9_000,
        "lifo": 100_000 * U + 4_000,
        "pro_rata": 100_000 * U + 7_000,
    }


def test_pro_rata_pieces_round_down_and_give_leftovers_to_the_largest_remainders():
    def pieces(sizes: list[int], qty: int) -> list[int]:
        queue = [Link(4, 5 + i, size, P0) for i, size in enumerate(sizes)]
        taken = {id(link): lots for link, lots in pro_rata_pieces(deque(queue), qty)}
        return [taken.get(id(link), 0) for link in queue]

    assert pieces([3, 1, 2], 3) == [2, 0, 1]
    assert pieces([5, 5], 10) == [5, 5]
    assert pieces([1, 1, 1], 1) == [1, 0, 0]
    assert pieces([1, 4], 2) == [0, 2]  # shares 0.4, 1.6 -> 0, 1; the leftover to 0.6 -> 0, 2
    assert pieces([0, 7, 3], 5) == [0, 4, 1]  # a closed link gives nothing; 3.5, 1.5 -> 3 + 1, 1
    assert sum(pieces([13, 7, 29, 1], 23)) == 23


def test_an_unknown_convention_is_refused_by_name():
    config = load_config("baseline")
    with pytest.raises(ConfigError, match="link_matching"):
        override_config(config, {"exchange.link_matching": "newest"})


TRADES = st.lists(
    st.tuples(
        st.integers(0, 4),  # seller
        st.integers(0, 4),  # buyer
        st.integers(1, 9),  # lots
        st.integers(-40, 40),  # price offset, ticks
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=120, deadline=None)
@given(TRADES)
def test_any_trades_leave_the_same_positions_and_equity_under_every_convention(trades):
    results = {}
    for matching in LINK_MATCHINGS:
        ex = start(matching)
        ids = [ex.open_account(1_000_000 * U, cross=True) for _ in range(5)]
        for seller, buyer, lots, offset in trades:
            if seller == buyer:
                continue
            trade(ex, ids[seller], ids[buyer], lots, P0 + offset)
        results[matching] = (
            [ex.position(i) for i in ids],
            [ex.equity(i, P0 + 7) for i in ids],
            sum(ex.balance(i) for i in ids),
            ex.open_interest(),
        )
    assert results["fifo"] == results["lifo"] == results["pro_rata"]
