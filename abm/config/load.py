"""A run's config: a file or a shipped config's name, its ``--set`` overrides and seed, validated
into a :class:`~abm.config.model.ModelConfig`, with where each value came from."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from abm.config.base import ConfigError, describe_errors
from abm.config.catalogue import config_path
from abm.config.model import ModelConfig
from abm.config.overrides import apply_overrides, apply_seed, value_sources
from abm.config.reader import read_yaml


def load_config(
    path: str | Path,
    overrides: list[str] = (),
    sources: dict[str, str] | None = None,
    seed: int | None = None,
) -> ModelConfig:
    """Load, override and validate a model config given as a file or the name of a shipped one
    (``load_config("baseline")``, see :func:`config_path`); ConfigError names every bad key.
    ``seed``, when given, is ``run.seed``, set after the overrides (:func:`apply_seed`).
    ``sources`` receives what each override and the seed set (:func:`apply_overrides`)."""
    path = config_path(path)
    data = apply_overrides(read_yaml(path), list(overrides), path, sources)
    if seed is not None:
        data = apply_seed(data, seed, sources)
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"config {path}")) from err


def load_config_with_sources(
    path: str | Path, overrides: list[str] = (), seed: int | None = None
) -> tuple[ModelConfig, dict[str, str]]:
    """:func:`load_config`, and for each dotted key whose value differs from the config file's
    own, where the value came from (:func:`value_sources`: ``--set ...``, ``--seed N``): what a
    run's manifest records."""
    sources: dict[str, str] = {}
    config = load_config(path, overrides, sources, seed)
    if not overrides and seed is None:
        return config, {}
    try:
        base = load_config(path)
    except ConfigError:  # the file alone does not validate; its overrides complete it
        return config, {key: sources[key] for key in sorted(sources)}
    return config, value_sources(base, config, sources)
