"""Figures read a run folder's files and write PNGs; they never import the model."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from abm.cli import main
from abm.config import load_config
from abm.experiments.run import execute
from abm.figures import FIGURES, FigureSkipped, make_figures, where_money_goes_bar
from tests.conftest import TINY_RUN


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("figrun")
    execute(load_config("configs/baseline.yaml", TINY_RUN), out)
    return out


def test_every_figure_is_a_non_empty_png(run_dir):
    made, skipped = make_figures(run_dir)
    assert skipped == {}
    assert [p.stem for p in made] == [f.__name__ for f in FIGURES]
    for path in made:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_liquidation_map_snapshots_sum_to_open_interest(run_dir):
    snapshots = pd.read_parquet(run_dir / "liquidation_map.parquet")
    ticks = pd.read_parquet(run_dir / "ticks.parquet").set_index("tick")
    assert {"tick", "side", "size_btc", "notional_usdt"} <= set(snapshots.columns)
    for (tick, side), size in snapshots.groupby(["tick", "side"])["size_btc"].sum().items():
        column = "open_interest_long_btc" if side == "long" else "open_interest_short_btc"
        assert size == pytest.approx(ticks.at[tick, column], abs=0.01)


def test_a_figure_without_its_file_is_skipped_with_a_reason(tmp_path):
    with pytest.raises(FigureSkipped, match="where_money_goes.csv"):
        where_money_goes_bar(tmp_path)


def test_cli_figures_prints_the_pngs(run_dir, capsys):
    assert main(["figures", str(run_dir)]) == 0
    assert "market_overview.png" in capsys.readouterr().out


def test_figures_do_not_import_the_model():
    code = "import abm.figures, sys; print('abm.model' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
