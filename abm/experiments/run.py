"""One run: build the model from a config, run it, write its folder (DESIGN section 8).

The folder holds ``manifest.json`` (resolved config and its hash, seed, versions, times, status),
``ticks.parquet``, ``fills.parquet``, ``liquidations.parquet``, ``transfers.parquet``,
``accounts.parquet``, ``liquidation_map.parquet`` and ``summary.json``, and the flow outputs of
:func:`abm.flows.write_flows` (``flows.graphml``, ``flows_by_population.csv``,
``where_money_goes.csv``, ``liquidation_attribution.parquet``). Every file is written to a
temporary name and renamed, so a folder never holds a half-written file; the manifest's status
turns ``complete`` last.
"""

from __future__ import annotations

import gc
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from abm.config import ModelConfig
from abm.experiments import tables
from abm.experiments.summary import summarize
from abm.files import write_atomic
from abm.flows import write_flows
from abm.model import MarketModel

DEPENDENCIES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "networkx", "pyyaml")


@dataclass
class RunResult:
    model: MarketModel
    out: Path
    summary: dict
    seconds: float


def config_hash(config: ModelConfig) -> str:
    """SHA-256 of the resolved config's canonical JSON."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("abm", *DEPENDENCIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True)))


def write_table(path: Path, table: pa.Table) -> None:
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def manifest(config: ModelConfig, status: str, started: str, ended: str | None) -> dict:
    return {
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "seed": config.run.seed,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "started": started,
        "ended": ended,
        "status": status,
    }


def simulate(model: MarketModel, progress: Callable[[int, int], None] | None = None) -> None:
    """Run ``model`` to its end, reporting progress about 200 times.

    The objects built with the model (agents, accounts, the first links) are moved out of the
    cyclic garbage collector's scans for the run (``gc.freeze``): with hundreds of thousands of
    agents, every full collection would otherwise rescan them all, a cost that grows with the
    population. They are handed back to the collector when the run ends.
    """
    chunk = max(1, model.ticks // 200)
    gc.collect()
    gc.freeze()
    try:
        done = model.tick
        while done < model.ticks:
            step = min(chunk, model.ticks - done)
            model.run_for(step)
            done += step
            if progress is not None:
                progress(done, model.ticks)
    finally:
        gc.unfreeze()


def run_model(
    config: ModelConfig, progress: Callable[[int, int], None] | None = None
) -> MarketModel:
    """Build and run the model for the config's duration; the invariants are checked at the end."""
    model = MarketModel(config)
    simulate(model, progress)
    model.exchange.check_invariants()
    return model


def write_run(model: MarketModel, out: Path) -> dict:
    """Write the tables and the summary of a finished model into ``out``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "ticks.parquet", tables.ticks_table(model))
    write_table(out / "fills.parquet", tables.fills_table(model))
    write_table(out / "liquidations.parquet", tables.liquidations_table(model))
    write_table(out / "transfers.parquet", tables.transfers_table(model))
    write_table(out / "accounts.parquet", tables.accounts_table(model))
    write_table(out / "liquidation_map.parquet", tables.liquidation_map_table(model))
    write_flows(out, value_per_tick_lot=model.exchange.k)
    summary = summarize(model)
    write_json(out / "summary.json", summary)
    return summary


def execute(
    config: ModelConfig, out: Path, progress: Callable[[int, int], None] | None = None
) -> RunResult:
    """A whole run into ``out``: manifest (running), model, tables, summary, manifest (complete)."""
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    write_json(out / "manifest.json", manifest(config, "running", started, None))
    clock = time.perf_counter()
    try:
        model = run_model(config, progress)
        summary = write_run(model, out)
    except BaseException:
        ended = datetime.now(UTC).isoformat(timespec="seconds")
        write_json(out / "manifest.json", manifest(config, "failed", started, ended))
        raise
    ended = datetime.now(UTC).isoformat(timespec="seconds")
    write_json(out / "manifest.json", manifest(config, "complete", started, ended))
    return RunResult(model, out, summary, time.perf_counter() - clock)
