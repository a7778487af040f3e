"""``abm event NAME``: a real crash replayed from its news alone, beside what really happened
(:mod:`abm.experiments.event`; the shipped events are in configs/events).

A user's mistake (an unknown event, a bad event file or override) prints ``abm event:
<message>`` and exits with status 2."""

from __future__ import annotations

import argparse
from pathlib import Path

from abm.cli.errors import fail
from abm.config import ConfigError, load_config


def add_event_parser(commands: argparse._SubParsersAction) -> None:
    event = commands.add_parser(
        "event",
        help="replay a real crash from its news alone and compare with the real figures",
        description="Run an event's scenario (configs/events/NAME.yaml names it) once per seed "
        "and print, per measure, the model's mean and range beside the real figure and its "
        "source.",
    )
    event.add_argument("event", help="an event name (configs/events) or an event file")
    event.add_argument("--seeds", type=int, help="runs (seeds 1 to N; default: the file's)")
    event.add_argument("--workers", type=int, default=2, help="runs at a time (default 2)")
    event.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value of every run (repeatable)",
    )
    event.add_argument("--out", type=Path, help="also write the seeds' measures to this CSV")


def event_command(args: argparse.Namespace) -> int:
    from abm.experiments.event import comparison_table, format_comparison, load_event, run_event

    try:
        event, scenario = load_event(args.event)
        if args.seeds is not None:
            if args.seeds < 1:
                raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
            event = event.model_copy(update={"seeds": args.seeds})
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {args.workers}")
        load_config(scenario, args.overrides)  # a bad override is one message, before any run
    except (ConfigError, ValueError) as err:
        return fail("event", err)
    print(f"{args.event}: {scenario.name}, {event.seeds} seeds", flush=True)
    runs = run_event(event, scenario, args.workers, tuple(args.overrides))
    if args.out is not None:
        runs.to_csv(args.out)
    print(format_comparison(comparison_table(runs, event), event.seeds))
    return 0
