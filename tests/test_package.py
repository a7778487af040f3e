"""The package stands alone: shipped configs by name, ``abm configs``, ``abm config show``,
``abm --version``, the progress bar only on a terminal, and the wheel installed into a fresh
environment running the baseline from an empty folder."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from abm.cli import Progress, main
from abm.config import ConfigError, configs_dir, load_config, shipped_configs
from abm.experiments.status import require_complete

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
RUN_CONFIGS = {"baseline", "validation", "scenarios/calm_day", "scenarios/long_squeeze"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------- configs by name


def test_every_shipped_run_config_loads_by_name():
    names = shipped_configs()
    assert set(names) >= RUN_CONFIGS
    assert not any(name.startswith("exchanges/") for name in names)
    for name in names:
        load_config(name)
    assert load_config("scenarios/long_squeeze.yaml") == load_config("scenarios/long_squeeze")


def test_a_name_is_the_repository_file_in_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert configs_dir() == ROOT / "configs"
    assert load_config("validation") == load_config(ROOT / "configs/validation.yaml")
    switched = load_config("baseline", ["exchange=exchanges/bybit.yaml"])
    assert switched.exchange.name.startswith("bybit")


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline").write_text(
        f"extends: {ROOT / 'configs/baseline.yaml'}\nrun:\n  hours: 3\n"
    )
    assert load_config("baseline").run.hours == 3


def test_an_unknown_name_lists_the_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("basline")
    message = str(info.value)
    assert "basline" in message and "does not exist" in message
    for name in RUN_CONFIGS:
        assert name in message
    code, _, err = run_cli(capsys, "run", "scenarios/nope", "--out", str(tmp_path / "r"))
    assert code == 2
    assert err.startswith("abm run: config scenarios/nope does not exist")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------ commands


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"abm {VERSION}"


def test_configs_lists_names_and_descriptions(capsys):
    code, out, _ = run_cli(capsys, "configs")
    assert code == 0
    lines = out.splitlines()
    for name in RUN_CONFIGS | {"exchanges/bybit"}:
        (line,) = [row for row in lines if row.split()[:1] == [name]]
        assert len(line.split()) > 2, line
    assert "Long squeeze: an intraday crash like 19 May 2021" in out


def test_config_show_prints_every_key_with_its_range(capsys):
    code, out, _ = run_cli(
        capsys, "config", "show", "baseline", "--set", "exchange.max_leverage=20"
    )
    assert code == 0
    assert "  hours: 24.0" in out
    assert "# 0 < x <= 8,760" in out
    assert "  max_leverage: 20.0" in out
    assert "one of: last, index_basis, binance_median" in out
    assert "maintenance margin rate" in out
    sections = [line.split()[0].rstrip(":") for line in out.splitlines() if not line[0].isspace()]
    assert sections == list(load_config("baseline").model_dump())
    for line in out.splitlines():
        if line.strip().startswith(("count:", "hours:", "mmr:", "seed:")):
            assert "#" in line, line


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--set", "retail.bogus=1"], ["retail.bogus", "unknown key"]),
        (["--set", "run.hours=-1"], ["run.hours", "greater than 0"]),
        (["nope"], ["nope", "does not exist", "baseline"]),
    ],
    ids=["unknown-key", "out-of-range", "unknown-name"],
)
def test_config_show_mistakes_are_one_message(capsys, argv, fragments):
    code, out, err = run_cli(capsys, "config", "show", *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("abm config show: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


def test_citation_matches_the_package():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == VERSION
    assert citation["license"] == "MIT"
    assert citation["authors"] == [{"name": "the abm authors"}]
    assert citation["title"] and citation["abstract"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress()
    for done in (100, 200):
        progress(done, 200)
    assert "200/200" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    progress = Progress()
    progress(100, 200)
    progress.close()
    assert piped.getvalue() == ""


# -------------------------------------------------------------- the wheel, installed alone


NETWORK = ("network", "offline", "not found in the cache", "failed to fetch", "dns")


def uv_binary() -> str:
    found = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools/bin/uv")
    if not Path(found).is_file():
        pytest.skip("uv is not available to build and install the wheel")
    return found


def uv(*args: str, cwd: Path = ROOT) -> None:
    """Run ``uv ARGS``, from the cache first (``--offline``, the machine may have no network),
    then with the network; skip the test only when the packages cannot be had either way."""
    errors = []
    for extra in (["--offline"], []):
        done = subprocess.run(
            [uv_binary(), *args, *extra], cwd=cwd, capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return
        errors.append(done.stderr)
    if all(any(word in e.lower() for word in NETWORK) for e in errors):
        pytest.skip(f"uv {args[0]}: packages neither in the uv cache nor reachable: {errors[-1]}")
    pytest.fail(f"uv {' '.join(args)} failed:\n{errors[-1]}")


@pytest.mark.slow
def test_the_wheel_runs_the_baseline_from_an_empty_folder(tmp_path):
    """Build the wheel, install it with the locked dependencies into a new virtual environment
    and, from an empty folder, ask its version, list its configs and run the baseline by name."""
    uv("build", "--wheel", "--out-dir", str(tmp_path / "dist"))
    (wheel,) = (tmp_path / "dist").glob("abm-*.whl")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    uv("venv", str(venv), "--python", sys.executable)
    pylock = tmp_path / "pylock.toml"
    uv(
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--format",
        "pylock.toml",
        "-o",
        str(pylock),
    )
    uv("pip", "install", "--python", str(python), "-r", str(pylock))
    uv("pip", "install", "--python", str(python), str(wheel))
    uv("pip", "check", "--python", str(python))

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}

    def abm(*argv: str) -> str:
        done = subprocess.run(
            [str(venv / "bin" / "abm"), *argv],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert abm("--version").strip() == f"abm {VERSION}"
    listing = abm("configs")
    assert str(venv) in listing.splitlines()[0]
    for name in RUN_CONFIGS:
        assert f"  {name} " in listing
    assert "hours: 168.0" in abm("config", "show", "validation")
    assert "bybit" in abm(
        "config", "show", "scenarios/long_squeeze", "--set", "exchange=exchanges/bybit.yaml"
    )
    summary = abm("run", "baseline", "--set", "run.hours=1", "--out", "out")
    assert "1 simulated hour in" in summary
    manifest = require_complete(empty / "out")
    assert manifest["status"] == "complete"
    assert manifest["tick"] == manifest["ticks"] == 3_600
    assert sorted(p.name for p in empty.iterdir()) == ["out"]
