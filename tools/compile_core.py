"""Compile the exchange core with mypyc, in place, and record what was built.

Usage: ``python tools/compile_core.py`` (``make compile``) builds every module of
:data:`abm.compiled.COMPILED_MODULES` into an extension module beside its source and writes
:data:`abm.compiled.BUILD_RECORD`; ``--clean`` removes them, so the sources run. Needs a C
compiler and the ``mypy`` and ``setuptools`` packages (the project's dev dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from abm.compiled import (
    BUILD_RECORD,
    COMPILED_MODULES,
    extension_paths,
    source_digest,
    source_path,
)

ROOT = Path(__file__).resolve().parent.parent


def clean() -> None:
    """Remove the extension modules, the shared library and the build record."""
    try:
        record = json.loads(BUILD_RECORD.read_text())
    except (OSError, ValueError):
        record = {}
    for module in COMPILED_MODULES:
        for path in extension_paths(module):
            path.unlink()
    library = record.get("library")
    if library:
        (ROOT / library).unlink(missing_ok=True)
    BUILD_RECORD.unlink(missing_ok=True)


def build() -> None:
    """Compile in a temporary build folder, then move the results into the package."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    clean()
    digests = {module: source_digest(module) for module in COMPILED_MODULES}
    sources = [str(source_path(module).relative_to(ROOT)) for module in COMPILED_MODULES]
    with tempfile.TemporaryDirectory(prefix="abm-mypyc-") as scratch:
        os.chdir(ROOT)
        extensions = mypycify(sources, opt_level="3", target_dir=str(Path(scratch) / "c"))
        dist = Distribution({"name": "abm-core", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        command.build_lib = str(Path(scratch) / "lib")
        command.build_temp = str(Path(scratch) / "temp")
        command.parallel = os.cpu_count() or 1
        dist.run_command("build_ext")
        library = None
        for built in sorted(Path(scratch, "lib").rglob("*.so")):
            relative = built.relative_to(Path(scratch, "lib"))
            shutil.copy2(built, ROOT / relative)
            if len(relative.parts) == 1:
                library = str(relative)
    BUILD_RECORD.write_text(
        json.dumps({"modules": digests, "library": library}, indent=2, sort_keys=True) + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args()
    if args.clean:
        clean()
        print("compiled exchange core removed: the sources run")
        return 0
    build()
    print(f"compiled {len(COMPILED_MODULES)} modules of the exchange core with mypyc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
