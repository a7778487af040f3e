"""Regression tests: calls a hostile or careless caller can make, each of which once lost or
created money, raised half-way, or slipped past a check. Each test names the attack.

Units: money in micro-USDT (``U`` = 1 USDT), prices in ticks of 0.1 USDT, quantities in lots of
0.001 BTC; one lot at one tick is 100 micro-USDT of notional.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.exchange import BUY, SELL, Exchange, Reject, SystemAccount
from abm.exchange.results import UnknownAccountError
from tests.conftest import WIDE_BAND, U, make_rulebook
from tests.test_orders import fingerprint

P0 = 500_000
FUND = SystemAccount.INSURANCE_FUND
VAULT = SystemAccount.BACKSTOP_VAULT


def exchange(**rules) -> Exchange:
    ex = Exchange(make_rulebook(**rules))
    ex.begin_tick(0, P0)
    return ex


def pair(ex: Exchange, lots: int, long_deposit: int, short_deposit: int, leverage: int = 10):
    """A long and a short holding ``lots`` against each other at 50,000."""
    long = ex.open_account(long_deposit, leverage=leverage)
    short = ex.open_account(short_deposit, leverage=leverage)
    assert ex.submit(short, SELL, lots, P0).resting == lots
    assert ex.submit(long, BUY, lots, P0).filled == lots
    return long, short


# ----------------------------------------------------------------- deficit after a flip


def test_flip_at_one_tick_is_refused_by_the_price_band():
    """An isolated 10-lot long sent a plain sell of 20 lots at 1 tick: valued at the mark it
    passed, filled against a bid far below, flipped short with a negative wallet and ended flat
    at about -300 USDT that nothing covered."""
    ex = exchange(insurance_fund_seed=1_000)
    long, _ = pair(ex, 10, 60 * U, 1_000 * U)
    bidder = ex.open_account(100_000 * U, leverage=5)
    assert ex.submit(bidder, BUY, 20, 475_000).resting == 20
    before = fingerprint(ex)
    result = ex.submit(long, SELL, 20, 1)
    assert result.reason is Reject.PRICE_OUTSIDE_BAND
    assert fingerprint(ex) == before
    ex.check_invariants()


def test_flip_through_a_deep_bid_is_refused_at_its_own_fill_prices():
    """With a band wide enough for the order, it is judged at the prices it would fill at (the
    bid 40% below the mark), not at the mark, and refused."""
    ex = exchange(insurance_fund_seed=1_000, price_filter={**WIDE_BAND, "band_down": 0.9})
    long, _ = pair(ex, 10, 60 * U, 1_000 * U)
    bidder = ex.open_account(100_000 * U, leverage=5)
    assert ex.submit(bidder, BUY, 20, 300_000).resting == 20
    before = fingerprint(ex)
    result = ex.submit(long, SELL, 20, 100_000)
    assert result.reason is Reject.INSUFFICIENT_MARGIN
    assert fingerprint(ex) == before
    # A sell of just the position through that bid would lose 200 of its 60 USDT: refused too.
    result = ex.submit(long, SELL, 10, 100_000, kind="ioc")
    assert result.reason is Reject.LOSS_BEYOND_EQUITY
    assert fingerprint(ex) == before


def test_a_close_the_equity_covers_still_goes_through():
    """Closing at a loss is allowed while the whole account can pay it."""
    ex = exchange(price_filter=WIDE_BAND)
    long, short = pair(ex, 10, 560 * U, 1_000 * U)
    bidder = ex.open_account(100_000 * U, leverage=5)
    assert ex.submit(bidder, BUY, 10, 300_000).resting == 10
    # 10 lots from 50,000 to 30,000 lose 200 USDT of a 560 USDT wallet (50 of it margin).
    assert ex.submit(long, SELL, 10, 300_000, kind="ioc").filled == 10
    assert ex.position(long) == 0 and ex.balance(long) > 0
    ex.check_invariants()


# ----------------------------------------------------------------- withdrawals


def test_funding_beyond_isolated_margin_cannot_be_withdrawn_twice():
    """Funding larger than an isolated position's margin made the margin negative, so
    'available' (balance minus margin) exceeded the balance."""
    ex = exchange(
        funding={"interest_rate": 0.01, "premium_clamp": 0.01, "rate_cap": 0.05},
        insurance_fund_seed=1_000,
    )
    long, short = pair(ex, 10, 200 * U, 1_000 * U)
    assert ex.isolated_margin(long) == 50 * U
    for _ in range(11):  # 1% of 500 USDT each: 55 USDT in all, 5 beyond the margin
        ex.settle_funding()
    balance = ex.balance(long)
    assert balance == 200 * U - 200_000 - 55 * U
    assert ex.isolated_margin(long) == 0, "the margin pays first, then the free balance"
    assert ex.available(long) <= balance
    before = fingerprint(ex)
    assert ex.withdraw(long, balance + 1).reason is Reject.INSUFFICIENT_BALANCE
    assert fingerprint(ex) == before
    assert ex.withdraw(long, ex.available(long))
    ex.check_invariants()


def test_available_never_exceeds_what_the_account_can_lose():
    """An isolated long whose loss at the mark exceeds its margin: what it may withdraw is its
    wallet less that shortfall."""
    ex = exchange(price_filter=WIDE_BAND, liquidation={"max_rounds_per_tick": 1})
    long, short = pair(ex, 10, 100 * U, 1_000 * U)
    maker = ex.open_account(10_000 * U, leverage=5)
    taker = ex.open_account(10_000 * U, leverage=5)
    assert ex.submit(maker, BUY, 1, 440_000)
    assert ex.submit(taker, SELL, 1, kind="market", price=440_000).filled == 1
    ex.prices.update(ex.book, ex.tick, sample=False)
    # Mark 44,000: the long has lost 60 USDT on 50 of margin; its wallet is 99.8 USDT.
    assert ex.mark == 440_000
    assert ex.available(long) == 99_800_000 - 60 * U
    assert ex.withdraw(long, ex.available(long) + 1).reason is Reject.INSUFFICIENT_BALANCE


# ----------------------------------------------------------------- overflow


@pytest.mark.parametrize("amount", [2**63, 2**62, 2**61])
def test_deposits_that_would_overflow_are_refused_and_change_nothing(amount):
    ex = exchange()
    trader = ex.open_account(100 * U)
    before = fingerprint(ex)
    assert ex.deposit(trader, amount).reason is Reject.AMOUNT_ABOVE_MAX
    assert fingerprint(ex) == before
    with pytest.raises(ValueError, match="above the largest balance"):
        ex.open_account(amount)
    assert fingerprint(ex) == before
    assert len(ex.ledger.log_amount) == len(ex.ledger.log_src) == len(ex.ledger.log_tick)
    ex.check_invariants()


def test_prices_and_sizes_beyond_the_filters_are_refused():
    ex = exchange()
    trader = ex.open_account(1_000 * U)
    before = fingerprint(ex)
    for price in (2**62, 10**9, ex.instrument.max_price_ticks + 1):
        assert ex.submit(trader, BUY, 1, price).reason is Reject.INVALID_PRICE
        assert ex.submit_stop(trader, SELL, 1, price).reason is Reject.INVALID_PRICE
    for qty in (2**63, ex.instrument.max_order_lots + 1):
        assert ex.submit(trader, BUY, qty, P0).reason is Reject.QTY_ABOVE_MAX
    big_market = ex.instrument.max_market_lots + 1
    assert ex.submit(trader, BUY, big_market, kind="market").reason is Reject.QTY_ABOVE_MAX
    assert fingerprint(ex) == before
    with pytest.raises(ValueError, match="index price"):
        ex.begin_tick(1, 2**62)
    assert fingerprint(ex) == before


def test_numpy_integers_are_whole_numbers():
    """numpy integers were refused as 'must be a positive whole number'."""
    ex = exchange()
    trader = ex.open_account(np.int64(1_000 * U), leverage=np.int32(10))
    assert ex.deposit(trader, np.int64(5 * U))
    result = ex.submit(trader, np.int8(1), np.int64(2), np.int64(P0))
    assert result.resting == 2
    assert ex.cancel(trader, np.int64(result.order_id))
    assert ex.balance(np.int64(trader)) == 1_005 * U
    ex.check_invariants()


# ----------------------------------------------------------------- price band


def test_reduce_only_orders_at_absurd_prices_cannot_drain_the_fund():
    """Two accounts of 100 USDT traded with each other at 10^9 ticks through reduce-only
    orders and drained the insurance fund from 1,000,000 to 200 USDT."""
    ex = exchange(insurance_fund_seed=1_000_000)
    a, b = pair(ex, 1, 100 * U, 100 * U)
    before = fingerprint(ex)
    for price in (10**9, 1_000_000, 1):
        assert not ex.submit(a, SELL, 1, price, reduce_only=True)
        assert not ex.submit(b, BUY, 1, price, reduce_only=True)
    assert fingerprint(ex) == before
    assert ex.balance(FUND) == 1_000_000 * U


def test_band_edges_follow_binance_percent_price():
    """Limit prices within mark x 0.95 to mark x 1.05 are accepted, one tick outside refused."""
    ex = exchange()
    trader = ex.open_account(100_000 * U)
    assert ex.submit(trader, BUY, 1, 475_000)
    assert ex.submit(trader, SELL, 1, 525_000)
    assert ex.submit(trader, BUY, 1, 474_999).reason is Reject.PRICE_OUTSIDE_BAND
    assert ex.submit(trader, SELL, 1, 525_001).reason is Reject.PRICE_OUTSIDE_BAND


def test_market_order_without_protection_stops_at_the_take_bound_and_is_checked_there():
    """A market order with no protection price was checked at the best ask but walked the
    whole book."""
    ex = exchange()
    maker = ex.open_account(100_000 * U, leverage=5)
    assert ex.submit(maker, SELL, 1, P0)
    assert ex.submit(maker, SELL, 10, 520_000)
    assert ex.submit(maker, SELL, 10, 524_000)
    ex.begin_tick(1, P0)
    # 11 lots: 1 at 50,000 and 10 at 52,000 (the ask at 52,400 is within the band but the
    # order needs no more). Valued at the best ask it would need about 55 USDT of margin; at its
    # fill prices it loses 20 USDT against the mark on top.
    poor = ex.open_account(58 * U, leverage=10)
    before = fingerprint(ex)
    assert ex.submit(poor, BUY, 11, kind="market").reason is Reject.INSUFFICIENT_MARGIN
    assert fingerprint(ex) == before
    rich = ex.open_account(10_000 * U, leverage=10)
    assert ex.submit(rich, BUY, 30, kind="market").filled == 21
    assert ex.last <= 525_000


# ----------------------------------------------------------------- foreign accounts


@pytest.mark.parametrize("account", [-1, -4, 10**6, 0, 1, 3, 2.0, "4", None])
def test_cancel_all_of_a_foreign_or_unknown_account_is_refused(account):
    """``cancel_all(-1)`` cancelled the last account's orders; ``cancel_all(10**6)`` raised."""
    ex = exchange()
    trader = ex.open_account(1_000 * U)
    assert ex.submit(trader, BUY, 1, P0)
    before = fingerprint(ex)
    result = ex.cancel_all(account)
    assert result.reason is Reject.UNKNOWN_ACCOUNT
    assert fingerprint(ex) == before
    assert ex.cancel_all(trader).cancelled == 1


@pytest.mark.parametrize("account", [-1, 10**6, "4", None])
def test_views_of_an_unknown_account_raise_a_clear_error(account):
    ex = exchange()
    ex.open_account(1_000 * U)
    for view in (
        ex.balance,
        ex.position,
        ex.isolated_margin,
        ex.available,
        ex.equity,
        ex.unrealized_pnl,
        ex.maintenance_margin,
        ex.liquidation_threshold,
    ):
        with pytest.raises(UnknownAccountError, match="unknown account"):
            view(account)


# ----------------------------------------------------------------- liquidation at 100%


@pytest.mark.parametrize(("at_equality", "liquidated"), [(True, True), (False, False)])
def test_equity_exactly_at_maintenance_is_liquidated_as_the_rulebook_says(at_equality, liquidated):
    """Binance liquidates when the margin ratio reaches 100%; equality was not liquidated.

    A cross long of 0.2 BTC at 50,000 with 1,004.00456 USDT (1,000.00456 after the 4 USDT taker
    fee) has equity 36.14456 = maintenance margin ceil(0.2 x 45,180.7 x 0.4%) at 45,180.7."""
    ex = exchange(
        margin_mode="cross",
        price_filter=WIDE_BAND,
        insurance_fund_seed=10_000,
        liquidation={"liquidate_at_equality": at_equality},
    )
    short = ex.open_account(100_000 * U, leverage=10)
    long = ex.open_account(1_004_004_560, leverage=10)
    assert ex.submit(short, SELL, 200, P0)
    assert ex.submit(long, BUY, 200, kind="market").filled == 200
    maker = ex.open_account(10_000 * U, leverage=5)
    taker = ex.open_account(10_000 * U, leverage=5)
    ex.begin_tick(1, 451_807)
    assert ex.submit(maker, BUY, 1, 451_807)
    assert ex.submit(taker, SELL, 1, kind="market").filled == 1
    ex.end_tick()
    assert ex.mark == 451_807
    assert ex.equity(long) == ex.maintenance_margin(long) or ex.position(long) == 0
    assert [e.account for e in ex.liquidations] == ([long] if liquidated else [])
    ex.check_invariants()


# ----------------------------------------------------------------- the vault


def test_the_backstop_vault_cannot_trade_past_its_margin():
    """The vault traded through ``submit`` with no margin check at all."""
    ex = exchange(backstop_vault_seed=0)
    maker = ex.open_account(100_000 * U, leverage=5)
    assert ex.submit(maker, SELL, 100, P0)
    before = fingerprint(ex)
    result = ex.submit(VAULT, BUY, 100, P0)
    assert result.reason is Reject.INSUFFICIENT_MARGIN
    assert fingerprint(ex) == before
    funded = exchange(backstop_vault_seed=10_000)
    maker = funded.open_account(100_000 * U, leverage=5)
    assert funded.submit(maker, SELL, 100, P0)
    assert funded.submit(VAULT, BUY, 100, P0).filled == 100
    funded.check_invariants()


def test_funding_that_pushes_a_position_past_its_threshold_liquidates_it_in_the_same_tick():
    """Funding used to land after the tick's liquidation rounds, so a position it pushed past
    its threshold ended the tick unliquidated (probe_money2, seed 700156: -872.6 USDT of equity)
    and waited a tick. The rounds now run again after funding: at every tick's end no account
    is past its threshold (Exchange.check_tick_end, also a property-test invariant)."""
    ex = exchange(
        funding={
            "interest_rate": 0.01,
            "premium_clamp": 0.01,
            "rate_cap": 0.05,
            "interval_ticks": 1,
        },
        insurance_fund_seed=10_000,
    )
    long, short = pair(ex, 10, 200 * U, 1_000 * U)
    maker = ex.open_account(100_000 * U, leverage=2)
    assert ex.submit(maker, BUY, 100, P0 - 10).resting == 100
    liquidated_at = None
    for tick in range(1, 30):
        ex.begin_tick(tick, P0)
        ex.end_tick()
        ex.check_tick_end()
        ex.check_invariants()
        events = [e for e in ex.liquidations if e.account == long]
        if events:
            liquidated_at = events[0].tick
            break
    assert liquidated_at is not None, "funding never brought the long to its threshold"
    (payment,) = [p for p in ex.funding_payments if p[0] == liquidated_at]
    assert payment[1] > 0  # this tick's funding is what pushed it over
