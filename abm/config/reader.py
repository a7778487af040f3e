"""YAML files read within limits: size, nesting, number length, keys given once, UTF-8; and
``extends:``, by which a file (or any mapping in it) builds on another, merged key by key with
the extending file winning."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from abm.config.base import ConfigError


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in key by key (nested mappings too), ``override``
    winning: how an extending file builds on the file it extends."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one YAML mapping (PyYAML would silently keep the last)."""

    def __init__(self, key: Any, mark: Any, first: Any) -> None:
        super().__init__(f"key {key!r} given twice")
        self.key, self.mark, self.first = key, mark, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise _DuplicateKey(key, key_node.start_mark, first)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


MAX_CONFIG_BYTES = 1_000_000
"""The largest config file read (the shipped ones are under 20 KB)."""
MAX_CONFIG_DEPTH = 32
"""The deepest nesting of mappings and lists a config may have (the schema needs 4)."""


class _TooDeep(ValueError):
    """YAML nested beyond :data:`MAX_CONFIG_DEPTH`."""


def _depth_ok(data: Any) -> None:
    """_TooDeep when ``data`` nests mappings and lists beyond MAX_CONFIG_DEPTH (walked
    without recursion, so that the check itself cannot overflow the stack)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise _TooDeep
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]


def load_yaml_text(text: str) -> Any:
    """YAML text as Python data, refusing a key given twice (``_DuplicateKey``), nesting beyond
    MAX_CONFIG_DEPTH (``_TooDeep``) and numbers too long to convert (ValueError)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise _TooDeep from None
    _depth_ok(data)
    return data


def yaml_limit_message(err: Exception) -> str | None:
    """What a YAML text broke of the reader's limits, or None for another error."""
    if isinstance(err, _TooDeep):
        return f"is nested more than {MAX_CONFIG_DEPTH} levels deep; a config needs 4"
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return (
            f"holds a number of more than {sys.get_int_max_str_digits():,} digits; numbers "
            "in a config are at most a few digits long"
        )
    return None


def _parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text, refusing duplicate keys; ConfigError naming ``where``."""
    try:
        return load_yaml_text(text)
    except ValueError as err:
        limit = yaml_limit_message(err)
        if limit is None:
            raise
        raise ConfigError(f"{where} {limit}") from None
    except _DuplicateKey as err:
        raise ConfigError(
            f"{where}, line {err.mark.line + 1}: key {err.key!r} is given twice in one mapping "
            f"(first on line {err.first.line + 1}); give each key once"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {err}") from err


def _read_text(path: Path, where: str) -> str:
    """A config file's text: a regular file of at most MAX_CONFIG_BYTES, UTF-8 (a byte-order
    mark allowed). A folder, a device or pipe (``/dev/zero`` would be read forever), a huge file
    or undecodable bytes are one ConfigError naming ``where``."""
    if path.is_dir():
        raise ConfigError(f"{where} is a folder; expected a YAML file")
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"{where} is not a regular file (a device or a pipe); expected a YAML file"
        )
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{where} is {size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,} bytes"
            )
        with path.open("rb") as file:
            return file.read(MAX_CONFIG_BYTES + 1).decode("utf-8-sig")
    except FileNotFoundError as err:
        raise ConfigError(f"{where} does not exist") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{where} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from err
    except OSError as err:
        raise ConfigError(f"{where} cannot be read ({err.strerror or err})") from err


def read_yaml(
    path: str | Path, _chain: tuple[Path, ...] = (), _named_by: str = ""
) -> dict[str, Any]:
    """Read a YAML mapping, following ``extends:`` in it and in any nested mapping (each path
    relative to the file that names it); raises ConfigError naming the file.

    Refused with a message: a missing file, a folder, bytes that are not UTF-8, invalid YAML, a
    key given twice in one mapping, a file that is not a mapping, an ``extends:`` that is not a
    path, and files that extend themselves or each other in a cycle."""
    path = Path(path)
    real = path.resolve()
    if real in _chain:
        loop = [*_chain[_chain.index(real) :], real]
        if len(loop) == 2:
            raise ConfigError(f"config file {path} extends itself; extends must name another file")
        raise ConfigError(
            "config files extend each other in a cycle: " + " -> ".join(str(p) for p in loop)
        )
    where = f"config file {path}{_named_by}"
    data = _parse_yaml(_read_text(path, where), where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where} must hold a mapping of keys (key: value lines), not a {type(data).__name__}"
        )
    return _resolve_extends(data, path, (*_chain, real), ())


def _resolve_extends(data: Any, path: Path, chain: tuple[Path, ...], keys: tuple[str, ...]) -> Any:
    """Resolve ``extends:`` in nested mappings (paths relative to the file being read)."""
    if not isinstance(data, dict):
        return data
    resolved = {
        key: _resolve_extends(value, path, chain, (*keys, str(key))) for key, value in data.items()
    }
    parent = resolved.pop("extends", None)
    if parent is None:
        return resolved
    key = ".".join((*keys, "extends"))
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(
            f"config file {path}: {key} must be the path of a YAML file (relative to "
            f"{path.name}'s folder), not {parent!r}"
        )
    return _merge(read_yaml(path.parent / parent, chain, f" (named by {key} in {path})"), resolved)
