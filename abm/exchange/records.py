"""The exchange's shared records and names: what a fill, a liquidation and a backstop step are
called and what they hold. Every exchange module may import this one; it imports none of them,
so the liquidation path, the backstops and the matching engine share these without a circle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, get_args

ORDER_KINDS = ("limit", "market", "ioc", "post_only")
"""What ``Exchange.submit`` takes as ``kind``."""

FILL_NORMAL: Final = 0
FILL_LIQUIDATION: Final = 1
FILL_ADL: Final = 2
FILL_TAKEOVER: Final = 3
FILL_UNWIND: Final = 4
FILL_KINDS = ("normal", "liquidation", "adl", "takeover", "unwind")
"""The names of the fill kinds, by code (the ``kind`` column of fills)."""

LinkMatching = Literal["fifo", "lifo", "pro_rata"]
"""Which links a closing side leaves (``exchange.link_matching``): its oldest first (``fifo``),
its newest first (``lifo``), or every link in proportion to its size (``pro_rata``). A convention
of attribution, not a venue's rule: after every fill each account's equity and position are the
same under each; who is paid a closing side's gains and losses differs, and with it an account's
realized balance (which traders size orders by) and the margin an isolated position releases
when reduced in part."""

LINK_MATCHINGS: tuple[str, ...] = get_args(LinkMatching)
"""The link conventions, by code (what the exchange holds)."""
LINK_FIFO: Final = 0
LINK_LIFO: Final = 1
LINK_PRO_RATA: Final = 2

BackstopStep = Literal[
    "insurance_fund",
    "backstop_vault",
    "adl",
    "socialized_loss",
    "exchange_absorbs",
    "trader_debt",
]
"""A step of the backstop waterfall a rulebook may order (``exchange.backstops``)."""

BACKSTOP_STEPS: tuple[str, ...] = get_args(BackstopStep)
"""Every backstop step a rulebook may name."""


@dataclass(slots=True)
class BackstopAction:
    """One step of the waterfall acting: which, against whom, how many lots, how much money.

    ``haircut`` is what an ADL counterparty gave up against closing at the mark (micro-units).
    ``reason`` says why a disposing step had lots left to take: ``book_cannot_absorb`` (no
    liquidity within the bounds the earlier steps may trade at) or ``insurance_fund_short`` (the
    fund could not pay for the prices the book offered).
    """

    step: str
    counterparty: int | None
    qty: int
    amount: int
    price: int | None = None
    haircut: int = 0
    reason: str = ""


@dataclass(slots=True)
class LiquidationEvent:
    """What happened to one account in one liquidation (or deficit resolution)."""

    event_id: int
    tick: int
    round: int
    account: int
    side: str
    qty: int
    closed: int
    partial: bool
    mark: int
    bankruptcy_price: int
    fills: list[tuple[int, int, int]] = field(default_factory=list)
    clearance_fee: int = 0
    insurance_surplus: int = 0
    insurance_delta: int = 0
    deficit: int = 0
    debt: int = 0
    actions: list[BackstopAction] = field(default_factory=list)
    left_because: str = "book_cannot_absorb"
    """Why lots are left after the steps so far: the book, or (after an insurance unwind bound
    by what the fund could pay) the fund."""
