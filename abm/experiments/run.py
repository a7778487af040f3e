"""One run: build the model from a config, run it, write its folder (DESIGN section 9).

The folder holds ``manifest.json`` (the config file and ``--set`` overrides as given, the
resolved config, its hashes with and without the seed, versions, times, status),
``ticks.parquet``, ``fills.parquet``, ``liquidations.parquet``, ``transfers.parquet``,
``accounts.parquet``, ``stayed_out.parquet``, ``liquidation_map.parquet``, ``hunts.parquet``
and ``summary.json``, and the flow outputs of :func:`abm.flows.write_flows`
(``flow_edges.parquet``, ``liquidation_edges.parquet``, ``liquidation_attribution.parquet``,
``flows_by_population.csv``, ``where_money_goes.csv``; ``flows.graphml`` and
``liquidations.gexf`` on request). Columns, units and meanings: :mod:`abm.outputs`. Every file is written to a
temporary name and renamed, so a folder never holds a half-written file; the manifest's status
turns ``complete`` last. While the run goes, the manifest says ``running`` with the process id,
the host and a heartbeat; see :mod:`abm.experiments.status` for how readers judge a folder.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pyarrow as pa

from abm import config as configs
from abm.config import ModelConfig
from abm.experiments import tables
from abm.experiments.metrics import RunTables, compute_metrics
from abm.experiments.status import (
    COMPLETE,
    FAILED,
    HEARTBEAT_EVERY,
    INTERRUPTED,
    RUNNING,
    RunFolderError,
    host_name,
    run_status,
)
from abm.experiments.summary import summarize
from abm.files import remove_temporary_files, write_atomic
from abm.flows import run_data, write_flows
from abm.model import MarketModel
from abm.outputs import write_parquet

METRICS_FILE = "metrics.json"
"""A run's metrics (:mod:`abm.experiments.metrics`), written when asked for."""

DEPENDENCIES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "networkx", "pyyaml")


class BuildError(ValueError):
    """The model cannot be built from a config that validated (a CSV that does not cover the
    run, an index path outside the exchange's price range, capital draws above what the
    exchange holds); nothing was written."""


class RunInterrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """SIGINT or SIGTERM stopped a run. ``out`` is None when it came before the run folder was
    made (nothing written); otherwise the folder's manifest says ``interrupted`` at ``tick``."""

    def __init__(self, signum: int, tick: int | None = None, out: Path | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.tick = tick
        self.ticks: int | None = None
        self.out = out

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


@dataclass
class RunResult:
    model: MarketModel
    out: Path
    summary: dict
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)


def config_hash(config: ModelConfig) -> str:
    """SHA-256 of the resolved config, seed included: one run (:func:`abm.config.config_hash`)."""
    return configs.config_hash(config.model_dump(mode="json"))


def scenario_hash(config: ModelConfig) -> str:
    """SHA-256 of the resolved config without its seed, shared by the replications of one
    scenario (:func:`abm.config.scenario_hash`)."""
    return configs.scenario_hash(config.model_dump(mode="json"))


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
    write_atomic(path, lambda tmp: write_parquet(table, tmp))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def manifest(
    config: ModelConfig,
    status: str,
    started: str,
    ended: str | None,
    config_file: str | Path | None = None,
    overrides: list[str] = (),
    sources: dict[str, str] | None = None,
    **fields: object,
) -> dict:
    """A run's manifest: the config file as given (a path or a shipped config's name) and the
    absolute path it resolved to (both None for a config built in Python), the ``--set``
    overrides as given, ``value_sources`` (each dotted key whose value differs from the config
    file's, with what set it: an override, a section file, ``--seed``; see
    :func:`abm.config.value_sources`), the resolved config with ``config_hash`` (seed included: this run) and
    ``scenario_hash`` (seed left out: shared by the replications to group), the seed, versions,
    git commit, times, status and ``fields``."""
    resolved = None if config_file is None else configs.config_path(config_file).resolve()
    return {
        "config_file": None if config_file is None else str(config_file),
        "config_path": None if resolved is None else str(resolved),
        "overrides": list(overrides),
        "value_sources": dict(sources or {}),
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "scenario_hash": scenario_hash(config),
        "seed": config.run.seed,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "started": started,
        "ended": ended,
        "status": status,
        **fields,
    }


class ManifestWriter:
    """Writes a run's ``manifest.json``: ``running`` with a heartbeat (time and tick reached)
    that a daemon thread refreshes every ``every`` seconds whatever the run is doing, then the
    final status. Writes are atomic and serialised, and none follows :meth:`finish`."""

    def __init__(self, path: Path, data: dict, every: float = HEARTBEAT_EVERY) -> None:
        self.path = path
        self.data = data
        self.every = every
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, **fields: object) -> None:
        with self._lock:
            self.data.update(fields)
            write_json(self.path, self.data)

    def start(self, tick: Callable[[], int]) -> None:
        """Write the manifest now and start the heartbeat."""
        self.write(heartbeat=_now(), tick=tick())
        self._thread = threading.Thread(
            target=self._beat, args=(tick,), name="abm-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, tick: Callable[[], int]) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                if self._stop.is_set():
                    return
                self.data.update(heartbeat=_now(), tick=tick())
                with contextlib.suppress(OSError):  # a missed heartbeat is no reason to stop
                    write_json(self.path, self.data)

    def finish(self, status: str, **fields: object) -> None:
        """Stop the heartbeat and write the final status with the end time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.write(status=status, ended=_now(), **fields)


class StopOnSignals:
    """While active (in the main thread only), SIGINT and SIGTERM are noted, and :meth:`check`
    raises :class:`RunInterrupted` for the first one, once; after :meth:`ignore` signals do
    nothing (the run is as good as finished).

    The handler itself never raises: an exception raised by a signal handler surfaces wherever
    the interpreter happens to be, and inside the compiled exchange core
    (:mod:`abm.compiled`) that can abort the process. The run checks at safe points instead:
    after the build, between chunks of at most :data:`CHECK_EVERY_TICKS` ticks, and before
    writing its tables."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.fired = False
        self.pending: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        """Raise RunInterrupted for the first signal received, unless already raised or
        ignored."""
        if self.pending is not None and not self.fired:
            self.fired = True
            raise RunInterrupted(self.pending)

    def ignore(self) -> None:
        self.fired = True


CHECK_EVERY_TICKS = 300
"""The longest stretch of ticks a run goes without calling its ``check`` (a fraction of a
second of wall time)."""


def simulate(
    model: MarketModel,
    progress: Callable[[int, int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> None:
    """Run ``model`` to its end, reporting progress about 200 times (at most every
    :data:`CHECK_EVERY_TICKS` ticks) and calling ``check`` as often (it may raise to stop).

    The objects built with the model (agents, accounts, the first links) are moved out of the
    cyclic garbage collector's scans for the run (``gc.freeze``): with hundreds of thousands of
    agents, every full collection would otherwise rescan them all, a cost that grows with the
    population. They are handed back to the collector when the run ends.
    """
    chunk = max(1, min(model.ticks // 200, CHECK_EVERY_TICKS))
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
            if check is not None:
                check()
    finally:
        gc.unfreeze()


def run_model(
    config: ModelConfig, progress: Callable[[int, int], None] | None = None
) -> MarketModel:
    """Build and run the model for the config's duration (no DataCollector: the recorder keeps
    the series); the invariants are checked at the end."""
    model = MarketModel(config, collect=False)
    simulate(model, progress)
    model.exchange.check_invariants()
    return model


def build_tables(model: MarketModel) -> dict[str, pa.Table]:
    """A finished model's output tables, in memory (:mod:`abm.experiments.tables`)."""
    return {
        "ticks": tables.ticks_table(model),
        "fills": tables.fills_table(model),
        "liquidations": tables.liquidations_table(model),
        "transfers": tables.transfers_table(model),
        "accounts": tables.accounts_table(model),
        "stayed_out": tables.stayed_out_table(model),
        "liquidation_map": tables.liquidation_map_table(model),
        "hunts": tables.hunts_table(model),
    }


def write_run(
    model: MarketModel,
    out: Path,
    *,
    graphml: bool = False,
    gexf: bool = False,
    built: dict[str, pa.Table] | None = None,
) -> dict:
    """Write the tables (``built``, or built now), the flow outputs (``graphml``, ``gexf``:
    also the graph files, see :func:`abm.flows.write_flows`) and the summary of a finished
    model into ``out``; returns the summary. The flow layer gets the tables in memory, not read
    back from the files."""
    out.mkdir(parents=True, exist_ok=True)
    built = build_tables(model) if built is None else built
    for name, table in built.items():
        write_table(out / f"{name}.parquet", table)
    run = run_data(out, model.config.model_dump(mode="json"), built)
    summary = summarize(model)
    summary["flows"] = write_flows(
        out, value_per_tick_lot=model.exchange.k, graphml=graphml, gexf=gexf, run=run
    )
    write_json(out / "summary.json", summary)
    return summary


def write_metrics(
    model: MarketModel,
    out: Path,
    names: Sequence[str] | None,
    built: dict[str, pa.Table],
    summary: dict,
) -> dict[str, float]:
    """Compute the named metrics (all registered ones for None) from a finished model's
    tables and write them to ``metrics.json``; returns them."""
    run = RunTables.from_tables(model.config.model_dump(mode="json"), summary, built, out)
    values = compute_metrics(run, names)
    write_json(out / METRICS_FILE, values)
    return values


def check_output(out: Path, overwrite: bool = False) -> None:
    """RunFolderError unless ``out`` can take a new run: a folder to be made in a writable
    place, an empty writable folder, or (with ``overwrite``) a run folder whose run is not
    running. A non-empty folder without ``manifest.json`` is never written into, and a path
    that is not UTF-8 text is refused (the tables' writer would fail on it after the whole
    run). Changes nothing."""
    try:
        str(out).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(out).encode("utf-8", "backslashreplace").decode("ascii", "replace")
        raise RunFolderError(
            f"output folder {shown}: the name is not valid UTF-8; give a folder whose name is "
            "UTF-8 text"
        ) from None
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise RunFolderError(f"output folder {out} is a file (or a broken link); give a folder")
        if any(out.iterdir()):
            if not (out / "manifest.json").is_file():
                raise RunFolderError(
                    f"output folder {out} is not empty and holds no run (no manifest.json); "
                    "give an empty or new folder"
                )
            status, reason = run_status(out)
            if status == RUNNING:
                raise RunFolderError(
                    f"output folder {out} holds a run that is still running ({reason}); give "
                    "another folder"
                )
            if not overwrite:
                raise RunFolderError(
                    f"output folder {out} already holds a run ({status}); give --overwrite to "
                    "replace it, or another folder"
                )
        if not os.access(out, os.W_OK | os.X_OK):
            raise RunFolderError(f"output folder {out} is not writable")
        return
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunFolderError(f"cannot create output folder {out}: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(f"cannot create output folder {out}: {parent} is not writable")


def prepare_output(out: Path, overwrite: bool = False) -> None:
    """Make ``out``; with ``overwrite``, first remove the old run in it (its manifest first, so
    that a folder half cleared is never taken for a run). Call :func:`check_output` first."""
    try:
        if overwrite and (out / "manifest.json").is_file():
            (out / "manifest.json").unlink()
            for child in out.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create output folder {out}: {err.strerror or err}") from err


def execute(
    config: ModelConfig,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    overwrite: bool = False,
    config_file: str | Path | None = None,
    overrides: list[str] = (),
    sources: dict[str, str] | None = None,
    graphml: bool = False,
    gexf: bool = False,
    write_tables: bool = True,
    metrics: Sequence[str] | None = (),
) -> RunResult:
    """A whole run into ``out``: model, manifest (``running``), tables, summary, manifest
    (``complete``). ``config_file`` and ``overrides`` are what ``config`` was loaded from (the
    config file or name and the ``--set`` overrides, as given), recorded in the manifest with
    ``sources``, where each changed value came from (:func:`abm.config.load_config_with_sources`).
    ``graphml`` and ``gexf`` also write the graph files (:func:`write_run`). ``write_tables=False``
    writes no tables or flow outputs, only the manifest and ``summary.json`` (a sweep's
    ``metrics`` outputs); ``metrics`` names the metrics written to ``metrics.json``
    (:mod:`abm.experiments.metrics`; None: every registered one; empty: no file).

    Nothing is written, and an existing folder stays as it was, when the run cannot start:
    ``out`` cannot take it (RunFolderError, see :func:`check_output`), or the model cannot be
    built from the config (BuildError; the model is built before the folder is made). With
    ``overwrite`` the old run's files are removed once the new model is built.

    In the main thread, SIGINT and SIGTERM stop the run: the manifest says ``interrupted`` with
    the signal and the tick reached, temporary files are removed and RunInterrupted is raised
    (its ``out`` is None if the folder was not made yet). Any other error marks the manifest
    ``failed`` with the error, and is raised as it is.
    """
    out = Path(out)
    check_output(out, overwrite)
    with StopOnSignals() as stops:
        started = _now()
        try:
            model = MarketModel(config, collect=False)
        except (ValueError, ArithmeticError) as err:
            raise BuildError(f"the model cannot be built from this config: {err}") from err
        stops.check()
        prepare_output(out, overwrite)
        record = ManifestWriter(
            out / "manifest.json",
            manifest(
                model.config,
                RUNNING,
                started,
                None,
                config_file,
                overrides,
                sources,
                pid=os.getpid(),
                host=host_name(),
                ticks=model.ticks,
            ),
        )
        record.start(lambda: model.tick)
        clock = time.perf_counter()
        try:
            stops.check()
            simulate(model, progress, stops.check)
            model.exchange.check_invariants()
            stops.check()
            built = build_tables(model)
            if write_tables:
                summary = write_run(model, out, graphml=graphml, gexf=gexf, built=built)
            else:
                summary = summarize(model)
                write_json(out / "summary.json", summary)
            if metrics is None or metrics:
                values = write_metrics(model, out, metrics, built, summary)
            stops.ignore()
        except (RunInterrupted, KeyboardInterrupt) as stop:
            stops.ignore()
            signum = stop.signum if isinstance(stop, RunInterrupted) else signal.SIGINT
            record.finish(INTERRUPTED, tick=model.tick, signal=signal.Signals(signum).name)
            remove_temporary_files(out)
            interrupted = stop if isinstance(stop, RunInterrupted) else RunInterrupted(signum)
            interrupted.tick, interrupted.ticks, interrupted.out = model.tick, model.ticks, out
            if interrupted is stop:
                raise
            raise interrupted from stop
        except BaseException as err:
            stops.ignore()
            record.finish(FAILED, tick=model.tick, error=f"{type(err).__name__}: {err}")
            remove_temporary_files(out)
            raise
        seconds = time.perf_counter() - clock
        record.finish(COMPLETE, tick=model.tick, wall_seconds=round(seconds, 3))
    result = RunResult(model, out, summary, seconds)
    if metrics is None or metrics:
        result.metrics = values
    return result
