"""Global sensitivity analysis over a sweep: Morris screening and Sobol indices (SALib).

A sweep file's ``sample`` section names parameters (dotted config keys) with the range each is
varied over and the reason for that range, a method and a size; its points are then the sample's
rows (``s0000``, ``s0001``, ...), crossed with the sweep's grid (e.g. two leverage caps) and run
with common seeds. Its ``outputs`` say what is analysed: a metric at a grid value, or the
paired difference between two grid values (the cap's effect)::

    sample:
      method: morris             # morris (screening) or sobol (first-order and total indices)
      size: 8                    # morris: trajectories; sobol: base samples (a power of 2)
      seed: 7
      parameters:
        retail.above_cap_stay_out: {range: [0.0, 0.6], reason: "no public figure"}
        market_makers.levels: {range: [5, 15], integer: true, reason: "..."}
      outputs:
        liquidated_oi_125: {metric: liquidated_share_of_oi.total, at: {exchange.max_leverage: 125}}
        cap_effect: {metric: liquidated_share_of_oi.total, at: {exchange.max_leverage: 125},
                     minus: {exchange.max_leverage: 20}}

``abm sweep sensitivity STORE`` computes the indices with their confidence intervals
(:func:`sensitivity_indices`) and writes ``sensitivity.csv`` beside the catalogue.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from abm.config import StrictModel
from abm.experiments.metrics import absent_value

SAMPLE_POINT = "s{:04d}"
"""The name of the sample's row ``i`` as a sweep point."""
CONFIDENCE = 0.95
RESAMPLES = 1_000


class SampledParameter(StrictModel):
    """One parameter of a sample: its range, whether it is a whole number, and why that range."""

    range: tuple[float, float] = Field(description="lowest and highest value")
    integer: bool = Field(default=False, description="rounded to a whole number")
    reason: str = Field(min_length=1, description="why the range: its source or the choice")

    @model_validator(mode="after")
    def _ordered(self) -> SampledParameter:
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range {list(self.range)}: the low end must be below the high end")
        return self


class SampledOutput(StrictModel):
    """What is analysed: ``metric`` (a catalogue column) at the grid values ``at``, less its
    value at ``minus`` in the same replication when given (a paired difference)."""

    metric: str = Field(min_length=1, description="a catalogue column, e.g. drawdown.crash")
    at: dict[str, Any] = Field(default_factory=dict, description="grid key: value")
    minus: dict[str, Any] | None = Field(default=None, description="grid key: value")


class SampleSpec(StrictModel):
    """A sweep file's ``sample`` section."""

    method: Literal["morris", "sobol"] = Field(description="Morris screening or Sobol indices")
    size: int = Field(ge=2, le=4096, description="morris: trajectories; sobol: base samples")
    levels: int = Field(default=4, ge=2, le=20, description="morris: grid levels per parameter")
    seed: int = Field(default=0, ge=0, description="the sample's seed")
    parameters: dict[str, SampledParameter] = Field(
        min_length=2, description="dotted config key: its range, whether whole, and why"
    )
    outputs: dict[str, SampledOutput] = Field(
        min_length=1, description="name: a metric at a grid value, or a paired difference"
    )

    @model_validator(mode="after")
    def _sobol_size(self) -> SampleSpec:
        if self.method == "sobol" and self.size & (self.size - 1):
            raise ValueError(f"size {self.size}: a Sobol sample's size must be a power of 2")
        return self


def problem(spec: SampleSpec) -> dict[str, Any]:
    """SALib's problem: the parameters' names and bounds."""
    return {
        "num_vars": len(spec.parameters),
        "names": list(spec.parameters),
        "bounds": [list(p.range) for p in spec.parameters.values()],
    }


def sample_matrix(spec: SampleSpec) -> np.ndarray:
    """The sample, one row per model evaluation, integer parameters rounded (the same every
    time for the same section: the seed fixes it). Morris: ``size x (parameters + 1)`` rows;
    Sobol (first-order and total indices): ``size x (parameters + 2)``."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if spec.method == "morris":
        rows = morris_sample.sample(
            problem(spec), N=spec.size, num_levels=spec.levels, seed=spec.seed
        )
    else:
        rows = sobol_sample.sample(
            problem(spec), N=spec.size, calc_second_order=False, seed=spec.seed
        )
    for column, parameter in enumerate(spec.parameters.values()):
        if parameter.integer:
            rows[:, column] = np.round(rows[:, column])
    return rows


def sample_points(spec: SampleSpec) -> list[dict[str, Any]]:
    """The sweep's named points: ``{"name": "s0000", "set": {key: value, ...}}`` per row."""
    points = []
    for i, row in enumerate(sample_matrix(spec)):
        values = {
            key: int(value) if parameter.integer else float(value)
            for (key, parameter), value in zip(spec.parameters.items(), row, strict=True)
        }
        points.append({"name": SAMPLE_POINT.format(i), "set": values})
    return points


def output_values(spec: SampleSpec, name: str, catalog: pd.DataFrame) -> np.ndarray:
    """Output ``name`` per sample row: the mean over replications of the metric at ``at`` (less
    its value at ``minus`` in the same replication). NaN where a row has no finite value."""
    output = spec.outputs[name]
    if output.metric not in catalog.columns:
        # No run returned this key (a party paid nothing in any run): the metric's value for
        # a key left out (:func:`abm.experiments.metrics.absent_value`).
        catalog = catalog.assign(**{output.metric: absent_value(output.metric)})

    def at(where: dict[str, Any]) -> pd.Series:
        rows = catalog
        for key, value in where.items():
            rows = rows[rows[key].astype(str) == str(value)]
        return rows.set_index(["point", "replication"])[output.metric].astype(float)

    values = at(output.at)
    if output.minus is not None:
        values = values - at(output.minus)
    means = values.groupby(level="point").mean()
    rows = len(sample_matrix(spec))
    return means.reindex([SAMPLE_POINT.format(i) for i in range(rows)]).to_numpy(float)


UNIT = {"morris": "trajectories", "sobol": "base samples"}


def unit_rows(spec: SampleSpec) -> int:
    """Rows of one trajectory (Morris: parameters + 1) or one base sample's block (Sobol without
    second order: parameters + 2); the sample is made of such units, one after another."""
    return len(spec.parameters) + (1 if spec.method == "morris" else 2)


def complete_units(
    spec: SampleSpec, X: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """``X`` and ``Y`` without the trajectories (Morris) or base-sample blocks (Sobol) that hold
    an undefined output (a share of nothing), and how many were left out: each unit's effects
    are computed within it, so the rest stay a valid, smaller sample.

    >>> spec = SampleSpec.model_validate({"method": "morris", "size": 2, "parameters": {
    ...     "a": {"range": [0, 1], "reason": "r"}, "b": {"range": [0, 1], "reason": "r"}},
    ...     "outputs": {"y": {"metric": "m"}}})
    >>> X, Y, dropped = complete_units(spec, np.zeros((6, 2)), np.array([1, 2, 3, 4, np.nan, 6]))
    >>> Y.tolist(), dropped
    ([1.0, 2.0, 3.0], 1)
    """
    size = unit_rows(spec)
    keep = np.isfinite(Y).reshape(-1, size).all(axis=1)
    rows = np.repeat(keep, size)
    return X[rows], Y[rows], int((~keep).sum())


def sensitivity_indices(spec: SampleSpec, catalog: pd.DataFrame) -> pd.DataFrame:
    """Per output and parameter: Morris ``mu_star`` (mean absolute elementary effect) with its
    95% bootstrap interval's half-width ``mu_star_conf`` and ``sigma``; or Sobol ``S1`` and
    ``ST`` with ``S1_conf`` and ``ST_conf``. ``mu_star_norm``: ``mu_star`` over the output's
    standard deviation across the sample, comparable across outputs. Trajectories or base
    samples holding an undefined value (a share of nothing) are left out (``left_out``: how
    many, :func:`complete_units`); an output with fewer than two units left gets a ``note``
    instead."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    sample = sample_matrix(spec)
    frames = []
    for name in spec.outputs:
        X, Y, dropped = complete_units(spec, sample, output_values(spec, name, catalog))
        units = len(sample) // unit_rows(spec)
        if len(Y) < 2 * unit_rows(spec):
            note = f"{dropped} of {units} {UNIT[spec.method]} hold an undefined row"
            frames.append(pd.DataFrame({"output": [name], "note": [note]}))
            continue
        if spec.method == "morris":
            result = morris_analyze.analyze(
                problem(spec),
                X,
                Y,
                num_levels=spec.levels,
                conf_level=CONFIDENCE,
                num_resamples=RESAMPLES,
                seed=spec.seed,
            )
            spread = float(np.std(Y)) or np.nan
            frame = pd.DataFrame(
                {
                    "parameter": list(spec.parameters),
                    "mu_star": result["mu_star"],
                    "mu_star_conf": result["mu_star_conf"],
                    "sigma": result["sigma"],
                    "mu_star_norm": np.asarray(result["mu_star"]) / spread,
                }
            )
        else:
            result = sobol_analyze.analyze(
                problem(spec),
                Y,
                calc_second_order=False,
                conf_level=CONFIDENCE,
                num_resamples=RESAMPLES,
                seed=spec.seed,
            )
            frame = pd.DataFrame(
                {
                    "parameter": list(spec.parameters),
                    "S1": result["S1"],
                    "S1_conf": result["S1_conf"],
                    "ST": result["ST"],
                    "ST_conf": result["ST_conf"],
                }
            )
        frame.insert(0, "output", name)
        frame["left_out"] = dropped
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def format_indices(table: pd.DataFrame, spec: SampleSpec) -> str:
    """The indices as text, each output's parameters by importance."""
    lines = []
    key = "mu_star_norm" if spec.method == "morris" else "ST"
    for output, rows in table.groupby("output", sort=False):
        if "note" in rows and rows["note"].notna().any():
            lines.append(f"{output}: not analysed ({rows['note'].dropna().iloc[0]})")
            continue
        left = int(rows["left_out"].max())
        units = UNIT[spec.method]
        lines.append(
            f"{output}:" + (f" ({left} {units} with an undefined row left out)" if left else "")
        )
        for row in rows.sort_values(key, ascending=False).itertuples(index=False):
            if spec.method == "morris":
                lines.append(
                    f"  {row.parameter:40s} mu* {row.mu_star:12.4g} +- {row.mu_star_conf:10.3g}"
                    f"  sigma {row.sigma:12.4g}  mu*/sd {row.mu_star_norm:6.2f}"
                )
            else:
                lines.append(
                    f"  {row.parameter:40s} S1 {row.S1:7.3f} +- {row.S1_conf:6.3f}"
                    f"  ST {row.ST:7.3f} +- {row.ST_conf:6.3f}"
                )
    return "\n".join(lines)
