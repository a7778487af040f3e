"""The ``abm`` command: ``abm run``, ``abm demo``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from abm.config import ConfigError, load_config

DEFAULT_CONFIG = Path("configs/baseline.yaml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based model of a leveraged BTC perpetual-futures market."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the model and write a run folder")
    run.add_argument("config", nargs="?", default=str(DEFAULT_CONFIG), help="YAML config")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set exchange.max_leverage=20 (repeatable)",
    )
    run.add_argument("--seed", type=int, help="the run's seed (overrides run.seed)")
    run.add_argument("--out", type=Path, help="output folder (default results/<name>-<time>)")
    commands.add_parser("demo", help="a scripted crash through the exchange alone")
    return parser


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 40
        filled = width * done // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} ticks")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def format_summary(summary: dict, out: Path, seconds: float) -> str:
    liq = summary["liquidations"]
    fund = summary["insurance_fund"]
    lines = [
        f"{summary['hours']:g} simulated hours in {seconds:.1f} s",
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
    lines.append("equity change by population (USDT):")
    for population, change in summary["equity_change_by_population"].items():
        lines.append(f"  {population:14s} {change:+,.2f}")
    lines.append(f"output: {out}")
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    from abm.experiments.run import execute

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    try:
        config = load_config(args.config, overrides)
    except ConfigError as err:
        print(f"abm run: {err}", file=sys.stderr)
        return 2
    out = args.out
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        out = Path("results") / f"{Path(args.config).stem}-seed{config.run.seed}-{stamp}"
    result = execute(config, out, Progress())
    print(format_summary(result.summary, out, result.seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_command(args)
    from abm.exchange.demo import main as demo

    demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
