"""How much of a result's spread is the information path's and how much the agents': a sweep that
crosses several fixed information paths (``world.seed``) with replications (``run.seed``: the
traders, their draws and the exchange, the same on every path) gives, per metric, a crossed
random-effects split of the variance into path, agents and what they do together
(``configs/sweeps/variance.yaml``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from abm.experiments.compare import metric_columns
from abm.experiments.status import COMPLETE

PATH_KEY = "world.seed"


def variance_components(
    values: pd.DataFrame, path_key: str, metric: str, agent_key: str = "replication"
) -> dict[str, float]:
    """The crossed random-effects split of ``metric``: every information path (``path_key``)
    run with the same agent seeds (``agent_key``: replication *k* has the same run seed on
    every path). From the two-way table without repeats: ``path`` (variance of the path
    effect), ``agents`` (of the agent-seed effect) and ``interaction`` (what a path and a seed do
    together, with any other noise), each from the expected mean squares and at least 0, and
    each one's share of their sum. Runs of a path or seed with a missing value are left out;
    NaN with fewer than two paths or seeds.

    >>> frame = pd.DataFrame({"p": [1, 1, 2, 2], "replication": [0, 1, 0, 1],
    ...                       "m": [1.0, 3.0, 5.0, 7.0]})
    >>> parts = variance_components(frame, "p", "m")
    >>> [parts[k] for k in ("path", "agents", "interaction", "path_share")]
    [8.0, 2.0, 0.0, 0.8]
    """
    table = values.pivot_table(index=path_key, columns=agent_key, values=metric).dropna(
        axis=1, how="any"
    )
    paths, seeds = table.shape
    out = {"paths": float(paths), "seeds": float(seeds)}
    if paths < 2 or seeds < 2:
        return out | dict.fromkeys(
            ("path", "agents", "interaction", "path_share", "agents_share", "interaction_share"),
            np.nan,
        )
    y = table.to_numpy(float)
    grand = y.mean()
    path_means, seed_means = y.mean(axis=1), y.mean(axis=0)
    ms_path = seeds * ((path_means - grand) ** 2).sum() / (paths - 1)
    ms_seed = paths * ((seed_means - grand) ** 2).sum() / (seeds - 1)
    residual = y - path_means[:, None] - seed_means[None, :] + grand
    ms_rest = (residual**2).sum() / ((paths - 1) * (seeds - 1))
    parts = {
        "path": max(0.0, (ms_path - ms_rest) / seeds),
        "agents": max(0.0, (ms_seed - ms_rest) / paths),
        "interaction": float(ms_rest),
    }
    total = sum(parts.values())
    out.update({k: float(v) for k, v in parts.items()})
    out.update({f"{k}_share": float(v / total) if total > 0 else np.nan for k, v in parts.items()})
    return out


def variance_table(catalog: pd.DataFrame, path_key: str = PATH_KEY) -> pd.DataFrame:
    """:func:`variance_components` of every metric of a sweep's catalogue (complete runs), one
    row per metric, sorted by name."""
    done = catalog[catalog["status"] == COMPLETE]
    if path_key not in done:
        raise ValueError(
            f"the catalogue has no {path_key!r} column: the sweep must vary it (a grid key)"
        )
    rows = [
        {"metric": metric, **variance_components(done, path_key, metric)}
        for metric in metric_columns(done, [path_key])
        if done[metric].notna().any()
    ]
    return pd.DataFrame(rows).sort_values("metric", ignore_index=True)
