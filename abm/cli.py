"""The ``abm`` command: ``abm run``, ``abm flows``, ``abm figures``, ``abm validate``,
``abm sweep`` (:mod:`abm.cli_sweep`), ``abm event`` (:mod:`abm.cli_event`), ``abm configs``,
``abm config show``, ``abm demo`` and ``abm --version``.

A user's mistake (a bad config, an unusable output folder, a run folder that is not complete)
prints ``abm <command>: <message>`` on stderr and exits with status 2, without a traceback. A run
stopped by SIGINT or SIGTERM prints one line and exits with 130 or 143.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from abm.cli_dashboard import add_dashboard_parser, dashboard_command
from abm.cli_event import add_event_parser, event_command
from abm.cli_sweep import add_sweep_parser, sweep_argv, sweep_command
from abm.config import (
    REPLAY_SHOCKS_OFF,
    ConfigError,
    ModelConfig,
    config_summary,
    configs_dir,
    describe_config,
    load_config,
    load_config_with_sources,
    shipped_configs,
    shipped_rulebooks,
    shipped_sweeps,
)

DEFAULT_CONFIG = "baseline"
USER_ERROR = 2


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


def plural(count: float, word: str) -> str:
    """``1 event``, ``2 events``, ``1.5 hours`` (counts with thousands separators).

    >>> plural(1, "event"), plural(1_200, "event")
    ('1 event', '1,200 events')
    """
    return f"{count:,g} {word}" if count == 1 else f"{count:,g} {word}s"


def fail(command: str, message: object) -> int:
    print(f"abm {command}: {message}", file=sys.stderr)
    return USER_ERROR


CONFIG_HELP = f"a YAML file or a shipped config's name (abm configs; default {DEFAULT_CONFIG})"


def add_graph_flags(parser: argparse.ArgumentParser) -> None:
    """``--graphml`` and ``--gexf``: the graph files a run folder holds only on request."""
    parser.add_argument(
        "--graphml",
        action="store_true",
        help="also write flows.graphml (the account graph; large: the edge lists are in "
        "flow_edges.parquet anyway)",
    )
    parser.add_argument(
        "--gexf", action="store_true", help="also write liquidations.gexf (dynamic, for Gephi)"
    )


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """The ``--set KEY=VALUE`` option of the commands that resolve a config."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set exchange.max_leverage=20 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based model of a leveraged BTC perpetual-futures market."
    )
    parser.add_argument("--version", action="version", version=f"abm {metadata.version('abm')}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the model and write a run folder")
    run.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    add_overrides(run)
    run.add_argument("--seed", type=int, help="the run's seed (overrides run.seed)")
    run.add_argument(
        "--prices",
        metavar="FILE",
        help="replay a price file as the information process (world.process=csv): Binance "
        "klines (CSV or zip), a timestamp,price CSV, Parquet or Feather; the run starts at the "
        "file's first time and the config's scripted shocks are off unless --set world.shocks "
        "adds some",
    )
    run.add_argument("--out", help="output folder (default results/<name>-seed<seed>-<time>)")
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its files are removed first)",
    )
    add_graph_flags(run)
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
    figures = commands.add_parser(
        "figures", help="draw a run folder's figures into RUN_DIR/figures"
    )
    figures.add_argument("run_dir", type=Path, help="a run folder written by abm run")
    figures.add_argument(
        "--format",
        default="png",
        help="file formats, comma-separated: png, pdf, svg (default png)",
    )
    figures.add_argument(
        "--dpi", type=int, default=150, help="resolution of PNGs in dots per inch (default 150)"
    )
    figures.add_argument(
        "--out", type=Path, default=None, help="folder for the figures (default RUN_DIR/figures)"
    )
    validate = commands.add_parser(
        "validate",
        help="hold runs (pooled over seeds), or a real price file, against the validation bands",
        description="Measure complete run folders (stylized facts, microstructure, funding, "
        "economics), pool them over runs (mean and 95% t-interval) and judge each metric "
        "against abm/analysis/bands.yaml; or, with --prices, run the return estimators on a "
        "real price file. A report: the exit status is 0 even when bands are missed.",
    )
    validate.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR", help="run folders")
    validate.add_argument(
        "--prices",
        type=Path,
        action="append",
        metavar="FILE",
        help="a .csv, .parquet or .feather file with a timestamp column (date, timestamp, time "
        "or open_time) and a price column (close, price or last), instead of run folders "
        "(repeatable: one table each)",
    )
    validate.add_argument(
        "--out",
        type=Path,
        help="where to write the JSON report (default validation.json for run folders; "
        "none for --prices unless given)",
    )
    validate.add_argument("--bands", type=Path, help="another bands file (default: the package's)")
    commands.add_parser(
        "configs", help="list the shipped configs (names for abm run) and rulebook presets"
    )
    config = commands.add_parser("config", help="look at a config")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser(
        "show",
        help="print a resolved config: every key, its value, what it accepts and means",
        description="Print the config abm run would use, after extends: and --set, as YAML: "
        "every key with its value and, as a comment, its allowed range and meaning.",
    )
    show.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=CONFIG_HELP)
    add_overrides(show)
    commands.add_parser("demo", help="a scripted crash through the exchange alone")
    add_sweep_parser(commands)
    add_event_parser(commands)
    add_dashboard_parser(commands, CONFIG_HELP)
    return parser


class Progress:
    """The run's progress bar (tqdm) on stderr when stderr is a terminal; nothing when it is
    piped or captured (tqdm's ``disable=None``), so logs and tests see only the summary."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, unit=" ticks", disable=None)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """End the bar (the run finished or stopped), so the next message has its own line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_summary(summary: dict, out: Path, seconds: float) -> str:
    liq = summary["liquidations"]
    fund = summary["insurance_fund"]
    lines = [
        *(f"warning: {w}" for w in summary.get("warnings", [])),
        f"{plural(summary['hours'], 'simulated hour')} in {seconds:.1f} s",
        f"liquidations: {liq['count']:,} ({liq['long']:,} long, {liq['short']:,} short), "
        f"notional {liq['notional']:,.0f} USDT "
        f"({liq['notional_long']:,.0f} long, {liq['notional_short']:,.0f} short)",
        f"accounts wiped out: {summary['wiped_out_accounts']:,}",
        f"insurance fund: {fund['start']:,.2f} -> {fund['end']:,.2f} USDT",
        "backstop actions: "
        + (", ".join(f"{k} {v:,}" for k, v in summary["backstop_actions"].items()) or "none"),
    ]
    cascade = summary["biggest_cascade"]
    if cascade:
        lines.append(
            f"biggest cascade: {cascade['liquidations']:,} liquidations over ticks "
            f"{cascade['start_tick']:,}-{cascade['end_tick']:,}, "
            f"{cascade['notional']:,.0f} USDT, mark {cascade['mark_start']:,.1f} -> "
            f"{cascade['mark_end']:,.1f}"
        )
    else:
        lines.append("biggest cascade: none")
    shares = summary.get("proportions", {})
    if shares.get("depth_1pct_per_oi") is not None:
        lines.append(
            "proportions (real, DESIGN section 6): depth within 1% a side "
            f"{shares['depth_1pct_per_oi']:.2%} of open interest (about 1%), daily volume "
            f"{shares['volume_per_oi_day']:,.2f}x open interest (about 1.4), insurance fund "
            f"{shares['insurance_fund_per_oi']:.2%} of it, liquidated "
            f"{shares['liquidated_per_oi_day']:.3%} of it a day"
        )
    changes = summary["equity_change_by_population"]
    lines.append("equity change by population and system account (USDT; they add up to zero):")
    for population, change in changes.items():
        lines.append(f"  {population:14s} {change:+,.2f}")
    lines.append(f"output: {out}")
    return "\n".join(lines)


def default_out(config_path: str, seed: int) -> Path:
    """``results/<config name>-seed<seed>-<UTC time>``, with ``-2``, ``-3``... if taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path("results") / f"{Path(config_path).stem}-seed{seed}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = out.with_name(f"{Path(config_path).stem}-seed{seed}-{stamp}-{n}")
    return out


def run_command(args: argparse.Namespace) -> int:
    """``abm run``. A config that validates but cannot be built, and an output folder that
    cannot take the run, are reported before any folder is made or changed."""
    from abm.experiments.run import BuildError, RunInterrupted, execute
    from abm.experiments.status import RunFolderError

    if args.out is not None and not args.out.strip():
        return fail("run", "--out is empty; give a folder")
    overrides = list(args.overrides)
    if args.prices is not None:
        overrides += ["world.process=csv", f"world.csv_path={json.dumps(args.prices)}"]
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    try:
        config, sources = load_config_with_sources(args.config, overrides)
    except ConfigError as err:
        return fail("run", err)
    if args.seed is not None and "run.seed" in sources:
        sources["run.seed"] = f"--seed {args.seed}"
    if args.prices is not None:
        for key in ("world.process", "world.csv_path"):
            if key in sources:
                sources[key] = f"--prices {args.prices}"
    out = default_out(args.config, config.run.seed) if args.out is None else Path(args.out)
    progress = Progress()
    try:
        result = execute(
            config,
            out,
            progress,
            overwrite=args.overwrite,
            config_file=args.config,
            overrides=args.overrides,
            sources=sources,
            graphml=args.graphml,
            gexf=args.gexf,
        )
    except (BuildError, RunFolderError) as err:
        return fail("run", err)
    except RunInterrupted as stop:
        progress.close()
        if stop.out is None:
            where = "before the run started; nothing was written"
        else:
            where = f"at tick {stop.tick:,} of {stop.ticks:,}; {stop.out} is marked interrupted"
        print(f"abm run: stopped by {stop.name} {where}", file=sys.stderr)
        return stop.exit_code
    if config.world.process == "csv":
        print(replay_line(result.model.config, sources))
    print(format_summary(result.summary, out, result.seconds))
    print(where_money_goes_lines(out, top=3))
    return 0


def replay_line(config: ModelConfig, sources: dict[str, str]) -> str:
    """What a replayed run replays: the file, its start, and whether shocks move it."""
    shocks = config.world.shocks
    if sources.get("world.shocks") == REPLAY_SHOCKS_OFF:
        what = "the config's scripted shocks are off (--set world.shocks=[...] adds some)"
    elif shocks:
        what = f"{plural(len(shocks), 'scripted shock')} on top"
    else:
        what = "no scripted shocks"
    from abm.world.prices import read_price_file

    return f"replay of {read_price_file(config.world.csv_path).describe()}; from {config.run.start_time}; {what}"


def configs_command() -> int:
    """``abm configs``: the shipped run configs and rulebook presets, each with the first
    sentence of its leading comment."""
    groups = {
        "run configs (abm run NAME, abm config show NAME)": shipped_configs(),
        "rulebooks (abm run --set exchange=NAME.yaml, e.g. exchange=exchanges/bybit.yaml)": (
            shipped_rulebooks()
        ),
        "sweeps (abm sweep NAME, e.g. abm sweep leverage_caps)": shipped_sweeps(),
    }
    width = max(len(name) for names in groups.values() for name in names) + 2
    lines = [f"configs in {configs_dir()}"]
    for title, names in groups.items():
        lines.append(f"{title}:")
        lines += [f"  {name:<{width}}{config_summary(path)}" for name, path in names.items()]
    print("\n".join(lines))
    return 0


def config_show_command(args: argparse.Namespace) -> int:
    """``abm config show``: the resolved config with each key's range and meaning."""
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as err:
        return fail("config show", err)
    print(describe_config(config))
    return 0


def where_money_goes_lines(run_dir: Path, top: int | None = None) -> str:
    """The where-the-money-goes table of a run folder (its ``where_money_goes.csv``)."""
    import pandas as pd

    from abm.flows import format_where_money_goes

    table = pd.read_csv(run_dir / "where_money_goes.csv")
    return format_where_money_goes(table, top=top)


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


def unreadable(run_dir: Path, err: Exception) -> str:
    return (
        f"{run_dir} has a file that cannot be read ({type(err).__name__}: {err}); run it again "
        f"(abm run ... --out {run_dir} --overwrite)"
    )


def split_by_trait(
    run_dir: Path, by: str, bins: list[float] | None = None, csv: Path | None = None
) -> str:
    """``abm flows --by TRAIT [--bins EDGES] [--csv FILE]``: the folder's liquidation
    attribution split by ``by`` (:func:`abm.flows.split_by`), as text, and written to ``csv``
    (atomically) when given; UnknownTraitError names the allowed traits."""
    import pandas as pd

    from abm.files import write_atomic
    from abm.flows import format_split, split_by
    from abm.outputs import plain

    accounts = plain(pd.read_parquet(run_dir / "accounts.parquet"))
    attribution = plain(pd.read_parquet(run_dir / "liquidation_attribution.parquet"))
    split = split_by(attribution, accounts, by, bins)
    text = format_split(split, by)
    if csv is not None:
        write_atomic(csv, lambda tmp: split.to_csv(tmp, index=False))
        text += f"\nsplit table: {csv}"
    return text


def flows_command(args: argparse.Namespace) -> int:
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


def figures_command(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from abm.experiments.status import RunFolderError, require_complete

    try:
        require_complete(args.run_dir)
        from abm.figures import make_figures

        formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
        made, skipped = make_figures(args.run_dir, formats, args.dpi, args.out)
    except (pa.ArrowException, OSError) as err:
        return fail("figures", unreadable(args.run_dir, err))
    except (RunFolderError, ValueError) as err:
        return fail("figures", err)
    for path in made:
        print(path)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    return 0


def _write_report(out: Path, data: dict) -> None:
    from abm.analysis.validation import dumps
    from abm.files import write_atomic

    text = dumps(data)
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def validate_prices(args: argparse.Namespace, bands) -> int:
    """``abm validate --prices FILE``: the return facts of each file against the bands."""
    from abm.analysis.prices import PriceFileError, read_price_file
    from abm.analysis.validation import format_table, pool, price_measures, report

    tables, sources, all_rows = [], [], []
    for path in args.prices:
        try:
            prices = read_price_file(path)
            measures = price_measures(prices)
        except PriceFileError as err:
            return fail("validate", err)
        rows = pool([measures], bands, prefix="last.")
        filled = int(measures["last.filled_minutes"])
        tables.append(
            f"{prices.describe()}; {int(measures['last.minutes']):,} 1-minute returns"
            + (f" ({filled:,} minutes without a price repeat the one before)" if filled else "")
            + "\n"
            + format_table(rows, 1, what="price file")
        )
        sources.append(
            {
                "price_file": str(path),
                "time_column": prices.time_column,
                "time_unit": prices.time_unit,
                "price_column": prices.price_column,
                "rows": len(prices.prices),
            }
        )
        all_rows.append(rows)
    if args.out is not None:
        data = report(all_rows[0], bands, sources[:1])
        if len(all_rows) > 1:
            data["files"] = [report(r, bands, [s]) for r, s in zip(all_rows, sources, strict=True)]
        try:
            _write_report(args.out, data)
        except OSError as err:
            return fail("validate", f"cannot write {args.out} ({err})")
    print("\n\n".join(tables))
    if args.out is not None:
        print(f"report: {args.out}")
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """``abm validate``: refuse what is not a complete run, measure, pool, print, write."""
    import pyarrow as pa

    from abm.analysis.validation import (
        BandsError,
        format_series_table,
        format_table,
        load_bands,
        pool,
        report,
        run_measures,
    )
    from abm.experiments.status import RunFolderError, require_complete

    if args.prices and args.run_dirs:
        return fail("validate", "give run folders or --prices FILE, not both")
    if not args.prices and not args.run_dirs:
        return fail("validate", "give one or more run folders, or --prices FILE")
    try:
        bands = load_bands(args.bands)
    except BandsError as err:
        return fail("validate", err)
    if args.prices:
        return validate_prices(args, bands)
    seen: set[Path] = set()
    for run_dir in args.run_dirs:
        if run_dir.resolve() in seen:
            return fail("validate", f"{run_dir} is given twice")
        seen.add(run_dir.resolve())
        try:
            require_complete(run_dir)
        except RunFolderError as err:
            return fail("validate", err)
    runs = []
    for run_dir in args.run_dirs:
        try:
            runs.append(run_measures(run_dir))
        except (pa.ArrowException, OSError, KeyError, ValueError, TypeError) as err:
            return fail("validate", unreadable(run_dir, err))
    hashes = {r.details["scenario_hash"] for r in runs}
    if len(hashes) > 1:
        print(
            f"abm validate: note: the {len(runs)} runs have {len(hashes)} different configs "
            "(seeds aside); they are pooled all the same",
            file=sys.stderr,
        )
    rows = pool([r.measures for r in runs], bands)
    sources = [{"run_dir": str(r.run_dir), **r.details} for r in runs]
    data = report(rows, bands, sources)
    reasons: dict[str, int] = {}
    for r in runs:
        for reason, count in r.details["adl_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    data["adl_reasons"] = reasons
    out = args.out if args.out is not None else Path("validation.json")
    try:
        _write_report(out, data)
    except OSError as err:
        return fail("validate", f"cannot write {out} ({err})")
    print(format_table(rows, len(runs)))
    side_by_side = format_series_table(rows)
    if side_by_side:
        print(
            "\nreturn facts of the information process and the prices the market made from it "
            "(pooled values; bands judge the prices):"
        )
        print(side_by_side)
    if reasons:
        print("ADL actions by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()))
    print(f"report: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sweep_argv(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sweep":
            return sweep_command(args)
        if args.command == "dashboard":
            return dashboard_command(args)
        if args.command == "event":
            return event_command(args)
        if args.command == "run":
            return run_command(args)
        if args.command == "figures":
            return figures_command(args)
        if args.command == "flows":
            return flows_command(args)
        if args.command == "validate":
            return validate_command(args)
        if args.command == "configs":
            return configs_command()
        if args.command == "config":
            return config_show_command(args)
        from abm.exchange.demo import main as demo

        demo()
    except KeyboardInterrupt:
        print(f"abm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped early (``abm config show | head``): end quietly, and point stdout
        # at /dev/null so that Python's flush at exit does not fail on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
