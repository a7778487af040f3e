"""Figures read a run folder's files and write PNGs; they never import the model."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.text import Text
from PIL import Image

from abm.cli import main
from abm.config import load_config
from abm.experiments.run import execute
from abm.figures import (
    FIGURES,
    FigureSkipped,
    draw_liquidation_map_heatmap,
    draw_liquidation_network,
    draw_market_overview,
    draw_population_flow_heatmap,
    draw_where_money_goes_bar,
    liquidation_network,
    make_figures,
    where_money_goes_bar,
)
from abm.figures._common import DPI, POPULATION_COLORS, POPULATIONS
from abm.figures.flows import liquidation_flows, top_liquidated
from tests.conftest import TINY_RUN, U

DRAWS = (
    draw_market_overview,
    draw_liquidation_map_heatmap,
    draw_population_flow_heatmap,
    draw_where_money_goes_bar,
    draw_liquidation_network,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("figrun")
    execute(load_config("configs/baseline.yaml", TINY_RUN), out)
    return out


@pytest.fixture(scope="module")
def drawn(run_dir):
    """Every run figure of the tiny run, drawn (not saved), by the name of its PNG."""
    figures = {draw.__name__.removeprefix("draw_"): draw(run_dir) for draw in DRAWS}
    for figure in figures.values():
        figure.draw_without_rendering()
    return figures


def texts(figure) -> list[Text]:
    """The figure's visible, non-empty texts: titles, labels, tick labels, legends, annotations."""
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def attribution_table() -> pd.DataFrame:
    """A hand-made attribution table: retail account 10 liquidated twice, whale account 11 once.

    Event 1 (account 10): 3 USDT to fundamental account 20, 1 to retail account 21, 0.5 clearance
    fee to the insurance fund (1); event 2 (account 11): 2 to fundamental account 20, a net -0.3
    to retail account 22, 0.25 to the fund; event 3 (account 10): 1 to fundamental account 23.
    Paid and memo rows are not received money and must not count.
    """
    rows = [
        (1, 10, "retail", "received", "counterparty", 20, "fundamental", 3 * U),
        (1, 10, "retail", "received", "counterparty", 21, "retail", 1 * U),
        (1, 10, "retail", "received", "clearance_fee", 1, "insurance_fund", U // 2),
        (1, 10, "retail", "paid", "own_collateral", 10, "retail", 9 * U // 2),
        (1, 10, "retail", "memo", "taker_gain", 5, "market_maker", 7 * U),
        (2, 11, "whale", "received", "counterparty", 20, "fundamental", 2 * U),
        (2, 11, "whale", "received", "counterparty", 22, "retail", -3 * U // 10),
        (2, 11, "whale", "received", "clearance_fee", 1, "insurance_fund", U // 4),
        (2, 11, "whale", "paid", "insurance_payout", 1, "insurance_fund", 39 * U // 20),
        (3, 10, "retail", "received", "counterparty", 23, "fundamental", 1 * U),
        (3, 10, "retail", "paid", "own_collateral", 10, "retail", 1 * U),
    ]
    columns = ["event_id", "account", "population", "section", "part", "party"]
    table = pd.DataFrame(rows, columns=[*columns, "party_population", "amount_micro_usdt"])
    for column in ("population", "section", "part", "party_population"):
        table[column] = table[column].astype("category")
    return table


def test_every_figure_is_a_non_empty_png_at_a_journals_width(run_dir):
    made, skipped = make_figures(run_dir)
    assert skipped == {}
    assert [p.stem for p in made] == [f.__name__ for f in FIGURES]
    for path in made:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
        with Image.open(path) as image:
            assert image.width in (round(3.5 * DPI), round(7 * DPI)), path.name
            assert image.info["Source"] == run_dir.name


def test_abm_figures_writes_every_format_at_the_dpi_asked(run_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    argv = ["figures", str(run_dir), "--format", "png,pdf,svg", "--dpi", "300", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out.split()
    names = [f.__name__ for f in FIGURES]
    assert printed == [str(out / f"{n}.{f}") for n in names for f in ("png", "pdf", "svg")]
    for name in names:
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert b"<svg" in (out / f"{name}.svg").read_bytes()[:2_000]
        with Image.open(out / f"{name}.png") as image:
            assert image.width in (round(3.5 * 300), round(7 * 300)), name
    assert not list(out.glob(".*"))  # no temporary file left
    # A file a killed earlier call left half-written is removed by the next call.
    leftover = out / ".market_overview.png.0123456789ab.tmp"
    leftover.write_bytes(b"\x89PNG half")
    assert main(["figures", str(run_dir), "--out", str(out)]) == 0
    assert not leftover.exists()
    capsys.readouterr()
    assert main(["figures", str(run_dir), "--format", "gif"]) == 2
    assert "allowed: png, pdf, svg" in capsys.readouterr().err
    assert main(["figures", str(run_dir), "--dpi", "5"]) == 2
    assert "50 to 1200" in capsys.readouterr().err


def test_the_overview_tells_last_index_and_mark_apart(run_dir):
    figure = draw_market_overview(run_dir)
    price, gaps = figure.axes[0], figure.axes[1]
    styles = {line.get_label(): (line.get_linestyle(), line.get_color()) for line in price.lines}
    assert len(set(styles.values())) == 3, styles  # last, index and mark each drawn differently
    assert {line.get_label() for line in gaps.lines} >= {"last - index", "mark - index"}


def test_figures_are_a_column_or_a_page_wide_in_7_to_9_pt(drawn):
    for name, figure in drawn.items():
        assert figure.get_figwidth() in (3.5, 7.0), name
        sizes = {t.get_fontsize() for t in texts(figure)}
        assert min(sizes) >= 7 and max(sizes) <= 9, (name, sorted(sizes))


def test_no_title_or_label_names_the_run_folder(run_dir, drawn):
    for name, figure in drawn.items():
        titles = [t.get_text() for t in texts(figure)]
        assert titles, name
        assert not [t for t in titles if run_dir.name in t or "figrun" in t], name


def test_run_figures_use_colour_blind_safe_colours():
    palette = [tuple(c) for c in sns.color_palette("colorblind")]
    colors = [tuple(POPULATION_COLORS[p]) for p in POPULATIONS]
    assert set(colors) <= set(palette)
    assert len(set(colors)) == len(colors)


def test_flow_heatmap_is_on_a_log_scale_with_empty_cells_blank(run_dir, drawn):
    ax = drawn["population_flow_heatmap"].axes[0]
    mesh = ax.collections[0]
    assert isinstance(mesh.norm, LogNorm)
    label = mesh.colorbar.ax.get_xlabel()
    assert "log" in label and "USDT" in label and "grey" in label
    flows = pd.read_csv(run_dir / "flows_by_population.csv")
    flows = flows[~flows["cause"].isin(["deposit", "withdrawal"])]
    pairs = set(zip(flows["src_population"], flows["dst_population"], strict=True))
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert np.ma.count_masked(mesh.get_array()) == len(labels) ** 2 - len(pairs)


def test_insurance_fund_axis_starts_at_zero(drawn):
    price, _gaps, liquidations, fund = drawn["market_overview"].axes
    low, high = fund.get_ylim()
    assert low <= 0 < high
    assert fund.get_ylabel().endswith("(USDT)")
    assert "at the start" in fund.get_legend().get_texts()[0].get_text()
    for ax in (price, liquidations):
        assert ax.get_ylabel().endswith("(USDT)")
    assert fund.get_xlabel() == "time (hours)"


def test_liquidation_map_labels_both_colour_bars(drawn):
    figure = drawn["liquidation_map_heatmap"]
    bars = figure.axes[1:]
    assert [b.get_title(loc="left") for b in bars] == ["shorts", "longs"]
    for bar in bars:
        assert bar.get_ylabel() == "notional (USDT)"
        assert [t.get_text() for t in bar.get_yticklabels() if t.get_text()]


def test_liquidation_flows_sum_received_money_by_population():
    edges = liquidation_flows(attribution_table())
    assert edges[["liquidated", "receiver", "amount_micro_usdt"]].values.tolist() == [
        ["retail", "fundamental", 4 * U],
        ["whale", "fundamental", 2 * U],
        ["retail", "retail", 1 * U],
        ["retail", "insurance_fund", U // 2],
        ["whale", "insurance_fund", U // 4],
    ]
    assert edges["amount_usdt"].tolist() == [4.0, 2.0, 1.0, 0.5, 0.25]


def test_top_liquidated_are_labelled_by_rank_and_population():
    table = top_liquidated(attribution_table(), 5)
    assert table.index.tolist() == ["#1 retail", "#2 whale"]
    assert table.columns.tolist() == ["retail", "fundamental", "insurance_fund"]
    assert table.values.tolist() == [[1.0, 4.0, 0.5], [0.0, 2.0, 0.25]]
    assert top_liquidated(attribution_table(), 1).index.tolist() == ["#1 retail"]


def test_liquidation_network_shows_populations_not_account_numbers(run_dir, drawn):
    flows, bars = drawn["liquidation_network"].axes
    edges = liquidation_flows(pd.read_parquet(run_dir / "liquidation_attribution.parquet"))
    nodes = {p.replace("_", " ") for p in set(edges["liquidated"]) | set(edges["receiver"])}
    amount = r"[\d.]+[kMB]?"
    node = rf"(?P<node>{'|'.join(sorted(nodes))}) {amount} USDT"
    other = rf"liquidated|received by|band width {amount} USDT|{amount}"
    matches = [re.fullmatch(rf"{node}|{other}", t.get_text()) for t in flows.texts]
    assert all(matches), [t.get_text() for t in flows.texts]
    assert {m["node"] for m in matches if m["node"]} == nodes
    labels = [t.get_text() for t in bars.get_yticklabels()]
    assert labels and all(re.fullmatch(r"#\d+ [a-z ]+", label) for label in labels)
    assert [int(label[1:].split()[0]) for label in labels] == list(range(1, len(labels) + 1))


def test_liquidation_network_without_liquidations_is_skipped(tmp_path):
    attribution_table().iloc[:0].to_parquet(tmp_path / "liquidation_attribution.parquet")
    with pytest.raises(FigureSkipped, match="no liquidated money"):
        liquidation_network(tmp_path)


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
