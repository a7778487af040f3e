"""Write the paper's citable bundle for a data repository (Zenodo, OSF, Dataverse): the PDF, every
number, table and figure, the studies' sweep files, catalogues, summaries and indices, the
configs, the versions it was built with and a SHA-256 checksum of every file.

    python paper/archive.py [--smoke] [--out DIR]    # make archive: paper/build/archive/

The bundle is a folder and a ``.zip`` of it beside, named for the model version and commit
(``abm-paper-0.1.0-1a2b3c4``). It is written from a finished build (``make paper`` first);
nothing is run. The zip's entries are in name order with a fixed date, so the same build gives
the same zip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

PAPER = Path(__file__).resolve().parent
ROOT = PAPER.parent
STORE_FILES = (
    "sweep.yaml",
    "catalog.parquet",
    "summary.csv",
    "interval_narrowing.csv",
    "sensitivity.csv",
)
"""What of each study's store goes in the bundle (run folders stay out: the catalogue holds
every run's metrics, seed and config hash)."""
PACKAGES = ("mesa", "numpy", "scipy", "pandas", "pyarrow", "networkx", "pydantic", "salib", "typst")
ZIP_DATE = (2026, 1, 1, 0, 0, 0)


class ArchiveError(ValueError):
    """A build that cannot be archived: what is missing and what to run."""


def versions() -> dict[str, str]:
    """The model's version and commit, Python's, the platform's and the main packages'."""
    from paper.build import git_commit

    found = {"abm": metadata.version("abm"), "commit": git_commit()}
    found["python"] = platform.python_version()
    found["platform"] = platform.platform()
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def study_stores(build: Path, smoke: bool) -> dict[str, Path]:
    """Each study's store (``results/sweeps/NAME``, or the smoke build's own)."""
    from paper.build import STUDIES

    root = build / "stores" if smoke else ROOT / "results" / "sweeps"
    return {name: root / name for name in STUDIES}


def build_archive(build: Path, out: Path, smoke: bool = False) -> Path:
    """Copy the build and the studies into ``out/abm-paper-VERSION-COMMIT`` with
    ``versions.json``, ``SHA256SUMS`` and a ``README.md``, zip it beside; returns the zip.
    ArchiveError naming what is missing when the build or a study is not complete."""
    needed = [build / "paper.pdf", build / "numbers.json", build / "tables", build / "figures"]
    missing = [str(p) for p in needed if not p.exists()]
    stores = study_stores(build, smoke)
    missing += [
        str(s / "catalog.parquet") for s in stores.values() if not (s / "catalog.parquet").is_file()
    ]
    if missing:
        command = "make paper-smoke" if smoke else "make paper"
        raise ArchiveError(
            f"nothing to archive yet: {', '.join(missing)} missing; run {command} first"
        )
    found = versions()
    name = f"abm-paper-{found['abm']}-{found['commit']}"
    bundle = out / name
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    for item in ("paper.pdf", "numbers.json"):
        shutil.copy2(build / item, bundle / item)
    for folder in ("tables", "figures"):
        shutil.copytree(build / folder, bundle / folder)
    for study, store in stores.items():
        for file in STORE_FILES:
            if (store / file).is_file():
                target = bundle / "studies" / study / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(store / file, target)
    shutil.copytree(ROOT / "configs", bundle / "configs")
    shutil.copytree(PAPER / "sections", bundle / "manuscript" / "sections")
    for source in ("paper.typ", "template.typ"):
        shutil.copy2(PAPER / source, bundle / "manuscript" / source)
    (bundle / "versions.json").write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    (bundle / "README.md").write_text(readme(name, found, stores), encoding="utf-8")
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    sums = "".join(f"{sha256(p)}  {p.relative_to(bundle).as_posix()}\n" for p in files)
    (bundle / "SHA256SUMS").write_text(sums, encoding="utf-8")
    archive = out / f"{name}.zip"
    partial = archive.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zipped:
        files = sorted(bundle.rglob("*"), key=lambda p: p.relative_to(bundle).as_posix())
        for path in (p for p in files if p.is_file()):
            entry = zipfile.ZipInfo(f"{name}/{path.relative_to(bundle).as_posix()}", ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(entry, path.read_bytes())
    partial.replace(archive)
    return archive


def readme(name: str, found: dict[str, str], stores: dict[str, Path]) -> str:
    """The bundle's README: what it holds, how it was made and how to make it again."""
    lines = [
        f"# {name}",
        "",
        "Results of the paper on `abm`, an agent-based model of a leveraged Bitcoin",
        "perpetual-futures market: the article, every number, table and figure it quotes, and the",
        "studies behind them.",
        "",
        f"- model version {found['abm']}, commit {found['commit']}, Python {found['python']}",
        "- `paper.pdf`: the article; `numbers.json`: every number its text quotes (`#n.key`);",
        "  `tables/`, `figures/`: every table and figure",
        "- `studies/NAME/`: each study's sweep as run (`sweep.yaml`, with the root seed of its",
        "  replications), its catalogue (one row per run: seed, config hash, every metric),",
        "  its summary (means, 95% intervals, paired differences) and, for a sensitivity",
        "  study, its indices",
        "- `configs/`: the model's configs, rulebook presets, scenarios and sweep files",
        "- `manuscript/`: the Typst sources; `versions.json`: the packages it was built with",
        "- `SHA256SUMS`: a checksum of every other file (`sha256sum -c SHA256SUMS`)",
        "",
        "Studies: " + ", ".join(stores) + ".",
        "",
        "To make it again: check out the commit, then `make paper` and `make archive`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="archive the smoke build")
    parser.add_argument("--out", type=Path, default=None, help="where (default: BUILD/archive)")
    args = parser.parse_args(argv)
    build = PAPER / ("build-smoke" if args.smoke else "build")
    try:
        archive = build_archive(build, args.out or build / "archive", args.smoke)
    except ArchiveError as err:
        print(f"make archive: {err}", file=sys.stderr)
        return 2
    print(archive)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
