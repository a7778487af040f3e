"""Unit tests of positions as links, driven through the exchange with zero fees.

Units: tick 0.1 USDT, lot 0.001 BTC, so one lot moving one tick is worth
``value_per_tick_lot`` = 100 micro-USDT, and a settlement of ``lots`` at ``fill`` against a link
at ``ref`` moves ``lots x (fill - ref) x 100`` micro-USDT.
"""

from __future__ import annotations

from abm.exchange import BUY, SELL, Cause, Exchange
from tests.conftest import U, make_rulebook

K = 100
P0 = 500_000  # 50,000 USDT


def start() -> Exchange:
    ex = Exchange(make_rulebook(maker_fee=0, taker_fee=0))
    ex.begin_tick(0, P0)
    return ex


def traders(ex: Exchange, n: int) -> list[int]:
    return [ex.open_account(100_000 * U) for _ in range(n)]


def trade(ex: Exchange, seller: int, buyer: int, qty: int, price: int, maker: int = SELL) -> None:
    """``seller`` sells ``qty`` lots to ``buyer`` at ``price``; ``maker`` says whose order rests."""
    if maker == SELL:
        assert ex.submit(seller, SELL, qty, price).resting == qty
        assert ex.submit(buyer, BUY, qty, price, kind="ioc").filled == qty
    else:
        assert ex.submit(buyer, BUY, qty, price).resting == qty
        assert ex.submit(seller, SELL, qty, price, kind="ioc").filled == qty
    ex.check_invariants()


def links(ex: Exchange, account: int) -> list[tuple[int, int, int, int]]:
    """The account's live links as ``(long, short, qty, ref)``, oldest first."""
    return [(lk.long, lk.short, lk.qty, lk.ref) for lk in ex.accounts[account].live_links()]


def pnl_transfers(ex: Exchange) -> list[tuple[int, int, int]]:
    log = ex.ledger
    return [
        (log.log_src[i], log.log_dst[i], log.log_amount[i])
        for i in range(len(log))
        if log.log_cause[i] == Cause.TRADE_PNL
    ]


def test_value_per_tick_lot_is_100_micro_usdt():
    assert start().k == K


def test_both_sides_opening_create_one_link_at_the_fill():
    ex = start()
    short, long = traders(ex, 2)
    trade(ex, short, long, 10, P0)
    assert links(ex, long) == links(ex, short) == [(long, short, 10, P0)]
    assert (ex.position(long), ex.position(short)) == (10, -10)
    assert (ex.accounts[long].cost, ex.accounts[short].cost) == (10 * P0, -10 * P0)
    assert pnl_transfers(ex) == []
    assert ex.open_interest() == (10, 10)


def test_extending_at_the_same_price_merges_into_the_same_link():
    ex = start()
    short, long = traders(ex, 2)
    trade(ex, short, long, 10, P0)
    trade(ex, short, long, 5, P0)
    assert links(ex, long) == [(long, short, 15, P0)]


def test_extending_at_another_price_adds_a_second_link():
    ex = start()
    short, long = traders(ex, 2)
    trade(ex, short, long, 10, P0)
    trade(ex, short, long, 5, P0 + 10)
    assert links(ex, long) == [(long, short, 10, P0), (long, short, 5, P0 + 10)]
    assert ex.accounts[long].cost == 10 * P0 + 5 * (P0 + 10)


def test_closing_side_leaves_oldest_link_first_settles_and_repoints_to_the_opener():
    ex = start()
    short, long_b, long_c, opener = traders(ex, 4)
    trade(ex, short, long_b, 10, 500_000)
    trade(ex, short, long_c, 10, 501_000)
    # The short buys back 15 from a new short at 502,000: 10 from its oldest link (to B),
    # then 5 from the link to C.
    trade(ex, opener, short, 15, 502_000)
    assert pnl_transfers(ex) == [
        (short, long_b, 10 * (502_000 - 500_000) * K),  # 2,000,000
        (short, long_c, 5 * (502_000 - 501_000) * K),  # 500,000
    ]
    assert links(ex, short) == [(long_c, short, 5, 501_000)]
    assert links(ex, opener) == [(long_b, opener, 10, 502_000), (long_c, opener, 5, 502_000)]
    assert links(ex, long_b) == [(long_b, opener, 10, 502_000)]
    assert links(ex, long_c) == [(long_c, short, 5, 501_000), (long_c, opener, 5, 502_000)]
    assert ex.balance(short) == 100_000 * U - 2_500_000
    assert ex.balance(long_b) == 100_000 * U + 2_000_000
    assert ex.balance(long_c) == 100_000 * U + 500_000
    assert (ex.position(short), ex.position(opener)) == (-5, -15)
    assert ex.accounts[long_b].cost == 10 * 502_000


def test_a_losing_long_pays_its_short_when_it_closes():
    ex = start()
    short, long, opener = traders(ex, 3)
    trade(ex, short, long, 10, 500_000)
    trade(ex, long, opener, 10, 499_000, maker=BUY)
    assert pnl_transfers(ex) == [(long, short, 10 * 1_000 * K)]
    assert links(ex, short) == [(opener, short, 10, 499_000)]
    assert links(ex, long) == []
    assert ex.position(long) == 0 and ex.accounts[long].cost == 0


def test_both_sides_closing_join_the_two_remaining_partners():
    ex = start()
    a_long, x_short, b_short, y_long = traders(ex, 4)
    trade(ex, x_short, a_long, 10, 500_000)
    trade(ex, b_short, y_long, 10, 501_000)
    # A (long vs X) sells to B (short vs Y) at 503,000: both close; Y and X are joined.
    trade(ex, a_long, b_short, 10, 503_000)
    assert pnl_transfers(ex) == [
        (b_short, y_long, 10 * 2_000 * K),  # the buyer's link settles first
        (x_short, a_long, 10 * 3_000 * K),
    ]
    assert links(ex, y_long) == links(ex, x_short) == [(y_long, x_short, 10, 503_000)]
    assert links(ex, a_long) == links(ex, b_short) == []
    assert ex.open_interest() == (10, 10)


def test_closing_against_your_own_partner_removes_the_link():
    ex = start()
    short, long = traders(ex, 2)
    trade(ex, short, long, 10, 500_000)
    trade(ex, long, short, 10, 500_500)
    assert pnl_transfers(ex) == [(short, long, 10 * 500 * K)]
    assert links(ex, long) == links(ex, short) == []
    assert ex.open_interest() == (0, 0)
    assert ex.open_accounts == set()


def test_partial_close_splits_a_link():
    ex = start()
    short, long, opener = traders(ex, 3)
    trade(ex, short, long, 10, 500_000)
    trade(ex, long, opener, 4, 500_200, maker=BUY)
    assert pnl_transfers(ex) == [(short, long, 4 * 200 * K)]
    assert links(ex, short) == [(long, short, 6, 500_000), (opener, short, 4, 500_200)]
    assert links(ex, long) == [(long, short, 6, 500_000)]
    assert ex.accounts[short].cost == -(6 * 500_000 + 4 * 500_200)


def test_flipping_side_closes_then_opens_a_new_link():
    ex = start()
    short, long, buyer = traders(ex, 3)
    trade(ex, short, long, 10, 500_000)
    # The long sells 15: 10 close (the short's link is re-pointed to the buyer), 5 open short.
    trade(ex, long, buyer, 15, 500_100, maker=BUY)
    assert ex.position(long) == -5
    assert links(ex, buyer) == [(buyer, short, 10, 500_100), (buyer, long, 5, 500_100)]
    assert links(ex, long) == [(buyer, long, 5, 500_100)]


def test_repointing_settlement_leaves_every_equity_and_threshold_unchanged():
    ex = start()
    a_long, b_short, c_new = traders(ex, 3)
    trade(ex, b_short, a_long, 10, 500_000)
    fill = 505_000
    everyone = (a_long, b_short, c_new)

    def snapshot(price: int) -> list[int]:
        return [ex.equity(i, price) for i in everyone]

    at_fill, elsewhere = snapshot(fill), snapshot(497_300)
    threshold = ex.liquidation_threshold(a_long)
    margin_before = ex.isolated_margin(a_long)
    # A third party's trade: B buys back from C. A's exposure is re-pointed to C.
    trade(ex, c_new, b_short, 10, fill)
    assert pnl_transfers(ex) == [(b_short, a_long, 10 * 5_000 * K)]
    assert links(ex, a_long) == [(a_long, c_new, 10, fill)]
    # No equity changes hands at the fill price, and A's equity is the same at any price.
    assert snapshot(fill) == at_fill
    assert ex.equity(a_long, 497_300) == elsewhere[0]
    # A's settlement went into its isolated margin, so its liquidation threshold is unchanged.
    assert ex.isolated_margin(a_long) == margin_before + 5_000_000
    assert ex.liquidation_threshold(a_long) == threshold


def test_self_trade_cancels_the_resting_order():
    ex = start()
    (a,) = traders(ex, 1)
    resting = ex.submit(a, SELL, 5, P0)
    result = ex.submit(a, BUY, 5, P0)
    assert (result.filled, result.resting) == (0, 5)
    assert resting.order_id not in ex.orders
    assert ex.book.levels(SELL) == []
    assert ex.book.levels(BUY) == [(P0, 5)]
    assert ex.position(a) == 0 and len(ex.fills["qty"]) == 0
    ex.check_invariants()


def test_self_trade_prevention_skips_own_order_and_fills_the_next_maker():
    ex = start()
    a, b = traders(ex, 2)
    own = ex.submit(a, SELL, 5, P0)
    assert ex.submit(b, SELL, 5, P0)
    result = ex.submit(a, BUY, 5, P0, kind="ioc")
    assert result.filled == 5
    assert own.order_id not in ex.orders
    assert links(ex, a) == [(a, b, 5, P0)]
    ex.check_invariants()
