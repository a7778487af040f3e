"""The money-flow network: accounts as nodes, summed transfers as edges, one edge per cause.

The network is kept as an edge list (:func:`flow_edges`, ``flow_edges.parquet``), summed from
the transfer log with one pandas groupby; :func:`build_graph` turns an edge list into a networkx
graph when one is wanted. Amounts are exact int64 micro-USDT (``amount_micro_usdt``), with a
float copy in USDT (``amount_usdt``) for display.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd

from abm import outputs

MICRO = 1_000_000
EDGE_COLUMNS = [
    "src",
    "dst",
    "cause",
    "amount_micro_usdt",
    "transfers",
    "first_tick",
    "last_tick",
]
LIQUIDATION_EDGE_COLUMNS = [
    "src",
    "dst",
    "src_population",
    "dst_population",
    "amount_micro_usdt",
    "amount_usdt",
    "events",
    "first_tick",
]


def flow_edges(transfers: pd.DataFrame) -> pd.DataFrame:
    """The money-flow network as an edge list: transfers summed per (src, dst, cause).

    Input: a run's ``transfers`` table (``tick``, ``src``, ``dst``, ``amount_micro_usdt``,
    ``cause``; ``cause`` as strings or a categorical). Output: one row per (``src``, ``dst``,
    ``cause``), sorted by them, with ``amount_micro_usdt`` (int, summed), ``transfers`` (how
    many) and ``first_tick`` and ``last_tick`` (``flow_edges.parquet``
    without its time columns). One sort of integer keys, however long the log.

    >>> t = pd.DataFrame({"tick": [0, 1, 2], "src": [3, 4, 4], "dst": [4, 5, 5],
    ...                   "amount_micro_usdt": [10, 2, 3],
    ...                   "cause": ["deposit", "trade_pnl", "trade_pnl"]})
    >>> flow_edges(t)[["src", "dst", "cause", "amount_micro_usdt", "transfers"]].values.tolist()
    [[3, 4, 'deposit', 10, 1], [4, 5, 'trade_pnl', 5, 2]]
    """
    cause = transfers["cause"].astype("category")
    names = np.asarray(cause.cat.categories, dtype=object)
    rank = np.argsort(np.argsort(names.astype(str)))  # codes in the order of the cause names
    src = transfers["src"].to_numpy(np.int64)
    dst = transfers["dst"].to_numpy(np.int64)
    amount = transfers["amount_micro_usdt"].to_numpy(np.int64)
    tick = transfers["tick"].to_numpy(np.int64)
    if not len(src):
        return pd.DataFrame({c: pd.Series(dtype=_FLOW_DTYPES[c]) for c in EDGE_COLUMNS})
    accounts = int(max(src.max(), dst.max())) + 1
    key = (src * accounts + dst) * len(names) + rank[cause.cat.codes.to_numpy()]
    # One sort by (src, dst, cause) puts each edge's transfers together.
    order = np.argsort(key)
    key, tick = key[order], tick[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    edge = key[starts]
    by_name = names[np.argsort(rank)]
    edges = pd.DataFrame(
        {
            "src": edge // len(names) // accounts,
            "dst": edge // len(names) % accounts,
            "cause": by_name[edge % len(names)],
            "amount_micro_usdt": np.add.reduceat(amount[order], starts),
            "transfers": np.diff(np.r_[starts, len(key)]),
            "first_tick": np.minimum.reduceat(tick, starts),
            "last_tick": np.maximum.reduceat(tick, starts),
        }
    )
    return edges[EDGE_COLUMNS]


def build_graph(edges: pd.DataFrame, accounts: pd.DataFrame) -> nx.MultiDiGraph:
    """The account-level money-flow graph of an edge list.

    Inputs: an edge list from :func:`flow_edges` (or ``flow_edges.parquet``) and the run's
    ``accounts`` table. Output: a ``networkx.MultiDiGraph`` with one node per account (integer
    id: ``exchange`` 0, ``insurance_fund`` 1, ``backstop_vault`` 2, ``external`` 3, then
    traders) carrying the account's columns (population, money, traits; null values left out),
    and one edge per (src, dst, cause), key = cause, with attributes ``cause``,
    ``amount_micro_usdt``, ``amount_usdt``, ``transfers``, ``first_tick`` and ``last_tick``.
    All attributes are scalars, so the graph can be written as GraphML or GEXF.

    >>> t = pd.DataFrame({"tick": [0, 1, 2], "src": [3, 4, 4], "dst": [4, 5, 5],
    ...                   "amount_micro_usdt": [10, 2, 3],
    ...                   "cause": ["deposit", "trade_pnl", "trade_pnl"]})
    >>> a = pd.DataFrame({"account": [3, 4, 5], "population": ["external", "retail", "whale"]})
    >>> G = build_graph(flow_edges(t), a)
    >>> G.edges[4, 5, "trade_pnl"]["amount_micro_usdt"], G.edges[4, 5, "trade_pnl"]["transfers"]
    (5, 2)
    """
    graph = nx.MultiDiGraph()
    columns = [c for c in accounts.columns if c != "account"]
    whole = {
        c
        for c in columns
        if c in outputs.ACCOUNTS.names and outputs.ACCOUNTS.column(c).type == outputs.INT
    }
    for account, *values in accounts[["account", *columns]].itertuples(index=False):
        attributes = {k: _scalar(v, k in whole) for k, v in zip(columns, values, strict=True)}
        graph.add_node(int(account), **{k: v for k, v in attributes.items() if v is not None})
    if edges.empty:
        return graph
    for node in np.setdiff1d(np.union1d(edges["src"], edges["dst"]), accounts["account"]):
        graph.add_node(int(node), population="unknown")
    graph.add_edges_from(
        (
            int(s),
            int(d),
            str(c),
            {
                "cause": str(c),
                "amount_micro_usdt": int(a),
                "amount_usdt": a / MICRO,
                "transfers": int(n),
                "first_tick": int(first),
                "last_tick": int(last),
            },
        )
        for s, d, c, a, n, first, last in edges[
            ["src", "dst", "cause", "amount_micro_usdt", "transfers", "first_tick", "last_tick"]
        ].itertuples(index=False)
    )
    return graph


def _scalar(value: object, whole: bool = False) -> object:
    """A GraphML-ready scalar: numpy scalars as Python ones, missing values as None, and the
    values of an integer column as ints (pandas reads an integer column with nulls as floats,
    which GraphML would declare double)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return int(value) if whole else value


def net_inflow(G: nx.MultiDiGraph, exclude_causes: tuple[str, ...] = ()) -> dict[int, int]:
    """Money in minus money out of every node, in micro-USDT (int).

    Inputs: a graph from :func:`build_graph` (or :func:`population_graph`) and causes to leave
    out (e.g. ``("deposit", "withdrawal")``). Output: ``{node: in - out}``. Over all causes this
    equals each account's final balance (all balances start at zero); without deposits and
    withdrawals it is what the account won or lost inside the market.

    >>> G = nx.MultiDiGraph()
    >>> G.add_edge(3, 4, "deposit", amount_micro_usdt=10)
    'deposit'
    >>> G.add_edge(4, 0, "fee", amount_micro_usdt=1)
    'fee'
    >>> net_inflow(G)
    {3: -10, 4: 9, 0: 1}
    """
    flow = dict.fromkeys(G.nodes, 0)
    for src, dst, cause, amount in G.edges(keys=True, data="amount_micro_usdt"):
        if cause in exclude_causes:
            continue
        flow[src] -= amount
        flow[dst] += amount
    return flow


POPULATION_SUMS = (
    "initial_deposit_micro_usdt",
    "net_deposits_micro_usdt",
    "final_balance_micro_usdt",
    "final_equity_micro_usdt",
    "times_liquidated",
)


def population_graph(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Group an account graph's nodes by their ``population`` attribute.

    Input: a graph from :func:`build_graph`. Output: a ``MultiDiGraph`` with one node per
    population (``accounts``: how many; the money columns and ``times_liquidated``: sums;
    ``wiped_out``: how many) and one edge per (population, population, cause) summing
    ``amount_micro_usdt`` and ``transfers`` (self-loops hold flows within a population, e.g.
    retail to retail).

    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from([(4, {"population": "retail"}), (5, {"population": "retail"})])
    >>> _ = G.add_edge(4, 5, "trade_pnl", amount_micro_usdt=7, transfers=1)
    >>> P = population_graph(G)
    >>> P.nodes["retail"]["accounts"], P.edges["retail", "retail", "trade_pnl"]["amount_micro_usdt"]
    (2, 7)
    """
    nodes = pd.DataFrame.from_dict(dict(G.nodes(data=True)), orient="index")
    if "population" not in nodes:
        nodes["population"] = "unknown"
    nodes["population"] = nodes["population"].fillna("unknown")
    populations = nx.MultiDiGraph()
    for population, group in nodes.groupby("population", sort=False):
        attrs = {"accounts": len(group)}
        attrs.update({n: int(group[n].sum()) for n in POPULATION_SUMS if n in group})
        if "wiped_out" in group:
            attrs["wiped_out"] = int(group["wiped_out"].fillna(False).astype(bool).sum())
        populations.add_node(population, **attrs)
    rows = [
        (s, d, c, data["amount_micro_usdt"], data.get("transfers", 1))
        for s, d, c, data in G.edges(keys=True, data=True)
    ]
    edges = pd.DataFrame(rows, columns=["src", "dst", "cause", "amount", "transfers"])
    of = nodes["population"]
    edges["src"], edges["dst"] = edges["src"].map(of), edges["dst"].map(of)
    sums = edges.groupby(["src", "dst", "cause"], sort=True)[["amount", "transfers"]].sum()
    for (src, dst, cause), amount, transfers in sums.itertuples(name=None):
        populations.add_edge(
            src,
            dst,
            cause,
            cause=cause,
            amount_micro_usdt=int(amount),
            amount_usdt=amount / MICRO,
            transfers=int(transfers),
        )
    return populations


def flows_by_population(edges: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """The population-to-population flow table (``flows_by_population.csv``).

    Inputs: an edge list from :func:`flow_edges` and the ``accounts`` table (``account``,
    ``population``). Output: one row per (``src_population``, ``dst_population``, ``cause``)
    with ``amount_usdt``, ``amount_micro_usdt`` (int) and ``transfers``, sorted by the three
    keys.

    >>> flows_by_population(edges, accounts)                    # doctest: +SKIP
      src_population dst_population cause  amount_usdt  amount_micro_usdt  transfers
    0    arbitrageur       exchange   fee     1234.5        1234500000        812
    """
    columns = ["src_population", "dst_population", "cause"]
    if edges.empty:
        return pd.DataFrame(columns=[*columns, "amount_usdt", "amount_micro_usdt", "transfers"])
    # Integer codes for populations and causes, so that the groupby runs on one int64 key.
    names = np.array(
        sorted({*accounts["population"].dropna().astype(str), "unknown"}), dtype=object
    )
    ids = accounts["account"].to_numpy(np.int64)
    size = int(max(ids.max(initial=-1), edges["src"].max(), edges["dst"].max())) + 1
    of = np.full(size, np.searchsorted(names, "unknown"), dtype=np.int64)
    of[ids] = np.searchsorted(names, accounts["population"].fillna("unknown").astype(str))
    cause = edges["cause"].astype("category")
    causes = np.asarray(cause.cat.categories, dtype=object)
    p, c = len(names), len(causes)
    key = (of[edges["src"].to_numpy()] * p + of[edges["dst"].to_numpy()]) * c + cause.cat.codes
    sums = (
        pd.DataFrame(
            {
                "key": key.to_numpy(np.int64),
                "amount_micro_usdt": edges["amount_micro_usdt"].to_numpy(np.int64),
                "transfers": edges["transfers"].to_numpy(np.int64),
            }
        )
        .groupby("key", sort=True)
        .sum()
    )
    key = sums.index.to_numpy()
    table = pd.DataFrame(
        {
            "src_population": names[key // c // p],
            "dst_population": names[key // c % p],
            "cause": causes[key % c],
            "amount_usdt": sums["amount_micro_usdt"].to_numpy() / MICRO,
            "amount_micro_usdt": sums["amount_micro_usdt"].to_numpy(),
            "transfers": sums["transfers"].to_numpy(),
        }
    )
    return table.sort_values(columns, ignore_index=True)


def liquidation_edges(attribution: pd.DataFrame) -> pd.DataFrame:
    """The liquidation network as an edge list: liquidated account -> receiver.

    Input: the output of :func:`abm.flows.attribute_liquidations`. Output: one row per (``src``,
    ``dst``) summing, over all events, the ``received`` parts from each liquidated account to
    each receiver (link partners, and the fund or the exchange for fees and surplus):
    ``src_population``, ``dst_population``, ``amount_micro_usdt`` (int, positive: a pair whose
    net runs the other way is an edge the other way), ``amount_usdt``, ``events`` and
    ``first_tick`` (``liquidation_edges.parquet`` without its time column).

    >>> liquidation_edges(attribution).head(1)                  # doctest: +SKIP
       src   dst src_population dst_population  amount_micro_usdt  amount_usdt  events  first_tick
    0   57  1418         retail    fundamental           23399800      23.3998       1       12034
    """
    received = attribution[attribution["section"] == "received"]
    if received.empty:
        return pd.DataFrame({c: pd.Series(dtype=_EDGE_DTYPES[c]) for c in LIQUIDATION_EDGE_COLUMNS})
    pairs = (
        received.groupby(["account", "party"], sort=True)
        .agg(
            amount=("amount_micro_usdt", "sum"),
            events=("event_id", "nunique"),
            first_tick=("tick", "min"),
        )
        .reset_index()
    )
    pairs = pairs[pairs["amount"] != 0]
    flip = (pairs["amount"] < 0).to_numpy()
    account, party = pairs["account"].to_numpy(np.int64), pairs["party"].to_numpy(np.int64)
    edges = (
        pd.DataFrame(
            {
                "src": np.where(flip, party, account),
                "dst": np.where(flip, account, party),
                "amount_micro_usdt": pairs["amount"].abs().to_numpy(np.int64),
                "events": pairs["events"].to_numpy(np.int64),
                "first_tick": pairs["first_tick"].to_numpy(np.int64),
            }
        )
        .groupby(["src", "dst"], sort=True)
        .agg(
            amount_micro_usdt=("amount_micro_usdt", "sum"),
            events=("events", "sum"),
            first_tick=("first_tick", "min"),
        )
        .reset_index()
    )
    of = pd.concat(
        [
            pd.Series(received["population"].astype(object).to_numpy(), index=received["account"]),
            pd.Series(
                received["party_population"].astype(object).to_numpy(), index=received["party"]
            ),
        ]
    )
    of = of[~of.index.duplicated()]
    edges["src_population"] = edges["src"].map(of).astype(object)
    edges["dst_population"] = edges["dst"].map(of).astype(object)
    edges["amount_usdt"] = edges["amount_micro_usdt"] / MICRO
    return edges[LIQUIDATION_EDGE_COLUMNS]


_FLOW_DTYPES = {
    "src": "int64",
    "dst": "int64",
    "cause": object,
    "amount_micro_usdt": "int64",
    "transfers": "int64",
    "first_tick": "int64",
    "last_tick": "int64",
}
_EDGE_DTYPES = {
    "src": "int64",
    "dst": "int64",
    "src_population": object,
    "dst_population": object,
    "amount_micro_usdt": "int64",
    "amount_usdt": "float64",
    "events": "int64",
    "first_tick": "int64",
}


def liquidation_graph(edges: pd.DataFrame) -> nx.DiGraph:
    """The liquidation network as a graph.

    Input: an edge list from :func:`liquidation_edges` (or ``liquidation_edges.parquet``).
    Output: a ``DiGraph`` with its edges (``cause``, always ``liquidation``, as in the
    money-flow graph; ``amount_micro_usdt``, ``amount_usdt``, ``events``, ``first_tick``) and
    nodes carrying ``population``.

    >>> L = liquidation_graph(liquidation_edges(attribution))   # doctest: +SKIP
    >>> L.edges[57, 1418]["amount_micro_usdt"]                  # doctest: +SKIP
    23399800
    """
    graph = nx.DiGraph()
    populations = dict(zip(edges["src"], edges["src_population"], strict=True))
    populations.update(zip(edges["dst"], edges["dst_population"], strict=True))
    graph.add_nodes_from((int(n), {"population": str(p)}) for n, p in sorted(populations.items()))
    graph.add_edges_from(
        (
            int(s),
            int(d),
            {
                "cause": "liquidation",
                "amount_micro_usdt": int(a),
                "amount_usdt": a / MICRO,
                "events": int(n),
                "first_tick": int(t),
            },
        )
        for s, d, a, n, t in edges[
            ["src", "dst", "amount_micro_usdt", "events", "first_tick"]
        ].itertuples(index=False)
    )
    return graph


def liquidation_centrality(L: nx.DiGraph, alpha: float = 0.85) -> pd.DataFrame:
    """Weighted in-strength and PageRank of every node of a liquidation network.

    Input: a graph from :func:`liquidation_graph` (edge weight ``amount_micro_usdt``) and
    PageRank's damping ``alpha``. Output: one row per node with ``account``, ``population``,
    ``in_strength_micro_usdt`` (received from liquidated accounts), ``out_strength_micro_usdt``
    (paid) and ``pagerank`` (weighted by the money: the share of time a walker following the
    money from liquidated accounts to receivers spends at the node, so high for accounts that
    collect from many liquidations, directly or through others), sorted by in-strength, largest
    first.

    >>> L = nx.DiGraph()
    >>> L.add_edge(10, 20, amount_micro_usdt=3); L.add_edge(11, 20, amount_micro_usdt=1)
    >>> liquidation_centrality(L)[["account", "in_strength_micro_usdt"]].values.tolist()
    [[20, 4], [10, 0], [11, 0]]
    """
    columns = [
        "account",
        "population",
        "in_strength_micro_usdt",
        "out_strength_micro_usdt",
        "pagerank",
    ]
    if L.number_of_nodes() == 0:
        return pd.DataFrame(columns=columns)
    weight = "amount_micro_usdt"
    rank = nx.pagerank(L, alpha=alpha, weight=weight) if L.number_of_edges() else {}
    rows = [
        (
            node,
            L.nodes[node].get("population", ""),
            int(L.in_degree(node, weight=weight)),
            int(L.out_degree(node, weight=weight)),
            float(rank.get(node, 1 / L.number_of_nodes())),
        )
        for node in L.nodes
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(
        ["in_strength_micro_usdt", "account"], ascending=[False, True]
    ).reset_index(drop=True)
