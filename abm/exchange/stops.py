"""Stop orders: conditional orders resting off the book until the mark or last price reaches
their trigger. They sit in four heaps (trigger on mark or last, buy or sell), nearest trigger
first, so a tick looks at one stop per heap unless stops fire; cancelled stops leave their heap
entry behind, skipped when reached."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from abm.exchange.book import BUY, SELL


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
