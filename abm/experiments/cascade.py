"""The cascade experiment: one crash of the fundamental value under different leverage caps,
paired by seed (common random numbers: the same fundamental path, the same traders' draws; only
the cap changes), and the leverage-and-tails table.

``python -m abm.experiments.cascade [--seeds 10] [--out results/cascade]`` writes
``crash.csv`` (one row per seed and cap), ``crash_summary.csv`` (the paired difference of the
drawdown, cap 125 minus cap 2, with its 95% interval), ``tails.csv`` and ``tails_summary.csv``
(Hill index and lag-1 autocorrelation of |r| per cap, with 95% intervals) and the figure
``cascade.png``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from abm.analysis.stylized import autocorrelation, hill_tail_index, log_returns
from abm.analysis.validation import mean_interval
from abm.config import ModelConfig, load_config
from abm.exchange import SELL
from abm.exchange.liquidation import liquidated_notional
from abm.experiments.run import simulate
from abm.model import MarketModel

BASELINE = "baseline"
CRASH_START_MINUTE = 10
CRASH_MINUTES = 20
CRASH_MOVE = -0.06
AFTER_MINUTES = 20
"""Minutes after the crash that still count towards its drawdown and its sell volume."""

FILL_LIQUIDATION = 1


def crash_config(cap: float, seed: int, extra: list[str] = ()) -> ModelConfig:
    """The baseline with one crash of the fundamental (-6% over 20 minutes from minute 10),
    the leverage cap ``cap`` and ``seed``; the run ends 20 minutes after the crash."""
    hours = (CRASH_START_MINUTE + CRASH_MINUTES + AFTER_MINUTES) / 60
    return load_config(
        BASELINE,
        [
            f"run.hours={hours}",
            f"run.seed={seed}",
            f"exchange.max_leverage={cap}",
            f"world.shocks=[{{start_minute: {CRASH_START_MINUTE}, minutes: {CRASH_MINUTES}, "
            f"move: {CRASH_MOVE}}}]",
            *extra,
        ],
    )


def crash_metrics(model: MarketModel) -> dict[str, float]:
    """What a crash did to the perp: peak-to-trough drawdown of the last price from the start
    of the crash to the end of the run (percent), the share of aggressive sell volume in that
    window that was liquidation orders, and the liquidated notional (USDT).
    """
    ex = model.exchange
    start = round(CRASH_START_MINUTE * 60 / model.tick_seconds)
    lasts = np.array(model.recorder.columns["last_usdt"][start:], dtype=float)
    lasts = lasts[np.isfinite(lasts)]
    peak = np.maximum.accumulate(lasts)
    drawdown = float(np.max(1 - lasts / peak)) * 100 if len(lasts) else math.nan
    fills = ex.fills
    ticks = np.frombuffer(fills["tick"], dtype=np.int64)
    qty = np.frombuffer(fills["qty"], dtype=np.int64)
    aggressor = np.frombuffer(fills["aggressor"], dtype=np.int64)
    kind = np.frombuffer(fills["kind"], dtype=np.int64)
    sells = (ticks >= start) & (aggressor == SELL)
    sold = int(qty[sells].sum())
    forced = int(qty[sells & (kind == FILL_LIQUIDATION)].sum())
    notional = liquidated_notional(ex, (e for e in ex.liquidations if e.tick >= start)) / 1e6
    return {
        "drawdown_pct": drawdown,
        "liquidation_sell_share": forced / sold if sold else 0.0,
        "liquidated_notional_usdt": notional,
    }


def run_crash(cap: float, seed: int, extra: list[str] = ()) -> dict[str, float]:
    """Run one crash and measure it (:func:`crash_metrics`)."""
    model = MarketModel(crash_config(cap, seed, extra), collect=False)
    simulate(model)
    model.exchange.check_invariants()
    return {"cap": cap, "seed": seed, **crash_metrics(model)}


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a - b`` over pairs with its 95% t-interval (NaN bounds from one pair).

    >>> paired_difference(np.array([3.0, 4.0, 5.0]), np.array([1.0, 1.0, 1.0]))["mean"]
    3.0
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return interval(d)


def interval(x: np.ndarray) -> dict[str, float]:
    """Mean of ``x`` with its 95% t-interval over its values."""
    mean, low, high = mean_interval(np.asarray(x, dtype=float))
    return {
        "mean": mean,
        "low": math.nan if low is None else low,
        "high": math.nan if high is None else high,
        "n": len(x),
    }


def crash_experiment(seeds: list[int], caps: tuple[float, ...] = (2, 125)) -> pd.DataFrame:
    """One row per (seed, cap): the crash's drawdown, liquidation share and notional."""
    return pd.DataFrame([run_crash(cap, seed) for seed in seeds for cap in caps])


def tails_run(cap: float, seed: int, hours: float) -> dict[str, float]:
    """Tail index and volatility clustering of 1-minute last-price returns over ``hours`` of the
    baseline without a scripted shock, at leverage cap ``cap``."""
    config = load_config(
        BASELINE,
        [
            f"run.hours={hours}",
            f"run.seed={seed}",
            f"exchange.max_leverage={cap}",
            "world.shocks=[]",
        ],
    )
    model = MarketModel(config, collect=False)
    simulate(model)
    per_minute = round(60 / model.tick_seconds)
    r = log_returns(np.array(model.recorder.columns["last_usdt"], dtype=float), per_minute)
    return {
        "cap": cap,
        "seed": seed,
        "hill_5pct": hill_tail_index(r, 0.05),
        "acf_abs_lag1": float(autocorrelation(np.abs(r), [1])[0]),
        "liquidated_notional_usdt": liquidated_notional(model.exchange, model.exchange.liquidations)
        / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m abm.experiments.cascade")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tail-seeds", type=int, default=3)
    parser.add_argument("--tail-hours", type=float, default=24.0)
    parser.add_argument("--out", type=Path, default=Path("results/cascade"))
    parser.add_argument("--skip-tails", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    crashes = crash_experiment(list(range(1, args.seeds + 1)))
    crashes.to_csv(args.out / "crash.csv", index=False)
    wide = crashes.pivot(index="seed", columns="cap", values="drawdown_pct")
    diff = paired_difference(wide[125].to_numpy(), wide[2].to_numpy())
    share = crashes[crashes.cap == 125].liquidation_sell_share
    summary = pd.DataFrame(
        [
            {
                "metric": "drawdown_pct, cap 125 minus cap 2",
                **diff,
            },
            {"metric": "drawdown_pct, cap 125", **interval(wide[125].to_numpy())},
            {"metric": "drawdown_pct, cap 2", **interval(wide[2].to_numpy())},
            {"metric": "liquidation share of sell volume, cap 125", **interval(share.to_numpy())},
        ]
    )
    summary.to_csv(args.out / "crash_summary.csv", index=False)
    print(summary.to_string(index=False))
    if not args.skip_tails:
        rows = [
            tails_run(cap, seed, args.tail_hours)
            for cap in (2, 5, 20, 50, 125)
            for seed in range(1, args.tail_seeds + 1)
        ]
        tails = pd.DataFrame(rows)
        tails.to_csv(args.out / "tails.csv", index=False)
        table = pd.DataFrame(
            [
                {
                    "cap": cap,
                    **{f"hill_{k}": v for k, v in interval(g.hill_5pct.to_numpy()).items()},
                    **{f"acf1_{k}": v for k, v in interval(g.acf_abs_lag1.to_numpy()).items()},
                }
                for cap, g in tails.groupby("cap")
            ]
        )
        table.to_csv(args.out / "tails_summary.csv", index=False)
        print(table.to_string(index=False))
    draw_figure(crashes, args.out / "cascade.png")
    return 0


def draw_figure(crashes: pd.DataFrame, path: Path) -> None:
    """Left: drawdown by cap, each seed a grey line between its caps, means with 95% intervals.
    Right: the paired difference (cap 125 minus cap 2) in basis points with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, right) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [3, 2]})
    wide = crashes.pivot(index="seed", columns="cap", values="drawdown_pct")
    caps = list(wide.columns)
    for _, row in wide.iterrows():
        ax.plot(range(len(caps)), row.to_numpy(), color="0.8", lw=0.8)
    for i, cap in enumerate(caps):
        ci = interval(wide[cap].to_numpy())
        ax.errorbar(
            i,
            ci["mean"],
            yerr=[[ci["mean"] - ci["low"]], [ci["high"] - ci["mean"]]],
            fmt="o",
            color="C3",
            capsize=4,
        )
    ax.set_xticks(range(len(caps)), [f"cap {c:g}x" for c in caps])
    ax.set_ylabel("perp drawdown in the crash (%)")
    ax.set_title(f"Fundamental {CRASH_MOVE:+.0%} over {CRASH_MINUTES} min, {len(wide)} seeds")
    diff = (wide[max(caps)] - wide[min(caps)]).to_numpy() * 100
    ci = interval(diff)
    right.scatter(np.zeros(len(diff)), diff, color="0.6", s=12)
    right.errorbar(
        0.3,
        ci["mean"],
        yerr=[[ci["mean"] - ci["low"]], [ci["high"] - ci["mean"]]],
        fmt="o",
        color="C3",
        capsize=4,
    )
    right.axhline(0, color="0.3", lw=0.8)
    right.set_xlim(-0.5, 0.8)
    right.set_xticks([])
    right.set_ylabel(f"drawdown, cap {max(caps):g}x minus cap {min(caps):g}x (bps)")
    right.set_title("paired by seed")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
