"""Which variant of the exchange core runs: compiled with mypyc, or interpreted.

``make compile`` (part of ``make setup`` where a C compiler is present) compiles the modules of
:data:`COMPILED_MODULES` with mypyc, in place: each extension module sits beside its source and
Python imports it first. Both variants give the same answers to the micro-unit (a test compares
their run folders byte for byte). This module keeps that safe:

- the build writes :data:`BUILD_RECORD`, the SHA-256 of every source it compiled; when any source
  no longer matches (edited since, or another checkout), every compiled module is set aside and
  the sources run instead, with one warning. Compiled modules call each other directly, so a
  partly stale build is never used;
- ``ABM_INTERPRETED=1`` in the environment runs the sources even when the build is current.

:func:`variant` says which one is running; run manifests record it.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parent

COMPILED_MODULES = (
    "abm.exchange.accounts",
    "abm.exchange.backstops",
    "abm.exchange.book",
    "abm.exchange.clock",
    "abm.exchange.exchange",
    "abm.exchange.instrument",
    "abm.exchange.invariants",
    "abm.exchange.ledger",
    "abm.exchange.liquidation",
    "abm.exchange.margin",
    "abm.exchange.matching",
    "abm.exchange.positions",
    "abm.exchange.pricing",
    "abm.exchange.records",
    "abm.exchange.results",
    "abm.exchange.risk",
    "abm.exchange.stops",
    "abm.exchange.thresholds",
    "abm.exchange.units",
)
"""The hot path of a run: matching, margin, settlement, liquidation and the ledger."""

BUILD_RECORD = PACKAGE_ROOT / "exchange" / "compiled.json"
"""Written by the build: ``{"modules": {name: sha256 of its source}, "library": file}``."""

INTERPRETED_VARIABLE = "ABM_INTERPRETED"


def source_path(module: str) -> Path:
    """The source file of one of :data:`COMPILED_MODULES`."""
    return PACKAGE_ROOT.parent.joinpath(*module.split(".")).with_suffix(".py")


def source_digest(module: str) -> str:
    """SHA-256 of a module's source, as the build records it."""
    return hashlib.sha256(source_path(module).read_bytes()).hexdigest()


def extension_paths(module: str) -> list[Path]:
    """The compiled extension files of a module found beside its source."""
    source = source_path(module)
    return [
        path
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (path := source.with_suffix(suffix)).is_file()
    ]


def build_is_current() -> bool:
    """Whether every compiled module is present and was built from its current source."""
    try:
        record = json.loads(BUILD_RECORD.read_text())
    except (OSError, ValueError):
        return False
    built = record.get("modules", {})
    return all(
        built.get(module) == source_digest(module) and extension_paths(module)
        for module in COMPILED_MODULES
    )


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports the compiled modules from their ``.py`` sources, whatever else sits beside."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in COMPILED_MODULES:
            return importlib.util.spec_from_file_location(fullname, source_path(fullname))
        return None


_VARIANT: str | None = None


def variant() -> str:
    """``compiled`` or ``interpreted``: how the exchange core runs in this process, decided at
    the first call (``import abm`` makes it) from the module docstring's rules."""
    global _VARIANT
    if _VARIANT is not None:
        return _VARIANT
    has_extensions = any(extension_paths(module) for module in COMPILED_MODULES)
    if not has_extensions or os.environ.get(INTERPRETED_VARIABLE, "") not in ("", "0"):
        _VARIANT = "interpreted"
    elif build_is_current():
        _VARIANT = "compiled"
    else:
        warnings.warn(
            "the compiled exchange core is older than its sources: running the sources "
            "(rebuild with `make compile`)",
            stacklevel=2,
        )
        _VARIANT = "interpreted"
    if _VARIANT == "interpreted" and has_extensions:
        sys.meta_path.insert(0, _SourcesFirst())
    return _VARIANT
