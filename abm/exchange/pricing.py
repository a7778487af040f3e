"""Index, last and mark prices, and the funding rate (premium index plus interest, clamped).

Prices are integer ticks; rates are integer parts per billion. Mark price modes: ``last``;
``index_basis`` (index plus a moving average of the book's basis, BitMEX fair price);
``binance_median`` (median of the funding-adjusted index, the basis-adjusted index and last).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from abm.exchange.book import BUY, SELL, OrderBook
from abm.exchange.units import MICRO, PPB

if TYPE_CHECKING:
    from abm.config import Rulebook


def _ppb(rate: float) -> int:
    return round(rate * PPB)


class PriceFeed:
    """The prices the exchange marks positions with, and the funding-rate accumulator."""

    __slots__ = (
        "mode",
        "index",
        "last",
        "mark",
        "window",
        "basis",
        "basis_sum",
        "interval",
        "sample_interval",
        "interest",
        "premium_clamp",
        "rate_cap",
        "impact_value",
        "premium_sum",
        "premium_count",
        "last_rate",
        "rate_period",
        "held_mark",
        "held_last",
    )

    def __init__(self, rulebook: Rulebook, value_per_tick_lot: int) -> None:
        self.mode = rulebook.mark_price.mode
        self.index = 0
        self.last = 0
        self.mark = 0
        self.window = rulebook.mark_price.basis_window_ticks
        self.basis: deque[int] = deque()
        self.basis_sum = 0
        funding = rulebook.funding
        self.interval = funding.interval_ticks
        self.rate_period = funding.rate_period_ticks or funding.interval_ticks
        self.sample_interval = funding.sample_interval_ticks
        self.interest = _ppb(funding.interest_rate)
        self.premium_clamp = _ppb(funding.premium_clamp)
        self.rate_cap = _ppb(funding.rate_cap)
        self.impact_value = round(funding.impact_notional * MICRO) // value_per_tick_lot
        self.premium_sum = 0
        self.premium_count = 0
        self.last_rate = 0
        self.held_mark = 0
        """A replayed mark (0: none): :meth:`update` returns it until it is held again."""
        self.held_last = 0

    def hold(self, mark: int, last: int) -> None:
        """Replay mode: the mark and last are ``mark`` and ``last`` (ticks) from the next
        :meth:`update` on, whatever the book did; the basis and the premium are still sampled
        from the book."""
        self.held_mark = mark
        self.held_last = last

    def set_index(self, index: object) -> None:
        if not (type(index) is int and index > 0):
            raise ValueError(f"index price must be a positive whole number of ticks, got {index}")
        self.index = index
        if not self.mark:
            self.mark = index

    def premium(self, book: OrderBook) -> int:
        """Premium index (ppb): how far impact bid and ask sit outside the index."""
        index = self.index
        impact_bid = book.impact_price(BUY, self.impact_value)
        impact_ask = book.impact_price(SELL, self.impact_value)
        above = max(0, impact_bid - index) if impact_bid is not None else 0
        below = max(0, index - impact_ask) if impact_ask is not None else 0
        return (above - below) * PPB // index

    def funding_rate(self) -> int:
        """The rate the current interval would pay: mean premium plus clamped interest, scaled
        from the rate's period to the interval, capped."""
        premium = self.premium_sum // self.premium_count if self.premium_count else 0
        interest = min(self.premium_clamp, max(-self.premium_clamp, self.interest - premium))
        rate = (premium + interest) * self.interval // self.rate_period
        return min(self.rate_cap, max(-self.rate_cap, rate))

    def update(self, book: OrderBook, tick: int, sample: bool) -> int:
        """Recompute the mark; with ``sample`` also record this tick's basis and premium."""
        index = self.index
        bid, ask = book.best_bid(), book.best_ask()
        if sample:
            if bid is not None and ask is not None:
                basis = (bid + ask) // 2 - index
            else:
                basis = (self.last - index) if self.last else 0
            self.basis.append(basis)
            self.basis_sum += basis
            if len(self.basis) > self.window:
                self.basis_sum -= self.basis.popleft()
            if tick % self.sample_interval == 0:
                self.premium_sum += self.premium(book)
                self.premium_count += 1
        last = self.last or index
        basis_avg = self.basis_sum // len(self.basis) if self.basis else 0
        if self.mode == "last":
            mark = last
        elif self.mode == "index_basis":
            mark = index + basis_avg
        else:
            to_go = self.interval - tick % self.interval
            funded = index + index * self.funding_rate() * to_go // (self.interval * PPB)
            mark = sorted((funded, index + basis_avg, last))[1]
        if self.held_mark:
            mark = self.held_mark
            self.last = self.held_last
        self.mark = max(1, mark)
        return self.mark

    def funding_due(self, tick: int) -> bool:
        """Whether a funding interval ends at this tick."""
        return tick > 0 and tick % self.interval == 0

    def close_funding_interval(self) -> int:
        """The interval's funding rate (ppb); starts a new interval."""
        rate = self.funding_rate()
        self.premium_sum = 0
        self.premium_count = 0
        self.last_rate = rate
        return rate
