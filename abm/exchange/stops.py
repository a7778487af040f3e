"""Stop orders: conditional orders resting off the book until the mark or last price reaches
their trigger. They sit in four heaps (trigger on mark or last, buy or sell), nearest trigger
first, so a tick looks at one stop per heap unless stops fire; cancelled stops leave their heap
entry behind, skipped when reached."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from abm.exchange import matching
from abm.exchange.book import BUY, SELL
from abm.exchange.results import OrderResult, Reject

if TYPE_CHECKING:
    from abm.exchange.exchange import Exchange


class StopOrder:
    """A conditional order resting off-book until its trigger price is reached."""

    __slots__ = ("id", "account", "side", "qty", "stop", "limit", "on_mark", "reduce_only")

    def __init__(self, order_id, account, side, qty, stop, limit, on_mark, reduce_only) -> None:
        self.id = order_id
        self.account = account
        self.side = side
        self.qty = qty
        self.stop = stop
        self.limit = limit
        self.on_mark = on_mark
        self.reduce_only = reduce_only


class StopBook:
    """The resting stops by id (``orders``) and their trigger heaps (``heaps``)."""

    __slots__ = ("orders", "heaps")

    def __init__(self) -> None:
        self.orders: dict[int, StopOrder] = {}
        self.heaps: dict[tuple[bool, int], list[tuple[int, int]]] = {
            (on_mark, side): [] for on_mark in (True, False) for side in (BUY, SELL)
        }

    def add(self, order: StopOrder) -> None:
        """Rest ``order``: a sell stop fires at or below its trigger, a buy stop at or above."""
        self.orders[order.id] = order
        key = -order.stop if order.side == SELL else order.stop
        heapq.heappush(self.heaps[(order.on_mark, order.side)], (key, order.id))

    def due(self, price_of: Callable[[bool], int]) -> Iterator[StopOrder]:
        """Take out and yield, heap by heap, every stop whose trigger ``price_of(on_mark)`` (read
        once per heap, at its start) has reached; a price of 0 (none yet) fires nothing."""
        for (on_mark, side), heap in self.heaps.items():
            price = price_of(on_mark)
            if not price:
                continue
            while heap:
                key, order_id = heap[0]
                stop = self.orders.get(order_id)
                if stop is None:
                    heapq.heappop(heap)
                    continue
                if (side == SELL and price > -key) or (side == BUY and price < key):
                    break
                heapq.heappop(heap)
                del self.orders[order_id]
                yield stop


def submit_stop(
    ex: Exchange,
    account_id: object,
    side: object,
    qty: object,
    stop: object,
    *,
    limit: object = None,
    trigger: object = "mark",
    reduce_only: object = True,
) -> OrderResult:
    """A stop-market (``limit`` None) or stop-limit order triggered on mark or last price.

    A sell stop triggers when the price falls to ``stop`` or below, a buy stop when it rises
    to ``stop`` or above; it then enters as a market order or a GTC limit at ``limit``.
    """
    request = matching.order_request(ex, account_id, side, qty)
    if isinstance(request, Reject):
        return OrderResult(False, request)
    account, direction, lots = request
    stop_ticks = matching.valid_price(ex, stop)
    limit_ticks = None if limit is None else matching.valid_price(ex, limit)
    if stop_ticks is None or (limit is not None and limit_ticks is None):
        return OrderResult(False, Reject.INVALID_PRICE)
    if trigger not in ("mark", "last"):
        return OrderResult(False, Reject.INVALID_TRIGGER)
    ex.last_order_id += 1
    order_id = ex.last_order_id
    order = StopOrder(
        order_id,
        account.id,
        direction,
        lots,
        stop_ticks,
        limit_ticks,
        trigger == "mark",
        bool(reduce_only),
    )
    ex.stop_book.add(order)
    account.stops[order_id] = order
    return OrderResult(True, None, order_id)


def trigger_stops(ex: Exchange) -> int:
    """Send every stop whose trigger price has been reached; returns how many fired."""
    fired = 0
    prices = ex.prices
    for stop in ex.stop_book.due(lambda on_mark: prices.mark if on_mark else prices.last):
        del ex.accounts[stop.account].stops[stop.id]
        kind = "market" if stop.limit is None else "limit"
        matching.submit(
            ex,
            stop.account,
            stop.side,
            stop.qty,
            stop.limit,
            kind=kind,
            reduce_only=stop.reduce_only,
        )
        fired += 1
    ex.stop_triggers += fired
    return fired
