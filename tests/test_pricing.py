"""Unit tests of index, mark and funding: hand-computed marks, premium, rate and settlement.

Rates are integer parts per billion (ppb): 0.01% = 100,000 ppb. Prices are ticks of 0.1 USDT.
"""

from __future__ import annotations

import pytest

from abm.exchange import BUY, SELL, Cause, Exchange
from abm.exchange.book import Order, OrderBook
from abm.exchange.pricing import PriceFeed
from tests.conftest import U, make_rulebook

K = 100


def feed(mode: str = "last", **funding) -> PriceFeed:
    rules = make_rulebook(
        mark_price={"mode": mode, "basis_window_ticks": 3},
        funding={
            "interval_ticks": 100,
            "sample_interval_ticks": 1,
            "interest_rate": 0.0001,
            "premium_clamp": 0.0005,
            "rate_cap": 0.003,
            "impact_notional": 1_000.0,
            **funding,
        },
    )
    return PriceFeed(rules, K)


def book(bids=(), asks=()) -> OrderBook:
    """A book from ``(price, qty)`` pairs."""
    b = OrderBook()
    for i, (price, qty) in enumerate(bids):
        b.add(Order(i, 10, BUY, price, qty, False))
    for i, (price, qty) in enumerate(asks, start=len(bids)):
        b.add(Order(i, 10, SELL, price, qty, False))
    return b


def quote(mid_low: int, mid_high: int) -> OrderBook:
    return book(bids=[(mid_low, 1)], asks=[(mid_high, 1)])


# ----------------------------------------------------------------------------- index and mark


def test_set_index_rejects_non_positive_or_non_integer_prices():
    f = feed()
    for bad in (0, -5, 100.0):
        with pytest.raises(ValueError, match=f"positive whole number of ticks, got {bad}"):
            f.set_index(bad)


def test_first_index_initializes_the_mark_and_later_ones_do_not():
    f = feed()
    f.set_index(1_000)
    assert f.mark == 1_000
    f.set_index(1_200)
    assert (f.index, f.mark) == (1_200, 1_000)


def test_last_mode_marks_at_last_or_the_index_before_any_trade():
    f = feed("last")
    f.set_index(1_000)
    assert f.update(book(), tick=1, sample=True) == 1_000
    f.last = 1_017
    assert f.update(quote(990, 1_010), tick=2, sample=True) == 1_017


def test_index_basis_mode_adds_the_windowed_mean_of_mid_minus_index():
    f = feed("index_basis")
    f.set_index(1_000)
    assert f.update(quote(1_000, 1_010), tick=1, sample=True) == 1_005  # basis 5
    f.set_index(1_010)
    # basis (1,006 + 1,010) // 2 - 1,010 = -2; mean (5 - 2) // 2 = 1
    assert f.update(quote(1_006, 1_010), tick=2, sample=True) == 1_011
    f.set_index(990)
    # basis 1,000 - 990 = 10; mean (5 - 2 + 10) // 3 = 4
    assert f.update(quote(999, 1_001), tick=3, sample=True) == 994
    # basis 1; the window of 3 drops the first sample: (-2 + 10 + 1) // 3 = 3
    assert f.update(quote(990, 992), tick=4, sample=True) == 993
    assert list(f.basis) == [-2, 10, 1] and f.basis_sum == 9


def test_index_basis_mean_rounds_down():
    f = feed("index_basis")
    f.set_index(1_000)
    f.update(quote(998, 1_000), tick=1, sample=True)  # basis -1
    f.update(quote(1_000, 1_000), tick=2, sample=True)  # basis 0
    assert f.mark == 999  # -1 // 2 = -1


def test_index_basis_with_a_one_sided_book_uses_last_or_zero():
    f = feed("index_basis")
    f.set_index(1_000)
    assert f.update(book(bids=[(1_100, 1)]), tick=1, sample=True) == 1_000  # no last: basis 0
    f.last = 1_030
    # basis 30: mean (0 + 30) // 2 = 15
    assert f.update(book(asks=[(1_100, 1)]), tick=2, sample=True) == 1_015


def test_update_without_sampling_keeps_the_basis_window():
    f = feed("index_basis")
    f.set_index(1_000)
    f.update(quote(1_000, 1_010), tick=1, sample=True)
    f.set_index(2_000)
    assert f.update(quote(1_000, 1_010), tick=1, sample=False) == 2_005
    assert list(f.basis) == [5]


def test_binance_median_picks_the_funding_adjusted_index():
    # Rate with no premium samples: 0 + clamp(100,000 - 0, +-500,000) = 100,000 ppb.
    # At tick 20 of a 100-tick interval, 80 ticks to go:
    # funded = 1,000,000 + 1,000,000 x 100,000 x 80 // (100 x 10^9) = 1,000,080.
    f = feed("binance_median")
    f.set_index(1_000_000)
    f.last = 1_000_200
    mark = f.update(quote(1_000_000, 1_000_010), tick=20, sample=False)  # no basis yet: 0
    # median(1,000,080, 1,000,000, 1,000,200)
    assert mark == 1_000_080


def test_binance_median_picks_the_basis_adjusted_index():
    f = feed("binance_median")
    f.set_index(1_000_000)
    f.last = 1_000_500
    # basis (1,000,100 + 1,000,120) // 2 - 1,000,000 = 110; rate still 100,000 ppb as the
    # premium sample of a two-lot book is 0 (too thin for the impact notional).
    # At tick 50: funded = 1,000,000 + 10^6 x 100,000 x 50 // 10^11 = 1,000,050.
    mark = f.update(quote(1_000_100, 1_000_120), tick=50, sample=True)
    assert f.premium_sum == 0 and f.premium_count == 1
    assert mark == 1_000_110  # median(1,000,050, 1,000,110, 1,000,500)


def test_binance_median_picks_last():
    f = feed("binance_median")
    f.set_index(1_000_000)
    f.last = 1_000_030
    # At tick 0, 100 ticks to go: funded = 1,000,100; basis-adjusted 1,000,000.
    assert f.update(book(), tick=0, sample=False) == 1_000_030


def test_mark_is_at_least_one_tick():
    f = feed("index_basis")
    f.set_index(10)
    assert f.update(quote(1, 1), tick=1, sample=True) == 1  # 10 + (1 - 10) = 1
    assert f.update(book(bids=[(1, 1)], asks=[(1, 1)]), tick=2, sample=True) == 1


# ----------------------------------------------------------------------------- premium and rate


def test_impact_value_is_the_impact_notional_in_lot_ticks():
    assert feed().impact_value == 1_000 * U // K  # 10,000,000 lot-ticks = 1,000 USDT


def test_premium_from_an_impact_bid_above_the_index():
    f = feed()
    f.set_index(500_000)
    # Impact notional 10,000,000 lot-ticks: bids 10 @ 500,500 (5,005,000), then
    # ceil(4,995,000 / 500,200) = 10 lots @ 500,200: (5,005,000 + 5,002,000) // 20 = 500,350.
    # The impact ask (20 lots @ 500,600) is above the index and adds nothing.
    b = book(bids=[(500_500, 10), (500_200, 30)], asks=[(500_600, 20)])
    assert b.impact_price(BUY, f.impact_value) == 500_350
    assert f.premium(b) == 350 * 10**9 // 500_000 == 700_000


def test_premium_from_an_impact_ask_below_the_index():
    f = feed()
    f.set_index(500_000)
    b = book(bids=[(498_000, 100)], asks=[(499_000, 100)])
    assert f.premium(b) == -1_000 * 10**9 // 500_000 == -2_000_000


def test_premium_is_zero_inside_the_index_or_with_a_thin_book():
    f = feed()
    f.set_index(500_000)
    assert f.premium(book(bids=[(499_000, 100)], asks=[(501_000, 100)])) == 0
    assert f.premium(book(bids=[(600_000, 1)], asks=[(400_000, 1)])) == 0  # too thin
    assert f.premium(book()) == 0


def test_premium_is_sampled_only_every_sample_interval_and_averaged_down():
    f = feed(sample_interval_ticks=2)
    f.set_index(500_000)
    rich = book(bids=[(500_500, 10), (500_200, 30)], asks=[(500_600, 20)])  # 700,000 ppb
    cheap = book(bids=[(498_000, 100)], asks=[(499_000, 100)])  # -2,000,000 ppb
    f.update(rich, tick=2, sample=True)
    f.update(rich, tick=3, sample=True)  # not a sample tick
    f.update(cheap, tick=4, sample=True)
    f.update(rich, tick=6, sample=False)  # not sampling
    assert (f.premium_sum, f.premium_count) == (-1_300_000, 2)
    # mean -650,000; interest - premium = 750,000 clamps to 500,000: rate -150,000.
    assert f.funding_rate() == -150_000


@pytest.mark.parametrize(
    ("premium", "rate"),
    [
        (0, 100_000),  # interest alone
        (50_000, 100_000),  # |interest - premium| within the clamp: rate = interest
        (700_000, 200_000),  # 700,000 + clamp(-600,000) = 700,000 - 500,000
        (-2_000_000, -1_500_000),  # -2,000,000 + clamp(2,100,000) = -2,000,000 + 500,000
        (5_000_000, 3_000_000),  # 4,500,000 capped at 0.3%
        (-5_000_000, -3_000_000),  # -4,500,000 floored at -0.3%
    ],
)
def test_funding_rate_is_premium_plus_clamped_interest_capped(premium, rate):
    f = feed()
    f.premium_sum, f.premium_count = premium, 1
    assert f.funding_rate() == rate


def test_funding_is_due_only_at_interval_ends_after_tick_zero():
    f = feed()
    assert [t for t in range(0, 301) if f.funding_due(t)] == [100, 200, 300]


def test_closing_the_interval_returns_the_rate_and_resets_the_samples():
    f = feed()
    f.premium_sum, f.premium_count = 1_400_000, 2
    assert f.close_funding_interval() == 200_000
    assert (f.premium_sum, f.premium_count, f.last_rate) == (0, 0, 200_000)
    assert f.funding_rate() == 100_000


# ----------------------------------------------------------------------------- settlement


def funded_exchange(interest: float) -> tuple[Exchange, list[int]]:
    """Longs B (vs shorts A and C) and D (vs E) at 50,000; mark = last = 500,000; empty book."""
    ex = Exchange(
        make_rulebook(
            maker_fee=0,
            taker_fee=0,
            funding={
                "interval_ticks": 10,
                "sample_interval_ticks": 1,
                "interest_rate": interest,
                "premium_clamp": 0.0005,
            },
        )
    )
    ex.begin_tick(0, 500_000)
    a, b, c, d, e = (ex.open_account(10_000 * U) for _ in range(5))
    for short, long, qty in ((a, b, 10), (c, b, 7), (e, d, 3)):
        assert ex.submit(short, SELL, qty, 500_000)
        assert ex.submit(long, BUY, qty, kind="market").filled == qty
    ex.end_tick()
    return ex, [a, b, c, d, e]


def funding_transfers(ex: Exchange) -> list[tuple[int, int, int, int]]:
    log = ex.ledger
    return [
        (log.log_tick[i], log.log_src[i], log.log_dst[i], log.log_amount[i])
        for i in range(len(log))
        if log.log_cause[i] == Cause.FUNDING
    ]


def test_positive_funding_is_paid_along_links_from_longs_to_shorts_at_interval_end():
    # Rate 123,457 ppb (0.0123457%), premium 0. Amount = lots x 500,000 x 100 x rate // 10^9:
    # 10 lots -> 61,728 (61,728.5 rounded down), 7 -> 43,209 (.95), 3 -> 18,518 (.55).
    ex, (a, b, c, d, e) = funded_exchange(0.000123457)
    margin_b = ex.isolated_margin(b)
    for tick in range(1, 10):
        ex.begin_tick(tick, 500_000)
        ex.end_tick()
    assert funding_transfers(ex) == [] and ex.funding_payments == []
    ex.begin_tick(10, 500_000)
    ex.end_tick()
    assert funding_transfers(ex) == [
        (10, b, a, 61_728),
        (10, b, c, 43_209),
        (10, d, e, 18_518),
    ]
    assert [(t, rate) for t, rate, _ in ex.funding_payments] == [(10, 123_457)]
    assert ex.balance(b) == 10_000 * U - 61_728 - 43_209
    assert ex.balance(a) == 10_000 * U + 61_728
    assert ex.isolated_margin(b) == margin_b - 61_728 - 43_209
    ex.check_invariants()
    for tick in range(11, 20):
        ex.begin_tick(tick, 500_000)
        ex.end_tick()
    assert len(funding_transfers(ex)) == 3


def test_negative_funding_is_paid_from_shorts_to_longs():
    ex, (a, b, c, d, e) = funded_exchange(-0.0001)
    margin_a, margin_b = ex.isolated_margin(a), ex.isolated_margin(b)
    ex.begin_tick(10, 500_000)
    ex.end_tick()
    # Rate -100,000 ppb: 10 lots -> 50,000, 7 -> 35,000, 3 -> 15,000.
    assert funding_transfers(ex) == [(10, a, b, 50_000), (10, c, b, 35_000), (10, e, d, 15_000)]
    assert ex.isolated_margin(a) == margin_a - 50_000
    assert ex.isolated_margin(b) == margin_b + 85_000
    ex.check_invariants()


def test_zero_funding_rate_moves_nothing_but_is_recorded():
    ex, _ = funded_exchange(0.0)
    ex.begin_tick(10, 500_000)
    ex.end_tick()
    assert funding_transfers(ex) == []
    assert [(t, rate) for t, rate, _ in ex.funding_payments] == [(10, 0)]
