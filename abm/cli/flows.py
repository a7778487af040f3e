"""``abm flows``: where the money goes in a run folder: the where-the-money-goes table, the
concentration of liquidation gains, the top gainers and the liquidation network's central
accounts; or, with ``--by``, the liquidated money split by a trait."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from abm.cli.common import add_graph_flags, plural
from abm.cli.errors import fail, unreadable


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def band_edges(text: str) -> list[float]:
    """argparse type: comma-separated numbers (``--bins 100,1000``)."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, e.g. 100,1000,10000; got {text!r}"
        ) from None


def add_flows_parser(commands: argparse._SubParsersAction) -> None:
    """``abm flows RUN_DIR [--top N] [--rewrite] [--by TRAIT [--bins EDGES] [--csv FILE]]``."""
    flows = commands.add_parser(
        "flows",
        help="where the money goes: print a run folder's flow outputs (written where missing)",
    )
    flows.add_argument("run_dir", type=Path, help="a run folder written by abm run")
    flows.add_argument("--top", type=positive_int, default=10, help="accounts to list (default 10)")
    flows.add_argument(
        "--rewrite",
        action="store_true",
        help="compute the flow outputs again from the transfer log and write them (abm run "
        "wrote them already: without this they are only read)",
    )
    add_graph_flags(flows)
    flows.add_argument(
        "--by",
        metavar="TRAIT",
        help="print where the money goes by a trait of the liquidated and of the receivers "
        "instead: leverage_band, wanted_leverage_band, style, stop_habit, margin_mode, "
        "population or any other column of accounts.parquet (numeric ones in bands); traits "
        "group retail traders, other populations keep their name",
    )
    flows.add_argument(
        "--bins",
        type=band_edges,
        metavar="EDGES",
        help="with --by a numeric trait: band edges, increasing and comma-separated "
        "(e.g. 100,1000,10000: <= 100, (100, 1,000], ..., > 10,000)",
    )
    flows.add_argument(
        "--csv", type=Path, metavar="FILE", help="with --by: also write the split table to FILE"
    )


def format_flows(summary: dict, run_dir: Path, top: int) -> str:
    """``abm flows``: the where-the-money-goes table, the memo items, the concentration of
    liquidation gains, the top gainers and the liquidation network's central accounts."""
    import pandas as pd

    from abm.analysis import concentration
    from abm.flows import (
        format_where_money_goes,
        liquidation_centrality,
        liquidation_gains,
        liquidation_graph,
    )

    table = pd.read_csv(run_dir / "where_money_goes.csv")
    attribution = pd.read_parquet(run_dir / "liquidation_attribution.parquet")
    edges = pd.read_parquet(run_dir / "liquidation_edges.parquet")
    lines = [format_where_money_goes(table, events=summary["liquidation_events"])]
    if attribution.empty:
        return lines[0]
    memo = attribution[attribution["section"] == "memo"]
    memo = memo.groupby("part", observed=True)["amount_micro_usdt"].sum()
    lines.append(
        "not in the sums: liquidation takers' gain against the mark "
        f"{memo.get('taker_gain', 0) / 1e6:,.2f} USDT, "
        f"ADL haircuts against the mark {memo.get('adl_haircut', 0) / 1e6:,.2f} USDT"
    )
    takers = (
        attribution[attribution["part"] == "taker_gain"]
        .groupby("party_population", observed=True)["amount_micro_usdt"]
        .sum()
        .sort_values(ascending=False)
    )
    if not takers.empty:
        lines.append(
            "  takers' gain by population: "
            + ", ".join(f"{p} {v / 1e6:+,.2f}" for p, v in takers.items())
        )
    gains = liquidation_gains(attribution, traders_only=True)
    positive = gains["gain_micro_usdt"][gains["gain_micro_usdt"] > 0]
    c = concentration(positive.to_numpy())
    lines.append(
        f"concentration of liquidation gains over {c['holders']:,} gaining trader accounts: "
        f"Gini {c['gini']:.3f}, HHI {c['hhi']:.4f}, top 1% share {c['top_share']:.1%}"
    )
    lines.append(f"top {top} gainers (USDT received from liquidated accounts):")
    for r in gains.head(top).itertuples(index=False):
        lines.append(
            f"  account {r.account:>7}  {r.population:14s} {r.gain_usdt:14,.2f}  "
            f"in {plural(r.events, 'event')}; as taker {r.taker_gain_micro_usdt / 1e6:+,.2f}"
        )
    central = liquidation_centrality(liquidation_graph(edges))
    central = central.sort_values(["pagerank", "account"], ascending=[False, True])
    lines.append(
        f"top {top} by weighted PageRank of the liquidation network (the share of time a walk "
        "following liquidated money from payer to receiver spends at the account):"
    )
    for r in central.head(top).itertuples(index=False):
        lines.append(
            f"  account {r.account:>7}  {r.population:14s} PageRank {r.pagerank:.4f}  "
            f"in-strength {r.in_strength_micro_usdt / 1e6:14,.2f} USDT"
        )
    lines.append(f"files: {', '.join(summary['files'])} in {run_dir}")
    return "\n".join(lines)


def split_by_trait(
    run_dir: Path, by: str, bins: list[float] | None = None, csv: Path | None = None
) -> str:
    """``abm flows --by TRAIT [--bins EDGES] [--csv FILE]``: the folder's liquidation
    attribution split by ``by`` (:func:`abm.flows.split_by`) and each group's share of the loss
    against its share of traders and of exposure (:func:`abm.flows.base_rates`), as text; the
    split written to ``csv`` (atomically) when given. UnknownTraitError names the allowed
    traits."""
    import pandas as pd

    from abm.files import write_atomic
    from abm.flows import base_rates, format_base_rates, format_split, read_run, split_by
    from abm.outputs import plain

    data = read_run(run_dir)
    accounts = plain(data.accounts)
    attribution = plain(pd.read_parquet(run_dir / "liquidation_attribution.parquet"))
    split = split_by(attribution, accounts, by, bins)
    text = format_split(split, by)
    end_tick = int(pd.read_parquet(run_dir / "ticks.parquet", columns=["tick"])["tick"].max())
    rates = base_rates(attribution, accounts, data.fills, end_tick, by, bins)
    text += "\n" + format_base_rates(rates, by)
    if csv is not None:
        write_atomic(csv, lambda tmp: split.to_csv(tmp, index=False))
        text += f"\nsplit table: {csv}"
    return text


def flows_command(args: argparse.Namespace) -> int:
    """``abm flows``: a complete run folder's flow outputs (written where missing, or again with
    ``--rewrite`` or a graph flag), or with ``--by`` the split by a trait."""
    import pyarrow as pa

    from abm.experiments.status import RunFolderError, require_complete
    from abm.flows import UnknownTraitError, write_flows

    run_dir = args.run_dir
    if args.by is None and (args.csv is not None or args.bins is not None):
        return fail("flows", "--csv and --bins go with --by TRAIT (the split they write or band)")
    if args.csv is not None and (args.csv.is_dir() or not args.csv.parent.is_dir()):
        return fail(
            "flows", f"--csv {args.csv}: give a file name in an existing folder, not a folder"
        )
    try:
        require_complete(run_dir)
        if args.by is not None:
            text = split_by_trait(run_dir, args.by, args.bins, args.csv)
        else:
            summary = written_flows(run_dir)
            if summary is None or args.rewrite or args.graphml or args.gexf:
                summary = write_flows(run_dir, graphml=args.graphml, gexf=args.gexf)
            text = format_flows(summary, run_dir, args.top)
    except (RunFolderError, UnknownTraitError) as err:
        return fail("flows", err)
    except (pa.ArrowException, OSError) as err:
        return fail("flows", unreadable(run_dir, err))
    print(text)
    return 0


def written_flows(run_dir: Path) -> dict | None:
    """The flow summary ``abm run`` left in ``summary.json`` when every flow output it lists is
    in the folder (so ``abm flows`` only reads), else None (a sweep's run that kept no tables,
    or a folder missing a file: the outputs are written)."""
    from abm.flows.write import FILES

    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("flows")
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not all((run_dir / f).is_file() for f in FILES):
        return None
    return summary
