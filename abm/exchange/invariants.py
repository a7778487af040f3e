"""The exchange's invariants, checked by one function that tests run after every step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.exchange.ledger import FIRST_TRADER, SystemAccount
from abm.exchange.margin import liquidation_tick

if TYPE_CHECKING:
    from abm.exchange.exchange import Exchange


def check_invariants(ex: Exchange) -> None:
    """Raise AssertionError naming the first broken invariant.

    1. conservation: balances inside the system equal net external deposits, to the micro-unit;
    2. long open interest equals short open interest, and positions and cost bases equal the
       sums over live links;
    3. no flat trader below zero unless the rulebook allows trader debt; the insurance fund
       never below zero;
    4. each open position's liquidation threshold, its index entry and each account's
       open-order aggregates agree with a recomputation from scratch.
    """
    ex.ledger.check_conservation()
    ex.flush_thresholds()
    balances = ex.ledger.balances
    accounts = ex.accounts
    position = [0] * len(accounts)
    cost = [0] * len(accounts)
    seen: set[int] = set()
    for account in accounts:
        for link in account.links or ():
            if link.qty:
                if link.long == link.short:
                    raise AssertionError(f"link of account {link.long} with itself: {link}")
                if account.id not in (link.long, link.short):
                    raise AssertionError(f"account {account.id} queues a link not its own: {link}")
                if id(link) in seen:
                    continue
                seen.add(id(link))
                position[link.long] += link.qty
                cost[link.long] += link.qty * link.ref
                position[link.short] -= link.qty
                cost[link.short] -= link.qty * link.ref
    long_oi = sum(p for p in position if p > 0)
    short_oi = -sum(p for p in position if p < 0)
    if long_oi != short_oi:
        raise AssertionError(f"open interest unbalanced: long {long_oi} lots, short {short_oi}")
    if long_oi != ex.long_open_interest:
        raise AssertionError(
            f"open interest counter {ex.long_open_interest} lots, recomputed {long_oi}"
        )
    for account in accounts:
        if account.position != position[account.id] or account.cost != cost[account.id]:
            raise AssertionError(
                f"account {account.id}: position {account.position} / cost {account.cost} "
                f"disagree with its links ({position[account.id]} / {cost[account.id]})"
            )
        if (account.position > 0) != (account.id in ex.longs) or (account.position < 0) != (
            account.id in ex.shorts
        ):
            raise AssertionError(f"account {account.id}: open-accounts set out of date")
    check_group_totals(ex)
    check_liquidation_map(ex)
    debt_allowed = "trader_debt" in ex.rules.backstops
    for account in accounts[FIRST_TRADER:]:
        if not account.position and account.isolated_margin:
            raise AssertionError(
                f"flat account {account.id} still holds isolated margin {account.isolated_margin}"
            )
        if not account.position and balances[account.id] < 0 and not debt_allowed:
            raise AssertionError(
                f"flat trader {account.id} has a negative balance {balances[account.id]} and "
                "the rulebook allows no trader debt"
            )
    if balances[SystemAccount.INSURANCE_FUND] < 0:
        raise AssertionError(f"insurance fund below zero: {balances[SystemAccount.INSURANCE_FUND]}")
    entries = {(e[1], e[2]): -e[0] for e in ex.long_thresholds}
    entries.update({(e[1], e[2]): e[0] for e in ex.short_thresholds})
    for account in accounts:
        if account.position and account.liquidatable:
            expected = liquidation_tick(
                ex.brackets,
                ex.k,
                ex.collateral(account),
                account.position,
                account.cost,
                ex.liquidate_at_equality,
            )
            indexed = entries.get((account.id, account.liq_version))
            if account.liq_threshold != expected or indexed != expected:
                raise AssertionError(
                    f"account {account.id}: liquidation threshold {account.liq_threshold} "
                    f"(indexed {indexed}) but recomputed {expected}"
                )
        buy_qty = buy_value = sell_qty = sell_value = 0
        for order in account.orders.values():
            if ex.orders.get(order.id) is not order or order.qty <= 0:
                raise AssertionError(f"account {account.id}: stale order {order}")
            if not order.reduce_only:
                if order.side > 0:
                    buy_qty += order.qty
                    buy_value += order.qty * order.price
                else:
                    sell_qty += order.qty
                    sell_value += order.qty * order.price
        if (buy_qty, buy_value, sell_qty, sell_value) != (
            account.open_buy_qty,
            account.open_buy_value,
            account.open_sell_qty,
            account.open_sell_value,
        ):
            raise AssertionError(f"account {account.id}: open-order aggregates out of date")
    book_qty = sum(q for _, q in ex.book.levels(1)) + sum(q for _, q in ex.book.levels(-1))
    if book_qty != sum(o.qty for o in ex.orders.values()):
        raise AssertionError("order book levels disagree with the open orders")
    for levels in (ex.book.bids, ex.book.asks):
        for price, level in levels.items():
            if level.qty != sum(o.qty for o in level.orders) or level.dead != sum(
                1 for o in level.orders if not o.qty
            ):
                raise AssertionError(f"price level {price}: its totals disagree with its queue")


def check_group_totals(ex: Exchange) -> None:
    """Each group's running totals equal the sums over its accounts, and each account's group
    is the one the ledger credits."""
    sums = {name: [0, 0, 0] for name in ex.groups}
    for account in ex.accounts:
        group = account.group
        if ex.groups.get(group.name) is not group or ex.ledger.groups[account.id] is not group:
            raise AssertionError(f"account {account.id}: group {group.name!r} not the exchange's")
        total = sums[group.name]
        total[0] += ex.ledger.balances[account.id]
        total[1] += account.position
        total[2] += account.cost
    for name, group in ex.groups.items():
        if [group.balance, group.position, group.cost] != sums[name]:
            raise AssertionError(
                f"group {name!r}: totals balance {group.balance}, position {group.position}, "
                f"cost {group.cost} disagree with its accounts {sums[name]}"
            )


def check_liquidation_map(ex: Exchange) -> None:
    """The liquidation map holds each liquidatable open position, in the bin of its threshold,
    and nothing else. Call after :meth:`Exchange.flush_thresholds`."""
    expected: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
    for account in ex.accounts:
        threshold = account.liq_threshold
        if account.position and account.liquidatable and threshold is not None:
            bins = expected[0 if account.position > 0 else 1]
            entry = bins.setdefault(threshold // ex.map_bin_ticks, [0, 0])
            entry[0] += abs(account.position)
            entry[1] += abs(account.position) * threshold
    if expected != ex.map_bins:
        raise AssertionError("liquidation map disagrees with the open positions' thresholds")


def check_tick_end(ex: Exchange) -> None:
    """Raise AssertionError naming an account that ends a tick past its liquidation threshold
    at the mark: after the tick's last money movement (funding included) the liquidation rounds
    leave none, unless they stopped at the rulebook's ``max_rounds_per_tick`` (then the rest
    waits for the next tick, as venues liquidate on their next mark update). Exact, over the
    open accounts (a test's check, not the tick loop's)."""
    from abm.exchange.liquidation import is_liquidatable

    if ex.round_limit_hit:
        return
    for account_id in sorted(ex.open_accounts):
        account = ex.accounts[account_id]
        if is_liquidatable(ex, account):
            raise AssertionError(
                f"account {account_id} ends tick {ex.tick} past its liquidation threshold: "
                f"position {account.position} lots, equity {ex.equity(account_id)} micro-USDT "
                f"at mark {ex.prices.mark}, and the rounds did not stop at the round limit"
            )
