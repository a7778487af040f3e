"""The ``abm`` command's handling of user mistakes and of runs stopped from outside: one message
on stderr (``abm <command>: ...``), exit status 2 (130/143 for signals), no traceback, and no
run folder that says anything but what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abm.cli import main
from abm.config import load_config
from abm.experiments import run as run_module
from abm.experiments.run import execute
from abm.experiments.status import (
    COMPLETE,
    DEAD,
    FAILED,
    INTERRUPTED,
    NOT_A_RUN,
    RUNNING,
    STALE_AFTER,
    RunFolderError,
    host_name,
    require_complete,
    run_status,
)
from tests.conftest import TINY_RUN, copy_run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "configs/baseline.yaml"
SHORT = [*TINY_RUN, "run.hours=0.02"]
"""A run of 72 ticks."""


def sets(overrides: list[str]) -> list[str]:
    return sum((["--set", o] for o in overrides), [])


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, err: str, command: str, *fragments: str) -> None:
    assert code == 2
    assert err.startswith(f"abm {command}: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "complete"
    execute(load_config(BASELINE, SHORT), out)
    return out


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def now(offset: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).isoformat(timespec="seconds")


# ------------------------------------------------------------------ errors while building


def test_csv_replay_error_is_one_message_and_writes_nothing(tmp_path, capsys):
    csv = tmp_path / "prices.csv"
    csv.write_text("timestamp,price\n0,50000\n10,50010\n")
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys,
        "run",
        BASELINE,
        *sets([*SHORT, "world.process=csv", f"world.csv_path={csv}"]),
        "--out",
        str(out),
    )
    assert_user_error(code, err, "run", "covers 10 s", str(csv))
    assert not out.exists()


def test_index_outside_the_exchange_prices_is_refused_before_any_tick(tmp_path, capsys):
    out = tmp_path / "run"
    shock = "world.shocks=[{start_minute: 0, minutes: 0.5, move: 9.5}]"
    code, _, err = run_cli(
        capsys,
        "run",
        BASELINE,
        *sets([*SHORT, "world.start_price=450000", shock]),
        "--out",
        str(out),
    )
    assert_user_error(code, err, "run", "fundamental value path", "price_filter.max_price")
    assert not out.exists()


def test_failed_build_leaves_an_existing_run_as_it_was(complete_run, tmp_path, capsys):
    copy = copy_run(complete_run, tmp_path / "copy")
    before = sorted(p.name for p in copy.iterdir())
    csv = tmp_path / "short.csv"
    csv.write_text("timestamp,price\n0,50000\n")
    code, _, err = run_cli(
        capsys,
        "run",
        BASELINE,
        *sets([*SHORT, "world.process=csv", f"world.csv_path={csv}"]),
        "--out",
        str(copy),
        "--overwrite",
    )
    assert_user_error(code, err, "run", "covers 0 s")
    assert sorted(p.name for p in copy.iterdir()) == before
    assert run_status(copy).status == COMPLETE


# ------------------------------------------------------------------ the config loader


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        ({"c.yaml": "extends: c.yaml\n"}, ["extends itself"]),
        ({"c.yaml": "extends: d.yaml\n", "d.yaml": "extends: c.yaml\n"}, ["cycle", "d.yaml"]),
        ({"c.yaml": "extends: 5\n"}, ["extends must be the path of a YAML file", "5"]),
        ({"c.yaml": "extends: .\n"}, ["is a folder"]),
        ({"c.yaml": b"run:\n  hours: \xff\n"}, ["not UTF-8", "0xff"]),
        ({"c.yaml": "run:\n  hours: 1\n  hours: 2\n"}, ["'hours' is given twice", "line 3"]),
        ({"c.yaml": "exchange:\n  extends: missing.yaml\n"}, ["missing.yaml", "does not exist"]),
    ],
    ids=["self", "cycle", "five", "dot", "utf8", "duplicate", "missing"],
)
def test_config_file_mistakes_are_one_message(tmp_path, capsys, files, fragments):
    for name, text in files.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", str(tmp_path / "c.yaml"), "--out", str(out))
    assert_user_error(code, err, "run", *fragments)
    assert not out.exists()


def test_a_folder_given_as_the_config(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", str(tmp_path), "--out", str(tmp_path / "run"))
    assert_user_error(code, err, "run", "is a folder")


def test_set_with_invalid_yaml(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "run", BASELINE, "--set", "run.hours=[1", "--out", str(tmp_path / "r")
    )
    assert_user_error(code, err, "run", "run.hours=[1", "not valid YAML")
    assert len(err.strip().splitlines()) == 1


def test_switching_venue_from_the_command_line(tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "run",
        BASELINE,
        *sets([*SHORT, "exchange=exchanges/bybit.yaml"]),
        "--out",
        str(tmp_path / "bybit"),
    )
    assert code == 0, err
    manifest = json.loads((tmp_path / "bybit" / "manifest.json").read_text())
    assert manifest["config"]["exchange"]["name"] == "bybit-btcusdt"


# ------------------------------------------------------------------ output folders


def test_empty_out_is_refused(capsys):
    code, _, err = run_cli(capsys, "run", BASELINE, *sets(SHORT), "--out", "")
    assert_user_error(code, err, "run", "--out is empty")


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        code, _, err = run_cli(capsys, "run", BASELINE, *sets(SHORT), "--out", str(out))
        assert_user_error(code, err, "run", "is a file")
    assert (tmp_path / "file").read_text() == "x"


def test_out_that_cannot_be_written_is_refused(tmp_path, capsys):
    if os.geteuid() == 0:
        out = Path("/proc/abm-unwritable/run")  # even root cannot make folders in /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "run"
    code, _, err = run_cli(capsys, "run", BASELINE, *sets(SHORT), "--out", str(out))
    assert_user_error(code, err, "run", "cannot create output folder", str(out))


def test_out_onto_a_run_is_refused_without_overwrite(complete_run, tmp_path, capsys):
    copy = copy_run(complete_run, tmp_path / "copy")
    before = (copy / "manifest.json").read_bytes()
    code, _, err = run_cli(capsys, "run", BASELINE, *sets(SHORT), "--out", str(copy))
    assert_user_error(code, err, "run", "already holds a run", "--overwrite")
    assert (copy / "manifest.json").read_bytes() == before


def test_overwrite_removes_the_old_runs_files_first(complete_run, tmp_path, capsys):
    copy = copy_run(complete_run, tmp_path / "copy")
    (copy / "figures").mkdir()
    (copy / "figures" / "old.png").write_bytes(b"old")
    (copy / "liquidations.gexf").write_text("old")
    code, _, err = run_cli(
        capsys, "run", BASELINE, *sets([*SHORT, "run.seed=7"]), "--out", str(copy), "--overwrite"
    )
    assert code == 0, err
    assert not (copy / "figures").exists() and not (copy / "liquidations.gexf").exists()
    manifest = json.loads((copy / "manifest.json").read_text())
    assert (manifest["seed"], manifest["status"]) == (7, COMPLETE)


def test_a_folder_that_is_not_a_run_is_never_overwritten(tmp_path, capsys):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("precious")
    code, _, err = run_cli(
        capsys, "run", BASELINE, *sets(SHORT), "--out", str(folder), "--overwrite"
    )
    assert_user_error(code, err, "run", "not empty", "no manifest.json")
    assert (folder / "chapter1.tex").read_text() == "precious"


def test_a_running_run_is_never_overwritten(complete_run, tmp_path, capsys):
    copy = copy_run(
        complete_run,
        tmp_path / "copy",
        status=RUNNING,
        pid=os.getpid(),
        host=host_name(),
        heartbeat=now(),
    )
    code, _, err = run_cli(capsys, "run", BASELINE, *sets(SHORT), "--out", str(copy), "--overwrite")
    assert_user_error(code, err, "run", "still running")
    assert (copy / "ticks.parquet").is_file()


def test_top_must_be_positive(complete_run, capsys):
    with pytest.raises(SystemExit) as info:
        main(["flows", str(complete_run), "--top", "-3"])
    assert info.value.code == 2
    assert "--top: must be at least 1" in capsys.readouterr().err


# ------------------------------------------------------------------ readers refuse incomplete runs


@pytest.mark.parametrize(
    ("fields", "status", "fragments"),
    [
        (
            lambda: {
                "status": RUNNING,
                "pid": os.getpid(),
                "host": host_name(),
                "heartbeat": now(),
            },
            RUNNING,
            ["still running"],
        ),
        (
            lambda: {"status": RUNNING, "pid": dead_pid(), "host": host_name(), "heartbeat": now()},
            DEAD,
            ["dead", "no longer runs"],
        ),
        (
            lambda: {
                "status": RUNNING,
                "pid": 1,
                "host": "node-elsewhere",
                "heartbeat": now(-STALE_AFTER - 60),
            },
            DEAD,
            ["dead", "no heartbeat"],
        ),
        (
            lambda: {"status": RUNNING, "pid": None, "host": None, "heartbeat": None},
            DEAD,
            ["dead", "without a process id"],
        ),
        (lambda: {"status": FAILED, "error": "RuntimeError: boom"}, FAILED, ["failed", "boom"]),
        (
            lambda: {"status": INTERRUPTED, "signal": "SIGTERM", "tick": 5, "ticks": 72},
            INTERRUPTED,
            ["interrupted", "SIGTERM", "tick 5 of 72"],
        ),
    ],
    ids=["running", "killed", "stale-elsewhere", "old-running", "failed", "interrupted"],
)
@pytest.mark.parametrize("command", ["flows", "figures"])
def test_readers_refuse_runs_that_are_not_complete(
    complete_run, tmp_path, capsys, fields, status, fragments, command
):
    copy = copy_run(complete_run, tmp_path / "copy", **fields())
    assert run_status(copy).status == status
    code, _, err = run_cli(capsys, command, str(copy))
    assert_user_error(code, err, command, str(copy), *fragments)
    assert not (copy / "figures").exists()


def test_a_heartbeat_from_another_host_counts_while_fresh(complete_run, tmp_path):
    copy = copy_run(
        complete_run,
        tmp_path / "copy",
        status=RUNNING,
        pid=1,
        host="node-elsewhere",
        heartbeat=now(-60),
    )
    assert run_status(copy).status == RUNNING


@pytest.mark.parametrize("command", ["flows", "figures"])
def test_readers_refuse_a_truncated_parquet_file(complete_run, tmp_path, capsys, command):
    copy = copy_run(complete_run, tmp_path / "copy")
    data = (copy / "fills.parquet").read_bytes()
    (copy / "fills.parquet").write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, command, str(copy))
    assert_user_error(code, err, command, "fills.parquet", "damaged")


def test_abm_flows_reads_the_runs_flow_outputs_without_rewriting_them(
    complete_run, tmp_path, capsys
):
    copy = copy_run(complete_run, tmp_path / "copy")
    files = sorted(p for p in copy.iterdir() if p.is_file())
    before = {p.name: p.stat().st_mtime_ns for p in files}
    code, read, _ = run_cli(capsys, "flows", str(copy))
    assert code == 0
    assert {p.name: p.stat().st_mtime_ns for p in files} == before
    code, rewritten, _ = run_cli(capsys, "flows", str(copy), "--rewrite")
    assert code == 0 and rewritten == read
    assert (copy / "where_money_goes.csv").stat().st_mtime_ns != before["where_money_goes.csv"]


def test_readers_refuse_a_folder_that_is_not_a_run(tmp_path, capsys):
    for command in ("flows", "figures"):
        code, _, err = run_cli(capsys, command, str(tmp_path))
        assert_user_error(code, err, command, "not a run folder")
    assert run_status(tmp_path).status == NOT_A_RUN
    with pytest.raises(RunFolderError, match="does not exist"):
        require_complete(tmp_path / "absent")


def test_a_failed_run_records_its_error(tmp_path, monkeypatch):
    def explode(model, progress=None, check=None):
        model.run_for(3)
        raise RuntimeError("boom")

    monkeypatch.setattr(run_module, "simulate", explode)
    with pytest.raises(RuntimeError, match="boom"):
        execute(load_config(BASELINE, SHORT), tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (manifest["status"], manifest["tick"]) == (FAILED, 3)
    assert manifest["error"] == "RuntimeError: boom"
    assert not list((tmp_path / "run").glob(".*"))


# ------------------------------------------------------------------ signals


def start_run(out: Path) -> subprocess.Popen:
    """``abm run`` of a long run in a child process, once its manifest says ``running``."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "abm.cli",
            "run",
            BASELINE,
            *sets([*TINY_RUN, "run.hours=3"]),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (out / "manifest.json").is_file() and run_status(out).status == RUNNING:
            time.sleep(0.3)  # a few ticks in
            return child
        if child.poll() is not None:
            raise AssertionError(f"abm run ended early: {child.communicate()}")
        time.sleep(0.05)
    child.kill()
    raise AssertionError("abm run did not start within a minute")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_marks_the_run_interrupted(tmp_path, signum, code):
    out = tmp_path / "run"
    child = start_run(out)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == code
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [stderr.strip()]
    assert stderr.startswith(f"abm run: stopped by {signal.Signals(signum).name} at tick ")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == INTERRUPTED
    assert manifest["signal"] == signal.Signals(signum).name
    assert 0 < manifest["tick"] < manifest["ticks"]
    assert f"tick {manifest['tick']:,} of" in stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert run_status(out).status == INTERRUPTED


def test_a_killed_run_is_recognised_as_dead(tmp_path, capsys):
    out = tmp_path / "run"
    child = start_run(out)
    child.kill()
    child.communicate(timeout=60)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == RUNNING
    assert (manifest["pid"], manifest["host"]) == (child.pid, host_name())
    status, reason = run_status(out)
    assert status == DEAD and str(child.pid) in reason
    code, _, err = run_cli(capsys, "flows", str(out))
    assert_user_error(code, err, "flows", "dead")


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_readers_handle_a_complete_run_with_a_missing_table(complete_run, tmp_path, capsys):
    copy = copy_run(complete_run, tmp_path / "copy")
    (copy / "transfers.parquet").unlink()
    (copy / "ticks.parquet").unlink()
    # abm flows reads the flow outputs the run wrote; recomputing them needs the transfer log.
    code, printed, _ = run_cli(capsys, "flows", str(copy))
    assert code == 0 and "where the money goes" in printed
    code, _, err = run_cli(capsys, "flows", str(copy), "--rewrite")
    assert_user_error(code, err, "flows", "transfers.parquet", "cannot be read")
    code, _, err = run_cli(capsys, "figures", str(copy))
    assert code == 0 and "Traceback" not in err
    assert "skipped market_overview" in err and "ticks.parquet" in err


def test_an_out_folder_whose_name_is_not_utf8_is_refused_before_the_run(tmp_path):
    """Such a name once ran the whole simulation and then failed in pyarrow with a traceback."""
    out = os.fsencode(tmp_path) + b"/run\xff"
    done = subprocess.run(
        [sys.executable, "-m", "abm.cli", "run", *sets(SHORT), "--out", out],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert "the name is not valid UTF-8" in done.stderr and "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def _wrong_schema(copy: Path) -> None:
    pq.write_table(pa.table({"x": [1, 2]}), copy / "ticks.parquet")


def _no_rows(copy: Path) -> None:
    table = pq.read_table(copy / "ticks.parquet")
    pq.write_table(table.slice(0, 0), copy / "ticks.parquet")


def _wrong_type(copy: Path) -> None:
    table = pq.read_table(copy / "ticks.parquet")
    at = table.schema.get_field_index("mark_usdt")
    column = pa.array([str(v) for v in table["mark_usdt"].to_pylist()])
    pq.write_table(table.set_column(at, "mark_usdt", column), copy / "ticks.parquet")


def _no_config(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["config"]
    (copy / "manifest.json").write_text(json.dumps(manifest))


def _bad_config(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["config"]["exchange"]["tick_size"] = "ten"
    (copy / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (_wrong_schema, "ticks.parquet has no column 'tick'"),
        (_no_rows, "ticks.parquet has no rows"),
        (_wrong_type, "column 'mark_usdt' is string, expected double"),
        (_no_config, "manifest.json has no config"),
        (_bad_config, "config exchange.tick_size is 'ten'"),
    ],
    ids=["wrong-schema", "no-rows", "wrong-type", "no-config", "bad-config"],
)
@pytest.mark.parametrize("command", ["flows", "figures", "dashboard"])
def test_readers_refuse_a_run_folder_with_the_wrong_tables_in_one_message(
    complete_run, tmp_path, capsys, damage, fragment, command
):
    copy = copy_run(complete_run, tmp_path / "copy")
    damage(copy)
    argv = ["dashboard", "--replay", str(copy)] if command == "dashboard" else [command, str(copy)]
    code, _, err = run_cli(capsys, *argv)
    assert_user_error(code, err, command, fragment)
    assert not (copy / "figures").exists()
