"""Unit tests of the limit order book: price-time priority, lazy cancels, depth and impact."""

from __future__ import annotations

from abm.exchange import BUY, SELL, Exchange
from abm.exchange.book import Order, OrderBook
from tests.conftest import U, make_rulebook


def order(order_id: int, side: int, price: int, qty: int, account: int = 10) -> Order:
    return Order(order_id, account, side, price, qty, reduce_only=False)


def book_with(*orders: Order) -> OrderBook:
    book = OrderBook()
    for o in orders:
        book.add(o)
    return book


def take(book: OrderBook, side: int, qty: int) -> list[tuple[int, int, int]]:
    """Fill ``qty`` lots against ``side`` as a matching engine would: ``(id, price, lots)``."""
    fills = []
    while qty:
        front = book.front(side)
        if front is None:
            break
        lots = min(qty, front.qty)
        fills.append((front.id, front.price, lots))
        book.remove_qty(front, lots)
        qty -= lots
    return fills


def test_empty_book_has_no_best_prices_front_or_levels():
    book = OrderBook()
    assert book.best_bid() is None and book.best_ask() is None
    assert book.front(BUY) is None and book.front(SELL) is None
    assert book.levels(BUY) == [] and book.levels(SELL) == []
    assert book.impact_price(BUY, 1) is None


def test_best_bid_is_highest_and_best_ask_lowest():
    book = book_with(
        order(1, BUY, 99, 1), order(2, BUY, 101, 1), order(3, BUY, 100, 1),
        order(4, SELL, 105, 1), order(5, SELL, 103, 1), order(6, SELL, 104, 1),
    )  # fmt: skip
    assert book.best_bid() == 101
    assert book.best_ask() == 103


def test_levels_are_best_first_with_summed_qty():
    book = book_with(
        order(1, BUY, 99, 2), order(2, BUY, 101, 3), order(3, BUY, 101, 4),
        order(4, SELL, 105, 5), order(5, SELL, 103, 6), order(6, SELL, 105, 7),
    )  # fmt: skip
    assert book.levels(BUY) == [(101, 7), (99, 2)]
    assert book.levels(SELL) == [(103, 6), (105, 12)]


def test_same_price_orders_fill_in_arrival_order():
    book = book_with(order(1, SELL, 100, 3), order(2, SELL, 100, 5), order(3, SELL, 100, 2))
    assert take(book, SELL, 9) == [(1, 100, 3), (2, 100, 5), (3, 100, 1)]
    assert book.levels(SELL) == [(100, 1)]
    assert book.front(SELL).id == 3


def test_better_price_fills_first_regardless_of_arrival():
    book = book_with(order(1, BUY, 100, 2), order(2, BUY, 102, 2), order(3, BUY, 101, 2))
    assert take(book, BUY, 6) == [(2, 102, 2), (3, 101, 2), (1, 100, 2)]
    assert book.best_bid() is None and book.levels(BUY) == []


def test_crosses_compares_against_the_opposite_best():
    book = book_with(order(1, BUY, 100, 1), order(2, SELL, 102, 1))
    assert book.crosses(BUY, 102) and not book.crosses(BUY, 101)
    assert book.crosses(SELL, 100) and not book.crosses(SELL, 101)
    assert not OrderBook().crosses(BUY, 10**9)


def test_cancelled_order_keeps_its_slot_but_is_skipped():
    first, middle, last = order(1, SELL, 100, 3), order(2, SELL, 100, 4), order(3, SELL, 100, 5)
    book = book_with(first, middle, last)
    book.remove_qty(middle, 4)
    assert middle.qty == 0
    assert list(book.asks[100].orders) == [first, middle, last]  # lazy: still queued
    assert book.levels(SELL) == [(100, 8)]
    assert take(book, SELL, 8) == [(1, 100, 3), (3, 100, 5)]


def test_cancelling_the_front_order_moves_front_to_the_next_live_order():
    first, second = order(1, BUY, 100, 3), order(2, BUY, 100, 4)
    book = book_with(first, second)
    book.remove_qty(first, 3)
    assert book.front(BUY) is second
    assert book.levels(BUY) == [(100, 4)]


def test_level_is_removed_when_its_live_qty_reaches_zero():
    a, b = order(1, SELL, 100, 3), order(2, SELL, 100, 4)
    other = order(3, SELL, 101, 1)
    book = book_with(a, b, other)
    book.remove_qty(b, 4)
    assert 100 in book.asks
    book.remove_qty(a, 3)
    assert 100 not in book.asks
    assert book.ask_prices == [101]
    assert book.best_ask() == 101


def test_removing_a_non_best_level_keeps_the_others_sorted():
    bids = [order(i, BUY, price, 1) for i, price in enumerate((97, 98, 99, 100), start=1)]
    book = book_with(*bids)
    book.remove_qty(bids[1], 1)  # the 98 level, neither best nor worst
    assert book.bid_prices == [97, 99, 100]
    assert book.levels(BUY) == [(100, 1), (99, 1), (97, 1)]


def test_partial_fill_of_the_front_keeps_it_at_the_front():
    a, b = order(1, SELL, 100, 5), order(2, SELL, 100, 5)
    book = book_with(a, b)
    book.remove_qty(a, 2)
    assert book.front(SELL) is a and a.qty == 3
    assert book.levels(SELL) == [(100, 8)]


def test_depth_between_counts_lots_no_worse_than_the_limit():
    book = book_with(
        order(1, BUY, 100, 1), order(2, BUY, 99, 2), order(3, BUY, 98, 4),
        order(4, SELL, 101, 8), order(5, SELL, 102, 16), order(6, SELL, 104, 32),
    )  # fmt: skip
    assert book.depth_between(BUY, 101) == 0
    assert book.depth_between(BUY, 100) == 1
    assert book.depth_between(BUY, 99) == 3
    assert book.depth_between(BUY, 1) == 7
    assert book.depth_between(SELL, 100) == 0
    assert book.depth_between(SELL, 101) == 8
    assert book.depth_between(SELL, 103) == 24
    assert book.depth_between(SELL, 104) == 56


def test_impact_price_inside_the_best_level_is_that_level():
    book = book_with(order(1, SELL, 100, 10))
    assert book.impact_price(SELL, 500) == 100
    assert book.impact_price(SELL, 1_000) == 100


def test_impact_price_walks_levels_and_floors_the_average():
    # Asks: 10 lots at 100 (value 1,000), 10 at 110 (1,100), 10 at 130 (1,300).
    book = book_with(order(1, SELL, 100, 10), order(2, SELL, 110, 10), order(3, SELL, 130, 10))
    # 1,500 of value: 10 lots at 100, then ceil(500 / 110) = 5 lots at 110 (550):
    # (1,000 + 550) // 15 = 103.
    assert book.impact_price(SELL, 1_500) == 103
    # 2,100 exactly exhausts two levels: 2,100 // 20 = 105.
    assert book.impact_price(SELL, 2_100) == 105
    # 2,101: 10 + 10 lots, then ceil(1 / 130) = 1 lot at 130: (2,100 + 130) // 21 = 106.
    assert book.impact_price(SELL, 2_101) == 106
    # More than the book holds (3,400): no impact price.
    assert book.impact_price(SELL, 3_401) is None


def test_impact_price_on_bids_walks_down_from_the_best():
    # Bids: 5 at 200 (1,000), 10 at 190 (1,900).
    book = book_with(order(1, BUY, 190, 10), order(2, BUY, 200, 5))
    # 2,000: 5 at 200, then ceil(1,000 / 190) = 6 lots at 190 (1,140): 2,140 // 11 = 194.
    assert book.impact_price(BUY, 2_000) == 194
    assert book.impact_price(BUY, 2_901) is None


def test_exchange_fills_same_price_makers_in_arrival_order_and_better_price_first():
    ex = Exchange(make_rulebook(maker_fee=0, taker_fee=0))
    ex.begin_tick(0, 500_000)
    first, second, better, taker = (ex.open_account(100_000 * U) for _ in range(4))
    assert ex.submit(first, SELL, 3, 500_100)
    assert ex.submit(second, SELL, 3, 500_100)
    assert ex.submit(better, SELL, 3, 500_000)
    assert ex.submit(taker, BUY, 8, 500_100).filled == 8
    fills = list(zip(ex.fills["seller"], ex.fills["qty"], ex.fills["price"], strict=True))
    assert fills == [(better, 3, 500_000), (first, 3, 500_100), (second, 2, 500_100)]
    assert ex.book.levels(SELL) == [(500_100, 1)]
    ex.check_invariants()


def test_orders_cancelled_behind_a_live_one_do_not_pile_up_and_keep_the_queue_s_order():
    """A maker requoting all day into a level where another order waits: the cancelled orders
    are rebuilt out of the queue once they outnumber the live ones, and the live ones keep
    their priority."""
    first = order(1, BUY, 100, 5)
    book = book_with(first)
    live = []
    for n in range(2, 1_002):
        quote = order(n, BUY, 100, 3)
        book.add(quote)
        if n % 100 == 0:
            live.append(quote)  # one in a hundred stays
        else:
            book.remove_qty(quote, 3)
    level = book.bids[100]
    assert len(level.orders) <= 2 * (1 + len(live)) + 17
    assert level.dead == sum(1 for o in level.orders if not o.qty)
    assert level.qty == 5 + 3 * len(live)
    assert take(book, BUY, 5 + 3 * len(live)) == [(1, 100, 5)] + [(o.id, 100, 3) for o in live]
    assert 100 not in book.bids
