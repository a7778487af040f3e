"""Running a sweep into its store, on any ``concurrent.futures.Executor`` (DESIGN section 11).

The store is one folder::

    sweep.yaml          the sweep as resolved (with its hash)
    runs/p003-r07/      one run folder per run: manifest.json, summary.json, metrics.json
                        (and every table with ``outputs: full``)
    catalog.parquet     one row per run: point, grid values, replication, seed, status,
                        timing, host and every metric
    .lock               while a sweep writes the store: its pid, host and start (a second
                        writer is refused; a dead writer's lock is taken over)

Re-running the same sweep into the same store skips the runs that are complete (manifest
``complete``, ``metrics.json`` present, the same config hash) and redoes the others (failed,
interrupted, killed mid-run). A store built from another sweep is refused unless
``reuse=True``. Runs are independent and seeded by the plan, so the results are the same
whatever the executor and the number of workers.

:func:`run_sweeps` runs several sweeps, each into its own store, through one executor at once
(the paper's studies: N workers finish in about the total work over N, not study by study);
:func:`run_sweep` is its one-sweep case.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from abm.config import ModelConfig
from abm.experiments.metrics import absent_value
from abm.experiments.plan import RunSpec, Sweep
from abm.experiments.run import METRICS_FILE, RunInterrupted, execute
from abm.experiments.status import (
    COMPLETE,
    FAILED,
    STALE_AFTER,
    RunFolderError,
    host_name,
    process_alive,
    read_manifest,
)
from abm.files import remove_temporary_files, write_atomic

SWEEP_FILE = "sweep.yaml"
CATALOG_FILE = "catalog.parquet"
RUNS_FOLDER = "runs"
PENDING = "pending"


class SweepStoreError(ValueError):
    """A store that cannot take this sweep (another sweep's, or a folder that is not a store)."""


class SweepInterrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """SIGINT or SIGTERM stopped a sweep; the runs in flight were stopped, the rest kept."""

    def __init__(self, signum: int, done: int, total: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.done, self.total = signum, done, total

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class Progress:
    """What a progress display is told after every change: runs done (complete or skipped),
    running, failed, and the total."""

    done: int = 0
    running: int = 0
    failed: int = 0
    skipped: int = 0
    total: int = 0


def run_folder(store: Path, spec: RunSpec) -> Path:
    return store / RUNS_FOLDER / spec.run_id


def check_store(sweep: Sweep, store: Path, reuse: bool = False) -> None:
    """SweepStoreError unless ``store`` can take ``sweep``: a new or empty folder, or a store of
    the same sweep (with ``reuse``, of any sweep). Reads only, so that several stores can all be
    checked before any is written."""
    marker = store / SWEEP_FILE
    if store.exists() and not store.is_dir():
        raise SweepStoreError(f"sweep store {store} is a file; give a folder")
    if marker.is_file():
        old = yaml.safe_load(marker.read_text(encoding="utf-8")) or {}
        if old.get("sweep_hash") != sweep.sweep_hash and not reuse:
            raise SweepStoreError(
                f"sweep store {store} was built from another sweep (file {old.get('sweep_file')}, "
                f"hash {str(old.get('sweep_hash'))[:12]}; this one {sweep.sweep_hash[:12]}); "
                "give another --out, or --reuse to keep its complete runs that match"
            )
    elif store.is_dir() and any(p.name != LOCK_FILE for p in store.iterdir()):
        raise SweepStoreError(
            f"sweep store {store} is not empty and holds no {SWEEP_FILE}; give an empty or new "
            "folder"
        )


def open_store(sweep: Sweep, store: Path, reuse: bool = False) -> None:
    """Make ``store`` ready for ``sweep`` (see :func:`check_store`; with ``reuse`` a store of
    another sweep keeps its complete runs with the same config). Writes ``sweep.yaml``.
    SweepStoreError, changing nothing, when the store cannot take the sweep."""
    check_store(sweep, store, reuse)
    (store / RUNS_FOLDER).mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(sweep.resolved(), sort_keys=False)
    write_atomic(store / SWEEP_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))


LOCK_FILE = ".lock"
"""The store's lock: who is writing it (pid, host, start, heartbeat)."""
LOCK_REFRESH = 30.0
"""Seconds between refreshes of a held lock's heartbeat."""


@contextmanager
def store_lock(store: Path) -> Iterator[None]:
    """Hold ``store``'s lock while the block runs: one sweep writes a store at a time. A lock
    held by a live process is SweepStoreError naming its pid, host and start; a stale one (its
    process gone on this host, or no heartbeat for STALE_AFTER seconds from another host) is
    taken over. The lock is removed when the block ends."""
    lock = store / LOCK_FILE
    store.mkdir(parents=True, exist_ok=True)
    mine = {"pid": os.getpid(), "host": host_name(), "started": _now_text()}
    text = json.dumps(mine)
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None:
                raise SweepStoreError(
                    f"sweep store {store} is being written by another sweep (pid "
                    f"{holder.get('pid')} on {holder.get('host')}, since "
                    f"{holder.get('started')}); wait for it to end or give another --out"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        break
    else:
        raise SweepStoreError(f"sweep store {store}: could not take its lock {lock}")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(LOCK_REFRESH):
            with contextlib.suppress(OSError):
                os.utime(lock)

    threading.Thread(target=beat, daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            if json.loads(lock.read_text(encoding="utf-8")).get("pid") == os.getpid():
                lock.unlink()


def _lock_holder(lock: Path) -> dict | None:
    """Who holds ``lock`` if the holder is alive, else None (stale or unreadable)."""
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
        age = time.time() - lock.stat().st_mtime
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict):
        return None
    if holder.get("host") == host_name():
        pid = holder.get("pid")
        return holder if isinstance(pid, int) and process_alive(pid) else None
    return holder if age <= STALE_AFTER else None


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def is_complete(folder: Path, spec: RunSpec) -> bool:
    """A run to skip: complete, with its metrics, from the same resolved config."""
    try:
        manifest = read_manifest(folder)
    except RunFolderError:
        return False
    return (
        manifest.get("status") == COMPLETE
        and manifest.get("config_hash") == spec.config_hash
        and (folder / METRICS_FILE).is_file()
    )


def run_one(spec: RunSpec, folder: str, full: bool, metrics: list[str] | None) -> None:
    """Run one planned run into ``folder`` (removed first if a partial run is there). Runs in
    a worker: a plain function of picklable arguments; the folder holds its outcome."""
    path = Path(folder)
    if path.exists():
        shutil.rmtree(path)
    config = ModelConfig.model_validate(spec.config)
    execute(config, path, write_tables=full, metrics=metrics)


def catalog(sweep: Sweep, store: Path, errors: dict[str, str] | None = None) -> pd.DataFrame:
    """The store's catalogue, read from its run folders: one row per planned run with its
    grid values, replication, seed, status, timing, host and metrics. ``errors`` (by run id)
    are failures the executor reported for runs that left no manifest saying why (a worker
    that died)."""
    errors = errors or {}
    rows = []
    measured: list[tuple[dict, dict]] = []
    for spec in sweep.runs:
        folder = run_folder(store, spec)
        row: dict = {"run_id": spec.run_id, "point_id": spec.point_id}
        row.update({key: _cell(value) for key, value in spec.values.items()})
        row.update(replication=spec.replication, seed=spec.seed)
        try:
            manifest = read_manifest(folder)
        except RunFolderError:
            manifest = {"status": PENDING}
        complete = is_complete(folder, spec)
        row["status"] = COMPLETE if complete else manifest.get("status", PENDING)
        row["started"] = manifest.get("started")
        row["ended"] = manifest.get("ended")
        row["host"] = manifest.get("host")
        row["seconds"] = manifest.get("wall_seconds")
        row["error"] = manifest.get("error")
        if spec.run_id in errors and row["status"] != COMPLETE:
            row["status"] = FAILED if row["status"] in (PENDING, "running") else row["status"]
            row["error"] = row["error"] or errors[spec.run_id]
        if complete:
            values = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
            row.update(values)
            measured.append((row, values))
        rows.append(row)
    columns = {column for _, values in measured for column in values}
    for row, values in measured:
        returned = {column.split(".", 1)[0] for column in values}
        row.update(
            {
                c: absent_value(c) if c.split(".", 1)[0] in returned else math.nan
                for c in columns
                if c not in values
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("started", "ended"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    frame["seconds"] = frame["seconds"].astype(float)
    return frame


def _cell(value: object) -> object:
    """A grid value as a catalogue cell: scalars as they are, anything else as JSON text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return json.dumps(value, sort_keys=True)


def write_catalog(sweep: Sweep, store: Path, errors: dict[str, str] | None = None) -> pd.DataFrame:
    """Write ``catalog.parquet`` atomically from the run folders; returns it."""
    frame = catalog(sweep, store, errors)
    write_atomic(store / CATALOG_FILE, lambda tmp: frame.to_parquet(tmp, index=False))
    return frame


def local_executor(workers: int) -> ProcessPoolExecutor:
    """Local worker processes, started fresh (``spawn``: no state copied from the caller)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted (in the main thread) rather than raised mid-bookkeeping."""
    fired: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield fired
        return
    previous = {s: signal.signal(s, lambda n, f: fired.append(n)) for s in (2, 15)}
    try:
        yield fired
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_sweep(
    sweep: Sweep,
    store: Path,
    executor: Executor,
    *,
    reuse: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> pd.DataFrame:
    """Run every planned run of ``sweep`` not yet complete in ``store`` on ``executor``, then
    write and return the catalogue. A failed run is recorded (its manifest says why) and the
    sweep goes on. SIGINT or SIGTERM cancel what has not started, stop the executor's workers
    where it owns local processes, write the catalogue and raise SweepInterrupted. The
    one-sweep case of :func:`run_sweeps`."""
    return run_sweeps([(sweep, store)], executor, reuse=reuse, progress=progress)[0]


def run_sweeps(
    sweeps: Sequence[tuple[Sweep, Path]],
    executor: Executor,
    *,
    reuse: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> list[pd.DataFrame]:
    """Run every sweep of ``sweeps`` (each with its own store) on the one ``executor``: the runs
    not yet complete in every store are all submitted at once, so the workers never wait at the
    end of one sweep while another has runs left. Each run is written to its own store, then
    every store's catalogue is written; returns them in the order given.

    Every store is locked and checked before any is written (one refused, another writer's or
    another sweep's, is SweepStoreError and nothing is run); two sweeps into one store are
    refused. A failed run is recorded (its manifest says why) and the rest go on. SIGINT or
    SIGTERM cancel what has not started, stop the executor's workers where it owns local
    processes, write every catalogue and raise SweepInterrupted (runs done and total over all
    the sweeps). ``progress`` is told the state of all the sweeps together."""
    stores = [_store_path(Path(store)) for _, store in sweeps]
    seen: set[Path] = set()
    for store in stores:
        if store.resolve() in seen:
            raise SweepStoreError(f"sweep store {store} is given to two sweeps; give each its own")
        seen.add(store.resolve())
    planned = [(sweep, store) for (sweep, _), store in zip(sweeps, stores, strict=True)]
    with contextlib.ExitStack() as locks:
        for store in stores:
            locks.enter_context(store_lock(store))
        for sweep, store in planned:
            check_store(sweep, store, reuse)
        for sweep, store in planned:
            open_store(sweep, store, reuse)
            remove_temporary_files(store)  # a catalogue half-written by a killed sweep
        return _run_planned(planned, executor, progress)


def _store_path(store: Path) -> Path:
    """``store`` if it can be a store's folder; SweepStoreError (a file, a name not UTF-8)."""
    if store.exists() and not store.is_dir():
        raise SweepStoreError(f"sweep store {store} is a file; give a folder")
    try:
        str(store).encode("utf-8")
    except UnicodeEncodeError:
        raise SweepStoreError(
            "the sweep store's folder name is not valid UTF-8; give a folder whose name is "
            "UTF-8 text"
        ) from None
    return store


def run_ticks(spec: RunSpec) -> float:
    """A run's length in model ticks: what its cost grows with (the paper's studies differ
    mostly in length: 4-hour flash crashes, 24-hour days, 168-hour validation runs)."""
    run = spec.config["run"]
    return run["hours"] * 3600 / run["tick_seconds"]


def longest_first(runs: list[tuple[int, RunSpec]]) -> list[tuple[int, RunSpec]]:
    """``runs`` (sweep index, run) in the order to submit them: longest (most ticks) first,
    ties in the order given. Pools start runs about in the order submitted: a long run started last
    keeps one worker busy while the others idle, started first it overlaps the short ones (the
    longest-processing-time rule of list scheduling). Interleaving the sweeps instead would
    still leave the longest runs (the paper's validation study) wherever they fell."""
    return sorted(runs, key=lambda run: -run_ticks(run[1]))


def _run_planned(
    sweeps: list[tuple[Sweep, Path]],
    executor: Executor,
    progress: Callable[[Progress], None] | None,
) -> list[pd.DataFrame]:
    """:func:`run_sweeps`'s work, with every store open and locked."""
    state = Progress(total=sum(len(sweep.runs) for sweep, _ in sweeps))
    todo: list[tuple[int, RunSpec]] = []
    for index, (sweep, store) in enumerate(sweeps):
        for spec in sweep.runs:
            if is_complete(run_folder(store, spec), spec):
                state.done += 1
                state.skipped += 1
            else:
                todo.append((index, spec))
    pending: dict[Future, tuple[int, RunSpec]] = {}
    errors: list[dict[str, str]] = [{} for _ in sweeps]
    ended: set[int] = set()  # sweeps with runs ended since their catalogue was written

    def write_catalogs(indices: Sequence[int]) -> list[pd.DataFrame]:
        return [write_catalog(*sweeps[index], errors[index]) for index in indices]

    with _stop_on_signals() as fired:
        for index, spec in longest_first(todo):
            sweep, store = sweeps[index]
            full = sweep.data.outputs == "full"
            folder = str(run_folder(store, spec))
            future = executor.submit(run_one, spec, folder, full, sweep.data.metrics)
            pending[future] = (index, spec)
        state.running = sum(f.running() for f in pending)
        if progress:
            progress(state)
        last_catalog = time.monotonic()
        while pending:
            finished, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
            if fired:
                _stop(executor, pending)
                write_catalogs(range(len(sweeps)))
                raise SweepInterrupted(fired[0], state.done, state.total)
            for future in finished:
                index, spec = pending.pop(future)
                ended.add(index)
                try:
                    future.result()
                    state.done += 1
                except (Exception, RunInterrupted) as err:
                    state.failed += 1
                    errors[index][spec.run_id] = f"{type(err).__name__}: {err}"
            running = sum(f.running() for f in pending)
            if finished or running != state.running:
                state.running = running
                if progress:
                    progress(state)
                if time.monotonic() - last_catalog > 10:
                    write_catalogs(sorted(ended))
                    ended.clear()
                    last_catalog = time.monotonic()
    return write_catalogs(range(len(sweeps)))


def _stop(executor: Executor, pending: dict[Future, tuple[int, RunSpec]]) -> None:
    """Cancel what has not started; stop the local worker processes running the rest (their
    runs end ``interrupted`` and are redone on resume)."""
    for future in pending:
        future.cancel()
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()
    executor.shutdown(wait=True, cancel_futures=True)


def failed_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The catalogue's runs that did not complete, with their error."""
    return frame[frame["status"].isin((FAILED, "interrupted", "running", PENDING))]
