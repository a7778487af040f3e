"""The money-flow network: accounts as nodes, summed transfers as edges, one edge per cause.

Plain functions over the run's tables and over networkx graphs. Amounts are integer
micro-units of the quote currency (``amount``); ``amount_usdt`` is a float copy for display.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

MICRO = 1_000_000
NODE_ATTRIBUTES = (
    "population",
    "initial_deposit",
    "net_deposits",
    "final_balance",
    "final_equity",
    "times_liquidated",
    "wiped_out",
)


def build_graph(transfers: pd.DataFrame, accounts: pd.DataFrame) -> nx.MultiDiGraph:
    """The account-level money-flow graph.

    Inputs: a run's ``transfers`` table (``src``, ``dst``, ``amount``, ``cause``) and its
    ``accounts`` table (one row per account, system accounts included). Output: a
    ``networkx.MultiDiGraph`` with one node per account (``exchange`` 0, ``insurance_fund`` 1,
    ``backstop_vault`` 2, ``external`` 3, then traders) carrying ``population``,
    ``initial_deposit``, ``net_deposits``, ``final_balance``, ``final_equity``,
    ``times_liquidated`` and ``wiped_out``, and one edge per (src, dst, cause) with key = cause
    and attributes ``amount`` (int micro-units, summed), ``amount_usdt`` and ``count`` (number
    of transfers). All attributes are scalars, so the graph can be written as GraphML.

    >>> t = pd.DataFrame({"src": [3, 4, 4], "dst": [4, 5, 5], "amount": [10, 2, 3],
    ...                   "cause": ["deposit", "trade_pnl", "trade_pnl"], "event_id": [1, 2, 3]})
    >>> a = pd.DataFrame({"account": [3, 4, 5], "population": ["external", "retail", "whale"]})
    >>> G = build_graph(t, a)
    >>> G.edges[4, 5, "trade_pnl"]
    {'amount': 5, 'amount_usdt': 5e-06, 'count': 2}
    """
    graph = nx.MultiDiGraph()
    columns = [c for c in NODE_ATTRIBUTES if c in accounts.columns]
    for record in accounts[["account", *columns]].to_dict("records"):
        node = int(record.pop("account"))
        graph.add_node(node, **{k: _scalar(v) for k, v in record.items()})
    if transfers.empty:
        return graph
    edges = (
        transfers.groupby(["src", "dst", "cause"], sort=True)["amount"]
        .agg(["sum", "size"])
        .reset_index()
    )
    for node in np.setdiff1d(np.union1d(edges["src"], edges["dst"]), accounts["account"]):
        graph.add_node(int(node), population="unknown")
    graph.add_edges_from(
        (int(s), int(d), str(c), {"amount": int(a), "amount_usdt": a / MICRO, "count": int(n)})
        for s, d, c, a, n in edges.itertuples(index=False)
    )
    return graph


def _scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def net_inflow(G: nx.MultiDiGraph, exclude_causes: tuple[str, ...] = ()) -> dict[int, int]:
    """Money in minus money out of every node, in micro-units (int).

    Inputs: a graph from :func:`build_graph` (or :func:`population_graph`) and causes to leave
    out (e.g. ``("deposit", "withdrawal")``). Output: ``{node: in - out}``. Over all causes this
    equals each account's final balance (all balances start at zero); without deposits and
    withdrawals it is what the account won or lost inside the market.

    >>> G = nx.MultiDiGraph()
    >>> G.add_edge(3, 4, "deposit", amount=10)
    'deposit'
    >>> G.add_edge(4, 0, "fee", amount=1)
    'fee'
    >>> net_inflow(G)
    {3: -10, 4: 9, 0: 1}
    """
    flow = dict.fromkeys(G.nodes, 0)
    for src, dst, cause, amount in G.edges(keys=True, data="amount"):
        if cause in exclude_causes:
            continue
        flow[src] -= amount
        flow[dst] += amount
    return flow


def population_graph(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Group an account graph's nodes by their ``population`` attribute.

    Input: a graph from :func:`build_graph`. Output: a ``MultiDiGraph`` with one node per
    population (``accounts``: how many; ``initial_deposit``, ``net_deposits``, ``final_balance``,
    ``final_equity``, ``times_liquidated``: sums; ``wiped_out``: how many) and one edge per
    (population, population, cause) summing ``amount`` and ``count`` (self-loops hold flows
    within a population, e.g. retail to retail).

    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from([(4, {"population": "retail"}), (5, {"population": "retail"})])
    >>> _ = G.add_edge(4, 5, "trade_pnl", amount=7, count=1)
    >>> P = population_graph(G)
    >>> P.nodes["retail"]["accounts"], P.edges["retail", "retail", "trade_pnl"]["amount"]
    (2, 7)
    """
    populations = nx.MultiDiGraph()
    of = {}
    for node, data in G.nodes(data=True):
        population = data.get("population", "unknown")
        of[node] = population
        if population not in populations:
            populations.add_node(population, accounts=0)
        attrs = populations.nodes[population]
        attrs["accounts"] += 1
        for name in ("initial_deposit", "net_deposits", "final_balance", "final_equity"):
            if name in data:
                attrs[name] = attrs.get(name, 0) + int(data[name])
        if "times_liquidated" in data:
            attrs["times_liquidated"] = attrs.get("times_liquidated", 0) + int(
                data["times_liquidated"]
            )
        if "wiped_out" in data:
            attrs["wiped_out"] = attrs.get("wiped_out", 0) + int(bool(data["wiped_out"]))
    sums: dict[tuple[str, str, str], list[int]] = {}
    for src, dst, cause, data in G.edges(keys=True, data=True):
        key = (of[src], of[dst], cause)
        total = sums.setdefault(key, [0, 0])
        total[0] += data["amount"]
        total[1] += data.get("count", 1)
    for (src, dst, cause), (amount, count) in sorted(sums.items()):
        populations.add_edge(
            src, dst, cause, amount=amount, amount_usdt=amount / MICRO, count=count
        )
    return populations


def flows_by_population(G: nx.MultiDiGraph) -> pd.DataFrame:
    """The population-to-population flow table (``flows_by_population.csv``).

    Input: an account graph from :func:`build_graph` (or a population graph). Output: one row
    per (``src_population``, ``dst_population``, ``cause``) with ``amount_usdt``, ``amount``
    (int micro-units) and ``count``, sorted by the three keys.

    >>> flows_by_population(G)                                  # doctest: +SKIP
      src_population dst_population      cause  amount_usdt     amount  count
    0   arbitrageur       exchange        fee     1234.5  1234500000    812
    """
    P = G if all(isinstance(n, str) for n in G.nodes) else population_graph(G)
    rows = [
        (src, dst, cause, data["amount"] / MICRO, int(data["amount"]), int(data["count"]))
        for src, dst, cause, data in P.edges(keys=True, data=True)
    ]
    frame = pd.DataFrame(
        rows,
        columns=["src_population", "dst_population", "cause", "amount_usdt", "amount", "count"],
    )
    return frame.sort_values(["src_population", "dst_population", "cause"]).reset_index(drop=True)


def liquidation_graph(attribution: pd.DataFrame) -> nx.DiGraph:
    """The liquidation subgraph: liquidated account -> receiver, weighted by attributed money.

    Input: the output of :func:`abm.flows.attribute_liquidations`. Output: a ``DiGraph`` whose
    edges sum, over all events, the ``received`` parts from each liquidated account to each
    receiver (counterparties, and the fund or exchange for fees and surplus): ``amount`` (int
    micro-units, positive; a pair whose net runs the other way is an edge the other way),
    ``amount_usdt``, ``events`` and ``first_tick``. Nodes carry ``population``.

    >>> L = liquidation_graph(attribution)                      # doctest: +SKIP
    >>> L.edges[1418, 1177]["amount"]                           # doctest: +SKIP
    23399800
    """
    graph = nx.DiGraph()
    received = attribution[attribution["section"] == "received"]
    if received.empty:
        return graph
    pairs = (
        received.groupby(["account", "party"], sort=True)
        .agg(amount=("amount", "sum"), events=("event_id", "nunique"), first_tick=("tick", "min"))
        .reset_index()
    )
    populations = dict(zip(received["account"], received["population"], strict=True))
    populations.update(zip(received["party"], received["party_population"], strict=True))
    graph.add_nodes_from((int(n), {"population": str(p)}) for n, p in sorted(populations.items()))
    for src, dst, amount, events, first_tick in pairs.itertuples(index=False):
        if amount == 0:
            continue
        if amount < 0:
            src, dst, amount = dst, src, -amount
        src, dst, amount = int(src), int(dst), int(amount)
        if graph.has_edge(src, dst):
            data = graph.edges[src, dst]
            data["amount"] += amount
            data["amount_usdt"] = data["amount"] / MICRO
            data["events"] += int(events)
            data["first_tick"] = min(data["first_tick"], int(first_tick))
        else:
            graph.add_edge(
                src,
                dst,
                amount=amount,
                amount_usdt=amount / MICRO,
                events=int(events),
                first_tick=int(first_tick),
            )
    return graph


def liquidation_centrality(L: nx.DiGraph, alpha: float = 0.85) -> pd.DataFrame:
    """Weighted in-strength and PageRank of every node of a liquidation subgraph.

    Input: a graph from :func:`liquidation_graph` (edge weight ``amount``) and PageRank's damping
    ``alpha``. Output: one row per node with ``account``, ``population``, ``in_strength`` (int
    micro-units received from liquidated accounts), ``out_strength`` (paid) and ``pagerank``
    (weighted by ``amount``), sorted by in-strength, largest first.

    >>> L = nx.DiGraph()
    >>> L.add_edge(10, 20, amount=3); L.add_edge(11, 20, amount=1)
    >>> liquidation_centrality(L)[["account", "in_strength"]].values.tolist()
    [[20, 4], [10, 0], [11, 0]]
    """
    columns = ["account", "population", "in_strength", "out_strength", "pagerank"]
    if L.number_of_nodes() == 0:
        return pd.DataFrame(columns=columns)
    rank = nx.pagerank(L, alpha=alpha, weight="amount") if L.number_of_edges() else {}
    rows = [
        (
            node,
            L.nodes[node].get("population", ""),
            int(L.in_degree(node, weight="amount")),
            int(L.out_degree(node, weight="amount")),
            float(rank.get(node, 1 / L.number_of_nodes())),
        )
        for node in L.nodes
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["in_strength", "account"], ascending=[False, True]).reset_index(
        drop=True
    )
