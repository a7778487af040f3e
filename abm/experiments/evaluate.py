"""One model evaluation as a function of its levers: what sensitivity-analysis and
exploratory-modelling tools (SALib, the EMA workbench) call. No folder is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abm.config import load_config, override_config
from abm.experiments.metrics import RunTables, compute_metrics
from abm.experiments.run import build_tables, run_model
from abm.experiments.summary import summarize


def evaluate(
    levers: Mapping[str, Any],
    metrics: Sequence[str] | None = None,
    base: str | Path = "baseline",
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Run ``base`` (a config file or shipped name) with ``overrides`` and then ``levers``
    (dotted keys: ``{"exchange.max_leverage": 20}``) and return the named metrics
    (:mod:`abm.experiments.metrics`; all for None), flattened as in a sweep's catalogue.

    >>> evaluate({"exchange.max_leverage": 20}, ["liquidations"],
    ...          overrides={"run.hours": 0.1})["liquidations.count"]  # doctest: +SKIP
    3.0
    """
    config = load_config(base)
    if overrides:
        config = override_config(config, overrides)
    config = override_config(config, dict(levers))
    model = run_model(config)
    summary = summarize(model)
    tables = build_tables(model)
    run = RunTables.from_tables(config.model_dump(mode="json"), summary, tables)
    return compute_metrics(run, metrics)
