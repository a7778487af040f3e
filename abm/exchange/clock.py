"""The exchange's tick: the index in, then mark and premium, stops, liquidation rounds and, at
the interval, funding along every link.

Functions over the exchange's state; :class:`abm.exchange.exchange.Exchange` keeps them as
delegates (``begin_tick``, ``hold_prices``, ``end_tick``, ``settle_funding``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.exchange import liquidation, matching, stops, thresholds
from abm.exchange.ledger import Cause
from abm.exchange.results import whole
from abm.exchange.units import PPB

if TYPE_CHECKING:
    from abm.exchange.accounts import Account
    from abm.exchange.exchange import Exchange


def debit_margin(ex: Exchange, account: Account, amount: int) -> None:
    """After a payment of ``amount`` from an isolated position (funding): its margin pays
    first, the free balance what the margin cannot; only what neither covers leaves the
    margin below zero."""
    if account.cross:
        return
    margin = account.isolated_margin
    from_margin = min(amount, max(0, margin))
    free = ex.ledger.balances[account.id] + amount - margin
    from_free = min(amount - from_margin, max(0, free))
    account.isolated_margin -= amount - from_free


def begin_tick(ex: Exchange, tick: object, index: object) -> None:
    """Start a tick: the world's index price (ticks) for this tick, a whole number from 1 to
    the price filter's maximum (ValueError otherwise, before anything changes)."""
    ticks = matching.valid_price(ex, index)
    if ticks is None:
        raise ValueError(
            f"index price must be a whole number of ticks from 1 to "
            f"{ex.instrument.max_price_ticks}, got {index!r}"
        )
    number = whole(tick)
    if number is None:
        raise ValueError(f"tick must be a whole number, got {tick!r}")
    ex.tick = number
    ex.ledger.tick = number
    ex.prices.set_index(ticks)
    if not ex.map_bin_ticks:
        ex.map_bin_ticks = max(1, ticks // 10_000)


def hold_prices(ex: Exchange, mark: object, last: object) -> None:
    """Replay mode: from the next price update on (until held again), the mark and the last
    price are ``mark`` and ``last`` (ticks), as another run's path had them; margin, stops
    and liquidations follow them, while the book trades as before. Whole numbers from 1 to the price filter's
    maximum (ValueError otherwise, before anything changes)."""
    mark_ticks, last_ticks = matching.valid_price(ex, mark), matching.valid_price(ex, last)
    if mark_ticks is None or last_ticks is None:
        raise ValueError(
            f"held prices must be whole numbers of ticks from 1 to "
            f"{ex.instrument.max_price_ticks}, got mark {mark!r} and last {last!r}"
        )
    ex.prices.hold(mark_ticks, last_ticks)


def end_tick(ex: Exchange) -> None:
    """Steps 3 to 6 of a tick: mark and premium, stops, liquidation rounds, funding; after
    funding, liquidation rounds again, so that no account ends a tick past its threshold
    once the tick's last money has moved (unless the round limit stopped the rounds:
    :meth:`Exchange.check_tick_end`)."""
    ex.prices.update(ex.book, tick=ex.tick, sample=True)
    stops.trigger_stops(ex)
    liquidation.run_rounds(ex)
    if ex.prices.funding_due(ex.tick):
        settle_funding(ex)
        liquidation.run_rounds(ex)


def settle_funding(ex: Exchange) -> int:
    """Pay the interval's funding along every link: longs pay shorts when the rate is
    positive. Returns the rate in parts per billion."""
    rate = ex.prices.close_funding_interval()
    event = ex.next_event()
    mark = ex.prices.mark
    if rate:
        accounts = ex.accounts
        ledger = ex.ledger
        k = ex.k
        for account_id in sorted(ex.open_accounts):
            long = accounts[account_id]
            if long.position <= 0:
                continue
            for link in long.links or ():
                if not link.qty:
                    continue
                amount = link.qty * mark * k * abs(rate) // PPB
                if not amount:
                    continue
                short = accounts[link.short]
                signed = amount if rate > 0 else -amount
                payer, payee = (long, short) if signed > 0 else (short, long)
                ledger.transfer(payer.id, payee.id, amount, Cause.FUNDING, event)
                debit_margin(ex, payer, amount)
                if not payee.cross:
                    payee.isolated_margin += amount
        for account_id in sorted(ex.open_accounts):
            thresholds.refresh(ex, accounts[account_id])
    ex.funding_payments.append((ex.tick, rate, event))
    return rate
