"""The model as an EMA workbench ``Model``: levers (leverage cap, stop-loss adoption),
an uncertainty (the size of the crash), outcomes from ``abm.experiments.metrics``.

    uv run python examples/ema_workbench_levers.py [--scenarios 8] [--policies 4] [--hours 24]
"""

from __future__ import annotations

import argparse

from ema_workbench import (
    Constant,
    IntegerParameter,
    Model,
    RealParameter,
    ScalarOutcome,
    SequentialEvaluator,
    perform_experiments,
)

from abm.experiments.evaluate import evaluate

OUTCOMES = ("liquidations.notional_usdt", "drawdown.crash", "population_pnl.retail")


def market(
    max_leverage: int = 125,
    stop_loss_share: float = 0.1,
    crash: float = -0.06,
    hours: float = 24.0,
    seed: int = 1,
) -> dict[str, float]:
    """One run: a crash of ``crash`` (a share) over the run's second quarter (at most from
    minute 30, over 20 minutes)."""
    quarter = hours * 60 / 4
    shock = [{"start_minute": min(30, quarter), "minutes": min(20, quarter), "move": float(crash)}]
    values = evaluate(
        {"exchange.max_leverage": int(max_leverage), "retail.stop_loss_share": stop_loss_share},
        ["liquidations", "drawdown", "population_pnl"],
        overrides={"run.hours": hours, "run.seed": seed, "world.shocks": shock},
    )
    return {name.replace(".", "_"): values[name] for name in OUTCOMES}


def build_model(hours: float) -> Model:
    model = Model("abm", function=market)
    model.levers = [
        IntegerParameter("max_leverage", 2, 125),
        RealParameter("stop_loss_share", 0.0, 0.8),
    ]
    model.uncertainties = [RealParameter("crash", -0.12, -0.02)]
    model.outcomes = [ScalarOutcome(name.replace(".", "_")) for name in OUTCOMES]
    model.constants = [Constant("hours", hours)]
    return model


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=8)
    parser.add_argument("--policies", type=int, default=4)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    model = build_model(args.hours)
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(
            model, scenarios=args.scenarios, policies=args.policies, evaluator=evaluator
        )
    print(experiments[["max_leverage", "stop_loss_share", "crash"]].assign(**outcomes).to_string())
    return experiments, outcomes


if __name__ == "__main__":
    main()
