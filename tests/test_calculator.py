"""Golden and property tests of the public calculator (``abm.exchange.calculator``).

Every golden test names the page its numbers come from; the pages are stored copies read through
the project's search tool, and the formulas are summarised in
``docs/exchange-mechanics.md``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from abm.exchange.calculator import (
    adl_rank,
    bankruptcy_price,
    liquidation_price,
    maintenance_amounts,
    maintenance_margin,
)

INF = math.inf

# BTCUSDT brackets from 2021-03-18 (cap, max leverage, mmr), Binance announcement
# https://www.binance.com/tr/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6 ; the last cap
# was 500M then, here unbounded.
BTCUSDT_2021 = [
    (50_000, 125, 0.004),
    (250_000, 100, 0.005),
    (1_000_000, 50, 0.01),
    (10_000_000, 20, 0.025),
    (20_000_000, 10, 0.05),
    (50_000_000, 5, 0.10),
    (100_000_000, 4, 0.125),
    (200_000_000, 3, 0.15),
    (300_000_000, 2, 0.25),
    (INF, 1, 0.50),
]
# The same table with its published maintenance amounts, as reverse-engineered from Binance's
# front end in https://gist.github.com/highfestiva/b71e76f51eed84d56c1be8ebbcc286b5 .
BTCUSDT_2021_CUM = [
    0,
    50,
    1_300,
    16_300,
    266_300,
    1_266_300,
    2_516_300,
    5_016_300,
    25_016_300,
    100_016_300,
]


def equity(side: str, qty: float, entry: float, wallet: float, price: float) -> float:
    s = 1 if side == "long" else -1
    return wallet + s * qty * (price - entry)


# ----------------------------------------------------------------------------------- golden tests


def test_binance_cross_faq_example_liquidation_price():
    """Binance FAQ 25edcd7f (https://binance.com/en/support/faq/25edcd7fe0e544839d0847b8cbb2e400).

    Cross margin, wallet 500 USDT, long 0.02 BTC at 50,000 (1,000 USDT notional, 20x), MMR 0.4%,
    cum 0, no other positions -> liquidation price 25,100.40.
    """
    lp = liquidation_price("long", 0.02, 50_000, 500, BTCUSDT_2021)
    assert round(lp, 2) == 25_100.40
    # The notional at the liquidation price (~502 USDT) stays in tier 1 (0.4%, cum 0).
    assert 0.02 * lp <= 50_000


def test_binance_maintenance_amount_faq_example():
    """Binance FAQ b3c689c1 (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93).

    Worked example: maintenance amount of the 250k-1M tier = 250,000 x (1% - 0.5%) + 50 = 1,300.
    """
    cums = maintenance_amounts(BTCUSDT_2021)
    assert cums[2] == pytest.approx(250_000 * (0.01 - 0.005) + 50) == 1_300


def test_binance_2021_btcusdt_maintenance_amounts_match_published_table():
    """All derived cum values equal the published list (reference section 1; gist above)."""
    assert maintenance_amounts(BTCUSDT_2021) == pytest.approx(BTCUSDT_2021_CUM, abs=1e-6)


def test_binance_faq_tier_lookup_examples():
    """Binance FAQ b3c689c1, stored copy at
    https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93

    "if the position size of a USDT-margined BTCUSDT contract is 264,000 USDT, then the
    maintenance margin rate would be 1%"; "if the position size ... is 500,000 USDT, then the
    maintenance amount would be 1,300 USDT". MM = notional x MMR - maintenance amount.
    """
    assert maintenance_margin(264_000, BTCUSDT_2021) == pytest.approx(264_000 * 0.01 - 1_300)
    assert maintenance_margin(500_000, BTCUSDT_2021) == pytest.approx(500_000 * 0.01 - 1_300)


def test_binance_coin_m_faq_maintenance_margin_example():
    """Binance COIN-M FAQ ceccfcfb, stored copy at
    https://www.binance.com/es-MX/support/faq/how-to-calculate-liquidation-price-of-coin-m-futures-contracts-ceccfcfb4e3a45e3b48b0b1bb1a8ae46

    "100 * 100 / 25,000 = 0.4 BTC, which is in margin level 1 ... Maintenance Margin =
    100 * 100 / 25,000 * 0.4% - 0 = 0.0016 BTC". The formula is unit-free, so it works in BTC too.
    The excerpt does not give level 1's cap; any cap >= 0.4 BTC gives the same number.
    """
    assert maintenance_margin(100 * 100 / 25_000, [(INF, 125, 0.004)]) == pytest.approx(0.0016)


def test_bybit_usdt_isolated_liquidation_example():
    """Bybit "Liquidation Price (USDT Contract)", stored copy at
    https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract

    Example 1: long 1 BTC at 20,000 USDT, 50x, MMR 0.5%, no extra margin: IM = 400, MM = 100,
    LP = 20,000 - (400 - 100) = 19,700.

    Bybit measures the maintenance margin at the *entry* value, Binance (our
    ``liquidation_price``) at the liquidation price itself, so our function cannot give 19,700.
    What we reproduce exactly: IM, MM at entry, the bankruptcy price 19,600 and Bybit's
    LP = BP + MM(entry)/q. Our Binance-style price is within the MM difference of Bybit's.
    """
    brackets = [(INF, 50, 0.005)]
    qty, entry, leverage = 1.0, 20_000.0, 50
    initial_margin = qty * entry / leverage
    assert initial_margin == 400
    mm_at_entry = maintenance_margin(qty * entry, brackets)
    assert mm_at_entry == pytest.approx(100)
    bp = bankruptcy_price("long", qty, entry, initial_margin)
    assert bp == pytest.approx(19_600)
    assert bp + mm_at_entry / qty == pytest.approx(19_700)

    binance_style = liquidation_price("long", qty, entry, initial_margin, brackets)
    # (400 - 20,000) / (0.005 - 1) = 19,698.49...: MM at 19,698 is 98.49 instead of 100.
    assert binance_style == pytest.approx(19_600 / 0.995)
    assert 0 < 19_700 - binance_style < 0.005 * (entry - binance_style) + 1e-9


def test_bybit_usdt_bankruptcy_price_example():
    """Bybit "Bankruptcy Price (USDT Contract)", quoted in the stored Bybit help-centre listing
    https://www.bybitx.global/fil-PH/help-center/search-result?page=46&pageSize=10&query=trade

    "traders hold a 1BTC Long position with an entry price at 10,000USDT, leverage is 50x.
    Bankruptcy Price = 10,000 x (1 - 2%) = 9,800 USDT". Isolated margin = 10,000 / 50 = 200.
    The short formula on the same page is E x (1 + 1/lev): 10,200 for the mirrored position.
    """
    assert bankruptcy_price("long", 1, 10_000, 10_000 / 50) == pytest.approx(9_800)
    assert bankruptcy_price("short", 1, 10_000, 10_000 / 50) == pytest.approx(10_200)


def test_bitmex_adl_rank_formula():
    """BitMEX "Auto-Deleveraging", stored copy at https://bitmex.com/app/autoDeleveraging

    Ranking = PNL% x Effective Leverage if PNL% > 0, PNL% / Effective Leverage if PNL% < 0, with
    Effective Leverage = |Mark Value| / (Mark Value - Bankrupt Value) and
    PNL% = (Mark Value - Avg Entry Value) / |Avg Entry Value|. The page (and its examples page,
    https://www.bitmex.com/app/autoDeleveragingExamples) gives no numeric ranking, only abstract
    scores, so the numbers here are ours: a linear long of 1 BTC, entry 10,000, mark 11,000,
    bankruptcy 9,000 -> PnL% = 0.1, effective leverage 11,000 / 2,000 = 5.5, rank 0.55; the same
    position marked at 9,500 -> PnL% = -0.05, effective leverage 9,500 / 500 = 19, rank -0.05/19.
    """
    entry_value, bankrupt_value = 10_000.0, 9_000.0
    mark_value = 11_000.0
    pnl = (mark_value - entry_value) / abs(entry_value)
    lev = abs(mark_value) / (mark_value - bankrupt_value)
    assert adl_rank(pnl, lev) == pytest.approx(0.55)
    mark_value = 9_500.0
    pnl = (mark_value - entry_value) / abs(entry_value)
    lev = abs(mark_value) / (mark_value - bankrupt_value)
    assert adl_rank(pnl, lev) == pytest.approx(-0.05 / 19)
    # Zero PnL ranks 0; any profit ranks above any loss, as the page's ordering requires.
    assert adl_rank(0.0, 3.0) == 0.0
    assert adl_rank(1e-9, 1.0) > adl_rank(-1e-9, 100.0)


# ------------------------------------------------------------------------ tiers and edge cases


def test_notional_at_a_cap_belongs_to_the_lower_tier_and_is_continuous():
    below = maintenance_margin(50_000, BTCUSDT_2021)
    assert below == pytest.approx(50_000 * 0.004)  # tier 1 (cum 0), not 0.5% - 50
    assert maintenance_margin(50_000 * (1 + 1e-12), BTCUSDT_2021) == pytest.approx(below)
    assert maintenance_margin(0, BTCUSDT_2021) == 0


def test_liquidation_price_recomputes_in_the_tier_of_its_own_notional():
    """A 2x long of 1.2 BTC at 50,000 (60,000 USDT, tier 2 at 0.5%) liquidates near 25,100,
    at ~30,120 USDT notional, so the price is recomputed with tier 1 (0.4%, cum 0)."""
    qty, entry = 1.2, 50_000.0
    wallet = qty * entry / 2
    lp = liquidation_price("long", qty, entry, wallet, BTCUSDT_2021)
    assert qty * lp <= 50_000  # moved down to tier 1
    assert lp == pytest.approx((wallet - qty * entry) / (qty * 0.004 - qty))
    assert equity("long", qty, entry, wallet, lp) == pytest.approx(
        maintenance_margin(qty * lp, BTCUSDT_2021)
    )


def test_short_liquidation_price_moves_up_a_tier():
    """A 1x short of 0.9 BTC at 50,000 (45,000 USDT, tier 1) liquidates near 99,560, at
    ~89,600 USDT notional, so the price is recomputed with tier 2 (0.5%, cum 50)."""
    qty, entry = 0.9, 50_000.0
    wallet = qty * entry
    lp = liquidation_price("short", qty, entry, wallet, BTCUSDT_2021)
    assert 50_000 < qty * lp <= 250_000
    assert lp == pytest.approx((wallet + 50 + qty * entry) / (qty * 0.005 + qty))


def test_tier_cycle_falls_back_to_the_self_consistent_tier():
    """With rates that fall between tiers (no real venue does this, but it validates), following
    the tiers goes 4 -> 1 -> 4 here and never visits tier 2; the fallback tries every tier and
    keeps the one whose own notional holds its price (case found by fuzzing)."""
    brackets = [(2310.0, 10, 0.49), (6059.0, 10, 0.06), (6425.0, 10, 0.12), (INF, 10, 0.6)]
    lp = liquidation_price("long", 1.0, 10_366.0, 7_074.0, brackets)
    assert 2310 < lp <= 6059  # tier 2 is the self-consistent one
    assert equity("long", 1.0, 10_366.0, 7_074.0, lp) == pytest.approx(
        maintenance_margin(lp, brackets)
    )


def test_liquidation_price_zero_when_no_positive_price_liquidates():
    # Long fully funded (1x plus a little): equity at price 0 covers the zero maintenance margin.
    assert liquidation_price("long", 1, 30_000, 30_001, BTCUSDT_2021) == 0.0
    # Short with a negative cross balance beyond its entry value: short of margin at every price.
    assert (
        liquidation_price("short", 1, 30_000, 1_000, BTCUSDT_2021, other_unrealized_pnl=-40_000)
        == 0.0
    )


def test_cross_mode_other_positions_shift_the_price():
    base = liquidation_price("long", 0.02, 50_000, 500, BTCUSDT_2021)
    worse = liquidation_price("long", 0.02, 50_000, 500, BTCUSDT_2021, other_maintenance=100)
    better = liquidation_price("long", 0.02, 50_000, 500, BTCUSDT_2021, other_unrealized_pnl=100)
    assert better < base < worse


def test_bracket_objects_with_attributes_are_accepted():
    class Tier:
        def __init__(self, notional_cap, max_leverage, mmr):
            self.notional_cap, self.max_leverage, self.mmr = notional_cap, max_leverage, mmr

    tiers = [Tier(*t) for t in BTCUSDT_2021]
    assert maintenance_amounts(tiers) == pytest.approx(BTCUSDT_2021_CUM, abs=1e-6)


# ----------------------------------------------------------------------------- property tests

sides = st.sampled_from(["long", "short"])
quantities = st.floats(min_value=1e-4, max_value=5_000, allow_nan=False, allow_infinity=False)
prices = st.floats(min_value=100, max_value=500_000, allow_nan=False, allow_infinity=False)
leverages = st.floats(min_value=1.01, max_value=125, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(side=sides, qty=quantities, entry=prices, leverage=leverages)
def test_isolated_equity_equals_maintenance_at_liquidation_price(side, qty, entry, leverage):
    wallet = qty * entry / leverage
    lp = liquidation_price(side, qty, entry, wallet, BTCUSDT_2021)
    assume(lp > 0)
    eq = equity(side, qty, entry, wallet, lp)
    mm = maintenance_margin(qty * lp, BTCUSDT_2021)
    assert eq == pytest.approx(mm, rel=1e-9, abs=1e-9 * qty * entry)


@st.composite
def any_brackets(draw):
    """Random tables: ascending caps, last one unbounded, rates in (0, 0.6), not necessarily
    rising (so that the tier-following loop can cycle and the fallback is exercised)."""
    caps = draw(st.lists(st.integers(1, 10**8), min_size=0, max_size=6, unique=True))
    rates = draw(st.lists(st.floats(0.001, 0.6), min_size=len(caps) + 1, max_size=len(caps) + 1))
    return [(float(c), 10, r) for c, r in zip([*sorted(caps), INF], rates, strict=True)]


@settings(max_examples=400, deadline=None)
@given(
    side=sides,
    qty=quantities,
    entry=prices,
    margin=st.floats(-0.5, 1.5),
    brackets=any_brackets(),
)
def test_equity_equals_maintenance_at_liquidation_price_any_table(
    side, qty, entry, margin, brackets
):
    wallet = qty * entry * margin
    lp = liquidation_price(side, qty, entry, wallet, brackets)
    assume(lp > 0)
    eq = equity(side, qty, entry, wallet, lp)
    mm = maintenance_margin(qty * lp, brackets)
    assert eq == pytest.approx(mm, rel=1e-9, abs=1e-9 * qty * max(entry, lp))


@settings(max_examples=300, deadline=None)
@given(side=sides, qty=quantities, entry=prices, leverage=leverages)
def test_bankruptcy_price_gives_zero_equity(side, qty, entry, leverage):
    wallet = qty * entry / leverage
    bp = bankruptcy_price(side, qty, entry, wallet)
    assert equity(side, qty, entry, wallet, bp) == pytest.approx(0, abs=1e-9 * qty * entry)


def allowed_leverage(notional: float) -> float:
    return next(lev for cap, lev, _ in BTCUSDT_2021 if notional <= cap)


@settings(max_examples=300, deadline=None)
@given(side=sides, qty=quantities, entry=prices, fraction=st.floats(min_value=0, max_value=1))
def test_liquidation_comes_before_bankruptcy(side, qty, entry, fraction):
    """With a leverage the tier allows (IM = 2 x MMR there), the position opens above maintenance,
    so the liquidation price lies between the entry and the bankruptcy price."""
    top = allowed_leverage(qty * entry)
    assume(top > 1.01)
    leverage = 1.01 + fraction * (top - 1.01)
    wallet = qty * entry / leverage
    lp = liquidation_price(side, qty, entry, wallet, BTCUSDT_2021)
    bp = bankruptcy_price(side, qty, entry, wallet)
    if side == "long":
        assert lp > bp
        assert lp < entry
    else:
        assert lp < bp
        assert lp > entry


# ------------------------------------------------------------------------------- bad inputs

bad_sides = st.one_of(
    st.text().filter(lambda s: s not in ("long", "short")), st.integers(), st.none()
)


@given(side=bad_sides)
def test_bad_side_names_argument_value_and_choices(side):
    for call in (
        lambda: liquidation_price(side, 1, 50_000, 500, BTCUSDT_2021),
        lambda: bankruptcy_price(side, 1, 50_000, 500),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "side" in message and repr(side) in message
        assert "'long'" in message and "'short'" in message


@given(qty=st.one_of(st.floats(max_value=0), st.just(math.nan), st.just(math.inf)))
def test_bad_qty_names_the_argument(qty):
    for call in (
        lambda: liquidation_price("long", qty, 50_000, 500, BTCUSDT_2021),
        lambda: bankruptcy_price("short", qty, 50_000, 500),
    ):
        with pytest.raises(ValueError, match="qty"):
            call()


@given(price=st.one_of(st.floats(max_value=0), st.just(math.nan), st.just(math.inf)))
def test_bad_entry_price_names_the_argument(price):
    with pytest.raises(ValueError, match="entry_price"):
        liquidation_price("long", 1, price, 500, BTCUSDT_2021)
    with pytest.raises(ValueError, match="entry_price"):
        bankruptcy_price("long", 1, price, 500)


@given(mmr=st.one_of(st.floats(max_value=0), st.floats(min_value=1), st.just(math.nan)))
def test_bad_mmr_names_the_argument(mmr):
    with pytest.raises(ValueError, match=r"brackets\[1\]\.mmr"):
        maintenance_amounts([(50_000, 125, 0.004), (INF, 100, mmr)])


@pytest.mark.parametrize(
    ("brackets", "pattern"),
    [
        ([], "at least one"),
        ("abc", "brackets must be a sequence"),
        ([(50_000, 125)], r"brackets\[0\] must be a \(notional_cap"),
        ([(50_000, 125, 0.004), (50_000, 100, 0.005)], r"brackets\[1\]\.notional_cap.*ascending"),
        ([(0, 125, 0.004)], r"brackets\[0\]\.notional_cap"),
        ([(INF, 125, 0.004), (INF, 100, 0.005)], r"brackets\[0\]\.notional_cap.*last tier"),
        ([(INF, 125, 0.004), (2 * 10**9, 100, 0.005)], r"brackets\[0\]\.notional_cap.*last"),
        ([(50_000, 125, 0.004), (10_000, 100, 0.005)], r"brackets\[1\]\.notional_cap"),
        ([(50_000, 0, 0.004)], r"brackets\[0\]\.max_leverage"),
        ([(50_000, 125, "0.4%")], r"brackets\[0\]\.mmr must be a number"),
    ],
)
def test_bad_brackets_are_explained(brackets, pattern):
    with pytest.raises(ValueError, match=pattern):
        maintenance_amounts(brackets)
    with pytest.raises(ValueError, match=pattern):
        liquidation_price("long", 1, 50_000, 500, brackets)


def test_other_bad_inputs_name_their_argument():
    with pytest.raises(ValueError, match="notional"):
        maintenance_margin(-1, BTCUSDT_2021)
    with pytest.raises(ValueError, match="notional.*above the last bracket"):
        maintenance_margin(60_000, [(50_000, 125, 0.004)])
    with pytest.raises(ValueError, match="wallet_balance"):
        liquidation_price("long", 1, 50_000, math.nan, BTCUSDT_2021)
    with pytest.raises(ValueError, match="wallet_balance"):
        bankruptcy_price("long", 1, 50_000, math.inf)
    with pytest.raises(ValueError, match="other_maintenance"):
        liquidation_price("long", 1, 50_000, 500, BTCUSDT_2021, other_maintenance=-1)
    with pytest.raises(ValueError, match="other_unrealized_pnl"):
        liquidation_price("long", 1, 50_000, 500, BTCUSDT_2021, other_unrealized_pnl=math.inf)
    with pytest.raises(ValueError, match="effective_leverage"):
        adl_rank(0.1, 0)
    with pytest.raises(ValueError, match="pnl_fraction"):
        adl_rank(math.nan, 2)
