"""Liquidation scenarios with hand-computed answers, to the micro-unit.

Common set-up: a long of 0.2 BTC at 50,000 USDT with 10x leverage (1,000 USDT isolated margin
after a 4 USDT taker fee). Maintenance rate 0.4% gives the liquidation price
(1000 - 10000) / (0.2 x 0.004 - 0.2) = 45,180.72, so a mark of 45,180.7 liquidates it; the
bankruptcy price is 50,000 - 1,000 / 0.2 = 45,000.
"""

from __future__ import annotations

from abm.exchange import BUY, SELL, Cause, SystemAccount
from tests.conftest import U
from tests.scenarios import MARKET_CLOSE, crash, opened, second_pair, transfers

FUND = SystemAccount.INSURANCE_FUND
EXCHANGE = SystemAccount.EXCHANGE


def test_long_loss_lands_on_short_fee_and_surplus_to_fund():
    scenario = opened()
    ex, long, short = scenario.ex, scenario.long, scenario.short
    assert ex.isolated_margin(long) == 1_000 * U
    assert ex.liquidation_threshold(long) == 451_807
    maker = scenario.fall(bids=[(1_000, 451_500)], mark_to=451_500).maker
    ex.check_invariants()

    (event,) = ex.liquidations
    assert (event.account, event.side, event.qty, event.closed) == (long, "long", 200, 200)
    assert event.bankruptcy_price == 450_000
    assert event.fills == [(maker, 200, 451_500)]
    # The long's loss, 0.2 x (50,000 - 45,150) = 970 USDT, goes to the short it traded with.
    assert (long, short, 970 * U) in transfers(ex, Cause.TRADE_PNL)
    # Clearance fee 0.3% of 0.2 x 45,150 = 27.09; the remaining 2.91 is surplus; both to the fund.
    assert transfers(ex, Cause.CLEARANCE_FEE) == [(long, FUND, 27_090_000)]
    assert transfers(ex, Cause.INSURANCE_SURPLUS) == [(long, FUND, 2_910_000)]
    assert event.insurance_delta == 30 * U
    assert ex.balance(long) == 0 and ex.accounts[long].position == 0
    # The maker now holds the long exposure against the short, re-pointed at the fill price.
    assert [(lk.long, lk.short, lk.qty, lk.ref) for lk in ex.accounts[short].live_links()] == [
        (maker, short, 200, 451_500)
    ]


def test_gap_through_bankruptcy_drains_the_fund():
    scenario = crash(insurance_fund_seed=20)
    ex, long, short = scenario.ex, scenario.long, scenario.short
    ex.check_invariants()

    (event,) = ex.liquidations
    # IOC at the bankruptcy price finds no bid; the fund unwinds at 44,900, 100 below
    # bankruptcy: a 20 USDT loss, exactly the fund.
    assert [a.step for a in event.actions] == ["insurance_fund"]
    assert event.actions[0].amount == 20 * U
    assert transfers(ex, Cause.INSURANCE_PAYOUT) == [(FUND, long, 20 * U)]
    assert ex.balance(FUND) == 0
    assert (long, short, 1_020 * U) in transfers(ex, Cause.TRADE_PNL)
    assert ex.balance(long) == 0


def test_empty_fund_deleverages_most_profitable_most_leveraged_short():
    scenario = crash(shorts=[(250, 50, 200)], before_crash=second_pair)
    ex, long, risky = scenario.ex, scenario.long, scenario.short
    careful = scenario.extra["careful"]
    ex.check_invariants()

    (event,) = ex.liquidations
    assert [(a.step, a.counterparty, a.qty, a.price) for a in event.actions] == [
        ("adl", risky, 200, 450_000)
    ]
    # The deleveraged short gave up 0.2 x (45,000 - 44,900) = 20 USDT against the mark.
    assert event.actions[0].haircut == 20 * U
    # A bid at 44,900 was there; the empty fund could not pay the 100 below bankruptcy.
    assert event.actions[0].reason == "insurance_fund_short"
    assert ex.accounts[risky].position == 0
    assert ex.accounts[careful].position == -200
    # Closing at bankruptcy: the long's whole margin, 1,000 USDT, goes to the short.
    assert transfers(ex, Cause.ADL) == [(long, risky, 1_000 * U)]
    assert ex.balance(long) == 0 and ex.balance(FUND) == 0


def test_adl_with_a_healthy_fund_says_the_book_could_not_absorb():
    """With a full fund but no bid within the unwind's 10% bound, ADL acts and records why."""
    scenario = crash(
        shorts=[(250, 50, 200)], before_crash=second_pair, bids=(), insurance_fund_seed=100_000
    )
    (event,) = scenario.ex.liquidations
    assert [a.step for a in event.actions] == ["adl"]
    assert event.actions[0].reason == "book_cannot_absorb"
    scenario.ex.check_invariants()


def test_trader_debt_leaves_a_negative_balance():
    scenario = crash(backstops=("trader_debt",), margin_mode="cross", liquidation=MARKET_CLOSE)
    ex, long, maker = scenario.ex, scenario.long, scenario.maker
    ex.check_invariants()

    (event,) = ex.liquidations
    assert event.fills == [(maker, 200, 449_000)]
    assert event.deficit == 20 * U and event.debt == 20 * U
    assert ex.balance(long) == -20 * U
    assert ex.accounts[long].position == 0


def test_a_fund_with_no_taker_after_it_unwinds_to_the_book_and_leaves_the_rest_as_debt():
    """No vault or ADL follows the fund, so nothing would take the position at bankruptcy: the
    fund unwinds at the book's 44,900 (0.2 x 100 = 20 USDT beyond bankruptcy), pays its 5 USDT
    and the other 15 stay with the trader, instead of the position staying open to be retried
    every round."""
    scenario = crash(insurance_fund_seed=5, backstops=("insurance_fund", "trader_debt"))
    ex, long, maker = scenario.ex, scenario.long, scenario.maker
    ex.check_invariants()

    (event,) = ex.liquidations
    assert event.fills == [(maker, 200, 449_000)]
    assert [a.step for a in event.actions] == ["insurance_fund", "trader_debt"]
    assert transfers(ex, Cause.INSURANCE_PAYOUT) == [(FUND, long, 5 * U)]
    assert event.debt == 15 * U and ex.balance(long) == -15 * U
    assert ex.accounts[long].position == 0


def test_a_rulebook_with_no_taker_sends_the_liquidation_order_past_bankruptcy():
    """With only trader debt behind it, the bankruptcy-price IOC would never fill in a gap;
    the order goes to the slippage bound and the 20 USDT beyond bankruptcy is debt."""
    scenario = crash(backstops=("trader_debt",))
    ex, long, maker = scenario.ex, scenario.long, scenario.maker
    ex.check_invariants()

    (event,) = ex.liquidations
    assert event.fills == [(maker, 200, 449_000)]
    assert event.deficit == 20 * U and event.debt == 20 * U
    assert ex.balance(long) == -20 * U and ex.accounts[long].position == 0


def test_socialized_loss_takes_from_winners_pro_rata():
    scenario = crash(
        shorts=[(100_000, 10, 100), (100_000, 10, 100)],
        backstops=("socialized_loss", "exchange_absorbs"),
        liquidation=MARKET_CLOSE,
    )
    ex, long = scenario.ex, scenario.long
    ex.check_invariants()

    (event,) = ex.liquidations
    assert event.deficit == 20 * U
    taken = sorted(transfers(ex, Cause.SOCIALIZED_LOSS))
    assert sum(amount for _, _, amount in taken) == 20 * U
    assert all(dst == long for _, dst, _ in taken)
    assert ex.balance(long) == 0


def test_exchange_absorbs_what_the_fund_cannot():
    scenario = crash(
        insurance_fund_seed=5,
        backstops=("insurance_fund", "exchange_absorbs"),
        liquidation=MARKET_CLOSE,
    )
    ex, long = scenario.ex, scenario.long
    ex.check_invariants()

    (event,) = ex.liquidations
    assert transfers(ex, Cause.INSURANCE_PAYOUT) == [(FUND, long, 5 * U)]
    assert transfers(ex, Cause.DEBT) == [(EXCHANGE, long, 15 * U)]
    assert [a.step for a in event.actions] == ["insurance_fund", "exchange_absorbs"]
    assert ex.balance(long) == 0 and ex.balance(FUND) == 0


def test_backstop_vault_takes_over_at_bankruptcy():
    scenario = crash(
        bids=[], backstops=("backstop_vault", "exchange_absorbs"), backstop_vault_seed=10_000
    )
    ex, long, short = scenario.ex, scenario.long, scenario.short
    ex.check_invariants()

    vault = SystemAccount.BACKSTOP_VAULT
    (event,) = ex.liquidations
    assert [(a.step, a.qty, a.price) for a in event.actions] == [("backstop_vault", 200, 450_000)]
    assert ex.accounts[vault].position == 200
    assert transfers(ex, Cause.BACKSTOP_TAKEOVER) == [(long, short, 1_000 * U)]
    assert ex.balance(long) == 0


def test_partial_liquidation_closes_a_slice_then_rechecks():
    scenario = crash(
        bids=[(1_000, 451_500)],
        mark_to=451_500,
        liquidation={"partial": True, "partial_fraction": 0.25, "partial_min_notional": 1_000},
    )
    ex, long = scenario.ex, scenario.long
    ex.check_invariants()
    first = ex.liquidations[0]
    assert first.partial and first.closed == 50
    assert all(e.account == long for e in ex.liquidations)


def test_cascade_liquidation_fills_move_the_mark_into_the_next_account():
    scenario = opened(shorts=[(1_000_000, 10, 200)], liquidation=MARKET_CLOSE)
    ex, first, short = scenario.ex, scenario.long, scenario.short
    second = ex.open_account(1_004 * U, leverage=10)
    assert ex.submit(short, SELL, 200, 495_000)
    assert ex.submit(second, BUY, 200, kind="market").filled == 200
    # The second long (entry 49,500) is liquidated below ~44,728; only bids at 45,150 and
    # 44,500 exist: the first liquidation sells through 45,150 into 44,500 and moves the mark.
    scenario.fall(bids=[(150, 451_500), (1_000, 445_000)], mark_to=451_500)
    ex.check_invariants()
    assert [e.account for e in ex.liquidations] == [first, second]
    assert [e.round for e in ex.liquidations] == [0, 1]


def test_multi_fill_liquidation_keeps_all_margin_with_the_position():
    """Two fills above bankruptcy (0.1 BTC at 45,150 and 0.1 BTC at 45,100) leave
    0.1 x 150 + 0.1 x 100 = 25 USDT over the bankruptcy price: a 0.1% clearance fee on
    0.2 x 45,150 (9.03 USDT) and the 15.97 USDT rest to the fund; nothing goes back to the
    trader between the fills."""
    scenario = crash(
        bids=[(100, 451_500), (100, 451_000)],
        mark_to=451_500,
        liquidation={"clearance_fee": 0.001},
    )
    ex, long = scenario.ex, scenario.long
    ex.check_invariants()

    (event,) = ex.liquidations
    by_price = {}
    for _, lots, price in event.fills:
        by_price[price] = by_price.get(price, 0) + lots
    assert by_price == {451_500: 100, 451_000: 100} and len(event.fills) > 1
    assert event.clearance_fee == 9_030_000
    assert event.insurance_surplus == 15_970_000
    assert event.insurance_delta == 25 * U
    assert ex.balance(long) == 0


def test_own_close_beyond_isolated_margin_is_paid_from_free_balance():
    """A trader's own market sell through a thin book loses more than its isolated margin;
    the rest comes from its free balance, not from the insurance fund."""
    scenario = opened(insurance_fund_seed=1_000)
    ex, long = scenario.ex, scenario.long
    assert ex.deposit(long, 500 * U)
    scenario.bid([(200, 448_000)])
    result = ex.submit(long, SELL, 200, kind="market", reduce_only=True)
    assert result.filled == 200
    ex.check_invariants()
    # Loss 0.2 x (50,000 - 44,800) = 1,040 USDT: 1,000 of margin and 40 of the 500 free;
    # then the taker fee, 0.04% of 0.2 x 44,800 = 3.584 USDT.
    assert ex.balance(long) == 456_416_000
    assert ex.balance(FUND) == 1_000 * U
    assert ex.liquidations == []


def test_a_backstop_actions_counterparty_is_a_plain_int_under_either_core():
    """A system account was a SystemAccount enum in the interpreted core and a plain int in the
    compiled one, so the two cores' event reprs differed; both give the int now."""
    scenario = crash(
        bids=[], backstops=("backstop_vault", "exchange_absorbs"), backstop_vault_seed=10_000
    )
    (event,) = scenario.ex.liquidations
    (action,) = event.actions
    assert type(action.counterparty) is int
    assert action.counterparty == int(SystemAccount.BACKSTOP_VAULT)
    assert repr(action).startswith("BackstopAction(step='backstop_vault', counterparty=2,")
