"""``abm figures``: draw a complete run folder's figures (``RUN_DIR/figures`` unless ``--out``
says otherwise), naming each figure skipped and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from abm.cli.errors import fail, unreadable


def add_figures_parser(commands: argparse._SubParsersAction) -> None:
    """``abm figures RUN_DIR [--format png,pdf,svg] [--dpi N] [--out DIR]``."""
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


def figures_command(args: argparse.Namespace) -> int:
    """``abm figures``: draw a complete run folder's figures and print their paths."""
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
