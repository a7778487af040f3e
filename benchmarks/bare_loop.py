"""A bare price-time matching loop in Python: the yardstick for the exchange's order path.

It keeps what any limit order book must (price levels in order, a FIFO queue per level, lazy
cancels) and nothing else: no accounts, no margin, no links, no ledger. ``make bench`` runs the
exchange and this loop on the same submissions and cancels in the same process and reports the
exchange's speed as a share of it (``ratio_to_bare_loop``).
"""

from __future__ import annotations

from bisect import insort
from collections import deque

BUY, SELL = 1, -1


class BareBook:
    """Bids and asks as sorted price lists with a FIFO queue of ``[order id, qty]`` per level."""

    def __init__(self) -> None:
        self.bid_prices: list[int] = []
        self.ask_prices: list[int] = []
        self.levels: dict[int, deque[list[int]]] = {}
        self.orders: dict[int, list[int]] = {}
        self.next_id = 0

    def submit(self, side: int, qty: int, price: int | None, kind: str) -> tuple[int, int]:
        """Match against the other side up to ``price`` (any price for a market order), rest
        the remainder of a limit order; returns ``(order id or 0, lots filled)``."""
        filled = self.match(side, qty, price)
        rest = qty - filled
        if rest and kind == "limit" and price is not None:
            self.next_id += 1
            entry = [self.next_id, rest]
            level = self.levels.get(side * price)
            if level is None:
                level = self.levels[side * price] = deque()
                insort(self.bid_prices if side == BUY else self.ask_prices, price)
            level.append(entry)
            self.orders[self.next_id] = entry
            return self.next_id, filled
        return 0, filled

    def match(self, side: int, qty: int, limit: int | None) -> int:
        prices = self.ask_prices if side == BUY else self.bid_prices
        filled = 0
        while qty and prices:
            best = prices[0] if side == BUY else prices[-1]
            if limit is not None and (best > limit if side == BUY else best < limit):
                break
            level = self.levels[-side * best]
            while qty and level:
                entry = level[0]
                take = min(qty, entry[1])
                entry[1] -= take
                qty -= take
                filled += take
                if not entry[1]:
                    level.popleft()
                    self.orders.pop(entry[0], None)
            if not level:
                del self.levels[-side * best]
                if side == BUY:
                    prices.pop(0)
                else:
                    prices.pop()
        return filled

    def cancel(self, order_id: int) -> bool:
        """Zero a resting order in place (its queue drops it when matching reaches it)."""
        entry = self.orders.pop(order_id, None)
        if entry is None:
            return False
        entry[1] = 0
        return True
