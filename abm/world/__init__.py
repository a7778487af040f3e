"""The world: a fundamental value path (information: long-memory volatility, jumps, scripted
shocks, or a CSV replay), which value traders learn late and with errors, and the spot venue,
whose price is the perp's index and moves only with spot order flow.

This layer knows only numpy at import time (pandas is imported when a CSV is read).
"""

from abm.world.fundamental import FundamentalProcess
from abm.world.spot import SpotVenue

__all__ = ["FundamentalProcess", "SpotVenue"]
