"""Regenerate the paper: run its studies through the experiments layer (complete runs are kept),
summarize them, write every number the text quotes (``numbers.json``), every table (``tables/``)
and every figure (``figures/``), and compile ``paper.pdf`` with Typst.

    python paper/build.py [--workers 2]            # make paper: paper/build/paper.pdf
    python paper/build.py --smoke [--workers 2]    # make paper-smoke: tiny studies, paper/build-smoke
    python paper/build.py --smoke --out DIR        # the smoke build into DIR (the tests: a temp folder)

The studies are the shipped sweep files (``configs/sweeps/``), their stores the ones
``abm sweep`` uses (``results/sweeps/NAME``), so a study already run is not run again. The runs
of all the studies go to one pool of workers at once, not study after study. The smoke
build runs every study on a tiny market (a few minutes of a few hundred traders, two
replications) into ``paper/build-smoke/stores`` so that the whole pipeline is exercised in the
test suite; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from abm.analysis.validation import load_bands, mean_interval, pool, run_measures
from abm.cli.sweep import SweepProgress
from abm.experiments.compare import interval_narrowing, summarize_sweep
from abm.experiments.executors import sweep_executor
from abm.experiments.feedback import cap_effect_through_price, feedback_table, regime_table
from abm.experiments.plan import POINT, Sweep, load_sweep
from abm.experiments.sensitivity import output_values, sensitivity_indices
from abm.experiments.status import COMPLETE
from abm.experiments.sweep import run_folder, run_sweeps
from abm.experiments.variance import variance_table
from abm.figures.paper import COLUMN_IN, interval_bars, response_panels, sensitivity_heatmap
from abm.files import write_atomic

PAPER = Path(__file__).resolve().parent
ROOT = PAPER.parent
STUDIES = (
    "where_money_goes",
    "feedback",
    "regime",
    "venues",
    "leverage_caps",
    "backstops",
    "stop_loss",
    "mark_price",
    "link_matching",
    "venue_rules",
    "sensitivity_morris",
    "sensitivity_sobol",
    "variance",
    "event_money",
    "validation",
)
SMOKE = [
    "replications=2",
    "run.hours=0.05",
    "retail.count=200",
    "whales.count=1",
    "market_makers.count=2",
    "arbitrageurs.count=1",
    "retail.cross_margin_share=0.5",
    "world.shocks=[{start_minute: 1, minutes: 1, move: -0.06}]",
]
"""Overrides of every study for the smoke build: a tiny market with a drop that liquidates."""
SMOKE_VALIDATION = ["run.hours=0.2"]
"""The validation runs of the smoke build last a little longer, for returns to measure."""
SMOKE_STUDY = {
    "validation": SMOKE_VALIDATION,
    "sensitivity_morris": ["sample.size=2", "replications=1"],
    "sensitivity_sobol": ["sample.size=2", "replications=1"],
}
"""Further overrides of some studies in the smoke build (the sensitivity ones: a tiny sample)."""
TIMESTAMP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The PDF's creation date: fixed, so that the same results give the same PDF."""


# ------------------------------------------------------------------------------ formatting


def count(value: float) -> str:
    """A mean count: ``84.6``, ``1,234``, ``0.35``, ``0``."""
    if value != value:
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def usdt(value: float) -> str:
    """USDT, whole: ``742,392``, ``-6,485``."""
    return "n/a" if value != value else f"{value:,.0f}"


def percent(value: float, digits: int = 2) -> str:
    """A share as a percentage: ``4.59%``."""
    return "n/a" if value != value else f"{100 * value:.{digits}f}%"


def ratio(value: float) -> str:
    """An over-representation ratio: 1.43."""
    return "n/a" if pd.isna(value) else f"{value:.2f}"


def bps(value: float) -> str:
    """A share in basis points: ``1.1``."""
    return "n/a" if value != value else f"{1e4 * value:.2g}"


def interval(low: float, high: float, fmt) -> str:
    """``71.2 to 102``; ``n/a`` without one."""
    if low is None or high is None or low != low or high != high:
        return "n/a"
    return f"{fmt(low)} to {fmt(high)}"


class Inserts:
    """What the manuscript reads: numbers (``numbers.json``) and tables (``tables/NAME.csv``,
    a header row and text cells)."""

    def __init__(self, build: Path) -> None:
        self.build = build
        self.numbers: dict[str, str] = {}

    def number(self, key: str, text: str) -> None:
        if key in self.numbers:
            raise ValueError(f"number {key!r} written twice")
        self.numbers[key] = text

    def table(self, name: str, frame: pd.DataFrame) -> None:
        path = self.build / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: frame.astype(str).to_csv(tmp, index=False))

    def write(self) -> None:
        text = json.dumps(self.numbers, indent=1, sort_keys=True, ensure_ascii=False)
        write_atomic(self.build / "numbers.json", lambda tmp: Path(tmp).write_text(text))


# ------------------------------------------------------------------------------ running


def run_studies(smoke: bool, build: Path, workers: int) -> dict[str, tuple[Sweep, Path]]:
    """Run (or complete) every study; returns each one's sweep and store. The runs of all the
    studies not yet complete go to one pool at once (:func:`run_sweeps`, longest first), so
    that no worker waits at the end of one study while another has runs left; one progress bar
    counts them all. SystemExit naming each study whose runs did not all complete."""
    studies = {}
    for name in STUDIES:
        overrides = SMOKE + SMOKE_STUDY.get(name, []) if smoke else []
        sweep = load_sweep(name, overrides)
        store = build / "stores" / name if smoke else ROOT / "results" / "sweeps" / name
        print(f"study {name}: {len(sweep.runs)} runs -> {store}", flush=True)
        studies[name] = (sweep, store)
    progress = SweepProgress()
    try:
        with sweep_executor(workers) as executor:
            frames = run_sweeps(list(studies.values()), executor, progress=progress)
    finally:
        progress.close()
    problems = []
    for (name, (_, store)), frame in zip(studies.items(), frames, strict=True):
        failed = frame[frame["status"] != "complete"]
        if len(failed):
            problems.append(f"study {name}: {len(failed)} runs did not complete: see {store}")
    if problems:
        raise SystemExit("\n".join(problems))
    return studies


def keys_of(sweep: Sweep) -> list[str]:
    return ([POINT] if sweep.data.points else []) + list(sweep.data.grid)


def summary_of(sweep: Sweep, store: Path, derive=None) -> pd.DataFrame:
    """The study's summary over its catalogue, with columns ``derive(catalog)`` adds."""
    catalog = pd.read_parquet(store / "catalog.parquet")
    if derive is not None:
        catalog = derive(catalog)
    return summarize_sweep(catalog, keys_of(sweep), sweep.data.reference)


MISSING: list[str] = []
"""Cells the text asked for that the summary does not hold (a smoke study may lack them)."""


def cell(summary: pd.DataFrame, metric: str, **where) -> pd.Series:
    """The summary row of ``metric`` at the point given by ``where`` (key=value); a row of NaN,
    noted in :data:`MISSING`, when the summary has none."""
    rows = summary[summary["metric"] == metric]
    for key, value in where.items():
        rows = rows[rows[key].astype(str) == str(value)]
    if len(rows) > 1:
        raise KeyError(f"{metric} at {where}: {len(rows)} rows")
    if not len(rows):
        MISSING.append(f"{metric} at {where}")
        return pd.Series(dtype=float, index=summary.columns)
    return rows.iloc[0]


def mean_ci(row: pd.Series, fmt) -> str:
    """``84.6 [71.2 to 102]``: the mean and its 95% interval over replications."""
    return f"{fmt(row['mean'])} [{interval(row['ci_low'], row['ci_high'], fmt)}]"


def diff_ci(row: pd.Series, fmt) -> str:
    """The paired difference to the reference point and its 95% interval."""
    return f"{fmt(row['diff_mean'])} [{interval(row['diff_low'], row['diff_high'], fmt)}]"


def shares_of(catalog: pd.DataFrame, prefix: str, total: str, into: str) -> pd.DataFrame:
    """Columns ``into.K``: each ``prefix.K`` (but ``total``) over the run's ``total`` column,
    undefined (NaN) where the total is zero."""
    columns = [c for c in catalog.columns if c.startswith(prefix + ".") and c != total]
    out = catalog.copy()
    for column in columns:
        key = column.removeprefix(prefix + ".")
        out[f"{into}.{key}"] = (catalog[column] / catalog[total]).where(catalog[total] > 0)
    return out


PARTY = {
    "retail": "retail",
    "whale": "whales",
    "market_maker": "market makers",
    "arbitrageur": "arbitrageurs",
    "fundamental": "fundamental traders",
    "insurance_fund": "insurance fund",
    "exchange": "exchange",
    "backstop_vault": "backstop vault",
    "external": "debt left with traders",
}


def party_label(column: str) -> str:
    """``where_money_goes.received_market_maker`` -> ``market makers``."""
    key = column.split(".", 1)[1]
    for section in ("received_", "paid_"):
        key = key.removeprefix(section)
    return PARTY.get(key, key.replace("_", " "))


def present(summary: pd.DataFrame, prefix: str, floor: float = 0.0) -> list[str]:
    """Metrics starting with ``prefix`` whose largest mean over points exceeds ``floor``,
    largest first."""
    rows = summary[summary["metric"].str.startswith(prefix)]
    top = rows.groupby("metric")["mean"].max()
    return list(top[top > floor].sort_values(ascending=False).index)


def mean_only(row: pd.Series, fmt) -> str:
    """The mean alone, for tables too wide for intervals."""
    return fmt(row["mean"])


def table_of(
    summary: pd.DataFrame,
    metrics: dict[str, tuple[str, object]],
    by: str,
    order: list[str],
    first: str,
    names: dict[str, str] | None = None,
    text=mean_ci,
) -> pd.DataFrame:
    """A table with one row per metric (``metrics``: column -> (label, formatter)) and one
    column per value of ``by`` in ``order`` (headed by ``names``), cells ``text(row, fmt)``
    (``mean [interval]`` by default)."""
    rows = []
    for metric, (label, fmt) in metrics.items():
        row = {first: label}
        for value in order:
            row[(names or {}).get(value, value)] = text(cell(summary, metric, **{by: value}), fmt)
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ the studies


def git_commit() -> str:
    """The commit the paper is built from (``-dirty`` with uncommitted changes), else
    ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (commit or "unknown") + ("-dirty" if dirty else "")


def model_numbers(out: Inserts, sweep: Sweep) -> None:
    """The baseline market the text describes, from the resolved config of the baseline study."""
    config = sweep.runs[0].config
    out.number("hours", f"{config['run']['hours']:g}")
    out.number("tick_seconds", f"{config['run']['tick_seconds']:g}")
    for section in ("retail", "whales", "market_makers", "arbitrageurs", "fundamental_traders"):
        out.number(f"{section}_count", count(config[section]["count"]))
    out.number("start_price", usdt(config["world"]["start_price"]))
    out.number("annual_volatility", percent(config["world"]["annual_volatility"], 0))
    out.number("max_leverage", f"{config['exchange']['max_leverage']:g}x")
    out.number("fund_start_usdt", usdt(config["exchange"]["insurance_fund_seed"]))
    out.number("confidence", "95%")
    out.number("model_version", f"{metadata.version('abm')}")
    out.number("model_commit", git_commit())
    shock = (config["world"].get("shocks") or [{}])[0]
    if shock:
        out.number("shock_move", percent(abs(shock["move"]), 0))
        out.number("shock_minutes", f"{shock['minutes']:g}")
        out.number("shock_start_hour", f"{shock['start_minute'] / 60:g}")


def validation_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """The validation table: each banded measure pooled over the validation runs, beside its
    band, the real reference and its source."""
    bands = load_bands()
    runs = [run_measures(run_folder(store, run)).measures for run in sweep.runs]
    rows = [r for r in pool(runs, bands) if r.band is not None]
    sources: list[str] = []
    table = []
    for row in rows:
        value = f"{row.value:.3g}" if row.value == row.value else "n/a"
        if row.low is not None and row.high is not None:
            value += f" [{row.low:.3g} to {row.high:.3g}]"
        source = source_text(row.band.source)
        if source and source not in sources:
            sources.append(source)
        table.append(
            {
                "Measure": row.band.label or row.metric,
                "Model": value,
                "Band": row.band.describe(),
                "Real data": row.band.reference,
                "Source": str(sources.index(source) + 1) if source else "",
                "Verdict": row.verdict,
            }
        )
    out.table("validation", pd.DataFrame(table))
    out.table(
        "validation_sources",
        pd.DataFrame({"": [str(i + 1) for i in range(len(sources))], "Source": sources}),
    )
    out.number("validation_runs", count(len(sweep.runs)))
    out.number("validation_hours", f"{sweep.runs[0].config['run']['hours']:g}")
    out.number("validation_bands", count(len(rows)))
    out.number("validation_passed", count(sum(r.verdict == "pass" for r in rows)))
    misses = [r.band.label or r.metric for r in rows if r.verdict != "pass"]
    out.number("validation_missed", count(len(misses)))


def source_text(source: str) -> str:
    """A band's source as a reader can follow it: the project's own issue numbers read as the
    model's specification; a pointer to another band's source is resolved by the table's
    numbering, so it is left out."""
    if source.startswith("see "):
        return ""
    return re.sub(r"\bissue \d+\b", "the model's specification", " ".join(source.split()))


MONEY = "where_money_goes"
TRAITS = {
    "liquidated_loss_by_leverage": "leverage",
    "liquidated_loss_by_style": "style",
    "liquidated_loss_by_stop_habit": "stop habit",
    "liquidated_loss_by_population": "population",
}


QUOTED_PARTIES = ("fundamental", "market_maker", "insurance_fund", "retail", "whale", "arbitrageur")
"""The receivers the text quotes, whether or not a study's runs paid them."""
QUOTED_GROUPS = (
    ("liquidated_loss_by_leverage", "51-125x"),
    ("liquidated_loss_by_leverage", "21-50x"),
    ("liquidated_loss_by_leverage", "6-20x"),
    ("liquidated_loss_by_stop_habit", "no stop"),
    ("liquidated_loss_by_style", "trend"),
    ("liquidated_loss_by_population", "retail"),
)
"""The trait groups whose share of the liquidated total the text quotes."""


BASE_RATES = {
    "base_rates_by_population": "population",
    "base_rates_by_leverage": "leverage",
    "base_rates_by_style": "style",
    "base_rates_by_stop_habit": "stop habit",
}
"""The metrics of each group's loss, trader and exposure shares, by the trait they split."""


def trait_catalog(catalog: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with each trait group's share of the liquidated total (``share_*``) and,
    per run, its over-representation: loss share over exposure share (``ratio_*``, undefined
    where the group held no exposure)."""
    for prefix in TRAITS:
        if f"{prefix}.all" in catalog.columns:
            catalog = shares_of(catalog, prefix, f"{prefix}.all", f"share_{prefix}")
    ratios = {}
    for prefix in BASE_RATES:
        for column in [c for c in catalog.columns if c.startswith(f"{prefix}.loss_share_")]:
            group = column.removeprefix(f"{prefix}.loss_share_")
            held = catalog.get(f"{prefix}.exposure_share_{group}")
            if held is not None:
                ratios[f"ratio_{prefix}.{group}"] = (catalog[column] / held).where(held > 0)
    return pd.concat([catalog, pd.DataFrame(ratios, index=catalog.index)], axis=1)


def base_rate_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Each group's share of the liquidated loss beside its share of traders and of exposure,
    and the over-representation ratio (loss share over exposure share, per run), each the mean
    and 95% interval over replications; groups that carried no loss in any run left out."""
    rows = []
    for prefix, trait in BASE_RATES.items():
        for metric in present(summary, f"{prefix}.loss_share_"):
            group = metric.removeprefix(f"{prefix}.loss_share_")
            rows.append(
                {
                    "Trait": trait,
                    "Group": group.replace("_", " "),
                    "Of the loss": mean_ci(cell(summary, metric), percent),
                    "Of traders": percent(cell(summary, f"{prefix}.trader_share_{group}")["mean"]),
                    "Of exposure": percent(
                        cell(summary, f"{prefix}.exposure_share_{group}")["mean"]
                    ),
                    "Loss / exposure": mean_ci(cell(summary, f"ratio_{prefix}.{group}"), ratio),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["Trait", "Group", "Of the loss", "Of traders", "Of exposure", "Loss / exposure"],
    )


def money_table(summary: pd.DataFrame, section: str, **where) -> pd.DataFrame:
    """Who received (or paid) the liquidated money: share mean [interval] by party."""
    metrics = present(summary, f"{MONEY}.{section}_")
    rows = [
        {"Party": party_label(m), "Share": mean_ci(cell(summary, m, **where), percent)}
        for m in metrics
    ]
    return pd.DataFrame(rows, columns=["Party", "Share"])


def where_money_goes_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """The baseline's decomposition of liquidated losses by receiver, payer and trader trait."""
    summary = summary_of(sweep, store, trait_catalog)
    out.number("money_runs", count(sweep.data.replications))
    out.number("money_count", mean_ci(cell(summary, "liquidations.count"), count))
    out.number(
        "money_total_usdt", mean_ci(cell(summary, "liquidated_loss_by_population.all"), usdt)
    )
    out.number("money_total_oi", mean_ci(cell(summary, "liquidated_share_of_oi.total"), percent))
    out.table("money_received", money_table(summary, "received"))
    out.table("money_base_rates", base_rate_table(summary))
    for prefix, group in (
        ("base_rates_by_stop_habit", "no stop"),
        ("base_rates_by_style", "trend"),
        ("base_rates_by_leverage", "51-125x"),
    ):
        key = safe(f"{prefix.removeprefix('base_rates_by_')}_{group}")
        out.number(
            f"exposure_{key}", percent(cell(summary, f"{prefix}.exposure_share_{group}")["mean"])
        )
        out.number(
            f"traders_{key}", percent(cell(summary, f"{prefix}.trader_share_{group}")["mean"])
        )
        out.number(f"ratio_{key}", mean_ci(cell(summary, f"ratio_{prefix}.{group}"), ratio))
    out.table("money_paid", money_table(summary, "paid"))
    received = present(summary, f"{MONEY}.received_")
    for party in QUOTED_PARTIES:
        out.number(
            f"money_received_{party}", mean_ci(cell(summary, f"{MONEY}.received_{party}"), percent)
        )
    out.number("money_top_party", party_label(received[0]) if received else "n/a")
    labels = {}
    metrics = []
    for prefix, trait in TRAITS.items():
        for metric in present(summary, f"share_{prefix}."):
            labels[metric] = f"{trait}: {metric.split('.', 1)[1]}"
            metrics.append(metric)
    for prefix, group in QUOTED_GROUPS:
        key = f"loss_{prefix.removeprefix('liquidated_loss_by_')}_{safe(group)}"
        out.number(key, mean_ci(cell(summary, f"share_{prefix}.{group}"), percent))
    interval_bars(
        summary,
        metrics,
        figures,
        "loss_by_trait",
        labels=labels,
        xlabel="share of the liquidated total",
        width=COLUMN_IN,
    )


def safe(text: str) -> str:
    """A number key from a group name: ``51-125x`` -> ``lev51_125x``, ``stop on mark`` ->
    ``stop_on_mark``."""
    key = "".join(c if c.isalnum() else "_" for c in text).strip("_")
    return f"lev{key}" if key[:1].isdigit() else key


MEASURES = {
    "liquidations.count": ("liquidations (count)", count),
    "liquidations.notional_usdt": ("liquidated notional (USDT)", usdt),
    "liquidated_share_of_oi.per_day": ("liquidated share of OI per day (share)", percent),
    "drawdown.crash": ("crash-window drawdown (share)", percent),
    "drawdown.max": ("maximum drawdown (share)", percent),
    "accounts_out.wiped_out": ("accounts wiped out (count)", count),
    "accounts_out.stayed_out": ("traders who stayed out (count)", count),
    "population_pnl.retail": ("retail PnL (USDT)", usdt),
    "insurance_fund.min": ("insurance fund minimum (USDT)", usdt),
    "insurance_fund.change": ("insurance fund change (USDT)", usdt),
    "backstop_actions.adl": ("ADL actions (count)", count),
}
"""The measures the studies report: each metric's label (with its unit) and its format."""


def measures(*metrics: str) -> dict[str, tuple[str, object]]:
    """The label and format of each of ``metrics``, in order."""
    return {m: MEASURES[m] for m in metrics}


def labels(metrics: dict[str, tuple[str, object]]) -> dict[str, str]:
    return {m: label for m, (label, _) in metrics.items()}


def venues_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """The same decomposition and the liquidations under each venue preset, on the squeeze."""
    summary = summary_of(sweep, store, trait_catalog)
    venues = [p.name for p in sweep.data.points]
    metrics = measures(
        "liquidations.count",
        "liquidations.notional_usdt",
        "drawdown.crash",
        "insurance_fund.change",
        "backstop_actions.adl",
    )
    for metric in present(summary, f"{MONEY}.received_"):
        metrics[metric] = (f"received by {party_label(metric)}", percent)
    names = {v: v.replace("dydx", "dYdX").replace("bitmex", "BitMEX").title() for v in venues}
    names = {v: {"Dydx": "dYdX", "Bitmex": "BitMEX"}.get(n, n) for v, n in names.items()}
    out.table("venues", table_of(summary, metrics, POINT, venues, "Measure", names, mean_only))
    out.number("venues_runs", count(sweep.data.replications))
    out.number("venues_count", count(len(venues)))
    for venue in venues:
        out.number(
            f"venue_{venue}_count", mean_ci(cell(summary, "liquidations.count", point=venue), count)
        )
        out.number(
            f"venue_{venue}_payout",
            mean_ci(cell(summary, "deficit_paid_by.insurance_payout", point=venue), usdt),
        )
        out.number(
            f"venue_{venue}_adl",
            mean_ci(cell(summary, "backstop_actions.adl", point=venue), count),
        )
        out.number(
            f"venue_{venue}_mm_share",
            mean_ci(cell(summary, f"{MONEY}.received_market_maker", point=venue), percent),
        )


CAP = "exchange.max_leverage"
CAP_METRICS = measures(
    "liquidations.count",
    "liquidations.notional_usdt",
    "liquidated_share_of_oi.per_day",
    "drawdown.crash",
    "accounts_out.wiped_out",
    "accounts_out.stayed_out",
    "population_pnl.retail",
    "insurance_fund.min",
)


def leverage_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """Liquidations, losses and the market by leverage cap, and the paired differences."""
    summary = summary_of(sweep, store)
    caps = [str(c) for c in sweep.data.grid[CAP]]
    top, low = caps[0], caps[-1]
    response_panels(
        summary,
        list(CAP_METRICS),
        CAP,
        figures,
        "leverage_caps",
        xlabel="leverage cap (x)",
        labels=labels(CAP_METRICS),
        from_zero=("insurance_fund.min", "accounts_out.wiped_out", "liquidations.count"),
    )
    rows = []
    for metric, (label, fmt) in CAP_METRICS.items():
        row = {"Measure": label}
        for c in caps:
            row[f"{float(c):g}x"] = fmt(cell(summary, metric, **{CAP: c})["mean"])
        rows.append(row)
    out.table("leverage_caps", pd.DataFrame(rows))
    out.number("caps_runs", count(sweep.data.replications))
    out.number("caps_list", ", ".join(f"{float(c):g}x" for c in caps))
    out.number("cap_top", f"{float(top):g}x")
    out.number("cap_low", f"{float(low):g}x")
    for c in caps:
        tag = f"{float(c):g}"
        for metric, (_, fmt) in CAP_METRICS.items():
            name = metric.replace(".", "_")
            row = cell(summary, metric, **{CAP: c})
            out.number(f"cap{tag}_{name}", mean_ci(row, fmt))
            if c != top:
                out.number(f"cap{tag}_{name}_diff", diff_ci(row, fmt))
    # The feedback channel: how much the price path itself changed (the market), beside how
    # many traders the cap kept out (composition).
    crash = cell(summary, "drawdown.crash", **{CAP: low})
    out.number(
        "cap_low_crash_diff_bps",
        f"{bps(crash['diff_mean'])} [{interval(crash['diff_low'], crash['diff_high'], bps)}]",
    )
    narrowing = interval_narrowing(summary).set_index("metric")["unpaired_over_paired_width"]
    out.number("crn_median", f"{narrowing.median():.2g}x")
    for metric in ("drawdown.crash", "population_pnl.retail", "liquidations.count"):
        value = narrowing.get(metric, float("nan"))
        out.number(f"crn_{metric.replace('.', '_')}", "n/a" if value != value else f"{value:.2g}x")


FUND = "exchange.insurance_fund_seed"
DEFICIT_PARTS = {
    "deficit_paid_by.insurance_payout": "insurance fund",
    "deficit_paid_by.adl_haircut": "ADL haircut (memo)",
    "deficit_paid_by.socialized_loss": "socialized loss",
    "deficit_paid_by.backstop_vault": "backstop vault",
    "deficit_paid_by.exchange_absorbs": "exchange",
    "deficit_paid_by.trader_debt": "trader debt",
}


def fund_label(value: object) -> str:
    """``1000000.0`` -> ``1M``: a fund size as a table or axis label."""
    v = float(value)
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


def backstops_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """Who bears a deficit under each backstop order and fund size."""
    summary = summary_of(sweep, store)
    points = [p.name for p in sweep.data.points]
    funds = [str(f) for f in sweep.data.grid[FUND]]
    rows = []
    for point in points:
        for fund in funds:
            where = {POINT: point, FUND: fund}
            row = {"Backstops": point.replace("_", " + "), "Fund (USDT)": fund_label(fund)}
            row["Deficit (USDT)"] = mean_ci(cell(summary, "deficit_paid_by.total", **where), usdt)
            for metric, label in DEFICIT_PARTS.items():
                row[label] = usdt(cell(summary, metric, **where)["mean"])
            rows.append(row)
    out.table("backstops", pd.DataFrame(rows))
    out.number("backstops_runs", count(sweep.data.replications))
    out.number("backstops_points", count(len(points)))
    out.number("backstops_funds", ", ".join(fund_label(f) for f in funds))
    for point in points:
        for fund in (funds[0], funds[-1]):
            tag = f"{point}_{fund_label(fund)}"
            where = {POINT: point, FUND: fund}
            out.number(
                f"deficit_{tag}", mean_ci(cell(summary, "deficit_paid_by.total", **where), usdt)
            )
            for metric in DEFICIT_PARTS:
                part = metric.split(".", 1)[1]
                out.number(f"{part}_{tag}", mean_ci(cell(summary, metric, **where), usdt))
        out.number(
            f"liq_{point}",
            mean_ci(cell(summary, "liquidations.count", **{POINT: point, FUND: funds[-1]}), count),
        )
    full_cost_table(out, summary, points, funds)
    shown = summary.copy()
    shown[FUND] = shown[FUND].map(fund_label)
    order = {fund_label(f): i for i, f in enumerate(funds)}
    shown = shown.sort_values(FUND, key=lambda s: s.map(order), kind="stable")
    response_panels(
        shown,
        ["deficit_paid_by.total", *DEFICIT_PARTS],
        FUND,
        figures,
        "backstops",
        by=POINT,
        xlabel="insurance fund at the start (USDT)",
        labels={"deficit_paid_by.total": "deficit (USDT)"}
        | {m: f"{label} (USDT)" for m, label in DEFICIT_PARTS.items()},
    )


COST = "backstop_cost"
WALK_RECEIVERS = ("market_maker", "fundamental", "arbitrageur", "retail", "whale")


def full_cost_table(
    out: Inserts, summary: pd.DataFrame, points: list[str], funds: list[str]
) -> None:
    """The full cost of the backstops (:func:`abm.experiments.metrics.backstop_cost`) by order
    and fund size, and the book walk with who received it."""
    rows = []
    for point in points:
        for fund in (funds[0], funds[-1]):
            where = {POINT: point, FUND: fund}
            tag = f"{point}_{fund_label(fund)}"
            walk = cell(summary, f"{COST}.book_walk", **where)
            row = {
                "Backstops": point.replace("_", " + "),
                "Fund (USDT)": fund_label(fund),
                "Full cost (USDT)": mean_ci(cell(summary, f"{COST}.total", **where), usdt),
                "Vault's loss": usdt(cell(summary, f"{COST}.vault_loss", **where)["mean"]),
                "Book walk (USDT)": mean_ci(walk, usdt),
            }
            for party in WALK_RECEIVERS:
                amount = cell(summary, f"{COST}.book_walk_to_{party}", **where)["mean"]
                row[f"to {PARTY[party]}"] = percent(
                    amount / walk["mean"] if walk["mean"] else float("nan")
                )
            rows.append(row)
            out.number(f"full_cost_{tag}", mean_ci(cell(summary, f"{COST}.total", **where), usdt))
            out.number(
                f"vault_loss_{tag}", mean_ci(cell(summary, f"{COST}.vault_loss", **where), usdt)
            )
            out.number(f"book_walk_{tag}", mean_ci(walk, usdt))
            maker = cell(summary, f"{COST}.book_walk_to_market_maker", **where)["mean"]
            out.number(
                f"book_walk_mm_{tag}",
                percent(maker / walk["mean"] if walk["mean"] else float("nan")),
            )
    out.table("backstop_cost", pd.DataFrame(rows))


STOP = "retail.stop_loss_share"
STOP_METRICS = measures(
    "liquidations.count",
    "liquidations.notional_usdt",
    "drawdown.crash",
    "population_pnl.retail",
)


def stop_loss_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """Liquidations and retail outcomes by stop-loss adoption and trigger."""
    summary = summary_of(sweep, store)
    shares = [str(v) for v in sweep.data.grid[STOP]]
    response_panels(
        summary,
        list(STOP_METRICS),
        STOP,
        figures,
        "stop_loss",
        by=POINT,
        xlabel="share of retail traders using stops",
        labels=labels(STOP_METRICS),
    )
    out.number("stop_runs", count(sweep.data.replications))
    out.number("stop_top", percent(float(shares[-1]), 0))
    for trigger in (p.name for p in sweep.data.points):
        for share in (shares[0], shares[-1]):
            where = {POINT: trigger, STOP: share}
            tag = f"{trigger}_{percent(float(share), 0).rstrip('%')}"
            for metric, (_, fmt) in STOP_METRICS.items():
                row = cell(summary, metric, **where)
                name = metric.replace(".", "_")
                out.number(f"stop_{tag}_{name}", mean_ci(row, fmt))
                out.number(f"stop_{tag}_{name}_diff", diff_ci(row, fmt))


MARK_METRICS = measures(
    "liquidations.count",
    "liquidations.notional_usdt",
    "drawdown.crash",
    "drawdown.max",
    "population_pnl.retail",
    "insurance_fund.change",
)


def mark_price_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """Liquidations under each mark-price mode on the squeeze."""
    summary = summary_of(sweep, store)
    modes = [p.name for p in sweep.data.points]
    names = {m: m.replace("_", " ") for m in modes}
    out.table("mark_price", table_of(summary, MARK_METRICS, POINT, modes, "Measure", names))
    out.number("mark_runs", count(sweep.data.replications))
    for mode in modes:
        row = cell(summary, "liquidations.count", point=mode)
        out.number(f"mark_{mode}_count", mean_ci(row, count))
        out.number(f"mark_{mode}_count_diff", diff_ci(row, count))


VENUE_RULE_MEASURES = {
    "liquidations.count": ("Liquidations", count),
    "drawdown.crash": ("Crash drawdown", percent),
    "backstop_cost.total": ("Backstop cost (USDT)", usdt),
}
"""What the venues-by-rule table splits: each a paired difference to Binance's rules."""
RULE_NAMES = {
    "cap": "leverage cap",
    "tiers": "tiers and maintenance margin",
    "mark": "mark price",
    "funding": "funding",
    "liquidation": "liquidation order",
    "backstops": "backstops",
    "fees": "fees",
    "instrument": "tick, lot and price filter",
}


def paired(values: pd.Series, fmt) -> str:
    """Mean and 95% t-interval of per-replication values (paired differences)."""
    mean, low, high = mean_interval(values.dropna().to_numpy(float))
    return f"{fmt(mean)} [{interval(low, high, fmt)}]"


def venue_rules_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """Each venue's difference to Binance's rules split by rule group: per group, the paired
    difference of taking that group alone from the venue; the whole preset's difference; the
    sum of the single groups' and what is left (the rules acting together)."""
    catalog = pd.read_parquet(store / "catalog.parquet")
    done = catalog[catalog["status"] == COMPLETE]
    reference = sweep.data.reference[POINT]
    names = [p.name for p in sweep.data.points]
    venues = [n for n in names if n != reference and "_" not in n]
    out.number("venue_rules_runs", count(sweep.data.replications))
    rows = []
    for venue in venues:
        groups = [n for n in names if n.startswith(f"{venue}_")]
        diffs = {}
        for metric in VENUE_RULE_MEASURES:
            by = done.pivot_table(index="replication", columns=POINT, values=metric)
            diffs[metric] = {n: by[n] - by[reference] for n in [*groups, venue] if n in by.columns}
        for name in [*groups, venue, "sum", "rest"]:
            label = {
                venue: "whole preset",
                "sum": "sum of the single rules",
                "rest": "rules together (whole - sum)",
            }.get(name, RULE_NAMES.get(name.removeprefix(f"{venue}_"), name))
            row = {"Venue": venue, "Rules from the venue": label}
            for metric, (title, fmt) in VENUE_RULE_MEASURES.items():
                single = [diffs[metric][g] for g in groups if g in diffs[metric]]
                total = sum(single) if single else pd.Series(dtype=float)
                series = {"sum": total, "rest": diffs[metric].get(venue, total) - total}.get(
                    name, diffs[metric].get(name, pd.Series(dtype=float))
                )
                row[title] = paired(series, fmt)
                keys = {venue: "whole", f"{venue}_cap": "cap", f"{venue}_tiers": "tiers"}
                keys["rest"] = "rest"
                if metric == "liquidations.count" and name in keys:
                    key = keys[name]
                    out.number(f"vr_{venue}_{key}", paired(series, count))
            rows.append(row)
    out.table("venue_rules", pd.DataFrame(rows))


SENSITIVITY_OUTPUTS = {
    "liquidated_oi_125": "liquidated / OI, 125x",
    "liquidated_oi_20": "liquidated / OI, 20x",
    "cap_effect": "cap effect on liquidated / OI",
    "excess_drawdown_125": "excess drawdown, 125x",
    "excess_drawdown_cap_effect": "cap effect on excess drawdown",
    "fundamental_share_125": "fundamental traders' share",
    "market_maker_share_125": "market makers' share",
    "backstop_cost_125": "backstop cost, 125x",
}


def parameter_label(key: str) -> str:
    """``retail.margin_fraction.high`` -> ``retail margin fraction high``."""
    return key.replace("world.shocks.0.", "shock ").replace(".", " ").replace("_", " ")


def sensitivity_study(out: Inserts, sweep: Sweep, store: Path, figures: Path) -> None:
    """Morris screening: each parameter's mean absolute elementary effect over the output's
    spread across the sample (mu*/sd), as a grid, a table with intervals, and per output the
    parameter that matters most."""
    spec = sweep.data.sample
    table = sensitivity_indices(spec, pd.read_parquet(store / "catalog.parquet"))
    analysed = table.dropna(subset=["parameter"]) if "parameter" in table else table.iloc[0:0]
    parameters = {key: parameter_label(key) for key in spec.parameters}
    out.number("morris_runs", count(len(sweep.runs)))
    out.number("morris_rows", count(len(sweep.data.points)))
    out.number("morris_trajectories", count(spec.size))
    out.number("morris_parameters", count(len(spec.parameters)))
    caps = sweep.data.grid.get("exchange.max_leverage", [])
    out.number("morris_caps", " and ".join(f"{cap:g}x" for cap in caps))
    sensitivity_heatmap(
        analysed,
        figures,
        "morris",
        value="mu_star_norm",
        outputs=SENSITIVITY_OUTPUTS,
        parameters=parameters,
        label="mu* / sd of the output",
    )
    rows = []
    for key, label in parameters.items():
        row = {
            "Parameter": label,
            "Range": " to ".join(f"{v:g}" for v in spec.parameters[key].range),
        }
        for output in ("liquidated_oi_125", "cap_effect", "excess_drawdown_125"):
            cells = analysed[(analysed["output"] == output) & (analysed["parameter"] == key)]
            row[SENSITIVITY_OUTPUTS[output]] = (
                ratio(cells["mu_star_norm"].iloc[0]) if len(cells) else "n/a"
            )
        rows.append(row)
    out.table("morris", pd.DataFrame(rows))
    catalog = pd.read_parquet(store / "catalog.parquet")
    for output in ("cap_effect", "excess_drawdown_cap_effect"):
        values = output_values(spec, output, catalog)
        finite = values[np.isfinite(values)]
        share = float((finite > 0).mean()) if len(finite) else float("nan")
        out.number(f"morris_{output}_positive", percent(share, 0))
        low, high = (finite.min(), finite.max()) if len(finite) else (np.nan, np.nan)
        fmt = percent if output == "cap_effect" else signed_bps
        out.number(f"morris_{output}_range", f"{fmt(low)} to {fmt(high)}")
    notes = table.dropna(subset=["note"]) if "note" in table else table.iloc[0:0]
    for output in ("fundamental_share_125", "backstop_cost_125"):
        noted = notes[notes["output"] == output]
        rows_of = analysed[analysed["output"] == output].sort_values(
            "mu_star_norm", ascending=False
        )
        left = int(rows_of["left_out"].max()) if len(rows_of) else 0
        out.number(
            f"morris_sentence_{output}",
            f"is not screened ({noted['note'].iloc[0]}: a share of nothing)"
            if len(noted)
            else f"moves most with the {parameter_label(rows_of['parameter'].iloc[0])}"
            + (
                f" ({left} of {spec.size} trajectories left out: no liquidation to share)"
                if left
                else ""
            )
            if len(rows_of)
            else "is not screened",
        )
    for output in SENSITIVITY_OUTPUTS:
        rows_of = analysed[analysed["output"] == output].sort_values(
            "mu_star_norm", ascending=False
        )
        top = parameter_label(rows_of["parameter"].iloc[0]) if len(rows_of) else "n/a"
        out.number(f"morris_top_{output}", top)
        second = parameter_label(rows_of["parameter"].iloc[1]) if len(rows_of) > 1 else "n/a"
        out.number(f"morris_second_{output}", second)


def signed_bps(value: float) -> str:
    """A share as signed basis points: ``+19.4``."""
    return "n/a" if pd.isna(value) else f"{value * 1e4:+.1f}"


def feedback_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """How much of a crash forced orders make: the mark's excess drawdown over the information
    with liquidations in the book and closed off it (the knockout), paired, by shock and cap.
    A shock and cap the catalogue cannot answer (no crash window) reads n/a and is noted in
    :data:`MISSING`."""
    catalog = pd.read_parquet(store / "catalog.parquet")
    table = feedback_table(catalog, [POINT, CAP])
    found = {(r[POINT], float(r[CAP])): r for r in table.to_dict("records")}
    out.number("feedback_runs", count(sweep.data.replications))
    nothing = dict.fromkeys(("book", "off_book", "feedback", "feedback_low", "feedback_high"))
    rows = []
    for point in (p.name for p in sweep.data.points):
        for cap in sweep.data.grid[CAP]:
            row = found.get((point, float(cap)))
            if row is None:
                MISSING.append(f"feedback at {point}, cap {cap}")
                row = {**nothing, "feedback_share": float("nan")}
            row = {k: float("nan") if v is None else v for k, v in row.items()}
            tag = f"{point}_{cap:g}"
            interval_bps = (
                f"{signed_bps(row['feedback_low'])} to {signed_bps(row['feedback_high'])}"
            )
            rows.append(
                {
                    "Shock": point.removeprefix("shock_").replace("_", ".").replace("pct", "%"),
                    "Cap": f"{cap:g}x",
                    "Excess fall, book (bps)": signed_bps(row["book"]),
                    "Off the book (bps)": signed_bps(row["off_book"]),
                    "Feedback (bps)": f"{signed_bps(row['feedback'])} [{interval_bps}]",
                    "Share of the fall": percent(row["feedback_share"], 0),
                }
            )
            out.number(f"feedback_{tag}", signed_bps(row["feedback"]))
            out.number(f"feedback_{tag}_ci", interval_bps)
            out.number(f"feedback_{tag}_book", signed_bps(row["book"]))
            out.number(f"feedback_{tag}_share", percent(row["feedback_share"], 0))
    out.table("feedback", pd.DataFrame(rows))
    effect = cap_effect_through_price(catalog, POINT, 125)
    effects = {(r[POINT], float(r[CAP])): r for r in effect.to_dict("records")}
    for point in (p.name for p in sweep.data.points):
        for cap in sweep.data.grid[CAP]:
            if cap == 125:
                continue
            row = effects.get((point, float(cap)))
            tag = f"{point}_{cap:g}"
            if row is None:
                MISSING.append(f"cap effect at {point}, cap {cap}")
                out.number(f"cap_effect_{tag}_total", "n/a")
                out.number(f"cap_effect_{tag}_through_price", "n/a")
                continue
            out.number(
                f"cap_effect_{tag}_total",
                f"{signed_bps(row['total'])} [{signed_bps(row['total_low'])} to "
                f"{signed_bps(row['total_high'])}]",
            )
            out.number(
                f"cap_effect_{tag}_through_price",
                f"{signed_bps(row['through_price'])} [{signed_bps(row['low'])} to "
                f"{signed_bps(row['high'])}]",
            )


def regime_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """Where leverage deepens crashes: cap 125 against cap 5 across retail capital and
    liquidity, against depth within 1% over open interest."""
    table = regime_table(pd.read_parquet(store / "catalog.parquet"), 125, 5)
    out.number("regime_runs", count(sweep.data.replications))
    table = table.sort_values("depth_1pct_per_oi", ascending=False)
    rows = [
        {
            "Point": str(r.point).replace("_x", " x").replace("_", "."),
            "Depth within 1% / OI": percent(r.depth_1pct_per_oi, 1),
            "Deeper at 125x (bps)": f"{signed_bps(r.deeper)} "
            f"[{signed_bps(r.deeper_low)} to {signed_bps(r.deeper_high)}]",
            "Liquidated / OI at 125x": percent(r.liquidated_high_cap, 1),
        }
        for r in table.itertuples(index=False)
    ]
    out.table("regime", pd.DataFrame(rows))
    found = {r.point: r for r in table.itertuples(index=False)}
    for point in (p.name for p in sweep.data.points):
        r = found.get(point)
        if r is None:
            MISSING.append(f"regime at {point}")
        out.number(f"regime_{point}", "n/a" if r is None else signed_bps(r.deeper))
        out.number(f"regime_{point}_depth", "n/a" if r is None else percent(r.depth_1pct_per_oi, 1))


VARIANCE_METRICS = {
    "liquidations.count": "liquidations",
    "liquidated_share_of_oi.per_day": "liquidated share of OI a day",
    "drawdown.crash": "crash drawdown of the mark",
    "drawdown.crash_excess": "excess drawdown over the information",
    "where_money_goes.received_fundamental": "fundamental traders' share",
    "population_pnl.retail": "retail PnL",
}


def variance_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """How much of each headline metric's spread is the information path's, the agents' and
    the two together (:func:`abm.experiments.variance.variance_table`)."""
    table = variance_table(pd.read_parquet(store / "catalog.parquet")).set_index("metric")
    paths = sweep.data.grid["world.seed"]
    out.number("variance_paths", count(len(paths)))
    out.number("variance_seeds", count(sweep.data.replications))
    rows = []
    for metric, label in VARIANCE_METRICS.items():
        row = table.loc[metric] if metric in table.index else None
        if row is None:
            MISSING.append(f"variance of {metric}")
        shares = {
            part: percent(row[f"{part}_share"], 0) if row is not None else "n/a"
            for part in ("path", "agents", "interaction")
        }
        rows.append(
            {
                "Measure": label,
                "Information path": shares["path"],
                "Agents": shares["agents"],
                "Together": shares["interaction"],
            }
        )
        key = safe(metric.split(".", 1)[1] if metric.startswith("drawdown") else metric)
        out.number(f"variance_path_{key}", shares["path"])
        out.number(f"variance_agents_{key}", shares["agents"])
    out.table("variance", pd.DataFrame(rows))


CRASH_REFERENCE = {POINT: "fund_adl", "exchange.insurance_fund_seed": "1000000.0"}
"""The backstop study's point whose flash crash the crash comparison shows (Binance's order,
the largest fund)."""


def crash_money_study(
    out: Inserts, backstops: tuple[Sweep, Path], event: tuple[Sweep, Path]
) -> None:
    """Where the liquidated money went in the flash crash (the backstop study's reference
    point) and in the 19 May 2021 replay: receivers' shares, and the full backstop cost with
    the book walk, side by side."""
    crash = summary_of(*backstops)
    replay = summary_of(*event)
    where = {k: str(v) for k, v in CRASH_REFERENCE.items()}
    out.number("event_runs", count(event[0].data.replications))
    out.number("event_name", "19 May 2021")
    parties = sorted(
        set(present(crash, f"{MONEY}.received_")) | set(present(replay, f"{MONEY}.received_"))
    )
    rows = []
    for metric in parties:
        rows.append(
            {
                "Receiver": party_label(metric),
                "Flash crash": mean_ci(cell(crash, metric, **where), percent),
                "Replay of 19 May 2021": mean_ci(cell(replay, metric), percent),
            }
        )
    for metric, label, fmt in (
        ("liquidated_loss_by_population.all", "liquidated total (USDT)", usdt),
        ("backstop_cost.total", "full backstop cost (USDT)", usdt),
        ("backstop_cost.book_walk", "book walk against the mark (USDT)", usdt),
    ):
        rows.append(
            {
                "Receiver": label,
                "Flash crash": mean_ci(cell(crash, metric, **where), fmt),
                "Replay of 19 May 2021": mean_ci(cell(replay, metric), fmt),
            }
        )
    out.table("crash_money", pd.DataFrame(rows))
    for party in ("fundamental", "market_maker", "retail", "insurance_fund"):
        out.number(
            f"event_received_{party}", mean_ci(cell(replay, f"{MONEY}.received_{party}"), percent)
        )
        out.number(
            f"crash_received_{party}",
            mean_ci(cell(crash, f"{MONEY}.received_{party}", **where), percent),
        )
    out.number("event_total_usdt", mean_ci(cell(replay, "liquidated_loss_by_population.all"), usdt))
    out.number("event_total_oi", mean_ci(cell(replay, "liquidated_share_of_oi.total"), percent))
    fund = event[0].runs[0].config["exchange"]["insurance_fund_seed"]
    cost = cell(replay, "backstop_cost.total")
    out.number("event_cost_of_fund", percent(cost["mean"] / fund if fund else float("nan")))
    out.number("event_full_cost", mean_ci(cell(replay, "backstop_cost.total"), usdt))
    out.number("event_book_walk", mean_ci(cell(replay, "backstop_cost.book_walk"), usdt))


SOBOL_OUTPUTS = ("liquidated_oi_125", "cap_effect", "excess_drawdown_125")


def sobol_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """Sobol indices of the parameters the screening ranked first: first-order (S1) and total
    (ST) with their 95% intervals for the headline outputs."""
    spec = sweep.data.sample
    table = sensitivity_indices(spec, pd.read_parquet(store / "catalog.parquet"))
    analysed = table.dropna(subset=["parameter"]) if "parameter" in table else table.iloc[0:0]
    out.number("sobol_runs", count(len(sweep.runs)))
    out.number("sobol_base", count(spec.size))
    out.number("sobol_parameters", ", ".join(parameter_label(k) for k in spec.parameters))
    rows = []
    for key in spec.parameters:
        row = {"Parameter": parameter_label(key)}
        for output in SOBOL_OUTPUTS:
            cells = analysed[(analysed["output"] == output) & (analysed["parameter"] == key)]
            if len(cells):
                c = cells.iloc[0]
                row[f"{SENSITIVITY_OUTPUTS[output]}: S1"] = f"{c.S1:.2f} ± {c.S1_conf:.2f}"
                row[f"{SENSITIVITY_OUTPUTS[output]}: ST"] = f"{c.ST:.2f} ± {c.ST_conf:.2f}"
            else:
                row[f"{SENSITIVITY_OUTPUTS[output]}: S1"] = row[
                    f"{SENSITIVITY_OUTPUTS[output]}: ST"
                ] = "n/a"
        rows.append(row)
    out.table("sobol", pd.DataFrame(rows))
    for output in SOBOL_OUTPUTS:
        rows_of = analysed[analysed["output"] == output].sort_values("ST", ascending=False)
        if len(rows_of):
            top = rows_of.iloc[0]
            out.number(f"sobol_top_{output}", parameter_label(top.parameter))
            out.number(f"sobol_top_{output}_st", f"{top.ST:.2f} ± {top.ST_conf:.2f}")
        else:
            MISSING.append(f"Sobol indices of {output}")
            out.number(f"sobol_top_{output}", "n/a")
            out.number(f"sobol_top_{output}_st", "n/a")


WINDOW = "liquidation_window_pnl"


def conventions_study(out: Inserts, sweep: Sweep, store: Path) -> None:
    """Receivers' shares of the liquidated total under the three link conventions, with the
    paired difference to fifo, and each population's PnL over the liquidation windows (the
    convention-free check) as a share of the liquidated total."""
    summary = summary_of(sweep, store, window_shares)
    conventions = [p.name for p in sweep.data.points]
    out.number("conventions_runs", count(sweep.data.replications))
    rows = []
    for metric in present(summary, f"{MONEY}.received_"):
        row = {"Receiver": party_label(metric)}
        for convention in conventions:
            value = cell(summary, metric, point=convention)
            text = mean_ci(value, percent)
            if convention != sweep.data.reference.get(POINT):
                text += f"; {diff_ci(value, percent)}"
            row[convention.replace("_", " ")] = text
        rows.append(row)
    out.table("conventions_received", pd.DataFrame(rows))
    for convention in conventions:
        total = cell(summary, "liquidated_loss_by_population.all", point=convention)
        out.number(f"conventions_{convention}_total", mean_ci(total, usdt))
        out.number(f"conventions_{convention}_total_diff", diff_ci(total, usdt))
        crash = cell(summary, "drawdown.crash", point=convention)
        out.number(f"conventions_{convention}_drawdown_diff", diff_ci(crash, percent))
        for party in ("fundamental", "market_maker", "retail", "arbitrageur"):
            share = cell(summary, f"{MONEY}.received_{party}", point=convention)
            out.number(f"conventions_{convention}_{party}", mean_ci(share, percent))
            out.number(f"conventions_{convention}_{party}_diff", diff_ci(share, percent))
    reference = sweep.data.reference.get(POINT, conventions[0])
    windows = []
    for metric in present(summary, "window_share.", floor=-float("inf")):
        party = metric.split(".", 1)[1]
        windows.append(
            {
                "Population": PARTY.get(party, party.replace("_", " ")),
                "PnL over the windows / liquidated total": mean_ci(
                    cell(summary, metric, point=reference), ratio
                ),
            }
        )
    out.table("conventions_windows", pd.DataFrame(windows))
    for party in ("fundamental", "market_maker", "retail", "arbitrageur"):
        share = cell(summary, f"window_share.{party}", point=reference)
        out.number(f"window_{party}", mean_ci(share, ratio))


def window_shares(catalog: pd.DataFrame) -> pd.DataFrame:
    """Columns ``window_share.P``: population P's PnL over the liquidation windows over the
    run's liquidated total (NaN where nothing was liquidated); also negative, for losers."""
    total = catalog.get("liquidated_loss_by_population.all")
    if total is None:
        return catalog
    shares = {}
    for column in [c for c in catalog.columns if c.startswith(f"{WINDOW}.")]:
        party = column.removeprefix(f"{WINDOW}.")
        if party != "windows":
            shares[f"window_share.{party}"] = (catalog[column] / total).where(total > 0)
    return pd.concat([catalog, pd.DataFrame(shares, index=catalog.index)], axis=1)


# ------------------------------------------------------------------------------ the PDF


TYPST_SKIP = re.compile(
    r"""//[^\n]*                      # a comment
    | /\*.*?\*/                       # a block comment
    | "(?:[^"\\]|\\.)*"              # a string (file names, keys)
    | \#[A-Za-z_][\w.-]*             # a code expression: #n.cap125_liquidations_count
    | \#\([A-Za-z_][\w.]*\)          # the same in parentheses, before a semicolon: #(n.key);
    | @[\w:.-]+                      # a reference or citation: @sec-model, @cont2001empirical
    | <[\w:.-]+>                     # a label: <tab-validation>
    """,
    re.VERBOSE | re.DOTALL,
)


def typed_numbers(text: str) -> list[str]:
    """The digits a manuscript source types by hand: what is left once comments, strings,
    code expressions (``#n.key``), references, citations and labels are taken out.

    >>> typed_numbers('Liquidations fall #n.drop_pct at @sec-model // from 125x')
    []
    >>> typed_numbers('#(n.cap20_count); a 20% cap <fig-a> and "2x"')
    ['20']
    """
    return re.findall(r"\d+", TYPST_SKIP.sub(" ", text))


def manuscript_sources() -> list[Path]:
    """The sources the no-typed-numbers rule covers: the paper and its sections (the layout,
    ``template.typ``, may hold sizes)."""
    return [PAPER / "paper.typ", *sorted((PAPER / "sections").glob("*.typ"))]


def check_sources() -> None:
    """Refuse a manuscript that types a number by hand, naming the file and the number."""
    found = []
    for path in manuscript_sources():
        for number in typed_numbers(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}: {number}")
    if found:
        raise SystemExit(
            "numbers typed by hand in the manuscript (write them to numbers.json):\n  "
            + "\n  ".join(found)
        )


def compile_pdf(build: Path) -> Path:
    """Typeset ``paper.typ`` with the inserts in ``build`` into ``build/paper.pdf``. Typst reads
    files only under its root: the root is the folder holding both the manuscript and ``build``,
    and the template finds the inserts at ``build``'s path from there."""
    import os

    import typst

    build = build.resolve()
    root = Path(os.path.commonpath([PAPER.resolve(), build]))
    pdf = build / "paper.pdf"
    data = typst.compile(
        str(PAPER / "paper.typ"),
        root=str(root),
        sys_inputs={"build": build.relative_to(root).as_posix()},
        timestamp=int(TIMESTAMP.timestamp()),
    )
    write_atomic(pdf, lambda tmp: Path(tmp).write_bytes(data))
    return pdf


def build_paper(smoke: bool, workers: int, out: Path | None = None) -> Path:
    """Run the studies, write the inserts and figures, compile the PDF into ``out`` (default:
    ``paper/build``, or ``paper/build-smoke`` for the smoke build); returns the PDF's path."""
    check_sources()
    build = out if out is not None else PAPER / ("build-smoke" if smoke else "build")
    studies = run_studies(smoke, build, workers)
    out = Inserts(build)
    figures = build / "figures"
    model_numbers(out, studies["where_money_goes"][0])
    out.number("seed_roots", ", ".join(sorted({str(s.data.seed) for s, _ in studies.values()})))
    where_money_goes_study(out, *studies["where_money_goes"], figures)
    feedback_study(out, *studies["feedback"])
    regime_study(out, *studies["regime"])
    venues_study(out, *studies["venues"], figures)
    leverage_study(out, *studies["leverage_caps"], figures)
    backstops_study(out, *studies["backstops"], figures)
    stop_loss_study(out, *studies["stop_loss"], figures)
    mark_price_study(out, *studies["mark_price"], figures)
    conventions_study(out, *studies["link_matching"])
    venue_rules_study(out, *studies["venue_rules"])
    sensitivity_study(out, *studies["sensitivity_morris"], figures)
    sobol_study(out, *studies["sensitivity_sobol"])
    variance_study(out, *studies["variance"])
    crash_money_study(out, studies["backstops"], studies["event_money"])
    validation_study(out, *studies["validation"])
    out.write()
    if MISSING and not smoke:
        raise SystemExit("the text asks for numbers the studies lack:\n  " + "\n  ".join(MISSING))
    return compile_pdf(build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny studies, paper/build-smoke")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument(
        "--out", type=Path, default=None, help="the build folder (default: paper/build[-smoke])"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    pdf = build_paper(args.smoke, args.workers, args.out)
    print(f"{pdf} in {time.monotonic() - start:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
