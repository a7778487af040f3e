"""The exchange: accounts, orders, fills, prices and funding for one linear BTC perpetual.

Every amount inside is an integer (micro-USDT, price ticks, quantity lots). Orders that cannot be
accepted come back as an :class:`OrderResult` with a :class:`Reject` reason and leave no trace.
A tick is driven from outside: :meth:`Exchange.begin_tick` with the index, orders, then
:meth:`Exchange.end_tick` (mark and funding premium, stop triggers, liquidation rounds, funding).

``Exchange`` holds the state, opens accounts and moves money in and out; the rest is done by
modules of functions over that state, which its public methods delegate to: order entry and
matching (:mod:`~abm.exchange.matching`), thresholds and the liquidation map
(:mod:`~abm.exchange.thresholds`), stops (:mod:`~abm.exchange.stops`), the tick and funding
(:mod:`~abm.exchange.clock`), liquidation (:mod:`~abm.exchange.liquidation`) and its backstops.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

import numpy as np

from abm.exchange import clock, matching, risk, stops, thresholds
from abm.exchange.accounts import SYSTEM_GROUP, Account, AccountGroup
from abm.exchange.book import Order, OrderBook
from abm.exchange.instrument import MAX_TOTAL_DEPOSITS, MONEY_BOUND, Instrument
from abm.exchange.ledger import FIRST_TRADER, Ledger, SystemAccount
from abm.exchange.margin import Brackets
from abm.exchange.pricing import PriceFeed
from abm.exchange.records import LINK_MATCHINGS, LiquidationEvent
from abm.exchange.results import (
    LiquidationMap,
    OrderResult,
    Reject,
    UnknownAccountError,
    whole,
)
from abm.exchange.stops import StopBook, StopOrder
from abm.exchange.units import MICRO

if TYPE_CHECKING:
    from abm.config import Rulebook

__all__ = ["Exchange", "OrderResult", "Reject", "UnknownAccountError"]


class Exchange:
    """One shared margin and liquidation engine; see DESIGN sections 3 to 5."""

    def __init__(self, rulebook: Rulebook, seed: int | np.random.SeedSequence = 0) -> None:
        self.rules = rulebook
        self.instrument = Instrument.from_rulebook(rulebook)
        self.k = self.instrument.value_per_tick_lot
        self.brackets = Brackets(rulebook.brackets)
        self.max_leverage: int = rulebook.max_leverage
        """The leverage cap of every account (x, whole): the one copy the model, the traders
        and the exchange's own checks read."""
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
        self.link_matching: int = LINK_MATCHINGS.index(rulebook.link_matching)
        """Which links a closing side leaves (:data:`abm.exchange.records.LINK_MATCHINGS`)."""
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
        self.last_order_id = 0
        self.prices = PriceFeed(rulebook, self.k)
        self.fills = {
            name: array("q")
            for name in ("tick", "event", "buyer", "seller", "qty", "price", "aggressor", "kind")
        }
        self.fill_columns = tuple(self.fills.values())
        self.liquidations: list[LiquidationEvent] = []
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

    def find_account(self, account_id: object) -> Account | None:
        """The account a caller may act for: a trader, or the backstop vault; else None."""
        number = whole(account_id)
        if number is None:
            return None
        if FIRST_TRADER <= number < len(self.accounts) or number == SystemAccount.BACKSTOP_VAULT:
            return self.accounts[number]
        return None

    def view_account(self, account_id: object) -> Account:
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
        account = self.find_account(account_id)
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
        thresholds.refresh(self, account)
        return OrderResult(True)

    def set_leverage(self, account_id: object, leverage: object) -> OrderResult:
        """Change an account's leverage; allowed only while flat with no open orders."""
        account = self.find_account(account_id)
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
        return self.ledger.balances[self.view_account(account_id).id]

    def unrealized_pnl(self, account_id: object, price: object = None) -> int:
        """Unrealized PnL at ``price`` (default: mark), micro-units."""
        a = self.view_account(account_id)
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
        a = self.view_account(account_id)
        p = self._price_or_mark(price)
        return self.brackets.maintenance_margin(abs(a.position) * p * self.k)

    def available(self, account_id: object) -> int:
        """What could be withdrawn: balance not needed as margin for the position or orders,
        less any loss of the position beyond its margin (see :func:`risk.available`)."""
        return risk.available(self, self.view_account(account_id))

    # ----------------------------------------------------------------- orders (matching.py)

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
        """Submit an order. ``kind``: ``limit`` (GTC), ``post_only``, ``ioc`` or ``market``;
        see :func:`matching.submit`. A rejected order changes nothing."""
        return matching.submit(
            self, account_id, side, qty, price, kind=kind, reduce_only=reduce_only
        )

    def requote_ladder(
        self,
        account_id: object,
        bid_price: object,
        ask_price: object,
        bid_qty: object,
        ask_qty: object,
        distances: list[object],
    ) -> list[OrderResult]:
        """A market maker's cancel-and-requote in one call: :meth:`cancel_all`, then post-only
        level ``i`` at ``bid_price - distances[i]`` and ``ask_price + distances[i]``, bid first;
        the cancel's result, then one per quote (:func:`matching.requote_ladder`)."""
        return matching.requote_ladder(
            self, account_id, bid_price, ask_price, bid_qty, ask_qty, distances
        )

    def cancel(self, account_id: object, order_id: object) -> OrderResult:
        """Cancel an open order or stop of the account."""
        return matching.cancel(self, account_id, order_id)

    def cancel_all(self, account_id: object) -> OrderResult:
        """Cancel every open order and stop of the account; ``cancelled`` says how many."""
        return matching.cancel_all(self, account_id)

    def cancel_orders(self, account: Account) -> int:
        """Cancel every open order and stop of ``account``; returns how many (engine use)."""
        return matching.cancel_orders(self, account)

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
        """Trade up to ``qty`` lots against the book at prices no worse than ``limit``; returns
        the lots filled (engine use: :func:`matching.match`)."""
        return matching.match(self, taker, side, qty, limit, event, kind, charge_taker)

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
        """One fill outside the book (engine use: :func:`matching.execute`)."""
        matching.execute(self, buyer, seller, qty, price, event, kind, aggressor, charge_fees)

    # ----------------------------------------------------------------- thresholds (thresholds.py)

    def flush_thresholds(self) -> None:
        """Recompute the thresholds of every account changed since they were last read."""
        thresholds.flush(self)

    def liquidation_threshold(self, account_id: object) -> int | None:
        """The mark (ticks) at which the account's position becomes liquidatable: a long at or
        below it, a short at or above it; None when flat."""
        return thresholds.liquidation_threshold(self, account_id)

    def liquidation_map(self) -> LiquidationMap:
        """Where open positions would be liquidated, per bin of liquidation thresholds."""
        return thresholds.liquidation_map(self)

    # ----------------------------------------------------------------- stops (stops.py)

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
        """A stop-market (``limit`` None) or stop-limit order triggered on mark or last price;
        see :func:`stops.submit_stop`."""
        return stops.submit_stop(
            self,
            account_id,
            side,
            qty,
            stop,
            limit=limit,
            trigger=trigger,
            reduce_only=reduce_only,
        )

    def trigger_stops(self) -> int:
        """Send every stop whose trigger price has been reached; returns how many fired."""
        return stops.trigger_stops(self)

    # ----------------------------------------------------------------- the tick (clock.py)

    def begin_tick(self, tick: object, index: object) -> None:
        """Start a tick with the world's index price (ticks); see :func:`clock.begin_tick`."""
        clock.begin_tick(self, tick, index)

    def hold_prices(self, mark: object, last: object) -> None:
        """Replay mode: hold the mark and last prices; see :func:`clock.hold_prices`."""
        clock.hold_prices(self, mark, last)

    def end_tick(self) -> None:
        """Mark and premium, stops, liquidation rounds, funding; see :func:`clock.end_tick`."""
        clock.end_tick(self)

    def settle_funding(self) -> int:
        """Pay the interval's funding along every link; returns the rate in parts per billion."""
        return clock.settle_funding(self)

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
        return self.view_account(account_id).position

    def isolated_margin(self, account_id: object) -> int:
        """Margin allocated to the position in isolated mode, micro-units."""
        return self.view_account(account_id).isolated_margin

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

    def check_invariants(self) -> None:
        """Raise AssertionError naming the first broken invariant (DESIGN section 3)."""
        from abm.exchange.invariants import check_invariants

        check_invariants(self)

    def check_tick_end(self) -> None:
        """Raise AssertionError naming an account past its liquidation threshold at the end of
        a tick whose rounds did not stop at the round limit (call after :meth:`end_tick`)."""
        from abm.exchange.invariants import check_tick_end

        check_tick_end(self)
