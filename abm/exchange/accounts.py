"""Trader accounts and the bilateral links that hold open interest."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.exchange.book import Order
    from abm.exchange.stops import StopOrder


class Link:
    """A piece of open interest: ``long`` holds ``qty`` lots against ``short`` since ``ref``.

    ``ref`` is the price (ticks) at which the link was last settled; a link with ``qty == 0`` is
    closed and is dropped lazily from its accounts' queues.
    """

    __slots__ = ("long", "short", "qty", "ref")

    def __init__(self, long: int, short: int, qty: int, ref: int) -> None:
        self.long = long
        self.short = short
        self.qty = qty
        self.ref = ref

    def __repr__(self) -> str:
        return f"Link(long={self.long}, short={self.short}, qty={self.qty}, ref={self.ref})"


SYSTEM_GROUP = "system"
"""The group of the system accounts (exchange, insurance fund, backstop vault, external)."""


class AccountGroup:
    """Running totals over a set of accounts (a population): wallet balance, position (lots)
    and cost basis (lots x ticks), kept at every transfer and fill, so that a group's equity
    costs the same however many accounts it holds (:meth:`Exchange.equity_by_group`)."""

    __slots__ = ("name", "balance", "position", "cost")

    def __init__(self, name: str) -> None:
        self.name = name
        self.balance = 0
        self.position = 0
        self.cost = 0


class Account:
    """One exchange account: position, cost basis, margin, open orders and links.

    ``position`` is signed lots (long > 0). ``cost`` is the sum over the account's links of
    signed lots x reference price, so unrealized PnL at price ``p`` is
    ``(position x p - cost) x value_per_tick_lot``. ``isolated_margin`` is the part of the
    ledger balance allocated to the position (isolated mode only; 0 in cross mode).
    """

    __slots__ = (
        "id",
        "group",
        "cross",
        "leverage",
        "position",
        "cost",
        "isolated_margin",
        "links",
        "dead_links",
        "orders",
        "stops",
        "open_buy_qty",
        "open_buy_value",
        "open_sell_qty",
        "open_sell_value",
        "liq_version",
        "liq_threshold",
        "map_bin",
        "map_lots",
        "times_liquidated",
        "liquidatable",
        "maker_fee_ppm",
        "taker_fee_ppm",
    )

    def __init__(
        self, account_id: int, group: AccountGroup, cross: bool, leverage: int, liquidatable: bool
    ) -> None:
        self.id = account_id
        self.group = group
        self.cross = cross
        self.leverage = leverage
        self.position = 0
        self.cost = 0
        self.isolated_margin = 0
        self.links: deque[Link] | None = None
        """Open links, oldest first; made at the first link (an idle account holds none)."""
        self.dead_links = 0
        self.orders: dict[int, Order] = {}
        self.stops: dict[int, StopOrder] = {}
        self.open_buy_qty = 0
        self.open_buy_value = 0
        self.open_sell_qty = 0
        self.open_sell_value = 0
        self.liq_version = 0
        self.liq_threshold: int | None = None
        self.map_bin = 0
        self.map_lots = 0
        """The liquidation-map bin and signed lots this account's position stands in (0: none)."""
        self.times_liquidated = 0
        self.liquidatable = liquidatable
        self.maker_fee_ppm = 0
        self.taker_fee_ppm = 0

    def live_links(self) -> list[Link]:
        """The account's open links, oldest first."""
        return [link for link in self.links or () if link.qty]
