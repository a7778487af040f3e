"""Unit tests of order entry: every rejection leaves no trace; accepted orders, stops and fees.

Units: money in micro-USDT (``U`` = 1 USDT), prices in ticks of 0.1 USDT, quantities in lots of
0.001 BTC; one lot at one tick is ``K`` = 100 micro-USDT of notional.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from abm.exchange import BUY, SELL, Cause, Exchange, OrderResult, Reject, SystemAccount
from tests.conftest import U, make_rulebook

K = 100
P0 = 500_000
EXCHANGE = SystemAccount.EXCHANGE


def fingerprint(ex: Exchange) -> tuple:
    """Everything a request could change: money, log, orders, stops, book, positions, ids."""
    log = ex.ledger
    return (
        tuple(log.balances),
        len(log),
        log.net_deposits,
        tuple(ex.deposited),
        tuple(
            sorted(
                (o.id, o.account, o.side, o.price, o.qty, o.reduce_only) for o in ex.orders.values()
            )
        ),
        tuple(
            sorted(
                (s.id, s.account, s.side, s.qty, s.stop, s.limit, s.on_mark, s.reduce_only)
                for s in ex.stops.values()
            )
        ),
        tuple(sorted((key, tuple(sorted(heap))) for key, heap in ex.stop_book.heaps.items())),
        tuple(ex.book.levels(BUY)),
        tuple(ex.book.levels(SELL)),
        tuple(
            (
                a.position,
                a.cost,
                a.isolated_margin,
                a.leverage,
                a.cross,
                a.liq_threshold,
                a.liq_version,
                (a.open_buy_qty, a.open_buy_value, a.open_sell_qty, a.open_sell_value),
                tuple(sorted(a.orders)),
                tuple(sorted(a.stops)),
                tuple((lk.long, lk.short, lk.qty, lk.ref) for lk in a.live_links()),
            )
            for a in ex.accounts
        ),
        tuple(bytes(column) for column in ex.fills.values()),
        tuple(sorted(ex.open_accounts)),
        (len(ex.long_thresholds), len(ex.short_thresholds)),
        (ex.mark, ex.last, ex.index),
        (ex.last_order_id, ex._event, len(ex.accounts)),
    )


@pytest.fixture
def market():
    """The market of :func:`build_market`."""
    return build_market()


def build_market() -> tuple[Exchange, dict[str, int]]:
    """A market with positions, resting orders on both sides and a stop.

    ``long`` holds 10 lots against ``short`` and rests a buy; ``maker`` quotes 20 @ 499,000 and
    20 @ 501,000; ``poor`` has 10 USDT; ``flat`` has 10,000 USDT and nothing else.
    """
    ex = Exchange(make_rulebook())
    ex.begin_tick(0, P0)
    acct = {
        "long": ex.open_account(10_000 * U),
        "short": ex.open_account(10_000 * U),
        "maker": ex.open_account(100_000 * U),
        "poor": ex.open_account(10 * U),
        "flat": ex.open_account(10_000 * U),
    }
    assert ex.submit(acct["short"], SELL, 10, P0)
    assert ex.submit(acct["long"], BUY, 10, kind="market").filled == 10
    assert ex.submit(acct["maker"], BUY, 20, 499_000)
    assert ex.submit(acct["maker"], SELL, 20, 501_000)
    assert ex.submit(acct["long"], BUY, 3, 498_000)
    assert ex.submit_stop(acct["long"], SELL, 10, 480_000)
    ex.check_invariants()
    return ex, acct


# ----------------------------------------------------------------------------- a maker's ladder


def ladder_in_separate_calls(ex, account, bid, ask, bid_qty, ask_qty, distances) -> list:
    """What ``requote_ladder`` stands for: ``cancel_all``, the top slid behind the book the
    cancel left, then one post-only ``submit`` per quote, bid first, level by level."""
    results = [ex.cancel_all(account)]
    best_ask, best_bid = ex.book.best_ask(), ex.book.best_bid()
    whole = isinstance(bid, int) and isinstance(ask, int)
    if whole:
        bid = max(1, bid if best_ask is None else min(bid, best_ask - 1))
        ask = ask if best_bid is None else max(ask, best_bid + 1)
    for d in distances:
        ok = whole and isinstance(d, int)
        results.append(ex.submit(account, BUY, bid_qty, bid - d if ok else None, kind="post_only"))
        results.append(ex.submit(account, SELL, ask_qty, ask + d if ok else None, kind="post_only"))
    return results


HOSTILE = st.one_of(st.integers(-10, 10**9), st.sampled_from([None, "7", 1.5, -0.0]))


@settings(max_examples=150, deadline=None)
@given(
    who=st.sampled_from(["maker", "long", "poor", "flat", 999, "4"]),
    bid=st.one_of(st.integers(480_000, 520_000), HOSTILE),
    spread=st.integers(-2_000, 2_000),
    bid_qty=st.one_of(st.integers(1, 3_000), HOSTILE),
    ask_qty=st.one_of(st.integers(1, 3_000), HOSTILE),
    distances=st.lists(st.one_of(st.integers(0, 3_000), HOSTILE), max_size=12),
)
def test_a_ladder_in_one_call_is_the_cancel_and_the_quotes_in_separate_calls(
    who, bid, spread, bid_qty, ask_qty, distances
):
    """Same results, order ids, book, money and accounts, for any caller, hostile included."""
    one, acct = build_market()
    separate, _ = build_market()
    account = acct.get(who, who)
    ask = bid + spread if isinstance(bid, int) else bid
    results = one.requote_ladder(account, bid, ask, bid_qty, ask_qty, distances)
    expected = ladder_in_separate_calls(separate, account, bid, ask, bid_qty, ask_qty, distances)
    assert results == expected
    assert fingerprint(one) == fingerprint(separate)
    one.check_invariants()


def test_a_ladder_replaces_the_makers_quotes_and_slides_behind_the_book(market):
    """The maker's two quotes are replaced; a bid at or above another trader's best ask starts
    one tick below it (the maker's own ask, cancelled first, does not count)."""
    ex, acct = market
    assert ex.submit(acct["flat"], SELL, 1, 501_500)
    results = ex.requote_ladder(acct["maker"], 502_000, 502_010, 5, 6, [0, 10])
    assert [r.accepted for r in results] == [True] * 5
    assert results[0].cancelled == 2
    assert [r.order_id for r in results[1:]] == [ex.last_order_id - i for i in (3, 2, 1, 0)]
    mine = sorted(
        (o.side, o.price, o.qty) for o in ex.orders.values() if o.account == acct["maker"]
    )
    assert mine == [(SELL, 502_010, 6), (SELL, 502_020, 6), (BUY, 501_489, 5), (BUY, 501_499, 5)]
    ex.check_invariants()


def assert_rejected(ex: Exchange, result: OrderResult, reason: Reject, before: tuple) -> None:
    assert result == OrderResult(accepted=False, reason=reason)
    assert not result
    assert fingerprint(ex) == before
    ex.check_invariants()


# ----------------------------------------------------------------------------- rejections


@pytest.mark.parametrize("account", [999, -1, 0, 1, 3, "5", None])
def test_requests_from_an_unknown_account_are_rejected(market, account):
    ex, acct = market
    before = fingerprint(ex)
    for result in (
        ex.submit(account, BUY, 1, P0),
        ex.submit_stop(account, SELL, 1, 480_000),
        ex.cancel(account, 1),
        ex.deposit(account, U),
        ex.withdraw(account, U),
        ex.set_leverage(account, 5),
    ):
        assert_rejected(ex, result, Reject.UNKNOWN_ACCOUNT, before)


@pytest.mark.parametrize("side", [0, 2, -2, "buy", None])
def test_bad_side_is_rejected(market, side):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.submit(acct["flat"], side, 1, P0), Reject.INVALID_SIDE, before)
    assert_rejected(ex, ex.submit_stop(acct["flat"], side, 1, P0), Reject.INVALID_SIDE, before)


@pytest.mark.parametrize("side", [1.0, -1.0, True])
def test_non_int_side_is_rejected_without_a_trace(market, side):
    # The order would cross the 501,000 ask (or the 499,000 bid): a float side used to pass
    # ``side != BUY`` and fail half-way through the fill.
    ex, acct = market
    before = fingerprint(ex)
    price = 501_000 if side > 0 else 499_000
    assert_rejected(ex, ex.submit(acct["flat"], side, 1, price), Reject.INVALID_SIDE, before)
    result = ex.submit_stop(acct["long"], side, 1, 480_000)
    assert_rejected(ex, result, Reject.INVALID_SIDE, before)


@pytest.mark.parametrize("qty", [0, -1, 1.0, 2.5, "3", None, True])
def test_bad_qty_is_rejected(market, qty):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.submit(acct["flat"], BUY, qty, P0), Reject.INVALID_QTY, before)
    assert_rejected(
        ex, ex.submit_stop(acct["long"], SELL, qty, 480_000), Reject.INVALID_QTY, before
    )


@pytest.mark.parametrize("price", [0, -5, 500_000.0, "500000", True])
def test_bad_price_is_rejected(market, price):
    ex, acct = market
    before = fingerprint(ex)
    for kind in ("limit", "ioc", "post_only", "market"):
        result = ex.submit(acct["flat"], BUY, 1, price, kind=kind)
        assert_rejected(ex, result, Reject.INVALID_PRICE, before)


@pytest.mark.parametrize("kind", ["limit", "ioc", "post_only"])
def test_missing_price_is_rejected_except_for_market_orders(market, kind):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.submit(acct["flat"], BUY, 1, kind=kind), Reject.INVALID_PRICE, before)


@pytest.mark.parametrize("kind", ["fok", "LIMIT", "", None])
def test_unknown_kind_is_rejected(market, kind):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.submit(acct["flat"], BUY, 1, P0, kind=kind), Reject.INVALID_KIND, before)


def test_order_beyond_the_margin_is_rejected(market):
    ex, acct = market
    before = fingerprint(ex)
    # 10 USDT at 10x buys at most 100 USDT of notional: 2 lots at 50,000 (100 USDT) need
    # 10 USDT of margin plus a 0.04 USDT taker fee.
    result = ex.submit(acct["poor"], BUY, 2, P0)
    assert_rejected(ex, result, Reject.INSUFFICIENT_MARGIN, before)
    assert ex.submit(acct["poor"], BUY, 1, P0).resting == 1


def test_open_orders_count_towards_the_margin_check(market):
    ex, acct = market
    # A resting buy of 1 lot at 50,000 commits 5 USDT of the 10; a second lot would need
    # 10 USDT plus a 0.02 USDT taker fee.
    assert ex.submit(acct["poor"], BUY, 1, P0).resting == 1
    before = fingerprint(ex)
    result = ex.submit(acct["poor"], BUY, 1, P0)
    assert_rejected(ex, result, Reject.INSUFFICIENT_MARGIN, before)


def test_leverage_above_the_bracket_cap_for_a_large_notional_is_rejected(market):
    ex, acct = market
    rich = ex.open_account(100_000 * U, leverage=125)
    before = fingerprint(ex)
    # 1,001 lots at 50,000 is 50,050 USDT: above the 50,000 cap of the 125x tier.
    result = ex.submit(rich, BUY, 1_001, P0)
    assert_rejected(ex, result, Reject.LEVERAGE_ABOVE_CAP, before)
    assert ex.submit(rich, BUY, 1_000, 480_000).resting == 1_000
    # Counting the resting order (valued at the mark), 1 more lot takes it over the cap.
    before = fingerprint(ex)
    assert_rejected(ex, ex.submit(rich, BUY, 1, 480_000), Reject.LEVERAGE_ABOVE_CAP, before)


def test_post_only_that_would_cross_is_rejected(market):
    ex, acct = market
    before = fingerprint(ex)
    for side, price in ((BUY, 501_000), (BUY, 502_000), (SELL, 499_000), (SELL, 480_000)):
        result = ex.submit(acct["flat"], side, 1, price, kind="post_only")
        assert_rejected(ex, result, Reject.POST_ONLY_WOULD_CROSS, before)
    result = ex.submit(acct["flat"], BUY, 1, 500_999, kind="post_only")
    assert (result.accepted, result.filled, result.resting) == (True, 0, 1)


@pytest.mark.parametrize(
    ("who", "side"), [("flat", BUY), ("flat", SELL), ("long", BUY), ("short", SELL)]
)
def test_reduce_only_that_would_increase_is_rejected(market, who, side):
    ex, acct = market
    before = fingerprint(ex)
    result = ex.submit(acct[who], side, 1, P0, reduce_only=True)
    assert_rejected(ex, result, Reject.REDUCE_ONLY_WOULD_INCREASE, before)


def test_cancel_of_an_unknown_order_or_another_accounts_order_is_rejected(market):
    ex, acct = market
    (maker_order,) = [o.id for o in ex.orders.values() if o.account == acct["long"]]
    (stop_id,) = ex.stops
    before = fingerprint(ex)
    for account, order_id in (
        (acct["flat"], 10**9),
        (acct["flat"], maker_order),
        (acct["flat"], stop_id),
        (acct["maker"], maker_order),
        (acct["long"], "1"),
    ):
        assert_rejected(ex, ex.cancel(account, order_id), Reject.UNKNOWN_ORDER, before)


def test_cancel_with_an_unhashable_id_is_rejected(market):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.cancel(acct["long"], [1]), Reject.UNKNOWN_ORDER, before)


def test_deposit_of_a_bool_is_rejected(market):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.deposit(acct["flat"], True), Reject.INVALID_AMOUNT, before)


def test_cancel_twice_is_rejected_the_second_time(market):
    ex, acct = market
    (order_id,) = ex.accounts[acct["long"]].orders
    assert ex.cancel(acct["long"], order_id) == OrderResult(True, None, order_id)
    before = fingerprint(ex)
    assert_rejected(ex, ex.cancel(acct["long"], order_id), Reject.UNKNOWN_ORDER, before)


def test_withdrawal_above_available_is_rejected(market):
    ex, acct = market
    flat = acct["flat"]
    # A resting buy of 10 lots at 50,000 (500 USDT at 10x) ties up 50 USDT.
    assert ex.submit(flat, BUY, 10, 490_000).resting == 10
    assert ex.available(flat) == 10_000 * U - 49 * U
    before = fingerprint(ex)
    result = ex.withdraw(flat, 10_000 * U - 49 * U + 1)
    assert_rejected(ex, result, Reject.INSUFFICIENT_BALANCE, before)
    assert ex.withdraw(flat, 10_000 * U - 49 * U)
    assert ex.balance(flat) == 49 * U


def test_withdrawal_of_isolated_margin_is_rejected(market):
    ex, acct = market
    long = acct["long"]
    # 10 lots at 50,000 with 10x: 50 USDT isolated; a 3-lot buy at 49,800 ties up 14.94 USDT;
    # the fee of 0.2 USDT was paid from the balance.
    assert ex.isolated_margin(long) == 50 * U
    assert ex.available(long) == 10_000 * U - 200_000 - 50 * U - 14_940_000
    before = fingerprint(ex)
    result = ex.withdraw(long, ex.available(long) + 1)
    assert_rejected(ex, result, Reject.INSUFFICIENT_BALANCE, before)


@pytest.mark.parametrize("amount", [0, -1, 1.5, 1e6, "1"])
def test_deposit_or_withdrawal_of_a_bad_amount_is_rejected(market, amount):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.deposit(acct["flat"], amount), Reject.INVALID_AMOUNT, before)
    assert_rejected(ex, ex.withdraw(acct["flat"], amount), Reject.INVALID_AMOUNT, before)


def test_set_leverage_with_a_position_or_orders_is_rejected(market):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.set_leverage(acct["short"], 5), Reject.HAS_POSITION, before)
    assert_rejected(ex, ex.set_leverage(acct["maker"], 5), Reject.HAS_POSITION, before)


@pytest.mark.parametrize("leverage", [0, -3, 126, 5.0, "5", None, True])
def test_set_leverage_out_of_range_is_rejected(market, leverage):
    ex, acct = market
    before = fingerprint(ex)
    assert_rejected(ex, ex.set_leverage(acct["flat"], leverage), Reject.INVALID_LEVERAGE, before)


def test_set_leverage_when_flat_is_accepted(market):
    ex, acct = market
    assert ex.set_leverage(acct["flat"], 125)
    assert ex.accounts[acct["flat"]].leverage == 125


@pytest.mark.parametrize(
    ("stop", "limit", "trigger", "reason"),
    [
        (480_000, None, "index", Reject.INVALID_TRIGGER),
        (480_000, None, "", Reject.INVALID_TRIGGER),
        (480_000, None, None, Reject.INVALID_TRIGGER),
        (0, None, "mark", Reject.INVALID_PRICE),
        (-1, None, "mark", Reject.INVALID_PRICE),
        (480_000.0, None, "mark", Reject.INVALID_PRICE),
        (480_000, 0, "last", Reject.INVALID_PRICE),
        (480_000, 479_000.5, "last", Reject.INVALID_PRICE),
    ],
)
def test_bad_stop_is_rejected(market, stop, limit, trigger, reason):
    ex, acct = market
    before = fingerprint(ex)
    result = ex.submit_stop(acct["long"], SELL, 5, stop, limit=limit, trigger=trigger)
    assert_rejected(ex, result, reason, before)


@pytest.mark.parametrize("leverage", [0, -1, 126, 10.5, 10.0, "10", None])
def test_open_account_with_bad_leverage_raises_naming_the_value(market, leverage):
    ex, _ = market
    before = fingerprint(ex)
    with pytest.raises(ValueError, match=f"leverage {leverage} is outside the allowed range"):
        ex.open_account(1_000 * U, leverage=leverage)
    assert fingerprint(ex) == before


def test_open_account_with_a_negative_deposit_raises(market):
    ex, _ = market
    before = fingerprint(ex)
    with pytest.raises(ValueError, match="deposit must .*, got -1$"):
        ex.open_account(-1)
    assert fingerprint(ex) == before


@pytest.mark.parametrize("deposit", [1.5, 1e6, "1"])
def test_open_account_with_a_non_int_deposit_raises_value_error_and_changes_nothing(
    market, deposit
):
    # A float deposit used to create the account and fail half-way through the ledger transfer.
    ex, _ = market
    before = fingerprint(ex)
    with pytest.raises(ValueError, match=f"deposit must .*, got {deposit!r}"):
        ex.open_account(deposit)
    assert fingerprint(ex) == before


# ----------------------------------------------------------------------------- accepted orders


def test_accepted_limit_order_rests_with_its_margin_reserved(market):
    ex, acct = market
    flat = acct["flat"]
    result = ex.submit(flat, SELL, 7, 502_000)
    assert result == OrderResult(True, None, result.order_id, 0, 7)
    order = ex.orders[result.order_id]
    assert (order.account, order.side, order.price, order.qty) == (flat, SELL, 502_000, 7)
    assert ex.book.levels(SELL) == [(501_000, 20), (502_000, 7)]
    account = ex.accounts[flat]
    assert (account.open_sell_qty, account.open_sell_value) == (7, 7 * 502_000)
    ex.check_invariants()


def test_order_ids_increase_by_one_per_accepted_order(market):
    ex, acct = market
    first = ex.submit(acct["flat"], BUY, 1, 490_000).order_id
    ex.submit(acct["flat"], BUY, 0, 490_000)  # rejected: takes no id
    assert ex.submit(acct["flat"], BUY, 1, 490_000).order_id == first + 1


def test_limit_order_that_crosses_fills_then_rests_the_rest(market):
    ex, acct = market
    result = ex.submit(acct["flat"], BUY, 25, 501_000)
    assert (result.filled, result.resting) == (20, 5)
    assert ex.book.levels(BUY)[0] == (501_000, 5)
    assert ex.book.levels(SELL) == []
    ex.check_invariants()


def test_ioc_remainder_is_cancelled(market):
    ex, acct = market
    result = ex.submit(acct["flat"], BUY, 25, 501_000, kind="ioc")
    assert (result.accepted, result.filled, result.resting) == (True, 20, 0)
    assert result.order_id not in ex.orders
    assert ex.accounts[acct["flat"]].orders == {}
    assert ex.book.levels(SELL) == [] and ex.book.levels(BUY) == [(499_000, 20), (498_000, 3)]
    assert ex.position(acct["flat"]) == 20
    ex.check_invariants()


def test_ioc_that_does_not_cross_fills_nothing_and_leaves_nothing(market):
    ex, acct = market
    levels = ex.book.levels(BUY), ex.book.levels(SELL)
    result = ex.submit(acct["flat"], BUY, 5, 500_000, kind="ioc")
    assert (result.accepted, result.filled, result.resting) == (True, 0, 0)
    assert (ex.book.levels(BUY), ex.book.levels(SELL)) == levels


def test_market_order_with_no_liquidity_fills_nothing():
    ex = Exchange(make_rulebook())
    ex.begin_tick(0, P0)
    a = ex.open_account(1_000 * U)
    result = ex.submit(a, SELL, 5, kind="market")
    assert (result.accepted, result.reason, result.filled, result.resting) == (True, None, 0, 0)
    assert ex.position(a) == 0 and ex.orders == {} and len(ex.ledger) == 1
    ex.check_invariants()


def test_market_order_walks_the_book_up_to_its_protection_price(market):
    ex, acct = market
    assert ex.submit(acct["maker"], SELL, 5, 502_000)
    assert ex.submit(acct["maker"], SELL, 5, 503_000)
    result = ex.submit(acct["flat"], BUY, 40, 502_000, kind="market")
    assert (result.filled, result.resting) == (25, 0)
    assert ex.book.levels(SELL) == [(503_000, 5)]
    assert ex.last == 502_000


def test_reduce_only_is_capped_at_the_position(market):
    ex, acct = market
    long = acct["long"]
    result = ex.submit(long, SELL, 25, kind="market", reduce_only=True)
    assert (result.accepted, result.filled) == (True, 10)
    assert ex.position(long) == 0
    assert ex.book.levels(BUY) == [(499_000, 10), (498_000, 3)]
    ex.check_invariants()


def test_resting_reduce_only_is_capped_at_the_position_and_reserves_no_margin(market):
    ex, acct = market
    short = acct["short"]
    result = ex.submit(short, BUY, 25, 495_000, reduce_only=True)
    assert (result.filled, result.resting) == (0, 10)
    account = ex.accounts[short]
    assert (account.open_buy_qty, account.open_buy_value) == (0, 0)
    ex.check_invariants()


def test_resting_reduce_only_maker_that_would_no_longer_reduce_is_cancelled(market):
    ex, acct = market
    long = acct["long"]
    resting = ex.submit(long, SELL, 10, 500_500, reduce_only=True)
    assert ex.submit(long, SELL, 10, kind="market").filled == 10  # now flat
    result = ex.submit(acct["flat"], BUY, 5, 500_500, kind="ioc")
    assert result.filled == 0
    assert resting.order_id not in ex.orders
    assert ex.position(long) == 0
    ex.check_invariants()


# ----------------------------------------------------------------------------- stops


def stop_exchange(mode: str = "last") -> Exchange:
    ex = Exchange(make_rulebook(mark_price={"mode": mode}))
    ex.begin_tick(0, P0)
    return ex


def trade_at(ex: Exchange, price: int) -> None:
    """Two fresh accounts trade one lot at ``price`` (moves last; the mark after end_tick)."""
    maker, taker = ex.open_account(10_000 * U), ex.open_account(10_000 * U)
    assert ex.submit(maker, SELL, 1, price).resting == 1
    assert ex.submit(taker, BUY, 1, price, kind="ioc").filled == 1


@pytest.mark.parametrize(
    ("side", "stop", "price", "fires"),
    [
        (SELL, 495_000, 495_001, False),
        (SELL, 495_000, 495_000, True),
        (SELL, 495_000, 494_999, True),
        (BUY, 505_000, 504_999, False),
        (BUY, 505_000, 505_000, True),
        (BUY, 505_000, 505_001, True),
    ],
)
@pytest.mark.parametrize("trigger", ["mark", "last"])
def test_sell_stop_fires_at_or_below_and_buy_stop_at_or_above(side, stop, price, fires, trigger):
    ex = stop_exchange()
    a = ex.open_account(1_000 * U)
    result = ex.submit_stop(a, side, 1, stop, trigger=trigger, reduce_only=False)
    assert result.accepted and result.order_id in ex.stops
    other = "last" if trigger == "mark" else "mark"
    setattr(ex.prices, trigger, price)
    setattr(ex.prices, other, P0)  # the other price stays between the stops
    assert ex.trigger_stops() == int(fires)
    assert (result.order_id in ex.stops) == (not fires)
    assert (result.order_id in ex.accounts[a].stops) == (not fires)


def test_triggered_stop_market_on_mark_closes_the_position():
    ex = stop_exchange("last")
    long, short, bidder = (ex.open_account(10_000 * U) for _ in range(3))
    assert ex.submit(short, SELL, 10, P0)
    assert ex.submit(long, BUY, 10, kind="market").filled == 10
    assert ex.submit(bidder, BUY, 30, 490_000)
    stop = ex.submit_stop(long, SELL, 10, 495_000)
    ex.begin_tick(1, P0)
    trade_at(ex, 495_001)
    ex.end_tick()
    assert ex.mark == 495_001 and stop.order_id in ex.stops and ex.position(long) == 10
    ex.begin_tick(2, P0)
    trade_at(ex, 495_000)
    ex.end_tick()
    assert ex.mark == 495_000
    assert stop.order_id not in ex.stops and ex.stop_triggers == 1
    assert ex.position(long) == 0
    assert ex.fills["seller"][-1] == long and ex.fills["price"][-1] == 490_000
    assert ex.book.levels(BUY) == [(490_000, 20)]
    ex.check_invariants()


def test_stop_limit_on_last_fires_when_last_crosses_while_a_mark_stop_waits():
    # Mark = index + mean basis of a quote centred on the index, so it stays at 50,000 while a
    # trade moves last to 49,500.
    ex = stop_exchange("index_basis")
    long, short, quoter = (ex.open_account(10_000 * U) for _ in range(3))
    assert ex.submit(short, SELL, 10, P0)
    assert ex.submit(long, BUY, 10, kind="market").filled == 10
    on_last = ex.submit_stop(long, SELL, 4, 495_000, limit=494_000, trigger="last")
    on_mark = ex.submit_stop(long, SELL, 6, 495_000, trigger="mark")
    ex.begin_tick(1, P0)
    trade_at(ex, 495_000)
    assert ex.submit(quoter, BUY, 20, 499_900) and ex.submit(quoter, SELL, 20, 500_100)
    assert ex.last == 495_000
    ex.end_tick()
    assert ex.mark == 500_000
    assert on_last.order_id not in ex.stops and on_mark.order_id in ex.stops
    # The triggered limit sell at 49,400 crosses the 49,990 bid and fills there.
    assert ex.position(long) == 6
    assert (ex.fills["seller"][-1], ex.fills["qty"][-1], ex.fills["price"][-1]) == (
        long,
        4,
        499_900,
    )
    ex.check_invariants()


def test_triggered_stop_limit_that_does_not_fill_rests_as_a_limit_order():
    ex = stop_exchange("last")
    long, short = ex.open_account(10_000 * U), ex.open_account(10_000 * U)
    assert ex.submit(short, SELL, 10, P0)
    assert ex.submit(long, BUY, 10, kind="market").filled == 10
    ex.submit_stop(long, SELL, 10, 495_000, limit=494_000, trigger="last")
    ex.begin_tick(1, P0)
    trade_at(ex, 495_000)
    ex.end_tick()
    assert ex.stops == {}
    (order,) = ex.accounts[long].orders.values()
    assert (order.side, order.price, order.qty, order.reduce_only) == (SELL, 494_000, 10, True)


def test_cancelled_stop_never_fires(market):
    ex, acct = market
    (stop_id,) = ex.stops
    assert ex.cancel(acct["long"], stop_id) == OrderResult(True, None, stop_id)
    ex.prices.mark = 1
    assert ex.trigger_stops() == 0
    assert ex.position(acct["long"]) == 10


# ----------------------------------------------------------------------------- fees


def fee_transfers(ex: Exchange) -> list[tuple[int, int, int, int]]:
    log = ex.ledger
    return [
        (log.log_src[i], log.log_dst[i], log.log_amount[i], Cause(log.log_cause[i]))
        for i in range(len(log))
        if log.log_cause[i] in (Cause.FEE, Cause.MAKER_REBATE)
    ]


def test_taker_and_maker_fees_round_up_towards_the_exchange():
    ex = Exchange(make_rulebook(maker_fee=0.0002, taker_fee=0.0004))
    ex.begin_tick(0, P0)
    maker, taker = ex.open_account(1_000 * U), ex.open_account(1_000 * U)
    assert ex.submit(maker, SELL, 1, 500_001)
    assert ex.submit(taker, BUY, 1, kind="market").filled == 1
    # Value 1 x 500,001 x 100 = 50,000,100: taker 0.04% = 20,000.04 -> 20,001;
    # maker 0.02% = 10,000.02 -> 10,001.
    assert fee_transfers(ex) == [
        (taker, EXCHANGE, 20_001, Cause.FEE),
        (maker, EXCHANGE, 10_001, Cause.FEE),
    ]
    assert ex.balance(EXCHANGE) == 30_002
    ex.check_invariants()


def test_maker_rebate_is_paid_from_the_exchange_rounding_down():
    ex = Exchange(make_rulebook(maker_fee=-0.0001, taker_fee=0.0004))
    ex.begin_tick(0, P0)
    maker, taker = ex.open_account(1_000 * U), ex.open_account(1_000 * U)
    assert ex.submit(maker, BUY, 1, 500_001)
    assert ex.submit(taker, SELL, 1, kind="market").filled == 1
    # Rebate 0.01% of 50,000,100 = 5,000.01 -> 5,000.
    assert fee_transfers(ex) == [
        (taker, EXCHANGE, 20_001, Cause.FEE),
        (EXCHANGE, maker, 5_000, Cause.MAKER_REBATE),
    ]
    assert ex.balance(EXCHANGE) == 15_001
    assert ex.balance(maker) == 1_000 * U + 5_000
    ex.check_invariants()


def test_exact_fees_need_no_rounding():
    ex = Exchange(make_rulebook(maker_fee=0.0002, taker_fee=0.0004))
    ex.begin_tick(0, P0)
    maker, taker = ex.open_account(1_000 * U), ex.open_account(1_000 * U)
    assert ex.submit(maker, SELL, 10, P0)
    assert ex.submit(taker, BUY, 10, kind="market").filled == 10
    # 500 USDT of notional: 0.2 USDT taker, 0.1 USDT maker.
    assert fee_transfers(ex) == [
        (taker, EXCHANGE, 200_000, Cause.FEE),
        (maker, EXCHANGE, 100_000, Cause.FEE),
    ]


def test_each_fill_is_charged_separately():
    ex = Exchange(make_rulebook(maker_fee=0.0002, taker_fee=0.0004))
    ex.begin_tick(0, P0)
    m1, m2, taker = (ex.open_account(1_000 * U) for _ in range(3))
    assert ex.submit(m1, SELL, 1, 500_001)
    assert ex.submit(m2, SELL, 1, 500_001)
    assert ex.submit(taker, BUY, 2, kind="market").filled == 2
    taker_fees = [a for s, _, a, c in fee_transfers(ex) if s == taker]
    assert taker_fees == [20_001, 20_001]  # not ceil(40,000.08) = 40,001 once


@given(signed=st.integers(-(2**62), 2**62), factor=st.integers(0, 2**62))
def test_the_margin_check_s_multiplication_by_magnitudes_is_the_product(signed, factor):
    from abm.exchange.risk import times

    assert times(signed, factor) == signed * factor
