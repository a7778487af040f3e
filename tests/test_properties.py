"""Property-based tests: random streams of exchange operations keep every invariant.

A hypothesis state machine deposits, withdraws, places and cancels orders and stops, moves the
index (running the tick's mark, stops, liquidations and funding) under every backstop order and
both margin modes, and checks the invariants after every step. Some of its callers are hostile:
prices far off the market or absurd, reduce-only orders at such prices, amounts and sizes near
and past int64, ids of other or unknown accounts, numpy integers, funding larger than a
position's margin, withdrawals of everything or more in every state. Every call must either be
refused with a reason or keep the books exact. After every step, conservation is also checked
from the transfer log alone, independently of the engine's own sums. At the end the same stream
is replayed on a fresh exchange and must give identical state.
"""

from __future__ import annotations

import contextlib

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from abm.exchange import BUY, SELL, Exchange, SystemAccount
from abm.exchange.results import UnknownAccountError
from tests.conftest import U, make_rulebook

HUGE = st.sampled_from([2**31, 2**53, 2**62, 2**63 - 1, 2**63, 2**64, 10**30])
"""Amounts, prices and sizes that overflow int64 products (or int64 itself)."""

BACKSTOP_ORDERS = [
    ("insurance_fund", "adl", "exchange_absorbs"),
    ("backstop_vault", "adl", "exchange_absorbs"),
    ("insurance_fund", "socialized_loss", "exchange_absorbs"),
    ("adl", "insurance_fund", "trader_debt"),
    ("socialized_loss", "backstop_vault", "insurance_fund", "adl", "trader_debt"),
    ("trader_debt",),
    ("exchange_absorbs",),
]


def apply(ex: Exchange, op: tuple) -> None:
    """Perform one recorded operation on ``ex``; the errors the API documents for bad input
    (ValueError from ``open_account``, UnknownAccountError from views) count as refusals."""
    name, *args = op
    if name == "open":
        deposit, leverage = args
        with contextlib.suppress(ValueError):
            ex.open_account(deposit, leverage=leverage)
    elif name == "tick":
        tick, index = args
        ex.begin_tick(tick, index)
        ex.end_tick()
        ex.check_tick_end()  # no account ends a tick past its threshold (but at the round limit)
    elif name == "submit":
        account, side, qty, price, kind, reduce_only = args
        ex.submit(account, side, qty, price, kind=kind, reduce_only=reduce_only)
    elif name == "stop":
        account, side, qty, stop, limit, trigger = args
        ex.submit_stop(account, side, qty, stop, limit=limit, trigger=trigger)
    elif name == "view":
        view, account = args
        with contextlib.suppress(UnknownAccountError):
            getattr(ex, view)(account)
    else:
        getattr(ex, name)(*args)


def balances_from_the_log(ex: Exchange) -> np.ndarray:
    """Every account's balance recomputed from the transfer log alone."""
    log = ex.ledger
    n = len(ex.accounts)
    amount = np.frombuffer(log.log_amount, dtype=np.int64).astype(object)
    src = np.frombuffer(log.log_src, dtype=np.int64)
    dst = np.frombuffer(log.log_dst, dtype=np.int64)
    balances = np.zeros(n, dtype=object)
    np.add.at(balances, dst, amount)
    np.subtract.at(balances, src, amount)
    return balances


def fingerprint(ex: Exchange) -> tuple:
    """Everything observable about the exchange's state, for comparing two runs."""
    log = ex.ledger
    return (
        tuple(log.balances),
        bytes(log.log_src) + bytes(log.log_dst) + bytes(log.log_amount) + bytes(log.log_event),
        tuple(
            (a.position, a.cost, a.isolated_margin, ex.liquidation_threshold(a.id))
            for a in ex.accounts
        ),
        tuple(bytes(column) for column in ex.fills.values()),
        tuple((e.account, e.closed, e.deficit, e.debt) for e in ex.liquidations),
        (ex.mark, ex.last, ex.index),
    )


class ExchangeStream(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex: Exchange | None = None
        self.ops: list[tuple] = []
        self.tick = 0
        self.index = 500_000

    def do(self, op: tuple) -> None:
        """Apply and record ``op``. An order may never leave its own sender in deficit: it is
        judged at its worst fill prices, so only others' trades or funding can do that."""
        self.ops.append(op)
        before = len(self.ex.liquidations)
        apply(self.ex, op)
        if op[0] == "submit":
            for event in self.ex.liquidations[before:]:
                assert not (event.side == "none" and event.account == op[1]), (
                    f"account {event.account}'s own order left it {event.deficit} in deficit"
                )

    @initialize(
        backstops=st.sampled_from(BACKSTOP_ORDERS),
        mode=st.sampled_from(["isolated", "cross"]),
        order=st.sampled_from(["ioc_bankruptcy", "market"]),
        partial=st.booleans(),
        mark=st.sampled_from(["last", "index_basis", "binance_median"]),
        fund=st.sampled_from([0, 50, 100_000]),
        interest=st.sampled_from([0.0001, 0.01]),
        band=st.sampled_from([0.05, 0.5]),
        at_equality=st.booleans(),
    )
    def setup(self, backstops, mode, order, partial, mark, fund, interest, band, at_equality):
        self.rules = make_rulebook(
            backstops=backstops,
            margin_mode=mode,
            liquidation={
                "order": order,
                "partial": partial,
                "partial_min_notional": 5_000,
                "liquidate_at_equality": at_equality,
            },
            mark_price={"mode": mark, "basis_window_ticks": 5},
            funding={
                "interval_ticks": 7,
                "sample_interval_ticks": 1,
                "interest_rate": interest,
                "premium_clamp": 0.01,
                "rate_cap": 0.05,
            },
            price_filter={"band_up": band, "band_down": band, "market_take_bound": band},
            insurance_fund_seed=fund,
            backstop_vault_seed=fund,
        )
        self.ex = Exchange(self.rules, seed=7)
        self.ex.begin_tick(0, self.index)
        for _ in range(3):
            self.do(("open", 50_000 * U, 5))

    def traders(self) -> range:
        return range(4, len(self.ex.accounts))

    def anyone(self):
        """A trader, a system account, an unknown id, or an id of the wrong type."""
        n = len(self.ex.accounts)
        return st.one_of(
            st.sampled_from(self.traders()),
            st.integers(-5, n + 5),
            st.sampled_from([np.int64(4), np.int32(n - 1), 4.0, "4", None, True, 10**30]),
        )

    @rule(deposit=st.integers(0, 20_000), leverage=st.integers(1, 100))
    def open_account(self, deposit, leverage):
        self.do(("open", deposit * U, leverage))

    @rule(data=st.data(), amount=st.integers(-5, 5_000))
    def deposit(self, data, amount):
        account = data.draw(st.sampled_from(self.traders()))
        self.do(("deposit", account, amount * U))

    @rule(data=st.data(), amount=st.integers(1, 5_000))
    def withdraw(self, data, amount):
        account = data.draw(st.sampled_from(self.traders()))
        self.do(("withdraw", account, amount * U))

    @rule(
        data=st.data(),
        side=st.sampled_from([BUY, SELL]),
        qty=st.integers(1, 400),
        offset=st.integers(-300, 300),
        kind=st.sampled_from(["limit", "limit", "market", "ioc", "post_only"]),
        reduce_only=st.booleans(),
    )
    def submit(self, data, side, qty, offset, kind, reduce_only):
        account = data.draw(st.sampled_from(self.traders()))
        price = None if kind == "market" else max(1, self.ex.mark + offset * 100)
        self.do(("submit", account, side, qty, price, kind, reduce_only))

    @rule(data=st.data())
    def cancel(self, data):
        account = data.draw(st.sampled_from(self.traders()))
        orders = sorted(self.ex.accounts[account].orders) + sorted(self.ex.accounts[account].stops)
        order_id = data.draw(st.sampled_from(orders)) if orders else 10**9
        self.do(("cancel", account, order_id))

    @rule(
        data=st.data(),
        side=st.sampled_from([BUY, SELL]),
        qty=st.integers(1, 400),
        distance=st.integers(1, 300),
        limit=st.booleans(),
        trigger=st.sampled_from(["mark", "last"]),
    )
    def stop(self, data, side, qty, distance, limit, trigger):
        account = data.draw(st.sampled_from(self.traders()))
        stop = max(1, self.ex.mark - side * distance * 100)
        self.do(("stop", account, side, qty, stop, stop if limit else None, trigger))

    @rule(move=st.integers(-1_500, 1_500))
    def move_index(self, move):
        self.tick += 1
        self.index = min(2_000_000, max(10_000, self.index * (100_000 + move) // 100_000))
        self.do(("tick", self.tick, self.index))

    @rule()
    def settle_funding(self):
        self.do(("settle_funding",))

    @rule(data=st.data(), qty=st.integers(1, 400), leverage=st.integers(1, 100))
    def trade_a_pair(self, data, qty, leverage):
        """A fresh leveraged account takes a position from another trader's resting order at
        the mark, so that streams hold many open positions."""
        self.do(("open", data.draw(st.integers(100, 20_000)) * U, leverage))
        taker = len(self.ex.accounts) - 1
        maker = data.draw(st.sampled_from(range(4, taker)))
        side = data.draw(st.sampled_from([BUY, SELL]))
        self.do(("submit", maker, -side, qty, self.ex.mark, "limit", False))
        self.do(("submit", taker, side, qty, self.ex.mark, "ioc", False))

    # ----------------------------------------------------------------- hostile callers

    @rule(
        data=st.data(),
        side=st.sampled_from([BUY, SELL]),
        qty=st.one_of(st.integers(1, 400), HUGE),
        price=st.one_of(st.integers(1, 3_000_000), HUGE, st.sampled_from([1, 2, 10**9])),
        kind=st.sampled_from(["limit", "market", "ioc", "post_only"]),
        reduce_only=st.booleans(),
    )
    def submit_off_market(self, data, side, qty, price, kind, reduce_only):
        account = data.draw(self.anyone())
        self.do(("submit", account, side, qty, price, kind, reduce_only))

    @rule(
        data=st.data(),
        price=st.one_of(st.sampled_from([1, 2, 10**9, 2**62]), st.integers(1, 5_000_000)),
        kind=st.sampled_from(["limit", "ioc", "market"]),
    )
    def collude_through_reduce_only_orders(self, data, price, kind):
        """Two partners of a link trade with each other at a price of their choosing: one rests
        a reduce-only order, the other takes it with one (the insurance-fund drain)."""
        holders = [a for a in self.traders() if self.ex.accounts[a].live_links()]
        if not holders:
            return
        maker = data.draw(st.sampled_from(holders))
        link = self.ex.accounts[maker].live_links()[0]
        taker = link.short if link.long == maker else link.long
        side = SELL if self.ex.position(maker) > 0 else BUY
        self.do(("submit", maker, side, link.qty, price, "limit", True))
        self.do(("submit", taker, -side, link.qty, price, kind, True))

    @rule(data=st.data(), amount=st.one_of(HUGE, st.integers(-(2**64), 2**64)))
    def move_huge_amounts(self, data, amount):
        account = data.draw(self.anyone())
        self.do((data.draw(st.sampled_from(["deposit", "withdraw"])), account, amount))

    @rule(data=st.data())
    def withdraw_everything_or_more(self, data):
        account = data.draw(st.sampled_from(self.traders()))
        available = self.ex.available(account)
        balance = self.ex.balance(account)
        extra = data.draw(st.sampled_from([0, 1, balance - available]))
        self.do(("withdraw", account, available + extra))
        if balance > 0:
            self.do(("withdraw", account, balance))

    @rule(deposit=st.one_of(HUGE, st.integers(0, 10**6)), leverage=st.integers(-1, 200))
    def open_odd_account(self, deposit, leverage):
        self.do(("open", deposit, leverage))

    @rule(data=st.data())
    def act_for_someone_else(self, data):
        account = data.draw(self.anyone())
        name = data.draw(st.sampled_from(["cancel_all", "view"]))
        if name == "cancel_all":
            self.do(("cancel_all", account))
        else:
            view = data.draw(st.sampled_from(["balance", "available", "position", "equity"]))
            self.do(("view", view, account))

    @rule(data=st.data())
    def vault_trades(self, data):
        side = data.draw(st.sampled_from([BUY, SELL]))
        qty = data.draw(st.integers(1, 2_000))
        self.do(("submit", int(SystemAccount.BACKSTOP_VAULT), side, qty, None, "market", False))

    @rule(times=st.integers(1, 6))
    def funding_beyond_margin(self, times):
        for _ in range(times):
            self.do(("settle_funding",))

    @invariant()
    def invariants_hold(self):
        if self.ex is not None:
            self.ex.check_invariants()

    @invariant()
    def money_adds_up_from_the_log_alone(self):
        if self.ex is None:
            return
        ex = self.ex
        from_log = balances_from_the_log(ex)
        assert list(from_log) == ex.ledger.balances
        external = int(from_log[SystemAccount.EXTERNAL])
        assert sum(int(b) for b in from_log) == 0
        assert -external == ex.ledger.net_deposits
        log = ex.ledger
        lengths = {len(log.log_tick), len(log.log_src), len(log.log_dst), len(log.log_cause)}
        assert lengths == {len(log.log_amount)}, "transfer log columns of different lengths"

    @invariant()
    def nobody_may_withdraw_more_than_they_hold(self):
        if self.ex is None:
            return
        for account in self.traders():
            assert self.ex.available(account) <= max(0, self.ex.balance(account))

    def teardown(self):
        if self.ex is None:
            return
        replay = Exchange(self.rules, seed=7)
        replay.begin_tick(0, 500_000)
        for op in self.ops:
            apply(replay, op)
        assert fingerprint(replay) == fingerprint(self.ex)


ExchangeStream.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchangeStream = ExchangeStream.TestCase
