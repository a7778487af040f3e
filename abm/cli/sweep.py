"""``abm sweep``: run a sweep file into its store, then summarize it and draw its figures;
``abm sweep summarize DIR`` and ``abm sweep figures DIR`` redo those two from a store;
``abm sweep feedback DIR`` reads a sweep of liquidations in and off the book (the feedback
channel, configs/sweeps/feedback.yaml), ``abm sweep decompose`` splits the cap effect by
channel with the replay sweep, and ``abm sweep regime DIR`` maps where leverage deepens
crashes.

A user's mistake (a bad sweep file, a store of another sweep, an unknown reference) prints
``abm sweep: <message>`` and exits with status 2; a sweep stopped by SIGINT or SIGTERM keeps its
complete runs, prints one line and exits with 130 or 143.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import pandas as pd
import yaml
from tqdm import tqdm

from abm.cli.errors import fail
from abm.config import ConfigError, parse_override

SUBCOMMANDS = (
    "run",
    "summarize",
    "figures",
    "feedback",
    "decompose",
    "regime",
    "sensitivity",
    "variance",
)
SUMMARY_FILE = "summary.parquet"


def add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a sweep (policies x seeds) into a store, summarize it and draw its figures",
        description="abm sweep SWEEP.yaml [options] runs a sweep; abm sweep summarize DIR and "
        "abm sweep figures DIR redo its summary and figures.",
    )
    actions = sweep.add_subparsers(dest="sweep_command", required=True)
    run = actions.add_parser("run", help="run a sweep file (the default: abm sweep FILE)")
    run.add_argument("sweep_file", type=Path, help="a sweep YAML file (configs/sweeps/)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override for every run, on top of the sweep's set (repeatable)",
    )
    run.add_argument("--workers", type=int, default=2, help="parallel runs (default 2)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="a running Dask scheduler's address (tcp://host:8786)")
    where.add_argument(
        "--cluster", choices=("local", "slurm"), help="start a Dask cluster of --workers workers"
    )
    run.add_argument(
        "--slurm",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --cluster slurm: a dask_jobqueue.SLURMCluster keyword (queue=, account=, "
        "walltime=, memory=, cores=; repeatable)",
    )
    run.add_argument("--out", type=Path, help="the store (default results/sweeps/<file name>)")
    run.add_argument(
        "--reuse",
        action="store_true",
        help="use a store built from another sweep: keep its complete runs whose config matches",
    )
    for name, text in (
        (
            "summarize",
            "per point: each metric's mean and 95%% interval, and the paired "
            "difference to a reference point",
        ),
        ("figures", "a response figure per metric and key, and the paired differences"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("store", type=Path, help="a sweep's store (abm sweep --out)")
        action.add_argument(
            "--reference",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="the point differences are taken to (default: the sweep's reference, else its "
            "first point)",
        )
        action.add_argument(
            "--metrics", help="comma-separated metric columns to print or draw (default: headline)"
        )
    add_feedback_parser(actions)
    add_channel_parsers(actions)


def add_feedback_parser(actions: argparse._SubParsersAction) -> None:
    action = actions.add_parser(
        "feedback",
        help="what forced orders add to the crash: book vs off_book runs of a sweep, by cap",
        description="From a sweep that ran each point with exchange.liquidation.execution "
        "book and off_book on the same seeds (configs/sweeps/feedback.yaml): per named point and "
        "cap, the excess drawdown of the mark in both, their paired difference (the feedback) "
        "with its 95%% interval, and how the cap changes it. Writes feedback.csv, "
        "cap_effect.csv and figures/feedback.{pdf,png} in the store.",
    )
    action.add_argument("store", type=Path, help="the sweep's store (abm sweep --out)")
    action.add_argument(
        "--reference-cap", type=float, default=125, help="the cap effects are taken against"
    )


def add_channel_parsers(actions: argparse._SubParsersAction) -> None:
    decompose = actions.add_parser(
        "decompose",
        help="the cap effect on liquidations split into distance, participation and feedback",
        description="From the stores of configs/sweeps/feedback.yaml and "
        "configs/sweeps/feedback_replay.yaml (same seed root): per cap, the change of "
        "liquidated notional over open interest in the crash window against the reference "
        "cap, split into distance, participation and feedback, with 95%% intervals. Writes "
        "decomposition.csv and figures/decomposition.{pdf,png} in the replay store.",
    )
    decompose.add_argument("feedback_store", type=Path, help="the feedback sweep's store")
    decompose.add_argument("replay_store", type=Path, help="the replay sweep's store")
    decompose.add_argument("--point", default="shock_6pct", help="the feedback sweep's point")
    decompose.add_argument("--reference-cap", type=float, default=125)
    regime = actions.add_parser(
        "regime",
        help="where leverage deepens crashes: cap 125 vs cap 5 across capital and liquidity",
        description="From the store of configs/sweeps/regime.yaml: per point, how much deeper "
        "the crash is at the high cap than at the low one (paired), against the point's depth "
        "within 1%% over open interest. Writes regime.csv and figures/regime.{pdf,png}.",
    )
    regime.add_argument("store", type=Path, help="the regime sweep's store")
    regime.add_argument("--high-cap", type=float, default=125)
    regime.add_argument("--low-cap", type=float, default=5)
    sensitivity = actions.add_parser(
        "sensitivity",
        help="Morris or Sobol indices of a sampled sweep (a sweep file with a sample section)",
        description="From the store of a sweep whose points are a sensitivity sample "
        "(configs/sweeps/sensitivity_morris.yaml, sensitivity_sobol.yaml): per output, each "
        "parameter's Morris mu* and sigma, or Sobol S1 and ST, with 95%% intervals (SALib). "
        "Writes sensitivity.csv in the store.",
    )
    sensitivity.add_argument("store", type=Path, help="a sampled sweep's store")
    variance = actions.add_parser(
        "variance",
        help="each metric's variance split into the information path's and the agents'",
        description="From the store of a sweep that crosses fixed information paths "
        "(world.seed, a grid key) with replications (configs/sweeps/variance.yaml): per metric, "
        "the crossed random-effects split of its variance into path, agents and their "
        "interaction. Writes variance.csv in the store.",
    )
    variance.add_argument("store", type=Path, help="the variance sweep's store")
    variance.add_argument("--path-key", default="world.seed", help="the grid key of the paths")


def sensitivity_store(store: Path) -> pd.DataFrame:
    """Print and write a sampled sweep's indices (see ``abm sweep sensitivity``)."""
    from abm.experiments.plan import SweepFile
    from abm.experiments.sensitivity import format_indices, sensitivity_indices
    from abm.files import write_atomic

    catalog = _catalog(store)
    resolved = yaml.safe_load((store / "sweep.yaml").read_text(encoding="utf-8"))
    if not resolved.get("sample"):
        raise ValueError(f"{store}: its sweep has no sample section; nothing to analyse")
    data = SweepFile.model_validate(
        {k: v for k, v in resolved.items() if k in SweepFile.model_fields}
    )
    table = sensitivity_indices(data.sample, catalog)
    write_atomic(store / "sensitivity.csv", lambda tmp: table.to_csv(tmp, index=False))
    print(format_indices(table, data.sample))
    print(f"table: {store / 'sensitivity.csv'}")
    return table


def variance_store(store: Path, path_key: str) -> pd.DataFrame:
    """Print and write the variance split of a store (see ``abm sweep variance``)."""
    from abm.experiments.variance import variance_table
    from abm.files import write_atomic

    table = variance_table(_catalog(store), path_key)
    write_atomic(store / "variance.csv", lambda tmp: table.to_csv(tmp, index=False))
    print(f"variance by metric: information path ({path_key}), agents (run seed), together")
    print(f"{'metric':<52} {'path':>6} {'agents':>7} {'together':>9}")
    for r in table.itertuples(index=False):
        print(
            f"{r.metric:<52} {r.path_share:>6.0%} {r.agents_share:>7.0%} "
            f"{r.interaction_share:>9.0%}"
        )
    print(f"table: {store / 'variance.csv'}")
    return table


def _catalog(store: Path) -> pd.DataFrame:
    if not (store / "catalog.parquet").is_file():
        raise ValueError(f"{store} holds no catalog.parquet: not a sweep store (abm sweep --out)")
    return pd.read_parquet(store / "catalog.parquet")


def decompose_stores(
    feedback_store: Path, replay_store: Path, point: str, reference_cap: float
) -> pd.DataFrame:
    """Print and write the decomposition (see ``abm sweep decompose``)."""
    from abm.experiments.feedback import CAP, decompose_cap_effect
    from abm.figures.sweep import decomposition_figure
    from abm.files import write_atomic

    table = decompose_cap_effect(
        _catalog(feedback_store), _catalog(replay_store), point, reference_cap
    )
    if table.empty:
        raise ValueError(
            f"no cap of {replay_store} pairs with {feedback_store} at point {point!r} and cap "
            f"{reference_cap:g}: are they the stores of feedback.yaml and feedback_replay.yaml?"
        )
    write_atomic(replay_store / "decomposition.csv", lambda tmp: table.to_csv(tmp, index=False))
    label = f"liquidated share of open interest, change vs cap {reference_cap:g} (points)"
    shown = table.copy()
    for column in shown.columns:
        if column not in (CAP, "replications"):
            shown[column] = shown[column] * 100
    paths = decomposition_figure(shown, replay_store / "figures", label)
    print(
        "liquidated notional over open interest in the crash window, change against cap "
        f"{reference_cap:g} (percentage points, mean [95%]):"
    )
    for _, r in shown.iterrows():
        parts = "  ".join(
            f"{name} {r[name]:+.2f} [{r[name + '_low']:+.2f}, {r[name + '_high']:+.2f}]"
            for name in ("whole", "distance", "participation", "feedback")
        )
        print(f"cap {r[CAP]:>4.0f} (n={r['replications']:.0f}): {parts}")
    print(f"table: {replay_store / 'decomposition.csv'}; figure: {paths[-1]}")
    return table


def regime_store(store: Path, high_cap: float, low_cap: float) -> pd.DataFrame:
    """Print and write the regime map (see ``abm sweep regime``)."""
    from abm.experiments.feedback import regime_table
    from abm.figures.sweep import regime_figure
    from abm.files import write_atomic

    table = regime_table(_catalog(store), high_cap, low_cap)
    if table.empty:
        raise ValueError(f"{store}: no point ran both cap {high_cap:g} and cap {low_cap:g}")
    write_atomic(store / "regime.csv", lambda tmp: table.to_csv(tmp, index=False))
    paths = regime_figure(table, store / "figures")
    print(
        f"crash deeper at cap {high_cap:g} than at cap {low_cap:g} (excess drawdown of the mark, "
        "bps, paired), by point:"
    )
    print(f"{'point':<18} {'depth/OI':>8} {'deeper [95%]':>24} {'liq/OI hi':>9} {'liq/OI lo':>9}")
    for _, r in table.iterrows():
        print(
            f"{r['point']:<18} {r['depth_1pct_per_oi'] * 100:>7.2f}% "
            f"{r['deeper'] * 1e4:>7.1f} [{r['deeper_low'] * 1e4:>6.1f}, "
            f"{r['deeper_high'] * 1e4:>6.1f}] {r['liquidated_high_cap']:>9.3f} "
            f"{r['liquidated_low_cap']:>9.3f}"
        )
    print(f"table: {store / 'regime.csv'}; figure: {paths[-1]}")
    return table


def feedback_store(store: Path, reference_cap: float) -> pd.DataFrame:
    """Print and write the feedback tables and figure of a store (see ``abm sweep feedback``)."""
    from abm.experiments.feedback import CAP, EXECUTION, cap_effect_through_price, feedback_table
    from abm.experiments.plan import POINT
    from abm.figures.sweep import feedback_figure
    from abm.files import write_atomic

    catalog = _catalog(store)
    missing = [k for k in (CAP, EXECUTION, "feedback.excess_mark") if k not in catalog]
    if missing:
        raise ValueError(
            f"{store}: the catalogue has no {', '.join(missing)}; abm sweep feedback reads a "
            "sweep over exchange.max_leverage and exchange.liquidation.execution with the "
            "feedback metric (configs/sweeps/feedback.yaml)"
        )
    if POINT not in catalog:
        catalog = catalog.assign(**{POINT: "all"})
    table = feedback_table(catalog, [POINT, CAP])
    last = feedback_table(catalog, [POINT, CAP], "feedback.excess_last")
    table["feedback_last"] = last["feedback"]
    table["feedback_last_low"] = last["feedback_low"]
    table["feedback_last_high"] = last["feedback_high"]
    effect = cap_effect_through_price(catalog, POINT, reference_cap)
    write_atomic(store / "feedback.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_atomic(store / "cap_effect.csv", lambda tmp: effect.to_csv(tmp, index=False))
    paths = feedback_figure(table, effect, store / "figures")
    bps = 10_000
    print("excess drawdown of the mark (bps), liquidations in the book vs off it, same seeds:")
    print(
        f"{'point':<14} {'cap':>5} {'n':>3} {'book':>7} {'off':>7} {'feedback [95%]':>22} "
        f"{'share':>6} {'last: feedback [95%]':>24} {'liq/OI':>7} {'gen2+':>6} {'chain':>6}"
    )
    for _, r in table.iterrows():
        print(
            f"{r[POINT]:<14} {r[CAP]:>5.0f} {r['replications']:>3} {r['book'] * bps:>7.1f} "
            f"{r['off_book'] * bps:>7.1f} "
            f"{r['feedback'] * bps:>7.1f} [{r['feedback_low'] * bps:>5.1f}, "
            f"{r['feedback_high'] * bps:>5.1f}] {r['feedback_share']:>6.2f} "
            f"{r['feedback_last'] * bps:>8.1f} [{r['feedback_last_low'] * bps:>6.1f}, "
            f"{r['feedback_last_high'] * bps:>6.1f}] "
            f"{r.get('book_liquidated_share_of_oi', float('nan')):>7.3f} "
            f"{r.get('book_share_generation_2_plus', float('nan')):>6.2f} "
            f"{r.get('book_longest_chain', float('nan')):>6.1f}"
        )
    print(
        f"\nagainst cap {reference_cap:g} (bps; paired): the whole effect on the book runs, and "
        "the part through the price (change of the feedback)"
    )
    for _, r in effect.iterrows():
        print(
            f"{r[POINT]:<14} {r[CAP]:>5.0f} whole {r['total'] * bps:>7.1f} "
            f"[{r['total_low'] * bps:>6.1f}, {r['total_high'] * bps:>6.1f}]  through the price "
            f"{r['through_price'] * bps:>7.1f} [{r['low'] * bps:>6.1f}, {r['high'] * bps:>6.1f}]"
        )
    print(f"tables: {store / 'feedback.csv'}, {store / 'cap_effect.csv'}; figure: {paths[-1]}")
    return table


def sweep_argv(argv: list[str]) -> list[str]:
    """``abm sweep FILE ...`` is ``abm sweep run FILE ...``.

    >>> sweep_argv(["sweep", "s.yaml", "--workers", "2"])
    ['sweep', 'run', 's.yaml', '--workers', '2']
    >>> sweep_argv(["sweep", "summarize", "dir"])
    ['sweep', 'summarize', 'dir']
    """
    if len(argv) >= 2 and argv[0] == "sweep" and argv[1] not in (*SUBCOMMANDS, "-h", "--help"):
        return [argv[0], "run", *argv[1:]]
    return argv


class SweepProgress:
    """A tqdm bar of runs (only on a terminal): done, running, failed, and the ETA."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, state) -> None:
        if self.bar is None:
            self.bar = tqdm(total=state.total, unit=" runs", disable=None, initial=state.skipped)
        self.bar.set_postfix(running=state.running, failed=state.failed, refresh=False)
        self.bar.update(state.done + state.failed - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _reference(store: Path, pairs: list[str]) -> dict | None:
    if pairs:
        return {".".join(key): value for key, value in (parse_override(p) for p in pairs)}
    resolved = yaml.safe_load((store / "sweep.yaml").read_text(encoding="utf-8"))
    return resolved.get("reference")


def _keys(store: Path) -> list[str]:
    from abm.experiments.plan import POINT

    resolved = yaml.safe_load((store / "sweep.yaml").read_text(encoding="utf-8"))
    return ([POINT] if resolved.get("points") else []) + list(resolved.get("grid") or {})


def _metrics(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


def summarize_store(store: Path, reference: dict | None, metrics: list[str] | None) -> pd.DataFrame:
    """Summarize a store's catalogue into ``summary.parquet``, ``summary.csv`` and
    ``interval_narrowing.csv``, and print the table; returns the summary."""
    from abm.experiments.compare import format_summary, interval_narrowing, summarize_sweep
    from abm.files import write_atomic

    keys = _keys(store)
    catalog = pd.read_parquet(store / "catalog.parquet")
    summary = summarize_sweep(catalog, keys, reference)
    unknown = [m for m in metrics or () if m not in set(summary["metric"])]
    if unknown:
        known = sorted(set(summary["metric"]))
        hints = [difflib.get_close_matches(m, known, n=1) for m in unknown]
        said = ", ".join(
            f"{m!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
            for m, h in zip(unknown, hints, strict=True)
        )
        raise ValueError(
            f"--metrics: {said} not among this store's metrics; they are: {', '.join(known)}"
        )
    write_atomic(store / SUMMARY_FILE, lambda tmp: summary.to_parquet(tmp, index=False))
    write_atomic(store / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    narrowing = interval_narrowing(summary)
    write_atomic(store / "interval_narrowing.csv", lambda tmp: narrowing.to_csv(tmp, index=False))
    print(format_summary(summary, keys, metrics))
    shown = narrowing[narrowing["metric"].isin(metrics or summary["metric"].unique())]
    if len(shown):
        ratios = shown["unpaired_over_paired_width"].dropna()
        if len(ratios):
            print(
                f"common random numbers: paired intervals are {ratios.median():.2f}x narrower "
                "(median over these metrics) than the same comparison with independent seeds "
                "(interval_narrowing.csv)"
            )
    print(f"summary: {store / SUMMARY_FILE}, {store / 'summary.csv'}")
    return summary


def figures_store(store: Path, reference: dict | None, metrics: list[str] | None) -> list[Path]:
    from abm.experiments.compare import HEADLINE, summarize_sweep
    from abm.figures.sweep import sweep_figures

    keys = _keys(store)
    summary = summarize_sweep(pd.read_parquet(store / "catalog.parquet"), keys, reference)
    paths = sweep_figures(summary, keys, store / "figures", metrics or list(HEADLINE))
    print(f"{len(paths)} figure files in {store / 'figures'}")
    return paths


def sweep_command(args: argparse.Namespace) -> int:
    from abm.experiments.compare import HEADLINE
    from abm.experiments.executors import sweep_executor
    from abm.experiments.plan import load_sweep
    from abm.experiments.sweep import SweepInterrupted, SweepStoreError, failed_runs, run_sweep

    try:
        if args.sweep_command == "decompose":
            decompose_stores(args.feedback_store, args.replay_store, args.point, args.reference_cap)
            return 0
        if args.sweep_command == "regime":
            regime_store(args.store, args.high_cap, args.low_cap)
            return 0
        if args.sweep_command == "variance":
            variance_store(args.store, args.path_key)
            return 0
        if args.sweep_command == "sensitivity":
            sensitivity_store(args.store)
            return 0
        if args.sweep_command == "feedback":
            feedback_store(args.store, args.reference_cap)
            return 0
        if args.sweep_command in ("summarize", "figures"):
            store = args.store
            if not (store / "catalog.parquet").is_file():
                return fail(
                    "sweep",
                    f"{store} holds no catalog.parquet: not a sweep store (abm sweep --out)",
                )
            reference, metrics = _reference(store, args.reference), _metrics(args.metrics)
            if args.sweep_command == "summarize":
                summarize_store(store, reference, metrics)
            else:
                figures_store(store, reference, metrics)
            return 0
        if args.workers < 1:
            return fail("sweep", f"--workers must be at least 1, got {args.workers}")
        if args.slurm and args.cluster != "slurm":
            return fail("sweep", "--slurm options need --cluster slurm")
        sweep = load_sweep(args.sweep_file, args.set)
        store = args.out or Path("results") / "sweeps" / args.sweep_file.stem
        print(
            f"sweep {args.sweep_file}: {len(sweep.runs)} runs ({len(sweep.runs) // sweep.data.replications} "
            f"points x {sweep.data.replications} replications) into {store}"
        )
        for warning in sweep.warnings():
            print(f"warning: {warning}", file=sys.stderr)
        bar = SweepProgress()
        try:
            with sweep_executor(args.workers, args.scheduler, args.cluster, args.slurm) as ex:
                catalog = run_sweep(sweep, store, ex, reuse=args.reuse, progress=bar)
        finally:
            bar.close()
        failed = failed_runs(catalog)
        done = len(catalog) - len(failed)
        print(f"{done} of {len(catalog)} runs complete; catalogue: {store / 'catalog.parquet'}")
        for row in failed.itertuples(index=False):
            print(f"  {row.run_id}: {row.status} {row.error or ''}".rstrip(), file=sys.stderr)
        if done and sweep.data.sample is not None:
            if not len(failed):
                sensitivity_store(store)
        elif done:
            reference = sweep.data.reference
            summarize_store(store, reference, None)
            figures_store(store, reference, list(HEADLINE))
            for warning in sweep.warnings():
                print(f"warning: {warning}")
        return 0 if not len(failed) else 1
    except SweepInterrupted as stop:
        print(
            f"abm sweep: stopped by {stop}; {stop.done} of {stop.total} runs complete (run the "
            "same command again to resume)",
            file=sys.stderr,
        )
        return stop.exit_code
    except (ConfigError, SweepStoreError, ValueError) as err:
        return fail("sweep", err)
