"""A run's identity in its manifest: the config file and ``--set`` overrides as given, the
config hash of the run (seed included) and the scenario hash its replications share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abm.analysis.validation import run_measures
from abm.cli import main
from abm.config import config_hash, configs_dir, load_config, scenario_hash
from abm.experiments.run import execute
from tests.conftest import TINY_RUN

ROOT = Path(__file__).resolve().parents[1]
SHORT = [*TINY_RUN, "run.hours=0.02"]
"""A run of 72 ticks."""


def sets(overrides: list[str]) -> list[str]:
    return sum((["--set", o] for o in overrides), [])


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory) -> tuple[Path, Path]:
    """One config run with seeds 1 and 2, given once as a path and once by name."""
    folder = tmp_path_factory.mktemp("manifest")
    one, two = folder / "seed1", folder / "seed2"
    assert (
        main(["run", "configs/baseline.yaml", *sets(SHORT), "--seed", "1", "--out", str(one)]) == 0
    )
    assert main(["run", "baseline", *sets(SHORT), "--seed", "2", "--out", str(two)]) == 0
    return one, two


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_the_manifest_records_the_config_file_and_overrides_as_given(two_seeds):
    one, two = (manifest_of(folder) for folder in two_seeds)
    assert one["config_file"] == "configs/baseline.yaml"
    assert one["config_path"] == str((ROOT / "configs/baseline.yaml").resolve())
    assert two["config_file"] == "baseline"
    assert two["config_path"] == str((configs_dir() / "baseline.yaml").resolve())
    for manifest in (one, two):
        assert manifest["overrides"] == SHORT
    assert (one["seed"], two["seed"]) == (1, 2)


def test_seeds_of_one_config_share_the_scenario_hash_not_the_config_hash(two_seeds):
    one, two = (manifest_of(folder) for folder in two_seeds)
    assert one["scenario_hash"] == two["scenario_hash"]
    assert one["config_hash"] != two["config_hash"]
    for manifest in (one, two):
        assert manifest["config_hash"] == config_hash(manifest["config"])
        assert manifest["scenario_hash"] == scenario_hash(manifest["config"])


def test_validation_groups_the_replications_by_scenario_hash(two_seeds):
    one, two = (run_measures(folder).details for folder in two_seeds)
    assert one["scenario_hash"] == two["scenario_hash"]
    assert one["config_hash"] != two["config_hash"]


def test_a_run_of_a_config_built_in_python_records_no_file(tmp_path):
    execute(load_config("baseline", SHORT), tmp_path / "run")
    manifest = manifest_of(tmp_path / "run")
    assert manifest["config_file"] is None and manifest["config_path"] is None
    assert manifest["overrides"] == []
    assert manifest["scenario_hash"] != manifest["config_hash"]


def test_a_key_set_before_a_section_file_still_wins_and_the_manifest_says_where_it_came_from(
    tmp_path,
):
    """The trap: ``--set exchange.max_leverage=20 --set exchange=exchanges/bybit.yaml`` once ran
    at Bybit's 100x. A key set explicitly wins over a section file wherever it stands."""
    out = tmp_path / "run"
    argv = [
        "run",
        *sets([*SHORT, "exchange.max_leverage=20", "exchange=exchanges/bybit.yaml"]),
        "--seed",
        "3",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    manifest = manifest_of(out)
    exchange = manifest["config"]["exchange"]
    assert exchange["max_leverage"] == 20
    assert (
        exchange["name"] == load_config("baseline", ["exchange=exchanges/bybit.yaml"]).exchange.name
    )
    sources = manifest["value_sources"]
    assert sources["exchange.max_leverage"] == "--set exchange.max_leverage=20"
    assert sources["exchange.taker_fee"] == "--set exchange=exchanges/bybit.yaml"
    assert sources["run.seed"] == "--seed 3"
    assert sources["run.hours"] == "--set run.hours=0.02"
    # Only keys that differ from the config file are listed, each with what set it.
    assert "world.process" not in sources and "exchange.tick_size" not in sources
    given = {f"--set {o}" for o in SHORT} | {"--seed 3", "--set exchange.max_leverage=20"}
    assert set(sources.values()) <= given | {"--set exchange=exchanges/bybit.yaml"}


def test_the_order_of_a_key_and_a_section_file_does_not_matter():
    before = load_config("baseline", ["exchange.max_leverage=20", "exchange=exchanges/bybit"])
    after = load_config("baseline", ["exchange=exchanges/bybit.yaml", "exchange.max_leverage=20"])
    assert before == after and before.exchange.max_leverage == 20
