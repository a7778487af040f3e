"""The paper's pipeline on tiny studies (make paper-smoke): studies (all in one pool), inserts,
figures, PDF; and the rule that the manuscript types no number by hand."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "paper"


def load_build():
    spec = importlib.util.spec_from_file_location("paper_build", PAPER / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()


def test_typed_numbers_finds_digits_outside_inserts_strings_references_and_labels():
    assert build.typed_numbers("falls by #n.cap20_liquidations_count_diff (@sec-model)") == []
    assert build.typed_numbers('#fig("leverage_caps", [Caps.]) <fig-caps> // 125x') == []
    assert build.typed_numbers("/* 2024 */ see @cont2001empirical") == []
    assert build.typed_numbers("a cap of 20x cuts liquidations by 3.5%") == ["20", "3", "5"]
    assert build.typed_numbers("the #n.cap_top cap and 7 runs") == ["7"]


def test_the_manuscript_types_no_number_by_hand():
    sources = build.manuscript_sources()
    assert len(sources) > 5
    typed = {p.name: build.typed_numbers(p.read_text(encoding="utf-8")) for p in sources}
    assert {name: found for name, found in typed.items() if found} == {}


def test_every_study_goes_to_one_pool_and_a_study_left_incomplete_is_named(
    monkeypatch, tmp_path, capsys
):
    """run_studies hands all seven studies to one run_sweeps call on one executor; a study whose
    runs did not all complete stops the build with its name, count and store."""
    calls = []

    def run_sweeps(sweeps, executor, progress=None):
        calls.append(([store for _, store in sweeps], executor))
        frames = [pd.DataFrame({"status": ["complete"] * len(s.runs)}) for s, _ in sweeps]
        frames[build.STUDIES.index("stop_loss")].loc[[0, 3], "status"] = "failed"
        return frames

    monkeypatch.setattr(build, "run_sweeps", run_sweeps)
    monkeypatch.setattr(build, "sweep_executor", lambda workers: contextlib.nullcontext("pool"))
    with pytest.raises(SystemExit) as stop:
        build.run_studies(True, tmp_path, 2)
    store = tmp_path / "stores" / "stop_loss"
    assert str(stop.value) == f"study stop_loss: 2 runs did not complete: see {store}"
    assert calls == [([tmp_path / "stores" / name for name in build.STUDIES], "pool")]
    printed = capsys.readouterr().out.splitlines()
    assert (
        printed[0]
        == f"study where_money_goes: 2 runs -> {tmp_path / 'stores' / 'where_money_goes'}"
    )
    assert len(printed) == len(build.STUDIES)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    """make paper-smoke, from nothing, into a temporary folder (never the source tree)."""
    out = tmp_path_factory.mktemp("paper") / "build-smoke"
    subprocess.run(
        [sys.executable, str(PAPER / "build.py"), "--smoke", "--workers", "2", "--out", str(out)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return out


@pytest.mark.slow
def test_the_smoke_build_writes_the_pdf_from_its_inserts(smoke):
    pdf = smoke / "paper.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    numbers = json.loads((smoke / "numbers.json").read_text())
    used = set()
    for path in build.manuscript_sources():
        used |= set(re.findall(r"#\(?n\.(\w+)", path.read_text(encoding="utf-8")))
    assert used and used <= set(numbers), sorted(used - set(numbers))
    for name in ("validation", "money_received", "leverage_caps", "backstops", "venues"):
        rows = (smoke / "tables" / f"{name}.csv").read_text().splitlines()
        assert len(rows) >= 2, name
    for name in ("leverage_caps", "backstops", "stop_loss", "loss_by_trait"):
        for suffix in ("svg", "pdf", "png"):
            assert (smoke / "figures" / f"{name}.{suffix}").stat().st_size > 0


@pytest.mark.slow
def test_the_same_inserts_give_the_same_pdf(smoke):
    first = (smoke / "paper.pdf").read_bytes()
    assert build.compile_pdf(smoke).read_bytes() == first


@pytest.mark.slow
def test_a_rerun_reuses_every_complete_study_run(smoke):
    """make paper again: no study runs again; the stores keep their catalogue."""
    before = {p: p.stat().st_mtime_ns for p in smoke.glob("stores/*/runs/*/metrics.json")}
    assert before
    subprocess.run(
        [sys.executable, str(PAPER / "build.py"), "--smoke", "--workers", "1", "--out", str(smoke)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    after = {p: p.stat().st_mtime_ns for p in smoke.glob("stores/*/runs/*/metrics.json")}
    assert after == before


def load_archive():
    spec = importlib.util.spec_from_file_location("paper_archive", PAPER / "archive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


archive = load_archive()


def test_archive_refuses_a_build_that_is_not_there(tmp_path):
    with pytest.raises(archive.ArchiveError, match="run make paper-smoke first"):
        archive.build_archive(tmp_path / "build-smoke", tmp_path / "out", smoke=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_archive_bundles_the_build_and_every_study_with_checksums(smoke, tmp_path):
    import hashlib
    import zipfile

    first = archive.build_archive(smoke, tmp_path / "one", smoke=True)
    second = archive.build_archive(smoke, tmp_path / "two", smoke=True)
    assert first.read_bytes() == second.read_bytes()
    bundle = first.with_suffix("")
    for study in build.STUDIES:
        assert (bundle / "studies" / study / "catalog.parquet").is_file()
    assert (bundle / "paper.pdf").read_bytes() == (smoke / "paper.pdf").read_bytes()
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in sums}
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert set(listed) == files - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names) and f"{bundle.name}/versions.json" in names
