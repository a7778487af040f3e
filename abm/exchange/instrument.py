"""The contract's units: conversions between boundary floats and the engine's integers."""

from __future__ import annotations

from dataclasses import dataclass

from abm.config import MICRO, Rulebook


@dataclass(frozen=True, slots=True)
class Instrument:
    """A linear USDT-margined BTC perpetual: price ticks, quantity lots, micro-USDT money.

    ``value_per_tick_lot`` is the notional, in micro-USDT, of one lot at a price of one tick, so
    a position's notional at price ``p`` is ``lots x p x value_per_tick_lot``.
    """

    tick_micro: int
    lots_per_btc_inverse: float
    value_per_tick_lot: int

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> Instrument:
        tick_micro = round(rulebook.tick_size * MICRO)
        return cls(
            tick_micro=tick_micro,
            lots_per_btc_inverse=rulebook.lot_size,
            value_per_tick_lot=round(tick_micro * rulebook.lot_size),
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
