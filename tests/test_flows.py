"""The money-flow network and liquidation attribution (abm.flows).

Toy scenarios built directly on the exchange have hand-computed answers, to the micro-unit, for
every backstop; a short model run checks that the attribution reconciles with the transfer log
and the graph with the balances. Common set-up (tests/test_scenarios.py): a long L of 0.2 BTC at
50,000 with 1,000 USDT isolated margin, bankruptcy price 45,000, liquidated below 45,180.7.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from abm import outputs
from abm.cli import main
from abm.config import load_config
from abm.exchange import BUY, SELL, Exchange, SystemAccount
from abm.experiments import tables
from abm.experiments.run import execute
from abm.flows import (
    attribute_liquidations,
    base_rates,
    build_graph,
    check_attribution,
    exposure,
    flow_edges,
    flows_by_population,
    liquidated_total,
    liquidation_centrality,
    liquidation_edges,
    liquidation_gains,
    liquidation_graph,
    liquidation_losses,
    net_inflow,
    population_graph,
    read_run,
    run_data,
    split_by,
    top_gainers,
    where_money_goes,
    write_flows,
)
from abm.flows.traits import SPLIT_COLUMNS, UnknownTraitError, trait_labels
from abm.outputs import plain
from tests.conftest import TINY_RUN, U
from tests.scenarios import MARKET_CLOSE, crash, opened, second_pair, start

FUND = int(SystemAccount.INSURANCE_FUND)
EXCHANGE = int(SystemAccount.EXCHANGE)
VAULT = int(SystemAccount.BACKSTOP_VAULT)


# ---------------------------------------------------------------- exchange -> DataFrames


def frames(ex: Exchange) -> dict[str, pd.DataFrame]:
    """The run tables of a bare exchange (every trader in population ``retail``), through the
    same table builders as a model run."""
    traders = range(len(SystemAccount), len(ex.accounts))
    populations = {int(a): name for a, name in tables.SYSTEM_POPULATIONS.items()}
    populations.update(dict.fromkeys(traders, "retail"))
    model = SimpleNamespace(
        exchange=ex,
        population_of=populations,
        traders=[
            SimpleNamespace(account=a, initial_deposit=ex.deposited[a], wiped_out=0)
            for a in traders
        ],
        config=SimpleNamespace(run=SimpleNamespace(start=datetime(2024, 1, 1, tzinfo=UTC))),
        tick_seconds=1.0,
    )
    built = {
        "transfers": tables.transfers_table(model),
        "liquidations": tables.liquidations_table(model),
        "fills": tables.fills_table(model),
        "accounts": tables.accounts_table(model),
    }
    run = run_data("", {}, built)
    return {name: getattr(run, name) for name in built}


def attribute(ex: Exchange) -> pd.DataFrame:
    f = frames(ex)
    attribution = attribute_liquidations(
        f["transfers"], f["liquidations"], f["fills"], f["accounts"], value_per_tick_lot=ex.k
    )
    assert check_attribution(attribution, f["liquidations"]).empty
    return attribution


def parts(attribution: pd.DataFrame, section: str) -> set[tuple[str, int, int]]:
    rows = attribution[attribution["section"] == section]
    return set(zip(rows["part"], rows["party"], rows["amount_micro_usdt"], strict=True))


def assert_sums(attribution: pd.DataFrame, loss: int) -> None:
    for section in ("received", "paid"):
        assert attribution.loc[attribution["section"] == section, "amount_micro_usdt"].sum() == loss


# ---------------------------------------------------------------- toy scenarios


def test_surplus_goes_to_the_short_the_fee_and_the_fund():
    scenario = crash(bids=[(1_000, 451_500)], mark_to=451_500)
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    assert set(a["account"]) == {long} and set(a["kind"]) == {"liquidation"}
    # 0.2 x (50,000 - 45,150) = 970 to the short; fee 0.3% of 9,030 = 27.09; surplus 2.91.
    assert parts(a, "received") == {
        ("counterparty", short, 970 * U),
        ("clearance_fee", FUND, 27_090_000),
        ("insurance_surplus", FUND, 2_910_000),
    }
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U)}
    assert parts(a, "memo") == set()  # the maker bought at the mark
    assert_sums(a, 1_000 * U)


def test_maker_settling_its_own_links_in_the_event_is_not_the_liquidated_loss():
    scenario = opened()
    ex, long, short = scenario.ex, scenario.long, scenario.short
    maker = ex.open_account(1_000_000 * U, leverage=5)
    partner = ex.open_account(100_000 * U, leverage=2)
    assert ex.submit(maker, SELL, 200, 480_000)
    assert ex.submit(partner, BUY, 200, kind="market").filled == 200
    assert ex.submit(maker, BUY, 200, 451_400)
    scenario.fall(bids=[], mark_to=451_500)

    (event,) = ex.liquidations
    f = frames(ex)
    in_event = f["transfers"][f["transfers"]["event_id"] == event.event_id]
    # The maker closes its short against the partner in the liquidation's event: 572 USDT.
    assert ((in_event["src"] == partner) & (in_event["dst"] == maker)).any()
    a = attribute(ex)
    # 0.2 x (50,000 - 45,140) = 972 to the short; fee 27.09 capped by nothing; surplus 0.91.
    assert parts(a, "received") == {
        ("counterparty", short, 972 * U),
        ("clearance_fee", FUND, 27_090_000),
        ("insurance_surplus", FUND, 910_000),
    }
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U)}
    # The maker bought 0.2 BTC 10 USDT below the 45,150 mark: 2 USDT better than the mark.
    assert parts(a, "memo") == {("taker_gain", maker, 2 * U)}
    assert_sums(a, 1_000 * U)


def test_clearance_fee_capped_by_what_is_left_and_the_takers_gain():
    scenario = crash(bids=[(1_000, 451_000)], mark_to=451_500)
    ex, long, short, maker = scenario.ex, scenario.long, scenario.short, scenario.maker

    a = attribute(ex)
    # Fill at 45,100: 980 to the short, 20 left; the 27.09 fee is capped at 20, no surplus.
    assert parts(a, "received") == {
        ("counterparty", short, 980 * U),
        ("clearance_fee", FUND, 20 * U),
    }
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U)}
    assert parts(a, "memo") == {("taker_gain", maker, 10 * U)}  # 0.2 x (45,150 - 45,100)
    assert_sums(a, 1_000 * U)


def test_deficit_covered_by_the_fund_unwinding_the_position():
    scenario = crash(insurance_fund_seed=20)
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    # Unwound at 44,900: 1,020 to the short, of which the fund paid the 20 beyond bankruptcy.
    assert parts(a, "received") == {("counterparty", short, 1_020 * U)}
    assert parts(a, "paid") == {
        ("own_collateral", long, 1_000 * U),
        ("insurance_payout", FUND, 20 * U),
    }
    assert_sums(a, 1_020 * U)


def test_deficit_closed_by_adl_reports_the_haircut_beside_the_sums():
    scenario = crash(shorts=[(250, 50, 200)], before_crash=second_pair)
    ex, long, risky = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    assert parts(a, "received") == {("counterparty", risky, 1_000 * U)}
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U)}
    # The deleveraged short bought back at 45,000 with the mark at 44,900: 0.2 x 100 = 20.
    assert parts(a, "memo") == {("adl_haircut", risky, 20 * U)}
    assert_sums(a, 1_000 * U)


def test_deficit_left_with_the_trader_as_debt():
    scenario = crash(backstops=("trader_debt",), margin_mode="cross", liquidation=MARKET_CLOSE)
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    assert parts(a, "received") == {("counterparty", short, 1_020 * U)}
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U), ("trader_debt", long, 20 * U)}
    assert_sums(a, 1_020 * U)


def test_deficit_socialized_over_the_winners():
    scenario = crash(
        shorts=[(100_000, 10, 100), (100_000, 10, 100)],
        backstops=("socialized_loss", "exchange_absorbs"),
        liquidation=MARKET_CLOSE,
    )
    ex, long, (short_a, short_b) = scenario.ex, scenario.long, scenario.shorts

    a = attribute(ex)
    # 510 to each short; each then holds a 509 profit (510 less a 1 USDT maker fee), so the
    # 20 deficit is taken 10 and 10.
    assert parts(a, "received") == {
        ("counterparty", short_a, 510 * U),
        ("counterparty", short_b, 510 * U),
    }
    assert parts(a, "paid") == {
        ("own_collateral", long, 1_000 * U),
        ("socialized_loss", short_a, 10 * U),
        ("socialized_loss", short_b, 10 * U),
    }
    assert_sums(a, 1_020 * U)


def test_deficit_split_between_the_fund_and_the_exchange():
    scenario = crash(
        insurance_fund_seed=5,
        backstops=("insurance_fund", "exchange_absorbs"),
        liquidation=MARKET_CLOSE,
    )
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    assert parts(a, "received") == {("counterparty", short, 1_020 * U)}
    assert parts(a, "paid") == {
        ("own_collateral", long, 1_000 * U),
        ("insurance_payout", FUND, 5 * U),
        ("exchange_absorbs", EXCHANGE, 15 * U),
    }
    assert_sums(a, 1_020 * U)


def test_vault_takeover_at_bankruptcy():
    scenario = crash(
        bids=[], backstops=("backstop_vault", "exchange_absorbs"), backstop_vault_seed=10_000
    )
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    # The vault takes the position at 45,000: the long's links settle there, 1,000 to the short.
    assert parts(a, "received") == {("counterparty", short, 1_000 * U)}
    assert parts(a, "paid") == {("own_collateral", long, 1_000 * U)}
    assert_sums(a, 1_000 * U)


def test_deficit_paid_by_the_vault():
    scenario = crash(
        backstops=("backstop_vault", "exchange_absorbs"),
        backstop_vault_seed=10_000,
        liquidation=MARKET_CLOSE,
    )
    ex, long, short = scenario.ex, scenario.long, scenario.short

    a = attribute(ex)
    assert parts(a, "received") == {("counterparty", short, 1_020 * U)}
    assert parts(a, "paid") == {
        ("own_collateral", long, 1_000 * U),
        ("backstop_vault", VAULT, 20 * U),
    }
    assert_sums(a, 1_020 * U)


def test_deficit_resolution_takes_the_closing_trade_and_the_cover():
    scenario = opened(
        insurance_fund_seed=100, funding={"interest_rate": 0.005, "premium_clamp": 0.01}
    )
    ex, long, short = scenario.ex, scenario.long, scenario.short
    # The long rests a sell of everything at 45,020: at the mark (50,000) that loses 996 of its
    # 1,000 USDT, within what the order check allows. Funding at 0.5% then takes 50 USDT of the
    # margin (0.2 x 50,000 x 0.005), so when a buyer lifts the order the 996 to the short and a
    # 1.8008 maker fee (0.02% of 9,004) leave the flat account at -47.8008, which the fund pays.
    assert ex.submit(long, SELL, 200, 450_200).resting == 200
    ex.settle_funding()
    assert ex.isolated_margin(long) == 950 * U
    buyer = ex.open_account(10_000 * U, leverage=5)
    assert ex.submit(buyer, BUY, 200, 450_200).filled == 200
    (resolution,) = ex.liquidations
    assert resolution.qty == 0 and resolution.deficit == 47_800_800

    a = attribute(ex)
    assert set(a["kind"]) == {"deficit_resolution"} and set(a["side"]) == {"long"}
    assert (a["closing_event_id"] == resolution.event_id - 1).all()
    assert parts(a, "received") == {
        ("counterparty", short, 996 * U),
        ("trading_fee", EXCHANGE, 1_800_800),
    }
    assert parts(a, "paid") == {
        ("own_collateral", long, 950 * U),
        ("insurance_payout", FUND, 47_800_800),
    }
    assert_sums(a, 997_800_800)


def test_no_liquidations_give_an_empty_attribution_and_table():
    ex = start()
    f = frames(ex)
    a = attribute_liquidations(f["transfers"], f["liquidations"], f["fills"], f["accounts"])
    assert a.empty and "amount_micro_usdt" in a
    assert where_money_goes(a).empty
    assert liquidation_graph(liquidation_edges(a)).number_of_nodes() == 0


def test_graph_edges_per_cause_and_population_grouping():
    t = pd.DataFrame(
        {
            "tick": [0, 0, 1, 1, 2],
            "src": [3, 3, 4, 4, 5],
            "dst": [4, 5, 5, 5, 0],
            "amount_micro_usdt": [100, 50, 7, 3, 1],
            "cause": ["deposit", "deposit", "trade_pnl", "trade_pnl", "fee"],
            "event_id": [1, 2, 3, 4, 4],
        }
    )
    accounts = pd.DataFrame(
        {
            "account": [0, 3, 4, 5],
            "population": ["exchange", "external", "retail", "retail"],
            "final_balance_micro_usdt": [1, -150, 90, 59],
        }
    )
    edges = flow_edges(t)
    assert edges[["src", "dst", "cause"]].values.tolist() == [
        [3, 4, "deposit"],
        [3, 5, "deposit"],
        [4, 5, "trade_pnl"],
        [5, 0, "fee"],
    ]
    G = build_graph(edges, accounts)
    assert G.edges[4, 5, "trade_pnl"] == {
        "cause": "trade_pnl",
        "amount_micro_usdt": 10,
        "amount_usdt": 1e-05,
        "transfers": 2,
        "first_tick": 1,
        "last_tick": 1,
    }
    assert net_inflow(G) == {0: 1, 3: -150, 4: 90, 5: 59}
    P = population_graph(G)
    assert P.edges["retail", "retail", "trade_pnl"]["amount_micro_usdt"] == 10
    assert P.edges["external", "retail", "deposit"]["transfers"] == 2
    assert P.nodes["retail"]["final_balance_micro_usdt"] == 149
    table = flows_by_population(edges, accounts)
    assert table["amount_micro_usdt"].sum() == t["amount_micro_usdt"].sum()
    assert table["transfers"].sum() == len(t)


# ---------------------------------------------------------------- a short model run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("flows")
    execute(load_config("configs/baseline.yaml", TINY_RUN), out)
    data = read_run(out)
    attribution = plain(pd.read_parquet(out / "liquidation_attribution.parquet"))
    return SimpleNamespace(out=out, data=data, attribution=attribution)


def test_every_run_writes_the_flow_outputs_and_graphs_only_on_request(run):
    for name in (
        "flow_edges.parquet",
        "liquidation_edges.parquet",
        "flows_by_population.csv",
        "where_money_goes.csv",
        "liquidation_attribution.parquet",
    ):
        assert (run.out / name).is_file()
    assert not (run.out / "flows.graphml").exists() and not (run.out / "liquidations.gexf").exists()
    assert not list(run.out.glob(".*.tmp"))
    assert len(run.data.liquidations) > 0
    fresh = attribute_liquidations(
        run.data.transfers,
        run.data.liquidations,
        run.data.fills,
        run.data.accounts,
        value_per_tick_lot=run.data.value_per_tick_lot,
    )
    written = pq.read_table(run.out / "liquidation_attribution.parquet")
    built = outputs.build(
        outputs.LIQUIDATION_ATTRIBUTION, outputs.frame_columns(fresh), run.data.clock
    )
    assert built.equals(written)


def test_the_edge_lists_keep_every_micro_unit(run):
    edges = pd.read_parquet(run.out / "flow_edges.parquet")
    t = run.data.transfers
    assert edges["amount_micro_usdt"].sum() == t["amount_micro_usdt"].sum()
    assert edges["transfers"].sum() == len(t)
    assert not edges.duplicated(["src", "dst", "cause"]).any()
    assert (edges["first_tick"] <= edges["last_tick"]).all()
    summed = t.groupby(["src", "dst", "cause"], observed=True)["amount_micro_usdt"].sum()
    again = edges.set_index(["src", "dst", "cause"])["amount_micro_usdt"]
    assert summed.sort_index().tolist() == again.sort_index().tolist()
    liquidation = pd.read_parquet(run.out / "liquidation_edges.parquet")
    assert liquidation["amount_micro_usdt"].gt(0).all()
    pd.testing.assert_frame_equal(
        plain(liquidation.drop(columns="first_time")),
        liquidation_edges(run.attribution),
        check_dtype=False,
    )


def test_attribution_agrees_with_the_engines_records(run):
    assert check_attribution(run.attribution, run.data.liquidations).empty
    losses = liquidation_losses(run.attribution)
    assert len(losses) == len(run.data.liquidations)
    assert (losses["received"] == losses["paid"]).all()
    assert (
        run.attribution.groupby("event_id")["part"].apply(lambda p: (p == "own_collateral").sum())
        == 1
    ).all()


def test_attribution_of_all_events_reconciles_with_the_transfer_log(run):
    """Independently of attribute_liquidations: for every liquidation row, the liquidated
    account's net outflow over its transfers in the event (and a deficit resolution's closing
    event), leaving out what covered it, summed over rows, is the liquidated total."""
    t = run.data.transfers
    a = run.attribution
    rows = a.groupby("event_id")[["account", "closing_event_id"]].first()
    relevant = t[t["event_id"].isin(set(rows.index) | set(rows["closing_event_id"].dropna()))]
    cover_causes = {"insurance_payout", "socialized_loss", "debt"}
    total = 0
    covered = 0
    for event_id, (account, closing) in rows.iterrows():
        mine = relevant[
            relevant["event_id"].isin((event_id, closing))
            & ((relevant["src"] == account) | (relevant["dst"] == account))
        ]
        is_cover = (mine["dst"] == account) & (
            mine["cause"].isin(cover_causes)
            | ((mine["cause"] == "backstop_takeover") & (mine["src"] == VAULT))
        )
        amount = mine["amount_micro_usdt"]
        signed = np.where(mine["src"] == account, amount, -amount)
        total += int(signed[~is_cover.to_numpy()].sum())
        covered += int(amount[is_cover].sum())
    assert total == liquidated_total(a)
    paid = a[a["section"] == "paid"]
    backstops = paid[~paid["part"].isin(("own_collateral", "trader_debt"))]
    assert covered == backstops["amount_micro_usdt"].sum()
    # Every liquidation-only cause in the log is attributed, to the micro-unit.
    by_part = a.groupby("part")["amount_micro_usdt"].sum()
    by_cause = t.groupby("cause", observed=True)["amount_micro_usdt"].sum()
    for cause, part in (
        ("clearance_fee", "clearance_fee"),
        ("insurance_surplus", "insurance_surplus"),
        ("insurance_payout", "insurance_payout"),
        ("socialized_loss", "socialized_loss"),
        ("debt", "exchange_absorbs"),
    ):
        assert by_part.get(part, 0) == by_cause.get(cause, 0), cause


def test_graph_in_minus_out_is_each_accounts_balance_change(run):
    accounts = run.data.accounts.set_index("account")
    G = build_graph(pd.read_parquet(run.out / "flow_edges.parquet"), run.data.accounts)
    assert set(G.nodes) == set(accounts.index)
    flow = net_inflow(G)
    balance = accounts["final_balance_micro_usdt"]
    deposits = accounts["net_deposits_micro_usdt"]
    for node, value in flow.items():
        assert value == balance[node]
    inside = net_inflow(G, exclude_causes=("deposit", "withdrawal"))
    external = int(SystemAccount.EXTERNAL)
    assert flow[external] == -deposits.sum()
    assert inside[FUND] == balance[FUND] - accounts.at[FUND, "initial_deposit_micro_usdt"]
    traders = accounts.index[accounts.index >= len(SystemAccount)]
    for node in traders:
        assert inside[node] == balance[node] - deposits[node]
    # The population graph keeps every micro-unit.
    P = population_graph(G)
    total = sum(d for _, _, d in P.edges(data="amount_micro_usdt"))
    assert total == run.data.transfers["amount_micro_usdt"].sum()


def test_graphml_on_request_holds_scalar_attributes_and_reads_back(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run.out, copy)
    assert "flows.graphml" in write_flows(copy, graphml=True)["files"]
    G = nx.read_graphml(copy / "flows.graphml", node_type=int)
    assert G.number_of_nodes() == len(run.data.accounts)
    total = sum(d for _, _, d in G.edges(data="amount_micro_usdt"))
    assert total == run.data.transfers["amount_micro_usdt"].sum()
    assert G.nodes[FUND]["population"] == "insurance_fund"
    assert {c for *_, c in G.edges(data="cause")} == set(run.data.transfers["cause"])
    retail = next(n for n, p in G.nodes(data="population") if p == "retail")
    assert isinstance(G.nodes[retail]["wanted_leverage"], int)
    assert isinstance(G.nodes[retail]["effective_leverage"], int)
    assert "effective_leverage" not in G.nodes[FUND]


def test_gexf_edges_carry_their_cause(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run.out, copy)
    write_flows(copy, gexf=True)
    L = nx.read_gexf(copy / "liquidations.gexf", node_type=int)
    assert L.number_of_edges() > 0
    assert {c for *_, c in L.edges(data="cause")} == {"liquidation"}


def test_where_money_goes_rows_sum_to_the_liquidated_total(run):
    table = pd.read_csv(run.out / "where_money_goes.csv")
    assert table.columns.tolist() == outputs.WHERE_MONEY_GOES.names
    total = liquidated_total(run.attribution)
    assert total > 0
    for section in ("received", "paid"):
        rows = table[table["section"] == section]
        assert rows["amount_micro_usdt"].sum() == total
        assert rows["share"].sum() == pytest.approx(1.0)
        liquidated = run.attribution[run.attribution["section"] == section]
        split = rows["long_micro_usdt"].sum() + rows["short_micro_usdt"].sum()
        assert split == liquidated["amount_micro_usdt"].sum()
    assert {"counterparty", "clearance_fee", "own_collateral"} <= set(table["part"])
    flows = pd.read_csv(run.out / "flows_by_population.csv")
    assert flows.columns.tolist() == outputs.FLOWS_BY_POPULATION.names


def test_gains_and_centrality_of_the_liquidation_network(run):
    gains = liquidation_gains(run.attribution)
    assert gains["gain_micro_usdt"].sum() == liquidated_total(run.attribution)
    top = top_gainers(run.attribution, 3)
    assert len(top) <= 3 and not top["population"].isin(["insurance_fund", "exchange"]).any()
    assert top["gain_micro_usdt"].is_monotonic_decreasing
    L = liquidation_graph(liquidation_edges(run.attribution))
    central = liquidation_centrality(L)
    assert central["pagerank"].sum() == pytest.approx(1.0)
    fund = central.set_index("account").loc[FUND, "in_strength_micro_usdt"]
    received = run.attribution[run.attribution["party"] == FUND]
    assert fund == received.loc[received["section"] == "received", "amount_micro_usdt"].sum()


def test_split_by_a_trait_keeps_the_total_and_names_system_accounts(run):
    accounts = run.data.accounts
    total = liquidated_total(run.attribution)
    for by in ("leverage_band", "style", "stop_habit", "margin_mode", "population", "capped"):
        split = split_by(run.attribution, accounts, by)
        for section in ("received", "paid"):
            assert split.loc[split["section"] == section, "amount_micro_usdt"].sum() == total
    bands = split_by(run.attribution, accounts, "leverage_band")
    assert set(bands["liquidated"]) <= {"1-5x", "6-20x", "21-50x", "51-125x", ">125x"}
    assert "insurance_fund" in set(bands["party"])
    styles = split_by(run.attribution, accounts, "style")
    assert set(styles["party"]) - {"trend", "contrarian", "noise"} <= {
        "whale",
        "market_maker",
        "arbitrageur",
        "fundamental",
        "insurance_fund",
        "exchange",
    }
    with pytest.raises(UnknownTraitError, match="allowed: .*leverage_band"):
        split_by(run.attribution, accounts, "shoe_size")


def test_traits_group_retail_only_and_keep_the_other_populations(run):
    accounts = run.data.accounts
    labels = trait_labels(accounts, "leverage_band")
    population = accounts.set_index("account")["population"].astype(object)
    others = population[population != "retail"]
    assert (labels[others.index].astype(object) == others).all()
    bands = ["1-5x", "6-20x", "21-50x", "51-125x", ">125x"]
    order = list(labels.cat.categories)
    assert order[: len(set(order) & set(bands))] == [b for b in bands if b in order]
    assert order.index("insurance_fund") > order.index("fundamental")


def test_numeric_traits_split_in_bands(run):
    accounts = run.data.accounts
    total = liquidated_total(run.attribution)
    retail = accounts["population"].astype(object) == "retail"
    for by in ("wanted_leverage_band", "wanted_leverage", "capital_draw_usdt", "reentries"):
        split = split_by(run.attribution, accounts, by)
        assert split.loc[split["section"] == "paid", "amount_micro_usdt"].sum() == total
    wanted = trait_labels(accounts, "wanted_leverage").loc[accounts["account"][retail]]
    assert set(wanted.astype(object)) <= {"1-5x", "6-20x", "21-50x", "51-125x", ">125x"}
    capital = trait_labels(accounts, "capital_draw_usdt").loc[accounts["account"][retail]]
    quartiles = [c for c in capital.cat.categories if c[0] in "[("]
    assert len(quartiles) == 4 and quartiles[0].startswith("[")
    counts = capital.astype(object).value_counts()
    assert counts.max() - counts.min() <= 1 + retail.sum() // 50
    custom = trait_labels(accounts, "capital_draw_usdt", bins=[100, 1000])
    assert list(custom.cat.categories[:3]) == ["<= 100", "(100, 1,000]", "> 1,000"]
    with pytest.raises(UnknownTraitError, match="increasing"):
        trait_labels(accounts, "capital_draw_usdt", bins=[1000, 100])
    with pytest.raises(UnknownTraitError, match="numeric"):
        trait_labels(accounts, "style", bins=[1])


def test_cli_flows_by_a_numeric_trait_writes_the_split_as_csv(run, tmp_path, capsys):
    out = tmp_path / "split.csv"
    args = ["flows", str(run.out), "--by", "capital_draw_usdt", "--bins", "200,2000"]
    assert main([*args, "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "groups retail traders" in printed and f"split table: {out}" in printed
    table = pd.read_csv(out)
    assert table.columns.tolist() == SPLIT_COLUMNS
    received = table[table["section"] == "received"]
    assert received["amount_micro_usdt"].sum() == liquidated_total(run.attribution)
    assert main(["flows", str(run.out), "--csv", str(out)]) == 2
    assert "--csv and --bins go with --by" in capsys.readouterr().err


def test_flow_outputs_are_byte_identical_when_rewritten(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run.out, copy)
    write_flows(copy)
    for name in outputs.OUTPUTS:
        if (run.out / name).is_file():
            assert (copy / name).read_bytes() == (run.out / name).read_bytes(), name


def test_cli_flows_prints_the_table_and_its_total(run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run.out, copy)
    assert main(["flows", str(copy), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    total = liquidated_total(run.attribution) / 1e6
    assert "received by" in printed and "paid by" in printed
    totals = [line for line in printed.splitlines() if line.strip().startswith("total")]
    assert len(totals) == 2
    assert all(f"{total:,.2f}" in line for line in totals)
    assert "Gini" in printed and "PageRank" in printed
    assert main(["flows", str(tmp_path / "missing")]) == 2


def test_cli_flows_by_a_trait(run, capsys):
    assert main(["flows", str(run.out), "--by", "leverage_band"]) == 0
    printed = capsys.readouterr().out
    assert "lost by the liquidated (leverage_band)" in printed
    assert "who profits from whose liquidations" in printed
    assert main(["flows", str(run.out), "--by", "shoe_size"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm flows: unknown trait 'shoe_size'; allowed:")
    assert "stop_habit" in err and "Traceback" not in err


def test_base_rates_set_loss_shares_against_traders_and_exposure():
    """Hand-computed: trend trader 10 holds 2 BTC at 100 USDT for 10 ticks (2,000 USDT-ticks),
    noise trader 11 holds 1 BTC (1,000), the whale the other side (3,000); liquidations take 30
    USDT from 10 and 10 USDT from 11."""
    accounts = pd.DataFrame(
        {
            "account": [1, 10, 11, 12],
            "population": ["insurance_fund", "retail", "retail", "whale"],
            "style": [None, "trend", "noise", None],
        }
    )
    fills = pd.DataFrame(
        {
            "tick": [0, 0],
            "buyer": [10, 11],
            "seller": [12, 12],
            "qty_btc": [2.0, 1.0],
            "price_usdt": [100.0, 100.0],
        }
    )
    attribution = pd.DataFrame(
        {
            "section": ["received", "received", "paid"],
            "account": [10, 11, 10],
            "event_id": [1, 2, 1],
            "amount_micro_usdt": [30_000_000, 10_000_000, 30_000_000],
        }
    )
    table = base_rates(attribution, accounts, fills, 10, "style").set_index("group")
    assert table["traders"].to_dict() == {"noise": 1, "trend": 1, "whale": 1}
    assert table["exposure_share"].to_dict() == pytest.approx(
        {"noise": 1 / 6, "trend": 1 / 3, "whale": 1 / 2}
    )
    assert table["loss_share"].to_dict() == pytest.approx(
        {"noise": 0.25, "trend": 0.75, "whale": 0}
    )
    assert table["ratio_to_exposure"].to_dict() == pytest.approx(
        {"noise": 1.5, "trend": 2.25, "whale": 0}
    )
    assert table["ratio_to_traders"]["trend"] == pytest.approx(0.75 * 3)
    # Two events drawn with replacement: trend's share is 0, 0.75 or 1 -> ratio 0 to 3.
    assert table.loc["trend", "ratio_low"] >= 0 and table.loc["trend", "ratio_high"] <= 3 + 1e-9
    assert "insurance_fund" not in table.index


def test_base_rates_of_a_run_add_up(run):
    fills, accounts = run.data.fills, plain(run.data.accounts)
    end_tick = int(pd.read_parquet(run.out / "ticks.parquet")["tick"].max())
    for by in ("population", "stop_habit", "leverage_band"):
        table = base_rates(run.attribution, accounts, fills, end_tick, by)
        assert table["trader_share"].sum() == pytest.approx(1)
        assert table["exposure_share"].sum() == pytest.approx(1)
        received = run.attribution[run.attribution["section"] == "received"]
        assert table["loss_usdt"].sum() == pytest.approx(received["amount_micro_usdt"].sum() / 1e6)
        if received.empty:
            continue
        assert table["loss_share"].sum() == pytest.approx(1)
        shown = table.dropna(subset=["ratio_low"])
        assert (shown["ratio_low"] <= shown["ratio_high"]).all()
    held = exposure(fills, end_tick)
    assert (held >= 0).all() and held.sum() > 0


def test_cli_flows_by_a_trait_sets_shares_against_base_rates(run, capsys):
    assert main(["flows", str(run.out), "--by", "stop_habit"]) == 0
    printed = capsys.readouterr().out
    assert "against base rates (stop_habit)" in printed
    assert "of exposure" in printed and "no stop" in printed.split("against base rates")[1]
