"""The exogenous spot index: reproducible GARCH-jump paths with the configured volatility and
stylised facts, scenario shocks, CSV replay with precise errors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.config import Shock, WorldConfig
from abm.world import FundamentalProcess

DAY = 86_400
QUIET = dict(annual_volatility=1e-4, jumps_per_day=0.0)
"""Volatility turned tiny and no jumps: the path is the shocks alone (to ~1e-7)."""


def make(
    seed: int = 0, ticks: int = 3_600, tick_seconds: float = 1.0, **world
) -> FundamentalProcess:
    return FundamentalProcess(
        WorldConfig(**world), np.random.default_rng(seed), ticks, tick_seconds
    )


def excess_kurtosis(x: np.ndarray) -> float:
    x = x - x.mean()
    return float((x**4).mean() / (x**2).mean() ** 2 - 3.0)


def abs_autocorrelation(x: np.ndarray, lag: int = 1) -> float:
    a = np.abs(x) - np.abs(x).mean()
    return float((a[lag:] * a[:-lag]).sum() / (a * a).sum())


# ---------------------------------------------------------------------- garch_jump


def test_same_seed_same_path_and_different_seed_different_path():
    a, b, c = make(7), make(7), make(8)
    assert a.path.dtype == np.float64 and a.path.shape == (3_601,)
    assert a.path.tobytes() == b.path.tobytes()
    assert not np.array_equal(a.path, c.path)
    assert a.path[0] == 50_000.0
    assert np.all(a.path > 0)
    assert [a.price(t) for t in (0, 1, 3_600)] == [a.path[0], a.path[1], a.path[3_600]]


def test_start_price_and_zero_ticks():
    p = make(ticks=0, start_price=123.4)
    assert p.path.tolist() == [123.4]
    assert p.returns(1).size == 0


@pytest.mark.parametrize(
    "world",
    [
        # The default vol_reaction 0.02 with t(4) innovations makes the variance itself so
        # heavy-tailed that a typical 30-day sample falls ~25% short of its long-run mean.
        dict(process="garch_jump", vol_reaction=0.008),
        dict(process="garch_jump", vol_reaction=0.008, jumps_per_day=100.0, jump_std=0.003),
        dict(process="garch_jump", vol_reaction=0.008, tail_df=1000.0, annual_volatility=1.5),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realised_volatility_matches_target(world, seed):
    p = make(seed, ticks=30 * 1_440, tick_seconds=60.0, **world)
    returns = p.returns(1)
    assert returns.size == 30 * 1_440
    realised = returns.std() * math.sqrt(365 * 1_440)
    target = p.config.annual_volatility
    assert 0.75 * target < realised < 1.25 * target, (realised, target)


def test_jumps_alone_above_target_volatility_are_rejected():
    with pytest.raises(ValueError, match="jumps alone"):
        make(annual_volatility=0.1, jumps_per_day=100.0, jump_std=0.01)
    with pytest.raises(ValueError, match="jumps_per_day"):
        make(tick_seconds=3_600.0, jumps_per_day=48.0, jump_std=0.001)


def test_multiscale_volatility_averages_to_the_target_over_seeds():
    """Each component of log volatility is stationary with mean-one variance factor, so the
    mean squared return over many seeds is the target (a single month varies a lot: the
    slowest component has a time scale of a week)."""
    squares = [
        float(np.mean(make(seed, ticks=30 * 1_440, tick_seconds=60.0).returns(1) ** 2))
        for seed in range(12)
    ]
    realised = math.sqrt(np.mean(squares) * 365 * 1_440)
    assert 0.8 * 0.7 < realised < 1.2 * 0.7, realised


def test_multiscale_volatility_has_long_memory_and_garch_does_not():
    """The autocorrelation of |r| decays like a power law over the components' time scales:
    still clearly positive at 100 minutes, where a GARCH(1,1) with the same one-minute
    clustering has forgotten (real BTC: about 0.13-0.2 at lag 100)."""
    from abm.analysis.stylized import acf_power_law_slope, autocorrelation

    def facts(**world):
        r = make(3, ticks=60 * 1_440, tick_seconds=60.0, **world).returns(1)
        lag1, lag100 = autocorrelation(np.abs(r), [1, 100])
        return lag1, lag100, acf_power_law_slope(np.abs(r))

    lag1, lag100, slope = facts()
    assert lag1 > 0.1 and lag100 > 0.05 and slope < 0.6, (lag1, lag100, slope)
    g1, g100, _ = facts(process="garch_jump", vol_reaction=0.05, vol_persistence=0.95)
    assert g100 < 0.5 * lag100, (g1, g100)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_minute_returns_are_fat_tailed_and_clustered(seed):
    returns = make(seed, ticks=DAY).returns(1)
    assert returns.size == 1_440
    assert excess_kurtosis(returns) > 1.0
    assert abs_autocorrelation(returns, 1) > 0.05


def test_returns_horizons():
    p = make(ticks=DAY)
    assert p.returns(5).size == 288
    assert np.isclose(p.returns(5).sum(), math.log(p.path[-1] / p.path[0]))
    assert np.allclose(p.returns(60), np.diff(np.log(p.path[::3_600])))
    for bad in (0, -1):
        with pytest.raises(ValueError, match="minutes"):
            p.returns(bad)
    with pytest.raises(ValueError, match="minutes"):
        make(ticks=100, tick_seconds=7.0).returns(1)


# ---------------------------------------------------------------------- shocks


def test_shock_moves_the_path_over_its_window():
    p = make(ticks=3 * 3_600, shocks=[Shock(start_minute=30, minutes=60, move=-0.3)], **QUIET)
    start, end = 30 * 60, 90 * 60
    assert p.path[start] == pytest.approx(50_000, rel=1e-4)
    assert p.path[end] / p.path[start] == pytest.approx(0.7, rel=1e-4)
    assert p.path[start + 1_800] / p.path[start] == pytest.approx(math.sqrt(0.7), rel=1e-4)
    assert p.path[-1] / p.path[end] == pytest.approx(1.0, rel=1e-4)
    # evenly spread: equal log steps inside the window
    steps = np.diff(np.log(make(ticks=3 * 3_600, **QUIET).path))
    drift = np.diff(p.log_path) - steps
    assert np.allclose(drift[start:end], math.log(0.7) / 3_600)
    assert np.allclose(drift[:start], 0) and np.allclose(drift[end:], 0)


def test_shocks_compose_and_work_at_coarse_ticks():
    shocks = [
        Shock(start_minute=10, minutes=60, move=-0.3),
        Shock(start_minute=40, minutes=60, move=0.1),
        Shock(start_minute=200, minutes=30, move=0.5),
    ]
    p = make(ticks=300, tick_seconds=60.0, shocks=shocks, **QUIET)
    assert p.path[10] / p.path[0] == pytest.approx(1.0, rel=1e-4)
    assert p.path[100] / p.path[10] == pytest.approx(0.7 * 1.1, rel=1e-4)
    assert p.path[230] / p.path[100] == pytest.approx(1.5, rel=1e-4)
    # overlap: at minute 70 the first is done, the second half done
    assert p.path[70] / p.path[10] == pytest.approx(0.7 * 1.1**0.5, rel=1e-4)


def test_shock_on_top_of_stochastic_path():
    base = make(3, ticks=7_200)
    shocked = make(3, ticks=7_200, shocks=[Shock(start_minute=0, minutes=60, move=-0.2)])
    ratio = shocked.path / base.path
    assert ratio[3_600] == pytest.approx(0.8) and ratio[-1] == pytest.approx(0.8)


# ---------------------------------------------------------------------- csv


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


EPOCH_CSV = "timestamp,price\n1700000000,100\n1700000002.5,101\n1700000005,102\n1700000010,103\n"
ISO_CSV = (
    "timestamp,price\n"
    "2023-11-14T22:13:20Z,100\n"
    "2023-11-14T23:13:22.5+01:00,101\n"  # 22:13:22.5 UTC, written with an offset
    "2023-11-14T22:13:25Z,102\n"
    "2023-11-14T22:13:30,103\n"  # no zone: UTC
)
REPLAY = [100, 100, 100, 101, 101, 102, 102, 102, 102, 102, 103]


def csv_index(
    path: Path, ticks: int = 10, tick_seconds: float = 1.0, **world
) -> FundamentalProcess:
    return make(ticks=ticks, tick_seconds=tick_seconds, process="csv", csv_path=str(path), **world)


@pytest.mark.parametrize("text", [EPOCH_CSV, ISO_CSV], ids=["epoch", "iso"])
def test_csv_replay_carries_the_last_observation_forward(tmp_path, text):
    p = csv_index(write(tmp_path, text))
    assert p.path.tolist() == pytest.approx(REPLAY, rel=1e-12)
    assert [p.price(t) for t in range(11)] == pytest.approx(REPLAY, rel=1e-12)
    coarse = csv_index(write(tmp_path, text), ticks=2, tick_seconds=5.0)
    assert coarse.path.tolist() == pytest.approx([100, 102, 103], rel=1e-12)


def test_csv_extra_columns_blank_lines_and_duplicate_times(tmp_path):
    text = "Price , timestamp,volume\n100,0,1\n\n101,1,2\n105,1,3\n106,2,4\n"
    assert csv_index(write(tmp_path, text), ticks=2).path.tolist() == pytest.approx([100, 105, 106])


def test_shocks_apply_on_top_of_csv(tmp_path):
    text = "timestamp,price\n" + "".join(f"{60 * m},{1000}\n" for m in range(61))
    p = csv_index(
        write(tmp_path, text),
        ticks=60,
        tick_seconds=60.0,
        shocks=[Shock(start_minute=0, minutes=30, move=-0.5)],
    )
    assert p.path[0] == pytest.approx(1000) and p.path[30] == pytest.approx(500)
    assert p.path[60] == pytest.approx(500)


def test_csv_shorter_than_the_run_is_an_error(tmp_path):
    path = write(tmp_path, EPOCH_CSV)
    with pytest.raises(ValueError, match="covers 10 s") as info:
        csv_index(path, ticks=11)
    assert str(path) in str(info.value) and "11 s" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when,price\n0,100\n", "no timestamp column; looked for timestamp, date, time"),
        ("timestamp,value\n0,100\n", "no price column; looked for price, close, last"),
        ("timestamp,price\n0,100\n1,-5\n", r"line 3, column 'price': '-5'.*positive"),
        ("timestamp,price\n0,100\n1,0\n", "line 3, column 'price'"),
        ("timestamp,price\n0,abc\n", "line 2, column 'price'"),
        ("timestamp,price\n0,100\n1,\n", "line 3, column 'price'"),
        ("timestamp,price\n0,100\nyesterday,101\n", r"line 3, column 'timestamp'.*ISO-8601"),
        ("timestamp,price\n0,100\n\n2024-13-45T00:00:00,101\n", "line 4, column 'timestamp'"),
        ("timestamp,price\n", "no data rows"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_csv_files_name_the_file_and_the_problem(tmp_path, text, expected):
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(ValueError, match=expected) as info:
        csv_index(path, ticks=0)
    assert str(path) in str(info.value)


def test_missing_csv_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(ValueError, match="no such file") as info:
        csv_index(path, ticks=0)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "timestamp,price\n5,102\n0,100\n10,103\n",
            r"line 3, column 'timestamp': '0' comes before line 2's '5'",
        ),
        (
            "timestamp,price\n2024-03-01T00:00:10Z,100\n\n2024-03-01T00:00:05Z,101\n",
            "line 4, column 'timestamp'.*comes before line 2",
        ),
    ],
    ids=["epoch", "iso-after-blank"],
)
def test_csv_rows_out_of_time_order_are_refused(tmp_path, text, expected):
    path = write(tmp_path, text, "unsorted.csv")
    with pytest.raises(ValueError, match=expected) as info:
        csv_index(path, ticks=0)
    assert "time order" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "fields"),
    [
        ("timestamp,price\n0,100,5\n1,101\n", 2, 3),  # pandas would take column 1 as an index
        ("timestamp,price\n0,100\n1\n2,102\n", 3, 1),  # pandas would pad it with a blank
        ("timestamp,price\n0,100\n1,101,7\n", 3, 3),
    ],
    ids=["long-first-row", "short-row", "long-row"],
)
def test_ragged_csv_rows_are_refused(tmp_path, text, line, fields):
    path = write(tmp_path, text, "ragged.csv")
    with pytest.raises(ValueError, match=f"line {line} has {fields} fields but the header has 2"):
        csv_index(path, ticks=0)


def test_world_imports_without_pandas():
    code = "import sys, abm.world; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
