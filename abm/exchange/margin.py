"""Margin brackets, initial and maintenance margin, and liquidation and bankruptcy thresholds.

All amounts are integers: notionals and margins in micro-units, prices in ticks, quantities in
lots. ``value_per_tick_lot`` is the micro-units of notional of one lot at one tick.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.config import Bracket


NEVER: Final = -1
"""Threshold of a long that no positive price can liquidate."""

UNBOUNDED: Final = 1 << 62
"""Threshold of a short that no price can liquidate."""


class Brackets:
    """Tiered maintenance margin: ``maintenance = notional x mmr - cum`` of the notional's tier.

    ``cum`` is derived so that the maintenance margin is continuous across tiers:
    ``cum_n = cap_(n-1) x (mmr_n - mmr_(n-1)) + cum_(n-1)``.
    """

    __slots__ = ("caps", "mmr_ppm", "max_leverage", "cum", "_caps_by_leverage")

    def __init__(self, brackets: Sequence[Bracket]) -> None:
        self.caps = [
            UNBOUNDED if math.isinf(b.notional_cap) else round(b.notional_cap * MICRO)
            for b in brackets
        ]
        self.mmr_ppm = [round(b.mmr * MICRO) for b in brackets]
        self.max_leverage = [b.max_leverage for b in brackets]
        self._caps_by_leverage: dict[float, int] = {}
        self.cum = [0]
        for n in range(1, len(brackets)):
            step = self.caps[n - 1] * (self.mmr_ppm[n] - self.mmr_ppm[n - 1]) // MICRO
            self.cum.append(self.cum[-1] + step)

    def tier(self, notional: int) -> int:
        """Index of the tier containing ``notional`` (a notional at a cap belongs to that tier)."""
        return min(bisect_left(self.caps, notional), len(self.caps) - 1)

    def maintenance_margin(self, notional: int) -> int:
        """Maintenance margin in micro-units, rounded up (towards the exchange)."""
        n = self.tier(notional)
        return -(-notional * self.mmr_ppm[n] // MICRO) - self.cum[n]

    def max_leverage_for(self, notional: int) -> float:
        """Highest leverage the tier of ``notional`` allows."""
        return self.max_leverage[self.tier(notional)]

    def notional_cap_for(self, leverage: float) -> int:
        """Largest notional whose tier allows ``leverage`` (-1 if none); tiers' maximum
        leverage never rises, so this is the cap of the last tier that allows it."""
        cap = self._caps_by_leverage.get(leverage)
        if cap is None:
            allowed = [
                c for c, lev in zip(self.caps, self.max_leverage, strict=True) if lev >= leverage
            ]
            cap = self._caps_by_leverage[leverage] = allowed[-1] if allowed else -1
        return cap


def margin_surplus(
    brackets: Brackets, k: int, collateral: int, position: int, cost: int, price: int
) -> int:
    """Equity minus maintenance margin at ``price``; negative (or, when the rulebook liquidates
    at equality, zero) means liquidatable."""
    equity = collateral + (position * price - cost) * k
    return equity - brackets.maintenance_margin(abs(position) * price * k)


def is_below_maintenance(surplus: int, at_equality: bool) -> bool:
    """The rulebook's trigger: equity below maintenance margin, or at it too (margin ratio
    reaching 100%, Binance's rule) when ``at_equality``."""
    return surplus < 0 or (at_equality and surplus == 0)


def liquidation_tick(
    brackets: Brackets,
    k: int,
    collateral: int,
    position: int,
    cost: int,
    at_equality: bool = True,
) -> int:
    """The price threshold at which the position becomes liquidatable.

    For a long: the highest tick at which equity < maintenance margin (``<=`` with
    ``at_equality``; ``NEVER`` if no tick from 1 up); liquidatable iff ``mark <= threshold``. For a short:
    the lowest such tick (``UNBOUNDED`` if none); liquidatable iff ``mark >= threshold``. Exact:
    a closed-form guess per tier (Binance's one-way formula) is corrected by integer evaluation
    of the surplus, which is monotone in price.
    """
    if position == 0:
        raise ValueError("a flat account has no liquidation threshold")
    qty = abs(position)
    base = cost * k - collateral
    guess = 0.0
    n = brackets.tier(qty * max(1, abs(cost) // qty) * k)
    side = 1 if position > 0 else -1
    for _ in range(len(brackets.caps) + 1):
        mmr = brackets.mmr_ppm[n] / MICRO
        guess = side * (base - brackets.cum[n]) / (qty * k * (1 - side * mmr))
        guess = max(0.0, min(guess, UNBOUNDED >> 8))
        m = brackets.tier(int(qty * guess * k))
        if m == n:
            break
        n = m

    def liquidatable(price: int) -> bool:
        surplus = margin_surplus(brackets, k, collateral, position, cost, price)
        return is_below_maintenance(surplus, at_equality)

    if position > 0:
        tick = math.ceil(guess) - 1
        if not (tick >= 0 and liquidatable(tick) and not liquidatable(tick + 1)):
            start = min(max(0, round(guess)), UNBOUNDED >> 8)
            tick = _boundary(liquidatable, start, rising=False, none=NEVER)
        return tick if tick >= 1 else NEVER
    tick = math.floor(guess) + 1
    if 0 < tick < UNBOUNDED >> 8 and liquidatable(tick) and not liquidatable(tick - 1):
        return tick
    start = min(max(0, round(guess)), UNBOUNDED >> 8)
    return _boundary(liquidatable, start, rising=True, none=UNBOUNDED)


def _boundary(holds, start: int, rising: bool, none: int) -> int:
    """Where a monotone predicate on ticks >= 0 flips, searched by galloping from ``start``
    and bisecting: the lowest tick where it holds if it holds for high prices (``rising``),
    else the highest tick where it holds; ``none`` if it holds nowhere in range."""
    limit = UNBOUNDED >> 8
    if not rising:
        if not holds(0):
            return none
        lo, step = start, 1
        while not holds(lo):
            lo = max(0, lo - step)
            step *= 2
        hi, step = lo + 1, 1
        while hi <= limit and holds(hi):
            lo, hi = hi, hi + step
            step *= 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if holds(mid) else (lo, mid)
        return lo
    if not holds(limit):
        return none
    hi, step = start, 1
    while not holds(hi):
        hi = min(limit, hi + step)
        step *= 2
    lo, step = hi - 1, 1
    while lo >= 0 and holds(lo):
        hi, lo = lo, lo - step
        step *= 2
    lo = max(lo, -1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return max(hi, 0)


def bankruptcy_tick(k: int, collateral: int, position: int, cost: int) -> int:
    """The worst whole tick at which closing the position leaves equity >= 0.

    A long must sell at or above it (rounded up), a short buy at or below it (rounded down).
    """
    qty = abs(position)
    numerator = cost * k - collateral
    if position > 0:
        return max(1, -(-numerator // (qty * k)))
    return numerator // (-qty * k) if numerator < 0 else 0
