"""What several ``abm`` commands share: the config argument and its default, ``--set``, the
graph-file flags, and counted words in their messages."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "baseline"
"""The config of ``abm run`` and ``abm config show`` when none is given."""
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


def plural(count: float, word: str) -> str:
    """``1 event``, ``2 events``, ``1.5 hours`` (counts with thousands separators).

    >>> plural(1, "event"), plural(1_200, "event")
    ('1 event', '1,200 events')
    """
    return f"{count:,g} {word}" if count == 1 else f"{count:,g} {word}s"
