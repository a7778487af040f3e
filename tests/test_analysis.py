"""The measures of abm.analysis on hand-computed examples and on samples with known answers:
inequality, stylized facts of returns, the book, funding, economics, bands and pooling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from abm.analysis import (
    acf_power_law_slope,
    adl_facts,
    autocorrelation,
    concentration,
    excess_kurtosis,
    funding_facts,
    gini,
    hhi,
    hill_tail_index,
    interest_per_interval,
    liquidation_facts,
    log_returns,
    longest_run,
    maker_markouts,
    minute_grid,
    one_sided,
    price_gaps,
    return_facts,
    spread_stats,
    top_share,
)
from abm.analysis.economics import liquidation_window_pnl
from abm.analysis.validation import (
    VERDICTS,
    Band,
    Bands,
    BandsError,
    load_bands,
    mean_interval,
    pool,
    t_quantile_975,
)


def test_gini_hand_examples():
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)  # (n - 1) / n
    # Sorted 1, 2, 3, 4: 2 x (1 + 4 + 9 + 16) / (4 x 10) - 5/4 = 0.25.
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)
    # Mean absolute difference over twice the mean: pairs of (1, 3): |1-3| x 2 / 4 / (2 x 2).
    assert gini([1, 3]) == pytest.approx(0.25)


def test_gini_is_scale_and_order_invariant():
    x = np.array([3.0, 0.0, 7.0, 1.0, 9.0])
    assert gini(x) == pytest.approx(gini(1_000_000 * x))
    assert gini(x) == pytest.approx(gini(x[::-1]))


def test_hhi_hand_examples():
    assert hhi([1, 1, 1, 1]) == pytest.approx(0.25)
    assert hhi([0, 0, 5]) == 1.0
    # Shares 0.5, 0.3, 0.2: 0.25 + 0.09 + 0.04.
    assert hhi([50, 30, 20]) == pytest.approx(0.38)


def test_top_share_hand_examples():
    assert top_share([1, 2, 3, 94]) == pytest.approx(0.94)  # top 1% of 4 is one holder
    assert top_share([1, 1, 1, 1], fraction=0.5) == pytest.approx(0.5)
    # 200 holders: the top 1% is two of them.
    values = [1] * 198 + [51, 51]
    assert top_share(values) == pytest.approx(102 / 300)
    assert top_share([10, 20, 30], fraction=1.0) == 1.0


def test_undefined_inputs_give_nan_and_bad_ones_raise():
    for metric in (gini, hhi, top_share):
        assert math.isnan(metric([]))
        assert math.isnan(metric([0, 0]))
        with pytest.raises(ValueError, match="non-negative"):
            metric([1, -1])
    with pytest.raises(ValueError, match="fraction"):
        top_share([1, 2], fraction=0)


def test_concentration_bundles_the_three():
    assert concentration([0, 0, 0, 1]) == {
        "holders": 4,
        "gini": pytest.approx(0.75),
        "hhi": 1.0,
        "top_share": 1.0,
        "top_fraction": 0.01,
    }


# ---------------------------------------------------------------- stylized facts of returns

NAN = math.nan


def test_hill_recovers_the_tail_index_of_pareto_samples():
    rng = np.random.default_rng(1)
    for alpha in (2.0, 3.0, 4.0):
        x = (1 - rng.random(400_000)) ** (-1 / alpha)
        signs = np.where(rng.random(len(x)) < 0.5, -1, 1)
        assert hill_tail_index(signs * x, 0.05) == pytest.approx(alpha, rel=0.03)
        assert hill_tail_index(signs * x, 0.025) == pytest.approx(alpha, rel=0.04)
    assert math.isnan(hill_tail_index(np.ones(50), 0.05))  # too few for k >= 10


def test_autocorrelation_of_an_ar1_is_phi_to_the_lag():
    rng = np.random.default_rng(2)
    e = rng.standard_normal(200_000)
    x = np.empty_like(e)
    x[0] = e[0]
    for i in range(1, len(e)):
        x[i] = 0.6 * x[i - 1] + e[i]
    acf = autocorrelation(x, [1, 2, 3])
    assert acf == pytest.approx([0.6, 0.36, 0.216], abs=0.01)
    # White noise: no autocorrelation, and |r| of it none either.
    noise = rng.standard_normal(200_000)
    assert abs(autocorrelation(noise, [1])[0]) < 0.01
    assert abs(autocorrelation(np.abs(noise), [1])[0]) < 0.01


def ar1(phi: float, shocks: np.ndarray) -> np.ndarray:
    out, x = [], 0.0
    for e in shocks.tolist():
        x = phi * x + e
        out.append(x)
    return np.array(out)


def test_acf_decay_exponent_tells_long_memory_from_short():
    # Long memory: log volatility is a sum of AR(1)s over time scales 2 to 2,048, so the ACF of
    # |r| decays slowly, roughly as a power law with a small exponent. Short memory: one AR(1)
    # with a 10-step scale, so the ACF of |r| has died out long before lag 200.
    rng = np.random.default_rng(3)
    n = 100_000
    log_vol = np.zeros(n)
    for tau in (2, 8, 32, 128, 512, 2048):
        phi = 1 - 1 / tau
        log_vol += ar1(phi, rng.standard_normal(n) * 0.5 * math.sqrt(1 - phi**2))
    long_memory = np.exp(log_vol) * rng.standard_normal(n)
    exponent = acf_power_law_slope(np.abs(long_memory))
    assert 0.1 < exponent < 0.6
    assert autocorrelation(np.abs(long_memory), [100])[0] > 0.05
    short = np.exp(ar1(0.9, rng.standard_normal(n) * math.sqrt(1 - 0.81))) * rng.standard_normal(n)
    assert acf_power_law_slope(np.abs(short)) > 1.0
    assert math.isnan(acf_power_law_slope(np.arange(12.0)))  # fewer than 10 lags to fit


def test_excess_kurtosis_of_known_distributions():
    rng = np.random.default_rng(4)
    assert excess_kurtosis(rng.standard_normal(400_000)) == pytest.approx(0, abs=0.05)
    assert excess_kurtosis(rng.laplace(size=400_000)) == pytest.approx(3, abs=0.15)
    assert excess_kurtosis(np.array([-1.0, 1.0] * 10)) == pytest.approx(-2)
    assert math.isnan(excess_kurtosis(np.array([1.0, 2.0])))


def test_log_returns_over_steps_and_missing_prices():
    p = np.array([100.0, 110.0, 121.0, 133.1, 146.41])
    assert log_returns(p) == pytest.approx([math.log(1.1)] * 4)
    assert log_returns(p, 2) == pytest.approx([math.log(1.21)] * 2)
    assert log_returns(np.array([100.0, NAN, 121.0])) == pytest.approx([math.log(1.21)])


def test_return_facts_keys_and_horizons():
    rng = np.random.default_rng(5)
    prices = 100 * np.exp(np.cumsum(rng.standard_normal(6_001) * 1e-3))
    facts = return_facts(prices, 1)
    assert facts["minutes"] == 6_000
    assert facts["vol_1m"] == pytest.approx(1e-3, rel=0.05)
    assert facts["vol_5m"] == pytest.approx(1e-3 * math.sqrt(5), rel=0.1)
    assert facts["vol_1h"] == pytest.approx(1e-3 * math.sqrt(60), rel=0.3)
    assert abs(facts["acf_r_lag1"]) < 0.05
    # Two samples a minute give the same 1-minute returns as every other sample.
    doubled = np.repeat(prices, 2)
    assert return_facts(doubled, 2)["vol_1m"] == pytest.approx(facts["vol_1m"])


# ------------------------------------------------------------------------- 1-minute grid


def test_minute_grid_takes_the_last_price_of_each_minute_and_fills_gaps():
    grid, filled = minute_grid([0, 30, 59, 61, 185], [10.0, 11.0, 12.0, 13.0, 14.0])
    assert grid.tolist() == [12.0, 13.0, 13.0, 14.0] and filled == 1
    # Order does not matter; bad prices are dropped.
    grid, filled = minute_grid([185, 61, 59, 0, 30, 100], [14.0, 13.0, 12.0, 10.0, 11.0, -1])
    assert grid.tolist() == [12.0, 13.0, 13.0, 14.0] and filled == 1
    # A one-second series: minute m's price is the one at second 60m + 59.
    seconds = np.arange(180)
    grid, filled = minute_grid(seconds, 1000.0 + seconds)
    assert grid.tolist() == [1059.0, 1119.0, 1179.0] and filled == 0
    assert minute_grid([], [])[0].size == 0


# ---------------------------------------------------------------------------- the book


def test_longest_run_and_one_sided_spells():
    assert longest_run([]) == 0
    assert longest_run([False, False]) == 0
    assert longest_run([True, True, False, True, True, True, False]) == 3
    ticks = {
        "best_bid_usdt": [1, NAN, NAN, 1, 1, NAN, 1, 1, 1, 1],
        "best_ask_usdt": [2, 2, 2, 2, NAN, NAN, NAN, 2, 2, 2],
    }
    facts = one_sided(ticks, tick_seconds=2.0)
    assert facts == {
        "empty_side_share": 0.5,
        "longest_one_sided_seconds": 6.0,  # ticks 4-6, 2 s each
        "one_sided_spells": 2,
    }


def test_spread_in_bps_and_ticks_over_two_sided_ticks():
    ticks = {
        "best_bid_usdt": [99.95, 99.9, 99.5, NAN],
        "best_ask_usdt": [100.05, 100.1, 100.5, 100.0],
    }
    facts = spread_stats(ticks, tick_size=0.1)
    # Spreads 0.1, 0.2, 1.0 over mids of 100: 10, 20, 100 bps; 1, 2, 10 ticks.
    assert facts["spread_bps_median"] == pytest.approx(20)
    assert facts["spread_ticks_median"] == 2
    assert facts["spread_ticks_p90"] == pytest.approx(np.quantile([1, 2, 10], 0.9))
    assert facts["spread_bps_p90"] == pytest.approx(np.quantile([10, 20, 100], 0.9))


def test_price_gaps_in_bps():
    ticks = {
        "index_usdt": [100.0, 100.0, 100.0],
        "mark_usdt": [100.02, 99.99, 100.0],
        "last_usdt": [NAN, 100.0, 100.1],
    }
    gaps = price_gaps(ticks)
    assert gaps["mark_index_bps_median"] == pytest.approx(1.0)  # |2|, |-1|, 0
    assert gaps["mark_index_bps_mean"] == pytest.approx(1.0)
    assert gaps["mark_index_bps_p99"] == pytest.approx(np.quantile([2, 1, 0], 0.99))
    # Last vs mark from the ticks with a last price: 100 vs 99.99 and 100.1 vs 100.
    assert gaps["last_mark_bps_mean"] == pytest.approx((1 / 99.99 * 1e4 * 0.01 + 10) / 2)


# ------------------------------------------------------------------------------- funding


def test_funding_shares_and_persistence():
    rates = [0.0001, 0.0001, 0.0003, -0.0002, 0.0001, -0.00005, 0.0002, 0.0001]
    facts = funding_facts(rates, 0.0001)
    assert facts["settlements"] == 8
    assert facts["at_interest_share"] == 0.5
    assert facts["negative_share"] == 0.25
    assert facts["acf_lag1"] == pytest.approx(autocorrelation(np.array(rates), [1])[0])
    assert facts["mean_rate"] == pytest.approx(np.mean(rates))
    # Rates in ppb floats as a run records them, and an interest rate paid hourly.
    assert interest_per_interval(0.0001, 28_800) == 0.0001
    assert interest_per_interval(0.0001, 3_600, 28_800) == pytest.approx(0.0000125)
    hourly = funding_facts([12_500 / 1e9, 12_500 / 1e9, 13_000 / 1e9], 0.0000125)
    assert hourly["at_interest_share"] == pytest.approx(2 / 3)
    assert math.isnan(hourly["acf_lag1"])  # fewer than 4 settlements
    assert funding_facts([], 0.0001)["settlements"] == 0


# ----------------------------------------------------------------------------- economics


def test_market_maker_edge_and_adverse_selection_on_hand_made_fills():
    # Ticks 0..3 (1 s each); mids 100, 101, 102 (bid side empty: the mark), 99.
    ticks = {
        "tick": [0, 1, 2, 3],
        "best_bid_usdt": [99.0, 100.0, NAN, 98.0],
        "best_ask_usdt": [101.0, 102.0, 103.0, 100.0],
        "mark_usdt": [100.0, 101.0, 102.0, 99.0],
    }
    mm = 7
    fills = {
        # Each fill meets the quotes left at the end of the tick before it.
        # 1. MM buys 10 lots at 99.5 from a sell aggressor at tick 1; mid before 100, a tick
        #    after the fill's tick 102 (the mark: the bid side is empty).
        # 2. MM sells 30 lots at 101.5 to a buy aggressor at tick 2; mid before 101, after 99.
        # 3. MM is the aggressor: not a made fill.
        # 4. An ADL fill: no maker.
        # 5. Another account's fill.
        # 6. MM made it at tick 3: no mid a tick later, left out of the means.
        "tick": [1, 2, 2, 2, 2, 3],
        "buyer": [mm, 1, mm, mm, 2, mm],
        "seller": [1, mm, 2, 3, 3, 4],
        "qty_lots": [10, 30, 5, 5, 5, 50],
        "qty_btc": [0.01, 0.03, 0.005, 0.005, 0.005, 0.05],
        "price_usdt": [99.5, 101.5, 101.0, 102.0, 102.0, 99.0],
        "aggressor": ["sell", "buy", "buy", "sell", "sell", "sell"],
        "kind": ["normal", "liquidation", "normal", "adl", "normal", "normal"],
    }
    out = maker_markouts(fills, ticks, [mm], tick_seconds=1.0, horizon_seconds=1.0)
    edge_1 = (100 - 99.5) / 100 * 1e4  # +50 bps
    edge_2 = -1 * (101 - 101.5) / 101 * 1e4  # +49.5 bps
    adverse_1 = (102 - 100) / 100 * 1e4  # +200: the mid rose after the MM bought
    adverse_2 = -1 * (99 - 101) / 101 * 1e4  # +198: it fell after the MM sold
    assert out["edge_bps"] == pytest.approx((10 * edge_1 + 30 * edge_2) / 40)
    assert out["adverse_bps"] == pytest.approx((10 * adverse_1 + 30 * adverse_2) / 40)
    assert out["realised_bps"] == pytest.approx(out["edge_bps"] + out["adverse_bps"])
    assert out["maker_fills"] == 3
    assert out["maker_qty_btc"] == pytest.approx(0.09)
    nothing = maker_markouts(fills, ticks, [99])
    assert nothing["maker_fills"] == 0 and math.isnan(nothing["edge_bps"])


def test_liquidations_against_open_interest_and_volume():
    ticks = {
        "elapsed_s": [0.0, 86_400.0, 172_800.0],  # two days
        "mark_usdt": [100.0, 100.0, 100.0],
        "open_interest_long_btc": [4.0, 6.0, 5.0],  # mean notional 500 USDT
        "liquidated_notional_long_usdt": [0.0, 6.0, 0.0],
        "liquidated_notional_short_usdt": [0.0, 0.0, 4.0],
    }
    fills = {"qty_btc": [1.0, 2.0, 50.0], "price_usdt": [100.0, 100.0, 100.0],
             "kind": ["normal", "liquidation", "adl"]}  # fmt: skip
    facts = liquidation_facts(ticks, fills)
    assert facts["notional_usdt"] == 10
    assert facts["notional_per_oi_day"] == pytest.approx(10 / 2 / 500)
    assert facts["notional_per_volume"] == pytest.approx(10 / 300)  # ADL is not volume
    assert facts["long_share"] == pytest.approx(0.6)
    quiet = {
        **ticks,
        "liquidated_notional_long_usdt": [0.0] * 3,
        "liquidated_notional_short_usdt": [0.0] * 3,
    }
    assert math.isnan(liquidation_facts(quiet)["long_share"])


def test_adl_counts_and_reasons_with_and_without_the_reason_column():
    table = {
        "backstops": [[], ["adl", "adl", "adl"], ["insurance_fund"], ["insurance_fund", "adl"]],
        "adl_reason": [None, "book_cannot_absorb", None, "insurance_fund_short"],
    }
    facts = adl_facts(table)
    assert facts == {
        "actions": 4,
        "events": 2,
        "actions_not_book": 1,
        "reasons": {"book_cannot_absorb": 3, "insurance_fund_short": 1},
    }
    older = adl_facts({"backstops": table["backstops"]})
    assert older["actions"] == 4 and older["actions_not_book"] == 4
    assert older["reasons"] == {"unrecorded": 4}
    assert adl_facts({"backstops": []})["actions"] == 0


# ------------------------------------------------------------------ bands and pooling


def test_the_bands_file_is_versioned_and_complete():
    bands = load_bands()
    assert bands.version is not None
    metrics = [b.metric for b in bands.bands]
    assert len(metrics) == len(set(metrics)) == 23
    for band in bands.bands:
        assert band.low is not None or band.high is not None, band.metric
        assert band.source and band.reference and band.label, band.metric
    assert bands.get("last.hill_5pct").describe() == "2.5 to 3.8"
    assert bands.get("pnl.market_maker").pool == "median"
    assert bands.get("adl.actions_not_book").holds(0) and not bands.get(
        "adl.actions_not_book"
    ).holds(1)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("bands: []", "version"),
        ("version: 1\nbands:\n  - {metric: a, lo: 1}", "unknown keys"),
        ("version: 1\nbands:\n  - {metric: a, low: x}", "must be a number"),
        ("version: 1\nbands:\n  - {metric: a}\n  - {metric: a}", "two bands"),
        ("version: 1\nbands:\n  - {metric: a, pool: mode}", "pool"),
        ("version: 1\nbands: [", "cannot be read"),
    ],
)
def test_bad_bands_files_are_refused(tmp_path, text, fragment):
    path = tmp_path / "bands.yaml"
    path.write_text(text)
    with pytest.raises(BandsError, match=fragment):
        load_bands(path)


def test_band_bounds_inclusive_and_strict():
    assert Band("a", low=1, high=2).holds(1) and Band("a", low=1, high=2).holds(2)
    assert not Band("a", low=1, high=2, strict=True).holds(1)
    assert not Band("a", low=1).holds(NAN)
    assert Band("a", high=0.001, strict=True).describe() == "< 0.001"
    assert Band("a", low=5, strict=True).describe() == "> 5"


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 29, 30, 31, 45, 100, 1000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-4)


def test_pooling_means_intervals_medians_and_verdicts():
    runs = [
        {"x": 1.0, "y": -1.0, "z": NAN, "w": 7.0},
        {"x": 2.0, "y": -2.0, "z": NAN, "w": 7.0},
        {"x": 3.0, "y": 10.0, "z": NAN},
    ]
    bands = Bands(
        1,
        (
            Band("x", low=0, high=2.5),
            Band("y", low=0, strict=True, pool="median"),
            Band("z", low=0),
        ),
        Path("bands.yaml"),
    )
    rows = {r.metric: r for r in pool(runs, bands)}
    x = rows["x"]
    half = t_quantile_975(2) * 1.0 / math.sqrt(3)
    assert (x.value, x.low, x.high) == pytest.approx((2.0, 2 - half, 2 + half))
    assert x.verdict == "pass" and x.runs_in_band == 2 and x.n == 3
    y = rows["y"]  # median -1 <= 0 though the mean (7/3) is positive
    assert y.value == -1 and y.low is None and y.verdict == "miss" and y.runs_in_band == 1
    assert rows["z"].verdict == "no data"
    w = rows["w"]  # a metric two runs give: pooled over those two
    assert w.verdict == "no band" and w.n == 2 and w.value == 7
    assert [r.metric for r in pool(runs, bands)] == ["x", "y", "z", "w"]
    assert {r.verdict for r in pool(runs, bands)} <= set(VERDICTS)
    assert mean_interval([5.0]) == (5.0, None, None)
    assert pool(runs, bands, prefix="w")[0].metric == "w"


def test_liquidation_window_pnl_nets_deposits_and_withdrawals_per_window():
    """Snapshots at ticks 0, 60, 120, 180; liquidations at tick 60 (the window (0, 60]) and 150
    ((120, 180]); the window (60, 120] holds none. Retail deposits 2 USDT at tick 30 and the
    whale withdraws 5 USDT at tick 170; a deposit at tick 90 falls outside every window."""
    ticks = {
        "tick": [0, 30, 60, 120, 180],
        "equity_retail_usdt": [100.0, np.nan, 90.0, 200.0, 150.0],
        "equity_whale_usdt": [50.0, np.nan, 58.0, 58.0, 100.0],
        "insurance_fund_usdt": [10.0, 10.0, 11.0, 11.0, 12.0],
    }
    transfers = {
        "tick": [30, 90, 170],
        "src": [3, 3, 6],
        "dst": [5, 5, 3],
        "amount_micro_usdt": [2_000_000, 99_000_000, 5_000_000],
        "cause": ["deposit", "deposit", "withdrawal"],
    }
    accounts = {"account": [3, 5, 6], "population": ["external", "retail", "whale"]}
    out = liquidation_window_pnl(ticks, {"tick": [60, 150]}, transfers, accounts)
    assert out == pytest.approx(
        {
            "retail": (90 - 100 - 2) + (150 - 200),
            "whale": (58 - 50) + (100 - 58 + 5),
            "insurance_fund": 1 + 1,
            "windows": 2,
        }
    )
    assert liquidation_window_pnl(ticks, {"tick": []}, transfers, accounts)["windows"] == 0
