"""``--set`` overrides: ``key.sub=value`` (the value read as YAML) sets a key, ``section=FILE``
replaces a section by a YAML file; section files apply first, so a key given explicitly always
wins. Also the same for Python callers (:func:`override_config`), and where each value of a
resolved config came from (:func:`value_sources`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from abm.config.base import ConfigError, SectionFileError, describe_errors
from abm.config.catalogue import configs_dir, shipped_rulebooks
from abm.config.describe import yaml_scalar
from abm.config.model import ModelConfig
from abm.config.reader import load_yaml_text, read_yaml, yaml_limit_message


def parse_override(text: str) -> tuple[list[str], Any]:
    """``key.sub=value`` -> (["key", "sub"], value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. exchange.max_leverage=20")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be dotted names, e.g. retail.count")
    try:
        value = load_yaml_text(raw)
    except ValueError as err:
        limit = yaml_limit_message(err)
        if limit is None:
            raise
        raise ConfigError(f"--set {key}=...: the value {limit}") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"--set {text!r}: the value {raw!r} is not valid YAML ({problem}); write lists as "
            "[1, 2] and quote text that holds YAML punctuation"
        ) from err
    return key.split("."), value


def _is_section(path: list[str], current: Any) -> bool:
    """Whether ``path`` names a section (a mapping) of a model config."""
    if isinstance(current, dict):
        return True
    if len(path) == 1 and path[0] in ModelConfig.model_fields:
        annotation = ModelConfig.model_fields[path[0]].annotation
        return isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return False


def _override_file(label: str, name: str, config_path: Path | None) -> Path:
    """The YAML file named by ``--set section=FILE``: relative to the current folder, or else to
    the config file's folder, a folder above it, or the shipped configs' folder, so that the
    names ``abm configs`` prints work (``exchanges/bybit``, with or without ``.yaml``). ``label``
    names the override in the error."""
    given = Path(name)
    names = [given] if given.suffix else [given, given.with_name(f"{given.name}.yaml")]
    candidates = list(names)
    if not given.is_absolute():
        folders = [] if config_path is None else [config_path.resolve().parent]
        folders += [*(folders[0].parents if folders else ()), configs_dir()]
        candidates += [folder / n for folder in folders for n in names]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = "" if config_path is None else f", next to {config_path} or in a folder above it"
    raise SectionFileError(
        f"{label}: a section takes key=value inside it (e.g. exchange.max_leverage=20) "
        f"or a YAML file that replaces it, and there is no file {name!r} in the current "
        f"folder{where} or among the shipped configs (rulebooks: "
        f"{', '.join(shipped_rulebooks())})"
    )


def _replaces_section(path: list[str], value: Any, data: dict[str, Any]) -> bool:
    """Whether the override ``path=value`` replaces a whole section by a file
    (``exchange=FILE`` or ``exchange.extends=FILE``) rather than setting a key."""
    if path[-1] == "extends":
        return True
    node: Any = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    current = node.get(path[-1]) if isinstance(node, dict) else None
    return isinstance(value, str) and _is_section(path, current)


def section_files_first(
    data: dict[str, Any], overrides: list[tuple[list[str], Any, str]]
) -> list[tuple[list[str], Any, str]]:
    """Overrides ``(path, value, text)`` in the order they apply: every section file first
    (``exchange=exchanges/bybit.yaml``, in the order given), then every key (in the order given),
    so that a key set explicitly always wins over a section file, wherever it stands on the
    command line: ``--set exchange.max_leverage=20 --set exchange=exchanges/bybit.yaml`` runs
    Bybit's rulebook at 20x."""
    files = [o for o in overrides if _replaces_section(o[0], o[1], data)]
    keys = [o for o in overrides if not _replaces_section(o[0], o[1], data)]
    return files + keys


def apply_overrides(
    data: dict[str, Any],
    overrides: list[str],
    config_path: str | Path | None = None,
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Apply ``--set`` overrides to a config mapping (a copy is returned).

    ``section.key=value`` sets one key. ``section=FILE`` (or ``section.extends=FILE``) replaces
    the whole section by the YAML file's mapping (its own ``extends:`` followed), e.g.
    ``--set exchange=exchanges/bybit.yaml`` switches venue; FILE is looked up relative to the
    current folder, then to ``config_path``'s folder and the folders above it. Section files
    apply first and keys after them, each in the order given (:func:`section_files_first`): a
    key given explicitly always wins over a section file. ``sources``, when given, receives
    for each dotted key or section an override set the override's text (later ones replace
    earlier ones); :func:`value_sources` turns it into the source of each changed value."""
    result = dict(data)
    base = None if config_path is None else Path(config_path)
    parsed = [(*parse_override(text), text) for text in overrides]
    touched: dict[str, str] = {}
    for path, value, text in section_files_first(result, parsed):
        _set_override(result, f"--set {text!r}", path, value, base)
        touched[".".join(path[:-1] if path[-1] == "extends" else path)] = f"--set {text}"
    replay_without_shocks(data, result, touched)
    if sources is not None:
        sources.update(touched)
    return result


def apply_seed(
    data: dict[str, Any], seed: int, sources: dict[str, str] | None = None
) -> dict[str, Any]:
    """A config mapping (a copy is returned) with ``run.seed`` set to the integer ``seed``:
    ``abm run --seed N``, applied after every ``--set`` so that it wins over ``--set
    run.seed``. ``sources``, when given, records ``--seed N`` as what set ``run.seed``."""
    run = data.get("run")
    if run is not None and not isinstance(run, dict):
        raise ConfigError(f"--seed {seed}: run is not a section")
    if sources is not None:
        sources["run.seed"] = f"--seed {seed}"
    return {**data, "run": {**(run or {}), "seed": seed}}


REPLAY_SHOCKS_OFF = "a replay switches off the config's scripted shocks"
"""What a run's ``value_sources`` says of ``world.shocks`` emptied by a replay."""


def replay_without_shocks(base: dict[str, Any], data: dict[str, Any], touched: dict) -> None:
    """A replay switched on by an override (``world.process=csv``, ``abm run --prices``) of a
    config that generates its path drops the config's scripted shocks (they were written for
    the generated path, and on top of a real day they would move it silently), unless the
    overrides set shocks themselves. ``data`` is changed in place and ``touched`` (dotted key
    -> what set it) records it."""
    world_before = base.get("world") if isinstance(base.get("world"), dict) else {}
    world = data.get("world") if isinstance(data.get("world"), dict) else {}
    switched_on = world.get("process") == "csv" and world_before.get("process") != "csv"
    if not switched_on or "world.shocks" in touched or "world" in touched:
        return
    if world.get("shocks"):
        data["world"] = {**world, "shocks": []}
        touched["world.shocks"] = REPLAY_SHOCKS_OFF


def value_sources(base: ModelConfig, final: ModelConfig, sources: dict[str, str]) -> dict[str, str]:
    """For each dotted key whose value in ``final`` differs from ``base`` (the config file
    alone), where the value came from: the override that set the key or the section file that
    replaced its section (the longest matching key in ``sources``), else ``config``.

    >>> from abm.config import load_config
    >>> sources = {}
    >>> final = load_config("baseline", ["exchange.max_leverage=20"], sources)
    >>> value_sources(load_config("baseline"), final, sources)
    {'exchange.max_leverage': '--set exchange.max_leverage=20'}
    """
    before = dict(_dotted(base.model_dump(mode="json")))
    after = dict(_dotted(final.model_dump(mode="json")))
    out = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            label = sources.get(".".join(parts[:n]))
            if label is not None:
                out[key] = label
                break
        else:
            out[key] = "config"
    return out


def _set_override(
    data: dict[str, Any], label: str, path: list[str], value: Any, base: Path | None
) -> None:
    """Set the key ``path`` of the config mapping ``data`` (changed in place, nested mappings
    copied on the way) to ``value``, as :func:`apply_overrides` describes; ``label`` names the
    override in errors."""
    if path[-1] == "extends":
        path = path[:-1]
        if not path:
            raise ConfigError(f"{label}: give the config file to extend as the command's argument")
        if not isinstance(value, str):
            raise ConfigError(f"{label}: extends takes the path of a YAML file")
    node: Any = data
    for part in path[:-1]:
        key = _item_key(label, node, part)
        child = node[key] if isinstance(node, list) else node.get(key)
        if isinstance(child, list | tuple):
            node[key] = list(child)
        elif isinstance(child, dict):
            node[key] = dict(child)
        elif child is None:
            node[key] = {}
        else:
            raise ConfigError(f"{label}: {part} is not a section")
        node = node[key]
    last = _item_key(label, node, path[-1])
    if isinstance(value, str) and isinstance(node, dict) and _is_section(path, node.get(last)):
        value = read_yaml(_override_file(label, value, base))
    node[last] = value


def _item_key(label: str, node: dict[str, Any] | list[Any], part: str) -> str | int:
    """``part`` as the key of ``node``: a name in a section, a number (from 0) in a list, as in
    ``world.shocks.0.move``."""
    if not isinstance(node, list):
        return part
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(
            f"{label}: {part!r} is not an item of a list of {len(node)} (give 0 to {len(node) - 1})"
        )
    return int(part)


def _dotted(overrides: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) pairs of overrides given as dotted keys or nested mappings."""
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or any(not part for part in name.split(".")):
            raise ConfigError(
                f"override {name!r}: a key must be dotted names, e.g. retail.count or "
                "exchange.max_leverage"
            )
        if isinstance(value, Mapping):
            yield from _dotted(value, f"{name}.")
        else:
            yield name, value


def _section_not_file(data: dict[str, Any], key: str, value: str) -> str:
    """The message for a section given a text that is no file: most often Mesa's ``batch_run``,
    which iterates a dict parameter (``{"retail": {"count": 200}}``) and passes its keys
    (``retail="count"``). The example uses the named key when the section has it."""
    section: Any = data
    for part in key.split("."):
        section = section.get(part) if isinstance(section, dict) else None
    section = section if isinstance(section, dict) else {}
    name = value if value in section else next(iter(section), "count")
    example = yaml_scalar(section.get(name, 200))
    return (
        f'{key}: a section takes a mapping ({key}={{"{name}": {example}}}) or a file, and '
        f"{value!r} is not a file; with mesa.batch_run use dotted keys "
        f'("{key}.{name}": [{example}])'
    )


def override_config(
    config: ModelConfig, overrides: Mapping[str, Any], source: str | Path | None = None
) -> ModelConfig:
    """``config`` with ``overrides`` applied and validated again: ``--set`` for Python callers
    (``MarketModel(**overrides)``, Mesa's ``batch_run`` parameters).

    Keys are dotted (``{"exchange.max_leverage": 20}``) or sections holding mappings
    (``{"retail": {"count": 100}}``, the same as ``{"retail.count": 100}``: merged key by key,
    the rest of the section kept). A section given a string is a YAML file that replaces it, as
    with ``--set exchange=exchanges/bybit.yaml`` (looked up next to ``source``, the config
    file, too). Section files apply before keys, so a key given explicitly always wins
    (:func:`section_files_first`). ConfigError naming the key for an unknown key or a bad
    value."""
    data = config.model_dump()
    base = None if source is None else Path(source)
    parsed = [(key.split("."), value, key) for key, value in _dotted(overrides)]
    for path, value, key in section_files_first(data, parsed):
        try:
            _set_override(data, f"override {key}={value!r}", path, value, base)
        except SectionFileError as err:
            raise ConfigError(_section_not_file(data, key, value)) from err
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        where = "config" if source is None else f"config {source}"
        raise ConfigError(describe_errors(err, f"{where} with overrides")) from err
