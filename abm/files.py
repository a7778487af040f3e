"""Atomic file writes, shared by every layer that writes a run's files."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` (``.NAME.RANDOM.tmp``) for writing it atomically."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMPORARY_SUFFIX}")


def remove_temporary_files(folder: Path) -> list[Path]:
    """Remove the temporary files :func:`write_atomic` leaves when a process dies mid-write."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMPORARY_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``, so a
    reader never sees a half-written file and a failed write leaves nothing behind.

    The file is created with mode 0o666 less the process's umask, like any file the user
    creates (``tempfile.mkstemp`` would make it 0o600, unreadable by colleagues sharing a
    project folder).

    >>> write_atomic(Path("out.txt"), lambda tmp: tmp.write_text("done"))  # doctest: +SKIP
    """
    path = Path(path)
    while True:
        tmp = temporary_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    try:
        os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
