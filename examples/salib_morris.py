"""Morris screening of three levers with SALib, on the model through ``abm.experiments.evaluate``.

    uv run python examples/salib_morris.py [--trajectories 10] [--hours 24] [--crash -0.06]

Which of the leverage cap, retail stop-loss adoption and the insurance fund's size moves the
liquidated notional most? Morris' elementary effects answer with few runs: (levers + 1) x
trajectories evaluations. Each evaluation is one model run with its own seed from the sample
row, so the screening is reproducible. Every run gets the same crash (``--crash``, a share, over
20 minutes from minute 30, or over the run's second quarter when it is shorter than two hours),
so that a short screening has liquidations to screen.
"""

from __future__ import annotations

import argparse

import numpy as np
from SALib.analyze import morris as morris_analyze
from SALib.sample import morris as morris_sample

from abm.experiments.evaluate import evaluate

PROBLEM = {
    "num_vars": 3,
    "names": ["exchange.max_leverage", "retail.stop_loss_share", "exchange.insurance_fund_seed"],
    "bounds": [[2, 125], [0.0, 0.8], [0.0, 10_000_000.0]],
}
OUTPUT = "liquidations.notional_usdt"


def screen(trajectories: int, overrides: dict, seed: int = 1) -> dict:
    """Morris indices (``mu_star``, ``sigma`` by lever name) of :data:`OUTPUT`."""
    X = morris_sample.sample(PROBLEM, N=trajectories, num_levels=4, seed=seed)
    Y = np.empty(len(X))
    for i, row in enumerate(X):
        levers = dict(zip(PROBLEM["names"], row, strict=True))
        levers["exchange.max_leverage"] = int(round(levers["exchange.max_leverage"]))
        Y[i] = evaluate(levers, ["liquidations"], overrides={**overrides, "run.seed": seed})[OUTPUT]
    result = morris_analyze.analyze(PROBLEM, X, Y, num_levels=4, seed=seed)
    return {
        name: {"mu_star": float(m), "sigma": float(s)}
        for name, m, s in zip(PROBLEM["names"], result["mu_star"], result["sigma"], strict=True)
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--crash", type=float, default=-0.06)
    args = parser.parse_args(argv)
    quarter = args.hours * 60 / 4
    shock = {"start_minute": min(30, quarter), "minutes": min(20, quarter), "move": args.crash}
    indices = screen(args.trajectories, {"run.hours": args.hours, "world.shocks": [shock]})
    for name, value in sorted(indices.items(), key=lambda kv: -kv[1]["mu_star"]):
        print(f"{name:32} mu* {value['mu_star']:14,.0f}  sigma {value['sigma']:14,.0f}  ({OUTPUT})")
    return indices


if __name__ == "__main__":
    main()
