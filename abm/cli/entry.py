"""The ``abm`` command's parser and dispatch: every command's parser in the order ``abm --help``
lists them, the command run, and the exits every command shares (Ctrl-C: 130; a reader that
stopped early, as in ``abm config show | head``: 1)."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

from abm.cli.configs import add_config_parsers, config_show_command, configs_command
from abm.cli.dashboard import add_dashboard_parser, dashboard_command
from abm.cli.event import add_event_parser, event_command
from abm.cli.figures import add_figures_parser, figures_command
from abm.cli.flows import add_flows_parser, flows_command
from abm.cli.run import add_run_parser, run_command
from abm.cli.sweep import add_sweep_parser, sweep_argv, sweep_command
from abm.cli.validate import add_validate_parser, validate_command


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``abm`` and all its commands."""
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based model of a leveraged BTC perpetual-futures market."
    )
    parser.add_argument("--version", action="version", version=f"abm {metadata.version('abm')}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_run_parser(commands)
    add_flows_parser(commands)
    add_figures_parser(commands)
    add_validate_parser(commands)
    add_config_parsers(commands)
    commands.add_parser("demo", help="a scripted crash through the exchange alone")
    add_sweep_parser(commands)
    add_event_parser(commands)
    add_dashboard_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``abm`` with ``argv`` (default: the command line's arguments); the exit status."""
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
