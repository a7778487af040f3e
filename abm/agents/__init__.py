"""Trader behaviour, one module per population."""

from abm.agents.arbitrageur import Arbitrageur
from abm.agents.fundamental import FundamentalTrader
from abm.agents.market_maker import MarketMaker
from abm.agents.retail import RetailTrader
from abm.agents.spot_value import SpotValueTrader
from abm.agents.trader import Trader
from abm.agents.whale import Whale

__all__ = [
    "Arbitrageur",
    "FundamentalTrader",
    "MarketMaker",
    "RetailTrader",
    "SpotValueTrader",
    "Trader",
    "Whale",
]
