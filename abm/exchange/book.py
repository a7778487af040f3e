"""The limit order book: price levels in price-time priority.

Prices are integer ticks, quantities integer lots. Cancels are lazy: a cancelled order keeps its
place in its level's queue with ``qty == 0`` and is skipped by matching; the level's live total is
kept exact, and a level whose live total reaches zero is removed at once.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import Final

BUY: Final = 1
SELL: Final = -1

MAX_SPARE_LEVELS: Final = 256
"""Emptied levels kept for reuse, at most."""

COMPACT_DEAD: Final = 16
"""A level's queue is rebuilt once more than this many cancelled orders wait in it and they
outnumber the live ones."""


class Order:
    """A resting or incoming order. ``side`` is ``BUY`` or ``SELL``; ``qty`` is what remains."""

    __slots__ = ("id", "account", "side", "price", "qty", "reduce_only")

    def __init__(
        self, order_id: int, account: int, side: int, price: int, qty: int, reduce_only: bool
    ) -> None:
        self.id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.qty = qty
        self.reduce_only = reduce_only

    def __repr__(self) -> str:
        side = "buy" if self.side == BUY else "sell"
        return f"Order({self.id}, account={self.account}, {side} {self.qty} @ {self.price})"


class Level:
    """The orders at one price, oldest first, with their live total. ``dead`` counts the
    cancelled orders still queued behind a live one (cancels are lazy); when they outnumber the
    live ones the queue is rebuilt, so a level a maker requotes into all day does not grow."""

    __slots__ = ("orders", "qty", "dead")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()
        self.qty = 0
        self.dead = 0


class OrderBook:
    """Bids and asks; both price lists ascend, so the best bid is last and the best ask first.

    An emptied level is kept for reuse (``spare``): a market maker's requote empties and opens
    tens of levels, and a level and its queue cost an allocation each."""

    __slots__ = ("bids", "asks", "bid_prices", "ask_prices", "spare")

    def __init__(self) -> None:
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: list[int] = []
        self.ask_prices: list[int] = []
        self.spare: list[Level] = []

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def crosses(self, side: int, price: int) -> bool:
        """Whether an order at ``price`` on ``side`` would trade on arrival."""
        if side == BUY:
            return bool(self.ask_prices) and self.ask_prices[0] <= price
        return bool(self.bid_prices) and self.bid_prices[-1] >= price

    def add(self, order: Order) -> None:
        """Rest an order at the back of its price level."""
        levels = self.bids if order.side == BUY else self.asks
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = self.spare.pop() if self.spare else Level()
            insort(self.bid_prices if order.side == BUY else self.ask_prices, order.price)
        level.orders.append(order)
        level.qty += order.qty

    def remove_qty(self, order: Order, qty: int) -> None:
        """Take ``qty`` lots off a resting order (fill or cancel), dropping emptied levels."""
        levels = self.bids if order.side == BUY else self.asks
        level = levels[order.price]
        order.qty -= qty
        level.qty -= qty
        if level.qty == 0:
            del levels[order.price]
            if len(self.spare) < MAX_SPARE_LEVELS:
                level.orders.clear()
                level.dead = 0
                self.spare.append(level)
            prices = self.bid_prices if order.side == BUY else self.ask_prices
            if prices[-1] == order.price:
                prices.pop()
            else:
                del prices[bisect_left(prices, order.price)]
        elif order.qty == 0:
            if level.orders[0] is order:
                level.orders.popleft()
            else:
                level.dead += 1
                if level.dead > COMPACT_DEAD and 2 * level.dead > len(level.orders):
                    level.orders = deque(o for o in level.orders if o.qty)
                    level.dead = 0

    def front(self, side: int) -> Order | None:
        """The first live order on the best level of ``side``, dropping cancelled ones."""
        if side == BUY:
            if not self.bid_prices:
                return None
            level = self.bids[self.bid_prices[-1]]
        else:
            if not self.ask_prices:
                return None
            level = self.asks[self.ask_prices[0]]
        orders = level.orders
        while not orders[0].qty:
            orders.popleft()
            level.dead -= 1
        return orders[0]

    def _best_first(self, side: int) -> list[int]:
        return self.bid_prices[::-1] if side == BUY else self.ask_prices

    def levels(self, side: int) -> list[tuple[int, int]]:
        """``(price, qty)`` per level of ``side``, best first."""
        book = self.bids if side == BUY else self.asks
        return [(p, book[p].qty) for p in self._best_first(side)]

    def depth_between(self, side: int, worst: int) -> int:
        """Lots resting on ``side`` at prices no worse than ``worst``."""
        total = 0
        book = self.bids if side == BUY else self.asks
        for price in self._best_first(side):
            if (side == BUY and price < worst) or (side == SELL and price > worst):
                break
            total += book[price].qty
        return total

    def impact_price(self, side: int, value: int) -> int | None:
        """Average price (ticks) to trade ``value`` (lots x ticks) against ``side``; None if thin."""
        book = self.bids if side == BUY else self.asks
        filled_value = filled_qty = 0
        for price in self._best_first(side):
            level_value = book[price].qty * price
            if filled_value + level_value >= value:
                qty = -(-(value - filled_value) // price)
                return (filled_value + qty * price) // (filled_qty + qty)
            filled_value += level_value
            filled_qty += book[price].qty
        return None
