"""The ``abm`` command."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based model of a leveraged BTC perpetual-futures market."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="a scripted crash through the exchange alone")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from abm.exchange.demo import main as demo

        demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
