"""Pre-trade risk: the price filter, size limits and margin check every caller's order passes.

Orders the engine sends itself (liquidation, insurance unwind, ADL, vault takeover) skip these
checks; every order through :meth:`Exchange.submit` passes them, reduce-only orders and the
backstop vault's included. An order is judged at the worst prices it can fill at: what it would
take from the book now (skipping orders that might not fill, so never better than the real
fills), and its limit price for the rest. Binance charges the loss of an order's price against
the mark ("open loss") as part of the cost of opening; here the open loss counts for every order,
so no order can lose more than the account's equity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.exchange.book import BUY
from abm.exchange.results import Reject
from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from collections.abc import Iterable

    from abm.exchange.accounts import Account
    from abm.exchange.exchange import Exchange


def price_band(ex: Exchange) -> tuple[int, int]:
    """Lowest and highest limit price (ticks) the price filter allows at the current mark
    (kept until the mark changes)."""
    mark = ex.prices.mark
    cached = ex.band_cache
    if cached[0] == mark:
        return cached[1], cached[2]
    low = max(1, -(-mark * (MICRO - ex.band_down_ppm) // MICRO))
    high = min(ex.instrument.max_price_ticks, mark * (MICRO + ex.band_up_ppm) // MICRO)
    ex.band_cache = (mark, low, high)
    return low, high


def market_limit(ex: Exchange, side: int, protection: int | None) -> int:
    """The worst price a market order may fill at: the market take bound around the mark,
    or the caller's protection price when that is tighter."""
    mark = ex.prices.mark
    if side == BUY:
        bound = min(ex.instrument.max_price_ticks, mark * (MICRO + ex.take_bound_ppm) // MICRO)
        return bound if protection is None else min(bound, protection)
    bound = max(1, -(-mark * (MICRO - ex.take_bound_ppm) // MICRO))
    return bound if protection is None else max(bound, protection)


def sweep(ex: Exchange, account: Account, side: int, qty: int, limit: int) -> tuple[int, int]:
    """Lots and value (lots x ticks) an order would take from the book now within ``limit``.

    The account's own orders (cancelled by self-trade prevention) and reduce-only orders (which
    may not fill) are skipped, so the estimate never fills more, or at better prices, than
    matching does.
    """
    book = ex.book
    prices: Iterable[int]
    if side == BUY:
        prices, levels = book.ask_prices, book.asks
    else:
        prices, levels = reversed(book.bid_prices), book.bids
    taken = value = 0
    for price in prices:
        if taken >= qty or (side == BUY and price > limit) or (side != BUY and price < limit):
            break
        for order in levels[price].orders:
            if not order.qty or order.account == account.id or order.reduce_only:
                continue
            lots = min(qty - taken, order.qty)
            taken += lots
            value += lots * price
            if taken >= qty:
                break
    return taken, value


def check_order(
    ex: Exchange, account: Account, side: int, qty: int, limit: int, kind: str, crosses: bool
) -> Reject | None:
    """Why the order must be refused, or None: position limit, leverage cap, and margin for
    the order at its worst fill prices.

    An order that may increase exposure (the position plus every open order on its side) needs
    initial margin on the resulting exposure plus its open loss and fee; an order that can only
    reduce needs the account's equity to cover its open loss and fee. ``crosses``: whether the
    order would trade on arrival (one that would not takes nothing from the book, so the
    sweep is skipped).
    """
    k = ex.k
    mark = ex.prices.mark
    taken, value = sweep(ex, account, side, qty, limit) if crosses else (0, 0)
    value += (qty - taken) * limit
    # Written so that no product has a negative or large operand where a small positive one
    # does: mypyc multiplies small non-negative integers in machine words and sends the rest
    # through Python's long arithmetic (the same results, slower).
    above_mark = value - qty * mark
    open_loss = max(0, above_mark if side == BUY else -above_mark) * k
    fee_ppm = max(0, max(account.maker_fee_ppm, account.taker_fee_ppm))
    fee = (value * (k * fee_ppm) + MICRO - 1) // MICRO
    balance = ex.ledger.balances[account.id]
    upnl = times(times(account.position, mark) - account.cost, k)
    if side == BUY:
        exposure = account.position + account.open_buy_qty + qty
    else:
        exposure = account.open_sell_qty + qty - account.position
    if exposure <= 0:
        if balance + upnl - open_loss - fee < 0:
            return Reject.LOSS_BEYOND_EQUITY
        return None
    if exposure > ex.instrument.max_position_lots:
        return Reject.POSITION_ABOVE_MAX
    fills_now = kind in ("market", "ioc")
    value_price = max(mark, -(-value // qty) if fills_now else limit)
    if exposure * (value_price * k) > ex.brackets.notional_cap_for(account.leverage):
        return Reject.LEVERAGE_ABOVE_CAP
    buy_value = account.open_buy_value + (qty * value_price if side == BUY else 0)
    sell_value = account.open_sell_value + (qty * value_price if side != BUY else 0)
    budget = uncommitted(ex, account, upnl) - open_loss - fee
    if budget >= requirement(ex, account, max(buy_value, sell_value)):
        return None
    return Reject.INSUFFICIENT_MARGIN


def times(signed: int, factor: int) -> int:
    """``signed x factor`` for ``factor >= 0``, multiplying magnitudes: the compiled core
    multiplies small non-negative integers in machine words and sends a negative operand
    through Python's long arithmetic (the same result, slower)."""
    return signed * factor if signed >= 0 else -(-signed * factor)


def uncommitted(ex: Exchange, account: Account, upnl: int) -> int:
    """Money the account can commit, before initial margin: in cross mode the balance less any
    unrealized loss; in isolated mode the free balance less any loss of the position beyond its
    margin."""
    balance = ex.ledger.balances[account.id]
    if account.cross:
        return balance + min(0, upnl)
    margin = account.isolated_margin
    return balance - max(0, margin) + min(0, margin + upnl)


def requirement(ex: Exchange, account: Account, orders_value: int) -> int:
    """Initial margin (micro-units, rounded up) on the open orders' value (lots x ticks) and, in
    cross mode, on the position at the mark; an isolated position's margin is already set
    aside."""
    needed = orders_value * ex.k
    if account.cross:
        needed += abs(account.position) * max(ex.prices.mark, 1) * ex.k
    return -(-needed // account.leverage)


def available(ex: Exchange, account: Account) -> int:
    """What the account could withdraw: its balance less the margin of its position and orders
    and any loss of the position beyond that margin at the mark, never below zero. Nothing
    withdrawn this way can leave a deficit for others to cover."""
    upnl = (account.position * max(ex.prices.mark, 1) - account.cost) * ex.k
    orders_value = max(account.open_buy_value, account.open_sell_value)
    return max(0, uncommitted(ex, account, upnl) - requirement(ex, account, orders_value))
