"""Sweeps: the file and its errors, common random numbers, the store (resume, refusal of another
sweep's store, a killed sweep resumed), executor equality (1 and 2 local workers, a Dask
LocalCluster), several sweeps through one pool (the same results as one after the other, resumed,
interrupted), metrics read back from a full run folder, summaries with hand-computed intervals,
and ``abm sweep`` end to end."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from abm.cli import main
from abm.config import ConfigError
from abm.config.rulebook import load_rulebook
from abm.experiments.compare import (
    find_reference,
    format_summary,
    interval_narrowing,
    number_format,
    summarize_sweep,
    welch_interval,
)
from abm.experiments.executors import sweep_executor
from abm.experiments.metrics import METRICS, RunTables, compute_metrics, register_metric
from abm.experiments.plan import Sweep, load_sweep, replication_seeds
from abm.experiments.run import METRICS_FILE
from abm.experiments.sensitivity import SampleSpec, sample_matrix
from abm.experiments.status import STALE_AFTER, host_name
from abm.experiments.sweep import (
    CATALOG_FILE,
    LOCK_FILE,
    RUNS_FOLDER,
    SWEEP_FILE,
    SweepInterrupted,
    SweepStoreError,
    catalog,
    is_complete,
    run_folder,
    run_sweep,
    run_sweeps,
    store_lock,
)
from abm.experiments.variance import variance_table
from abm.experiments.venue_rules import RULE_GROUPS, rule_differences, write_venue_rules
from tests.conftest import LIQUIDATABLE_RETAIL

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "configs" / "baseline.yaml"
TINY = {
    "run.hours": 0.05,
    "retail.count": 200,
    "whales.count": 1,
    "market_makers.count": 2,
    "arbitrageurs.count": 1,
    **LIQUIDATABLE_RETAIL,
    "world.shocks": [{"start_minute": 1, "minutes": 1, "move": -0.06}],
}
BOOKKEEPING = ["started", "ended", "host", "seconds"]


def write_sweep(folder: Path, **changes) -> Path:
    data = {
        "base": str(BASELINE),
        "set": TINY,
        "grid": {"exchange.max_leverage": [125, 10]},
        "replications": 2,
        "seed": 11,
        "reference": {"exchange.max_leverage": 125},
        **changes,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def results(store: Path) -> pd.DataFrame:
    """A store's catalogue without what depends on when and where it ran."""
    frame = pd.read_parquet(store / CATALOG_FILE).drop(columns=BOOKKEEPING)
    return frame.sort_values("run_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory) -> Path:
    """The tiny sweep run once on one local worker: what every other way must reproduce."""
    folder = tmp_path_factory.mktemp("sweep-one")
    sweep = load_sweep(write_sweep(folder))
    with sweep_executor(1) as executor:
        run_sweep(sweep, folder / "store", executor)
    return folder / "store"


# ---------------------------------------------------------------- the file


def test_unknown_keys_and_bad_values_are_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="replicatoins"):
        load_sweep(write_sweep(tmp_path, replicatoins=3))
    with pytest.raises(ConfigError, match="exchange.max_leverage"):
        load_sweep(write_sweep(tmp_path, grid={"exchange.max_leverage": [125, 0]}))
    with pytest.raises(ConfigError, match="unknown metric"):
        load_sweep(write_sweep(tmp_path, metrics=["liquidations", "no_such_metric"]))
    with pytest.raises(ConfigError, match="unique"):
        load_sweep(
            write_sweep(tmp_path, points=[{"name": "a", "set": {}}, {"name": "a", "set": {}}])
        )
    with pytest.raises(ConfigError, match="no values"):
        load_sweep(write_sweep(tmp_path, grid={"exchange.max_leverage": []}))


def test_replication_k_has_the_same_seed_under_every_point(tmp_path):
    sweep = load_sweep(
        write_sweep(tmp_path, points=[{"name": "a", "set": {}}, {"name": "b", "set": {}}])
    )
    assert len(sweep.runs) == 2 * 2 * 2
    seeds = replication_seeds(11, 2)
    assert len(set(seeds)) == 2
    for run in sweep.runs:
        assert run.seed == seeds[run.replication] == run.config["run"]["seed"]
    assert {tuple(sorted(r.values.items())) for r in sweep.runs} == {
        (("exchange.max_leverage", cap), ("point", name)) for cap in (125, 10) for name in "ab"
    }
    assert {r.config["exchange"]["max_leverage"] for r in sweep.runs} == {125, 10}


def test_command_line_overrides_change_the_sweep_or_every_run(tmp_path):
    overrides = ["replications=3", "grid.exchange.max_leverage=[20]", "run.hours=0.1"]
    # The reference (125x) is no longer a point: refused now, not after every run.
    with pytest.raises(ConfigError, match="reference exchange.max_leverage=125 is not among"):
        load_sweep(write_sweep(tmp_path), overrides)
    sweep = load_sweep(write_sweep(tmp_path), [*overrides, "reference={exchange.max_leverage: 20}"])
    assert len(sweep.runs) == 3
    assert all(r.config["exchange"]["max_leverage"] == 20 for r in sweep.runs)
    assert all(r.config["run"]["hours"] == 0.1 for r in sweep.runs)


# ---------------------------------------------------------------- running and the store


@pytest.mark.slow
def test_one_worker_two_workers_and_a_dask_cluster_give_the_same_results(reference_store, tmp_path):
    expected = results(reference_store)
    assert (expected["status"] == "complete").all()
    assert expected["liquidations.count"].sum() > 0
    sweep = load_sweep(write_sweep(tmp_path))
    with sweep_executor(2) as executor:
        run_sweep(sweep, tmp_path / "two", executor)
    pd.testing.assert_frame_equal(results(tmp_path / "two"), expected)
    with sweep_executor(2, cluster="local") as executor:
        run_sweep(sweep, tmp_path / "dask", executor)
    pd.testing.assert_frame_equal(results(tmp_path / "dask"), expected)
    for spec in sweep.runs:
        a = (run_folder(reference_store, spec) / METRICS_FILE).read_bytes()
        assert a == (run_folder(tmp_path / "dask", spec) / METRICS_FILE).read_bytes()


def test_a_second_run_skips_what_is_complete_and_redoes_what_is_not(reference_store, tmp_path):
    store = tmp_path / "store"
    sweep = load_sweep(write_sweep(tmp_path))
    with sweep_executor(1) as executor:
        run_sweep(sweep, store, executor)
        first, second = sweep.runs[0], sweep.runs[1]
        (run_folder(store, first) / METRICS_FILE).unlink()
        manifest = run_folder(store, second) / "manifest.json"
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "status": "running", "pid": 2**22 + 7}))
        seen = []
        run_sweep(sweep, store, executor, progress=lambda state: seen.append(state.skipped))
    assert seen[-1] == len(sweep.runs) - 2
    pd.testing.assert_frame_equal(results(store), results(reference_store))


def test_two_writers_on_one_store_the_second_is_refused_and_a_dead_ones_lock_taken_over(
    tmp_path,
):
    """Two sweeps writing one store at once could delete each other's runs as partial: the
    second is refused, naming the first's pid and host; a lock left by a process that is gone
    is taken over."""
    sweep = load_sweep(write_sweep(tmp_path, replications=1, grid={"exchange.max_leverage": [125]}))
    store = tmp_path / "store"
    with sweep_executor(1) as executor:
        with store_lock(store):
            lock = json.loads((store / LOCK_FILE).read_text())
            assert lock["pid"] == os.getpid()
            with pytest.raises(SweepStoreError, match=f"another sweep \\(pid {os.getpid()} on "):
                run_sweep(sweep, store, executor)
            assert not (store / RUNS_FOLDER).exists()  # nothing written by the refused one
        assert not (store / LOCK_FILE).exists()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        holder = {"pid": int(dead.stdout), "host": host_name(), "started": "2026-01-01T00:00:00Z"}
        (store / LOCK_FILE).write_text(json.dumps(holder))
        frame = run_sweep(sweep, store, executor)
    assert (frame["status"] == "complete").all() and not (store / LOCK_FILE).exists()
    # Another host's lock counts while its heartbeat is fresh, and is stale after.
    holder = {"pid": 1, "host": "node-elsewhere", "started": "2026-01-01T00:00:00Z"}
    (store / LOCK_FILE).write_text(json.dumps(holder))
    with pytest.raises(SweepStoreError, match="pid 1 on node-elsewhere"), store_lock(store):
        pass
    old = time.time() - 2 * STALE_AFTER
    os.utime(store / LOCK_FILE, (old, old))
    with store_lock(store):
        assert json.loads((store / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_store_of_another_sweep_is_refused_unless_reused(reference_store, tmp_path):
    store = tmp_path / "store"
    with sweep_executor(1) as executor:
        run_sweep(load_sweep(write_sweep(tmp_path)), store, executor)
        changed = load_sweep(write_sweep(tmp_path, replications=3))
        with pytest.raises(SweepStoreError, match="another sweep"):
            run_sweep(changed, store, executor)
        frame = run_sweep(changed, store, executor, reuse=True)
    assert len(frame) == 6 and (frame["status"] == "complete").all()
    expected = results(reference_store)
    kept = frame[frame["replication"] < 2][expected.columns]
    pd.testing.assert_frame_equal(
        kept.sort_values("run_id").reset_index(drop=True), expected, check_dtype=False
    )


def test_a_key_one_run_lacks_counts_as_its_metrics_absent_value(reference_store, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(reference_store, store)
    sweep = load_sweep(write_sweep(tmp_path))
    first, second = sweep.runs[0], sweep.runs[1]
    path = run_folder(store, first) / METRICS_FILE
    values = json.loads(path.read_text())
    values.pop("liquidations.long")
    path.write_text(json.dumps(values))
    path = run_folder(store, second) / METRICS_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "drawdown.crash": math.nan}))
    frame = catalog(sweep, store).set_index("run_id")
    assert frame.loc[first.run_id, "liquidations.long"] == 0.0
    # The crash liquidates the crowd at the 125x cap (the first runs), not at the 10x cap:
    # where_money_goes returned nothing for those, so their shares are not defined (NaN), not
    # zero.
    shares = [c for c in frame.columns if c.startswith("where_money_goes.")]
    assert shares
    assert frame.loc[first.run_id, shares].notna().all()
    quiet = frame[frame["liquidations.count"] == 0]
    assert len(quiet) and quiet[shares].isna().all().all()
    assert math.isnan(frame.loc[second.run_id, "drawdown.crash"])


def test_a_folder_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "notes.txt").write_text("mine")
    with (
        sweep_executor(1) as executor,
        pytest.raises(SweepStoreError, match="not empty"),
    ):
        run_sweep(load_sweep(write_sweep(tmp_path)), tmp_path / "store", executor)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_sweep_loses_at_most_its_runs_in_flight_and_resumes(
    reference_store, tmp_path, signum
):
    path = write_sweep(tmp_path)
    store = tmp_path / "store"
    command = [sys.executable, "-m", "abm.cli", "sweep", str(path), "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--out", str(store)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sweep = load_sweep(path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # complete, not only with its metrics written (the manifest's status comes after them)
        done = [s for s in sweep.runs if is_complete(run_folder(store, s), s)]
        if done:
            break
        time.sleep(0.05)
    assert done, "no run completed within 2 minutes"
    if signum == signal.SIGKILL:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    if signum == signal.SIGTERM:
        assert process.returncode in (143, 0), err
        assert process.returncode == 0 or "resume" in err
    kept = catalog(sweep, store)
    assert (kept["status"] == "complete").sum() >= 1
    with sweep_executor(1) as executor:
        run_sweep(sweep, store, executor)
    pd.testing.assert_frame_equal(results(store), results(reference_store))


# ---------------------------------------------------------------- several sweeps, one pool


class RecordingExecutor(Executor):
    """Passes runs to another executor and logs, in order, each submission and each run's end:
    ``("submit", run_id)`` and ``("done", run_id)``."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.log: list[tuple[str, str]] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        run_id = args[0].run_id
        self.log.append(("submit", run_id))
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: self.log.append(("done", run_id)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def submitted(self) -> list[str]:
        return [run_id for event, run_id in self.log if event == "submit"]


@pytest.fixture(scope="module")
def pair(reference_store, tmp_path_factory) -> tuple[list[Sweep], list[Path]]:
    """Two sweeps and their stores each run alone, one after the other: the tiny sweep (its
    store: the reference store) and a second one of two longer runs at cap 20."""
    folder = tmp_path_factory.mktemp("pair")
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    longer = write_sweep(
        folder / "b",
        set={**TINY, "run.hours": 0.1},
        grid={"exchange.max_leverage": [20]},
        reference={"exchange.max_leverage": 20},
    )
    sweeps = [load_sweep(write_sweep(folder / "a")), load_sweep(longer)]
    with sweep_executor(1) as executor:
        run_sweep(sweeps[1], folder / "b" / "store", executor)
    return sweeps, [reference_store, folder / "b" / "store"]


@pytest.fixture(scope="module")
def pooled(pair, tmp_path_factory) -> tuple[list[Path], RecordingExecutor]:
    """The same two sweeps through one pool of one worker, with its log."""
    sweeps, _ = pair
    folder = tmp_path_factory.mktemp("pooled")
    stores = [folder / "a", folder / "b"]
    with sweep_executor(1) as inner:
        recorder = RecordingExecutor(inner)
        run_sweeps(list(zip(sweeps, stores, strict=True)), recorder)
    return stores, recorder


def assert_same_stores(sweeps: list[Sweep], stores: list[Path], expected: list[Path]) -> None:
    """Each store holds the catalogue and the run folders of its expected one."""
    for sweep, store, reference in zip(sweeps, stores, expected, strict=True):
        pd.testing.assert_frame_equal(results(store), results(reference))
        for spec in sweep.runs:
            mine, theirs = run_folder(store, spec), run_folder(reference, spec)
            assert sorted(p.name for p in mine.iterdir()) == sorted(
                p.name for p in theirs.iterdir()
            )
            assert (mine / METRICS_FILE).read_bytes() == (theirs / METRICS_FILE).read_bytes()


def test_two_sweeps_through_one_pool_give_what_they_give_one_after_the_other(pair, pooled):
    sweeps, expected = pair
    stores, recorder = pooled
    assert_same_stores(sweeps, stores, expected)
    assert (results(stores[0])["status"] == "complete").all()
    assert len(results(stores[1])) == 2


def test_one_pool_takes_every_run_of_both_sweeps_before_any_ends_longest_first(pair, pooled):
    """Study after study, the second sweep's runs would be submitted only once the first's had
    ended. In one pool all six are submitted before any ends, the longer sweep's two (0.1 h)
    first though given second, then the others in the order planned."""
    sweeps, _ = pair
    _, recorder = pooled
    events = [event for event, _ in recorder.log]
    assert events[:6] == ["submit"] * 6 and events[6:] == ["done"] * 6
    short, longer = ([spec.run_id for spec in sweep.runs] for sweep in sweeps)
    assert recorder.submitted() == longer + short


def test_a_resumed_pool_runs_only_what_is_not_complete_in_each_store(pair, pooled, tmp_path):
    sweeps, expected = pair
    stores = [tmp_path / "a", tmp_path / "b"]
    for source, store in zip(pooled[0], stores, strict=True):
        shutil.copytree(source, store)
    broken = [sweeps[0].runs[3], sweeps[1].runs[0]]
    for store, spec in zip(stores, broken, strict=True):
        (run_folder(store, spec) / METRICS_FILE).unlink()
    seen = []
    with sweep_executor(1) as inner:
        recorder = RecordingExecutor(inner)
        run_sweeps(list(zip(sweeps, stores, strict=True)), recorder, progress=seen.append)
    assert sorted(recorder.submitted()) == sorted(spec.run_id for spec in broken)
    assert (seen[-1].skipped, seen[-1].done, seen[-1].total) == (4, 6, 6)
    assert_same_stores(sweeps, stores, expected)


def test_an_interrupted_pool_writes_every_catalogue_and_resumes(pair, tmp_path):
    """SIGINT once the first run has ended: what has not started is cancelled, both stores get
    their catalogue (the longer sweep's first run complete, the other's not all), and a second
    call completes both."""
    sweeps, expected = pair
    stores = [tmp_path / "a", tmp_path / "b"]
    planned = list(zip(sweeps, stores, strict=True))

    def interrupt(state) -> None:
        if state.done:
            os.kill(os.getpid(), signal.SIGINT)

    with sweep_executor(1) as executor, pytest.raises(SweepInterrupted) as stop:
        run_sweeps(planned, executor, progress=interrupt)
    assert (stop.value.signum, stop.value.total) == (signal.SIGINT, 6)
    assert 1 <= stop.value.done < 6
    short, longer = (catalog_of(store) for store in stores)
    assert len(short) == 4 and (short["status"] != "complete").any()
    assert len(longer) == 2 and longer.loc[sweeps[1].runs[0].run_id, "status"] == "complete"
    assert not any((store / LOCK_FILE).exists() for store in stores)
    with sweep_executor(1) as executor:
        run_sweeps(planned, executor)
    assert_same_stores(sweeps, stores, expected)


def catalog_of(store: Path) -> pd.DataFrame:
    return pd.read_parquet(store / CATALOG_FILE).set_index("run_id")


def test_a_pool_refuses_one_store_for_two_sweeps_and_checks_every_store_before_writing(
    pair, tmp_path
):
    sweeps, _ = pair
    with sweep_executor(1) as executor:
        with pytest.raises(SweepStoreError, match="given to two sweeps"):
            run_sweeps([(sweeps[0], tmp_path / "s"), (sweeps[1], tmp_path / "s")], executor)
        assert not (tmp_path / "s").exists()
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("mine")
        with pytest.raises(SweepStoreError, match="not empty"):
            run_sweeps([(sweeps[0], tmp_path / "new"), (sweeps[1], tmp_path / "other")], executor)
    assert not (tmp_path / "new" / SWEEP_FILE).exists()
    assert not (tmp_path / "new" / LOCK_FILE).exists()


# ---------------------------------------------------------------- metrics


def test_metrics_from_a_full_run_folder_equal_those_the_run_computed(tmp_path):
    path = write_sweep(
        tmp_path, outputs="full", grid={"exchange.max_leverage": [125]}, replications=1
    )
    sweep = load_sweep(path)
    with sweep_executor(1) as executor:
        run_sweep(sweep, tmp_path / "store", executor)
    folder = run_folder(tmp_path / "store", sweep.runs[0])
    assert (folder / "transfers.parquet").is_file()
    written = json.loads((folder / METRICS_FILE).read_text())
    again = compute_metrics(RunTables.from_folder(folder))
    assert written.keys() == again.keys()
    for key, value in written.items():
        assert value == again[key] or (math.isnan(value) and math.isnan(again[key])), key
    shares = [v for k, v in again.items() if k.startswith("where_money_goes.paid_")]
    if again["liquidations.count"]:
        assert sum(shares) == pytest.approx(1.0)


def test_a_user_metric_is_registered_once_and_computed():
    @register_metric("test_stop_triggers")
    def stop_triggers(run: RunTables) -> float:
        return float(run.ticks["stops_triggered"].sum())

    try:
        with pytest.raises(ValueError, match="registered already"):
            register_metric("test_stop_triggers")(stop_triggers)
        ticks = pd.DataFrame({"stops_triggered": [1, 0, 2]})
        empty = pd.DataFrame()
        run = RunTables({}, {}, ticks, empty, empty, empty, empty)
        assert compute_metrics(run, ["test_stop_triggers"]) == {"test_stop_triggers": 3.0}
        with pytest.raises(KeyError, match="unknown metric"):
            compute_metrics(run, ["nope"])
    finally:
        METRICS.pop("test_stop_triggers", None)


# ---------------------------------------------------------------- summaries


def synthetic_catalog() -> pd.DataFrame:
    """Two points x three replications; point b = point a + 1 + a small seed-specific term."""
    a = [10.0, 20.0, 30.0]
    b = [11.0, 21.5, 30.5]
    rows = []
    for point, cap, values in (("p000", 125, a), ("p001", 10, b)):
        for k, value in enumerate(values):
            rows.append(
                {
                    "run_id": f"{point}-r{k:03d}",
                    "point_id": point,
                    "cap": cap,
                    "replication": k,
                    "seed": k,
                    "status": "complete",
                    "m": value,
                }
            )
    return pd.DataFrame(rows)


def test_summary_intervals_and_paired_differences_by_hand():
    summary = summarize_sweep(synthetic_catalog(), ["cap"], {"cap": 10})
    a = summary[summary["cap"] == 125].iloc[0]
    assert (a["reference"], a["reference_id"], a["point_label"]) == ("cap=10", "p001", "cap=125")
    assert a["mean"] == pytest.approx(20.0)
    half = 4.3027 * 10.0 / math.sqrt(3)  # t(2) quantile x sd / sqrt(n)
    assert (a["t_low"], a["t_high"]) == pytest.approx((20 - half, 20 + half), abs=1e-3)
    diffs = np.array([-1.0, -1.5, -0.5])
    half = 4.3027 * diffs.std(ddof=1) / math.sqrt(3)
    assert a["diff_mean"] == pytest.approx(-1.0)
    assert (a["diff_low"], a["diff_high"]) == pytest.approx((-1 - half, -1 + half), abs=1e-3)
    assert (a["unpaired_low"], a["unpaired_high"]) == pytest.approx(
        welch_interval(np.array([10.0, 20.0, 30.0]), np.array([11.0, 21.5, 30.5]))
    )
    narrowing = interval_narrowing(summary)
    assert narrowing["unpaired_over_paired_width"].iloc[0] > 10


def test_intervals_of_counts_and_shares_stay_within_their_range():
    """Three runs with 0, 0 and 1 liquidations: the t-interval of the mean would reach below
    zero ([-1.10, 1.77]); the summary reports the bootstrap interval instead, within [0, 1],
    and says so. A share keeps within [0, 1] the same way; an unbounded metric keeps its t."""
    frame = synthetic_catalog()
    frame["liquidations.count"] = [0.0, 0.0, 1.0, 5.0, 6.0, 7.0]
    frame["drawdown.crash"] = [0.99, 0.90, 0.999, 0.1, 0.1, 0.1]
    frame["population_pnl.retail"] = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    summary = summarize_sweep(frame, ["cap"], {"cap": 125}).set_index(["metric", "cap"])
    count = summary.loc[("liquidations.count", 125)]
    assert count["t_low"] < 0 and count["interval"] == "bootstrap"
    assert 0 <= count["ci_low"] <= count["ci_high"] <= 1
    share = summary.loc[("drawdown.crash", 125)]
    assert share["t_high"] > 1 and share["interval"] == "bootstrap" and share["ci_high"] <= 1
    pnl = summary.loc[("population_pnl.retail", 125)]
    assert pnl["interval"] == "t" and pnl["ci_low"] < 0
    printed = format_summary(summary.reset_index(), ["cap"], ["liquidations.count"])
    assert "(difference to cap=125, paired by seed)" in printed
    assert "n=3  bootstrap" in printed and "percentile bootstrap" in printed


def test_one_number_format_per_column():
    fmt = number_format([11_540.2, 1_000_000.0, -3.0])
    assert [fmt(v) for v in (11_540.2, 1_000_000.0, -3.0)] == ["11,540", "1,000,000", "-3"]
    fmt = number_format([0.05957, 0.0612])
    assert [fmt(v) for v in (0.05957, 0.0612, math.nan)] == ["0.0596", "0.0612", "-"]


def test_an_unknown_reference_is_refused_with_the_values_there():
    frame = synthetic_catalog()
    with pytest.raises(ValueError, match="matches 0 points"):
        find_reference(frame, ["cap"], {"cap": 7})
    with pytest.raises(ValueError, match="not a key"):
        find_reference(frame, ["cap"], {"leverage": 7})


# ---------------------------------------------------------------- the command


def test_abm_sweep_on_the_leverage_cap_study_shortened(tmp_path, capsys):
    store = tmp_path / "store"
    overrides = [f"{key}={json.dumps(value)}" for key, value in TINY.items()]
    args = ["sweep", str(ROOT / "configs/sweeps/leverage_caps.yaml"), "--out", str(store)]
    args += [
        "--workers",
        "2",
        "--set",
        "replications=2",
        "--set",
        "grid.exchange.max_leverage=[125,5]",
    ]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 of 4 runs complete" in out and "liquidations.count" in out
    summary = pd.read_parquet(store / "summary.parquet")
    assert set(summary["exchange.max_leverage"]) == {125, 5}
    assert (store / "summary.csv").is_file() and (store / "interval_narrowing.csv").is_file()
    figures = sorted(p.name for p in (store / "figures").iterdir())
    assert "liquidations.count--exchange.max_leverage.pdf" in figures
    assert "difference--exchange.max_leverage.png" in figures
    assert main(["sweep", "summarize", str(store), "--reference", "exchange.max_leverage=5"]) == 0
    assert "difference to max_leverage=5" in capsys.readouterr().out
    before = (store / "summary.csv").stat().st_mtime_ns
    assert main(["sweep", "summarize", str(store), "--metrics", "liquidations.cuont"]) == 2
    assert "did you mean 'liquidations.count'?" in capsys.readouterr().err
    assert (store / "summary.csv").stat().st_mtime_ns == before  # nothing rewritten


def test_abm_sweep_mistakes_print_one_line_and_write_nothing(tmp_path, capsys):
    bad = write_sweep(tmp_path, outputs="everything")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm sweep: ") and "outputs" in err
    assert not (tmp_path / "store").exists()
    assert main(["sweep", "summarize", str(tmp_path)]) == 2
    assert "not a sweep store" in capsys.readouterr().err


def test_a_shipped_sweep_loads_by_name_and_an_unknown_name_lists_them():
    by_name = load_sweep("leverage_caps", ["replications=2"])
    by_file = load_sweep(ROOT / "configs/sweeps/leverage_caps.yaml", ["replications=2"])
    assert [r.config for r in by_name.runs] == [r.config for r in by_file.runs]
    with pytest.raises(ConfigError, match="leverage_caps"):
        load_sweep("leverage_cpas")


def test_deficit_paid_by_counts_debt_left_not_a_negative_balance_paid_back():
    """Event 1 left 5 USDT of debt; event 2's account entered below zero and left 2 USDT less far
    below (its own money: not a cover); event 3's fund paid 3 USDT."""
    paid = [
        (1, "own_collateral", 10.0),
        (1, "trader_debt", 5.0),
        (2, "own_collateral", 0.0),
        (2, "trader_debt", -2.0),
        (3, "insurance_payout", 3.0),
    ]
    attribution = pd.DataFrame(
        {
            "event_id": [e for e, _, _ in paid] + [2],
            "section": ["paid"] * len(paid) + ["memo"],
            "part": [p for _, p, _ in paid] + ["adl_haircut"],
            "amount_micro_usdt": [int(v * 1e6) for _, _, v in paid] + [int(4e6)],
        }
    )
    empty = pd.DataFrame()
    run = RunTables({}, {}, empty, empty, empty, empty, empty)
    run.__dict__["attribution"] = attribution  # the cached attribution, given by hand
    values = METRICS["deficit_paid_by"](run)
    assert values["trader_debt"] == 5.0 and values["insurance_payout"] == 3.0
    assert values["total"] == 8.0 and values["adl_haircut"] == 4.0


def test_backstop_cost_adds_every_cover_and_the_vaults_loss_and_traces_the_book_walk():
    """The fund paid 3 USDT and ADL cut 4 USDT from the winners; the vault, seeded with 100
    USDT, ends with 90 (a 10 USDT loss on what it took over); a liquidated long (account 9) sold
    1 BTC at 99 and 2 BTC at 97 into a mark of 100, bought by a maker (7) and a whale (8)."""
    attribution = pd.DataFrame(
        {
            "event_id": [1, 1, 1],
            "section": ["paid", "paid", "memo"],
            "part": ["own_collateral", "insurance_payout", "adl_haircut"],
            "amount_micro_usdt": [10_000_000, 3_000_000, 4_000_000],
        }
    )
    accounts = pd.DataFrame(
        {
            "account": [1, 2, 7, 8, 9],
            "population": ["insurance_fund", "backstop_vault", "market_maker", "whale", "retail"],
            "net_deposits_micro_usdt": [0, 100_000_000, 0, 0, 0],
            "final_equity_micro_usdt": [0, 90_000_000, 0, 0, 0],
        }
    )
    fills = pd.DataFrame(
        {
            "tick": [4, 5, 5],
            "buyer": [8, 7, 8],
            "seller": [7, 9, 9],
            "qty_btc": [5.0, 1.0, 2.0],
            "price_usdt": [100.0, 99.0, 97.0],
            "aggressor": ["buy", "sell", "sell"],
            "kind": ["normal", "liquidation", "liquidation"],
        }
    )
    ticks = pd.DataFrame({"tick": [4, 5], "mark_usdt": [100.0, 100.0]})
    empty = pd.DataFrame()
    run = RunTables({}, {}, ticks, empty, accounts, fills, empty)
    run.__dict__["attribution"] = attribution
    cost = METRICS["backstop_cost"](run)
    assert cost["insurance_payout"] == 3.0 and cost["adl_haircut"] == 4.0
    assert cost["vault_loss"] == 10.0
    assert cost["total"] == pytest.approx(3 + 4 + 10)
    assert cost["book_walk"] == pytest.approx(1 * 1 + 2 * 3)
    assert cost["book_walk_to_market_maker"] == pytest.approx(1)
    assert cost["book_walk_to_whale"] == pytest.approx(6)


def test_a_grid_too_large_is_refused_with_its_count_before_planning(tmp_path):
    values = list(range(1, 301))
    path = write_sweep(
        tmp_path, grid={"retail.count": values, "fundamental_traders.count": values}, reference=None
    )
    started = time.monotonic()
    with pytest.raises(ConfigError, match="300 x 300 points x 2 replications are 180,000 runs"):
        load_sweep(path)
    assert time.monotonic() - started < 5


def test_a_sweep_whose_shock_starts_after_its_runs_end_warns_with_the_runs_affected(capsys):
    """The README's old shortened try (run.hours=1 on the leverage-cap study) ended before the
    13:00 drop: every crash metric was empty, without a word. Now the sweep says so; timed from
    the end, the shock falls inside the short runs."""
    sweep = load_sweep(
        ROOT / "configs/sweeps/leverage_caps.yaml", ["run.hours=1", "replications=2"]
    )
    assert sweep.warnings() == [
        "14 of 14 runs: world.shocks[0] starts at minute 780, at or after the run's end "
        "(minute 60, run.hours 1): it never happens; time it from the end "
        "(minutes_before_end) or lengthen the run"
    ]
    shock = "world.shocks=[{minutes_before_end: 40, minutes: 20, move: -0.06}]"
    fixed = load_sweep(
        ROOT / "configs/sweeps/leverage_caps.yaml", ["run.hours=1", "replications=2", shock]
    )
    assert fixed.warnings() == []


def test_the_venue_rules_sweep_matches_the_presets_and_splits_them_by_rule(tmp_path):
    """configs/sweeps/venue_rules.yaml is what tools/venue_rules.py writes from the presets
    today; each of its points differs from Binance's rulebook in one rule group only."""
    written = tmp_path / "venue_rules.yaml"
    write_venue_rules(written, ROOT / "configs" / "exchanges")
    shipped = ROOT / "configs" / "sweeps" / "venue_rules.yaml"
    assert written.read_text() == shipped.read_text(), "run: uv run python tools/venue_rules.py"
    sweep = load_sweep(shipped, ["replications=1"])
    by_point = {run.values["point"]: run.config["exchange"] for run in sweep.runs}
    binance = by_point.pop("binance")
    for name, rules in by_point.items():
        venue, _, group = name.partition("_")
        changed = {key for key in rules if rules[key] != binance[key]}
        if group:
            assert changed and changed <= set(RULE_GROUPS[group]), (name, changed)
        else:
            assert rules["name"] != binance["name"]
    dydx = load_rulebook(ROOT / "configs/exchanges/dydx.yaml")
    binance_rules = load_rulebook(ROOT / "configs/exchanges/binance.yaml")
    assert rule_differences(binance_rules, dydx)["cap"] == {"max_leverage": 20}


SAMPLE = {
    "method": "morris",
    "size": 2,
    "levels": 4,
    "seed": 3,
    "parameters": {
        "world.shocks.0.move": {"range": [-0.1, -0.03], "reason": "a test"},
        "market_makers.levels": {"range": [3, 9], "integer": True, "reason": "a test"},
    },
    "outputs": {
        "liquidated": {"metric": "liquidations.count", "at": {"exchange.max_leverage": 125}},
        "cap_effect": {
            "metric": "liquidations.count",
            "at": {"exchange.max_leverage": 125},
            "minus": {"exchange.max_leverage": 10},
        },
    },
}


def test_a_sample_section_makes_the_points_and_the_store_gives_morris_indices(tmp_path, capsys):
    """Morris with 2 trajectories over 2 parameters: 2 x 3 rows, each at two caps, one
    replication; the shock's size reaches the config through the list index, the levels are
    whole; the indices come back per output and parameter."""
    path = write_sweep(tmp_path, sample=SAMPLE, replications=1, metrics=["liquidations"])
    sweep = load_sweep(path)
    assert len(sweep.runs) == 2 * 3 * 2
    rows = sample_matrix(SampleSpec.model_validate(SAMPLE))
    first = sweep.runs[0].config
    assert first["world"]["shocks"][0]["move"] == pytest.approx(rows[0, 0])
    assert first["market_makers"]["levels"] == rows[0, 1] == round(rows[0, 1])
    assert {r.values["point"] for r in sweep.runs} == {f"s{i:04d}" for i in range(6)}
    store = tmp_path / "store"
    assert main(["sweep", str(path), "--out", str(store), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "cap_effect:" in printed and "mu*" in printed
    table = pd.read_csv(store / "sensitivity.csv")
    assert set(table["output"]) == {"liquidated", "cap_effect"}
    assert set(table["parameter"]) == set(SAMPLE["parameters"])
    assert (table["mu_star"] >= 0).all() and (table["mu_star_conf"] >= 0).all()
    assert main(["sweep", "sensitivity", str(store)]) == 0


def test_a_sample_section_is_checked_before_anything_runs(tmp_path):
    bad = {**SAMPLE, "parameters": {"retail.count": {"range": [5, 1], "reason": "x"}}}
    with pytest.raises(ConfigError, match="range"):
        load_sweep(write_sweep(tmp_path, sample=bad))
    sobol = {**SAMPLE, "method": "sobol", "size": 6}
    with pytest.raises(ConfigError, match="power of 2"):
        load_sweep(write_sweep(tmp_path, sample=sobol))
    unreasoned = {**SAMPLE, "parameters": {"retail.count": {"range": [1, 5]}}}
    with pytest.raises(ConfigError, match="reason"):
        load_sweep(write_sweep(tmp_path, sample=unreasoned))


def test_variance_splits_a_metric_into_path_agents_and_their_interaction(tmp_path, capsys):
    """Three paths x four agent seeds built as path effect + seed effect (+ nothing else): the
    split gives the path's and the seeds' variances exactly and no interaction."""
    path_effect = {1: -2.0, 2: 0.0, 3: 2.0}
    seed_effect = [-1.0, 0.0, 1.0, 0.0]
    rows = [
        {
            "run_id": f"p{p}-r{k}",
            "point_id": f"p{p}",
            "replication": k,
            "status": "complete",
            "world.seed": p,
            "m.x": 10 + path_effect[p] + seed_effect[k],
        }
        for p in path_effect
        for k in range(4)
    ]
    catalog = pd.DataFrame(rows)
    table = variance_table(catalog).set_index("metric")
    assert table.loc["m.x", "path"] == pytest.approx(np.var(list(path_effect.values()), ddof=1))
    assert table.loc["m.x", "agents"] == pytest.approx(np.var(seed_effect, ddof=1))
    assert table.loc["m.x", "interaction"] == pytest.approx(0)
    store = tmp_path / "store"
    store.mkdir()
    catalog.to_parquet(store / "catalog.parquet")
    assert main(["sweep", "variance", str(store)]) == 0
    assert "m.x" in capsys.readouterr().out and (store / "variance.csv").is_file()
    assert main(["sweep", "variance", str(store), "--path-key", "exchange.max_leverage"]) == 2
    assert "no 'exchange.max_leverage' column" in capsys.readouterr().err
