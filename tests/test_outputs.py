"""The run folder and the ``abm run`` command (DESIGN section 9)."""

from __future__ import annotations

import json
import os
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abm import outputs
from abm.agents import SpotValueTrader
from abm.cli import main
from abm.config import ConfigError, load_config
from abm.exchange.records import LiquidationEvent
from abm.experiments import tables
from abm.experiments.run import config_hash, execute, write_table
from abm.files import write_atomic
from tests.conftest import TINY_RUN

BASELINE = "configs/baseline.yaml"
TABLES = (
    "ticks",
    "fills",
    "liquidations",
    "transfers",
    "accounts",
    "stayed_out",
    "liquidation_map",
    "hunts",
)


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
    assert table.column_names == [
        "tick",
        "time",
        "src",
        "dst",
        "amount_micro_usdt",
        "cause",
        "event_id",
    ]
    assert len(table) == len(result.model.exchange.ledger)
    assert str(table.schema.field("amount_micro_usdt").type) == "int64"
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
    assert accounts.final_balance_micro_usdt.tolist() == ex.ledger.balances
    external = accounts.loc[accounts.population == "external", "final_balance_micro_usdt"].item()
    assert accounts.final_balance_micro_usdt.sum() - external == -external


def test_liquidations_and_ticks_tables_agree(run_folder):
    out, result = run_folder
    ticks = pq.read_table(out / "ticks.parquet").to_pandas()
    liquidations = pq.read_table(out / "liquidations.parquet").to_pandas()
    full = liquidations[liquidations.qty_lots > 0]
    assert len(ticks) == result.model.ticks + 1
    assert ticks.liquidations_long.sum() + ticks.liquidations_short.sum() == len(full)
    assert len(full) > 0
    assert ticks.equity_retail_usdt.notna().sum() == result.model.ticks // 60 + 1


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
        both = pa.concat_tables([empty, full]).to_pandas()
        assert both.dtypes.equals(full.to_pandas().dtypes), name
    liquidations = pq.read_table(tmp_path / "quiet" / "liquidations.parquet")
    assert liquidations.schema.field("deficit_micro_usdt").type == pa.int64()
    assert pa.types.is_dictionary(liquidations.schema.field("population").type)
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


def test_every_written_column_is_declared_with_its_unit_and_meaning(run_folder):
    """The run folder's files have exactly the columns of abm.outputs, in order, with the
    declared types, and each Parquet file carries every column's unit and meaning."""
    out, _ = run_folder
    written = {p.name for p in out.iterdir() if p.suffix in (".parquet", ".csv")}
    assert written == set(outputs.OUTPUTS)
    for name, output in outputs.OUTPUTS.items():
        if name.endswith(".csv"):
            assert pd.read_csv(out / name, nrows=0).columns.tolist() == output.names, name
            continue
        schema = pq.read_schema(out / name)
        assert schema.names == output.names, name
        assert schema.metadata[b"description"].decode() == output.description
        for field, column in zip(schema, output.columns, strict=True):
            assert field.type == column.type, (name, field.name)
            assert field.metadata[b"unit"].decode() == column.unit
            assert field.metadata[b"description"].decode() == column.description
            assert column.unit and column.description, (name, field.name)
        ticks = [c for c in schema.names if c == "tick" or c.endswith("_tick")]
        for tick in ticks:
            time = "time" if tick == "tick" else tick.replace("_tick", "_time")
            assert output.column(time).from_tick == tick, (name, tick)


def test_docs_outputs_md_is_generated_from_the_declarations():
    """docs/outputs.md is `python -m abm.outputs > docs/outputs.md`; regenerate it after a
    change to abm/outputs.py or to a registered metric's docstring."""
    from abm.experiments.metrics import METRICS, render_metrics_docs

    path = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"
    text = path.read_text(encoding="utf-8")
    assert text == outputs.render_docs() + render_metrics_docs()
    for name in METRICS:
        assert f"| `{name}` |" in text
    for output in outputs.OUTPUTS.values():
        for column in output.columns:
            assert f"| `{column.name}` |" in path.read_text(encoding="utf-8")


def test_times_count_from_the_configured_start(run_folder, tmp_path):
    out, result = run_folder
    ticks = pq.read_table(out / "ticks.parquet", columns=["tick", "time"]).to_pandas()
    start = pd.Timestamp("2024-01-01T00:00:00Z")
    assert (ticks["time"] == start + pd.to_timedelta(ticks["tick"], unit="s")).all()
    fills = pq.read_table(out / "fills.parquet")
    assert fills.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    later = load_config(BASELINE, [*QUIET_RUN, "run.start_time=2021-05-19T12:00:00Z"])
    execute(later, tmp_path / "later")
    first = pq.read_table(tmp_path / "later" / "ticks.parquet", columns=["time"])[0][0]
    assert first.as_py() == datetime(2021, 5, 19, 12, tzinfo=UTC)
    with pytest.raises(ConfigError, match="run.start_time"):
        load_config(BASELINE, ["run.start_time=2021-05-19T12:00:00+02:00"])


def test_accounts_carry_the_drawn_traits(run_folder):
    out, result = run_folder
    accounts = pq.read_table(out / "accounts.parquet").to_pandas().set_index("account")
    retail = [a for a in result.model.agents if a.population == "retail"]
    for agent in retail[:20]:
        row = accounts.loc[agent.account]
        assert row["style"] == agent.style_name
        assert row["uses_stop"] == agent.uses_stop
        assert row["stop_trigger"] == agent.stop_trigger
        assert row["stop_distance_bps"] == pytest.approx(agent.stop_distance * 10_000)
        assert row["margin_mode"] == (
            "cross" if result.model.exchange.accounts[agent.account].cross else "isolated"
        )
        assert row["wanted_leverage"] >= row["effective_leverage"] == agent.leverage
        assert row["capital_draw_usdt"] == agent.capital
    whales = accounts[accounts["population"] == "whale"]
    assert whales["style"].isna().all() and whales["uses_stop"].isna().all()
    assert whales["wanted_leverage"].notna().all()
    system = accounts.loc[[0, 1, 2, 3]]
    assert system["margin_mode"].isna().all() and system["capital_draw_usdt"].isna().all()
    assert system["effective_leverage"].isna().all() and system["capped"].isna().all()
    liquidations = pq.read_table(out / "liquidations.parquet")
    assert liquidations.schema.field("backstops").type == pa.list_(pa.string())
    rows = liquidations.to_pandas()
    for name in ("mark", "bankruptcy", "avg_fill"):
        ticks = rows[f"{name}_ticks"].dropna()
        assert (rows.loc[ticks.index, f"{name}_usdt"] == ticks * 0.1).all()


def test_a_deficit_resolution_has_no_side_and_no_bankruptcy_price():
    """The exchange's event says side 'none' and bankruptcy price 0; the table writes nulls."""
    event = LiquidationEvent(
        event_id=7, tick=3, round=0, account=4, side="none", qty=0, closed=0, partial=False,
        mark=500_000, bankruptcy_price=0, deficit=1_000,
    )  # fmt: skip
    model = SimpleNamespace(
        exchange=SimpleNamespace(
            liquidations=[event], instrument=SimpleNamespace(tick_micro=100_000)
        ),
        population_of={4: "retail"},
        config=SimpleNamespace(run=SimpleNamespace(start=datetime(2024, 1, 1, tzinfo=UTC))),
        tick_seconds=1.0,
    )
    row = tables.liquidations_table(model).to_pylist()[0]
    assert row["side"] is None and row["bankruptcy_ticks"] is None
    assert row["bankruptcy_usdt"] is None and row["avg_fill_usdt"] is None
    assert row["mark_usdt"] == 50_000.0 and row["deficit_micro_usdt"] == 1_000


def test_traders_who_stay_out_above_the_cap_are_recorded(tmp_path):
    config = load_config(
        BASELINE,
        [*QUIET_RUN, "retail.count=200", "exchange.max_leverage=20", "retail.above_cap_stay_out=1"],
    )
    result = execute(config, tmp_path / "capped")
    stayed = pq.read_table(tmp_path / "capped" / "stayed_out.parquet").to_pandas()
    summary = json.loads((tmp_path / "capped" / "summary.json").read_text())
    assert len(stayed) == summary["retail_stayed_out_above_cap"] == result.model.stayed_out > 0
    assert (stayed["wanted_leverage"] > 20).all() and (stayed["capital_draw_usdt"] > 0).all()
    accounts = pq.read_table(tmp_path / "capped" / "accounts.parquet").to_pandas()
    retail = accounts[accounts["population"] == "retail"]
    assert len(retail) + len(stayed) == 200
    assert (retail["effective_leverage"] <= 20).all() and not retail["capped"].any()


def test_summary_explains_the_flow_numbers(run_folder):
    out, _ = run_folder
    flows = json.loads((out / "summary.json").read_text())["flows"]
    numbers = {"liquidation_events", "liquidated_total", "received", "paid", "top_gainers"}
    assert numbers <= set(flows["notes"])
    summary = json.loads((out / "summary.json").read_text())
    liquidations = summary["liquidations"]
    assert (
        flows["liquidation_events"] == liquidations["count"] + liquidations["deficit_resolutions"]
    )


def test_equity_changes_of_populations_and_system_accounts_add_up_to_zero(run_folder):
    """The exchange's fees are the largest gain in most runs: with it and the other system
    accounts beside the populations, the rows of the money table sum to zero (exact in the
    engine's micro-units, so to rounding in USDT)."""
    out, result = run_folder
    changes = result.summary["equity_change_by_population"]
    assert {"retail", "market_maker", "exchange", "insurance_fund", "backstop_vault"} <= set(
        changes
    )
    assert changes["exchange"] > 0  # taker fees less maker rebates
    micro = sum(round(v * 1_000_000) for v in changes.values())
    assert micro == 0
    assert json.loads((out / "summary.json").read_text())["equity_change_by_population"] == changes


def test_a_shock_after_the_runs_end_is_warned_about_in_the_summary(tmp_path, capsys):
    late = "world.shocks=[{start_minute: 2, minutes: 5, move: -0.05}]"
    argv = ["run", BASELINE, *sum((["--set", o] for o in [*TINY_RUN, late]), [])]
    assert main([*argv, "--set", "run.hours=0.02", "--out", str(tmp_path / "late")]) == 0
    printed = capsys.readouterr().out
    assert (
        "warning: world.shocks[0] starts at minute 2, at or after the run's end (minute 1.2"
        in printed
    )
    summary = json.loads((tmp_path / "late" / "summary.json").read_text())
    assert len(summary["warnings"]) == 1
    # Timed from the end, the same shock falls inside the short run: no warning, and it moves.
    from_end = "world.shocks=[{minutes_before_end: 1, minutes: 0.5, move: -0.05}]"
    argv = ["run", BASELINE, *sum((["--set", o] for o in [*TINY_RUN, from_end]), [])]
    assert main([*argv, "--set", "run.hours=0.02", "--out", str(tmp_path / "end")]) == 0
    assert "warning" not in capsys.readouterr().out
    summary = json.loads((tmp_path / "end" / "summary.json").read_text())
    assert summary["warnings"] == []
    assert summary["price"]["mark_min"] < 0.98 * summary["price"]["index_start"]


def test_the_summary_states_the_proportions_recomputed_from_the_tables(run_folder):
    """Depth within 1% a side, daily volume, the insurance fund and liquidations against open
    interest, as the summary states them, equal the same ratios computed from the tables."""
    out, result = run_folder
    shares = result.summary["proportions"]
    ticks = pd.read_parquet(out / "ticks.parquet")
    fills = pd.read_parquet(out / "fills.parquet")
    oi = ticks["open_interest_long_btc"]
    sampled = ticks.dropna(subset=["depth_bid_1pct_btc"])
    assert len(sampled) == len(ticks) // 60 + 1  # every run.equity_every_ticks, and the end
    sampled = sampled[sampled["open_interest_long_btc"] > 0]
    depth = (sampled["depth_bid_1pct_btc"] + sampled["depth_ask_1pct_btc"]) / 2
    assert shares["depth_1pct_per_oi"] == pytest.approx(
        (depth / sampled["open_interest_long_btc"]).median()
    )
    days = (len(ticks) - 1) / 86_400
    assert shares["volume_per_oi_day"] == pytest.approx(fills["qty_btc"].sum() / days / oi.mean())
    notional = oi.mean() * ticks["mark_usdt"].mean()
    liquidated = ticks[["liquidated_notional_long_usdt", "liquidated_notional_short_usdt"]]
    assert shares["liquidated_per_oi_day"] == pytest.approx(
        liquidated.to_numpy().sum() / days / notional
    )
    assert shares["insurance_fund_per_oi"] == pytest.approx(1_000_000 / notional)
    accounts = pd.read_parquet(out / "accounts.parquet")
    retail = accounts[accounts["population"] == "retail"]
    assert shares["retail_isolated_share"] == pytest.approx(
        (retail["margin_mode"] == "isolated").mean()
    )
    assert shares["retail_leverage_median"] == retail["effective_leverage"].median()
    value = result.model.config.fundamental_traders
    start = result.model.config.world.start_price
    capacity_btc = sum(
        max(0.001, round(capital * value.leverage * value.capital_use / start, 3))
        for capital in accounts[accounts["population"] == "fundamental"]["capital_draw_usdt"]
    )
    assert shares["value_capacity_per_oi"] == pytest.approx(capacity_btc / oi.mean(), rel=1e-3)
    assert shares["value_flow_per_minute_per_oi"] == pytest.approx(
        value.count * value.clip_btc * value.activity_per_hour / 60 / oi.mean()
    )
    spot = result.model.agents_by_type[SpotValueTrader]
    assert shares["spot_value_capacity_per_oi"] == pytest.approx(
        sum(a.capital for a in spot) / start / oi.mean()
    )


def test_accounts_hold_the_arbitrageurs_spot_leg_and_the_value_traders_beliefs(run_folder):
    """The arbitrageurs' profit includes their spot leg in the accounts table too (it adds up to
    the summary's), and each value trader's delay and threshold are written as drawn."""
    out, result = run_folder
    accounts = pd.read_parquet(out / "accounts.parquet")
    arbs = accounts[accounts["population"] == "arbitrageur"]
    assert arbs["spot_leg_pnl_usdt"].notna().all()
    assert arbs["spot_leg_pnl_usdt"].sum() == pytest.approx(
        result.summary["arbitrageur_spot_leg_pnl"]
    )
    value = accounts[accounts["population"] == "fundamental"]
    config = result.model.config.fundamental_traders
    assert (
        value["belief_delay_seconds"]
        .between(config.delay_seconds.low - 1, config.delay_seconds.high + 1)
        .all()
    )
    assert (
        value["belief_threshold_bps"]
        .between(config.threshold_bps.low, config.threshold_bps.high)
        .all()
    )
    assert accounts[accounts["population"] == "retail"]["spot_leg_pnl_usdt"].isna().all()
