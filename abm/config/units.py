"""The config's bounds and units: the largest quantities a config may give, so that every
run fits the exchange's integers. Micro-units per USDT (``MICRO``) are the exchange's own
(:mod:`abm.exchange.units`)."""

BTC_SUPPLY = 21_000_000
"""Upper bound of every quantity in BTC in the config."""

DEPOSIT_LIMIT_USDT = 1e12
"""What a run may deposit in all (seeds and expected capital), a little below the exchange's
limit on net deposits (``abm.exchange.instrument.MAX_TOTAL_DEPOSITS``, 2**60 micro-USDT)."""

MIN_START_TICKS = 1_000
"""The index starts at least this many price ticks above zero, so that a move of 0.1% shows."""

MAX_TICKS = 31_536_000
"""The longest run, in ticks: a year of 1-second ticks."""
