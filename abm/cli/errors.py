"""How every ``abm`` command reports a user's mistake (a bad config, an unusable output folder, a
run folder that is not complete): ``abm <command>: <message>`` on stderr and exit status 2,
without a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

USER_ERROR = 2
"""The exit status of a user's mistake."""


def fail(command: str, message: object) -> int:
    """Print ``abm COMMAND: MESSAGE`` on stderr and return :data:`USER_ERROR`, the exit status:
    ``return fail("run", err)``."""
    print(f"abm {command}: {message}", file=sys.stderr)
    return USER_ERROR


def unreadable(run_dir: Path, err: Exception) -> str:
    """The message for a run folder with a file that cannot be read: what failed, and how to make
    the run again."""
    return (
        f"{run_dir} has a file that cannot be read ({type(err).__name__}: {err}); run it again "
        f"(abm run ... --out {run_dir} --overwrite)"
    )
