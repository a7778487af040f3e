"""The run folder and the ``abm run`` command (DESIGN section 8)."""

from __future__ import annotations

import json
import os
import socket
import stat

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abm.cli import main
from abm.config import ConfigError, load_config
from abm.experiments.run import config_hash, execute, write_table
from abm.files import write_atomic
from tests.conftest import TINY_RUN

BASELINE = "configs/baseline.yaml"
TABLES = ("ticks", "fills", "liquidations", "transfers", "accounts", "liquidation_map", "hunts")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = execute(load_config(BASELINE, TINY_RUN), out)
    return out, result


def test_run_writes_every_file(run_folder):
    out, _ = run_folder
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file()
    assert (out / "summary.json").is_file()
    assert not list(out.glob(".*.tmp"))


def test_manifest_records_config_hash_versions_and_status(run_folder):
    out, result = run_folder
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["config_hash"] == config_hash(result.model.config)
    assert manifest["seed"] == 42
    assert manifest["config"]["retail"]["count"] == 300
    assert manifest["versions"]["mesa"].startswith("3.")
    assert manifest["started"] <= manifest["ended"]


def test_transfers_table_is_the_ledger_log(run_folder):
    out, result = run_folder
    table = pq.read_table(out / "transfers.parquet")
    assert table.column_names == ["tick", "src", "dst", "amount", "cause", "event_id"]
    assert len(table) == len(result.model.exchange.ledger)
    assert str(table.schema.field("amount").type) == "int64"
    causes = set(table.column("cause").to_pylist())
    assert {"deposit", "trade_pnl", "fee"} <= causes


def test_accounts_table_names_populations_and_balances_reconcile(run_folder):
    out, result = run_folder
    accounts = pq.read_table(out / "accounts.parquet").to_pandas()
    assert set(accounts.population) == {
        "retail",
        "whale",
        "market_maker",
        "arbitrageur",
        "fundamental",
        "exchange",
        "insurance_fund",
        "backstop_vault",
        "external",
    }
    ex = result.model.exchange
    assert accounts.final_balance.tolist() == ex.ledger.balances
    external = accounts.loc[accounts.population == "external", "final_balance"].item()
    assert accounts.final_balance.sum() - external == -external


def test_liquidations_and_ticks_tables_agree(run_folder):
    out, result = run_folder
    ticks = pq.read_table(out / "ticks.parquet").to_pandas()
    liquidations = pq.read_table(out / "liquidations.parquet").to_pandas()
    full = liquidations[liquidations.qty_lots > 0]
    assert len(ticks) == result.model.ticks + 1
    assert ticks.liquidations_long.sum() + ticks.liquidations_short.sum() == len(full)
    assert len(full) > 0
    assert ticks.equity_retail.notna().sum() == result.model.ticks // 60 + 1


def test_same_config_and_seed_give_byte_identical_tables(run_folder, tmp_path):
    out, _ = run_folder
    execute(load_config(BASELINE, TINY_RUN), tmp_path)
    for name in TABLES:
        assert (tmp_path / f"{name}.parquet").read_bytes() == (out / f"{name}.parquet").read_bytes()


def test_another_seed_gives_another_run(run_folder, tmp_path):
    out, _ = run_folder
    execute(load_config(BASELINE, [*TINY_RUN, "run.seed=43"]), tmp_path)
    assert (tmp_path / "fills.parquet").read_bytes() != (out / "fills.parquet").read_bytes()


def test_cli_run_prints_the_summary(tmp_path, capsys):
    code = main(
        [
            "run",
            BASELINE,
            *sum((["--set", o] for o in TINY_RUN), []),
            "--seed",
            "5",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "liquidations:" in printed and "insurance fund:" in printed
    assert str(tmp_path / "cli") in printed
    assert json.loads((tmp_path / "cli" / "manifest.json").read_text())["seed"] == 5


def test_cli_names_a_bad_key_and_writes_nothing(tmp_path, capsys):
    code = main(["run", BASELINE, "--set", "retail.cuont=5", "--out", str(tmp_path / "bad")])
    assert code == 2
    assert "retail.cuont" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_out_of_range_values_name_the_key_and_the_range():
    with pytest.raises(ConfigError, match=r"retail\.stop_loss_share"):
        load_config(BASELINE, ["retail.stop_loss_share=1.5"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(BASELINE, ["retail.count"])


def test_manifest_names_the_process_and_its_heartbeat(run_folder):
    out, result = run_folder
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pid"] == os.getpid()
    assert manifest["host"] == socket.gethostname()
    assert manifest["started"] <= manifest["heartbeat"] <= manifest["ended"]
    assert manifest["tick"] == manifest["ticks"] == result.model.ticks


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "file.txt", lambda tmp: tmp.write_text("x"))
        write_table(tmp_path / "table.parquet", pa.table({"a": [1]}))
    finally:
        os.umask(old)
    for name in ("file.txt", "table.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "table.parquet"]


def test_a_run_folder_is_readable_by_the_group(tmp_path):
    old = os.umask(0o022)
    try:
        execute(load_config(BASELINE, [*TINY_RUN, "run.hours=0.01"]), tmp_path / "run")
    finally:
        os.umask(old)
    for path in (tmp_path / "run").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


QUIET_RUN = [
    *TINY_RUN,
    "run.hours=0.01",
    "retail.count=0",
    "whales.count=0",
    "world.shocks=[]",
]
"""A run in which nobody is liquidated."""


def test_tables_without_rows_keep_their_column_types(run_folder, tmp_path):
    out, _ = run_folder
    execute(load_config(BASELINE, QUIET_RUN), tmp_path / "quiet")
    for name in ("liquidations", "liquidation_attribution"):
        empty = pq.read_table(tmp_path / "quiet" / f"{name}.parquet")
        full = pq.read_table(out / f"{name}.parquet")
        assert empty.num_rows == 0 and full.num_rows > 0
        assert empty.schema.equals(full.schema, check_metadata=False), name
        assert not [f.name for f in empty.schema if pa.types.is_null(f.type)]
        both = pd.concat([empty.to_pandas(), full.to_pandas()], ignore_index=True)
        assert both.dtypes.equals(full.to_pandas().dtypes), name
    liquidations = pq.read_table(tmp_path / "quiet" / "liquidations.parquet")
    assert liquidations.schema.field("deficit").type == pa.int64()
    assert liquidations.schema.field("population").type == pa.string()
    for name in ("ticks", "fills", "transfers", "accounts", "liquidation_map"):
        quiet = pq.read_table(tmp_path / "quiet" / f"{name}.parquet").schema
        assert quiet.equals(pq.read_table(out / f"{name}.parquet").schema, check_metadata=False)


def test_summary_reports_the_arbitrageurs_spot_leg(run_folder):
    """The spot leg is off the perp exchange's books; the summary marks it at the spot price,
    equal to the agents' own accounting."""
    out, result = run_folder
    summary = json.loads((out / "summary.json").read_text())
    arbs = [a for a in result.model.agents if a.population == "arbitrageur"]
    expected = sum(a.spot_cash_usdt + a.spot_btc * result.model.spot.price for a in arbs)
    assert summary["arbitrageur_spot_leg_pnl"] == pytest.approx(expected)
