"""The shared margin and liquidation module: a standalone exchange with exact integer money.

``Exchange`` runs the market; the calculator functions give the published formulas with floats at
their boundary, for users who want the numbers without a simulation.
"""

from abm.exchange.book import BUY, SELL
from abm.exchange.calculator import (
    adl_rank,
    bankruptcy_price,
    liquidation_price,
    maintenance_margin,
)
from abm.exchange.exchange import Exchange, OrderResult, Reject
from abm.exchange.instrument import Instrument
from abm.exchange.ledger import Cause, Ledger, SystemAccount
from abm.exchange.records import BackstopAction, LiquidationEvent
from abm.exchange.results import LiquidationMap

__all__ = [
    "BUY",
    "SELL",
    "BackstopAction",
    "Cause",
    "Exchange",
    "Instrument",
    "Ledger",
    "LiquidationEvent",
    "LiquidationMap",
    "OrderResult",
    "Reject",
    "SystemAccount",
    "adl_rank",
    "bankruptcy_price",
    "liquidation_price",
    "maintenance_margin",
]
