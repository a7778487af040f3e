"""The configs shipped with the package: where they are, which are run configs, rulebooks,
sweeps and events, each file's one-line description, and the file a config argument names."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from abm.config.base import ConfigError

RULEBOOK_FOLDER = "exchanges"
"""The folder of the shipped configs that holds rulebooks (a section, not a run config)."""


def configs_dir() -> Path:
    """The folder of the shipped configs: ``abm/configs`` inside an installed package (the wheel
    carries the repository's ``configs/`` there), else the repository's ``configs/`` beside the
    package in a source checkout. Either way there is one copy of each file."""
    packaged = resources.files("abm").joinpath("configs")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "configs"


SWEEP_FOLDER = "sweeps"
"""The folder of the shipped configs that holds sweep files (``abm sweep``), not run configs."""
EVENT_FOLDER = "events"
"""The folder of the shipped configs that holds event files (``abm event``), not run configs."""


def _shipped(folder: str | None) -> dict[str, Path]:
    """The shipped YAML files by name: those under ``folder``, or with None those under neither
    the rulebook nor the sweep folder (the run configs)."""
    root = configs_dir()
    found = {}
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        top = name.split("/", 1)[0] if "/" in name else None
        if top == folder or (
            folder is None and top not in (RULEBOOK_FOLDER, SWEEP_FOLDER, EVENT_FOLDER)
        ):
            found[name] = path
    return found


def shipped_configs() -> dict[str, Path]:
    """The run configs shipped with the package by name (``baseline``,
    ``scenarios/long_squeeze``): every YAML file of :func:`configs_dir` but the rulebooks, the
    sweep files and the event files."""
    return _shipped(None)


def shipped_rulebooks() -> dict[str, Path]:
    """The rulebook presets shipped with the package by name (``exchanges/bybit``), for
    ``--set exchange=FILE``."""
    return _shipped(RULEBOOK_FOLDER)


def shipped_sweeps() -> dict[str, Path]:
    """The sweep files shipped with the package by name (``sweeps/leverage_caps``), for
    ``abm sweep``."""
    return _shipped(SWEEP_FOLDER)


def config_summary(path: Path) -> str:
    """A config file's one-line description: the first sentence of its leading comment, cut at
    a comma when it runs past 100 characters, so that ``abm configs`` fits one line a file."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("#"):
            break
        text = text.lstrip("#").strip()
        if not text:
            if lines:
                break
            continue
        lines.append(text)
    sentence = re.split(r"\.(?:\s|$)", " ".join(lines), maxsplit=1)[0]
    if len(sentence) > 100 and ", " in sentence[:100]:
        sentence = sentence[: sentence[:100].rindex(", ")]
    return sentence


def config_path(config: str | Path) -> Path:
    """The file a config argument means: a path that exists, as given; else a shipped run config
    by name (``baseline``, ``scenarios/long_squeeze``, with or without ``.yaml``). A path that
    exists wins over a name. ConfigError listing the names when it is neither."""
    path = Path(config)
    if path.exists():
        return path
    shipped = shipped_configs()
    name = path.as_posix().removesuffix(".yaml")
    if name in shipped:
        return shipped[name]
    raise ConfigError(
        f"config {config} does not exist and is not the name of a shipped config; give a YAML "
        f"file or one of: {', '.join(shipped)} (abm configs lists them)"
    )
