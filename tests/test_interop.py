"""The SALib and EMA workbench examples, run as their users would on a tiny model: each drives
``abm.experiments.evaluate`` through the client library and gets the metrics back."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from tests.conftest import LIQUIDATABLE_RETAIL

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = {
    "retail.count": 200,
    "whales.count": 1,
    "market_makers.count": 2,
    "arbitrageurs.count": 1,
    **LIQUIDATABLE_RETAIL,
}


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_model():
    """``evaluate`` with the tiny populations under whatever the example asks for."""
    from abm.experiments import evaluate as evaluate_module

    real = evaluate_module.evaluate

    def tiny(levers, metrics=None, base="baseline", overrides=None):
        return real(levers, metrics, base, {**TINY, **(overrides or {})})

    return tiny


def test_salib_morris_screens_the_levers_of_a_tiny_model(tiny_model, monkeypatch):
    example = load_example("salib_morris")
    monkeypatch.setattr(example, "evaluate", tiny_model)
    indices = example.main(["--trajectories", "3", "--hours", "0.08"])
    assert set(indices) == set(example.PROBLEM["names"])
    assert all(math.isfinite(v["mu_star"]) and v["mu_star"] >= 0 for v in indices.values())
    # The crash liquidates, and how much depends on the leverage cap: its effect is not zero.
    assert indices["exchange.max_leverage"]["mu_star"] > 0


@pytest.mark.filterwarnings("ignore:ipyparallel not installed")
def test_ema_workbench_runs_policies_against_scenarios_on_a_tiny_model(tiny_model, monkeypatch):
    example = load_example("ema_workbench_levers")
    monkeypatch.setattr(example, "evaluate", tiny_model)
    experiments, outcomes = example.main(["--scenarios", "2", "--policies", "2", "--hours", "0.08"])
    assert len(experiments) == 4
    assert set(outcomes) == {name.replace(".", "_") for name in example.OUTCOMES}
    assert all(len(values) == 4 for values in outcomes.values())
    assert (outcomes["drawdown_crash"] > 0).all()
    assert (experiments["max_leverage"].between(2, 125)).all()
