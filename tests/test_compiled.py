"""The compiled exchange core and the interpreted one give the same run, byte for byte.

The comparison runs where the core was built (``make compile``) and is skipped, with the reason,
where it was not: a machine without a C compiler runs the sources only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import abm.compiled
from abm.compiled import COMPILED_MODULES, build_is_current, extension_paths
from tests.conftest import TINY_RUN

ROOT = Path(__file__).resolve().parent.parent
BASELINE = str(ROOT / "configs" / "baseline.yaml")

needs_build = pytest.mark.skipif(
    not build_is_current(),
    reason="the exchange core is not compiled here (make compile needs a C compiler)",
)


def run_in_subprocess(out: Path, *, interpreted: bool) -> str:
    """``abm run`` of the tiny run into ``out`` in a fresh interpreter; returns its variant."""
    env = {**os.environ, "ABM_INTERPRETED": "1" if interpreted else "0"}
    overrides = sum((["--set", o] for o in TINY_RUN), [])
    subprocess.run(
        [sys.executable, "-m", "abm.cli", "run", BASELINE, *overrides, "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import abm.compiled, abm.exchange.exchange as e; "
            "print(abm.compiled.variant(), e.__file__)",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return probe.stdout.strip()


@needs_build
def test_compiled_and_interpreted_runs_are_byte_identical(tmp_path):
    compiled = run_in_subprocess(tmp_path / "compiled", interpreted=False)
    interpreted = run_in_subprocess(tmp_path / "interpreted", interpreted=True)
    assert compiled.startswith("compiled ") and not compiled.endswith(".py")
    assert interpreted.startswith("interpreted ") and interpreted.endswith(".py")
    names = sorted(p.name for p in (tmp_path / "compiled").iterdir() if p.name != "manifest.json")
    assert names == sorted(
        p.name for p in (tmp_path / "interpreted").iterdir() if p.name != "manifest.json"
    )
    assert "fills.parquet" in names and "transfers.parquet" in names
    for name in names:
        a = (tmp_path / "compiled" / name).read_bytes()
        b = (tmp_path / "interpreted" / name).read_bytes()
        assert a == b, f"{name} differs between the compiled and the interpreted core"


@needs_build
def test_every_listed_module_has_its_extension():
    for module in COMPILED_MODULES:
        assert extension_paths(module), module


def test_a_build_older_than_a_source_is_not_current(monkeypatch):
    monkeypatch.setattr(abm.compiled, "source_digest", lambda module: "edited since the build")
    assert not build_is_current()


def test_this_process_reports_its_variant():
    expected = (
        "compiled"
        if build_is_current() and os.environ.get("ABM_INTERPRETED", "") in ("", "0")
        else "interpreted"
    )
    assert abm.compiled.variant() == expected
