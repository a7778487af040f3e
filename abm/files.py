"""Atomic file writes, shared by every layer that writes a run's files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``, so a
    reader never sees a half-written file and a failed write leaves nothing behind.

    >>> write_atomic(Path("out.txt"), lambda tmp: tmp.write_text("done"))  # doctest: +SKIP
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
