"""What a request to the exchange returns: accepted or not, and why not."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import Enum
from typing import SupportsIndex, cast

import numpy as np


class Reject(Enum):
    """Why an order or request was refused."""

    UNKNOWN_ACCOUNT = "unknown account: trader ids start after the system accounts"
    INVALID_SIDE = "side must be BUY (1) or SELL (-1)"
    INVALID_QTY = "quantity must be a positive whole number of lots"
    QTY_ABOVE_MAX = "quantity above the largest order the price filter allows"
    POSITION_ABOVE_MAX = "the position would exceed the largest position the exchange holds"
    INVALID_PRICE = "price must be a positive whole number of ticks up to the maximum price"
    NO_MARK_PRICE = "no mark price yet: the exchange needs an index (begin_tick) first"
    PRICE_OUTSIDE_BAND = "price outside the band around the mark that the price filter allows"
    INVALID_KIND = "order kind must be one of limit, market, ioc, post_only"
    INVALID_TRIGGER = "stop trigger must be 'mark' or 'last'"
    INSUFFICIENT_MARGIN = "insufficient margin for the order"
    LOSS_BEYOND_EQUITY = "at its worst fill price the order would lose more than the equity"
    LEVERAGE_ABOVE_CAP = "leverage above the cap for this notional"
    POST_ONLY_WOULD_CROSS = "post-only order would cross the book"
    REDUCE_ONLY_WOULD_INCREASE = "reduce-only order would increase the position"
    UNKNOWN_ORDER = "no such open order for this account"
    INSUFFICIENT_BALANCE = "withdrawal exceeds the available balance"
    INVALID_AMOUNT = "amount must be a positive whole number of micro-units"
    AMOUNT_ABOVE_MAX = "amount would take the account or the system past the largest balance"
    INVALID_LEVERAGE = "leverage must be at least 1 and at most the rulebook's cap"
    HAS_POSITION = "cannot change leverage or margin mode with an open position or orders"


@dataclass(slots=True)
class OrderResult:
    """Outcome of a request: accepted or not, why not, and what filled or was cancelled."""

    accepted: bool
    reason: Reject | None = None
    order_id: int | None = None
    filled: int = 0
    resting: int = 0
    cancelled: int = 0

    def __bool__(self) -> bool:
        return self.accepted


class UnknownAccountError(LookupError):
    """A view of the exchange was asked about an account that does not exist."""


def whole(value: object) -> int | None:
    """``value`` as a Python int if it is a whole number (numpy integers included, booleans
    not), else None."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    try:
        return operator.index(cast(SupportsIndex, value))
    except TypeError:
        return None


@dataclass(frozen=True)
class LiquidationMap:
    """Where open positions would be liquidated (:meth:`Exchange.liquidation_map`): one entry per
    non-empty bin of liquidation thresholds, as numpy int64 arrays of equal length.

    ``bin_low`` is the bin's lower edge (ticks), ``lots`` the size of the positions in it,
    ``threshold_lots`` the sum over them of lots x threshold (ticks), so that
    ``threshold_lots / lots`` is their mean threshold, and ``side`` 1 for longs, -1 for shorts.
    A long that no positive price liquidates sits below tick 0, a short that none does far above
    any price.
    """

    bin_low: np.ndarray
    lots: np.ndarray
    threshold_lots: np.ndarray
    side: np.ndarray
