"""Order entry and matching: an order's checks, the price-time match against the book, one fill's
settlement (links, fees, isolated margin, the set of open accounts, thresholds) and cancels.

Functions over the exchange's state (:class:`abm.exchange.exchange.Exchange`), which keeps the
public methods as delegates. Resting orders, their account aggregates and the book change only
here (:func:`add_resting`, :func:`remove_resting`), so the aggregates the margin check reads
never drift from the book.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.exchange import liquidation, risk, thresholds
from abm.exchange.accounts import Account
from abm.exchange.book import BUY, SELL, Order
from abm.exchange.ledger import Cause, SystemAccount
from abm.exchange.positions import apply_fill
from abm.exchange.records import (
    FILL_LIQUIDATION,
    FILL_NORMAL,
    FILL_UNWIND,
    ORDER_KINDS,
)
from abm.exchange.results import OrderResult, Reject, whole
from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.exchange.exchange import Exchange

FILL_CAUSES = (
    Cause.TRADE_PNL,
    Cause.TRADE_PNL,
    Cause.ADL,
    Cause.BACKSTOP_TAKEOVER,
    Cause.TRADE_PNL,
)
"""The ledger cause of the link settlements a fill of each kind makes."""


def order_request(
    ex: Exchange, account_id: object, side: object, qty: object
) -> tuple[Account, int, int] | Reject:
    """The account, side and lots an order or stop is for, or why the request's basics are
    invalid."""
    account = ex.find_account(account_id)
    if account is None:
        return Reject.UNKNOWN_ACCOUNT
    direction = whole(side)
    if direction is None or direction not in (BUY, SELL):
        return Reject.INVALID_SIDE
    lots = valid_lots(ex, qty)
    if isinstance(lots, Reject):
        return lots
    return account, direction, lots


def valid_lots(ex: Exchange, qty: object) -> int | Reject:
    """An order's quantity as whole lots from 1 to the instrument's largest order, or why not."""
    lots = whole(qty)
    if lots is None or lots <= 0:
        return Reject.INVALID_QTY
    if lots > ex.instrument.max_order_lots:
        return Reject.QTY_ABOVE_MAX
    return lots


def valid_price(ex: Exchange, price: object) -> int | None:
    """A price as whole ticks within 1 to the filter's maximum, else None."""
    ticks = whole(price)
    if ticks is None or not 1 <= ticks <= ex.instrument.max_price_ticks:
        return None
    return ticks


def submit(
    ex: Exchange,
    account_id: object,
    side: object,
    qty: object,
    price: object = None,
    *,
    kind: object = "limit",
    reduce_only: object = False,
) -> OrderResult:
    """Submit an order. ``kind``: ``limit`` (GTC), ``post_only``, ``ioc`` or ``market``.

    Limit prices must lie in the price filter's band around the mark; a market order fills
    no further from the mark than the filter's market bound, or its ``price`` (a protection
    bound) when that is tighter. Every order, reduce-only included, passes the margin check
    at its worst fill prices (:func:`risk.check_order`). Returns what happened; a rejected
    order changes nothing.
    """
    request = order_request(ex, account_id, side, qty)
    if isinstance(request, Reject):
        return OrderResult(False, request)
    account, direction, lots = request
    if kind not in ORDER_KINDS:
        return OrderResult(False, Reject.INVALID_KIND)
    return submit_valid(ex, account, direction, lots, price, str(kind), bool(reduce_only))


def submit_valid(
    ex: Exchange,
    account: Account,
    direction: int,
    lots: int,
    price: object,
    kind: str,
    reduce_only: bool,
) -> OrderResult:
    """:func:`submit` once the account, side, lots and kind are known to be valid: the price
    checks, then :func:`place`."""
    if not ex.prices.mark:
        return OrderResult(False, Reject.NO_MARK_PRICE)
    limit = None
    if price is not None:
        limit = valid_price(ex, price)
        if limit is None:
            return OrderResult(False, Reject.INVALID_PRICE)
    if kind == "market":
        if lots > ex.instrument.max_market_lots:
            return OrderResult(False, Reject.QTY_ABOVE_MAX)
        limit = risk.market_limit(ex, direction, limit)
    elif limit is None:
        return OrderResult(False, Reject.INVALID_PRICE)
    else:
        low, high = risk.price_band(ex)
        if not low <= limit <= high:
            return OrderResult(False, Reject.PRICE_OUTSIDE_BAND)
    return place(ex, account, direction, lots, limit, kind, reduce_only)


def requote_ladder(
    ex: Exchange,
    account_id: object,
    bid_price: object,
    ask_price: object,
    bid_qty: object,
    ask_qty: object,
    distances: list[object],
) -> list[OrderResult]:
    """A market maker's ladder in one call: cancel every open order and stop of the account,
    then post level ``i``'s bid at ``bid_price - distances[i]`` and its ask at
    ``ask_price + distances[i]`` (ticks), bid before ask, level by level, each post-only.

    The ladder's top slides behind the book, as post-only orders may on Deribit and Kraken: a
    bid at or above the best ask left after the cancel (another trader's) starts one tick below
    it, an ask one tick above the best bid, so that a move does not leave the side empty of
    refused quotes. Returns the cancel's result, then one result per quote in that order: the
    same order ids, checks and results as :func:`cancel_all` followed by one :func:`submit` per
    quote at the slid prices, without a return to the caller per order. A price or distance
    that is not a whole number makes its quote's price invalid.
    """
    account = ex.find_account(account_id)
    if account is None:
        return [OrderResult(False, Reject.UNKNOWN_ACCOUNT) for _ in range(1 + 2 * len(distances))]
    results = [OrderResult(True, cancelled=cancel_orders(ex, account))]
    bid_lots, ask_lots = valid_lots(ex, bid_qty), valid_lots(ex, ask_qty)
    bid, ask = whole(bid_price), whole(ask_price)
    best_ask, best_bid = ex.book.best_ask(), ex.book.best_bid()
    if bid is not None:
        bid = max(1, bid if best_ask is None else min(bid, best_ask - 1))
    if ask is not None and best_bid is not None:
        ask = max(ask, best_bid + 1)
    for distance in distances:
        step = whole(distance)
        results.append(
            post_quote(
                ex, account, BUY, bid_lots, None if bid is None or step is None else bid - step
            )
        )
        results.append(
            post_quote(
                ex, account, SELL, ask_lots, None if ask is None or step is None else ask + step
            )
        )
    return results


def post_quote(
    ex: Exchange, account: Account, side: int, lots: int | Reject, price: int | None
) -> OrderResult:
    """One post-only quote of a ladder (:func:`requote_ladder`); a None price is refused as
    :func:`submit_valid` refuses a limit order without one."""
    if isinstance(lots, Reject):
        return OrderResult(False, lots)
    return submit_valid(ex, account, side, lots, price, "post_only", False)


def place(
    ex: Exchange, account: Account, side: int, qty: int, price: int, kind: str, reduce_only: bool
) -> OrderResult:
    """Margin-check, match and rest an order whose basics are valid."""
    if reduce_only:
        closable = -account.position if side == BUY else account.position
        if closable <= 0:
            return OrderResult(False, Reject.REDUCE_ONLY_WOULD_INCREASE)
        qty = min(qty, closable)
    crosses = ex.book.crosses(side, price)
    if crosses and kind == "post_only":
        return OrderResult(False, Reject.POST_ONLY_WOULD_CROSS)
    reject = risk.check_order(ex, account, side, qty, price, kind, crosses)
    if reject is not None:
        return OrderResult(False, reject)
    ex.last_order_id += 1
    order_id = ex.last_order_id
    filled = 0
    if crosses:
        filled = match(ex, account, side, qty, price, ex.next_event(), FILL_NORMAL, True)
        if ex.pending_deficits:
            liquidation.resolve_deficits(ex)
    rest = qty - filled
    if rest and kind in ("limit", "post_only"):
        add_resting(ex, Order(order_id, account.id, side, price, rest, reduce_only), account)
        return OrderResult(True, None, order_id, filled, rest)
    return OrderResult(True, None, order_id, filled, 0)


def add_resting(ex: Exchange, order: Order, account: Account) -> None:
    ex.book.add(order)
    ex.orders[order.id] = order
    account.orders[order.id] = order
    if not order.reduce_only:
        if order.side == BUY:
            account.open_buy_qty += order.qty
            account.open_buy_value += order.qty * order.price
        else:
            account.open_sell_qty += order.qty
            account.open_sell_value += order.qty * order.price


def remove_resting(ex: Exchange, order: Order, qty: int) -> None:
    """Take ``qty`` lots off a resting order's account aggregates and the book."""
    account = ex.accounts[order.account]
    if not order.reduce_only:
        if order.side == BUY:
            account.open_buy_qty -= qty
            account.open_buy_value -= qty * order.price
        else:
            account.open_sell_qty -= qty
            account.open_sell_value -= qty * order.price
    ex.book.remove_qty(order, qty)
    if order.qty == 0:
        del ex.orders[order.id]
        del account.orders[order.id]


def cancel(ex: Exchange, account_id: object, order_id: object) -> OrderResult:
    """Cancel an open order or stop of the account."""
    account = ex.find_account(account_id)
    if account is None:
        return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
    number = whole(order_id)
    if number is None:
        return OrderResult(False, Reject.UNKNOWN_ORDER)
    order = account.orders.get(number)
    if order is not None:
        remove_resting(ex, order, order.qty)
        return OrderResult(True, None, number)
    if number in account.stops:
        del account.stops[number]
        del ex.stops[number]
        return OrderResult(True, None, number)
    return OrderResult(False, Reject.UNKNOWN_ORDER)


def cancel_all(ex: Exchange, account_id: object) -> OrderResult:
    """Cancel every open order and stop of the account; ``cancelled`` says how many."""
    account = ex.find_account(account_id)
    if account is None:
        return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
    return OrderResult(True, cancelled=cancel_orders(ex, account))


def cancel_orders(ex: Exchange, account: Account) -> int:
    """Cancel every open order and stop of ``account``; returns how many (engine use)."""
    count = len(account.orders) + len(account.stops)
    for order in list(account.orders.values()):
        remove_resting(ex, order, order.qty)
    for order_id in list(account.stops):
        del ex.stops[order_id]
    account.stops.clear()
    return count


def match(
    ex: Exchange,
    taker: Account,
    side: int,
    qty: int,
    limit: int,
    event: int,
    kind: int,
    charge_taker: bool,
) -> int:
    """Trade up to ``qty`` lots against the book at prices no worse than ``limit``.

    Resting orders of the taker itself are cancelled (self-trade prevention), as are
    reduce-only makers that would no longer reduce. Returns the lots filled.
    """
    book = ex.book
    opposite = -side
    filled = 0
    while filled < qty:
        maker_order = book.front(opposite)
        if maker_order is None:
            break
        price = maker_order.price
        if (side == BUY and price > limit) or (side == SELL and price < limit):
            break
        maker = ex.accounts[maker_order.account]
        if maker is taker:
            remove_resting(ex, maker_order, maker_order.qty)
            continue
        lots = min(qty - filled, maker_order.qty)
        if maker_order.reduce_only:
            closable = maker.position if maker_order.side == SELL else -maker.position
            if closable <= 0:
                remove_resting(ex, maker_order, maker_order.qty)
                continue
            lots = min(lots, closable)
        remove_resting(ex, maker_order, lots)
        if side == BUY:
            execute(ex, taker, maker, lots, price, event, kind, side, charge_taker)
        else:
            execute(ex, maker, taker, lots, price, event, kind, side, charge_taker)
        filled += lots
    return filled


def execute(
    ex: Exchange,
    buyer: Account,
    seller: Account,
    qty: int,
    price: int,
    event: int,
    kind: int,
    aggressor: int,
    charge_fees: bool,
) -> None:
    """One fill: links and their settlement, fees, margin allocation, thresholds, records."""
    cause = FILL_CAUSES[kind]
    buyer_before, seller_before = buyer.position, seller.position
    apply_fill(
        ex.accounts, ex.ledger, ex.k, buyer, seller, qty, price, cause, event, ex.link_matching
    )
    if kind in (FILL_NORMAL, FILL_LIQUIDATION, FILL_UNWIND):
        value = qty * price * ex.k
        taker, maker = (buyer, seller) if aggressor == BUY else (seller, buyer)
        if charge_fees:
            charge_fee(ex, taker, -(-value * taker.taker_fee_ppm // MICRO), event)
        if maker.maker_fee_ppm >= 0:
            charge_fee(ex, maker, -(-value * maker.maker_fee_ppm // MICRO), event)
        else:
            rebate = value * -maker.maker_fee_ppm // MICRO
            ex.ledger.transfer(SystemAccount.EXCHANGE, maker.id, rebate, Cause.MAKER_REBATE, event)
        ex.prices.last = price
    after_fill(ex, buyer, buyer_before, qty, price)
    after_fill(ex, seller, seller_before, qty, price)
    ticks, events, buyers, sellers, lots, prices, aggressors, kinds = ex.fill_columns
    ticks.append(ex.tick)
    events.append(event)
    buyers.append(buyer.id)
    sellers.append(seller.id)
    lots.append(qty)
    prices.append(price)
    aggressors.append(aggressor)
    kinds.append(kind)


def charge_fee(ex: Exchange, account: Account, fee: int, event: int) -> None:
    """Fees come from free balance first, then from isolated margin."""
    if not fee:
        return
    ex.ledger.transfer(account.id, SystemAccount.EXCHANGE, fee, Cause.FEE, event)
    if not account.cross:
        free = ex.ledger.balances[account.id] + fee - account.isolated_margin
        from_margin = max(0, fee - max(0, free))
        account.isolated_margin -= from_margin


def after_fill(ex: Exchange, account: Account, before: int, qty: int, price: int) -> None:
    """Isolated-margin allocation and release, the set of open accounts, thresholds.

    Outside liquidation, a reduced isolated position releases margin pro rata, a closed one
    all of it; a loss beyond the margin on a trader's own close falls on the free balance,
    and only a flat account below zero goes to the deficit waterfall. During its
    liquidation an account's margin stays with the position until :func:`liquidation.settle`.
    """
    after = account.position
    ex.long_open_interest += max(after, 0) - max(before, 0)
    liquidating = account.id == ex.liquidating
    if not account.cross and not liquidating:
        opened = abs(after) - abs(before)
        if after == 0 or (before and (after > 0) != (before > 0)):
            account.isolated_margin = 0
            opened = abs(after)
        elif opened < 0 and account.isolated_margin > 0:
            account.isolated_margin = account.isolated_margin * abs(after) // abs(before)
        if opened > 0:
            need = -(-opened * price * ex.k // account.leverage)
            free = ex.ledger.balances[account.id] - account.isolated_margin
            account.isolated_margin += max(0, min(need, free))
    if (
        after == 0
        and account.liquidatable
        and not liquidating
        and ex.ledger.balances[account.id] < 0
    ):
        ex.pending_deficits.add(account.id)
    if after > 0:
        ex.longs.add(account.id)
        ex.shorts.discard(account.id)
    elif after < 0:
        ex.shorts.add(account.id)
        ex.longs.discard(account.id)
    else:
        ex.longs.discard(account.id)
        ex.shorts.discard(account.id)
    thresholds.refresh(ex, account)
