"""``abm validate``: hold complete run folders, pooled over seeds, or real price files against
the validation bands (:mod:`abm.analysis.validation`), print the table and write the JSON
report. A report: the exit status is 0 even when bands are missed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from abm.cli.errors import fail, unreadable


def add_validate_parser(commands: argparse._SubParsersAction) -> None:
    """``abm validate RUN_DIR ... | --prices FILE ... [--out FILE] [--bands FILE]``."""
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


def _write_report(out: Path, data: dict) -> None:
    """Write the JSON report atomically (a report half written is never left behind)."""
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
