"""The exchange: accounts, orders, fills, prices and funding for one linear BTC perpetual.

Every amount inside is an integer (micro-USDT, price ticks, quantity lots). Orders that cannot be
accepted come back as an :class:`OrderResult` with a :class:`Reject` reason and leave no trace.
A tick is driven from outside: :meth:`Exchange.begin_tick` with the index, orders, then
:meth:`Exchange.end_tick` (mark and funding premium, stop triggers, liquidation rounds, funding).
"""

from __future__ import annotations

import heapq
from array import array

import numpy as np

from abm.config import MICRO, Rulebook
from abm.exchange import liquidation, risk
from abm.exchange.accounts import SYSTEM_GROUP, Account, AccountGroup
from abm.exchange.book import BUY, SELL, Order, OrderBook
from abm.exchange.instrument import MAX_TOTAL_DEPOSITS, MONEY_BOUND, Instrument
from abm.exchange.ledger import FIRST_TRADER, Cause, Ledger, SystemAccount
from abm.exchange.margin import Brackets, liquidation_tick
from abm.exchange.positions import apply_fill
from abm.exchange.pricing import PriceFeed
from abm.exchange.results import (
    LiquidationMap,
    OrderResult,
    Reject,
    UnknownAccountError,
    whole,
)
from abm.exchange.stops import StopBook, StopOrder

__all__ = ["Exchange", "OrderResult", "Reject", "UnknownAccountError"]

PPB = 1_000_000_000


ORDER_KINDS = ("limit", "market", "ioc", "post_only")
FILL_NORMAL, FILL_LIQUIDATION, FILL_ADL, FILL_TAKEOVER, FILL_UNWIND = range(5)
FILL_CAUSES = (
    Cause.TRADE_PNL,
    Cause.TRADE_PNL,
    Cause.ADL,
    Cause.BACKSTOP_TAKEOVER,
    Cause.TRADE_PNL,
)
"""The ledger cause of the link settlements a fill of each kind makes."""


class Exchange:
    """One shared margin and liquidation engine; see DESIGN sections 3 to 5."""

    def __init__(self, rulebook: Rulebook, seed: int | np.random.SeedSequence = 0) -> None:
        self.rules = rulebook
        self.instrument = Instrument.from_rulebook(rulebook)
        self.k = self.instrument.value_per_tick_lot
        self.brackets = Brackets(rulebook.brackets)
        self.max_leverage = rulebook.max_leverage
        self.fee_tiers = {
            "standard": (round(rulebook.maker_fee * MICRO), round(rulebook.taker_fee * MICRO)),
            "market_maker": (
                round(rulebook.market_maker_fees.maker_fee * MICRO),
                round(rulebook.market_maker_fees.taker_fee * MICRO),
            ),
        }
        band = rulebook.price_filter
        self.band_up_ppm = round(band.band_up * MICRO)
        self.band_down_ppm = round(band.band_down * MICRO)
        self.take_bound_ppm = round(band.market_take_bound * MICRO)
        self.band_cache = (0, 0, 0)
        self.liquidate_at_equality = rulebook.liquidation.liquidate_at_equality
        self.rng = np.random.default_rng(seed)
        system = AccountGroup(SYSTEM_GROUP)
        self.groups: dict[str, AccountGroup] = {SYSTEM_GROUP: system}
        """Accounts by group (a population), with running totals: :meth:`equity_by_group`."""
        self.ledger = Ledger(system)
        self.accounts: list[Account] = [
            Account(i, system, cross=True, leverage=1, liquidatable=False)
            for i in range(FIRST_TRADER)
        ]
        for system_account in self.accounts:
            system_account.maker_fee_ppm, system_account.taker_fee_ppm = self.fee_tiers["standard"]
        self.book = OrderBook()
        self.orders: dict[int, Order] = {}
        self.stop_book = StopBook()
        self.stops: dict[int, StopOrder] = self.stop_book.orders
        self.deposited: list[int] = [0] * FIRST_TRADER
        self.longs: set[int] = set()
        self.shorts: set[int] = set()
        self.long_open_interest = 0
        self.long_thresholds: list[tuple[int, int, int]] = []
        self.short_thresholds: list[tuple[int, int, int]] = []
        self.pending_deficits: set[int] = set()
        self.round_limit_hit = False
        """Whether the last liquidation rounds stopped at the rulebook's max_rounds_per_tick
        with accounts still past their threshold (they wait for the next tick)."""
        self.stale_thresholds: set[int] = set()
        self.map_bin_ticks = 0
        """Width of a liquidation-map bin: 1 bps of the first index (set at the first tick)."""
        self.map_bins: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        """Per liquidation-threshold bin, longs then shorts: ``[lots, lots x threshold]`` of the
        open positions in it."""
        self.adl_queue: dict[tuple[int, int], list[int]] = {}
        self.liquidating: int | None = None
        self.tick = 0
        self._event = 0
        self._order_id = 0
        self.prices = PriceFeed(rulebook, self.k)
        self.fills = {
            name: array("q")
            for name in ("tick", "event", "buyer", "seller", "qty", "price", "aggressor", "kind")
        }
        self._fill_columns = tuple(self.fills.values())
        self.liquidations: list[liquidation.LiquidationEvent] = []
        self.funding_payments: list[tuple[int, int, int]] = []
        self.stop_triggers = 0
        seed_event = self.next_event()
        for account, amount in (
            (SystemAccount.INSURANCE_FUND, rulebook.insurance_fund_seed),
            (SystemAccount.BACKSTOP_VAULT, rulebook.backstop_vault_seed),
        ):
            micro = Instrument.micro(amount)
            if micro > 0:
                if self._deposit_refusal(account, micro) is not None:
                    raise ValueError(
                        f"{account.name.lower()} seed {amount} USDT is above the largest balance "
                        f"the exchange holds ({MAX_TOTAL_DEPOSITS // MICRO:,} USDT)"
                    )
                self.ledger.deposit(account, micro, seed_event)
                self.deposited[account] = micro

    # ----------------------------------------------------------------- accounts and money

    def next_event(self) -> int:
        """A fresh event id; every transfer carries the id of the event that caused it."""
        self._event += 1
        return self._event

    def open_account(
        self,
        deposit: object = 0,
        *,
        leverage: object = 10,
        cross: bool | None = None,
        fee_tier: str = "standard",
        group: str = "traders",
    ) -> int:
        """Open a trader account with ``deposit`` micro-units; returns its id.

        ``fee_tier`` is ``standard`` (the rulebook's fees) or ``market_maker`` (its
        ``market_maker_fees``); ``group`` names the set of accounts (a population) whose totals
        :meth:`equity_by_group` reports. Raises ValueError, and opens nothing, for a leverage
        outside 1 to the cap, an unknown fee tier, the system accounts' group, or a deposit that
        is not a whole number of micro-units within the exchange's bounds."""
        if fee_tier not in self.fee_tiers:
            raise ValueError(f"fee_tier {fee_tier!r}: allowed: {', '.join(self.fee_tiers)}")
        if not isinstance(group, str) or group == SYSTEM_GROUP:
            raise ValueError(f"group {group!r}: a name other than {SYSTEM_GROUP!r}")
        checked = whole(leverage)
        if checked is None or not 1 <= checked <= self.max_leverage:
            raise ValueError(
                f"leverage {leverage} is outside the allowed range 1 to {self.max_leverage:g}"
            )
        amount = whole(deposit)
        if amount is None or amount < 0:
            raise ValueError(
                f"deposit must be a non-negative whole number of micro-units, got {deposit!r}"
            )
        if amount and self._deposit_refusal(None, amount) is not None:
            raise ValueError(
                f"deposit {amount} micro-units is above the largest balance the exchange holds "
                f"({MAX_TOTAL_DEPOSITS} micro-units in all)"
            )
        totals = self.groups.get(group)
        if totals is None:
            totals = self.groups[group] = AccountGroup(group)
        account_id = self.ledger.open_account(totals)
        self.deposited.append(0)
        mode = self.rules.margin_mode == "cross" if cross is None else cross
        account = Account(account_id, totals, cross=mode, leverage=checked, liquidatable=True)
        account.maker_fee_ppm, account.taker_fee_ppm = self.fee_tiers[fee_tier]
        self.accounts.append(account)
        if amount:
            self.ledger.deposit(account_id, amount, self.next_event())
            self.deposited[account_id] = amount
        return account_id

    def _account(self, account_id: object) -> Account | None:
        """The account a caller may act for: a trader, or the backstop vault; else None."""
        number = whole(account_id)
        if number is None:
            return None
        if FIRST_TRADER <= number < len(self.accounts) or number == SystemAccount.BACKSTOP_VAULT:
            return self.accounts[number]
        return None

    def _view(self, account_id: object) -> Account:
        """The account a view reads (system accounts included); raises for an unknown id."""
        number = whole(account_id)
        if number is None or not 0 <= number < len(self.accounts):
            raise UnknownAccountError(
                f"unknown account {account_id!r}: accounts are 0 to {len(self.accounts) - 1}"
            )
        return self.accounts[number]

    def _deposit_refusal(self, account_id: int | None, amount: int) -> Reject | None:
        """Whether a deposit would take the system past the bound that keeps every sum of
        money inside int64 (None: it may go ahead)."""
        if self.ledger.net_deposits + amount > MAX_TOTAL_DEPOSITS:
            return Reject.AMOUNT_ABOVE_MAX
        if account_id is not None and self.ledger.balances[account_id] + amount >= MONEY_BOUND:
            return Reject.AMOUNT_ABOVE_MAX
        return None

    def deposit(self, account_id: object, amount: object) -> OrderResult:
        """Add money from outside; repays trader debt first by construction."""
        return self._move_external(account_id, amount, withdrawal=False)

    def withdraw(self, account_id: object, amount: object) -> OrderResult:
        """Take money out, at most what the account has free of margin and orders."""
        return self._move_external(account_id, amount, withdrawal=True)

    def _move_external(
        self, account_id: object, requested: object, withdrawal: bool
    ) -> OrderResult:
        account = self._account(account_id)
        if account is None:
            return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
        amount = whole(requested)
        if amount is None or amount <= 0:
            return OrderResult(False, Reject.INVALID_AMOUNT)
        if withdrawal:
            if amount > risk.available(self, account):
                return OrderResult(False, Reject.INSUFFICIENT_BALANCE)
            self.ledger.withdraw(account.id, amount, self.next_event())
            self.deposited[account.id] -= amount
        else:
            reject = self._deposit_refusal(account.id, amount)
            if reject is not None:
                return OrderResult(False, reject)
            self.ledger.deposit(account.id, amount, self.next_event())
            self.deposited[account.id] += amount
        self._refresh(account)
        return OrderResult(True)

    def set_leverage(self, account_id: object, leverage: object) -> OrderResult:
        """Change an account's leverage; allowed only while flat with no open orders."""
        account = self._account(account_id)
        if account is None:
            return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
        wanted = whole(leverage)
        if wanted is None or not 1 <= wanted <= self.max_leverage:
            return OrderResult(False, Reject.INVALID_LEVERAGE)
        if account.position or account.orders:
            return OrderResult(False, Reject.HAS_POSITION)
        account.leverage = wanted
        return OrderResult(True)

    def balance(self, account_id: object) -> int:
        """Ledger (wallet) balance in micro-units."""
        return self.ledger.balances[self._view(account_id).id]

    def unrealized_pnl(self, account_id: object, price: object = None) -> int:
        """Unrealized PnL at ``price`` (default: mark), micro-units."""
        a = self._view(account_id)
        p = self._price_or_mark(price)
        return (a.position * p - a.cost) * self.k

    def _price_or_mark(self, price: object) -> int:
        """A caller's price in whole ticks, or the mark for None; ValueError otherwise."""
        if price is None:
            return self.prices.mark
        ticks = whole(price)
        if ticks is None:
            raise ValueError(f"price {price!r} must be a whole number of ticks")
        return ticks

    def collateral(self, account: Account) -> int:
        """Money backing the position: isolated margin, or the whole balance in cross mode."""
        return self.ledger.balances[account.id] if account.cross else account.isolated_margin

    def equity(self, account_id: object, price: object = None) -> int:
        """Balance plus unrealized PnL, micro-units."""
        return self.balance(account_id) + self.unrealized_pnl(account_id, price)

    def maintenance_margin(self, account_id: object, price: object = None) -> int:
        """Maintenance margin of the position at ``price`` (default: mark), micro-units."""
        a = self._view(account_id)
        p = self._price_or_mark(price)
        return self.brackets.maintenance_margin(abs(a.position) * p * self.k)

    def available(self, account_id: object) -> int:
        """What could be withdrawn: balance not needed as margin for the position or orders,
        less any loss of the position beyond its margin (see :func:`risk.available`)."""
        return risk.available(self, self._view(account_id))

    # ----------------------------------------------------------------- orders

    def _order_request(
        self, account_id: object, side: object, qty: object
    ) -> tuple[Account, int, int] | Reject:
        """The account, side and lots an order or stop is for, or why the request's basics are
        invalid."""
        account = self._account(account_id)
        if account is None:
            return Reject.UNKNOWN_ACCOUNT
        direction = whole(side)
        if direction is None or direction not in (BUY, SELL):
            return Reject.INVALID_SIDE
        lots = whole(qty)
        if lots is None or lots <= 0:
            return Reject.INVALID_QTY
        if lots > self.instrument.max_order_lots:
            return Reject.QTY_ABOVE_MAX
        return account, direction, lots

    def _price(self, price: object) -> int | None:
        """A price as whole ticks within 1 to the filter's maximum, else None."""
        ticks = whole(price)
        if ticks is None or not 1 <= ticks <= self.instrument.max_price_ticks:
            return None
        return ticks

    def submit(
        self,
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
        request = self._order_request(account_id, side, qty)
        if isinstance(request, Reject):
            return OrderResult(False, request)
        account, direction, lots = request
        if kind not in ORDER_KINDS:
            return OrderResult(False, Reject.INVALID_KIND)
        if not self.prices.mark:
            return OrderResult(False, Reject.NO_MARK_PRICE)
        limit = None
        if price is not None:
            limit = self._price(price)
            if limit is None:
                return OrderResult(False, Reject.INVALID_PRICE)
        if kind == "market":
            if lots > self.instrument.max_market_lots:
                return OrderResult(False, Reject.QTY_ABOVE_MAX)
            limit = risk.market_limit(self, direction, limit)
        elif limit is None:
            return OrderResult(False, Reject.INVALID_PRICE)
        else:
            low, high = risk.price_band(self)
            if not low <= limit <= high:
                return OrderResult(False, Reject.PRICE_OUTSIDE_BAND)
        return self._place(account, direction, lots, limit, str(kind), bool(reduce_only))

    def _place(
        self, account: Account, side: int, qty: int, price: int, kind: str, reduce_only: bool
    ) -> OrderResult:
        """Margin-check, match and rest an order whose basics are valid."""
        if reduce_only:
            closable = -account.position if side == BUY else account.position
            if closable <= 0:
                return OrderResult(False, Reject.REDUCE_ONLY_WOULD_INCREASE)
            qty = min(qty, closable)
        crosses = self.book.crosses(side, price)
        if crosses and kind == "post_only":
            return OrderResult(False, Reject.POST_ONLY_WOULD_CROSS)
        reject = risk.check_order(self, account, side, qty, price, kind)
        if reject is not None:
            return OrderResult(False, reject)
        self._order_id += 1
        order_id = self._order_id
        filled = 0
        if crosses:
            filled = self.match(account, side, qty, price, self.next_event(), FILL_NORMAL, True)
            if self.pending_deficits:
                liquidation.resolve_deficits(self)
        rest = qty - filled
        if rest and kind in ("limit", "post_only"):
            self._rest(Order(order_id, account.id, side, price, rest, reduce_only), account)
            return OrderResult(True, None, order_id, filled, rest)
        return OrderResult(True, None, order_id, filled, 0)

    def _rest(self, order: Order, account: Account) -> None:
        self.book.add(order)
        self.orders[order.id] = order
        account.orders[order.id] = order
        if not order.reduce_only:
            if order.side == BUY:
                account.open_buy_qty += order.qty
                account.open_buy_value += order.qty * order.price
            else:
                account.open_sell_qty += order.qty
                account.open_sell_value += order.qty * order.price

    def _unrest(self, order: Order, qty: int) -> None:
        """Take ``qty`` lots off a resting order's account aggregates and the book."""
        account = self.accounts[order.account]
        if not order.reduce_only:
            if order.side == BUY:
                account.open_buy_qty -= qty
                account.open_buy_value -= qty * order.price
            else:
                account.open_sell_qty -= qty
                account.open_sell_value -= qty * order.price
        self.book.remove_qty(order, qty)
        if order.qty == 0:
            del self.orders[order.id]
            del account.orders[order.id]

    def cancel(self, account_id: object, order_id: object) -> OrderResult:
        """Cancel an open order or stop of the account."""
        account = self._account(account_id)
        if account is None:
            return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
        number = whole(order_id)
        if number is None:
            return OrderResult(False, Reject.UNKNOWN_ORDER)
        order = account.orders.get(number)
        if order is not None:
            self._unrest(order, order.qty)
            return OrderResult(True, None, number)
        if number in account.stops:
            del account.stops[number]
            del self.stops[number]
            return OrderResult(True, None, number)
        return OrderResult(False, Reject.UNKNOWN_ORDER)

    def cancel_all(self, account_id: object) -> OrderResult:
        """Cancel every open order and stop of the account; ``cancelled`` says how many."""
        account = self._account(account_id)
        if account is None:
            return OrderResult(False, Reject.UNKNOWN_ACCOUNT)
        return OrderResult(True, cancelled=self.cancel_orders(account))

    def cancel_orders(self, account: Account) -> int:
        """Cancel every open order and stop of ``account``; returns how many (engine use)."""
        count = len(account.orders) + len(account.stops)
        for order in list(account.orders.values()):
            self._unrest(order, order.qty)
        for order_id in list(account.stops):
            del self.stops[order_id]
        account.stops.clear()
        return count

    def match(
        self,
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
        book = self.book
        opposite = -side
        filled = 0
        while filled < qty:
            maker_order = book.front(opposite)
            if maker_order is None:
                break
            price = maker_order.price
            if (side == BUY and price > limit) or (side == SELL and price < limit):
                break
            maker = self.accounts[maker_order.account]
            if maker is taker:
                self._unrest(maker_order, maker_order.qty)
                continue
            lots = min(qty - filled, maker_order.qty)
            if maker_order.reduce_only:
                closable = maker.position if maker_order.side == SELL else -maker.position
                if closable <= 0:
                    self._unrest(maker_order, maker_order.qty)
                    continue
                lots = min(lots, closable)
            self._unrest(maker_order, lots)
            if side == BUY:
                self.execute(taker, maker, lots, price, event, kind, side, charge_taker)
            else:
                self.execute(maker, taker, lots, price, event, kind, side, charge_taker)
            filled += lots
        return filled

    def execute(
        self,
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
        apply_fill(self.accounts, self.ledger, self.k, buyer, seller, qty, price, cause, event)
        if kind in (FILL_NORMAL, FILL_LIQUIDATION, FILL_UNWIND):
            value = qty * price * self.k
            taker, maker = (buyer, seller) if aggressor == BUY else (seller, buyer)
            if charge_fees:
                self._charge_fee(taker, -(-value * taker.taker_fee_ppm // MICRO), event)
            if maker.maker_fee_ppm >= 0:
                self._charge_fee(maker, -(-value * maker.maker_fee_ppm // MICRO), event)
            else:
                rebate = value * -maker.maker_fee_ppm // MICRO
                self.ledger.transfer(
                    SystemAccount.EXCHANGE, maker.id, rebate, Cause.MAKER_REBATE, event
                )
            self.prices.last = price
        self._after_fill(buyer, buyer_before, qty, price)
        self._after_fill(seller, seller_before, qty, price)
        ticks, events, buyers, sellers, lots, prices, aggressors, kinds = self._fill_columns
        ticks.append(self.tick)
        events.append(event)
        buyers.append(buyer.id)
        sellers.append(seller.id)
        lots.append(qty)
        prices.append(price)
        aggressors.append(aggressor)
        kinds.append(kind)

    def _charge_fee(self, account: Account, fee: int, event: int) -> None:
        """Fees come from free balance first, then from isolated margin."""
        if not fee:
            return
        self.ledger.transfer(account.id, SystemAccount.EXCHANGE, fee, Cause.FEE, event)
        if not account.cross:
            free = self.ledger.balances[account.id] + fee - account.isolated_margin
            from_margin = max(0, fee - max(0, free))
            account.isolated_margin -= from_margin

    def _debit_margin(self, account: Account, amount: int) -> None:
        """After a payment of ``amount`` from an isolated position (funding): its margin pays
        first, the free balance what the margin cannot; only what neither covers leaves the
        margin below zero."""
        if account.cross:
            return
        margin = account.isolated_margin
        from_margin = min(amount, max(0, margin))
        free = self.ledger.balances[account.id] + amount - margin
        from_free = min(amount - from_margin, max(0, free))
        account.isolated_margin -= amount - from_free

    def _after_fill(self, account: Account, before: int, qty: int, price: int) -> None:
        """Isolated-margin allocation and release, the set of open accounts, thresholds.

        Outside liquidation, a reduced isolated position releases margin pro rata, a closed one
        all of it; a loss beyond the margin on a trader's own close falls on the free balance,
        and only a flat account below zero goes to the deficit waterfall. During its
        liquidation an account's margin stays with the position until :func:`settle`.
        """
        after = account.position
        self.long_open_interest += max(after, 0) - max(before, 0)
        liquidating = account.id == self.liquidating
        if not account.cross and not liquidating:
            opened = abs(after) - abs(before)
            if after == 0 or (before and (after > 0) != (before > 0)):
                account.isolated_margin = 0
                opened = abs(after)
            elif opened < 0 and account.isolated_margin > 0:
                account.isolated_margin = account.isolated_margin * abs(after) // abs(before)
            if opened > 0:
                need = -(-opened * price * self.k // account.leverage)
                free = self.ledger.balances[account.id] - account.isolated_margin
                account.isolated_margin += max(0, min(need, free))
        if (
            after == 0
            and account.liquidatable
            and not liquidating
            and self.ledger.balances[account.id] < 0
        ):
            self.pending_deficits.add(account.id)
        if after > 0:
            self.longs.add(account.id)
            self.shorts.discard(account.id)
        elif after < 0:
            self.shorts.add(account.id)
            self.longs.discard(account.id)
        else:
            self.longs.discard(account.id)
            self.shorts.discard(account.id)
        self._refresh(account)

    def _refresh(self, account: Account) -> None:
        """Mark the account's liquidation threshold as out of date; it is recomputed once, when
        thresholds are next read (:meth:`flush_thresholds`), however many fills touched it."""
        self.stale_thresholds.add(account.id)

    def flush_thresholds(self) -> None:
        """Recompute the thresholds of every account changed since the last flush, and index
        them; entries of older versions stay in the heaps as stale and are skipped. Entries
        order by threshold, then account id, so which account is liquidated first never depends
        on how often thresholds were read."""
        if not self.stale_thresholds:
            return
        accounts = self.accounts
        brackets, k = self.brackets, self.k
        longs, shorts = self.long_thresholds, self.short_thresholds
        for account_id in sorted(self.stale_thresholds):
            account = accounts[account_id]
            account.liq_version += 1
            if account.map_lots:
                self._unmap(account)
            if not account.position or not account.liquidatable:
                account.liq_threshold = None
                continue
            threshold = liquidation_tick(
                brackets,
                k,
                self.collateral(account),
                account.position,
                account.cost,
                self.liquidate_at_equality,
            )
            account.liq_threshold = threshold
            self._map(account, threshold)
            if account.position > 0:
                heapq.heappush(longs, (-threshold, account_id, account.liq_version))
            else:
                heapq.heappush(shorts, (threshold, account_id, account.liq_version))
        self.stale_thresholds.clear()
        self._compact_thresholds()

    def _map(self, account: Account, threshold: int) -> None:
        """Enter an account's position in the liquidation map at its threshold's bin."""
        bins = self.map_bins[0 if account.position > 0 else 1]
        key = threshold // self.map_bin_ticks
        lots = abs(account.position)
        entry = bins.get(key)
        if entry is None:
            bins[key] = [lots, lots * threshold]
        else:
            entry[0] += lots
            entry[1] += lots * threshold
        account.map_bin, account.map_lots = key, account.position

    def _unmap(self, account: Account) -> None:
        """Take an account's position out of the liquidation map, at the threshold it was
        entered with (still ``liq_threshold``: call before recomputing it)."""
        bins = self.map_bins[0 if account.map_lots > 0 else 1]
        entry = bins[account.map_bin]
        lots = abs(account.map_lots)
        entry[0] -= lots
        entry[1] -= lots * (account.liq_threshold or 0)
        if not entry[0]:
            del bins[account.map_bin]
        account.map_lots = 0

    def liquidation_threshold(self, account_id: object) -> int | None:
        """The mark (ticks) at which the account's position becomes liquidatable: a long at or
        below it, a short at or above it; None when flat."""
        account = self._view(account_id)
        self.flush_thresholds()
        return account.liq_threshold

    def _compact_thresholds(self) -> None:
        live = len(self.longs) + len(self.shorts)
        if len(self.long_thresholds) + len(self.short_thresholds) > 4 * live + 4096:
            accounts = self.accounts
            self.long_thresholds = [
                e for e in self.long_thresholds if accounts[e[1]].liq_version == e[2]
            ]
            self.short_thresholds = [
                e for e in self.short_thresholds if accounts[e[1]].liq_version == e[2]
            ]
            heapq.heapify(self.long_thresholds)
            heapq.heapify(self.short_thresholds)

    # ----------------------------------------------------------------- stops

    def submit_stop(
        self,
        account_id: object,
        side: object,
        qty: object,
        stop: object,
        *,
        limit: object = None,
        trigger: object = "mark",
        reduce_only: object = True,
    ) -> OrderResult:
        """A stop-market (``limit`` None) or stop-limit order triggered on mark or last price.

        A sell stop triggers when the price falls to ``stop`` or below, a buy stop when it rises
        to ``stop`` or above; it then enters as a market order or a GTC limit at ``limit``.
        """
        request = self._order_request(account_id, side, qty)
        if isinstance(request, Reject):
            return OrderResult(False, request)
        account, direction, lots = request
        stop_ticks = self._price(stop)
        limit_ticks = None if limit is None else self._price(limit)
        if stop_ticks is None or (limit is not None and limit_ticks is None):
            return OrderResult(False, Reject.INVALID_PRICE)
        if trigger not in ("mark", "last"):
            return OrderResult(False, Reject.INVALID_TRIGGER)
        self._order_id += 1
        order_id = self._order_id
        order = StopOrder(
            order_id,
            account.id,
            direction,
            lots,
            stop_ticks,
            limit_ticks,
            trigger == "mark",
            bool(reduce_only),
        )
        self.stop_book.add(order)
        account.stops[order_id] = order
        return OrderResult(True, None, order_id)

    def trigger_stops(self) -> int:
        """Send every stop whose trigger price has been reached; returns how many fired."""
        fired = 0
        prices = self.prices
        for stop in self.stop_book.due(lambda on_mark: prices.mark if on_mark else prices.last):
            del self.accounts[stop.account].stops[stop.id]
            kind = "market" if stop.limit is None else "limit"
            self.submit(
                stop.account,
                stop.side,
                stop.qty,
                stop.limit,
                kind=kind,
                reduce_only=stop.reduce_only,
            )
            fired += 1
        self.stop_triggers += fired
        return fired

    # ----------------------------------------------------------------- the tick

    def begin_tick(self, tick: object, index: object) -> None:
        """Start a tick: the world's index price (ticks) for this tick, a whole number from 1 to
        the price filter's maximum (ValueError otherwise, before anything changes)."""
        ticks = self._price(index)
        if ticks is None:
            raise ValueError(
                f"index price must be a whole number of ticks from 1 to "
                f"{self.instrument.max_price_ticks}, got {index!r}"
            )
        number = whole(tick)
        if number is None:
            raise ValueError(f"tick must be a whole number, got {tick!r}")
        self.tick = number
        self.ledger.tick = number
        self.prices.set_index(ticks)
        if not self.map_bin_ticks:
            self.map_bin_ticks = max(1, ticks // 10_000)

    def hold_prices(self, mark: object, last: object) -> None:
        """Replay mode: from the next price update on (until held again), the mark and the last
        price are ``mark`` and ``last`` (ticks), as another run's path had them; margin, stops
        and liquidations follow them, while the book trades as before. Whole numbers from 1 to the price filter's
        maximum (ValueError otherwise, before anything changes)."""
        mark_ticks, last_ticks = self._price(mark), self._price(last)
        if mark_ticks is None or last_ticks is None:
            raise ValueError(
                f"held prices must be whole numbers of ticks from 1 to "
                f"{self.instrument.max_price_ticks}, got mark {mark!r} and last {last!r}"
            )
        self.prices.hold(mark_ticks, last_ticks)

    def end_tick(self) -> None:
        """Steps 3 to 6 of a tick: mark and premium, stops, liquidation rounds, funding; after
        funding, liquidation rounds again, so that no account ends a tick past its threshold
        once the tick's last money has moved (unless the round limit stopped the rounds:
        :meth:`check_tick_end`)."""
        self.prices.update(self.book, tick=self.tick, sample=True)
        self.trigger_stops()
        liquidation.run_rounds(self)
        if self.prices.funding_due(self.tick):
            self.settle_funding()
            liquidation.run_rounds(self)

    def settle_funding(self) -> int:
        """Pay the interval's funding along every link: longs pay shorts when the rate is
        positive. Returns the rate in parts per billion."""
        rate = self.prices.close_funding_interval()
        event = self.next_event()
        mark = self.prices.mark
        if rate:
            accounts = self.accounts
            ledger = self.ledger
            k = self.k
            for account_id in sorted(self.open_accounts):
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
                    self._debit_margin(payer, amount)
                    if not payee.cross:
                        payee.isolated_margin += amount
            for account_id in sorted(self.open_accounts):
                self._refresh(accounts[account_id])
        self.funding_payments.append((self.tick, rate, event))
        return rate

    # ----------------------------------------------------------------- public views

    @property
    def open_accounts(self) -> set[int]:
        """Accounts with an open position (long or short)."""
        return self.longs | self.shorts

    @property
    def mark(self) -> int:
        return self.prices.mark

    @property
    def last(self) -> int:
        return self.prices.last

    @property
    def index(self) -> int:
        return self.prices.index

    def position(self, account_id: object) -> int:
        """Signed position in lots (long > 0)."""
        return self._view(account_id).position

    def isolated_margin(self, account_id: object) -> int:
        """Margin allocated to the position in isolated mode, micro-units."""
        return self._view(account_id).isolated_margin

    def open_interest(self) -> tuple[int, int]:
        """Long and short open interest in lots, kept as a running count (they are equal by
        construction; the invariant check recomputes both from the links)."""
        return self.long_open_interest, self.long_open_interest

    def equity_by_group(self) -> dict[str, int]:
        """Balance plus unrealized PnL at the mark summed over each group's accounts, micro-units;
        read from running totals, so its cost does not grow with the number of accounts."""
        mark, k = self.prices.mark, self.k
        return {
            name: group.balance + (group.position * mark - group.cost) * k
            for name, group in self.groups.items()
        }

    def liquidation_map(self) -> LiquidationMap:
        """Where open positions would be liquidated, per non-empty bin of liquidation
        thresholds (:attr:`map_bin_ticks` wide), longs first, bins ascending. Kept up to date at
        every change of a threshold, so its cost grows with the bins, not with the accounts."""
        self.flush_thresholds()
        width = self.map_bin_ticks
        edges: list[int] = []
        sizes: list[int] = []
        values: list[int] = []
        sides: list[int] = []
        for side, bins in ((1, self.map_bins[0]), (-1, self.map_bins[1])):
            for key in sorted(bins):
                lots, value = bins[key]
                edges.append(key * width)
                sizes.append(lots)
                values.append(value)
                sides.append(side)
        return LiquidationMap(
            np.array(edges, dtype=np.int64),
            np.array(sizes, dtype=np.int64),
            np.array(values, dtype=np.int64),
            np.array(sides, dtype=np.int64),
        )

    def check_invariants(self) -> None:
        """Raise AssertionError naming the first broken invariant (DESIGN section 3)."""
        from abm.exchange.invariants import check_invariants

        check_invariants(self)

    def check_tick_end(self) -> None:
        """Raise AssertionError naming an account past its liquidation threshold at the end of
        a tick whose rounds did not stop at the round limit (call after :meth:`end_tick`)."""
        from abm.exchange.invariants import check_tick_end

        check_tick_end(self)
