"""What a run folder holds, as every reader (``abm flows``, ``abm figures``, sweeps) judges it.

A run writes ``manifest.json`` before its first tick with status ``running``, its process id,
its host and a heartbeat that a background thread refreshes every ``HEARTBEAT_EVERY`` seconds,
and rewrites it at the end with ``complete``, ``failed`` (and the error) or ``interrupted`` (and
the signal and the tick reached). A run killed outright (SIGKILL, an out-of-memory kill, a
crashed node) leaves ``running`` behind; :func:`run_status` calls it ``dead`` when its process no
longer runs on this host, or when its heartbeat is older than ``STALE_AFTER`` seconds (the only
sign readers on another host have).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

COMPLETE = "complete"
RUNNING = "running"
DEAD = "dead"
FAILED = "failed"
INTERRUPTED = "interrupted"
NOT_A_RUN = "not a run"

HEARTBEAT_EVERY = 30.0
"""Seconds between two heartbeats of a running run."""

STALE_AFTER = 600.0
"""A ``running`` manifest whose heartbeat is older than this many seconds is ``dead``."""


class RunFolderError(Exception):
    """A folder that cannot be read as, or written as, a run folder; the message says why."""


class RunStatus(NamedTuple):
    status: str
    """One of ``complete``, ``running``, ``dead``, ``failed``, ``interrupted``, ``not a run``."""
    reason: str
    """What the manifest says about it, in words."""


def host_name() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (any user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def read_manifest(run_dir: str | Path) -> dict:
    """The folder's ``manifest.json``; RunFolderError if it is missing or unreadable."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunFolderError(
            f"{path} is not a folder" if path.exists() else f"{path} does not exist"
        )
    file = path / "manifest.json"
    if not file.is_file():
        raise RunFolderError(f"{path} is not a run folder (no manifest.json)")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{file} cannot be read ({err})") from err
    if not isinstance(manifest, dict) or "status" not in manifest:
        raise RunFolderError(f"{file} is not a run manifest (no status)")
    return manifest


def _age_seconds(stamp: object, now: datetime) -> float | None:
    try:
        then = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (now - then).total_seconds()


def _progress(manifest: dict) -> str:
    tick, ticks = manifest.get("tick"), manifest.get("ticks")
    if isinstance(tick, int) and isinstance(ticks, int):
        return f"tick {tick:,} of {ticks:,}"
    return "tick unknown"


def run_status(run_dir: str | Path, now: datetime | None = None) -> RunStatus:
    """The status of a run folder and why, from its manifest (see the module docstring).

    >>> run_status("results/baseline-seed42-...")  # doctest: +SKIP
    RunStatus(status='dead', reason="its process 4242 on node7 no longer runs (killed?); ...")
    """
    try:
        manifest = read_manifest(run_dir)
    except RunFolderError as err:
        return RunStatus(NOT_A_RUN, str(err))
    status = manifest["status"]
    if status == COMPLETE:
        return RunStatus(COMPLETE, f"ended {manifest.get('ended')}")
    if status == FAILED:
        return RunStatus(FAILED, str(manifest.get("error") or "the run failed"))
    if status == INTERRUPTED:
        how = manifest.get("signal") or "a signal"
        return RunStatus(INTERRUPTED, f"stopped by {how} at {_progress(manifest)}")
    if status != RUNNING:
        return RunStatus(NOT_A_RUN, f"manifest.json has an unknown status {status!r}")
    now = now or datetime.now(UTC)
    pid, host = manifest.get("pid"), manifest.get("host")
    age = _age_seconds(manifest.get("heartbeat"), now)
    last = "no heartbeat" if age is None else f"last heartbeat {age:,.0f} s ago"
    where = f"process {pid} on {host}"
    if not isinstance(pid, int) or not host:
        return RunStatus(
            DEAD,
            f"status 'running' without a process id or host; started {manifest.get('started')}",
        )
    if host == host_name():
        if not process_alive(pid):
            return RunStatus(
                DEAD, f"its {where} no longer runs (killed?); {last}, {_progress(manifest)}"
            )
        if age is not None and age > STALE_AFTER:
            return RunStatus(
                DEAD,
                f"its {where} exists but has written no heartbeat for {age:,.0f} s "
                f"(suspended, hung, or the id was reused); {_progress(manifest)}",
            )
        return RunStatus(RUNNING, f"{where}, {last}, {_progress(manifest)}")
    if age is None or age > STALE_AFTER:
        return RunStatus(
            DEAD, f"its {where} has written no heartbeat for over {STALE_AFTER:,.0f} s ({last})"
        )
    return RunStatus(RUNNING, f"{where}, {last}, {_progress(manifest)}")


def require_complete(run_dir: str | Path) -> dict:
    """The manifest of a complete run folder whose Parquet files are whole; RunFolderError
    saying what the folder is otherwise (running, dead, failed, interrupted, not a run, or a
    damaged file)."""
    path = Path(run_dir)
    status, reason = run_status(path)
    if status == NOT_A_RUN:
        raise RunFolderError(reason)
    if status == RUNNING:
        raise RunFolderError(f"{path} is still running ({reason}); wait until it completes")
    if status != COMPLETE:
        raise RunFolderError(
            f"{path} is not a complete run: {status}, {reason}; run it again (abm run ... "
            f"--out {path} --overwrite)"
        )
    check_parquet_files(path)
    manifest = read_manifest(path)
    check_manifest_config(path, manifest)
    return manifest


def check_parquet_files(run_dir: Path) -> None:
    """RunFolderError naming the first Parquet file in the folder whose footer cannot be read
    (a truncated or overwritten file), whose columns are not the ones :mod:`abm.outputs`
    declares for it (a column missing or of another type: a file written by something else),
    or, for ``ticks.parquet``, that has no rows. Reading footers only, this is cheap."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from abm.outputs import OUTPUTS, required

    for file in sorted(Path(run_dir).glob("*.parquet")):
        try:
            metadata = pq.read_metadata(file)
            schema = metadata.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as err:
            raise RunFolderError(
                f"{file} is damaged (truncated or not Parquet: {err}); run it again"
            ) from err
        declared = OUTPUTS.get(file.name)
        if declared is None:
            continue
        for column in declared.columns:
            if column.name not in schema.names and not required(declared, column):
                continue
            if column.name not in schema.names:
                raise RunFolderError(
                    f"{file} has no column {column.name!r} ({column.description}); it was not "
                    "written by this version of abm run, or was changed: run it again"
                )
            found = schema.field(column.name).type
            if found != column.type:
                raise RunFolderError(
                    f"{file}: column {column.name!r} is {found}, expected {column.type}; it was "
                    "not written by this version of abm run, or was changed: run it again"
                )
        if file.name == "ticks.parquet" and metadata.num_rows == 0:
            raise RunFolderError(f"{file} has no rows; a run records at least its first tick")


def check_manifest_config(run_dir: Path, manifest: dict) -> None:
    """RunFolderError unless the manifest's ``config`` holds what readers of the folder use:
    the instrument (``exchange.tick_size``, ``exchange.lot_size``) and the clock
    (``run.tick_seconds``), as positive numbers."""
    config = manifest.get("config")
    where = f"{Path(run_dir) / 'manifest.json'}"
    if not isinstance(config, dict):
        raise RunFolderError(f"{where} has no config (the resolved run config); run it again")
    for section, key in (
        ("exchange", "tick_size"),
        ("exchange", "lot_size"),
        ("run", "tick_seconds"),
    ):
        value = config.get(section, {}).get(key) if isinstance(config.get(section), dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise RunFolderError(
                f"{where}: config {section}.{key} is {value!r}, expected a positive number; "
                "the manifest was changed: run it again"
            )
