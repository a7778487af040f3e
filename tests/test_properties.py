"""Property-based tests: random streams of exchange operations keep every invariant.

A hypothesis state machine deposits, withdraws, places and cancels orders and stops, moves the
index (running the tick's mark, stops, liquidations and funding) under every backstop order and
both margin modes, and checks the invariants after every step. At the end the same stream is
replayed on a fresh exchange and must give identical state.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from abm.exchange import BUY, SELL, Exchange
from tests.conftest import U, make_rulebook

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
    """Perform one recorded operation on ``ex``."""
    name, *args = op
    if name == "open":
        deposit, leverage = args
        ex.open_account(deposit, leverage=leverage)
    elif name == "tick":
        tick, index = args
        ex.begin_tick(tick, index)
        ex.end_tick()
    elif name == "submit":
        account, side, qty, price, kind, reduce_only = args
        ex.submit(account, side, qty, price, kind=kind, reduce_only=reduce_only)
    elif name == "stop":
        account, side, qty, stop, limit, trigger = args
        ex.submit_stop(account, side, qty, stop, limit=limit, trigger=trigger)
    else:
        getattr(ex, name)(*args)


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
        self.ops.append(op)
        apply(self.ex, op)

    @initialize(
        backstops=st.sampled_from(BACKSTOP_ORDERS),
        mode=st.sampled_from(["isolated", "cross"]),
        order=st.sampled_from(["ioc_bankruptcy", "market"]),
        partial=st.booleans(),
        mark=st.sampled_from(["last", "index_basis", "binance_median"]),
        fund=st.sampled_from([0, 50, 100_000]),
    )
    def setup(self, backstops, mode, order, partial, mark, fund):
        self.rules = make_rulebook(
            backstops=backstops,
            margin_mode=mode,
            liquidation={"order": order, "partial": partial, "partial_min_notional": 5_000},
            mark_price={"mode": mark, "basis_window_ticks": 5},
            funding={"interval_ticks": 7, "sample_interval_ticks": 1},
            insurance_fund_seed=fund,
            backstop_vault_seed=fund,
        )
        self.ex = Exchange(self.rules, seed=7)
        self.ex.begin_tick(0, self.index)
        for _ in range(3):
            self.do(("open", 50_000 * U, 5))

    def traders(self) -> range:
        return range(4, len(self.ex.accounts))

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

    @invariant()
    def invariants_hold(self):
        if self.ex is not None:
            self.ex.check_invariants()

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
