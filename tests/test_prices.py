"""One price-file reader for every place that takes prices (``abm run --prices``,
``world.csv_path``, ``abm validate --prices``): Binance klines (CSV or zip, with or without a
header, ms or µs times), a timestamp/price CSV, Parquet and Feather; a replay keeps the file's
dates and drops the config's scripted shocks unless the user adds some."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.config import REPLAY_SHOCKS_OFF, load_config, load_config_with_sources
from abm.world.prices import PriceFileError, read_price_file
from tests.conftest import TINY_RUN

START_MS = 1_738_368_000_000  # 2025-02-01T00:00:00Z
MINUTES = 30
CLOSES = 100_000 + 10 * np.arange(MINUTES)


def kline_rows(unit: int = 1) -> list[list]:
    """Binance kline rows (open_time ... ignore), one a minute; ``unit`` 1000 for µs times."""
    rows = []
    for i, close in enumerate(CLOSES):
        open_time = (START_MS + 60_000 * i) * unit
        rows.append(
            [open_time, close - 5, close + 5, close - 8, close, 12.5, open_time + 59_999 * unit,
             1.2e6, 300, 6.1, 6.0e5, 0]
        )  # fmt: skip
    return rows


def write_klines(folder: Path, name: str, header: bool, unit: int = 1, zipped: bool = False):
    lines = [",".join(map(str, row)) for row in kline_rows(unit)]
    if header:
        lines.insert(0, "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                     "taker_buy_volume,taker_buy_quote_volume,ignore")  # fmt: skip
    text = "\n".join(lines) + "\n"
    if not zipped:
        path = folder / f"{name}.csv"
        path.write_text(text)
        return path
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.csv", text)
    return path


@pytest.mark.parametrize(
    ("header", "unit", "zipped", "time_unit"),
    [
        (False, 1, False, "ms"),
        (True, 1, False, "ms"),
        (False, 1000, True, "µs"),
        (True, 1, True, "ms"),
    ],
    ids=["csv-no-header-ms", "csv-header-ms", "zip-no-header-us", "zip-header-ms"],
)
def test_binance_klines_in_every_form_read_alike(tmp_path, header, unit, zipped, time_unit):
    path = write_klines(tmp_path, "BTCUSDT-1m-2025-02", header, unit, zipped)
    series = read_price_file(path)
    assert series.prices.tolist() == CLOSES.tolist()
    # A close is known at the end of its candle: timed by close_time (the next minute).
    assert series.time_unit == f"{time_unit}, the end of each candle"
    assert (series.time_column, series.price_column) == ("close_time", "close")
    assert series.start.isoformat() == "2025-02-01T00:01:00+00:00"
    assert series.covered_seconds == 60 * (MINUTES - 1)
    assert series.layout == ("table" if header else "klines")


def test_tables_and_timestamp_price_csvs_read_the_same_series(tmp_path):
    stamps = pd.Timestamp("2025-02-01", tz="UTC") + pd.to_timedelta(60 * np.arange(MINUTES), "s")
    frame = pd.DataFrame({"timestamp": stamps, "price": CLOSES.astype(float)})
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_feather(tmp_path / "p.feather")
    frame.assign(timestamp=stamps.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        tmp_path / "p.csv", index=False
    )
    for name in ("p.parquet", "p.feather", "p.csv"):
        series = read_price_file(tmp_path / name)
        assert series.prices.tolist() == CLOSES.tolist(), name
        assert series.seconds[0] == START_MS / 1000, name


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("short.csv", "1738368000000,1,2\n", "no header and 3 fields"),
        ("two.zip", None, "exactly one .csv"),
        ("order.csv", "timestamp,price\n60,1\n0,2\n", "line 3, column 'timestamp'.*time order"),
        ("bad.zip", "not a zip", "not a readable CSV"),
    ],
)
def test_price_file_mistakes_name_the_file_and_the_problem(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.csv", "timestamp,price\n0,1\n")
            archive.writestr("b.csv", "timestamp,price\n0,1\n")
    else:
        path.write_text(content)
    with pytest.raises(PriceFileError, match=fragment) as info:
        read_price_file(path)
    assert str(path) in str(info.value)


def run_replay(tmp_path: Path, prices: Path, *extra: str) -> tuple[int, dict, dict]:
    out = tmp_path / "replay"
    tiny = [o for o in TINY_RUN if not o.startswith("world.shocks")]  # the baseline's drop stays
    sets = sum((["--set", o] for o in [*tiny, "run.hours=0.25"]), [])
    code = main(["run", "baseline", *sets, "--prices", str(prices), *extra, "--out", str(out)])
    manifest = json.loads((out / "manifest.json").read_text()) if code == 0 else {}
    ticks = pd.read_parquet(out / "ticks.parquet") if code == 0 else None
    return code, manifest, ticks


def test_abm_run_prices_replays_a_zipped_kline_file_at_its_own_dates(tmp_path, capsys):
    prices = write_klines(tmp_path, "BTCUSDT-1m-2025-02", header=False, unit=1000, zipped=True)
    code, manifest, ticks = run_replay(tmp_path, prices)
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert f"replay of {prices}: 30 rows, Binance klines without a header" in printed
    assert "; from 2025-02-01T00:01:00Z;" in printed
    assert "scripted shocks are off" in printed
    config = manifest["config"]
    assert config["world"]["shocks"] == [] and config["run"]["start_time"] == "2025-02-01T00:01:00Z"
    assert manifest["value_sources"]["world.shocks"] == REPLAY_SHOCKS_OFF
    assert manifest["value_sources"]["world.process"] == f"--prices {prices}"
    assert ticks["time"].iloc[0] == pd.Timestamp("2025-02-01 00:01", tz="UTC")
    # No shock: the information is the file, minute by minute.
    minute = (ticks["elapsed_s"].to_numpy() // 60).astype(int)
    assert ticks["fundamental_usdt"].tolist() == CLOSES[minute].astype(float).tolist()


def test_a_replay_keeps_shocks_the_user_adds_and_a_start_the_user_names(tmp_path, capsys):
    prices = write_klines(tmp_path, "k", header=True)
    shock = "world.shocks=[{start_minute: 5, minutes: 1, move: -0.1}]"
    code, manifest, ticks = run_replay(
        tmp_path, prices, "--set", shock, "--set", "run.start_time=2030-01-01T00:00:00Z"
    )
    assert code == 0, capsys.readouterr().err
    assert "1 scripted shock on top" in capsys.readouterr().out
    assert len(manifest["config"]["world"]["shocks"]) == 1
    assert manifest["config"]["run"]["start_time"] == "2030-01-01T00:00:00Z"
    after = ticks.loc[ticks["elapsed_s"] == 7 * 60, "fundamental_usdt"].item()
    assert after == pytest.approx(0.9 * CLOSES[7])


def test_switching_to_a_replay_with_set_drops_the_shocks_too(tmp_path):
    prices = write_klines(tmp_path, "k", header=True)
    overrides = ["world.process=csv", f"world.csv_path={prices}"]
    config, sources = load_config_with_sources("baseline", overrides)
    assert config.world.shocks == () and sources["world.shocks"] == REPLAY_SHOCKS_OFF
    assert load_config("baseline").world.shocks  # the baseline has its drop
    # A config that replays by itself keeps what it says.
    kept = load_config(
        "baseline", [*overrides, "world.shocks=[{start_minute: 1, minutes: 1, move: 0.1}]"]
    )
    assert len(kept.world.shocks) == 1


def test_validate_reads_the_same_kline_zip(tmp_path, capsys):
    prices = write_klines(tmp_path, "k", header=False, zipped=True)
    assert main(["validate", "--prices", str(prices)]) == 0
    printed = capsys.readouterr().out
    assert "Binance klines without a header" in printed and "'close'" in printed


def test_a_file_shorter_than_the_run_says_how_long_a_run_it_covers(tmp_path, capsys):
    prices = write_klines(tmp_path, "k", header=True)
    code = main(["run", "baseline", "--prices", str(prices), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "run.hours at most 0.483333" in err and str(prices) in err
    assert not (tmp_path / "x").exists()


def test_repeated_timestamps_are_said_not_silent(tmp_path, capsys):
    path = tmp_path / "repeats.csv"
    path.write_text("timestamp,price\n0,100\n1,101\n1,102\n2,103\n2,104\n3,105\n")
    series = read_price_file(path)
    assert series.repeated_times == 2
    assert "2 rows repeat the timestamp before them (the last counts)" in series.describe()
    minutes = tmp_path / "minutes.csv"
    rows = [f"{60 * m},{100 + m}" for m in range(10)]
    minutes.write_text("timestamp,price\n" + "\n".join([*rows[:5], rows[4], *rows[5:]]) + "\n")
    assert main(["validate", "--prices", str(minutes)]) == 0
    assert "1 row repeats the timestamp before it" in capsys.readouterr().out
