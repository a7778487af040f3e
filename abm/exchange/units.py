"""The exchange's units: every number inside the engine is a whole count of one of these.

Money is in micro-units of the quote currency (USDT), prices in ticks of the rulebook's tick
size, quantities in lots of its lot size, rates in parts per million or per billion. This module
is the bottom of every layer: the config, the exchange and the analysis read the constants here.
"""

from __future__ import annotations

from typing import Final

MICRO: Final = 1_000_000
"""Micro-units of the quote currency per unit (1 USDT = 1,000,000)."""

PPM: Final = 1_000_000
"""Parts per million: fee rates and price bands inside the engine."""

PPB: Final = 1_000_000_000
"""Parts per billion: funding rates inside the engine."""
