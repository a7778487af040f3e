"""A sweep is a file: a base config, a grid of overrides and named points, replications with
common random numbers, the metrics to keep and the outputs each run writes (DESIGN section 11).

``configs/sweeps/leverage_caps.yaml``::

    base: baseline                      # a config file (beside this one) or a shipped name
    set: {run.hours: 24}                # overrides for every run
    grid:                               # dotted keys and their values: a cartesian product
      exchange.max_leverage: [125, 100, 50, 20, 10, 5, 2]
    points:                             # named points, each a set of overrides (optional;
      - {name: binance, set: {exchange: exchanges/binance.yaml}}   # crossed with the grid)
    replications: 20
    seed: 2026                          # root of the replications' seeds
    metrics: [liquidations, drawdown]   # default: every registered metric
    outputs: metrics                    # or full: every run writes its whole run folder
    reference: {exchange.max_leverage: 125}   # the point differences are taken against

Replication *k* has the same seed under every point (the *k*-th child of
``SeedSequence(seed)``), so differences between points are paired.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from abm.config import (
    SWEEP_FOLDER,
    ConfigError,
    StrictModel,
    config_hash,
    config_path,
    describe_errors,
    load_config,
    override_config,
    parse_override,
    read_yaml,
    shipped_sweeps,
)
from abm.experiments.metrics import METRICS
from abm.experiments.sensitivity import SampleSpec, sample_points
from abm.world.prices import replay_start

POINT = "point"
"""The catalogue column that names a named point."""


class NamedPoint(StrictModel):
    """A point of a sweep that is not on a grid: a name and its overrides."""

    name: str = Field(min_length=1, description="the point's name in tables and figures")
    set: dict[str, Any] = Field(description="overrides, dotted keys (a section may name a file)")


class SweepFile(StrictModel):
    """A sweep's file, validated: unknown keys refused, errors naming the key."""

    base: str = Field(min_length=1, description="config file (beside the sweep) or shipped name")
    set: dict[str, Any] = Field(default_factory=dict, description="overrides for every run")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="key: values")
    points: list[NamedPoint] = Field(default_factory=list, description="named points")
    replications: int = Field(ge=1, le=10_000, description="runs per point")
    seed: int = Field(default=0, ge=0, description="root seed of the replications")
    metrics: list[str] | None = Field(default=None, description="metric names (default all)")
    outputs: Literal["metrics", "full"] = Field(default="metrics", description="what runs write")
    reference: dict[str, Any] | None = Field(default=None, description="point to compare with")
    sample: SampleSpec | None = Field(
        default=None, description="a sensitivity sample whose rows are the points"
    )

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key {key!r} has no values; give at least one")
            if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
                raise ValueError(f"grid key {key!r} repeats a value: {values}")
        return grid

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str] | None) -> list[str] | None:
        if names is not None:
            unknown = [n for n in names if n not in METRICS]
            if unknown:
                raise ValueError(f"unknown metric(s) {unknown}; allowed: {', '.join(METRICS)}")
        return names

    @model_validator(mode="before")
    @classmethod
    def _sampled_points(cls, data: Any) -> Any:
        """A sampled sweep's points are its sample's rows (:mod:`abm.experiments.sensitivity`);
        points given beside a sample must be those rows (as in a store's ``sweep.yaml``)."""
        if not isinstance(data, dict) or data.get("sample") is None:
            return data
        rows = sample_points(SampleSpec.model_validate(data["sample"]))
        given = data.get("points")
        if given and [NamedPoint.model_validate(p).model_dump() for p in given] != rows:
            raise ValueError("points: a sweep with a sample takes its points from the sample")
        return {**data, "points": rows}

    @model_validator(mode="after")
    def _sampled_outputs(self) -> SweepFile:
        if self.sample is None:
            return self
        kept = self.metrics if self.metrics is not None else list(METRICS)
        for name, output in self.sample.outputs.items():
            metric = output.metric.split(".", 1)[0]
            if metric not in kept:
                raise ValueError(
                    f"sample.outputs.{name}: metric {metric!r} is not among the sweep's metrics "
                    f"({', '.join(kept)})"
                )
            for where in (output.at, output.minus or {}):
                unknown = [key for key in where if key not in self.grid]
                if unknown:
                    raise ValueError(
                        f"sample.outputs.{name}: {unknown} not among the grid's keys "
                        f"({', '.join(self.grid) or 'none'})"
                    )
        return self

    @model_validator(mode="after")
    def _unique_points(self) -> SweepFile:
        names = [p.name for p in self.points]
        if len(set(names)) != len(names):
            raise ValueError(f"points: names must be unique, got {names}")
        if POINT in self.grid:
            raise ValueError(f"grid: {POINT!r} is the named points' column; use another key")
        return self


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: where it goes, what it varies, its seed and its resolved config."""

    run_id: str
    point_id: str
    values: dict[str, Any]
    replication: int
    seed: int
    config: dict
    config_hash: str
    warnings: tuple[str, ...] = ()
    """What in the run's config is likely not what was meant (:meth:`ModelConfig.warnings`)."""


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: its file's data (with command-line overrides folded into ``set``), where
    it came from, and the planned runs, points first, then replications."""

    data: SweepFile
    path: Path
    runs: tuple[RunSpec, ...]

    @property
    def keys(self) -> list[str]:
        """The catalogue's columns that vary: the named point (if any), then the grid keys."""
        return ([POINT] if self.data.points else []) + list(self.data.grid)

    @property
    def sweep_hash(self) -> str:
        """SHA-256 of the resolved sweep and every planned run's config: a store built from
        another sweep has another hash."""
        text = json.dumps(
            {
                "sweep": self.data_dump(),
                "runs": [[r.run_id, r.config_hash] for r in self.runs],
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def warnings(self) -> list[str]:
        """Each warning of the planned runs' configs once, with how many runs it concerns:
        ``"140 of 140 runs: world.shocks[0] starts at minute 780, ..."``."""
        counts: dict[str, int] = {}
        for run in self.runs:
            for warning in run.warnings:
                counts[warning] = counts.get(warning, 0) + 1
        return [f"{n:,} of {len(self.runs):,} runs: {w}" for w, n in counts.items()]

    def data_dump(self) -> dict:
        """The sweep file's data as plain values; without ``sample`` when it has none, so that
        a sweep without one keeps the hash (and store) it had before samples existed."""
        return self.data.model_dump(mode="json", exclude=None if self.data.sample else {"sample"})

    def resolved(self) -> dict:
        """What ``sweep.yaml`` holds in the store: the sweep as run, the base config's path
        and the hash."""
        return {
            **self.data_dump(),
            "base_path": str(self.base_path),
            "sweep_file": str(self.path),
            "sweep_hash": self.sweep_hash,
            "runs": len(self.runs),
        }

    @property
    def base_path(self) -> Path:
        return base_config_path(self.data.base, self.path)


def replication_seeds(seed: int, replications: int) -> list[int]:
    """The run seed of each replication: the first 32-bit word of each child of
    ``SeedSequence(seed)``, so replication *k* gets the same seed under every point.

    >>> replication_seeds(2026, 3) == replication_seeds(2026, 5)[:3]
    True
    """
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def base_config_path(base: str, sweep_path: Path) -> Path:
    """The base config a sweep names: a file beside the sweep file, else a path or shipped
    name (:func:`abm.config.config_path`)."""
    beside = sweep_path.parent / base
    return beside if beside.is_file() else config_path(base)


SWEEP_KEYS = (
    "grid",
    "points",
    "replications",
    "seed",
    "metrics",
    "outputs",
    "reference",
    "sample",
)
"""Keys of the sweep itself that ``--set`` may change; every other key is a model config key."""


def apply_sweep_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """A sweep file's data with ``--set`` overrides: a key of the sweep itself
    (``replications=2``, ``grid.exchange.max_leverage=[125, 2]``, ``outputs=full``) changes the
    sweep (``sample.size=4`` a key of its sample section); any other key (``run.hours=1``) is
    added to ``set``, for every run.

    >>> apply_sweep_overrides({"replications": 20, "grid": {"a.b": [1, 2]}},
    ...                       ["replications=2", "grid.a.b=[1]", "run.hours=1"])
    {'replications': 2, 'grid': {'a.b': [1]}, 'set': {'run.hours': 1}}
    """
    data = dict(raw)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] in SWEEP_KEYS:
            if len(parts) == 1:
                data[parts[0]] = value
            elif parts[0] == "sample":
                data["sample"] = nested_set(data.get("sample") or {}, parts[1:], value)
            else:
                data[parts[0]] = {**(data.get(parts[0]) or {}), ".".join(parts[1:]): value}
        else:
            data["set"] = {**(data.get("set") or {}), ".".join(parts): value}
    return data


def nested_set(section: dict, parts: Sequence[str], value: Any) -> dict:
    """A copy of ``section`` with the nested key ``parts`` set to ``value``.

    >>> nested_set({"size": 8, "parameters": {"a": {"range": [0, 1]}}}, ["size"], 4)
    {'size': 4, 'parameters': {'a': {'range': [0, 1]}}}
    """
    out = dict(section)
    if len(parts) == 1:
        out[parts[0]] = value
    else:
        inner = out.get(parts[0])
        out[parts[0]] = nested_set(inner if isinstance(inner, dict) else {}, parts[1:], value)
    return out


def sweep_path(sweep: str | Path) -> Path:
    """The file a sweep argument means: a path that exists, as given; else a shipped sweep by
    name (``leverage_caps`` or ``sweeps/leverage_caps``, with or without ``.yaml``).
    ConfigError listing the shipped names when it is neither."""
    path = Path(sweep)
    if path.exists():
        return path
    shipped = shipped_sweeps()
    name = path.as_posix().removesuffix(".yaml")
    for candidate in (name, f"{SWEEP_FOLDER}/{name}"):
        if candidate in shipped:
            return shipped[candidate]
    names = ", ".join(n.removeprefix(f"{SWEEP_FOLDER}/") for n in shipped)
    raise ConfigError(
        f"sweep file {sweep} does not exist and is not the name of a shipped sweep; give a YAML "
        f"file or one of: {names}"
    )


MAX_RUNS = 100_000
"""The most runs one sweep plans (a grid is planned whole, each run's config validated)."""


def check_size(data: SweepFile, path: Path) -> None:
    """ConfigError when the sweep would plan more than MAX_RUNS runs, counted before any is
    planned (a 300 x 300 grid once planned for minutes and then ran out of memory)."""
    factors = [len(data.points or [None]), *(len(v) for v in data.grid.values())]
    points = math.prod(factors)
    runs = points * data.replications
    if runs > MAX_RUNS:
        sizes = " x ".join(f"{n:,}" for n in factors if n != 1) or "1"
        raise ConfigError(
            f"sweep file {path}: {sizes} points x {data.replications:,} replications are "
            f"{runs:,} runs; at most {MAX_RUNS:,} in one sweep: take fewer values or split it"
        )


def check_reference(data: SweepFile, path: Path) -> None:
    """ConfigError, before anything runs, when ``reference`` does not name a point of the
    sweep: a key that is not swept, or a value that is not among the key's values."""
    if not data.reference:
        return
    values: dict[str, list] = {key: list(v) for key, v in data.grid.items()}
    if data.points:
        values[POINT] = [p.name for p in data.points]
    for key, value in data.reference.items():
        if key not in values:
            raise ConfigError(
                f"sweep file {path}: reference key {key!r} is not swept; swept keys: "
                f"{', '.join(values) or 'none'}"
            )
        if str(value) not in {str(v) for v in values[key]}:
            raise ConfigError(
                f"sweep file {path}: reference {key}={value!r} is not among the sweep's values "
                f"of {key}: {', '.join(map(str, values[key]))}"
            )


def load_sweep(path: str | Path, overrides: list[str] = ()) -> Sweep:
    """Read, validate and plan a sweep file with ``overrides`` (``key=value``, as ``--set``:
    see :func:`apply_sweep_overrides`). ConfigError naming the key for any problem, before
    anything runs."""
    path = sweep_path(path)
    raw = apply_sweep_overrides(read_yaml(path), overrides)
    try:
        data = SweepFile.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(describe_errors(err, f"sweep file {path}")) from err
    check_size(data, path)
    check_reference(data, path)
    base_path = base_config_path(data.base, path)
    base = override_config(load_config(base_path), data.set, source=base_path)
    seeds = replication_seeds(data.seed, data.replications)
    named = data.points or [None]
    combos = list(itertools.product(*data.grid.values()))
    runs: list[RunSpec] = []
    for number, (point, combo) in enumerate(itertools.product(named, combos)):
        values: dict[str, Any] = {} if point is None else {POINT: point.name}
        values.update(zip(data.grid, combo, strict=True))
        config = base if point is None else override_config(base, point.set, source=base_path)
        grid = dict(zip(data.grid, combo, strict=True))
        config = override_config(config, grid, source=base_path) if grid else config
        point_id = f"p{number:03d}"
        warnings = tuple(config.warnings())
        # The seed is the one key a point's runs differ in, and a valid one: it is set in the
        # dumped config rather than by validating the whole config again for every run.
        dumped = replay_start(config).model_dump(mode="json")
        for k, seed in enumerate(seeds):
            resolved = {**dumped, "run": {**dumped["run"], "seed": int(seed)}}
            runs.append(
                RunSpec(
                    run_id=f"{point_id}-r{k:03d}",
                    point_id=point_id,
                    values=values,
                    replication=k,
                    seed=seed,
                    config=resolved,
                    config_hash=config_hash(resolved),
                    warnings=warnings,
                )
            )
    return Sweep(data, path, tuple(runs))
