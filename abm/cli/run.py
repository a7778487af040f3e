"""``abm run``: resolve a config (a file or a shipped name, ``--set``, ``--seed``, ``--prices``),
run the model into a run folder with a progress bar on a terminal, and print the run's summary and
where the money went. A run stopped by SIGINT or SIGTERM prints one line and exits with 130 or
143."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from abm.cli.common import CONFIG_HELP, DEFAULT_CONFIG, add_graph_flags, add_overrides, plural
from abm.cli.errors import fail
from abm.config import REPLAY_SHOCKS_OFF, ConfigError, ModelConfig, load_config_with_sources


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    """``abm run [CONFIG] [--set ...] [--seed N] [--prices FILE] [--out DIR]``."""
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
    """The run's summary as ``abm run`` prints it: warnings, liquidations, wipe-outs, the
    insurance fund, backstops, the biggest cascade, the market's proportions and the equity
    change by population."""
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
    try:
        config, sources = load_config_with_sources(args.config, overrides, seed=args.seed)
    except ConfigError as err:
        return fail("run", err)
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


def where_money_goes_lines(run_dir: Path, top: int | None = None) -> str:
    """The where-the-money-goes table of a run folder (its ``where_money_goes.csv``)."""
    import pandas as pd

    from abm.flows import format_where_money_goes

    table = pd.read_csv(run_dir / "where_money_goes.csv")
    return format_where_money_goes(table, top=top)
