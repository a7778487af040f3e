"""Builders for the liquidation scenarios of tests/test_scenarios.py and tests/test_flows.py.

Test helpers, not tests. The common shape: a 10x long of 0.2 BTC at 50,000 bought from the
resting asks of one or more shorts, a maker's bids under the book, then one trade that moves the
last price (and with it the mark) and the end of the tick, where the liquidations run. The hand
computations stay with the tests that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from abm.exchange import BUY, SELL, Cause, Exchange
from tests.conftest import WIDE_BAND, U, make_rulebook

Short = tuple[int, int, int]
"""(deposit in USDT, leverage, lots sold to the long at 50,000)."""

Bid = tuple[int, int]
"""(lots, price in ticks) of one resting maker bid."""

ONE_SHORT: tuple[Short, ...] = ((100_000, 10, 200),)
BELOW_BANKRUPTCY: tuple[Bid, ...] = ((1_000, 449_000),)
MARKET_CLOSE = {"order": "market", "slippage": 0.05}
"""The ``liquidation`` override that closes by market order with up to 5% slippage."""


def transfers(ex: Exchange, cause: Cause) -> list[tuple[int, int, int]]:
    """(src, dst, amount) of every logged transfer with ``cause``."""
    log = ex.ledger
    return [
        (log.log_src[i], log.log_dst[i], log.log_amount[i])
        for i in range(len(log))
        if log.log_cause[i] == cause
    ]


def open_long_against(ex: Exchange, shorts: list[tuple[int, int]], lots: int = 200) -> int:
    """The 10x long buys ``lots`` at 50,000 from resting asks of ``shorts`` (account, lots)."""
    long = ex.open_account(1_004 * U, leverage=10)
    for short, qty in shorts:
        assert ex.submit(short, SELL, qty, 500_000)
    result = ex.submit(long, BUY, lots, kind="market")
    assert result.filled == lots
    return long


def move_last(ex: Exchange, tick: int, price: int) -> None:
    """A fresh maker and taker trade 1 lot at ``price``; with mark = last this moves the mark."""
    maker = ex.open_account(10_000 * U, leverage=5)
    taker = ex.open_account(10_000 * U, leverage=5)
    ex.begin_tick(tick, price)
    assert ex.submit(maker, BUY, 1, price)
    assert ex.submit(taker, SELL, 1, kind="market").filled == 1


def start(**rules) -> Exchange:
    """An exchange at 50,000 whose price filter lets one trade move the price 10%."""
    ex = Exchange(make_rulebook(**{"price_filter": WIDE_BAND, **rules}))
    ex.begin_tick(0, 500_000)
    return ex


@dataclass
class Crash:
    """The accounts of one scenario: the long, its shorts, the maker (once it bids) and any
    ``extra`` accounts a ``before_crash`` hook opened, by name."""

    ex: Exchange
    long: int
    shorts: list[int]
    maker: int | None = None
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def short(self) -> int:
        """The one short of a single-short scenario."""
        (short,) = self.shorts
        return short

    def bid(self, levels: Sequence[Bid]) -> int:
        """A fresh maker (1,000,000 USDT, 5x) rests a buy order at each (lots, price) level."""
        self.maker = self.ex.open_account(1_000_000 * U, leverage=5)
        for lots, price in levels:
            assert self.ex.submit(self.maker, BUY, lots, price)
        return self.maker

    def fall(self, *, bids: Sequence[Bid] = BELOW_BANKRUPTCY, mark_to: int = 449_000) -> Crash:
        """Rest ``bids`` (none: no maker), move the mark to ``mark_to`` and end the tick."""
        if bids:
            self.bid(bids)
        move_last(self.ex, 1, mark_to)
        self.ex.end_tick()
        return self


def opened(*, shorts: Sequence[Short] = ONE_SHORT, **rules) -> Crash:
    """A fresh exchange under ``make_rulebook(**rules)``; the shorts' accounts, then the 10x long
    that buys every short's lots at 50,000."""
    ex = start(**rules)
    accounts = [ex.open_account(deposit * U, leverage=leverage) for deposit, leverage, _ in shorts]
    sold = [lots for _, _, lots in shorts]
    long = open_long_against(ex, list(zip(accounts, sold, strict=True)), sum(sold))
    return Crash(ex, long, accounts)


def crash(
    *,
    shorts: Sequence[Short] = ONE_SHORT,
    bids: Sequence[Bid] = BELOW_BANKRUPTCY,
    mark_to: int = 449_000,
    before_crash: Callable[[Exchange], dict[str, int]] | None = None,
    **rules,
) -> Crash:
    """``opened(shorts=shorts, **rules)``, then ``before_crash`` (extra accounts, by name), then
    ``fall(bids=bids, mark_to=mark_to)``."""
    scenario = opened(shorts=shorts, **rules)
    if before_crash is not None:
        scenario.extra = before_crash(scenario.ex)
    return scenario.fall(bids=bids, mark_to=mark_to)


def second_pair(ex: Exchange) -> dict[str, int]:
    """A careful 2x short (6,000 USDT) sells 0.2 BTC at 50,000 to a 2x long (100,000 USDT)."""
    careful = ex.open_account(6_000 * U, leverage=2)
    other_long = ex.open_account(100_000 * U, leverage=2)
    assert ex.submit(careful, SELL, 200, 500_000)
    assert ex.submit(other_long, BUY, 200, kind="market").filled == 200
    return {"careful": careful, "other_long": other_long}
