"""``abm configs`` lists the shipped configs, rulebooks and sweeps; ``abm config show`` prints a
resolved config with every key's range and meaning."""

from __future__ import annotations

import argparse

from abm.cli.common import CONFIG_HELP, DEFAULT_CONFIG, add_overrides
from abm.cli.errors import fail
from abm.config import (
    ConfigError,
    config_summary,
    configs_dir,
    describe_config,
    load_config,
    shipped_configs,
    shipped_rulebooks,
    shipped_sweeps,
)


def add_config_parsers(commands: argparse._SubParsersAction) -> None:
    """``abm configs`` and ``abm config show [CONFIG] [--set ...]``."""
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
