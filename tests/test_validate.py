"""``abm validate``: a short run measured and judged end to end, pooled runs, real-price files
(synthetic here: no test reads real market data), and user mistakes as one message and exit 2."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from abm.analysis.validation import VERDICTS, load_bands
from abm.cli import main
from abm.experiments.status import RUNNING, host_name
from tests.conftest import TINY_RUN, copy_run

BASELINE = "configs/baseline.yaml"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert err.startswith("abm validate: "), err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err  # one message
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 15-minute run through ``abm run`` (TINY_RUN)."""
    out = tmp_path_factory.mktemp("validate") / "run"
    sets = sum((["--set", o] for o in TINY_RUN), [])
    assert main(["run", BASELINE, *sets, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------ runs


def test_validate_a_run_prints_the_table_and_writes_every_metric(run_dir, tmp_path, capsys):
    out = tmp_path / "validation.json"
    code, printed, err = run_cli(capsys, "validate", run_dir, "--out", out)
    assert code == 0, err
    lines = printed.splitlines()
    assert lines[0].split()[:2] == ["metric", "value"] and "verdict" in lines[0]
    assert "reported (no band):" in printed
    assert "one run, so no interval" in printed
    assert f"report: {out}" in printed
    # The information process, the index, the mark and the last side by side, and what the
    # market added: the last's fact minus the information's.
    header = next(line for line in lines if line.startswith("return fact "))
    assert header.split() == ["return", "fact", "information", "index", "mark", "last", "last",
                              "-", "information"]  # fmt: skip
    row = next(line for line in lines if line.startswith("acf_r_lag1 ")).split()
    report_values = {m["metric"]: m["value"] for m in json.loads(out.read_text())["metrics"]}
    info, last = report_values["fundamental.acf_r_lag1"], report_values["last.acf_r_lag1"]
    assert float(row[-1]) == pytest.approx(last - info, rel=1e-3, abs=1e-4)
    report = json.loads(out.read_text())  # strict JSON: NaN written as null
    bands = load_bands()
    assert report["bands_version"] == bands.version
    metrics = {m["metric"]: m for m in report["metrics"]}
    for band in bands.bands:
        assert band.metric in metrics, band.metric
        assert metrics[band.metric]["source"] == band.source
        assert band.metric in printed
    for key in (
        "last.hill_5pct",
        "mark.kurtosis_1m",
        "index.acf_abs_lag1",
        "book.spread_ticks_median",
        "book.depth_bid_50bps_median",
        "gap.last_mark_bps_p99",
        "funding.settlements",
        "pnl.retail",
        "mm.edge_bps",
        "mm.adverse_bps",
        "liq.notional_per_volume",
        "liq.long_share",
        "adl.actions",
    ):
        assert key in metrics, key
    assert {m["verdict"] for m in report["metrics"]} <= set(VERDICTS)
    for m in report["metrics"]:
        assert m["runs"] <= 1 and m["ci95_low"] is None
        assert (m["verdict"] == "no band") == (m["band"] is None)
    # The TINY run's crash liquidates: the liquidation measures are there.
    assert metrics["liq.notional_usdt"]["value"] > 0
    assert metrics["book.longest_one_sided_seconds"]["value"] >= 0
    assert report["sources"][0]["run_dir"] == str(run_dir)
    assert report["sources"][0]["adl_reason_recorded"] is True
    assert sum(report["verdicts"].values()) == len(report["metrics"])


def test_validate_writes_validation_json_in_the_current_folder(run_dir, tmp_path, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, _, err = run_cli(capsys, "validate", run_dir)
    finally:
        os.chdir(cwd)
    assert code == 0, err
    assert json.loads((tmp_path / "validation.json").read_text())["metrics"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_validate_pools_runs_with_intervals(run_dir, tmp_path, capsys):
    second = copy_run(run_dir, tmp_path / "second")
    out = tmp_path / "pooled.json"
    code, printed, err = run_cli(capsys, "validate", run_dir, second, "--out", out)
    assert code == 0, err
    assert "95% interval" in printed and "2 runs" in printed
    metrics = {m["metric"]: m for m in json.loads(out.read_text())["metrics"]}
    spread = metrics["book.spread_bps_median"]
    # Two identical runs: the interval has no width, the per-run values are both there.
    assert spread["runs"] == 2 and spread["ci95_low"] == pytest.approx(spread["value"])
    assert spread["per_run"][0] == spread["per_run"][1]
    assert metrics["pnl.market_maker"]["pool"] == "median"
    assert metrics["pnl.market_maker"]["ci95_low"] is None
    assert "different configs" not in err


def test_pooling_runs_of_different_configs_says_so(run_dir, tmp_path, capsys):
    config = json.loads((run_dir / "manifest.json").read_text())["config"]
    other_seed = copy_run(
        run_dir, tmp_path / "seed", config={**config, "run": {**config["run"], "seed": 99}}
    )
    out = tmp_path / "v.json"
    code, _, err = run_cli(capsys, "validate", run_dir, other_seed, "--out", out)
    assert code == 0 and "different configs" not in err  # seeds of one experiment
    other = copy_run(
        run_dir, tmp_path / "other", config={**config, "run": {**config["run"], "hours": 9}}
    )
    code, _, err = run_cli(capsys, "validate", run_dir, other, "--out", out)
    assert code == 0 and "2 different configs" in err


def test_a_run_written_before_adl_reasons_still_validates(run_dir, tmp_path, capsys):
    old = copy_run(run_dir, tmp_path / "old")
    table = pq.read_table(old / "liquidations.parquet").drop_columns(["adl_reason"])
    pq.write_table(table, old / "liquidations.parquet")
    out = tmp_path / "old.json"
    code, _, err = run_cli(capsys, "validate", old, "--out", out)
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["sources"][0]["adl_reason_recorded"] is False


# ------------------------------------------------------------------------- user errors


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "validate", tmp_path)
    assert_user_error(code, err, "not a run folder")
    code, _, err = run_cli(capsys, "validate", tmp_path / "absent")
    assert_user_error(code, err, "does not exist")


def test_a_running_run_is_refused_and_nothing_is_written(run_dir, tmp_path, capsys):
    running = copy_run(
        run_dir,
        tmp_path / "running",
        status=RUNNING,
        pid=os.getpid(),
        host=host_name(),
        heartbeat=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    out = tmp_path / "v.json"
    code, _, err = run_cli(capsys, "validate", run_dir, running, "--out", out)
    assert_user_error(code, err, "still running")
    assert not out.exists()


def test_a_complete_run_with_a_missing_table_is_refused(run_dir, tmp_path, capsys):
    broken = copy_run(run_dir, tmp_path / "broken")
    (broken / "fills.parquet").unlink()
    code, _, err = run_cli(capsys, "validate", broken, "--out", tmp_path / "v.json")
    assert_user_error(code, err, "fills.parquet", "cannot be read")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "give one or more run folders"),
        (["RUN", "--prices", "p.csv"], "not both"),
        (["RUN", "RUN"], "given twice"),
    ],
)
def test_argument_mistakes(run_dir, capsys, argv, fragment):
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    code, _, err = run_cli(capsys, "validate", *argv)
    assert_user_error(code, err, fragment)


def test_an_unwritable_out_is_refused(run_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, "validate", run_dir, "--out", tmp_path / "no" / "v.json")
    assert_user_error(code, err, "cannot write")


def test_a_bad_bands_file_is_refused(run_dir, tmp_path, capsys):
    bands = tmp_path / "bands.yaml"
    bands.write_text("version: 1\nbands:\n  - {metric: a, lo: 1}\n")
    code, _, err = run_cli(capsys, "validate", run_dir, "--bands", bands)
    assert_user_error(code, err, "unknown keys")


# ------------------------------------------------------------------------ price files


def synthetic_prices(minutes: int = 3_000, seed: int = 7) -> np.ndarray:
    """A price path with fat-tailed 1-minute returns (Student t, 3 degrees of freedom)."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(3, minutes) * 5e-4
    return 30_000 * np.exp(np.cumsum(returns))


def test_prices_from_a_csv_with_millisecond_timestamps(tmp_path, capsys):
    prices = synthetic_prices()
    start = 1_690_000_000_000
    frame = pd.DataFrame(
        {"open_time": start + 60_000 * np.arange(len(prices)), "open": 1.0, "close": prices}
    )
    path = tmp_path / "klines.csv"
    frame.to_csv(path, index=False)
    code, printed, err = run_cli(capsys, "validate", "--prices", path)
    assert code == 0, err
    assert "'open_time' (ms)" in printed and "'close'" in printed
    assert f"{len(prices) - 1:,} 1-minute returns" in printed
    assert "last.hill_5pct" in printed and "last.acf_abs_lag1" in printed
    assert "book." not in printed and "pnl." not in printed  # return facts only
    assert "one price file, so no interval" in printed
    # Student t with 3 degrees of freedom: a tail index near 3.
    row = next(line for line in printed.splitlines() if line.startswith("last.hill_5pct"))
    assert 2.4 < float(row.split()[1]) < 3.8
    assert not (tmp_path / "validation.json").exists()


def test_prices_from_feather_and_parquet_with_datetimes_and_iso_text(tmp_path, capsys):
    prices = synthetic_prices(1_000)
    # Ten observations a minute (irregular ticks): the 1-minute grid takes each minute's last.
    seconds = np.arange(10 * len(prices)) * 6.0
    ticks = np.repeat(prices, 10)
    stamps = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    feather = tmp_path / "trades.feather"
    pd.DataFrame({"timestamp": stamps, "price": ticks}).to_feather(feather)
    parquet = tmp_path / "iso.parquet"
    pd.DataFrame({"time": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "Last": ticks}).to_parquet(parquet)
    out = tmp_path / "prices.json"
    code, printed, err = run_cli(
        capsys, "validate", "--prices", feather, "--prices", parquet, "--out", out
    )
    assert code == 0, err
    assert "'timestamp' (datetime)" in printed and "'price'" in printed
    assert "'time' (ISO text)" in printed and "'Last'" in printed
    assert printed.count(f"{len(prices) - 1:,} 1-minute returns") == 2
    report = json.loads(out.read_text())
    assert [s["price_file"] for s in report["sources"]] == [str(feather)]
    assert len(report["files"]) == 2
    metrics = {m["metric"]: m for m in report["metrics"]}
    assert set(metrics) >= {b.metric for b in load_bands().bands if b.metric.startswith("last.")}
    assert all(m["verdict"] in VERDICTS for m in report["metrics"])


def test_prices_with_epoch_seconds_and_gaps(tmp_path, capsys):
    prices = synthetic_prices(500)
    seconds = 1_700_000_000 + 60 * np.arange(len(prices))
    keep = np.ones(len(prices), dtype=bool)
    keep[100:103] = False  # three missing minutes repeat the price before them
    path = tmp_path / "gappy.csv"
    pd.DataFrame({"date": seconds[keep], "close": prices[keep]}).to_csv(path, index=False)
    code, printed, err = run_cli(capsys, "validate", "--prices", path)
    assert code == 0, err
    assert "'date' (s)" in printed and "3 minutes without a price" in printed


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("nocol.csv", "date,open,volume\n1,2,3\n", "no price column"),
        ("notime.csv", "close,volume\n1,2\n", "no timestamp column"),
        ("badtime.csv", "date,close\nyesterday,1\ntoday,2\n", "line 2, column 'date'"),
        ("words.csv", "date,close\n1,a\n2,b\n", "line 2, column 'close': 'a' is not allowed"),
        ("one.csv", "date,close\n1,100\n61,101\n", "fewer than two 1-minute returns"),
        ("prices.txt", "date,close\n1,100\n", "allowed: .csv, .zip, .parquet, .feather"),
        ("broken.parquet", "not parquet", "cannot be read"),
    ],
)
def test_price_file_mistakes(tmp_path, capsys, name, content, fragment):
    path = tmp_path / name
    path.write_text(content)
    code, _, err = run_cli(capsys, "validate", "--prices", path)
    assert_user_error(code, err, fragment)


def test_a_missing_price_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "validate", "--prices", tmp_path / "absent.csv")
    assert_user_error(code, err, "does not exist")
