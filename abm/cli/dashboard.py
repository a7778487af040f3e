"""``abm dashboard``: serve the interactive page (:mod:`abm.dashboard.app`) with Solara, bound to
127.0.0.1 unless ``--host`` says otherwise.

The config, the overrides and a replayed run folder are checked before the server starts: a
mistake prints ``abm dashboard: <message>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from abm.cli.common import CONFIG_HELP
from abm.cli.errors import fail
from abm.config import ConfigError

LOOPBACK = "127.0.0.1"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts that serve this machine only; any other gets a warning."""


def add_dashboard_parser(commands: argparse._SubParsersAction) -> None:
    """``abm dashboard [CONFIG] [--set ...] [--replay RUN_DIR] [--port N] [--host HOST]``."""
    dashboard = commands.add_parser(
        "dashboard",
        help="an interactive page (Mesa SolaraViz): run the model live, or replay a run folder",
        description="Serve the dashboard on http://HOST:PORT/ until interrupted (Ctrl-C).",
    )
    dashboard.add_argument("config", nargs="?", help=CONFIG_HELP)
    dashboard.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable)",
    )
    dashboard.add_argument("--replay", type=Path, metavar="RUN_DIR", help="play back a run folder")
    dashboard.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any)")
    dashboard.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"interface to listen on (default {LOOPBACK}; 0.0.0.0 exposes it to the network)",
    )


def dashboard_request(args: argparse.Namespace) -> dict:
    """What the page is to show, checked: ValueError naming what is wrong."""
    if args.replay is not None:
        if args.config or args.set:
            raise ValueError("--replay plays a finished run folder: give no CONFIG or --set")
        from abm.experiments.status import RunFolderError, require_complete

        try:
            require_complete(args.replay)
        except RunFolderError as err:
            raise ValueError(str(err)) from err
        for name in ("ticks", "liquidation_map", "liquidation_attribution"):
            if not (args.replay / f"{name}.parquet").is_file():
                raise ValueError(
                    f"{args.replay} has no {name}.parquet: replay needs a run written with "
                    "full outputs (abm run)"
                )
        return {"replay": str(args.replay.resolve())}
    from abm.dashboard.model import base_config

    try:
        base_config(args.config, args.set)
    except ConfigError as err:
        raise ValueError(str(err)) from err
    config = args.config
    if config is not None and Path(config).exists():
        config = str(Path(config).resolve())
    return {"config": config, "set": list(args.set)}


def dashboard_command(args: argparse.Namespace) -> int:
    """``abm dashboard``: check the request, then serve the page until interrupted."""
    if not 0 <= args.port <= 65_535:
        return fail("dashboard", f"--port {args.port}: a port is 0 to 65535")
    if importlib.util.find_spec("solara") is None:
        return fail("dashboard", "needs solara: pip install 'abm[dashboard]'")
    try:
        request = dashboard_request(args)
    except ValueError as err:
        return fail("dashboard", err)
    env = {**os.environ, "ABM_DASHBOARD": json.dumps(request)}
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "abm.dashboard.app",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--production",
        "--no-open",
    ]
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"abm dashboard: warning: --host {args.host} serves the page beyond this machine: "
            "anyone who reaches the port can run models with its controls; the default, "
            f"{LOOPBACK}, keeps it to this machine",
            file=sys.stderr,
            flush=True,
        )
    print(f"abm dashboard: http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    return serve(command, env)


def serve(command: list[str], env: dict[str, str], grace_seconds: float = 10.0) -> int:
    """Run the server ``command`` in a process group of its own until it ends or this process
    gets SIGINT or SIGTERM; then stop the whole group (the signal, then SIGKILL after
    ``grace_seconds``), so that no server child is left holding the port. Returns the
    server's exit status, or 128 + the signal's number when a signal stopped it."""
    server = subprocess.Popen(command, env=env, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                status = server.wait(timeout=0.5 if not received else grace_seconds)
                break
            except subprocess.TimeoutExpired:
                if received:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(server.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # whatever the server left in its group
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 + received[0] if received else status
