"""The exogenous spot index: a GARCH(1,1)-with-jumps process or a CSV replay, scenario shocks on
top, and an optional pull towards the perpetual's last price.

This layer knows only numpy at import time (pandas is imported when a CSV is read).
"""

from abm.world.index import IndexProcess

__all__ = ["IndexProcess"]
