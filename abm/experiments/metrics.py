"""A run's metrics: one function per metric over the run's tables, each returning a number or
a flat mapping of numbers, registered by name so that a sweep's file can list the ones it keeps
and users can add their own (:func:`register_metric`).

A metric reads a :class:`RunTables`: the run's resolved config, its ``summary.json`` data, the
per-tick series and the liquidation, account, fill and transfer tables, built in memory by the
run that just ended or read back from a run folder (:meth:`RunTables.from_folder`). Its value
flattens to ``name`` (a number) or ``name.key`` (a mapping); NaN where a metric has no value
(a share of nothing liquidated).

>>> @register_metric("retail_count")
... def retail_count(run: RunTables) -> float:
...     return float((run.accounts["population"] == "retail").sum())
>>> "retail_count" in METRICS
True
>>> del METRICS["retail_count"]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from abm.analysis.cascades import generation_summary
from abm.analysis.economics import book_walk, liquidation_facts
from abm.analysis.economics import liquidation_window_pnl as window_pnl
from abm.analysis.economics import population_pnl as economics_pnl
from abm.analysis.validation import series_facts
from abm.config import Shock
from abm.exchange.records import BACKSTOP_STEPS
from abm.flows import (
    attribute_liquidations,
    base_rates,
    exposure,
    read_run,
    run_data,
    value_per_tick_lot,
)
from abm.flows.money import where_money_goes
from abm.flows.traits import trait_labels

MetricValue = float | Mapping[str, float]
Metric = Callable[["RunTables"], MetricValue]

METRICS: dict[str, Metric] = {}
"""Every registered metric by name, in registration order (a sweep keeps all by default)."""

ABSENT: dict[str, float] = {}
"""By metric name: the value of a key its mapping left out in one run that another run has (a
party that received nothing, a band without traders: 0 unless registered otherwise). A run
whose mapping is empty has NaN for every key (the metric does not apply: shares of nothing)."""


Bounds = tuple[float, float]
BOUNDS: dict[str, Bounds | dict[str, Bounds]] = {}
"""By metric name: the range its values lie in (counts and amounts from 0, shares 0 to 1), for
the whole metric or by key; a summary's interval never leaves it (:func:`metric_bounds`)."""
COUNT_RANGE: Bounds = (0.0, math.inf)
SHARE_RANGE: Bounds = (0.0, 1.0)


def register_metric(
    name: str, absent: float = 0.0, bounds: Bounds | dict[str, Bounds] | None = None
) -> Callable[[Metric], Metric]:
    """Register ``fn(run: RunTables) -> float | Mapping[str, float]`` as metric ``name``.
    ``absent`` is what a key the mapping leaves out means, where another run of the same
    sweep has it (0.0: nothing of that kind happened; ``math.nan`` for "not defined"); an empty
    mapping gives NaN for every key. ``bounds``: the range of the values, for every key or by
    key (``(0, inf)`` for counts, ``(0, 1)`` for shares; None: unbounded).

    ValueError for a name registered twice or one holding a dot (dots join a metric's keys)."""

    def register(fn: Metric) -> Metric:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered already")
        if "." in name or not name:
            raise ValueError(f"metric name {name!r}: a non-empty name without dots")
        METRICS[name] = fn
        ABSENT[name] = absent
        if bounds is not None:
            BOUNDS[name] = bounds
        return fn

    return register


def metric_bounds(column: str) -> Bounds | None:
    """The range of a summary column's values (``liquidations.count`` -> ``(0, inf)``), or None.

    >>> metric_bounds("drawdown.crash"), metric_bounds("population_pnl.retail")
    ((0.0, 1.0), None)
    """
    name, _, key = column.partition(".")
    bounds = BOUNDS.get(name)
    return bounds.get(key) if isinstance(bounds, dict) else bounds


@dataclass
class RunTables:
    """What a metric reads: a run's ``config`` and ``summary`` (dicts) and its tables as
    pandas DataFrames (``ticks``, ``liquidations``, ``accounts``, ``fills``, ``transfers``)."""

    config: dict
    summary: dict
    ticks: pd.DataFrame
    liquidations: pd.DataFrame
    accounts: pd.DataFrame
    fills: pd.DataFrame
    transfers: pd.DataFrame
    path: Path = field(default_factory=Path)

    @classmethod
    def from_tables(
        cls, config: dict, summary: dict, tables: Mapping[str, object], path: Path = Path()
    ) -> RunTables:
        """From the Arrow tables a run built (:mod:`abm.experiments.tables`), nothing read
        back from disk."""
        data = run_data(path, config, tables)
        ticks = tables["ticks"].to_pandas()
        return cls(
            config,
            summary,
            ticks,
            data.liquidations,
            data.accounts,
            data.fills,
            data.transfers,
            path,
        )

    @classmethod
    def from_folder(cls, run_dir: str | Path) -> RunTables:
        """From a complete run folder written with full outputs."""
        run_dir = Path(run_dir)
        data = read_run(run_dir)
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        ticks = pd.read_parquet(run_dir / "ticks.parquet")
        return cls(
            data.config,
            summary,
            ticks,
            data.liquidations,
            data.accounts,
            data.fills,
            data.transfers,
            run_dir,
        )

    @cached_property
    def attribution(self) -> pd.DataFrame:
        """The liquidation attribution (:func:`abm.flows.attribute_liquidations`)."""
        return attribute_liquidations(
            self.transfers,
            self.liquidations,
            self.fills,
            self.accounts,
            value_per_tick_lot=value_per_tick_lot(self.config),
        )

    @cached_property
    def exposure(self) -> pd.Series:
        """Each account's open notional held over the run, USDT-ticks
        (:func:`abm.flows.exposure`)."""
        end_tick = int(self.ticks["tick"].max()) if len(self.ticks) else 0
        return exposure(self.fills, end_tick)


def absent_value(column: str) -> float:
    """What ``column`` (``name.key``) holds for a run whose metric ``name`` did not return
    ``key``: the metric's registered ``absent`` value, NaN for a metric not registered here."""
    return ABSENT.get(column.split(".", 1)[0], math.nan)


def compute_metrics(run: RunTables, names: Iterable[str] | None = None) -> dict[str, float]:
    """The named metrics (all registered ones when ``names`` is None) of one run, flattened to
    ``name`` or ``name.key`` with float values. KeyError naming the unknown metric."""
    chosen = list(METRICS) if names is None else list(names)
    unknown = [n for n in chosen if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; registered: {', '.join(METRICS)}")
    flat: dict[str, float] = {}
    for name in chosen:
        value = METRICS[name](run)
        if isinstance(value, Mapping):
            flat.update({f"{name}.{key}": float(v) for key, v in value.items()})
        else:
            flat[name] = float(value)
    return flat


# ---------------------------------------------------------------------------- the metrics


@register_metric("liquidations", bounds=COUNT_RANGE)
def liquidations(run: RunTables) -> dict[str, float]:
    """Liquidations by side: ``count``, ``long``, ``short``, and notional at the mark in USDT
    (``notional_usdt``, ``notional_long_usdt``, ``notional_short_usdt``)."""
    liq = run.summary["liquidations"]
    return {
        "count": liq["count"],
        "long": liq["long"],
        "short": liq["short"],
        "notional_usdt": liq["notional"],
        "notional_long_usdt": liq["notional_long"],
        "notional_short_usdt": liq["notional_short"],
    }


@register_metric("liquidated_share_of_oi", bounds=COUNT_RANGE)
def liquidated_share_of_oi(run: RunTables) -> dict[str, float]:
    """Liquidated notional over the mean open interest's notional: over the whole run
    (``total``) and per day (``per_day``), as :func:`abm.analysis.economics.liquidation_facts`."""
    facts = liquidation_facts(run.ticks)
    per_day = facts["notional_per_oi_day"]
    days = float(run.ticks["elapsed_s"].iloc[-1]) / 86_400 if len(run.ticks) else math.nan
    return {"total": per_day * days, "per_day": per_day}


@register_metric("accounts_out", bounds=COUNT_RANGE)
def accounts_out(run: RunTables) -> dict[str, float]:
    """Retail accounts ``wiped_out`` at least once, those that ``departed`` for good after a
    wipe-out, and those that ``stayed_out`` above the leverage cap (no account)."""
    return {
        "wiped_out": run.summary["wiped_out_accounts"],
        "departed": run.summary.get("departed_accounts", math.nan),
        "stayed_out": run.summary["retail_stayed_out_above_cap"],
    }


@register_metric(
    "insurance_fund", bounds={"start": COUNT_RANGE, "min": COUNT_RANGE, "end": COUNT_RANGE}
)
def insurance_fund(run: RunTables) -> dict[str, float]:
    """The insurance fund's path in USDT: ``start``, ``min``, ``end``, and ``change``."""
    path = run.ticks["insurance_fund_usdt"].to_numpy(dtype=float)
    start = float(run.summary["insurance_fund"]["start"])
    end = float(run.summary["insurance_fund"]["end"])
    low = float(np.nanmin(path)) if len(path) else end
    return {"start": start, "min": min(low, start), "end": end, "change": end - start}


@register_metric("backstop_actions", bounds=COUNT_RANGE)
def backstop_actions(run: RunTables) -> dict[str, float]:
    """Backstop actions by kind over the run (every kind of the waterfall, zero when unused)."""
    actions = run.summary.get("backstop_actions", {})
    return {kind: float(actions.get(kind, 0)) for kind in BACKSTOP_STEPS}


@register_metric("population_pnl")
def population_pnl(run: RunTables) -> dict[str, float]:
    """Equity change over net deposits by population and system account, USDT, and the
    arbitrageurs' with their spot leg (off the exchange) added (``arbitrageur_with_spot_leg``:
    :func:`abm.analysis.economics.population_pnl`)."""
    return economics_pnl(run.summary)


def _trait_pnl(run: RunTables, trait: str) -> dict[str, float]:
    accounts = run.accounts[run.accounts["population"] == "retail"]
    if accounts.empty:
        return {}
    pnl = (
        accounts["final_equity_micro_usdt"].astype(float)
        - accounts["net_deposits_micro_usdt"].astype(float)
    ) / 1e6
    labels = trait_labels(accounts, trait)
    return {str(k): float(v) for k, v in pnl.groupby(labels.to_numpy(), sort=True).sum().items()}


@register_metric("retail_pnl_by_leverage")
def retail_pnl_by_leverage(run: RunTables) -> dict[str, float]:
    """Retail equity change over net deposits by effective-leverage band, USDT."""
    return _trait_pnl(run, "leverage_band")


@register_metric("retail_pnl_by_style")
def retail_pnl_by_style(run: RunTables) -> dict[str, float]:
    """Retail equity change over net deposits by trading style, USDT."""
    return _trait_pnl(run, "style")


@register_metric("retail_pnl_by_stop_habit")
def retail_pnl_by_stop_habit(run: RunTables) -> dict[str, float]:
    """Retail equity change over net deposits by stop-loss habit, USDT."""
    return _trait_pnl(run, "stop_habit")


@register_metric("where_money_goes")
def where_money_goes_shares(run: RunTables) -> dict[str, float]:
    """Shares of the liquidated total by who received it (``received_<party>``) and who paid
    it (``paid_<party>``), from the exact attribution; empty when nothing was liquidated."""
    table = where_money_goes(run.attribution)
    shares: dict[str, float] = {}
    for (section, party), share in (
        table.groupby(["section", "party"], sort=True)["share"].sum().items()
    ):
        shares[f"{section}_{party}"] = float(share)
    return shares


def _liquidated_loss(run: RunTables, trait: str | None) -> dict[str, float]:
    """The liquidated total (what the ``received`` side of the attribution sums to), USDT, in
    all (``all``) and by the liquidated account's population (``trait`` None) or trait group."""
    a = run.attribution
    received = a[(a["section"] == "received") & a["account"].notna()]
    if received.empty:
        return {"all": 0.0}
    if trait is None:
        groups = received["population"].astype(str).to_numpy()
    else:
        labels = trait_labels(run.accounts, trait).astype(str)
        groups = labels.reindex(received["account"].astype(int)).to_numpy()
    amounts = received["amount_micro_usdt"].astype(float) / 1e6
    by_group = amounts.groupby(groups, sort=True).sum()
    return {"all": float(amounts.sum())} | {str(k): float(v) for k, v in by_group.items()}


@register_metric("liquidated_loss_by_population")
def liquidated_loss_by_population(run: RunTables) -> dict[str, float]:
    """What liquidations took from the liquidated accounts (and their backstops), USDT, by the
    liquidated account's population."""
    return _liquidated_loss(run, None)


@register_metric("liquidated_loss_by_leverage")
def liquidated_loss_by_leverage(run: RunTables) -> dict[str, float]:
    """The liquidated total by the liquidated trader's effective-leverage band (other
    populations by population), USDT."""
    return _liquidated_loss(run, "leverage_band")


@register_metric("liquidated_loss_by_style")
def liquidated_loss_by_style(run: RunTables) -> dict[str, float]:
    """The liquidated total by the liquidated trader's style, USDT."""
    return _liquidated_loss(run, "style")


@register_metric("liquidated_loss_by_stop_habit")
def liquidated_loss_by_stop_habit(run: RunTables) -> dict[str, float]:
    """The liquidated total by the liquidated trader's stop-loss habit, USDT."""
    return _liquidated_loss(run, "stop_habit")


def _base_rates(run: RunTables, trait: str) -> dict[str, float]:
    """Per group (``trait``: retail by the trait, others by population): ``loss_share_<group>``
    of the liquidated total, ``trader_share_<group>`` and ``exposure_share_<group>``
    (:func:`abm.flows.base_rates`); empty when nothing was liquidated."""
    a = run.attribution
    if a[a["section"] == "received"].empty:
        return {}
    end_tick = int(run.ticks["tick"].max()) if len(run.ticks) else 0
    table = base_rates(a, run.accounts, run.fills, end_tick, trait, resamples=0, held=run.exposure)
    out: dict[str, float] = {}
    for row in table.itertuples(index=False):
        for part in ("loss_share", "trader_share", "exposure_share"):
            out[f"{part}_{row.group}"] = float(getattr(row, part))
    return out


@register_metric("base_rates_by_population", bounds=SHARE_RANGE)
def base_rates_by_population(run: RunTables) -> dict[str, float]:
    """Each population's share of the liquidated total, of the traders and of the exposure."""
    return _base_rates(run, "population")


@register_metric("base_rates_by_leverage", bounds=SHARE_RANGE)
def base_rates_by_leverage(run: RunTables) -> dict[str, float]:
    """The same by effective-leverage band (retail; other populations by population)."""
    return _base_rates(run, "leverage_band")


@register_metric("base_rates_by_style", bounds=SHARE_RANGE)
def base_rates_by_style(run: RunTables) -> dict[str, float]:
    """The same by retail trading style."""
    return _base_rates(run, "style")


@register_metric("base_rates_by_stop_habit", bounds=SHARE_RANGE)
def base_rates_by_stop_habit(run: RunTables) -> dict[str, float]:
    """The same by retail stop-loss habit."""
    return _base_rates(run, "stop_habit")


@register_metric("deficit_paid_by")
def deficit_paid_by(run: RunTables) -> dict[str, float]:
    """Who covered what liquidations could not take from the liquidated accounts' own
    collateral, USDT: ``insurance_payout``, ``backstop_vault``, ``socialized_loss``,
    ``exchange_absorbs``, ``trader_debt`` (the paid side of the attribution without
    ``own_collateral``), their sum ``total``, and ``adl_haircut`` (what deleveraged winners gave
    up against the mark: the cost of ADL, a memo beside the sum).

    ``trader_debt`` counts the debt liquidations left, event by event: an account that entered
    a liquidation below zero (cross margin, with the position's gain behind it) and left it less
    far below has an attribution debt row below zero; that is its own money, not a cover, so it
    counts as nothing here."""
    a = run.attribution
    parts = (
        "insurance_payout",
        "backstop_vault",
        "socialized_loss",
        "exchange_absorbs",
        "trader_debt",
    )
    rows = a[a["section"] == "paid"]
    amount = rows["amount_micro_usdt"].where(
        (rows["part"] != "trader_debt") | (rows["amount_micro_usdt"] > 0), 0
    )
    paid = amount.groupby(rows["part"], observed=True).sum()
    memo = a[a["part"] == "adl_haircut"]["amount_micro_usdt"].sum()
    out = {part: float(paid.get(part, 0)) / 1e6 for part in parts}
    out["total"] = sum(out.values())
    out["adl_haircut"] = float(memo) / 1e6
    return out


@register_metric("backstop_cost")
def backstop_cost(run: RunTables) -> dict[str, float]:
    """The full cost of covering liquidations, USDT, each part against a stated counterfactual:
    ``insurance_payout``, ``socialized_loss``, ``exchange_absorbs`` and ``trader_debt`` (against
    the liquidated account covering its own deficit: zero), ``adl_haircut`` (against closing the
    deleveraged winners at the mark), ``vault_loss`` (the backstop vault's equity change over
    the run with the sign turned, against no vault: what taking over positions at the
    bankruptcy price cost it once held to the end; negative when it gained) and their sum
    ``total``. Beside the sum: ``book_walk`` (what liquidation orders paid for trading on the
    book rather than at the mark) and ``book_walk_to_<population>``, who received it
    (:func:`abm.analysis.economics.book_walk`). The vault's cover at the takeover is inside
    ``vault_loss``, so it is not counted again."""
    paid = deficit_paid_by(run)
    out = {
        part: paid[part]
        for part in (
            "insurance_payout",
            "socialized_loss",
            "exchange_absorbs",
            "trader_debt",
            "adl_haircut",
        )
    }
    vault = run.accounts[run.accounts["population"] == "backstop_vault"]
    vault_pnl = (vault["final_equity_micro_usdt"] - vault["net_deposits_micro_usdt"]).sum()
    out["vault_loss"] = 0.0 - float(vault_pnl) / 1e6
    out["total"] = sum(out.values())
    walk = book_walk(run.fills, run.ticks, run.accounts)
    out["book_walk"] = walk.pop("total")
    out.update({f"book_walk_{key}": value for key, value in walk.items()})
    return out


def _drawdown(prices: np.ndarray) -> float:
    if not len(prices):
        return math.nan
    peak = np.maximum.accumulate(prices)
    return float(np.max(1 - prices / peak))


def crash_shock(shocks: list) -> Shock | None:
    """The scenario's crash: the shock named ``crash`` if one is; otherwise its largest fall
    (the most negative move; the largest move when no shock falls; the first of equal ones);
    None without shocks. On the long squeeze this is the 12:30 freefall (-22%), not the
    overnight slide that comes first nor the rebound after it.

    >>> crash_shock([{"start_minute": 0, "minutes": 420, "move": -0.07},
    ...              {"start_minute": 750, "minutes": 45, "move": -0.22},
    ...              {"start_minute": 795, "minutes": 45, "move": 0.24}]).start_minute
    750.0
    >>> crash_shock([{"start_minute": 0, "minutes": 5, "move": -0.3},
    ...              {"start_minute": 60, "minutes": 5, "move": -0.02, "name": "crash"}]).move
    -0.02
    """
    if not shocks:
        return None
    parsed = [Shock.model_validate(s) for s in shocks]
    named = [shock for shock in parsed if shock.name == "crash"]
    if named:
        return named[0]
    falls = [shock for shock in parsed if shock.move < 0]
    if falls:
        return min(falls, key=lambda shock: shock.move)
    return max(parsed, key=lambda shock: abs(shock.move))


@register_metric(
    "drawdown",
    bounds={
        **dict.fromkeys(("max", "crash", "crash_last", "crash_information"), SHARE_RANGE),
        "crash_excess": (-1.0, 1.0),
    },
)
def drawdown(run: RunTables) -> dict[str, float]:
    """Falls from a running peak, as shares. ``max``: the mark's over the run. Within the crash
    window (:func:`crash_window`): the mark's (``crash``), the last price's (``crash_last``), the
    information process's (``crash_information``), and the excess of the mark's over the
    information's (``crash_excess``: what the market added to the news; negative when it fell
    less). NaN without shocks, or when the shock starts after the run's end, which the run's and
    the sweep's summaries warn about."""
    ticks = run.ticks
    mark = ticks["mark_usdt"].to_numpy(dtype=float)
    out = {"max": _drawdown(mark)}
    out.update(
        dict.fromkeys(("crash", "crash_last", "crash_information", "crash_excess"), math.nan)
    )
    window = crash_window(run)
    if window is None:
        return out
    last = ticks["last_usdt"].ffill().to_numpy(dtype=float)
    out["crash"] = _drawdown(mark[window])
    out["crash_last"] = _drawdown(last[window][~np.isnan(last[window])])
    out["crash_information"] = _drawdown(ticks["fundamental_usdt"].to_numpy(dtype=float)[window])
    out["crash_excess"] = out["crash"] - out["crash_information"]
    return out


def crash_window(run: RunTables) -> np.ndarray | None:
    """A mask over the run's ticks: from the start of the crash (:func:`crash_shock`) to one
    hour after its end. None without shocks."""
    shock = crash_shock(run.config.get("world", {}).get("shocks") or [])
    if shock is None:
        return None
    seconds = run.ticks["elapsed_s"].to_numpy(dtype=float)
    start = shock.start(seconds[-1] / 60) * 60
    end = start + (shock.minutes + 60) * 60
    return (seconds >= start) & (seconds <= end)


FEEDBACK_KEYS = (
    "excess_mark",
    "excess_last",
    "peak_gap_information_bps",
    "peak_basis_bps",
    "liquidated_share_of_oi",
    "impact_bps_per_pct_oi",
    "share_generation_2_plus",
    "longest_chain",
)


@register_metric(
    "feedback",
    bounds={
        "excess_mark": (-1.0, 1.0),
        "excess_last": (-1.0, 1.0),
        "peak_gap_information_bps": COUNT_RANGE,
        "peak_basis_bps": COUNT_RANGE,
        "liquidated_share_of_oi": COUNT_RANGE,
        "impact_bps_per_pct_oi": (-math.inf, math.inf),
        "share_generation_2_plus": SHARE_RANGE,
        "longest_chain": COUNT_RANGE,
    },
)
def feedback(run: RunTables) -> dict[str, float]:
    """How much the market added to the crash, in its window (:func:`crash_window`):
    ``excess_mark`` and ``excess_last`` (the mark's and the last price's drawdown less the
    information's, shares); ``peak_gap_information_bps`` (largest |mark / information - 1|) and
    ``peak_basis_bps`` (largest |mark / index - 1|); ``liquidated_share_of_oi`` (liquidated
    notional in the window over open interest's notional at its start);
    ``impact_bps_per_pct_oi`` (the mark's excess drawdown in bps per 1% of open interest
    liquidated; NaN when nothing was); ``share_generation_2_plus`` and ``longest_chain`` of the
    window's liquidations (:mod:`abm.analysis.cascades`; NaN and 0 with none). All NaN without
    a shock. Compare a run with ``exchange.liquidation.execution=off_book`` (same seed) for the
    feedback channel itself."""
    out = dict.fromkeys(FEEDBACK_KEYS, math.nan)
    window = crash_window(run)
    if window is None or not window.any():
        return out
    ticks = run.ticks
    mark = ticks["mark_usdt"].to_numpy(dtype=float)[window]
    info = ticks["fundamental_usdt"].to_numpy(dtype=float)[window]
    index = ticks["index_usdt"].to_numpy(dtype=float)[window]
    last = ticks["last_usdt"].ffill().to_numpy(dtype=float)[window]
    info_fall = _drawdown(info)
    out["excess_mark"] = _drawdown(mark) - info_fall
    out["excess_last"] = _drawdown(last[~np.isnan(last)]) - info_fall
    out["peak_gap_information_bps"] = float(np.max(np.abs(mark / info - 1))) * 10_000
    out["peak_basis_bps"] = float(np.max(np.abs(mark / index - 1))) * 10_000
    liquidated = float(
        np.nansum(ticks["liquidated_notional_long_usdt"].to_numpy(dtype=float)[window])
        + np.nansum(ticks["liquidated_notional_short_usdt"].to_numpy(dtype=float)[window])
    )
    oi = float(ticks["open_interest_long_btc"].to_numpy(dtype=float)[window][0] * mark[0])
    share = liquidated / oi if oi > 0 else math.nan
    out["liquidated_share_of_oi"] = share
    if share > 0:
        out["impact_bps_per_pct_oi"] = out["excess_mark"] * 10_000 / (share * 100)
    seconds = ticks["elapsed_s"].to_numpy(dtype=float)[window]
    tick_seconds = float(run.config.get("run", {}).get("tick_seconds", 1.0))
    liq = run.liquidations
    if "generation" not in liq.columns:  # a run folder written before generations were recorded
        return out
    elapsed = liq["tick"].to_numpy(dtype=float) * tick_seconds
    rows = liq[(elapsed >= seconds[0]) & (elapsed <= seconds[-1]) & liq["generation"].notna()]
    summary = generation_summary(
        rows["generation"].to_numpy(dtype=np.int64),
        rows["closed_lots"].to_numpy(dtype=float) * rows["mark_usdt"].to_numpy(dtype=float),
    )
    out.update(summary)
    return out


@register_metric("liquidation_window_pnl")
def liquidation_window_pnl(run: RunTables) -> dict[str, float]:
    """Each population's (and the insurance fund's) marked-to-market PnL over the intervals
    between equity snapshots that hold a liquidation, USDT, net of deposits, and ``windows``
    (how many): who gained while accounts were liquidated, resting on no link convention
    (:func:`abm.analysis.economics.liquidation_window_pnl`)."""
    return window_pnl(run.ticks, run.liquidations, run.transfers, run.accounts)


@register_metric("proportions", bounds=COUNT_RANGE)
def proportions(run: RunTables) -> dict[str, float]:
    """The run's proportions as its summary states them (DESIGN section 6): depth within 1% a
    side, daily volume, the insurance fund, liquidations a day, value and arbitrage capacity and
    flow, each over open interest; retail's isolated share and median leverage; the share of
    the real market's open interest. NaN where the summary has none (no open interest)."""
    values = run.summary.get("proportions", {})
    return {key: math.nan if value is None else float(value) for key, value in values.items()}


@register_metric("stylized_facts")
def stylized_facts(run: RunTables) -> dict[str, float]:
    """The validation layer's return facts of the perp's last price on a 1-minute grid
    (:func:`abm.analysis.validation.series_facts`): tail index, kurtosis, autocorrelations."""
    facts = series_facts(run.ticks["elapsed_s"], run.ticks["last_usdt"], "last")
    return {key.removeprefix("last."): value for key, value in facts.items()}


def render_metrics_docs() -> str:
    """The sweep metrics section of ``docs/outputs.md``: each registered metric's name and its
    docstring (what its keys are, in which units)."""
    lines = [
        "",
        "## Sweep metrics (`metrics.json`, the columns of a sweep's `catalog.parquet`)",
        "",
        "A sweep keeps the metrics its file names (all by default); each is a number or a "
        "mapping whose keys become columns `name.key`. Register your own with "
        "`abm.experiments.metrics.register_metric`.",
        "",
        "| metric | what it holds |",
        "|---|---|",
    ]
    for name, fn in METRICS.items():
        text = " ".join((fn.__doc__ or "").split()).replace("``", "`").replace("|", "\\|")
        text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
        lines.append(f"| `{name}` | {text} |")
    return "\n".join(lines) + "\n"
