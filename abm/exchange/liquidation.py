"""The liquidation path: detect, cancel, price, fill, settle, backstop; and cascade rounds.

With ``liquidation.execution: off_book`` (a counterfactual, not a venue's rule) the fill step
is a takeover by the backstop vault at the mark instead of an order in the book: everything
else is the same, so the difference against a run on the book is the feedback channel.

Liquidation thresholds sit in two heaps (longs by highest threshold, shorts by lowest), so a tick
where nobody is liquidatable costs two peeks. A liquidation cancels the account's orders, sends an
order into the book (IOC at the bankruptcy price, or market within a slippage bound), and then
walks the rulebook's backstop waterfall twice: first to dispose of what the book did not absorb,
then to cover any deficit. A full liquidation's surplus over the bankruptcy price pays the
clearance fee and, if the rulebook says so, goes to the insurance fund.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from abm.exchange import backstops, thresholds
from abm.exchange.book import BUY, SELL
from abm.exchange.ledger import Cause, SystemAccount
from abm.exchange.margin import bankruptcy_tick, is_below_maintenance, margin_surplus
from abm.exchange.records import FILL_LIQUIDATION, LiquidationEvent
from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.exchange.accounts import Account
    from abm.exchange.exchange import Exchange


def liquidated_notional(ex: Exchange, events) -> int:
    """Notional the ``events`` closed, valued at the mark each was liquidated at (micro-units)."""
    return sum(e.closed * e.mark for e in events) * ex.k


def detect(ex: Exchange) -> list[int]:
    """Accounts whose threshold the mark has crossed, most underwater first on each side (ties
    by account id)."""
    ex.flush_thresholds()
    mark = ex.prices.mark
    accounts = ex.accounts
    found: list[int] = []
    longs, shorts = ex.long_thresholds, ex.short_thresholds
    while longs and -longs[0][0] >= mark:
        _, account_id, version = heapq.heappop(longs)
        if accounts[account_id].liq_version == version:
            found.append(account_id)
    while shorts and shorts[0][0] <= mark:
        _, account_id, version = heapq.heappop(shorts)
        if accounts[account_id].liq_version == version:
            found.append(account_id)
    return found


def is_liquidatable(ex: Exchange, account: Account) -> bool:
    """Exact check at the mark: equity below maintenance margin (or at it, as the rulebook
    says)."""
    if not account.position or not account.liquidatable:
        return False
    surplus = margin_surplus(
        ex.brackets, ex.k, ex.collateral(account), account.position, account.cost, ex.prices.mark
    )
    return is_below_maintenance(surplus, ex.liquidate_at_equality)


def liquidation_size(ex: Exchange, account: Account) -> int:
    """Lots to close now: all, or a slice of a large position under partial liquidation."""
    lots = abs(account.position)
    rules = ex.rules.liquidation
    notional = lots * ex.prices.mark * ex.k
    if rules.partial and notional > round(rules.partial_min_notional * MICRO):
        return min(lots, max(1, -(-lots * round(rules.partial_fraction * MICRO) // MICRO)))
    return lots


def order_limit(ex: Exchange, account: Account, bankruptcy: int) -> int:
    """Worst price the liquidation order may fill at: the bankruptcy price, or the slippage
    bound. The bankruptcy bound needs a step that takes over what it leaves (insurance fund,
    vault, ADL); a rulebook with none of them sends the order to the slippage bound, and the
    deficit goes to its deficit steps (socialized loss, the exchange, trader debt)."""
    if ex.rules.liquidation.order == "ioc_bankruptcy" and backstops.DISPOSERS.keys() & set(
        ex.rules.backstops
    ):
        return bankruptcy
    slip = round(ex.rules.liquidation.slippage * MICRO)
    mark = ex.prices.mark
    if account.position > 0:
        return max(1, mark * (MICRO - slip) // MICRO)
    return -(-mark * (MICRO + slip) // MICRO)


def send_order(ex: Exchange, account: Account, lots: int, limit: int, event: int) -> int:
    """The liquidation order: the account takes liquidity (no taker fee; the clearance fee
    replaces it). Returns the lots filled."""

    side = SELL if account.position > 0 else BUY
    return ex.match(account, side, lots, limit, event, FILL_LIQUIDATION, False)


def charge_clearance_fee(ex: Exchange, account: Account, lots: int, record: LiquidationEvent):
    """The clearance fee on the liquidated notional, never more than the collateral left."""
    rules = ex.rules.liquidation
    notional = lots * ex.prices.mark * ex.k
    fee = -(-notional * round(rules.clearance_fee * MICRO) // MICRO)
    fee = min(fee, max(0, ex.collateral(account)))
    if fee:
        dst = (
            SystemAccount.INSURANCE_FUND
            if rules.clearance_fee_to == "insurance_fund"
            else SystemAccount.EXCHANGE
        )
        ex.ledger.transfer(account.id, dst, fee, Cause.CLEARANCE_FEE, record.event_id)
        if not account.cross:
            account.isolated_margin -= fee
    record.clearance_fee += fee


def settle(ex: Exchange, account: Account, record: LiquidationEvent) -> None:
    """After a full close: surplus to the insurance fund, or the deficit down the waterfall.

    An isolated account whose free balance went below zero (its own trades lost more than the
    position's margin) has that shortfall counted against the position's collateral, so the
    account never ends flat below zero unless the rulebook leaves the deficit as trader debt.
    """
    balance = ex.ledger.balances[account.id]
    if not account.cross and balance < account.isolated_margin:
        account.isolated_margin = balance
    collateral = ex.collateral(account)
    if collateral >= 0:
        charge_clearance_fee(ex, account, record.closed, record)
        if ex.rules.liquidation.surplus_to_insurance:
            surplus = max(0, ex.collateral(account))
            ex.ledger.transfer(
                account.id,
                SystemAccount.INSURANCE_FUND,
                surplus,
                Cause.INSURANCE_SURPLUS,
                record.event_id,
            )
            record.insurance_surplus = surplus
    else:
        record.deficit = -collateral
        backstops.cover_deficit(ex, account, record)
    account.isolated_margin = 0


def liquidate(ex: Exchange, account: Account, round_no: int) -> LiquidationEvent | None:
    """Liquidate one account now; returns its event record, or None if it is healthy or nothing
    could be done (no fill, no backstop could act: it stays liquidatable and is tried again)."""
    if not is_liquidatable(ex, account):
        thresholds.refresh(ex, account)
        return None
    event = ex.next_event()
    fund_before = ex.ledger.balances[SystemAccount.INSURANCE_FUND]
    ex.liquidating = account.id
    ex.cancel_orders(account)
    lots = abs(account.position)
    bankruptcy = bankruptcy_tick(ex.k, ex.collateral(account), account.position, account.cost)
    record = LiquidationEvent(
        event_id=event,
        tick=ex.tick,
        round=round_no,
        account=account.id,
        side="long" if account.position > 0 else "short",
        qty=lots,
        closed=0,
        partial=False,
        mark=ex.prices.mark,
        bankruptcy_price=bankruptcy,
    )
    first_fill = len(ex.fills["qty"])
    size = liquidation_size(ex, account)
    if ex.rules.liquidation.execution == "off_book":
        backstops.take_over_at_mark(ex, account, size, record)
        filled = size
    else:
        filled = send_order(ex, account, size, order_limit(ex, account, bankruptcy), event)
    if filled > 0 and size < lots:
        record.partial = True
        record.closed = filled
        charge_clearance_fee(ex, account, filled, record)
    else:
        if size < lots:
            send_order(ex, account, lots, order_limit(ex, account, bankruptcy), event)
        backstops.dispose(ex, account, bankruptcy, record)
        record.closed = lots - abs(account.position)
        if not account.position:
            settle(ex, account, record)
    fills = ex.fills
    for i in range(first_fill, len(fills["qty"])):
        counterparty = fills["seller"][i] if fills["buyer"][i] == account.id else fills["buyer"][i]
        record.fills.append((counterparty, fills["qty"][i], fills["price"][i]))
    ex.liquidating = None
    thresholds.refresh(ex, account)
    if not record.closed and not record.actions and not record.clearance_fee:
        return None
    account.times_liquidated += 1
    record.insurance_delta = ex.ledger.balances[SystemAccount.INSURANCE_FUND] - fund_before
    ex.liquidations.append(record)
    return record


def resolve_deficits(ex: Exchange) -> None:
    """Cover the deficits of accounts left flat below zero by their own closing trades."""
    pending = sorted(ex.pending_deficits)
    ex.pending_deficits.clear()
    for account_id in pending:
        account = ex.accounts[account_id]
        balance = ex.ledger.balances[account_id]
        if account.position or balance >= 0:
            continue
        fund_before = ex.ledger.balances[SystemAccount.INSURANCE_FUND]
        record = LiquidationEvent(
            event_id=ex.next_event(),
            tick=ex.tick,
            round=0,
            account=account_id,
            side="none",
            qty=0,
            closed=0,
            partial=False,
            mark=ex.prices.mark,
            bankruptcy_price=0,
            deficit=-balance,
        )
        if not account.cross:
            account.isolated_margin = balance
        backstops.cover_deficit(ex, account, record)
        account.isolated_margin = 0
        record.insurance_delta = ex.ledger.balances[SystemAccount.INSURANCE_FUND] - fund_before
        ex.liquidations.append(record)
        thresholds.refresh(ex, account)


def run_rounds(ex: Exchange) -> int:
    """Liquidation rounds until nothing is liquidatable or the rulebook's round limit; the
    mark is recomputed between rounds, so liquidation fills can trigger more liquidations.
    Returns the number of liquidations."""
    if ex.pending_deficits:
        resolve_deficits(ex)
    count = 0
    ex.round_limit_hit = False
    for round_no in range(ex.rules.liquidation.max_rounds_per_tick):
        candidates = detect(ex)
        if not candidates:
            break
        for account_id in candidates:
            if liquidate(ex, ex.accounts[account_id], round_no) is not None:
                count += 1
        if ex.pending_deficits:
            resolve_deficits(ex)
        ex.prices.update(ex.book, ex.tick, sample=False)
    else:
        ex.round_limit_hit = True
    return count
