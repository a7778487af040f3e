"""The backstop waterfall: what happens when the book cannot absorb a liquidation, or the
account ends below zero.

The rulebook orders the steps. The waterfall is walked twice. First, to dispose of the lots the
book did not take: ``insurance_fund`` unwinds them into the book as far as the fund can pay the
loss beyond the bankruptcy price (and pays it at once), ``backstop_vault`` takes them over at the
bankruptcy price, ``adl`` closes them against ranked opposite positions at the bankruptcy price.
Second, to cover a deficit left once flat: ``insurance_fund`` and ``backstop_vault`` pay what
their balances allow, ``socialized_loss`` takes it pro rata from opposite-side winners' profits,
``exchange_absorbs`` has the exchange write the debt off, ``trader_debt`` leaves it with the
trader as a negative balance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.exchange import thresholds
from abm.exchange.book import BUY, SELL
from abm.exchange.ledger import FIRST_TRADER, Cause, SystemAccount
from abm.exchange.records import (
    FILL_ADL,
    FILL_TAKEOVER,
    FILL_UNWIND,
    BackstopAction,
    LiquidationEvent,
)
from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.exchange.accounts import Account
    from abm.exchange.exchange import Exchange


def _action(
    record: LiquidationEvent,
    step: str,
    counterparty,
    qty,
    amount,
    price=None,
    haircut=0,
    reason="",
):
    # A plain int (a system account is an IntEnum here and a plain int in the compiled core),
    # so that an event reads the same under both cores.
    counterparty = None if counterparty is None else int(counterparty)
    record.actions.append(BackstopAction(step, counterparty, qty, amount, price, haircut, reason))


def _receive(ex: Exchange, account: Account, src: int, amount: int, cause: Cause, event: int):
    ex.ledger.transfer(src, account.id, amount, cause, event)
    if not account.cross:
        account.isolated_margin += amount


TAKERS = ("backstop_vault", "adl")
"""The steps that take a position over at its bankruptcy price, whatever the book holds."""


def taker_follows(ex: Exchange, step: str) -> bool:
    """Whether a step after ``step`` in the rulebook takes positions over at bankruptcy."""
    steps = ex.rules.backstops
    return any(s in TAKERS for s in steps[steps.index(step) + 1 :])


def insurance_unwind(ex: Exchange, account: Account, bankruptcy: int, record) -> None:
    """Close the remaining lots in the book, no worse than the fund can pay beyond bankruptcy
    when a later step (vault, ADL) takes the rest at bankruptcy; with no such step the unwind
    goes as far as the book allows (the slippage bound), and what the fund cannot pay is a
    deficit for the later steps (socialized loss, the exchange, trader debt) to cover."""

    lots = abs(account.position)
    fund = ex.ledger.balances[SystemAccount.INSURANCE_FUND]
    slip = round(ex.rules.liquidation.insurance_unwind_slippage * MICRO)
    mark = ex.prices.mark
    fund_limited = taker_follows(ex, "insurance_fund")
    per_lot = fund // (lots * ex.k)
    if account.position > 0:
        fund_bound, book_bound = bankruptcy - per_lot, mark * (MICRO - slip) // MICRO
        fund_binds = fund_limited and fund_bound > book_bound
        side, limit = SELL, max(fund_bound if fund_binds else book_bound, 1)
    else:
        fund_bound, book_bound = bankruptcy + per_lot, -(-mark * (MICRO + slip) // MICRO)
        fund_binds = fund_limited and fund_bound < book_bound
        side, limit = BUY, fund_bound if fund_binds else book_bound
    record.left_because = "insurance_fund_short" if fund_binds else "book_cannot_absorb"
    first = len(ex.fills["qty"])
    filled = ex.match(account, side, lots, limit, record.event_id, FILL_UNWIND, False)
    if not filled:
        return
    loss = 0
    fills = ex.fills
    for i in range(first, len(fills["qty"])):
        beyond = (
            (bankruptcy - fills["price"][i]) if side == SELL else (fills["price"][i] - bankruptcy)
        )
        loss += fills["qty"][i] * beyond * ex.k
    paid = max(0, min(loss, fund))
    if paid:
        _receive(
            ex, account, SystemAccount.INSURANCE_FUND, paid, Cause.INSURANCE_PAYOUT, record.event_id
        )
    _action(record, "insurance_fund", None, filled, paid, limit)


def vault_takeover(ex: Exchange, account: Account, bankruptcy: int, record) -> None:
    """The backstop vault takes the remaining position over at the bankruptcy price."""

    vault = ex.accounts[SystemAccount.BACKSTOP_VAULT]
    lots = abs(account.position)
    if account.position > 0:
        ex.execute(vault, account, lots, bankruptcy, record.event_id, FILL_TAKEOVER, SELL, False)
    else:
        ex.execute(account, vault, lots, bankruptcy, record.event_id, FILL_TAKEOVER, BUY, False)
    _action(
        record,
        "backstop_vault",
        int(SystemAccount.BACKSTOP_VAULT),
        lots,
        0,
        bankruptcy,
        reason=record.left_because,
    )


def take_over_at_mark(ex: Exchange, account: Account, lots: int, record) -> None:
    """The knockout of the feedback channel (``liquidation.execution: off_book``): the backstop
    vault takes ``lots`` of the position over at the mark price, so the liquidation trades
    nothing in the book and moves no price (a takeover fill sets no last price); the account
    then settles as after any close, its deficit, if any, going down the waterfall."""

    vault = ex.accounts[SystemAccount.BACKSTOP_VAULT]
    mark = ex.prices.mark
    if account.position > 0:
        ex.execute(vault, account, lots, mark, record.event_id, FILL_TAKEOVER, SELL, False)
    else:
        ex.execute(account, vault, lots, mark, record.event_id, FILL_TAKEOVER, BUY, False)
    _action(record, "off_book", int(SystemAccount.BACKSTOP_VAULT), lots, 0, mark)


def adl_ranking(ex: Exchange, side: int) -> list[int]:
    """Open accounts on ``side`` (1 long, -1 short), first to be deleveraged first.

    ``bitmex``: PnL% x effective leverage (PnL% / leverage when losing); ``binance``: PnL% of
    wallet x margin ratio; ``random``: a pseudo-random order (dYdX). Floats rank; money stays
    integer. Like the ADL indicator venues publish, the queue is re-ranked at most every
    ``liquidation.adl_refresh_ticks`` and reused in between; accounts that have since closed or
    flipped are skipped, and positions opened since wait for the next ranking.
    """
    period = ex.rules.liquidation.adl_refresh_ticks
    key = (ex.tick // period, side)
    cached = ex.adl_queue.get(key)
    if cached is not None:
        return cached
    ex.adl_queue = {k: v for k, v in ex.adl_queue.items() if k[0] == key[0]}
    ex.adl_queue[key] = ranking = _rank(ex, side)
    return ranking


def _rank(ex: Exchange, side: int) -> list[int]:
    """The ranking itself, vectorised over the side's open positions (one pass to gather)."""
    accounts = ex.accounts
    balances = ex.ledger.balances
    holders = ex.longs if side > 0 else ex.shorts
    ids = np.array(sorted(holders.difference((SystemAccount.BACKSTOP_VAULT,))), dtype=np.int64)
    method = ex.rules.liquidation.adl_ranking
    if method == "random":
        return ids[ex.rng.permutation(len(ids))].tolist()
    chosen = [accounts[a] for a in ids.tolist()]
    position = np.fromiter((a.position for a in chosen), dtype=np.float64, count=len(ids))
    cost = np.fromiter((a.cost for a in chosen), dtype=np.float64, count=len(ids))
    collateral = np.fromiter(
        (balances[a.id] if a.cross else a.isolated_margin for a in chosen),
        dtype=np.float64,
        count=len(ids),
    )
    mark, k = ex.prices.mark, ex.k
    upnl = (position * mark - cost) * k
    equity = collateral + upnl
    notional = np.abs(position) * mark * k
    if method == "bitmex":
        pnl = upnl / np.maximum(1.0, np.abs(cost) * k)
        leverage = notional / np.maximum(1.0, equity)
        keys = np.where(pnl > 0, pnl * leverage, pnl / np.maximum(leverage, 1e-9))
    else:
        brackets = ex.brackets
        tier = np.minimum(
            np.searchsorted(np.array(brackets.caps, dtype=np.float64), notional, side="left"),
            len(brackets.caps) - 1,
        )
        mmr = np.array(brackets.mmr_ppm, dtype=np.float64)[tier] / 1e6
        maintenance = np.ceil(notional * mmr) - np.array(brackets.cum, dtype=np.float64)[tier]
        ratio = np.where(equity > 0, maintenance / np.where(equity > 0, equity, 1.0), 0.0)
        keys = np.maximum(0.0, upnl) / np.maximum(1.0, collateral) * ratio
    return ids[np.lexsort((ids, -keys))].tolist()


def auto_deleverage(ex: Exchange, account: Account, bankruptcy: int, record) -> None:
    """Close the remaining lots against ranked opposite positions at the bankruptcy price."""

    mark = ex.prices.mark
    opposite = -1 if account.position > 0 else 1
    for winner_id in adl_ranking(ex, opposite):
        if not account.position:
            break
        winner = ex.accounts[winner_id]
        if winner.position * opposite <= 0 or winner_id == account.id:
            continue
        lots = min(abs(account.position), abs(winner.position))
        if account.position > 0:
            ex.execute(winner, account, lots, bankruptcy, record.event_id, FILL_ADL, SELL, False)
            haircut = max(0, bankruptcy - mark) * lots * ex.k
        else:
            ex.execute(account, winner, lots, bankruptcy, record.event_id, FILL_ADL, BUY, False)
            haircut = max(0, mark - bankruptcy) * lots * ex.k
        _action(record, "adl", winner_id, lots, 0, bankruptcy, haircut, record.left_because)


DISPOSERS = {
    "insurance_fund": insurance_unwind,
    "backstop_vault": vault_takeover,
    "adl": auto_deleverage,
}


def dispose(ex: Exchange, account: Account, bankruptcy: int, record) -> None:
    """First walk: steps that take the lots the liquidation order left, in rulebook order."""
    for step in ex.rules.backstops:
        if not account.position:
            return
        handler = DISPOSERS.get(step)
        if handler is not None:
            handler(ex, account, bankruptcy, record)


def _pay_from(ex: Exchange, account: Account, src: int, step: str, cause: Cause, record, need):
    paid = max(0, min(need, ex.ledger.balances[src]))
    if paid:
        _receive(ex, account, src, paid, cause, record.event_id)
        _action(record, step, src, 0, paid)
    return paid


def socialize(ex: Exchange, account: Account, record, need: int) -> int:
    """Take ``need`` pro rata from traders' net profits (equity above what they deposited, the
    OKX 2018 clawback), never more than a trader's profit or positive balance; the largest
    rounding remainders pay the leftover micro-units."""
    profits = []
    for a in range(FIRST_TRADER, len(ex.accounts)):
        if a == account.id:
            continue
        cap = min(ex.equity(a) - ex.deposited[a], ex.ledger.balances[a])
        if cap > 0:
            profits.append((a, cap))
    total = sum(p for _, p in profits)
    if not total:
        return 0
    target = min(need, total)
    shares = [(a, target * p // total, target * p % total, p) for a, p in profits]
    left = target - sum(s for _, s, _, _ in shares)
    shares.sort(key=lambda s: (-s[2], s[0]))
    taken = 0
    for i, (a, share, _, cap) in enumerate(shares):
        amount = min(cap, share + (1 if i < left else 0))
        if not amount:
            continue
        winner = ex.accounts[a]
        ex.ledger.transfer(a, account.id, amount, Cause.SOCIALIZED_LOSS, record.event_id)
        if not winner.cross:
            free = ex.ledger.balances[a] + amount - winner.isolated_margin
            winner.isolated_margin -= max(0, amount - max(0, free))
        if not account.cross:
            account.isolated_margin += amount
        thresholds.refresh(ex, winner)
        _action(record, "socialized_loss", a, 0, amount)
        taken += amount
    return taken


def cover_deficit(ex: Exchange, account: Account, record) -> None:
    """Second walk: steps that cover the deficit of a flat account, in rulebook order."""
    for step in ex.rules.backstops:
        need = -ex.collateral(account)
        if need <= 0:
            return
        if step == "insurance_fund":
            _pay_from(
                ex,
                account,
                SystemAccount.INSURANCE_FUND,
                step,
                Cause.INSURANCE_PAYOUT,
                record,
                need,
            )
        elif step == "backstop_vault":
            _pay_from(
                ex,
                account,
                SystemAccount.BACKSTOP_VAULT,
                step,
                Cause.BACKSTOP_TAKEOVER,
                record,
                need,
            )
        elif step == "socialized_loss":
            socialize(ex, account, record, need)
        elif step == "exchange_absorbs":
            _receive(ex, account, SystemAccount.EXCHANGE, need, Cause.DEBT, record.event_id)
            _action(record, step, int(SystemAccount.EXCHANGE), 0, need)
        elif step == "trader_debt":
            if not account.cross:
                account.isolated_margin = 0
            record.debt = max(0, -ex.ledger.balances[account.id])
            _action(record, step, None, 0, record.debt)
            return
