"""The contract's units: conversions between boundary floats and the engine's integers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.config import Rulebook


MONEY_BOUND: Final = 1 << 62
"""No amount, notional or PnL inside the engine reaches this many micro-units, so every value
fits the int64 columns of the transfer and fill logs with room for sums of two."""

MAX_TOTAL_DEPOSITS: Final = 1 << 60
"""Net deposits into the whole system may not exceed this (about 1.15 trillion USDT)."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """A linear USDT-margined BTC perpetual: price ticks, quantity lots, micro-USDT money.

    ``value_per_tick_lot`` is the notional, in micro-USDT, of one lot at a price of one tick, so
    a position's notional at price ``p`` is ``lots x p x value_per_tick_lot``. The bounds are
    what the exchange accepts at its boundary: prices up to ``max_price_ticks``, orders up to
    ``max_order_lots`` (``max_market_lots`` for market orders), positions up to
    ``max_position_lots``. They keep every product inside the engine below ``MONEY_BOUND``.
    """

    tick_micro: int
    lots_per_btc_inverse: float
    value_per_tick_lot: int
    max_price_ticks: int
    max_position_lots: int
    max_order_lots: int
    max_market_lots: int

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> Instrument:
        tick_micro = round(rulebook.tick_size * MICRO)
        k = round(tick_micro * rulebook.lot_size)
        if tick_micro < 1 or k < 1:
            raise ValueError(
                f"tick_size {rulebook.tick_size} x lot_size {rulebook.lot_size} must be worth "
                "at least one micro-USDT"
            )
        limits = rulebook.price_filter
        max_price_ticks = max(1, int(limits.max_price * MICRO) // tick_micro)
        max_position_lots = MONEY_BOUND // (4 * max_price_ticks * k)
        if max_position_lots < 1:
            raise ValueError(
                f"price_filter.max_price {limits.max_price} is too high for tick_size "
                f"{rulebook.tick_size} and lot_size {rulebook.lot_size}: one lot's notional "
                "would overflow the engine's integers"
            )

        def lots(btc: float) -> int:
            return max(1, min(max_position_lots, int(btc / rulebook.lot_size + 1e-9)))

        return cls(
            tick_micro=tick_micro,
            lots_per_btc_inverse=rulebook.lot_size,
            value_per_tick_lot=k,
            max_price_ticks=max_price_ticks,
            max_position_lots=max_position_lots,
            max_order_lots=lots(limits.max_order_btc),
            max_market_lots=lots(limits.max_market_order_btc),
        )

    def ticks(self, price: float) -> int:
        """Nearest whole tick of a USDT price."""
        return round(price * MICRO / self.tick_micro)

    def price(self, ticks: int) -> float:
        """USDT price of a tick count."""
        return ticks * self.tick_micro / MICRO

    def lots(self, btc: float) -> int:
        """Nearest whole lot of a BTC quantity."""
        return round(btc / self.lots_per_btc_inverse)

    def btc(self, lots: int) -> float:
        """BTC quantity of a lot count."""
        return lots * self.lots_per_btc_inverse

    @staticmethod
    def micro(usdt: float) -> int:
        """Micro-units of a USDT amount."""
        return round(usdt * MICRO)

    @staticmethod
    def usdt(micro: int) -> float:
        """USDT amount of a count of micro-units."""
        return micro / MICRO
